package crmsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func filterReq(groups ...[]map[string]any) map[string]any {
	var fg []map[string]any
	for _, g := range groups {
		fg = append(fg, map[string]any{"filters": g})
	}
	return map[string]any{"filterGroups": fg, "limit": 200}
}

func f(prop, op string, value any) map[string]any {
	m := map[string]any{"propertyName": prop, "operator": op}
	if value != nil {
		m["value"] = value
	}
	return m
}

func instant(t *testing.T, v string) time.Time {
	t.Helper()
	ts, err := time.Parse(isoMillis, v)
	require.NoError(t, err)
	return ts
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 21, Contacts: 900, Companies: 60, Deals: 300, SearchPerSecond: 1 << 30})
	mutate(t, h.sim, MutationSpec{Archives: 30})
	contacts := snapshot(t, h.sim, Contacts)
	pivot := contacts[len(contacts)/2]
	pivotMod := instant(t, pivot.Properties["lastmodifieddate"])
	from := instant(t, contacts[100].Properties["createdate"])
	to := instant(t, contacts[400].Properties["createdate"])
	email := ""
	for _, r := range contacts[10:] {
		if r.Properties["email"] != "" && !r.Archived {
			email = r.Properties["email"]
			break
		}
	}
	num := func(s string) float64 {
		n, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return n
	}

	tests := []struct {
		name   string
		object string
		req    map[string]any
		want   func(p map[string]string) bool
	}{
		{name: "EQ is case-insensitive", object: Contacts,
			req:  filterReq([]map[string]any{f("email", "EQ", strings.ToUpper(email))}),
			want: func(p map[string]string) bool { return strings.EqualFold(p["email"], email) }},
		{name: "NEQ includes empty values", object: Contacts,
			req:  filterReq([]map[string]any{f("lifecyclestage", "NEQ", "customer")}),
			want: func(p map[string]string) bool { return p["lifecyclestage"] != "customer" }},
		{name: "GT date with epoch millis", object: Contacts,
			req: filterReq([]map[string]any{f("lastmodifieddate", "GT", strconv.FormatInt(pivotMod.UnixMilli(), 10))}),
			want: func(p map[string]string) bool {
				return instant(t, p["lastmodifieddate"]).After(pivotMod)
			}},
		{name: "GTE date with ISO-8601", object: Contacts,
			req: filterReq([]map[string]any{f("lastmodifieddate", "GTE", pivotMod.Format(time.RFC3339Nano))}),
			want: func(p map[string]string) bool {
				return !instant(t, p["lastmodifieddate"]).Before(pivotMod)
			}},
		{name: "LT and LTE date in one group", object: Contacts,
			req: filterReq([]map[string]any{
				f("createdate", "LT", strconv.FormatInt(to.UnixMilli(), 10)),
				f("createdate", "GTE", from.Format(isoMillis)),
			}),
			want: func(p map[string]string) bool {
				c := instant(t, p["createdate"])
				return c.Before(to) && !c.Before(from)
			}},
		{name: "BETWEEN is inclusive", object: Contacts,
			req: filterReq([]map[string]any{{"propertyName": "createdate", "operator": "BETWEEN",
				"value": from.Format(isoMillis), "highValue": strconv.FormatInt(to.UnixMilli(), 10)}}),
			want: func(p map[string]string) bool {
				c := instant(t, p["createdate"])
				return !c.Before(from) && !c.After(to)
			}},
		{name: "IN", object: Contacts,
			req: filterReq([]map[string]any{{"propertyName": "lifecyclestage", "operator": "IN",
				"values": []string{"lead", "customer"}}}),
			want: func(p map[string]string) bool {
				return p["lifecyclestage"] == "lead" || p["lifecyclestage"] == "customer"
			}},
		{name: "NOT_IN", object: Contacts,
			req: filterReq([]map[string]any{{"propertyName": "lifecyclestage", "operator": "NOT_IN",
				"values": []string{"lead", "customer"}}}),
			want: func(p map[string]string) bool {
				return p["lifecyclestage"] != "lead" && p["lifecyclestage"] != "customer"
			}},
		{name: "HAS_PROPERTY", object: Contacts,
			req:  filterReq([]map[string]any{f("phone", "HAS_PROPERTY", nil)}),
			want: func(p map[string]string) bool { return p["phone"] != "" }},
		{name: "NOT_HAS_PROPERTY", object: Contacts,
			req:  filterReq([]map[string]any{f("phone", "NOT_HAS_PROPERTY", nil)}),
			want: func(p map[string]string) bool { return p["phone"] == "" }},
		{name: "ids compare as numbers", object: Contacts,
			req:  filterReq([]map[string]any{f("hs_object_id", "GT", "999")}),
			want: func(p map[string]string) bool { return num(p["hs_object_id"]) > 999 }},
		{name: "amounts compare as numbers", object: Deals,
			req: filterReq([]map[string]any{f("amount", "GTE", 5000)}),
			want: func(p map[string]string) bool {
				return p["amount"] != "" && num(p["amount"]) >= 5000
			}},
		{name: "groups are ORed", object: Contacts,
			req: filterReq(
				[]map[string]any{f("lifecyclestage", "EQ", "lead"), f("phone", "HAS_PROPERTY", nil)},
				[]map[string]any{f("lifecyclestage", "EQ", "evangelist")},
			),
			want: func(p map[string]string) bool {
				return (p["lifecyclestage"] == "lead" && p["phone"] != "") || p["lifecyclestage"] == "evangelist"
			}},
		{name: "CONTAINS_TOKEN with wildcard", object: Contacts,
			req:  filterReq([]map[string]any{f("email", "CONTAINS_TOKEN", "*@gmail.com")}),
			want: func(p map[string]string) bool { return strings.HasSuffix(p["email"], "@gmail.com") }},
		{name: "no filters matches all live records", object: Companies,
			req:  map[string]any{"limit": 200},
			want: func(map[string]string) bool { return true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []string
			for _, r := range snapshot(t, h.sim, tc.object) {
				if !r.Archived && tc.want(r.Properties) {
					want = append(want, r.ID)
				}
			}
			require.NotEmpty(t, want, "the case should select something")
			got := h.searchAll(t, tc.object, tc.req)
			require.Equal(t, want, got, "no sort means id order")
		})
	}
}

func TestSearchSorts(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 22, Contacts: 2500, Companies: 40, SearchPerSecond: 1 << 30})
	mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 300, SameTimestamp: true})
	recs := snapshot(t, h.sim, Contacts)
	modOf := map[string]string{}
	for _, r := range recs {
		modOf[r.ID] = r.Properties["lastmodifieddate"]
	}
	sortReq := func(sorts ...any) map[string]any {
		return map[string]any{"limit": 200, "sorts": sorts, "properties": []string{"lastmodifieddate", "lastname"}}
	}
	ascending := h.searchAll(t, Contacts, sortReq(map[string]string{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}))
	require.ElementsMatch(t, liveIDs(recs), ascending)
	require.True(t, slices.IsSortedFunc(ascending, func(a, b string) int { return strings.Compare(modOf[a], modOf[b]) }))

	// The 300 updates share one millisecond: they come back together, in an order that
	// is stable but not id order.
	var tied []string
	for _, id := range ascending {
		if modOf[id] == modOf[ascending[len(ascending)-1]] {
			tied = append(tied, id)
		}
	}
	require.Len(t, tied, 300)
	require.False(t, slices.IsSortedFunc(tied, compareIDs), "ties must not come back in id order")
	require.Equal(t, ascending, h.searchAll(t, Contacts, sortReq("lastmodifieddate")), "string sort, same stable order")

	tests := []struct {
		name  string
		sorts []any
		check func(t *testing.T, ids []string)
	}{
		{name: "descending string form", sorts: []any{"-lastmodifieddate"},
			check: func(t *testing.T, ids []string) {
				require.True(t, slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(modOf[b], modOf[a]) }))
			}},
		{name: "descending object form", sorts: []any{map[string]string{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}},
			check: func(t *testing.T, ids []string) {
				require.True(t, slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(modOf[b], modOf[a]) }))
			}},
		{name: "numeric id sort", sorts: []any{map[string]string{"propertyName": "hs_object_id", "direction": "ASCENDING"}},
			check: func(t *testing.T, ids []string) { require.Equal(t, liveIDs(recs), ids) }},
		{name: "only the first sort is honoured", sorts: []any{"lastmodifieddate", map[string]string{"propertyName": "hs_object_id"}},
			check: func(t *testing.T, ids []string) { require.Equal(t, ascending, ids) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := h.searchAll(t, Contacts, sortReq(tc.sorts...))
			require.Len(t, got, len(ascending))
			tc.check(t, got)
		})
	}
}

func TestSearchValidationAndCap(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 23, Contacts: 10050, SearchPerSecond: 1 << 30})
	manyFilters := func(groups, perGroup int) map[string]any {
		var gs [][]map[string]any
		for range groups {
			var g []map[string]any
			for range perGroup {
				g = append(g, f("phone", "HAS_PROPERTY", nil))
			}
			gs = append(gs, g)
		}
		return filterReq(gs...)
	}
	tests := []struct {
		name       string
		req        map[string]any
		wantStatus int
	}{
		{name: "limit 200 ok", req: map[string]any{"limit": 200}, wantStatus: 200},
		{name: "limit 201 rejected", req: map[string]any{"limit": 201}, wantStatus: 400},
		{name: "after 9999 ok", req: map[string]any{"after": "9999"}, wantStatus: 200},
		{name: "after 10000 rejected", req: map[string]any{"after": "10000"}, wantStatus: 400},
		{name: "bad after", req: map[string]any{"after": "NTI1Cg=="}, wantStatus: 400},
		{name: "five groups ok", req: manyFilters(5, 5), wantStatus: 200},
		{name: "six groups rejected", req: manyFilters(6, 1), wantStatus: 400},
		{name: "26 filters rejected", req: filterReq(manyFilters(1, 26)["filterGroups"].([]map[string]any)[0]["filters"].([]map[string]any)), wantStatus: 400},
		{name: "unknown operator", req: filterReq([]map[string]any{f("email", "LIKE", "x")}), wantStatus: 400},
		{name: "missing value", req: filterReq([]map[string]any{f("email", "EQ", nil)}), wantStatus: 400},
		{name: "bad date", req: filterReq([]map[string]any{f("createdate", "GT", "yesterday")}), wantStatus: 400},
		{name: "bad direction", req: map[string]any{"sorts": []any{map[string]string{"propertyName": "email", "direction": "UP"}}}, wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.post(t, "/crm/v3/objects/contacts/search", tc.req)
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			require.NotEmpty(t, r.header.Get("X-HubSpot-Correlation-Id"))
			for k := range r.header {
				require.NotContains(t, strings.ToLower(k), "ratelimit", "search responses carry no rate-limit headers")
			}
			if tc.wantStatus == 400 {
				require.Equal(t, "VALIDATION_ERROR", r.json(t)["category"])
			}
		})
	}

	// Paging runs into HubSpot's 10,000-result cap: the last reachable page ends at 10000
	// and points at an offset that is then refused.
	p := decodePage(t, h.post(t, "/crm/v3/objects/contacts/search", map[string]any{"limit": 200, "after": "9900"}))
	require.Equal(t, 10050, p.Total)
	require.Len(t, p.Results, 100)
	require.Equal(t, "10000", p.Paging.Next.After)
	r := h.post(t, "/crm/v3/objects/contacts/search", map[string]any{"limit": 200, "after": p.Paging.Next.After})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.json(t)["message"], "10,000")
}

func TestSearchDefaultsAndProperties(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 24, Contacts: 25, Companies: 5, Deals: 5})
	p := decodePage(t, h.post(t, "/crm/v3/objects/contacts/search", map[string]any{}))
	require.Equal(t, 25, p.Total)
	require.Len(t, p.Results, 10, "default limit")
	require.Equal(t, "10", p.Paging.Next.After)
	require.Len(t, p.Results[0].Properties, 6, "default contact properties")

	p = decodePage(t, h.post(t, "/crm/v3/objects/deals/search", map[string]any{"properties": []string{"amount"}}))
	require.Len(t, p.Results, 5)
	require.Nil(t, p.Paging)
	for _, r := range p.Results {
		require.Contains(t, r.Properties, "amount")
		require.Contains(t, r.Properties, "hs_lastmodifieddate")
		require.NotContains(t, r.Properties, "dealname")
	}
}

func TestSearchExcludesArchived(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 25, Contacts: 400, SearchPerSecond: 1 << 30})
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 50})
	got := h.searchAll(t, Contacts, map[string]any{"limit": 200})
	require.Equal(t, liveIDs(snapshot(t, h.sim, Contacts)), got)
	for _, id := range res.Archived {
		require.NotContains(t, got, id)
	}
	// Even an explicit filter on an archived id finds nothing.
	p := decodePage(t, h.post(t, "/crm/v3/objects/contacts/search",
		filterReq([]map[string]any{f("hs_object_id", "EQ", res.Archived[0])})))
	require.Zero(t, p.Total)
}

func TestSearchIndexLag(t *testing.T) {
	t.Parallel()
	const lag = 30 * time.Second
	h := setup(t, Options{Seed: 26, Contacts: 200, Companies: 10, SearchIndexLag: lag, SearchPerSecond: 1 << 30})
	before := map[string]Record{}
	for _, r := range snapshot(t, h.sim, Contacts) {
		before[r.ID] = r
	}
	upd := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 1})
	created := mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 1})
	archived := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 1})
	u, c, a := upd.Updated[0], created.Created[0], archived.Archived[0]

	find := func(id string) (apiRecord, bool) {
		p := decodePage(t, h.post(t, "/crm/v3/objects/contacts/search",
			filterReq([]map[string]any{f("hs_object_id", "EQ", id)})))
		if len(p.Results) == 0 {
			return apiRecord{}, false
		}
		return p.Results[0], true
	}
	check := func(t *testing.T, caughtUp bool) {
		t.Helper()
		rec, ok := find(u)
		require.True(t, ok)
		want := before[u].Properties["lastmodifieddate"]
		if caughtUp {
			want = upd.At.Format(isoMillis)
		}
		require.Equal(t, want, *rec.Properties["lastmodifieddate"])
		_, ok = find(c)
		require.Equal(t, caughtUp, ok, "created record visible")
		_, ok = find(a)
		require.Equal(t, !caughtUp, ok, "archived record still visible")
	}

	check(t, false)
	h.clock.Advance(lag - time.Millisecond)
	check(t, false)
	h.clock.Advance(time.Millisecond)
	check(t, true)

	// List and single reads are not lagged.
	r := h.get(t, "/crm/v3/objects/contacts/"+c)
	require.Equal(t, http.StatusOK, r.status)
}

func TestSortPrefixMatchesFullSort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n, k int
	}{
		{name: "first page", n: 5000, k: 200},
		{name: "empty prefix", n: 100, k: 0},
		{name: "one", n: 100, k: 1},
		{name: "most", n: 1000, k: 900},
		{name: "all", n: 50, k: 50},
	}
	sp := sortSpec{set: true, prop: 0, kind: kindNumber}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hits := make([]hit, tc.n)
			for i := range hits {
				// Few distinct values, so most comparisons fall through to the tie hash.
				id := int64(i + 1)
				hits[i] = hit{e: &entry{id: id, tie: tieHash(1, id)}, num: float64(i % 7)}
			}
			want := slices.Clone(hits)
			slices.SortFunc(want, func(a, b hit) int { return sp.compare(&a, &b) })
			sortPrefix(hits, tc.k, sp.compare)
			for i := range tc.k {
				require.Equal(t, want[i].e.id, hits[i].e.id, "position %d", i)
			}
		})
	}
}

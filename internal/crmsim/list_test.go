package crmsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkList pages through a list endpoint and returns the records in order.
func (h *harness) walkList(t *testing.T, object, query string) []apiRecord {
	t.Helper()
	var out []apiRecord
	path := "/crm/v3/objects/" + object + "?" + query
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10000, "paging does not end")
		r := h.get(t, path)
		p := decodePage(t, r)
		out = append(out, p.Results...)
		if p.Paging == nil {
			require.NotContains(t, string(r.body), `"paging"`, "paging must be absent on the last page")
			return out
		}
		require.Equal(t, "?after="+p.Paging.Next.After, p.Paging.Next.Link)
		// Send the cursor back exactly as HubSpot's SDKs do: already escaped, in the URL.
		path = "/crm/v3/objects/" + object + "?" + query + "&after=" + p.Paging.Next.After
	}
}

func ids(recs []apiRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestListPagingWalksEveryLiveRecordOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 3, Contacts: 1234, Companies: 50, Deals: 60, TenSecondLimit: 100000})
	mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 40})
	want := liveIDs(snapshot(t, h.sim, Contacts))
	require.Len(t, want, 1234-40)

	tests := []struct {
		name  string
		query string
	}{
		{name: "default page size", query: ""},
		{name: "limit 7", query: "limit=7"},
		{name: "limit 100", query: "limit=100"},
		{name: "limit above max is clamped", query: "limit=500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := h.walkList(t, Contacts, tc.query)
			require.Equal(t, want, ids(got))
			for _, r := range got {
				require.False(t, r.Archived)
				require.Empty(t, r.ArchivedAt)
			}
		})
	}
	first := decodePage(t, h.get(t, "/crm/v3/objects/contacts?limit=500"))
	require.Len(t, first.Results, 100)

	// Cursors look like HubSpot's: escaped base64 of the next id and a newline.
	raw, err := url.QueryUnescape(first.Paging.Next.After)
	require.NoError(t, err)
	dec, err := base64.StdEncoding.DecodeString(raw)
	require.NoError(t, err)
	require.Equal(t, want[100]+"\n", string(dec))

	// A client that escapes the cursor once more (url.Values) still pages correctly.
	q := url.Values{"limit": {"100"}, "after": {first.Paging.Next.After}}
	second := decodePage(t, h.get(t, "/crm/v3/objects/contacts?"+q.Encode()))
	require.Equal(t, want[100], second.Results[0].ID)
}

func TestListArchivedReturnsOnlyArchived(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 4, Contacts: 300, Companies: 20, TenSecondLimit: 100000})
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 25})
	got := h.walkList(t, Contacts, "archived=true&limit=10")
	want := slices.Clone(res.Archived)
	slices.SortFunc(want, compareIDs)
	require.Equal(t, want, ids(got))
	for _, r := range got {
		require.True(t, r.Archived)
		require.Equal(t, res.At.Format(isoMillis), r.ArchivedAt)
		require.Equal(t, res.At.Format(isoMillis), r.UpdatedAt)
	}
	require.Equal(t, 3, h.sim.Stats().ByEndpoint["list_archived contacts"][http.StatusOK], "25 archived in pages of 10")
}

func TestListPropertiesAndAssociations(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 5, Contacts: 30, Companies: 10, Deals: 20})
	tests := []struct {
		name      string
		object    string
		query     string
		wantProps []string
		wantAssoc string
		wantType  string
	}{
		{name: "contact defaults", object: Contacts,
			wantProps: []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}},
		{name: "company defaults", object: Companies,
			wantProps: []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"}},
		{name: "deal defaults", object: Deals,
			wantProps: []string{"amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"}},
		{name: "named properties plus core, unknown ignored", object: Contacts, query: "properties=phone,nonexistent&properties=city",
			wantProps: []string{"city", "createdate", "hs_object_id", "lastmodifieddate", "phone"}},
		{name: "contact to company", object: Contacts, query: "associations=companies",
			wantProps: []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"},
			wantAssoc: Companies, wantType: "contact_to_company"},
		{name: "deal to contacts", object: Deals, query: "associations=contacts,bogus&properties=dealname",
			wantProps: []string{"createdate", "dealname", "hs_lastmodifieddate", "hs_object_id"},
			wantAssoc: Contacts, wantType: "deal_to_contact"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := decodePage(t, h.get(t, "/crm/v3/objects/"+tc.object+"?limit=5&"+tc.query))
			require.Len(t, p.Results, 5)
			for _, r := range p.Results {
				var keys []string
				for k := range r.Properties {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				require.Equal(t, tc.wantProps, keys)
				require.Equal(t, r.ID, *r.Properties["hs_object_id"])
				if tc.wantAssoc == "" {
					require.Nil(t, r.Associations)
					continue
				}
				results := r.Associations[tc.wantAssoc]["results"]
				require.NotEmpty(t, results)
				for _, a := range results {
					require.Equal(t, tc.wantType, a.(map[string]any)["type"])
				}
			}
		})
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantCat    string
	}{
		{name: "unknown object", path: "/crm/v3/objects/widgets", wantStatus: 400, wantCat: "VALIDATION_ERROR"},
		{name: "bad limit", path: "/crm/v3/objects/contacts?limit=abc", wantStatus: 400, wantCat: "VALIDATION_ERROR"},
		{name: "bad cursor", path: "/crm/v3/objects/contacts?after=!!!", wantStatus: 400, wantCat: "VALIDATION_ERROR"},
		{name: "unknown route", path: "/crm/v3/nothing/here", wantStatus: 404, wantCat: "OBJECT_NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.get(t, tc.path)
			require.Equal(t, tc.wantStatus, r.status)
			body := r.json(t)
			require.Equal(t, "error", body["status"])
			require.Equal(t, tc.wantCat, body["category"])
			require.NotEmpty(t, body["message"])
			require.Equal(t, r.header.Get("X-HubSpot-Correlation-Id"), body["correlationId"])
		})
	}
}

func TestGetSingleRecord(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 9, Contacts: 50, Companies: 5})
	recs := snapshot(t, h.sim, Contacts)
	live := recs[3]
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 1})
	archived := res.Archived[0]
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantID     string
	}{
		{name: "live", path: "/crm/v3/objects/contacts/" + live.ID + "?properties=email", wantStatus: 200, wantID: live.ID},
		{name: "missing", path: "/crm/v3/objects/contacts/999999999", wantStatus: 404},
		{name: "not numeric", path: "/crm/v3/objects/contacts/abc", wantStatus: 404},
		{name: "archived hidden", path: "/crm/v3/objects/contacts/" + archived, wantStatus: 404},
		{name: "archived on request", path: "/crm/v3/objects/contacts/" + archived + "?archived=true", wantStatus: 200, wantID: archived},
		{name: "by email", path: "/crm/v3/objects/contacts/" + url.PathEscape(recs[7].Properties["email"]) + "?idProperty=email",
			wantStatus: 200, wantID: recs[7].ID},
	}
	require.NotEmpty(t, recs[7].Properties["email"], "the seed must give record 7 an email")
	require.NotContains(t, []string{live.ID, recs[7].ID}, archived, "the seed must not archive the records under test")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.get(t, tc.path)
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			body := r.json(t)
			if tc.wantStatus != 200 {
				require.Equal(t, "OBJECT_NOT_FOUND", body["category"])
				return
			}
			require.Equal(t, tc.wantID, body["id"])
		})
	}
}

func TestBatchRead(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 11, Contacts: 120, Companies: 5})
	recs := snapshot(t, h.sim, Contacts)
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 1})
	inputs := func(ids ...string) []map[string]any {
		var out []map[string]any
		for _, id := range ids {
			out = append(out, map[string]any{"id": id})
		}
		return out
	}
	liveA, liveB := recs[0].ID, recs[1].ID
	if liveA == res.Archived[0] || liveB == res.Archived[0] {
		liveA, liveB = recs[2].ID, recs[3].ID
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = recs[i].ID
	}
	tests := []struct {
		name        string
		query       string
		ids         []string
		wantStatus  int
		wantIDs     []string
		wantMissing []string
	}{
		{name: "all found", ids: []string{liveA, liveB}, wantStatus: 200, wantIDs: []string{liveA, liveB}},
		{name: "some missing", ids: []string{liveA, "424242424", res.Archived[0]}, wantStatus: 207,
			wantIDs: []string{liveA}, wantMissing: []string{"424242424", res.Archived[0]}},
		{name: "archived", query: "?archived=true", ids: []string{res.Archived[0]}, wantStatus: 200, wantIDs: res.Archived},
		{name: "too many inputs", ids: many, wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.post(t, "/crm/v3/objects/contacts/batch/read"+tc.query,
				map[string]any{"properties": []string{"email", "phone"}, "inputs": inputs(tc.ids...)})
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			body := r.json(t)
			if tc.wantStatus == 400 {
				require.Equal(t, "VALIDATION_ERROR", body["category"])
				return
			}
			require.Equal(t, "COMPLETE", body["status"])
			require.NotEmpty(t, body["startedAt"])
			require.NotEmpty(t, body["completedAt"])
			p := decodePage(t, response{status: 200, body: r.body})
			require.ElementsMatch(t, tc.wantIDs, ids(p.Results))
			for _, rec := range p.Results {
				require.Contains(t, rec.Properties, "phone")
			}
			if tc.wantMissing == nil {
				require.NotContains(t, body, "errors")
				return
			}
			require.EqualValues(t, 1, body["numErrors"])
			errs := body["errors"].([]any)
			e := errs[0].(map[string]any)
			require.Equal(t, "OBJECT_NOT_FOUND", e["category"])
			require.True(t, strings.HasPrefix(e["message"].(string), "Could not get some CONTACT objects"))
			var missing []string
			for _, id := range e["context"].(map[string]any)["ids"].([]any) {
				missing = append(missing, id.(string))
			}
			require.ElementsMatch(t, tc.wantMissing, missing)
		})
	}
}

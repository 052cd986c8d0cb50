package salesforce_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/salesforce"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// The simulator's default org is as wide as a real one: Contact has hundreds of custom
// fields, so a query naming them all is far longer than the GET the client sends, and goes
// through the Composite API instead.

// requireTruth checks one read record against the snapshot's.
func requireTruth(t *testing.T, want crmsim.Record, got crm.Record) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.True(t, want.CreatedAt.Equal(got.CreatedAt), "%s created", got.ID)
	require.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "%s updated", got.ID)
	require.Equal(t, want.Archived, got.Archived, got.ID)
	require.Equal(t, want.Properties, propertyTexts(t, got.Properties), got.ID)
}

// calls is how many requests the simulator answered on an endpoint since before.
func calls(before, after crmsim.Stats, endpoint string) int {
	return after.Calls(endpoint) - before.Calls(endpoint)
}

func TestSalesforceWideListAndChangesTakeOneCallAPage(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 17, Contacts: 450, Companies: 5, Deals: 5}, salesforce.Options{PageSize: 200})
	e.clock.Add(time.Hour)
	_, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 60, Archives: 5})
	require.NoError(t, err)
	names, _ := fieldNames(t, c, crm.Contacts)
	require.GreaterOrEqual(t, len(names), 300)
	get := "/services/data/v62.0/query?q=" + url.QueryEscape("SELECT "+strings.Join(names, ", ")+" FROM Contact ORDER BY Id")
	require.Greater(t, len(get), 8000, "every field is far too long for a GET the client sends")
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
	require.NoError(t, err)
	byID := map[string]crmsim.Record{}
	var live, deleted []crmsim.Record
	for _, r := range truth {
		byID[r.ID] = r
		if r.Archived {
			deleted = append(deleted, r)
		} else {
			live = append(live, r)
		}
	}

	for _, tc := range []struct {
		archived  bool
		want      []crmsim.Record
		pages     int
		composite string // the stats key of the Composite request
	}{
		{archived: false, want: live, pages: 3, composite: "salesforce composite query Contact"},
		{archived: true, want: deleted, pages: 1, composite: "salesforce composite queryAll Contact"},
	} {
		before := e.sim.Stats()
		got, pages := listAll(t, c, crm.Contacts, tc.archived, names)
		after := e.sim.Stats()
		require.Equal(t, tc.pages, pages)
		require.Equal(t, pages, after.Total-before.Total, "one call a page")
		require.Equal(t, 1, calls(before, after, tc.composite), "the first page through Composite")
		require.Equal(t, pages-1, calls(before, after, "salesforce query_more"), "the others from the query locator")
		require.Len(t, got, len(tc.want))
		for i, r := range got {
			requireTruth(t, tc.want[i], r)
			require.Len(t, propertyTexts(t, r.Properties), len(names)-1, "every field but Id")
		}
	}

	// Each page of changes is a new query, each through Composite.
	before := e.sim.Stats()
	seen, n, _ := scan(t, c, crm.Contacts, crm.Cursor{}, names, 10)
	after := e.sim.Stats()
	require.Equal(t, 3, n)
	require.Equal(t, n, after.Total-before.Total)
	require.Equal(t, n, calls(before, after, "salesforce composite query Contact"))
	require.Len(t, seen, len(live))
	for id, r := range seen {
		requireTruth(t, byID[id], r)
	}
}

func TestSalesforceWideBatchRead(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 19, Contacts: 2100, Companies: 5, Deals: 5}, salesforce.Options{})
	_, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Archives: 30})
	require.NoError(t, err)
	names, _ := fieldNames(t, c, crm.Contacts)
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
	require.NoError(t, err)
	byID := map[string]crmsim.Record{}
	var ids, deleted []string
	for _, r := range truth {
		byID[r.ID] = r
		if r.Archived {
			deleted = append(deleted, r.ID)
		}
		if len(ids) < 1999 {
			ids = append(ids, r.ID)
		}
	}
	ids = append(ids, "003000000000000AAA")
	slices.Reverse(ids)

	// 2,000 ids and every field in one POST: the records that are live, in the order asked.
	before := e.sim.Stats()
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: ids, Properties: names})
	require.NoError(t, err)
	after := e.sim.Stats()
	require.Equal(t, 1, after.Total-before.Total)
	require.Equal(t, 1, calls(before, after, "salesforce retrieve Contact"))
	var want []string
	for _, id := range ids {
		if r, ok := byID[id]; ok && !r.Archived {
			want = append(want, id)
		}
	}
	require.Len(t, page.Records, len(want))
	for i, r := range page.Records {
		require.Equal(t, want[i], r.ID)
		requireTruth(t, byID[r.ID], r)
	}

	// Deleted records come from a queryAll on their ids, through Composite when wide.
	before = e.sim.Stats()
	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: deleted, Properties: names, Archived: true})
	require.NoError(t, err)
	after = e.sim.Stats()
	require.Equal(t, 1, calls(before, after, "salesforce composite queryAll Contact"))
	require.Len(t, page.Records, len(deleted))
	for _, r := range page.Records {
		require.True(t, r.Archived)
		requireTruth(t, byID[r.ID], r)
	}
}

// A 414 or 431 tells the client its GETs are too long for this org's front end: it answers
// the call with the error, and sends the same query through Composite from then on.
func TestSalesforceRefusedURISwitchesToComposite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		limit     int
		userAgent string
		status    int
	}{
		// The URI fits the client's 2,000-byte budget and the limit; with a long User-Agent
		// (an SDK's or a proxy's) the URI and headers together do not.
		{name: "431", limit: 3000, userAgent: "crmsync/1.0 " + strings.Repeat("x", 1200), status: http.StatusRequestHeaderFieldsTooLarge},
		// A front end with a lower limit than the budget assumes.
		{name: "414", limit: 1500, status: http.StatusRequestURITooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := setup(t, crmsim.Options{Seed: 23, Contacts: 300, Companies: 5, Deals: 5,
				Salesforce: crmsim.SalesforceOptions{URILimit: tc.limit}}, salesforce.Options{UserAgent: tc.userAgent, PageSize: 200})
			names, _ := fieldNames(t, c, crm.Contacts)
			// The first fields whose query GET is just under the client's budget.
			var props []string
			for _, n := range names {
				switch n {
				case "Id", "CreatedDate", "SystemModstamp":
					continue
				}
				soql := "SELECT Id, CreatedDate, SystemModstamp, " + strings.Join(append(props, n), ", ") + " FROM Contact ORDER BY Id"
				if len("/services/data/v62.0/query?q="+url.QueryEscape(soql)) > 2000 {
					break
				}
				props = append(props, n)
			}
			req := crm.ListRequest{Object: crm.Contacts, Properties: props}

			_, err := c.List(t.Context(), req)
			var ae *crm.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.status, ae.Status)
			require.Equal(t, crm.KindInvalid, ae.Kind)
			require.Zero(t, e.sim.Calls("salesforce composite query Contact"))

			page, err := c.List(t.Context(), req)
			require.NoError(t, err, "the same request, sent again as it was")
			require.Equal(t, 1, e.sim.Calls("salesforce composite query Contact"))
			require.Len(t, page.Records, 200)
			truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
			require.NoError(t, err)
			for i, r := range page.Records {
				require.Equal(t, truth[i].ID, r.ID)
				got := propertyTexts(t, r.Properties)
				require.Len(t, got, len(props)+2, "the fields asked, CreatedDate and SystemModstamp")
				for _, p := range props {
					require.Equal(t, truth[i].Properties[p], got[p], "%s.%s", r.ID, p)
				}
			}
			// The refused request used none of the allocation: describe, the composite
			// request and this one.
			u, _, err := c.DailyUsage(t.Context())
			require.NoError(t, err)
			require.Equal(t, 3, u.Used)
		})
	}
}

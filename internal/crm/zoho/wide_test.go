package zoho_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/zoho"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// countingReader is a crm.Reader whose Send just calls do, counting the requests of each
// op; after, when set, runs after each request with the number of requests so far.
//
// The reader sends a page's reads by id together; this Send lets one through at a time (in
// whatever order they come), so that "after the n-th request" is a point between requests.
func countingReader(c crm.Connector, after func(n int)) (crm.Reader, map[crm.Op]int) {
	var mu sync.Mutex
	counts := map[crm.Op]int{}
	n := 0
	return crm.Reader{Conn: c, Send: func(ctx context.Context, op crm.Op, do func(context.Context) (crm.RateLimit, error)) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := do(ctx)
		counts[op]++
		n++
		if after != nil {
			after(n)
		}
		return err
	}}, counts
}

// requestLog records the size of every Get Records request: its fields and ids.
type requestLog struct {
	mu     sync.Mutex
	fields []int
	ids    []int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		l.mu.Lock()
		if f := q.Get("fields"); f != "" {
			l.fields = append(l.fields, len(strings.Split(f, ",")))
		}
		if ids := q.Get("ids"); ids != "" {
			l.ids = append(l.ids, len(strings.Split(ids, ",")))
		}
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// setupWide starts the default (wide) simulator behind a server that logs request sizes.
func setupWide(t *testing.T, opts crmsim.Options) (*crmsim.Sim, *zoho.Client, *requestLog) {
	t.Helper()
	opts.Tokens = []string{"tok"}
	opts.Zoho = crmsim.ZohoOptions{DailyCredits: 10_000_000, Concurrency: 1000}
	sim, err := crmsim.New(opts)
	require.NoError(t, err)
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(sim.Handler()))
	t.Cleanup(srv.Close)
	c, err := zoho.New(zoho.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("tok"), DealsLayoutID: dealsLayout})
	require.NoError(t, err)
	return sim, c, log
}

// fieldGroups is how many requests' worth of fields props are: 48 a request beside
// Modified_Time and Created_Time, which every request names.
func fieldGroups(props []string) int {
	n := 0
	for _, p := range props {
		if p != "Modified_Time" && p != "Created_Time" {
			n++
		}
	}
	return (n + zoho.MaxFields - 3) / (zoho.MaxFields - 2)
}

// planned is the requests a page of n records takes: the page request with the first
// group of fields, then each further group read by ids, 100 ids a request.
func planned(groups, n int) int { return 1 + (groups-1)*((n+99)/100) }

// requireSnapshot checks that recs are the simulator's records: the same version, every
// field with the value the API renders.
func requireSnapshot(t *testing.T, truth map[string]crmsim.Record, props []string, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		want, ok := truth[r.ID]
		require.True(t, ok, "record %s is not in the CRM", r.ID)
		require.False(t, want.Archived, "record %s is deleted", r.ID)
		require.True(t, want.UpdatedAt.Equal(r.UpdatedAt), "record %s version", r.ID)
		require.True(t, want.CreatedAt.Equal(r.CreatedAt), "record %s created", r.ID)
		got := flat(t, r.Properties)
		require.Len(t, got, len(props), "record %s has every field", r.ID)
		require.Equal(t, want.Properties, got, "record %s", r.ID)
	}
}

func snapshotByID(t *testing.T, sim *crmsim.Sim, obj crm.Object) map[string]crmsim.Record {
	t.Helper()
	snap, err := sim.SnapshotFor(crmsim.ProviderZoho, string(obj))
	require.NoError(t, err)
	out := make(map[string]crmsim.Record, len(snap))
	for _, r := range snap {
		out[r.ID] = r
	}
	return out
}

func TestZohoWideReaderReadsEveryFieldOfEveryRecord(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c, log := setupWide(t, crmsim.Options{Seed: 21, Contacts: 450, Companies: 230, Deals: 205, Now: clock.Now})
	clock.Add(time.Second)
	_, err := sim.Mutate(crmsim.MutationSpec{Updates: 25, Creates: 2, Archives: 5})
	require.NoError(t, err)

	for _, obj := range crm.Objects {
		props := propertyNames(t, c, obj)
		require.GreaterOrEqual(t, len(props), 120, "a realistic Zoho %s module is wide", obj)
		groups := fieldGroups(props)
		require.Equal(t, 4, groups, "%s: %d fields are 4 requests' worth", obj, len(props))
		truth := snapshotByID(t, sim, obj)
		live := 0
		for _, r := range truth {
			if !r.Archived {
				live++
			}
		}
		r, counts := countingReader(c, nil)

		// List: each page is the list request and the other groups by ids, 100 at a time.
		listed, after, pages, full := map[string]bool{}, "", 0, 0
		for {
			page, calls, err := r.List(t.Context(), crm.ListRequest{Object: obj, After: after, Properties: props})
			require.NoError(t, err)
			pages++
			require.Equal(t, crm.Calls{Page: 1, Fill: planned(groups, len(page.Records)) - 1}, calls, "%s list page %d", obj, pages)
			if len(page.Records) == 200 {
				full++
				require.Equal(t, 7, calls.Total(), "a page of 200: 1 list + 3 groups x 2 reads by ids")
			}
			requireSnapshot(t, truth, props, page.Records)
			for _, rec := range page.Records {
				require.False(t, listed[rec.ID], "%s listed twice", rec.ID)
				listed[rec.ID] = true
			}
			if after = page.Next; after == "" {
				break
			}
		}
		require.Len(t, listed, live, obj)
		require.Positive(t, full, "%s: a full page was read", obj)
		require.Equal(t, pages, counts[crm.OpList])

		// Changes from the beginning: every live record, each page completed the same way.
		from, changed := crm.Cursor{}, map[string]bool{}
		for calls := 0; ; calls++ {
			require.Less(t, calls, 20, "the scan ends")
			page, got, err := r.Changes(t.Context(), crm.ChangesRequest{Object: obj, From: from, Properties: props})
			require.NoError(t, err)
			fill := 0
			if len(page.Records) > 0 {
				fill = planned(groups, len(page.Records)) - 1
			}
			require.Equal(t, crm.Calls{Page: 1, Fill: fill}, got, "%s changes from %s", obj, from)
			requireSnapshot(t, truth, props, page.Records)
			for _, rec := range page.Records {
				changed[rec.ID] = true
			}
			from = page.Next
			if !page.More {
				break
			}
		}
		require.Len(t, changed, live, obj)
	}

	// Every request stayed within Zoho's limits, and the plan filled them.
	for key, byStatus := range sim.Stats().ByEndpoint {
		require.Zero(t, byStatus[http.StatusBadRequest], "%s: a request was refused", key)
	}
	require.Equal(t, zoho.MaxFields, slices.Max(log.fields))
	require.Equal(t, 100, slices.Max(log.ids))
}

func TestZohoWideRecordChangingBetweenPiecesIsOneVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		mutateAfter int // the request after which the records change
	}{
		{name: "between the list request and the first read by ids", mutateAfter: 1},
		{name: "between two groups of reads by ids", mutateAfter: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			sim, c, _ := setupWide(t, crmsim.Options{Seed: 22, Contacts: 150, Companies: 10, Deals: 10, Now: clock.Now})
			props := propertyNames(t, c, crm.Contacts)
			groups := fieldGroups(props)
			var res crmsim.MutationResult
			r, _ := countingReader(c, func(n int) {
				if n != tc.mutateAfter {
					return
				}
				clock.Add(time.Second)
				var err error
				res, err = sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 20})
				require.NoError(t, err)
			})
			page, calls, err := r.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: props})
			require.NoError(t, err)
			require.Len(t, page.Records, 150)
			require.Len(t, res.Updated, 20)
			// The 20 changed records are read again, whole: one read by ids per group.
			require.Equal(t, crm.Calls{Page: 1, Fill: (groups - 1) * 2, Reread: groups}, calls)

			// Every record is the version the CRM has now, every field of it: none mixes
			// pieces of the version before the change with pieces of the one after.
			truth := snapshotByID(t, sim, crm.Contacts)
			requireSnapshot(t, truth, props, page.Records)
			byID := map[string]crm.Record{}
			for _, rec := range page.Records {
				byID[rec.ID] = rec
			}
			for _, id := range zohoIDs(t, res.Updated) {
				require.True(t, byID[id].UpdatedAt.Equal(res.At.Truncate(time.Second)), "%s is the new version", id)
			}
		})
	}
}

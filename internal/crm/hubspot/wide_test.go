package hubspot_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// countingReader is a crm.Reader whose Send counts the requests of each op.
func countingReader(c crm.Connector) (crm.Reader, map[crm.Op]int) {
	var mu sync.Mutex
	counts := map[crm.Op]int{}
	return crm.Reader{Conn: c, Send: func(ctx context.Context, op crm.Op, do func(context.Context) (crm.RateLimit, error)) error {
		mu.Lock()
		counts[op]++
		mu.Unlock()
		_, err := do(ctx)
		return err
	}}, counts
}

// requireEqualToCRM checks that recs hold every property the CRM has, with its value, and
// name every one of props (null where empty).
func requireEqualToCRM(t *testing.T, sim *crmsim.Sim, obj crm.Object, props []string, recs []crm.Record) {
	t.Helper()
	truth, err := sim.Snapshot(string(obj))
	require.NoError(t, err)
	byID := map[string]crmsim.Record{}
	for _, r := range truth {
		byID[r.ID] = r
	}
	for _, r := range recs {
		want, ok := byID[r.ID]
		require.True(t, ok, "record %s is not in the CRM", r.ID)
		require.True(t, want.UpdatedAt.Equal(r.UpdatedAt), "record %s version", r.ID)
		var got map[string]*string
		require.NoError(t, json.Unmarshal(r.Properties, &got))
		for _, p := range props {
			v, named := got[p]
			require.True(t, named, "record %s lacks property %s", r.ID, p)
			w := want.Properties[p]
			if w == "" {
				require.Nil(t, v, "record %s property %s", r.ID, p)
			} else {
				require.NotNil(t, v, "record %s property %s", r.ID, p)
				require.Equal(t, w, *v, "record %s property %s", r.ID, p)
			}
		}
	}
}

func TestWideListReadsEveryPropertyBelowTheURILimit(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 11, Contacts: 450, Companies: 120, Deals: 10})
	_, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 15})
	require.NoError(t, err)
	tests := []struct {
		obj          crm.Object
		archived     bool
		callsPerPage int
	}{
		// Contacts name more than a 15,000-byte URI holds: each page is a list GET plus one
		// batch read (POST, the properties in the body) for the rest.
		{obj: crm.Contacts, callsPerPage: 2},
		{obj: crm.Contacts, archived: true, callsPerPage: 2},
		// Companies' every property fits one GET.
		{obj: crm.Companies, callsPerPage: 1},
	}
	for _, tc := range tests {
		props := propertyNames(t, c, tc.obj)
		require.Greater(t, len(props), 400, "a realistic portal's %s are wide", tc.obj)
		r, counts := countingReader(c)
		after, pages, n := "", 0, 0
		for {
			page, calls, err := r.List(t.Context(), crm.ListRequest{Object: tc.obj, After: after, Archived: tc.archived, Properties: props})
			require.NoError(t, err)
			require.Equal(t, tc.callsPerPage, calls.Total(), "%s page %d", tc.obj, pages)
			for _, rec := range page.Records {
				require.Equal(t, tc.archived, rec.Archived)
			}
			requireEqualToCRM(t, sim, tc.obj, props, page.Records)
			pages++
			n += len(page.Records)
			if after = page.Next; after == "" {
				break
			}
		}
		require.Equal(t, pages, counts[crm.OpList])
		require.Equal(t, pages*(tc.callsPerPage-1), counts[crm.OpBatchRead])
		require.Positive(t, n)
	}
	st := sim.Stats()
	for key, byStatus := range st.ByEndpoint {
		require.Zero(t, byStatus[http.StatusRequestURITooLong], "%s: a planned request was refused for its length", key)
	}
}

func TestWideListLearnsAStricterFrontEnd(t *testing.T) {
	t.Parallel()
	// A front end that refuses URIs past 6,000 bytes, as some reports of HubSpot's 414
	// describe (dlt-hub/verified-sources #311: about 8,000).
	sim, c := setup(t, crmsim.Options{Seed: 12, Contacts: 250, Companies: 1, Deals: 1, URILimit: 6000})
	props := propertyNames(t, c, crm.Contacts)
	r, _ := countingReader(c)
	after, refused := "", []int{}
	for {
		page, calls, err := r.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: after, Properties: props})
		require.NoError(t, err)
		requireEqualToCRM(t, sim, crm.Contacts, props, page.Records)
		refused = append(refused, calls.Refused)
		if after = page.Next; after == "" {
			break
		}
	}
	// 15,000 bytes refused, 7,500 refused, then 3,750 from the first page on.
	require.Equal(t, []int{2, 0, 0}, refused)
	require.Equal(t, 2, sim.Stats().ByEndpoint["list contacts"][http.StatusRequestURITooLong])
}

func TestListURIStaysWithinItsBudget(t *testing.T) {
	t.Parallel()
	sim, err := crmsim.New(crmsim.Options{Seed: 13, Contacts: 5, Tokens: []string{"tok"}})
	require.NoError(t, err)
	var mu sync.Mutex
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: "tok"})
	require.NoError(t, err)
	props := propertyNames(t, c, crm.Contacts)
	fit := c.FitProperties(crm.Shape{Op: crm.OpList, Object: crm.Contacts}, props)
	require.Less(t, fit, len(props), "every contact property does not fit one GET")
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: props[:fit]})
	require.NoError(t, err)
	last := uris[len(uris)-1]
	require.LessOrEqual(t, len(last), 15000)
	require.Greater(t, len(last)+len(props[fit])+1, 15000, "one more property would not have fit")
	require.NotContains(t, last, "%2C", "property names are separated by plain commas")
	require.Equal(t, len(props[:fit]), fit)
	require.Equal(t, len(props), c.FitProperties(crm.Shape{Op: crm.OpBatchRead, Object: crm.Contacts}, props), "a batch read carries them in its body")
}

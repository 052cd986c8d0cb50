package pipedrive_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/pipedrive"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// Real Pipedrive accounts have dozens of custom fields per entity, and v2 returns every one
// of them under custom_fields unless the custom_fields parameter names at most 15 (Pipedrive's
// API v2 migration guide; pipedrive/client-nodejs v32.2.1 persons-api.ts). The connector wants
// every field, so it never sends the parameter, and one call brings a whole page.

// recorder is a transport that keeps the query of every request it sends.
type recorder struct {
	mu      sync.Mutex
	queries []url.Values
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.queries = append(r.queries, req.URL.Query())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) sent() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.queries...)
}

// wideSetup starts the default (wide) simulator with generous limits and a client whose
// requests are recorded.
func wideSetup(t *testing.T, opts crmsim.Options) (*crmsim.Sim, *pipedrive.Client, *recorder) {
	t.Helper()
	sim, _, srv := setup(t, opts)
	rec := &recorder{}
	c, err := pipedrive.New(pipedrive.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("tok"),
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: rec}})
	require.NoError(t, err)
	return sim, c, rec
}

var customKey = regexp.MustCompile(`^[0-9a-f]{40}$`)

// customKeys lists an object's custom field keys from the field metadata.
func customKeys(t *testing.T, c *pipedrive.Client, obj crm.Object) []string {
	t.Helper()
	props, _, err := c.Properties(t.Context(), obj)
	require.NoError(t, err)
	var keys []string
	for _, p := range props {
		if customKey.MatchString(p.Name) {
			keys = append(keys, p.Name)
		}
	}
	return keys
}

// customFields decodes a record's custom_fields property.
func customFields(t *testing.T, r crm.Record) map[string]json.RawMessage {
	t.Helper()
	var props struct {
		CustomFields map[string]json.RawMessage `json:"custom_fields"`
	}
	require.NoError(t, json.Unmarshal(r.Properties, &props))
	require.NotNil(t, props.CustomFields, "record %s has custom_fields", r.ID)
	return props.CustomFields
}

// requireEveryCustomField checks that each record holds every custom field and equals the
// simulator's ground truth.
func requireEveryCustomField(t *testing.T, recs []crm.Record, keys []string, truth map[string]crmsim.Record) {
	t.Helper()
	filled := 0
	for _, r := range recs {
		cf := customFields(t, r)
		got := make([]string, 0, len(cf))
		for k, v := range cf {
			got = append(got, k)
			if string(v) != "null" {
				filled++
			}
		}
		require.ElementsMatch(t, keys, got, "record %s: every custom field the metadata lists", r.ID)
		tr, ok := truth[r.ID]
		require.True(t, ok, "record %s is in the simulator", r.ID)
		require.Equal(t, tr.Properties, flatten(t, r.Properties), "record %s", r.ID)
	}
	require.Positive(t, filled, "the custom fields hold values")
}

func truthByID(t *testing.T, sim *crmsim.Sim, obj crm.Object) map[string]crmsim.Record {
	t.Helper()
	recs, err := sim.SnapshotFor(crmsim.ProviderPipedrive, string(obj))
	require.NoError(t, err)
	out := make(map[string]crmsim.Record, len(recs))
	for _, r := range recs {
		out[r.ID] = r
	}
	return out
}

func TestPipedriveListPageBringsEveryCustomFieldInOneCall(t *testing.T) {
	t.Parallel()
	sim, c, rec := wideSetup(t, crmsim.Options{Seed: 31, Contacts: 1200, Companies: 600, Deals: 900})
	_, err := sim.Mutate(crmsim.MutationSpec{Updates: 300, Archives: 40})
	require.NoError(t, err)
	for _, obj := range crm.Objects {
		entity, err := pipedrive.Entity(obj)
		require.NoError(t, err)
		keys := customKeys(t, c, obj)
		require.GreaterOrEqual(t, len(keys), 50, "%s: as many custom fields as a real account", obj)
		truth := truthByID(t, sim, obj)

		before := sim.Stats().Calls("pipedrive list " + entity)
		page, err := c.List(t.Context(), crm.ListRequest{Object: obj})
		require.NoError(t, err)
		require.Len(t, page.Records, 500, "a full page")
		require.NotEmpty(t, page.Next)
		require.Equal(t, before+1, sim.Stats().Calls("pipedrive list "+entity), "%s: one call for the page", obj)
		requireEveryCustomField(t, page.Records, keys, truth)

		next, err := c.List(t.Context(), crm.ListRequest{Object: obj, After: page.Next})
		require.NoError(t, err)
		require.Equal(t, before+2, sim.Stats().Calls("pipedrive list "+entity), "%s: one call for the next page", obj)
		requireEveryCustomField(t, next.Records, keys, truth)

		if obj == crm.Deals {
			before := sim.Stats().Calls("pipedrive list_deleted deals")
			deleted, err := c.List(t.Context(), crm.ListRequest{Object: obj, Archived: true})
			require.NoError(t, err)
			require.NotEmpty(t, deleted.Records)
			require.Equal(t, before+1, sim.Stats().Calls("pipedrive list_deleted deals"))
			requireEveryCustomField(t, deleted.Records, keys, truth)
		}
	}
	requireNoCustomFieldsParameter(t, rec)
}

func TestPipedriveBatchReadBringsEveryCustomFieldInOneCall(t *testing.T) {
	t.Parallel()
	sim, c, rec := wideSetup(t, crmsim.Options{Seed: 32, Contacts: 400, Companies: 300, Deals: 400})
	res, err := sim.Mutate(crmsim.MutationSpec{Object: crmsim.Deals, Archives: 12})
	require.NoError(t, err)
	for _, obj := range crm.Objects {
		entity, err := pipedrive.Entity(obj)
		require.NoError(t, err)
		keys := customKeys(t, c, obj)
		truth := truthByID(t, sim, obj)
		var ids []string
		for id, r := range truth {
			if !r.Archived && len(ids) < 100 {
				ids = append(ids, id)
			}
		}
		before := sim.Stats().Calls("pipedrive list " + entity)
		page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: obj, IDs: ids})
		require.NoError(t, err)
		require.Len(t, page.Records, 100)
		require.Equal(t, before+1, sim.Stats().Calls("pipedrive list "+entity), "%s: 100 records in one call", obj)
		requireEveryCustomField(t, page.Records, keys, truth)
	}
	deleted, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: res.Archived, Archived: true})
	require.NoError(t, err)
	require.Len(t, deleted.Records, len(res.Archived))
	requireEveryCustomField(t, deleted.Records, customKeys(t, c, crm.Deals), truthByID(t, sim, crm.Deals))
	requireNoCustomFieldsParameter(t, rec)
}

func TestPipedriveNeverSendsCustomFields(t *testing.T) {
	t.Parallel()
	sim, c, rec := wideSetup(t, crmsim.Options{Seed: 33, Contacts: 60, Companies: 20, Deals: 40})
	_, err := sim.Mutate(crmsim.MutationSpec{Object: crmsim.Deals, Archives: 2})
	require.NoError(t, err)
	for _, obj := range crm.Objects {
		_, err := c.List(t.Context(), crm.ListRequest{Object: obj})
		require.NoError(t, err)
		_, err = c.List(t.Context(), crm.ListRequest{Object: obj, Archived: true})
		require.NoError(t, err)
		_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: obj, IDs: []string{"1", "2"}})
		require.NoError(t, err)
		changes, err := c.Changes(t.Context(), crm.ChangesRequest{Object: obj})
		require.NoError(t, err)
		require.NotEmpty(t, changes.Records)
		for _, r := range changes.Records {
			require.NotEmpty(t, customFields(t, r), "changes bring the custom fields too")
		}
		_, _, err = c.Properties(t.Context(), obj)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, len(rec.sent()), 4*len(crm.Objects))
	requireNoCustomFieldsParameter(t, rec)
}

// requireNoCustomFieldsParameter checks that no request named custom_fields (nor
// include_fields): one such parameter would cut the records to 15 custom fields.
func requireNoCustomFieldsParameter(t *testing.T, rec *recorder) {
	t.Helper()
	sent := rec.sent()
	require.NotEmpty(t, sent)
	for _, q := range sent {
		require.NotContains(t, q, "custom_fields", "query %s", q.Encode())
		require.NotContains(t, q, "include_fields", "query %s", q.Encode())
	}
}

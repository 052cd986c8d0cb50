package crmsim

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// zohoGet sends a Zoho request with auth ("" sends no Authorization header) and headers.
func (h *harness) zohoGet(t *testing.T, path, auth string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+path, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

const zohoAuth = "Zoho-oauthtoken " + testToken

func requireZohoError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	body := r.json(t)
	require.Equal(t, code, body["code"], "body: %s", r.body)
	require.Equal(t, "error", body["status"])
	require.Contains(t, body, "details")
	return body
}

func TestZohoRequestValidation(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 450})
	list := "/crm/v8/Contacts?fields=Email&sort_by=id&sort_order=asc"
	tests := []struct {
		name   string
		path   string
		auth   string
		header map[string]string
		status int
		code   string
	}{
		{name: "no credentials", path: list, status: 401, code: "AUTHENTICATION_FAILURE"},
		{name: "bearer is not Zoho's scheme", path: list, auth: "Bearer " + testToken, status: 401, code: "INVALID_TOKEN"},
		{name: "unknown token", path: list, auth: "Zoho-oauthtoken nope", status: 401, code: "INVALID_TOKEN"},
		{name: "fields are mandatory", path: "/crm/v8/Contacts", auth: zohoAuth, status: 400, code: "REQUIRED_PARAM_MISSING"},
		{name: "unknown module", path: "/crm/v8/Leads2?fields=Email", auth: zohoAuth, status: 400, code: "INVALID_MODULE"},
		{name: "page numbers stop at 2,000 records", path: list + "&page=11", auth: zohoAuth, status: 400, code: "DISCRETE_PAGINATION_LIMIT_EXCEEDED"},
		{name: "page with page_token", path: list + "&page=2&page_token=x", auth: zohoAuth, status: 400, code: "AMBIGUITY_DURING_PROCESSING"},
		{name: "garbled page_token", path: list + "&page_token=%21%21", auth: zohoAuth, status: 400, code: "INVALID_DATA"},
		{name: "bad sort", path: "/crm/v8/Contacts?fields=Email&sort_by=Email", auth: zohoAuth, status: 400, code: "INVALID_DATA"},
		{name: "pipelines need a layout", path: "/crm/v8/settings/pipeline", auth: zohoAuth, status: 400, code: "REQUIRED_PARAM_MISSING"},
		{name: "unknown path", path: "/crm/v8/nope/a/b", auth: zohoAuth, status: 404, code: "INVALID_URL_PATTERN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireZohoError(t, h.zohoGet(t, tc.path, tc.auth, tc.header), tc.status, tc.code)
		})
	}

	// A page_token is bound to its query: another sort order is refused.
	r := h.zohoGet(t, list, zohoAuth, nil)
	require.Equal(t, 200, r.status)
	info := r.json(t)["info"].(map[string]any)
	require.Equal(t, true, info["more_records"])
	tok := info["next_page_token"].(string)
	requireZohoError(t, h.zohoGet(t, "/crm/v8/Contacts?fields=Email&sort_by=id&sort_order=desc&page_token="+tok, zohoAuth, nil),
		400, "TOKEN_BOUND_DATA_MISMATCH")
	r = h.zohoGet(t, list+"&page_token="+tok, zohoAuth, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, float64(2), r.json(t)["info"].(map[string]any)["page"])

	// Nothing modified since: 304 with no body.
	r = h.zohoGet(t, list, zohoAuth, map[string]string{"If-Modified-Since": "2030-01-01T00:00:00+00:00"})
	require.Equal(t, http.StatusNotModified, r.status)
	require.Empty(t, r.body)

	st := h.sim.Stats()
	require.Equal(t, 3, st.ByEndpoint["zoho list Contacts"][401])
	require.Equal(t, 1, st.ByEndpoint["zoho changes Contacts"][304])
}

func TestZohoPageTokensReachAHundredThousandRecords(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 700, Zoho: ZohoOptions{MaxPagedRecords: 450}})
	path := "/crm/v8/Contacts?fields=Email&sort_by=id&sort_order=asc&per_page=200"
	for range 2 {
		r := h.zohoGet(t, path, zohoAuth, nil)
		require.Equal(t, 200, r.status, "body: %s", r.body)
		path = "/crm/v8/Contacts?fields=Email&sort_by=id&sort_order=asc&per_page=200&page_token=" +
			r.json(t)["info"].(map[string]any)["next_page_token"].(string)
	}
	requireZohoError(t, h.zohoGet(t, path, zohoAuth, nil), 400, "PAGINATION_LIMIT_EXCEEDED")
}

func TestZohoFaultsAndTokenGrant(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 10, AccessTokenTTL: time.Minute})
	h.sim.InjectFault(Fault{Endpoint: "zoho users", Kind: Fault503})
	requireZohoError(t, h.zohoGet(t, "/crm/v8/users?type=AllUsers", zohoAuth, nil), 503, "INTERNAL_ERROR")
	r := h.zohoGet(t, "/crm/v8/users?type=AllUsers", zohoAuth, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.json(t)["users"], DefaultOwners)

	h.sim.InjectFault(Fault{Endpoint: "zoho fields", Kind: Fault429Daily})
	requireZohoError(t, h.zohoGet(t, "/crm/v8/settings/fields?module=Deals", zohoAuth, nil), 429, "LIMIT_REACHED")
	h.sim.InjectFault(Fault{Endpoint: "zoho fields", Kind: Fault429TenSecondly})
	requireZohoError(t, h.zohoGet(t, "/crm/v8/settings/fields?module=Deals", zohoAuth, nil), 429, "TOO_MANY_REQUESTS")
	require.Equal(t, 2, h.sim.Stats().RateLimited)

	// An access token from the grant works until it expires, then answers INVALID_TOKEN.
	resp, err := h.client.PostForm(h.srv.URL+"/oauth/v2/token", map[string][]string{"grant_type": {"refresh_token"},
		"refresh_token": {testToken}, "client_id": {"c"}, "client_secret": {"s"}})
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	grant := response{status: resp.StatusCode, body: b}.json(t)
	tok := grant["access_token"].(string)
	require.Equal(t, float64(60), grant["expires_in"])
	r = h.zohoGet(t, "/crm/v8/settings/layouts?module=Deals", "Zoho-oauthtoken "+tok, nil)
	require.Equal(t, 200, r.status)
	require.NotEmpty(t, r.header.Get("X-ACCESSTOKEN-RESET"))
	h.clock.Advance(time.Minute)
	body := requireZohoError(t, h.zohoGet(t, "/crm/v8/settings/layouts?module=Deals", "Zoho-oauthtoken "+tok, nil), 401, "INVALID_TOKEN")
	require.Equal(t, "invalid oauth token", body["message"])
	require.Equal(t, 1, h.sim.RefreshGrants())
}

func TestZohoSnapshotFollowsMutations(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 2, Contacts: 20, Companies: 5, Deals: 5})
	res, err := h.sim.Mutate(MutationSpec{Object: "deals", Archives: 1, Creates: 1})
	require.NoError(t, err)
	snap, err := h.sim.SnapshotFor(ProviderZoho, "deals")
	require.NoError(t, err)
	require.Len(t, snap, 6)
	gone, _ := ZohoID("deals", res.Archived[0])
	created, _ := ZohoID("deals", res.Created[0])
	for _, r := range snap {
		require.Len(t, r.ID, 19)
		require.Equal(t, time.Duration(0), r.UpdatedAt.Sub(r.UpdatedAt.Truncate(time.Second)), "whole seconds")
		switch r.ID {
		case gone:
			require.True(t, r.Archived)
			require.Empty(t, r.Properties)
		case created:
			require.NotEmpty(t, r.Properties["Deal_Name"])
		default:
			require.NotContains(t, r.Properties, "id")
			require.Contains(t, r.Properties, "Stage")
		}
	}
	r := h.zohoGet(t, "/crm/v8/Deals/deleted?type=all", zohoAuth, nil)
	require.Equal(t, 200, r.status)
	data := r.json(t)["data"].([]any)
	require.Len(t, data, 1)
	require.Equal(t, gone, data[0].(map[string]any)["id"])
}

func TestZohoOptionsValidate(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Tokens: []string{"t"}, Zoho: ZohoOptions{Concurrency: -1, DailyCredits: -2}})
	require.ErrorContains(t, err, "zoho concurrency")
	require.ErrorContains(t, err, "zoho daily credits")
}

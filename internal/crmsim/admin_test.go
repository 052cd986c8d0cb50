package crmsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatsEndpointKeys(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 51, Contacts: 20, Companies: 5, Deals: 5, Tokens: []string{testToken, "other-app"}})
	recs := snapshot(t, h.sim, Contacts)
	calls := []struct {
		method, path string
		body         any
		wantKey      string
		wantStatus   int
	}{
		{method: "GET", path: "/crm/v3/objects/contacts", wantKey: "list contacts", wantStatus: 200},
		{method: "GET", path: "/crm/v3/objects/deals?archived=true", wantKey: "list_archived deals", wantStatus: 200},
		{method: "GET", path: "/crm/v3/objects/contacts/" + recs[0].ID, wantKey: "get contacts", wantStatus: 200},
		{method: "POST", path: "/crm/v3/objects/companies/search", body: map[string]any{}, wantKey: "search companies", wantStatus: 200},
		{method: "POST", path: "/crm/v3/objects/contacts/batch/read", body: map[string]any{"inputs": []map[string]string{{"id": recs[1].ID}}},
			wantKey: "batch_read contacts", wantStatus: 200},
		{method: "GET", path: "/crm/v3/owners", wantKey: "owners", wantStatus: 200},
		{method: "GET", path: "/crm/v3/pipelines/deals", wantKey: "pipelines deals", wantStatus: 200},
		{method: "GET", path: "/crm/v3/properties/contacts", wantKey: "properties contacts", wantStatus: 200},
		{method: "GET", path: "/account-info/v3/api-usage/daily/private-apps", wantKey: "usage", wantStatus: 200},
		{method: "GET", path: "/crm/v3/objects/tickets", wantKey: "list invalid", wantStatus: 400},
		{method: "DELETE", path: "/crm/v3/objects/contacts/1", wantKey: "unknown", wantStatus: 404},
	}
	for _, c := range calls {
		r := h.call(t, c.method, c.path, testToken, c.body)
		require.Equal(t, c.wantStatus, r.status, "%s %s: %s", c.method, c.path, r.body)
	}
	h.clock.Advance(time.Second)
	h.call(t, http.MethodGet, "/crm/v3/properties/deals", "other-app", nil)

	st := h.sim.Stats()
	require.Equal(t, len(calls)+1, st.Total)
	for _, c := range calls {
		require.Equal(t, 1, st.ByEndpoint[c.wantKey][c.wantStatus], c.wantKey)
	}
	require.Equal(t, 1, st.Calls("properties deals"))
	require.Equal(t, map[string]int{"token#1": len(calls) - 1, "token#2": 1}, st.Peak10s, "search is not in the ten-second peak")
	require.Len(t, st.PerSecond, 2)
	require.Equal(t, len(calls), st.PerSecond[0].Requests)
	require.Equal(t, 1, st.PerSecond[1].Requests)
	require.Equal(t, st.PerSecond[0].Unix+1, st.PerSecond[1].Unix)

	h.sim.ResetStats()
	st = h.sim.Stats()
	require.Zero(t, st.Total)
	require.Empty(t, st.ByEndpoint)
	require.Empty(t, st.PerSecond)
	require.Equal(t, map[string]int{"token#1": 0, "token#2": 0}, st.Peak10s)
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 52, Contacts: 20, Companies: 5, TenSecondLimit: 1})
	admin := func(method, path, body string) response {
		req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := h.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b json.RawMessage
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	require.Equal(t, http.StatusOK, h.get(t, listPath).status)

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		check      func(t *testing.T, r response)
	}{
		{name: "healthz", method: "GET", path: "/_sim/healthz", wantStatus: 200},
		{name: "stats", method: "GET", path: "/_sim/stats", wantStatus: 200, check: func(t *testing.T, r response) {
			var st Stats
			require.NoError(t, json.Unmarshal(r.body, &st))
			require.Equal(t, 1, st.Total)
			require.Equal(t, 1, st.ByEndpoint["list contacts"][200])
			require.NotContains(t, string(r.body), testToken)
			require.Contains(t, string(r.body), `"token#1"`)
		}},
		{name: "snapshot", method: "GET", path: "/_sim/snapshot?object=contacts", wantStatus: 200, check: func(t *testing.T, r response) {
			var snap struct{ Results []Record }
			require.NoError(t, json.Unmarshal(r.body, &snap))
			require.Equal(t, snapshot(t, h.sim, Contacts)[0], snap.Results[0])
			// The 15 core properties, empty or not, and the wide ones that hold a value.
			props := snap.Results[0].Properties
			require.Greater(t, len(props), 15, "the wide properties that hold a value")
			for _, name := range []string{"email", "firstname", "lastname", "hs_lead_status", "lastmodifieddate", "hs_object_id"} {
				require.Contains(t, props, name)
			}
			for name, v := range props {
				require.True(t, v != "" || len(name) > 0 && h.sim.objects[contactsKind].typ.index[name] < h.sim.objects[contactsKind].typ.ncore,
					"%s: only core properties appear empty", name)
			}
		}},
		{name: "snapshot unknown object", method: "GET", path: "/_sim/snapshot?object=tickets", wantStatus: 400},
		{name: "mutate", method: "POST", path: "/_sim/mutate", body: `{"object":"companies","updates":2,"sameTimestamp":true}`,
			wantStatus: 200, check: func(t *testing.T, r response) {
				var res MutationResult
				require.NoError(t, json.Unmarshal(r.body, &res))
				require.Len(t, res.Updated, 2)
				require.Len(t, res.ByObject[Companies].Updated, 2)
			}},
		{name: "mutate bad spec", method: "POST", path: "/_sim/mutate", body: `{"object":"tickets"}`, wantStatus: 400},
		{name: "fault bad kind", method: "POST", path: "/_sim/faults", body: `{"kind":"explode"}`, wantStatus: 400},
		{name: "unknown admin route", method: "GET", path: "/_sim/nothing", wantStatus: 404},
	}
	for _, tc := range tests {
		// Not parallel: the stats case expects exactly the one list call made above.
		t.Run(tc.name, func(t *testing.T) {
			r := admin(tc.method, tc.path, tc.body)
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	// A fault injected over HTTP hits the next API call; admin calls were never counted
	// or limited (the ten-second limit of 1 was used by the first list call).
	require.Equal(t, http.StatusOK, admin("POST", "/_sim/faults", `{"endpoint":"owners","kind":"503"}`).status)
	h.clock.Advance(10 * time.Second)
	require.Equal(t, http.StatusServiceUnavailable, h.get(t, "/crm/v3/owners").status)
	require.Equal(t, 2, h.sim.Stats().Total)

	require.Equal(t, http.StatusOK, admin("POST", "/_sim/stats/reset", "").status)
	require.Zero(t, h.sim.Stats().Total)
}

func TestReferenceData(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 53, Contacts: 5, Companies: 5, Deals: 5})

	// Owners page like objects do and carry the PublicOwner fields.
	var owners []map[string]any
	path := "/crm/v3/owners?limit=10"
	for pages := 1; ; pages++ {
		r := h.get(t, path)
		require.Equal(t, http.StatusOK, r.status)
		body := r.json(t)
		for _, o := range body["results"].([]any) {
			owners = append(owners, o.(map[string]any))
		}
		next, ok := body["paging"].(map[string]any)
		if !ok {
			require.Equal(t, 3, pages)
			break
		}
		path = "/crm/v3/owners?limit=10&after=" + next["next"].(map[string]any)["after"].(string)
	}
	require.Len(t, owners, 25)
	for _, o := range owners {
		for _, k := range []string{"id", "email", "firstName", "lastName", "userId", "createdAt", "updatedAt", "archived", "teams"} {
			require.Contains(t, o, k)
		}
	}
	ownerIDs := map[string]bool{}
	for _, o := range owners {
		ownerIDs[o["id"].(string)] = true
	}
	for _, r := range snapshot(t, h.sim, Deals) {
		if id := r.Properties["hubspot_owner_id"]; id != "" {
			require.True(t, ownerIDs[id], "deal owner %s exists", id)
		}
	}

	r := h.get(t, "/crm/v3/pipelines/deals")
	require.Equal(t, http.StatusOK, r.status)
	pipes := r.json(t)
	require.NotContains(t, pipes, "paging")
	require.Len(t, pipes["results"], 2)
	stages := map[string]bool{}
	for _, p := range pipes["results"].([]any) {
		for _, st := range p.(map[string]any)["stages"].([]any) {
			meta := st.(map[string]any)["metadata"].(map[string]any)
			require.IsType(t, "", meta["isClosed"])
			require.IsType(t, "", meta["probability"])
			stages[st.(map[string]any)["id"].(string)] = true
		}
	}
	for _, d := range snapshot(t, h.sim, Deals) {
		require.True(t, stages[d.Properties["dealstage"]])
	}

	for _, obj := range Objects() {
		r := h.get(t, "/crm/v3/properties/"+obj)
		require.Equal(t, http.StatusOK, r.status)
		names := map[string]bool{}
		for _, p := range r.json(t)["results"].([]any) {
			pm := p.(map[string]any)
			for _, k := range []string{"name", "label", "type", "fieldType", "groupName", "options"} {
				require.Contains(t, pm, k)
			}
			names[pm["name"].(string)] = true
		}
		for k := range snapshot(t, h.sim, obj)[0].Properties {
			require.True(t, names[k], "%s property %s is defined", obj, k)
		}
	}
	require.Equal(t, http.StatusBadRequest, h.get(t, "/crm/v3/pipelines/contacts").status)
}

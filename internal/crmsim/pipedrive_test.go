package crmsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pdGet sends a GET with the API token in x-api-token, as Pipedrive's SDK does.
func (h *harness) pdGet(t *testing.T, path, apiToken string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+path, nil)
	require.NoError(t, err)
	if apiToken != "" {
		req.Header.Set("x-api-token", apiToken)
	}
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// pdPage decodes a v2 list response.
type pdPage struct {
	Success        bool              `json:"success"`
	Data           []json.RawMessage `json:"data"`
	AdditionalData struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"additional_data"`
}

func decodePDPage(t *testing.T, r response) pdPage {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var p pdPage
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.True(t, p.Success)
	return p
}

// requirePDError checks Pipedrive's error shape.
func requirePDError(t *testing.T, r response, status int, message string) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	m := r.json(t)
	require.Equal(t, false, m["success"])
	if message != "" {
		require.Equal(t, message, m["error"])
	}
}

var wholeSecond = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestPipedriveRendersIntegerIDsAndWholeSeconds(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 30, Companies: 10, Deals: 20})
	for _, entity := range []string{"persons", "organizations", "deals"} {
		p := decodePDPage(t, h.pdGet(t, "/api/v2/"+entity+"?limit=5", testToken))
		require.Len(t, p.Data, 5)
		require.NotNil(t, p.AdditionalData.NextCursor)
		for _, raw := range p.Data {
			var item map[string]any
			require.NoError(t, json.Unmarshal(raw, &item))
			id, ok := item["id"].(float64)
			require.True(t, ok, "%s id is a number: %s", entity, raw)
			require.Equal(t, float64(int64(id)), id)
			require.Regexp(t, wholeSecond, item["update_time"])
			require.Regexp(t, wholeSecond, item["add_time"])
			require.Equal(t, false, item["is_deleted"])
			require.IsType(t, map[string]any{}, item["custom_fields"])
		}
	}
	var person pdPerson
	p := decodePDPage(t, h.get(t, "/api/v2/persons?limit=1"))
	require.NoError(t, json.Unmarshal(p.Data[0], &person))
	require.NotEmpty(t, person.Name)
	require.NotEmpty(t, person.Emails)
	require.True(t, person.Emails[0].Primary)
}

func TestPipedriveListWalksTiesByCursorOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 4, Contacts: 2000})
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 300, SameTimestamp: true})
	since := url.QueryEscape(res.At.Truncate(time.Second).Format(time.RFC3339))
	seen := map[int64]bool{}
	var lastTime string
	inIDOrder := true
	var prevID int64
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		path := "/api/v2/persons?limit=100&sort_by=update_time&updated_since=" + since
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		p := decodePDPage(t, h.pdGet(t, path, testToken))
		for _, raw := range p.Data {
			var item struct {
				ID         int64  `json:"id"`
				UpdateTime string `json:"update_time"`
			}
			require.NoError(t, json.Unmarshal(raw, &item))
			require.False(t, seen[item.ID], "person %d twice", item.ID)
			seen[item.ID] = true
			require.GreaterOrEqual(t, item.UpdateTime, lastTime)
			lastTime = item.UpdateTime
			inIDOrder = inIDOrder && item.ID > prevID
			prevID = item.ID
		}
		if p.AdditionalData.NextCursor == nil {
			break
		}
		cursor = url.QueryEscape(*p.AdditionalData.NextCursor)
	}
	require.Len(t, seen, 300)
	require.False(t, inIDOrder, "records sharing a second do not come in id order")

	// ids and updated_until narrow the listing; status=deleted lists deleted deals only.
	p := decodePDPage(t, h.pdGet(t, "/api/v2/persons?ids="+res.Updated[0]+","+res.Updated[1]+",999999", testToken))
	require.Len(t, p.Data, 2)
	p = decodePDPage(t, h.pdGet(t, "/api/v2/persons?updated_until="+since, testToken))
	require.Len(t, p.Data, 100)
}

func TestPipedriveRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Deals: 5})
	hundredOne := strings.Repeat("1,", 100) + "1"
	for _, q := range []string{
		"limit=501", "limit=0", "sort_by=name", "sort_direction=up",
		"updated_since=2026-01-01T00:00:00.500Z", "updated_since=yesterday",
		"ids=" + hundredOne, "ids=a", "cursor=not-a-cursor",
	} {
		requirePDError(t, h.pdGet(t, "/api/v2/persons?"+q, testToken), http.StatusBadRequest, "")
	}
	requirePDError(t, h.pdGet(t, "/api/v2/deals?status=maybe", testToken), http.StatusBadRequest, "")
	requirePDError(t, h.pdGet(t, "/api/v2/leads", testToken), http.StatusNotFound, "")
	// A cursor only continues the listing it came from.
	p := decodePDPage(t, h.pdGet(t, "/api/v2/persons?limit=2", testToken))
	requirePDError(t, h.pdGet(t, "/api/v2/persons?sort_by=update_time&cursor="+*p.AdditionalData.NextCursor, testToken), http.StatusBadRequest, "")
}

func TestPipedriveAuthentication(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, AccessTokenTTL: time.Minute})
	requirePDError(t, h.pdGet(t, "/api/v2/persons", ""), http.StatusUnauthorized, "unauthorized access")
	requirePDError(t, h.pdGet(t, "/api/v2/persons", "wrong"), http.StatusUnauthorized, "unauthorized access")
	decodePDPage(t, h.pdGet(t, "/api/v2/persons?api_token="+testToken, ""))
	decodePDPage(t, h.get(t, "/api/v2/persons"))

	tok := pdRefresh(t, h, testToken, http.StatusOK)
	decodePDPage(t, h.call(t, http.MethodGet, "/api/v2/persons", tok["access_token"].(string), nil))
	h.clock.Advance(time.Minute)
	r := h.call(t, http.MethodGet, "/api/v2/persons", tok["access_token"].(string), nil)
	requirePDError(t, r, http.StatusUnauthorized, "Unauthorized: access token has expired")
	st := h.sim.Stats()
	require.Equal(t, 3, st.ByEndpoint["pipedrive list persons"][http.StatusUnauthorized])
	require.Equal(t, 1, st.Calls("pipedrive oauth token"))
}

// pdRefresh runs the refresh grant.
func pdRefresh(t *testing.T, h *harness, refresh string, status int) map[string]any {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.SetBasicAuth("id", "secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "body: %s", b)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestPipedriveTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5})
	tok := pdRefresh(t, h, testToken, http.StatusOK)
	require.Equal(t, "Bearer", tok["token_type"])
	require.Equal(t, testToken, tok["refresh_token"], "the refresh token comes back unchanged")
	require.InDelta(t, 3599, tok["expires_in"], 0)
	require.Equal(t, h.srv.URL, tok["api_domain"])
	require.NotEmpty(t, tok["access_token"])

	bad := pdRefresh(t, h, "nope", http.StatusBadRequest)
	require.Equal(t, false, bad["success"])
	require.Equal(t, "Invalid grant: refresh token is invalid", bad["error"])

	// Without the client's HTTP Basic credentials there is no grant.
	r := h.call(t, http.MethodPost, "/oauth/token", "", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, 1, h.sim.RefreshGrants())
}

func TestPipedriveBurstWindowAndHeaders(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Tokens: []string{testToken, "other"},
		Pipedrive: PipedriveOptions{BurstLimit: 2, DailyTokens: 1000, RetryAfter: true}})
	r := h.pdGet(t, "/api/v2/persons", testToken)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 2, headerInt(t, r, "x-ratelimit-limit"))
	require.Equal(t, 1, headerInt(t, r, "x-ratelimit-remaining"))
	require.Equal(t, 2, headerInt(t, r, "x-ratelimit-reset"))
	require.Equal(t, 980, headerInt(t, r, "x-daily-ratelimit-token-remaining"))
	require.Equal(t, pipedriveRequestsLeft, headerInt(t, r, "x-daily-requests-left"))
	date, err := http.ParseTime(r.header.Get("Date"))
	require.NoError(t, err)
	require.Equal(t, h.clock.Now(), date, "the Date header is the sim's clock")

	h.clock.Advance(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, h.pdGet(t, "/v1/users", testToken).status)
	r = h.pdGet(t, "/api/v2/stages", testToken)
	requirePDError(t, r, http.StatusTooManyRequests, "Request over limit")
	require.Equal(t, float64(429), r.json(t)["errorCode"])
	require.Equal(t, "2", r.header.Get("Retry-After"), "1.5 s, rounded up")
	require.Equal(t, 2, headerInt(t, r, "x-ratelimit-reset"))
	require.Equal(t, 0, headerInt(t, r, "x-ratelimit-remaining"))
	require.Equal(t, 960, headerInt(t, r, "x-daily-ratelimit-token-remaining"), "a rejected call costs no tokens")

	// The window is per token; the daily budget is the company's.
	r = h.pdGet(t, "/api/v2/pipelines", "other")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 940, headerInt(t, r, "x-daily-ratelimit-token-remaining"))

	h.clock.Advance(time.Second)
	// Early (told to wait 1.5 s), and counted in the window like every arrival.
	requirePDError(t, h.pdGet(t, "/api/v2/persons", testToken), http.StatusTooManyRequests, "")
	h.clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, h.pdGet(t, "/api/v2/personFields", testToken).status)
	st := h.sim.Stats()
	require.Equal(t, 1, st.Early)
	require.Equal(t, 2, st.RateLimited)
	require.Equal(t, 1, st.Calls("pipedrive users"))
	require.Equal(t, 1, st.Calls("pipedrive stages"))
	require.Equal(t, 1, st.Calls("pipedrive fields persons"))
}

func TestPipedriveDailyTokens(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, DayLength: time.Hour,
		Pipedrive: PipedriveOptions{DailyTokens: 50, ListCost: 20}})
	for range 2 {
		require.Equal(t, http.StatusOK, h.pdGet(t, "/api/v2/persons", testToken).status)
	}
	r := h.pdGet(t, "/api/v2/persons", testToken)
	requirePDError(t, r, http.StatusTooManyRequests, "Daily API token budget exceeded")
	require.Equal(t, 10, headerInt(t, r, "x-daily-ratelimit-token-remaining"))
	require.Empty(t, r.header.Get("Retry-After"), "off by default: UNCONFIRMED")
	h.clock.Advance(time.Hour)
	r = h.pdGet(t, "/api/v2/persons", testToken)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 30, headerInt(t, r, "x-daily-ratelimit-token-remaining"))
}

func TestPipedriveFaults(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Deals: 5})
	h.sim.InjectFault(Fault{Endpoint: "pipedrive list deals", Kind: Fault502HTML})
	h.sim.InjectFault(Fault{Endpoint: "pipedrive list_deleted deals", Kind: Fault429Daily})
	h.sim.InjectFault(Fault{Endpoint: "pipedrive users", Kind: FaultTruncatedJSON})
	r := h.pdGet(t, "/api/v2/deals", testToken)
	require.Equal(t, http.StatusBadGateway, r.status)
	require.Contains(t, string(r.body), "<title>502 Bad Gateway</title>")
	requirePDError(t, h.pdGet(t, "/api/v2/deals?status=deleted", testToken), http.StatusTooManyRequests, "Daily API token budget exceeded")
	r = h.pdGet(t, "/v1/users", testToken)
	require.Equal(t, http.StatusOK, r.status)
	require.Error(t, json.Unmarshal(r.body, new(any)))
	decodePDPage(t, h.pdGet(t, "/api/v2/deals", testToken))
}

func TestPipedriveSnapshotMatchesTheAPI(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 2, Contacts: 40, Companies: 10, Deals: 30})
	mutate(t, h.sim, MutationSpec{Object: Deals, Archives: 2})
	truth, err := h.sim.SnapshotFor(ProviderPipedrive, Deals)
	require.NoError(t, err)
	byID := map[string]Record{}
	for _, r := range truth {
		byID[r.ID] = r
	}
	for _, q := range []string{"limit=500", "limit=500&status=deleted"} {
		p := decodePDPage(t, h.pdGet(t, "/api/v2/deals?"+q, testToken))
		for _, raw := range p.Data {
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &fields))
			id := string(fields["id"])
			tr, ok := byID[id]
			require.True(t, ok)
			delete(fields, "id")
			require.Len(t, tr.Properties, len(fields))
			for k, v := range fields {
				require.Equal(t, snapshotValue(v), tr.Properties[k], "deal %s field %s", id, k)
			}
			require.Equal(t, tr.Archived, tr.Properties["status"] == "deleted")
			require.Equal(t, strconv.FormatBool(tr.Archived), tr.Properties["is_deleted"])
		}
	}
}

func TestPipedriveOptionsValidate(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Tokens: []string{"t"}, Pipedrive: PipedriveOptions{BurstLimit: -1, DailyTokens: -5}})
	require.ErrorContains(t, err, "pipedrive burst limit must not be negative")
	require.ErrorContains(t, err, "pipedrive daily tokens must not be negative")
}

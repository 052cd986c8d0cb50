package crmsim

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	listPath   = "/crm/v3/objects/contacts?limit=1"
	searchPath = "/crm/v3/objects/contacts/search"
)

func requireRateLimitBody(t *testing.T, r response, policy, message string) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.status, "body: %s", r.body)
	body := r.json(t)
	require.Len(t, body, 6, "exactly HubSpot's 429 fields: %v", body)
	require.Equal(t, "error", body["status"])
	require.Equal(t, message, body["message"])
	require.Equal(t, "RATE_LIMIT", body["errorType"])
	require.Equal(t, policy, body["policyName"])
	require.Equal(t, r.header.Get("X-HubSpot-Correlation-Id"), body["correlationId"])
	require.NotEmpty(t, body["requestId"])
}

func headerInt(t *testing.T, r response, name string) int {
	t.Helper()
	v := r.header.Get(name)
	require.NotEmpty(t, v, "header %s", name)
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	return n
}

func TestTenSecondlyLimitAtTheBoundary(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5})
	for i := range 100 {
		r := h.get(t, listPath)
		require.Equal(t, http.StatusOK, r.status, "request %d", i+1)
		require.Equal(t, 100, headerInt(t, r, "X-HubSpot-RateLimit-Max"))
		require.Equal(t, 99-i, headerInt(t, r, "X-HubSpot-RateLimit-Remaining"))
		require.Equal(t, 10000, headerInt(t, r, "X-HubSpot-RateLimit-Interval-Milliseconds"))
		require.Equal(t, 250000, headerInt(t, r, "X-HubSpot-RateLimit-Daily"))
		require.Equal(t, 250000-(i+1), headerInt(t, r, "X-HubSpot-RateLimit-Daily-Remaining"))
		require.Equal(t, 10, headerInt(t, r, "X-HubSpot-RateLimit-Secondly"))
		require.Equal(t, max(0, 10-(i+1)), headerInt(t, r, "X-HubSpot-RateLimit-Secondly-Remaining"))
	}
	r := h.get(t, listPath)
	requireRateLimitBody(t, r, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
	require.Equal(t, 0, headerInt(t, r, "X-HubSpot-RateLimit-Remaining"))
	require.Equal(t, 250000-101, headerInt(t, r, "X-HubSpot-RateLimit-Daily-Remaining"))
	require.Empty(t, r.header.Get("Retry-After"), "off by default")

	h.clock.Advance(10*time.Second - time.Millisecond)
	r = h.get(t, listPath)
	require.Equal(t, http.StatusTooManyRequests, r.status, "the first 100 are still in the window")

	h.clock.Advance(time.Millisecond)
	r = h.get(t, listPath)
	require.Equal(t, http.StatusOK, r.status, "the window slid past the first 101")
	require.Equal(t, 98, headerInt(t, r, "X-HubSpot-RateLimit-Remaining"), "the rejected request at 9.999 s still counts")

	st := h.sim.Stats()
	require.Equal(t, 2, st.RateLimited)
	require.Equal(t, 102, st.Peak10s["token#1"])
	require.Equal(t, 101, st.ByEndpoint["list contacts"][http.StatusOK])
	require.Equal(t, 2, st.ByEndpoint["list contacts"][http.StatusTooManyRequests])
}

func TestRejectedRequestsCountInTheWindow(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 10})
	for range 10 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	}
	h.clock.Advance(5 * time.Second)
	for range 5 {
		require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
	}
	// The ten accepted requests leave the window; the five rejected ones stay.
	h.clock.Advance(5 * time.Second)
	for i := range 5 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status, "request %d", i+1)
	}
	require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
}

func TestTenSecondlyLimitIsPerToken(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 3, Tokens: []string{testToken, "second-app"}})
	for range 3 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	}
	require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
	r := h.call(t, http.MethodGet, listPath, "second-app", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 2, headerInt(t, r, "X-HubSpot-RateLimit-Remaining"))
	require.Equal(t, 250000-5, headerInt(t, r, "X-HubSpot-RateLimit-Daily-Remaining"), "the daily limit is per account")
	st := h.sim.Stats()
	require.Equal(t, map[string]int{"token#1": 4, "token#2": 1}, st.Peak10s)
}

func TestEarlyCallsAreCounted(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 5})
	for range 5 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	}
	require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
	require.Zero(t, h.sim.Stats().Early, "a 429 itself is not early")

	h.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
	require.Equal(t, 1, h.sim.Stats().Early, "arrived 5 s before the told instant")

	// Search is not subject to the ten-secondly limit, so calling it is not early.
	require.Equal(t, http.StatusOK, h.post(t, searchPath, map[string]any{}).status)
	require.Equal(t, 1, h.sim.Stats().Early)

	h.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	require.Equal(t, 1, h.sim.Stats().Early, "arrived exactly at the told instant")
}

func TestSearchSecondlyLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 3})
	for i := range 5 {
		r := h.post(t, searchPath, map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "search %d", i+1)
		require.Empty(t, r.header.Get("X-HubSpot-RateLimit-Remaining"))
	}
	// Searches do not use the ten-secondly bucket.
	for range 3 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	}
	r := h.post(t, searchPath, map[string]any{})
	requireRateLimitBody(t, r, "SECONDLY", "You have reached your secondly limit.")
	require.Empty(t, r.header.Get("X-HubSpot-RateLimit-Max"), "no rate-limit headers on search, even on 429")
	require.NotEmpty(t, r.header.Get("X-HubSpot-Correlation-Id"))

	h.clock.Advance(999 * time.Millisecond)
	require.Equal(t, http.StatusTooManyRequests, h.post(t, searchPath, map[string]any{}).status)
	require.Equal(t, 1, h.sim.Stats().Early)
	h.clock.Advance(time.Millisecond)
	require.Equal(t, http.StatusOK, h.post(t, searchPath, map[string]any{}).status)
	st := h.sim.Stats()
	require.Equal(t, 3, st.Peak10s["token#1"], "searches are not in the ten-second peak")
	require.Equal(t, 2, st.RateLimited)
}

func TestDailyLimitAndReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dayLength time.Duration
		start     time.Time
		untilNext time.Duration
	}{
		{name: "configured day length", dayLength: time.Hour, start: time.Date(2026, 3, 1, 10, 17, 0, 0, time.UTC), untilNext: time.Hour},
		{name: "midnight UTC", start: time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), untilNext: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: tc.start}
			h := setup(t, Options{Contacts: 5, DailyLimit: 5, DayLength: tc.dayLength, Now: clock.Now})
			h.clock = clock

			u := h.get(t, "/account-info/v3/api-usage/daily/private-apps")
			require.Equal(t, http.StatusOK, u.status)
			usage := u.json(t)["results"].([]any)[0].(map[string]any)
			require.Equal(t, "private-apps-api-calls-daily", usage["name"])
			require.EqualValues(t, 1, usage["currentUsage"])
			require.EqualValues(t, 5, usage["usageLimit"])
			require.Equal(t, tc.start.Add(tc.untilNext).Format(time.RFC3339), usage["resetsAt"])

			require.Equal(t, http.StatusOK, h.get(t, listPath).status)
			require.Equal(t, http.StatusOK, h.post(t, searchPath, map[string]any{}).status)
			require.Equal(t, http.StatusOK, h.post(t, searchPath, map[string]any{}).status)
			r := h.get(t, listPath)
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, 0, headerInt(t, r, "X-HubSpot-RateLimit-Daily-Remaining"))

			requireRateLimitBody(t, h.get(t, listPath), "DAILY", "You have reached your daily limit.")
			requireRateLimitBody(t, h.post(t, searchPath, map[string]any{}), "DAILY", "You have reached your daily limit.")
			require.Equal(t, 1, h.sim.Stats().Early, "the search came after the list call was told to wait for the reset")

			clock.Advance(tc.untilNext - time.Millisecond)
			require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
			require.Equal(t, 2, h.sim.Stats().Early, "retried before the reset")
			clock.Advance(time.Millisecond)
			r = h.get(t, listPath)
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, 4, headerInt(t, r, "X-HubSpot-RateLimit-Daily-Remaining"))
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter bool
		search     bool
		limit      int
		advance    []time.Duration // before each extra (rejected) request
		want       []string
	}{
		{name: "off", limit: 2, advance: []time.Duration{0}, want: []string{""}},
		{name: "ten-secondly", retryAfter: true, limit: 2,
			advance: []time.Duration{0, 500 * time.Millisecond, 8700 * time.Millisecond},
			want:    []string{"10", "10", "2"}},
		{name: "search", retryAfter: true, search: true, limit: 2,
			advance: []time.Duration{0, 200 * time.Millisecond}, want: []string{"1", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, Options{Contacts: 5, TenSecondLimit: tc.limit, SearchPerSecond: tc.limit, RetryAfter: tc.retryAfter})
			send := func() response {
				if tc.search {
					return h.post(t, searchPath, map[string]any{})
				}
				return h.get(t, listPath)
			}
			for range tc.limit {
				require.Equal(t, http.StatusOK, send().status)
			}
			for i, d := range tc.advance {
				h.clock.Advance(d)
				r := send()
				require.Equal(t, http.StatusTooManyRequests, r.status)
				require.Equal(t, tc.want[i], r.header.Get("Retry-After"), "rejection %d", i+1)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, DailyLimit: 10})
	tests := []struct {
		name   string
		header string
	}{
		{name: "missing", header: ""},
		{name: "wrong token", header: "Bearer nope"},
		{name: "wrong scheme", header: "Basic " + testToken},
	}
	for _, tc := range tests {
		// Not parallel: the stats assertions below count these calls.
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+listPath, nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := h.client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Empty(t, resp.Header.Get("X-HubSpot-RateLimit-Max"))
			require.NotEmpty(t, resp.Header.Get("X-HubSpot-Correlation-Id"))
		})
	}
	r := h.call(t, http.MethodGet, listPath, "", nil)
	body := r.json(t)
	require.Equal(t, "INVALID_AUTHENTICATION", body["category"])
	require.Equal(t, "error", body["status"])
	require.Contains(t, body["message"], "Authentication credentials not found")

	ok := h.get(t, listPath)
	require.Equal(t, 9, headerInt(t, ok, "X-HubSpot-RateLimit-Daily-Remaining"), "unauthenticated calls use no quota")
	st := h.sim.Stats()
	require.Equal(t, 5, st.Total)
	require.Equal(t, 4, st.ByEndpoint["list contacts"][http.StatusUnauthorized])
}

func TestStatsSplitByClient(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 3})
	as := func(ua string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+listPath, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		resp, err := h.client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return response{status: resp.StatusCode, header: resp.Header}
	}
	require.Equal(t, http.StatusOK, as("crmsync/0.1 (+https://example.test)").status)
	require.Equal(t, http.StatusOK, as("crmsync/0.1").status)
	require.Equal(t, http.StatusOK, as("other-app/2").status)
	// The window is full: the other app is told to wait, crmsync is not.
	require.Equal(t, http.StatusTooManyRequests, as("other-app/2").status)
	h.clock.Advance(time.Second)
	// crmsync was never told, so its call is not early; other-app's retry is.
	require.Equal(t, http.StatusTooManyRequests, as("crmsync/0.1").status)
	require.Equal(t, http.StatusTooManyRequests, as("other-app/2").status)

	st := h.sim.Stats()
	require.Equal(t, map[string]ClientStats{
		"crmsync":   {Calls: 3, RateLimited: 1, Early: 0},
		"other-app": {Calls: 3, RateLimited: 2, Early: 1},
	}, st.ByClient)
	require.Equal(t, 2, st.Early, "per token, crmsync's call came while a wait was told too")
}

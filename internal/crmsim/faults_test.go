package crmsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, r response)
	}{
		{name: "500", fault: Fault{Kind: Fault500}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusInternalServerError, r.status)
			require.Equal(t, "error", r.json(t)["status"])
		}},
		{name: "503", fault: Fault{Kind: Fault503}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusServiceUnavailable, r.status)
			require.NotEmpty(t, r.json(t)["message"])
		}},
		{name: "502 html", fault: Fault{Kind: Fault502HTML}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusBadGateway, r.status)
			require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/html"))
			require.Contains(t, string(r.body), "502 Bad Gateway")
			require.False(t, json.Valid(r.body))
		}},
		{name: "truncated json", fault: Fault{Kind: FaultTruncatedJSON}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusOK, r.status)
			require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/json"))
			require.True(t, strings.HasPrefix(string(r.body), `{"results":[`))
			require.False(t, json.Valid(r.body))
		}},
		{name: "malformed json", fault: Fault{Kind: FaultMalformedJSON}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusOK, r.status)
			require.False(t, json.Valid(r.body))
		}},
		{name: "429 ten-secondly", fault: Fault{Kind: Fault429TenSecondly}, check: func(t *testing.T, r response) {
			requireRateLimitBody(t, r, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
			require.Equal(t, "1", r.header.Get("Retry-After"))
		}},
		{name: "429 daily", fault: Fault{Kind: Fault429Daily}, check: func(t *testing.T, r response) {
			requireRateLimitBody(t, r, "DAILY", "You have reached your daily limit.")
			require.Equal(t, "54000", r.header.Get("Retry-After"), "until midnight UTC")
		}},
		{name: "401", fault: Fault{Kind: Fault401}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusUnauthorized, r.status)
			require.Equal(t, "INVALID_AUTHENTICATION", r.json(t)["category"])
		}},
		{name: "latency", fault: Fault{Kind: FaultLatency, Latency: 30 * time.Millisecond}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusOK, r.status)
		}},
		{name: "unknown kind fails loudly", fault: Fault{Kind: "bogus"}, check: func(t *testing.T, r response) {
			require.Equal(t, http.StatusInternalServerError, r.status)
			require.Contains(t, r.json(t)["message"], "bogus")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, Options{Seed: 41, Contacts: 30, RetryAfter: true})
			tc.fault.Endpoint = "list contacts"
			h.sim.InjectFault(tc.fault)

			other := h.get(t, "/crm/v3/objects/companies")
			require.Equal(t, http.StatusOK, other.status, "faults only hit their endpoint")

			start := time.Now()
			r := h.get(t, "/crm/v3/objects/contacts?limit=5")
			if tc.fault.Latency > 0 {
				require.GreaterOrEqual(t, time.Since(start), tc.fault.Latency)
			}
			tc.check(t, r)
			require.NotEmpty(t, r.header.Get("X-HubSpot-Correlation-Id"))

			next := h.get(t, "/crm/v3/objects/contacts?limit=5")
			require.Equal(t, http.StatusOK, next.status, "the fault is used up")
			require.True(t, json.Valid(next.body))
			st := h.sim.Stats()
			require.Equal(t, 3, st.Total, "faulted requests are counted")
			require.Equal(t, 2, st.Calls("list contacts"))
		})
	}
}

func TestFaultReset(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 42, Contacts: 30})
	h.sim.InjectFault(Fault{Kind: FaultReset, Count: 2})
	for range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+"/crm/v3/objects/contacts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := h.client.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		require.Error(t, err, "the connection is cut mid-body")
	}
	require.Equal(t, http.StatusOK, h.get(t, "/crm/v3/objects/contacts").status)
	require.Equal(t, 2, h.sim.Stats().ByEndpoint["list contacts"][0], "resets are recorded as status 0")
}

func TestFaultsTakePrecedenceAndCount(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, TenSecondLimit: 2})
	for range 2 {
		require.Equal(t, http.StatusOK, h.get(t, listPath).status)
	}
	h.sim.InjectFault(Fault{Kind: Fault500, Endpoint: "search contacts"})
	h.sim.InjectFault(Fault{Kind: Fault503, Count: 2})
	// The window is full, but the queued fault answers first, and still uses quota.
	r := h.get(t, listPath)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, 0, headerInt(t, r, "X-HubSpot-RateLimit-Remaining"))
	require.Equal(t, http.StatusInternalServerError, h.post(t, searchPath, map[string]any{}).status,
		"the first queued fault that matches wins")
	require.Equal(t, http.StatusServiceUnavailable, h.get(t, listPath).status)
	require.Equal(t, http.StatusTooManyRequests, h.get(t, listPath).status)
}

func TestFaultJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Fault
		wantErr bool
	}{
		{name: "duration string", in: `{"kind":"latency","latency":"250ms","count":3}`,
			want: Fault{Kind: FaultLatency, Latency: 250 * time.Millisecond, Count: 3}},
		{name: "nanoseconds", in: `{"endpoint":"owners","kind":"latency","latency":1000}`,
			want: Fault{Endpoint: "owners", Kind: FaultLatency, Latency: time.Microsecond}},
		{name: "no latency", in: `{"kind":"500"}`, want: Fault{Kind: Fault500}},
		{name: "bad duration", in: `{"kind":"latency","latency":"soon"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got Fault
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.NoError(t, got.Validate())
		})
	}
}

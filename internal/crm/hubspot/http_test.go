package hubspot_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
)

// canned serves one fixed response and records the request it got.
func canned(t *testing.T, status int, contentType, body string, headers map[string]string) (*hubspot.Client, *http.Request) {
	t.Helper()
	var got http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = *r.Clone(r.Context())
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: "pat-na1-secret-token"})
	require.NoError(t, err)
	return c, &got
}

const okPage = `{"results":[{"id":"101","properties":{"email":"a@example.com","lastmodifieddate":"2026-01-02T03:04:05.678Z"},
	"createdAt":"2025-01-01T00:00:00.000Z","updatedAt":"2026-01-02T03:04:05.678Z","archived":false}],
	"paging":{"next":{"after":"MTAyCg%3D%3D","link":"?after=MTAyCg%3D%3D"}}}`

func TestListParsesPageAndHeaders(t *testing.T) {
	t.Parallel()
	c, req := canned(t, 200, "application/json;charset=utf-8", okPage, map[string]string{
		"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "97",
		"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
		"X-HubSpot-RateLimit-Daily":                 "250000", "X-HubSpot-RateLimit-Daily-Remaining": "249000",
	})
	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: "MTAxCg%3D%3D", Properties: []string{"email", "lastmodifieddate"}})
	require.NoError(t, err)

	require.Equal(t, "/crm/v3/objects/contacts", req.URL.Path)
	require.Equal(t, "100", req.URL.Query().Get("limit"))
	require.Equal(t, "MTAxCg%3D%3D", req.URL.Query().Get("after"))
	require.Equal(t, "email,lastmodifieddate", req.URL.Query().Get("properties"))
	require.Equal(t, "Bearer pat-na1-secret-token", req.Header.Get("Authorization"))

	require.Len(t, page.Records, 1)
	r := page.Records[0]
	require.Equal(t, "101", r.ID)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC), r.UpdatedAt)
	require.JSONEq(t, `{"email":"a@example.com","lastmodifieddate":"2026-01-02T03:04:05.678Z"}`, string(r.Properties))
	require.Equal(t, "MTAyCg%3D%3D", page.Next)
	require.Equal(t, crm.RateLimit{WindowKnown: true, Max: 100, Remaining: 97, Interval: 10 * time.Second,
		DailyKnown: true, DailyMax: 250000, DailyRemaining: 249000}, page.RateLimit)
}

func TestResponsesBecomeTypedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		headers     map[string]string
		kind        crm.Kind
		category    string
		policy      string
		retryAfter  time.Duration
		message     string
	}{
		{
			name: "bad token", status: 401, contentType: "application/json",
			body: `{"status":"error","message":"Authentication credentials not found.","correlationId":"c-1","category":"INVALID_AUTHENTICATION"}`,
			kind: crm.KindUnauthorized, category: "INVALID_AUTHENTICATION", message: "Authentication credentials not found.",
		},
		{
			name: "missing scope", status: 403, contentType: "application/json",
			body: `{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES"}`,
			kind: crm.KindUnauthorized, category: "MISSING_SCOPES",
		},
		{
			name: "validation error", status: 400, contentType: "application/json",
			body: `{"message":"Invalid input","correlationId":"aeb5f871","category":"VALIDATION_ERROR","links":{}}`,
			kind: crm.KindInvalid, category: "VALIDATION_ERROR", message: "Invalid input",
		},
		{
			name: "ten-secondly 429 waits the window from the headers", status: 429, contentType: "application/json",
			body:    `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c","policyName":"TEN_SECONDLY_ROLLING","requestId":"r"}`,
			headers: map[string]string{"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
			kind:    crm.KindRateLimited, category: "RATE_LIMIT", policy: crm.PolicyWindow, retryAfter: 10 * time.Second,
		},
		{
			name: "ten-secondly 429 without headers waits ten seconds", status: 429, contentType: "application/json",
			body: `{"status":"error","message":"x","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`,
			kind: crm.KindRateLimited, category: "RATE_LIMIT", policy: crm.PolicyWindow, retryAfter: 10 * time.Second,
		},
		{
			name: "Retry-After wins over the policy", status: 429, contentType: "application/json",
			body:    `{"status":"error","message":"x","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`,
			headers: map[string]string{"Retry-After": "3"},
			kind:    crm.KindRateLimited, category: "RATE_LIMIT", policy: crm.PolicyWindow, retryAfter: 3 * time.Second,
		},
		{
			name: "daily 429 leaves the wait to the caller", status: 429, contentType: "application/json",
			body: `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`,
			kind: crm.KindRateLimited, category: "RATE_LIMIT", policy: crm.PolicyDaily,
		},
		{
			name: "search limit recognised by its message", status: 429, contentType: "application/json",
			body: `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT"}`,
			kind: crm.KindRateLimited, category: "RATE_LIMIT", policy: crm.PolicySecondly, retryAfter: time.Second,
		},
		{
			name: "HTML 502 from a proxy", status: 502, contentType: "text/html",
			body: "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
			kind: crm.KindUnavailable, message: `"502 Bad Gateway"`,
		},
		{
			name: "locked record", status: 423, contentType: "application/json", body: `{"message":"locked"}`,
			kind: crm.KindUnavailable,
		},
		{
			name: "200 with an HTML page", status: 200, contentType: "text/html", body: "<html><title>Maintenance</title></html>",
			kind: crm.KindBadResponse, message: "Maintenance",
		},
		{
			name: "200 with truncated JSON", status: 200, contentType: "application/json", body: okPage[:len(okPage)/2],
			kind: crm.KindBadResponse, message: "malformed JSON",
		},
		{
			name: "record without an id", status: 200, contentType: "application/json",
			body: `{"results":[{"properties":{},"updatedAt":"2026-01-01T00:00:00Z"}]}`,
			kind: crm.KindInvalid, category: "MALFORMED_RECORD", message: "has no id",
		},
		{
			name: "record without updatedAt", status: 200, contentType: "application/json",
			body: `{"results":[{"id":"5","properties":{}}]}`,
			kind: crm.KindInvalid, category: "MALFORMED_RECORD", message: "record 5 has no updatedAt",
		},
		{
			name: "properties that are not an object", status: 200, contentType: "application/json",
			body: `{"results":[{"id":"5","properties":"x","updatedAt":"2026-01-01T00:00:00Z"}]}`,
			kind: crm.KindInvalid, category: "MALFORMED_RECORD",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := canned(t, tc.status, tc.contentType, tc.body, tc.headers)
			_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
			var ae *crm.APIError
			require.True(t, errors.As(err, &ae), "want *crm.APIError, got %T %v", err, err)
			require.Equal(t, tc.kind, ae.Kind, "kind of %v", err)
			require.Equal(t, tc.category, ae.Category)
			require.Equal(t, tc.policy, ae.Policy)
			require.Equal(t, tc.retryAfter, ae.RetryAfter)
			require.Contains(t, ae.Error(), tc.message)
			require.Contains(t, ae.Error(), "GET /crm/v3/objects/contacts")
			require.NotContains(t, ae.Error(), "secret-token", "errors never carry the credential")
			require.Equal(t, tc.kind != crm.KindUnauthorized && tc.kind != crm.KindInvalid, ae.Retryable())
		})
	}
}

func TestNumericIDsAreAccepted(t *testing.T) {
	t.Parallel()
	c, _ := canned(t, 200, "application/json", `{"results":[{"id":512,"properties":{},"updatedAt":"2026-01-01T00:00:00Z"}]}`, nil)
	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Deals})
	require.NoError(t, err)
	require.Equal(t, "512", page.Records[0].ID)
	require.Empty(t, page.Next, "no paging means the last page")
}

func TestPagingThatDoesNotMoveIsAnError(t *testing.T) {
	t.Parallel()
	c, _ := canned(t, 200, "application/json", `{"results":[],"paging":{"next":{"after":"same"}}}`, nil)
	_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: "same"})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindBadResponse, ae.Kind)
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, err := hubspot.New(hubspot.Options{BaseURL: "api.hubapi.com", Token: "x"})
	require.ErrorContains(t, err, "http")
	_, err = hubspot.New(hubspot.Options{})
	require.ErrorContains(t, err, "token is empty")
	c, err := hubspot.New(hubspot.Options{Token: "x"})
	require.NoError(t, err)
	require.Equal(t, "hubspot", c.Provider())
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	for _, v := range []string{"2026-01-02T03:04:05.678Z", "1767323045678", "2026-01-02T04:04:05.678+01:00"} {
		got, err := hubspot.ParseTime(v)
		require.NoError(t, err, v)
		require.True(t, want.Equal(got), "%s: got %v", v, got)
	}
	_, err := hubspot.ParseTime("yesterday")
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "ISO-8601"))
}

// TestCallsAreReportedToTheObserver: each request is reported with its endpoint template
// (no ids, no query) and its status, 0 when no response arrived.
func TestCallsAreReportedToTheObserver(t *testing.T) {
	t.Parallel()
	type call struct {
		endpoint string
		status   int
	}
	tests := []struct {
		name   string
		status int
		want   call
	}{
		{name: "ok", status: 200, want: call{"GET /crm/v3/objects/contacts", 200}},
		{name: "rate limited", status: 429, want: call{"GET /crm/v3/objects/contacts", 429}},
		{name: "server error", status: 502, want: call{"GET /crm/v3/objects/contacts", 502}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := canned(t, tc.status, "application/json", okPage, nil)
			var got []call
			ctx := crm.WithCallObserver(t.Context(), func(endpoint string, status int) { got = append(got, call{endpoint, status}) })
			_, _ = c.List(ctx, crm.ListRequest{Object: crm.Contacts, After: "MTAxCg%3D%3D"})
			require.Equal(t, []call{tc.want}, got)
		})
	}

	t.Run("no response", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: "x"})
		require.NoError(t, err)
		var got []call
		ctx := crm.WithCallObserver(t.Context(), func(endpoint string, status int) { got = append(got, call{endpoint, status}) })
		_, err = c.List(ctx, crm.ListRequest{Object: crm.Deals})
		require.Error(t, err)
		require.Equal(t, []call{{"GET /crm/v3/objects/deals", 0}}, got)
	})
}

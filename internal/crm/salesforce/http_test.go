package salesforce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/salesforce"
)

func TestSalesforceErrorsAreClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		limitInfo   string
		retryAfter  string
		body        string
		tokens      crm.TokenSource
		kind        crm.Kind
		category    string
		policy      string
		wait        time.Duration
		rl          crm.RateLimit
	}{
		{name: "daily allocation", status: 403, limitInfo: "api-usage=15001/15000",
			body: `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
			kind: crm.KindRateLimited, category: "REQUEST_LIMIT_EXCEEDED", policy: crm.PolicyDaily,
			rl: crm.RateLimit{DailyKnown: true, DailyMax: 15000}},
		{name: "concurrent long-running", status: 403, limitInfo: "api-usage=10/15000",
			body: `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
			kind: crm.KindRateLimited, category: "REQUEST_LIMIT_EXCEEDED", policy: salesforce.PolicyConcurrent,
			rl: crm.RateLimit{DailyKnown: true, DailyMax: 15000, DailyRemaining: 14990}},
		{name: "other 403", status: 403, body: `[{"message":"no","errorCode":"INSUFFICIENT_ACCESS"}]`,
			kind: crm.KindUnauthorized, category: "INSUFFICIENT_ACCESS"},
		{name: "expired session, refreshable", status: 401, tokens: refreshable("t"),
			body: `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
			kind: crm.KindTokenExpired, category: "INVALID_SESSION_ID"},
		{name: "expired session, static", status: 401,
			body: `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`,
			kind: crm.KindUnauthorized, category: "INVALID_SESSION_ID"},
		{name: "proxy 429 with a wait", status: 429, retryAfter: "7", body: `[]`,
			kind: crm.KindRateLimited, wait: 7 * time.Second},
		{name: "html 503", status: 503, contentType: "text/html", body: "<html><title>Down</title></html>",
			kind: crm.KindUnavailable},
		{name: "malformed query", status: 400, body: `[{"message":"unexpected token","errorCode":"MALFORMED_QUERY"}]`,
			kind: crm.KindInvalid, category: "MALFORMED_QUERY"},
		{name: "job not complete", status: 412, body: `[{"message":"not yet","errorCode":"JOB_NOT_COMPLETE"}]`,
			kind: crm.KindUnavailable, category: "JOB_NOT_COMPLETE"},
		{name: "2xx html", status: 200, contentType: "text/html", body: "<html><title>Maintenance</title></html>",
			kind: crm.KindBadResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				ct := tc.contentType
				if ct == "" {
					ct = "application/json;charset=UTF-8"
				}
				w.Header().Set("Content-Type", ct)
				if tc.limitInfo != "" {
					w.Header().Set("Sforce-Limit-Info", tc.limitInfo)
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			tokens := tc.tokens
			if tokens == nil {
				tokens = crm.StaticToken("t")
			}
			c, err := salesforce.New(salesforce.Options{BaseURL: srv.URL, Tokens: tokens})
			require.NoError(t, err)
			_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: []string{"Email"}})
			var ae *crm.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.kind, ae.Kind, "%v", err)
			require.Equal(t, tc.category, ae.Category)
			require.Equal(t, tc.policy, ae.Policy)
			require.Equal(t, tc.wait, ae.RetryAfter)
			require.Equal(t, tc.rl, ae.RateLimit)
			require.NotContains(t, err.Error(), "SELECT")
		})
	}
}

// refreshable is a token source that can always get another token.
type refreshable string

func (r refreshable) Token(context.Context) (string, error) { return string(r), nil }

func (r refreshable) Expired(string) bool { return true }

func TestSalesforceTransportErrorsHoldNoQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, err := salesforce.New(salesforce.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("secret-session")})
	require.NoError(t, err)
	_, err = c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: crm.Cursor{ModifiedAt: time.Now(), ID: "0035g00000AbCdEAAV"}})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SELECT")
	require.NotContains(t, err.Error(), "0035g00000AbCdEAAV")
	require.NotContains(t, err.Error(), "secret-session")
	require.Contains(t, err.Error(), "GET /services/data/v62.0/query")
}

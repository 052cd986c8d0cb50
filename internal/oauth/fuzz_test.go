package oauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/oauth"
)

// FuzzTokenResponse feeds the refresher whatever a token endpoint (or a proxy in front of
// it) might answer: it never panics, a failure is a *crm.APIError of a known kind that
// quotes no secret the server did not echo, and a success yields a non-empty token.
func FuzzTokenResponse(f *testing.F) {
	const (
		refresh = "1000.refresh-SECRET-token"
		secret  = "client-SECRET-x"
	)
	var (
		mu   sync.Mutex
		next struct {
			status            int
			contentType, body string
		}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", next.contentType)
		w.WriteHeader(next.status)
		_, _ = w.Write([]byte(next.body))
	}))
	defer srv.Close()
	seeds := []struct {
		status            int
		contentType, body string
	}{
		{200, "application/json", `{"access_token":"00Dx!AQ4","instance_url":"https://x.my.salesforce.com","token_type":"Bearer","issued_at":"1700000000000"}`},
		{200, "application/json", `{"access_token":"1000.abc","api_domain":"https://www.zohoapis.com","token_type":"Bearer","expires_in":3600}`},
		{200, "application/json", `{"access_token":"v1u:x","refresh_token":"rotated","expires_in":3599,"api_domain":"https://acme.pipedrive.com"}`},
		{200, "application/json", `{"error":"invalid_code"}`},
		{200, "application/json", `{"access_token":""}`},
		{200, "application/json", `{"access_token":"a","expires_in":"3600"}`},
		{200, "application/json", `{"access_token":"a","expires_in":-5}`},
		{400, "application/json", `{"error":"invalid_grant","error_description":"expired access/refresh token"}`},
		{401, "application/json", `{"error":"invalid_client","error_description":"` + secret + `"}`},
		{429, "text/plain", `slow down`},
		{502, "text/html", `<html><body>502 Bad Gateway</body></html>`},
		{200, "application/json", `{"access_token":`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		if status < 200 || status > 599 {
			status = 200 + (status&0x7fffffff)%400
		}
		mu.Lock()
		next.status, next.contentType, next.body = status, contentType, body
		mu.Unlock()
		r, err := oauth.NewRefresher(oauth.Config{TokenURL: srv.URL + "/oauth/token", ClientID: "id", ClientSecret: secret, RefreshToken: refresh})
		require.NoError(t, err)
		tok, err := r.Token(t.Context())
		if err == nil {
			require.NotEmpty(t, tok)
			return
		}
		var ae *crm.APIError
		require.True(t, errors.As(err, &ae), "not an APIError: %v", err)
		require.Contains(t, []crm.Kind{crm.KindUnauthorized, crm.KindInvalid, crm.KindRateLimited, crm.KindUnavailable, crm.KindBadResponse}, ae.Kind)
		for _, s := range []string{refresh, secret} {
			if !strings.Contains(body, s) {
				require.NotContains(t, err.Error(), s)
			}
		}
		require.NotContains(t, err.Error(), refresh, "the refresh token is never quoted, even when echoed")
	})
}

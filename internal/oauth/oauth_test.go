package oauth_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/oauth"
)

// Distinctive secrets, so that finding one in an error string cannot be a coincidence.
const (
	clientID     = "client-id-3f9a0d"
	clientSecret = "client-secret-5b7e1c"
	refreshToken = "refresh-token-9d2c44"
	rotatedToken = "refresh-token-rotated-e81f"
)

// clock is a fake Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// request is what the token endpoint received.
type request struct {
	form       url.Values
	user, pass string
	basic      bool
}

// respondFunc answers the n-th (1-based) refresh request.
type respondFunc func(n int, w http.ResponseWriter)

// tokenServer is a token endpoint that records its requests and can hold them.
type tokenServer struct {
	srv     *httptest.Server
	respond respondFunc

	mu     sync.Mutex
	reqs   []request
	issued []string // every access token handed out
	gate   chan struct{}
}

// refreshes counts the requests the endpoint received.
func (s *tokenServer) refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// request returns the n-th (1-based) request.
func (s *tokenServer) request(n int) request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[n-1]
}

// hold makes requests wait until the returned release is called (or the test ends).
func (s *tokenServer) hold(t *testing.T) (release func()) {
	t.Helper()
	g := make(chan struct{})
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(g) }) }
	t.Cleanup(release) // before srv.Close, which waits for held handlers (cleanups run LIFO)
	return release
}

func (s *tokenServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	user, pass, basic := r.BasicAuth()
	s.mu.Lock()
	s.reqs = append(s.reqs, request{form: r.PostForm, user: user, pass: pass, basic: basic})
	n, gate := len(s.reqs), s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.respond(n, w)
}

// issue answers with access token number n, as Salesforce/Zoho/Pipedrive shape it; extra
// fields are added to (or, when nil, removed from) the default response.
func (s *tokenServer) issue(n int, w http.ResponseWriter, extra map[string]any) {
	tok := fmt.Sprintf("access-token-%d-c0ffee", n)
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	body := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600}
	for k, v := range extra {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// accessToken is the n-th access token the default response issues.
func accessToken(n int) string { return fmt.Sprintf("access-token-%d-c0ffee", n) }

type harness struct {
	r     *oauth.Refresher
	srv   *tokenServer
	clock *clock
	cfg   oauth.Config
}

// setup starts a token endpoint answering with respond (nil: a fresh one-hour token each
// time) and a Refresher for it on a fake clock.
func setup(t *testing.T, respond respondFunc, modify ...func(*oauth.Config)) *harness {
	t.Helper()
	s := &tokenServer{}
	s.respond = respond
	if s.respond == nil {
		s.respond = func(n int, w http.ResponseWriter) { s.issue(n, w, nil) }
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.srv.Close)
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := oauth.Config{
		TokenURL:     s.srv.URL + "/services/oauth2/token",
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RefreshToken: refreshToken,
		HTTPClient:   s.srv.Client(),
		Now:          c.Now,
	}
	for _, m := range modify {
		m(&cfg)
	}
	r, err := oauth.NewRefresher(cfg)
	require.NoError(t, err)
	return &harness{r: r, srv: s, clock: c, cfg: cfg}
}

// requireNoSecrets fails when err's text holds a credential or any token issued so far.
func (h *harness) requireNoSecrets(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	h.srv.mu.Lock()
	secrets := append([]string{clientSecret, refreshToken, rotatedToken}, h.srv.issued...)
	h.srv.mu.Unlock()
	requireNoSecrets(t, err, secrets...)
}

func requireNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.False(t, strings.Contains(err.Error(), s), "error %q contains the secret %q", err, s)
	}
}

// requireAPIError unwraps err as a *crm.APIError of kind.
func requireAPIError(t *testing.T, err error, kind crm.Kind) *crm.APIError {
	t.Helper()
	var apiErr *crm.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, kind, apiErr.Kind, "error: %v", err)
	return apiErr
}

func TestNewRefresherValidatesConfig(t *testing.T) {
	t.Parallel()
	valid := oauth.Config{TokenURL: "https://login.salesforce.com/services/oauth2/token",
		ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken}
	tests := []struct {
		name   string
		modify func(*oauth.Config)
		want   []string // substrings of the error; none when valid
	}{
		{name: "valid"},
		{name: "basic auth over http", modify: func(c *oauth.Config) {
			c.TokenURL, c.ClientAuth = "http://localhost:8080/oauth/token", oauth.ClientAuthBasic
		}},
		{name: "all missing", modify: func(c *oauth.Config) { *c = oauth.Config{} },
			want: []string{"TokenURL is empty", "ClientID is empty", "ClientSecret is empty", "RefreshToken is empty"}},
		{name: "no secret", modify: func(c *oauth.Config) { c.ClientSecret = "" }, want: []string{"ClientSecret is empty"}},
		{name: "no refresh token", modify: func(c *oauth.Config) { c.RefreshToken = "" }, want: []string{"RefreshToken is empty"}},
		{name: "newline after the secret", modify: func(c *oauth.Config) { c.ClientSecret += "\n" },
			want: []string{"ClientSecret has leading or trailing white space"}},
		{name: "not http", modify: func(c *oauth.Config) { c.TokenURL = "ftp://login.salesforce.com/token" },
			want: []string{"TokenURL must be an absolute http or https URL"}},
		{name: "relative", modify: func(c *oauth.Config) { c.TokenURL = "/services/oauth2/token" },
			want: []string{"TokenURL must be an absolute http or https URL"}},
		{name: "unparseable", modify: func(c *oauth.Config) { c.TokenURL = "https://host/%zz" + clientSecret },
			want: []string{"TokenURL is not a valid URL"}},
		{name: "credentials in URL", modify: func(c *oauth.Config) {
			c.TokenURL = "https://" + clientID + ":" + clientSecret + "@login.salesforce.com/services/oauth2/token"
		}, want: []string{"TokenURL must not carry credentials"}},
		{name: "query in URL", modify: func(c *oauth.Config) {
			c.TokenURL = "https://accounts.zoho.com/oauth/v2/token?refresh_token=" + refreshToken
		}, want: []string{"TokenURL must not have a query"}},
		{name: "unknown client auth", modify: func(c *oauth.Config) { c.ClientAuth = 7 }, want: []string{"unknown ClientAuth 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			if tt.modify != nil {
				tt.modify(&cfg)
			}
			r, err := oauth.NewRefresher(cfg)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			require.Error(t, err)
			require.Nil(t, r)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			requireNoSecrets(t, err, clientSecret, refreshToken)
		})
	}
}

func TestTokenRefreshesOnceAndCaches(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)

	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(1), tok)
	h.clock.Advance(30 * time.Minute)
	tok, err = h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(1), tok)

	require.Equal(t, 1, h.srv.refreshes())
	form := h.srv.request(1).form
	require.Equal(t, "refresh_token", form.Get("grant_type"))
	require.Equal(t, refreshToken, form.Get("refresh_token"))
	require.False(t, form.Has("scope"))
}

func TestConcurrentColdTokenCallsShareOneRefresh(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	release := h.srv.hold(t)

	const callers = 50
	var ready, wg sync.WaitGroup
	ready.Add(callers)
	toks := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			ready.Done()
			toks[i], errs[i] = h.r.Token(t.Context())
		})
	}
	ready.Wait()
	// The first refresh is held at the endpoint while the others pile up behind it.
	require.Eventually(t, func() bool { return h.srv.refreshes() == 1 }, 10*time.Second, time.Millisecond)
	release()
	wg.Wait()

	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, accessToken(1), toks[i])
	}
	require.Equal(t, 1, h.srv.refreshes())
}

func TestExpiredCurrentTokenRefreshesOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	old, err := h.r.Token(t.Context())
	require.NoError(t, err)

	const callers = 50
	var wg sync.WaitGroup
	toks := make([]string, callers)
	errs := make([]error, callers)
	expired := make([]bool, callers)
	for i := range callers {
		wg.Go(func() {
			// As a connector does: the CRM said 401 expired, report it, try again.
			expired[i] = h.r.Expired(old)
			toks[i], errs[i] = h.r.Token(t.Context())
		})
	}
	wg.Wait()

	for i := range callers {
		require.True(t, expired[i])
		require.NoError(t, errs[i])
		require.Equal(t, accessToken(2), toks[i])
	}
	require.Equal(t, 2, h.srv.refreshes())
}

func TestExpiredOldTokenDoesNotRefresh(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	old, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.True(t, h.r.Expired(old))
	cur, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(2), cur)

	// A request that was already in flight with the old token reports it late.
	require.True(t, h.r.Expired(old))
	require.True(t, h.r.Expired("never-issued"))
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, cur, tok)
	require.Equal(t, 2, h.srv.refreshes())
}

func TestProactiveRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn any
		keep      time.Duration // still the first token this long after the refresh
		renew     time.Duration // refreshed this long after it
	}{
		{name: "one hour, two-minute margin", expiresIn: 3600, keep: 57*time.Minute + 59*time.Second, renew: 58 * time.Minute},
		{name: "one minute, tenth of the lifetime", expiresIn: 60, keep: 53 * time.Second, renew: 54 * time.Second},
		{name: "as a string", expiresIn: "3600", keep: 57*time.Minute + 59*time.Second, renew: 58 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = setup(t, func(n int, w http.ResponseWriter) {
				h.srv.issue(n, w, map[string]any{"expires_in": tt.expiresIn})
			})
			start := h.clock.Now()
			tok, err := h.r.Token(t.Context())
			require.NoError(t, err)
			require.Equal(t, accessToken(1), tok)

			h.clock.Advance(tt.keep)
			tok, err = h.r.Token(t.Context())
			require.NoError(t, err)
			require.Equal(t, accessToken(1), tok)
			require.Equal(t, 1, h.srv.refreshes())

			h.clock.Advance(tt.renew - h.clock.Now().Sub(start))
			tok, err = h.r.Token(t.Context())
			require.NoError(t, err)
			require.Equal(t, accessToken(2), tok)
			require.Equal(t, 2, h.srv.refreshes())
		})
	}
}

func TestZohoMillisecondExpiresInUsesExpiresInSec(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		// Older Zoho accounts servers: expires_in in milliseconds beside expires_in_sec.
		h.srv.issue(n, w, map[string]any{"expires_in": 3600000, "expires_in_sec": 3600})
	})
	_, err := h.r.Token(t.Context())
	require.NoError(t, err)
	h.clock.Advance(59 * time.Minute)
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(2), tok)
}

func TestTokenWithoutExpiryLivesUntilReported(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		// Salesforce's refresh response has no expires_in.
		h.srv.issue(n, w, map[string]any{"expires_in": nil, "instance_url": "https://acme.my.salesforce.com"})
	})
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	h.clock.Advance(72 * time.Hour)
	again, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, tok, again)
	require.Equal(t, 1, h.srv.refreshes())

	require.True(t, h.r.Expired(tok))
	again, err = h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(2), again)
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		extra := map[string]any{}
		if n == 1 {
			extra["refresh_token"] = rotatedToken // Pipedrive may rotate; later answers repeat none
		}
		h.srv.issue(n, w, extra)
	})
	for range 3 {
		tok, err := h.r.Token(t.Context())
		require.NoError(t, err)
		require.True(t, h.r.Expired(tok))
	}
	require.Equal(t, 3, h.srv.refreshes())
	require.Equal(t, refreshToken, h.srv.request(1).form.Get("refresh_token"))
	require.Equal(t, rotatedToken, h.srv.request(2).form.Get("refresh_token"))
	require.Equal(t, rotatedToken, h.srv.request(3).form.Get("refresh_token"))
}

func TestClientAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		auth  oauth.ClientAuth
		check func(t *testing.T, req request)
	}{
		{name: "form (Salesforce, Zoho)", auth: oauth.ClientAuthForm, check: func(t *testing.T, req request) {
			require.False(t, req.basic)
			require.Equal(t, clientID, req.form.Get("client_id"))
			require.Equal(t, clientSecret, req.form.Get("client_secret"))
		}},
		{name: "basic (Pipedrive)", auth: oauth.ClientAuthBasic, check: func(t *testing.T, req request) {
			require.True(t, req.basic)
			require.Equal(t, clientID, req.user)
			require.Equal(t, clientSecret, req.pass)
			require.False(t, req.form.Has("client_id"))
			require.False(t, req.form.Has("client_secret"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, nil, func(c *oauth.Config) { c.ClientAuth = tt.auth; c.Scope = "ZohoCRM.modules.ALL" })
			_, err := h.r.Token(t.Context())
			require.NoError(t, err)
			req := h.srv.request(1)
			require.Equal(t, "refresh_token", req.form.Get("grant_type"))
			require.Equal(t, refreshToken, req.form.Get("refresh_token"))
			require.Equal(t, "ZohoCRM.modules.ALL", req.form.Get("scope"))
			tt.check(t, req)
		})
	}
}

func TestAPIBaseURL(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		switch n {
		case 1:
			h.srv.issue(n, w, map[string]any{"api_domain": "https://www.zohoapis.eu/"})
		case 2:
			h.srv.issue(n, w, nil) // names no base: the last one stands
		default:
			h.srv.issue(n, w, map[string]any{"api_domain": "not a url"})
		}
	})
	require.Empty(t, h.r.APIBaseURL())
	for range 3 {
		tok, err := h.r.Token(t.Context())
		require.NoError(t, err)
		require.Equal(t, "https://www.zohoapis.eu", h.r.APIBaseURL())
		h.r.Expired(tok)
	}
}

func TestRefreshErrorKinds(t *testing.T) {
	t.Parallel()
	// echo is a description that repeats the request's secrets, as a careless server might.
	echo := "bad refresh_token " + refreshToken + " for client_secret " + clientSecret
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		headers     map[string]string
		kind        crm.Kind
		category    string
		retryAfter  time.Duration
		message     []string // substrings of the error
	}{
		{name: "salesforce revoked grant", status: 400, body: `{"error":"invalid_grant","error_description":"expired access/refresh token"}`,
			kind: crm.KindUnauthorized, category: "invalid_grant", message: []string{"invalid_grant", "expired access/refresh token"}},
		{name: "pipedrive wrong client secret", status: 401, body: `{"error":"invalid_client","error_description":"Invalid client credentials"}`,
			kind: crm.KindUnauthorized, category: "invalid_client", message: []string{"invalid_client"}},
		{name: "zoho bad refresh token with 200", status: 200, body: `{"error":"invalid_code"}`,
			kind: crm.KindUnauthorized, category: "invalid_code", message: []string{"invalid_code"}},
		{name: "zoho throttle with 200", status: 200, body: `{"error":"Access Denied","error_description":"You have made too many requests continuously. Please try again after some time."}`,
			kind: crm.KindRateLimited, category: "Access Denied", retryAfter: time.Minute, message: []string{"Access Denied"}},
		{name: "description echoing secrets", status: 400, body: `{"error":"invalid_grant","error_description":"` + echo + `"}`,
			kind: crm.KindUnauthorized, category: "invalid_grant", message: []string{"invalid_grant", "[redacted]"}},
		{name: "401 without a body", status: 401, kind: crm.KindUnauthorized, message: []string{"empty"}},
		{name: "unsupported grant type", status: 400, body: `{"error":"unsupported_grant_type"}`,
			kind: crm.KindInvalid, category: "unsupported_grant_type", message: []string{"unsupported_grant_type"}},
		{name: "server error", status: 500, body: `{"error":"server_error"}`, kind: crm.KindUnavailable, category: "server_error"},
		{name: "gateway html", status: 502, contentType: "text/html", body: "<html>bad gateway " + refreshToken + "</html>",
			kind: crm.KindUnavailable},
		{name: "rate limited", status: 429, headers: map[string]string{"Retry-After": "7"},
			kind: crm.KindRateLimited, retryAfter: 7 * time.Second, message: []string{"rate limiting"}},
		{name: "rate limited without Retry-After", status: 429, kind: crm.KindRateLimited, retryAfter: 10 * time.Second},
		{name: "unparseable 200", status: 200, contentType: "text/html", body: "<html>login " + clientSecret + "</html>",
			kind: crm.KindUnavailable, message: []string{"unparseable", "text/html"}},
		{name: "200 without access_token", status: 200, body: `{"token_type":"Bearer"}`,
			kind: crm.KindUnavailable, message: []string{"no access_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, func(_ int, w http.ResponseWriter) {
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", cmp.Or(tt.contentType, "application/json"))
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			tok, err := h.r.Token(t.Context())
			require.Empty(t, tok)
			apiErr := requireAPIError(t, err, tt.kind)
			require.Equal(t, tt.category, apiErr.Category)
			require.Equal(t, tt.retryAfter, apiErr.RetryAfter)
			require.Equal(t, tt.kind != crm.KindUnauthorized && tt.kind != crm.KindInvalid, apiErr.Retryable())
			require.Equal(t, "POST /services/oauth2/token", apiErr.Endpoint)
			require.ErrorContains(t, err, h.srv.srv.Listener.Addr().String(), "the message names the token endpoint host")
			for _, m := range tt.message {
				require.ErrorContains(t, err, m)
			}
			h.requireNoSecrets(t, err)
		})
	}
}

func TestNetworkErrorIsUnavailable(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	h.srv.srv.Close() // nothing listens any more

	_, err := h.r.Token(t.Context())
	apiErr := requireAPIError(t, err, crm.KindUnavailable)
	require.True(t, apiErr.Retryable())
	require.Zero(t, apiErr.Status)
	h.requireNoSecrets(t, err)
}

func TestPermanentFailureIsRemembered(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			h.srv.issue(n, w, nil)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	})
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.True(t, h.r.Expired(tok))

	for range 5 {
		_, err = h.r.Token(t.Context())
		requireAPIError(t, err, crm.KindUnauthorized)
		h.requireNoSecrets(t, err)
	}
	require.Equal(t, 2, h.srv.refreshes(), "the failure is returned again without asking")
	require.False(t, h.r.Expired(tok), "the credential must be fixed: no new token to be had")

	h.clock.Advance(31 * time.Second)
	require.True(t, h.r.Expired(tok))
	_, err = h.r.Token(t.Context())
	requireAPIError(t, err, crm.KindUnauthorized)
	require.Equal(t, 3, h.srv.refreshes(), "after a while the endpoint is asked again")
}

func TestTransientFailureIsNotRemembered(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.srv.issue(n, w, nil)
	})
	_, err := h.r.Token(t.Context())
	requireAPIError(t, err, crm.KindUnavailable)
	h.requireNoSecrets(t, err)
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(2), tok)
}

func TestRateLimitIsHonoured(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		h.srv.issue(n, w, nil)
	})
	_, err := h.r.Token(t.Context())
	require.Equal(t, 20*time.Second, requireAPIError(t, err, crm.KindRateLimited).RetryAfter)
	require.True(t, h.r.Expired("anything"), "a throttle passes: a token can still be had")

	h.clock.Advance(15 * time.Second)
	_, err = h.r.Token(t.Context())
	require.Equal(t, 5*time.Second, requireAPIError(t, err, crm.KindRateLimited).RetryAfter, "the rest of the wait")
	h.requireNoSecrets(t, err)
	require.Equal(t, 1, h.srv.refreshes())

	h.clock.Advance(5 * time.Second)
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(2), tok)
}

func TestTransientFailureKeepsValidToken(t *testing.T) {
	t.Parallel()
	var h *harness
	h = setup(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			h.srv.issue(n, w, nil)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	_, err := h.r.Token(t.Context())
	require.NoError(t, err)

	// Within the margin the refresh fails, but the token has a minute and a half left.
	h.clock.Advance(58*time.Minute + 30*time.Second)
	tok, err := h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(1), tok)
	require.Equal(t, 2, h.srv.refreshes())
	tok, err = h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, accessToken(1), tok)
	require.Equal(t, 2, h.srv.refreshes(), "no second attempt straight away")

	h.clock.Advance(10 * time.Second)
	_, err = h.r.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, h.srv.refreshes(), "another attempt after a pause")

	h.clock.Advance(2 * time.Minute) // past the expiry: nothing valid is left
	_, err = h.r.Token(t.Context())
	requireAPIError(t, err, crm.KindUnavailable)
	h.requireNoSecrets(t, err)
}

func TestCanceledWaiterDoesNotBreakOthers(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	release := h.srv.hold(t)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := h.r.Token(ctx)
		first <- err
	}()
	require.Eventually(t, func() bool { return h.srv.refreshes() == 1 }, 10*time.Second, time.Millisecond)

	const others = 10
	var wg sync.WaitGroup
	toks := make([]string, others)
	errs := make([]error, others)
	for i := range others {
		wg.Go(func() { toks[i], errs[i] = h.r.Token(t.Context()) })
	}

	// The caller that started the refresh gives up while the endpoint is still working.
	cancel()
	err := <-first
	require.ErrorIs(t, err, context.Canceled)
	h.requireNoSecrets(t, err)

	release()
	wg.Wait()
	for i := range others {
		require.NoError(t, errs[i])
		require.Equal(t, accessToken(1), toks[i])
	}
	require.Equal(t, 1, h.srv.refreshes())
}

func TestCanceledContextStartsNoRefresh(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := h.r.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)
	h.requireNoSecrets(t, err)
	require.Equal(t, 0, h.srv.refreshes())
}

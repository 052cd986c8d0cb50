// Package oauth keeps the short-lived OAuth access tokens of Salesforce, Zoho CRM and
// Pipedrive apps fresh, using the refresh-token grant. A Refresher is a crm.TokenSource:
// connectors ask it for the token of every request and report the tokens the CRM rejects,
// and it refreshes once per credential however many requests are in flight, because
// token endpoints throttle refreshes (Zoho issues at most ten access tokens per refresh
// token in ten minutes) and every refresh issues a token the others did not need.
//
// Build one Refresher per credential, once, at worker start, and share it: two Refreshers
// for one refresh token refresh independently.
package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// ClientAuth is how the app authenticates itself to the token endpoint.
type ClientAuth int

const (
	// ClientAuthForm sends client_id and client_secret in the form body, as Salesforce and
	// Zoho expect. It is the zero value.
	ClientAuthForm ClientAuth = iota
	// ClientAuthBasic sends them as HTTP Basic credentials, as Pipedrive expects.
	ClientAuthBasic
)

// String names the method for logs and error messages.
func (a ClientAuth) String() string {
	switch a {
	case ClientAuthForm:
		return "form"
	case ClientAuthBasic:
		return "basic"
	default:
		return fmt.Sprintf("ClientAuth(%d)", int(a))
	}
}

// Config is one OAuth credential and how to refresh it. ClientSecret and RefreshToken are
// secrets: they are sent to TokenURL only and never appear in errors.
type Config struct {
	// TokenURL is the token endpoint, e.g. https://login.salesforce.com/services/oauth2/token,
	// https://accounts.zoho.eu/oauth/v2/token (the account's data centre) or
	// https://oauth.pipedrive.com/oauth/token. It must not carry credentials or a query:
	// it appears in errors and logs.
	TokenURL string
	// ClientID identifies the OAuth app.
	ClientID string
	// ClientSecret is the OAuth app's secret.
	ClientSecret string
	// RefreshToken is the long-lived grant the access tokens are refreshed from. When the
	// token endpoint returns a new one (rotation), the Refresher uses that from then on.
	RefreshToken string
	// ClientAuth says where the client credentials go: ClientAuthForm (Salesforce, Zoho)
	// or ClientAuthBasic (Pipedrive).
	ClientAuth ClientAuth
	// HTTPClient sends the refresh requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock that ages tokens; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// Scope, when set, is sent as the scope parameter to ask for a narrower token.
	Scope string
}

// Timing. Tests drive time through Config.Now rather than through knobs.
const (
	// maxMargin is how long before its expiry a token is refreshed, at most: enough for a
	// request that got the token to reach the CRM before the token lapses.
	maxMargin = 2 * time.Minute
	// marginDivisor makes the margin a tenth of the lifetime for short-lived tokens, so a
	// token living less than maxMargin is not refreshed on every call.
	marginDivisor = 10
	// failureHold is how long a permanent refresh failure is returned again without asking
	// the token endpoint: a revoked grant stays revoked, and a tight loop of refreshes
	// from every connector would only earn a throttle on top.
	failureHold = 30 * time.Second
	// retryValidAfter is how long a still-valid token keeps being used after a proactive
	// refresh failed transiently, before the next refresh attempt.
	retryValidAfter = 10 * time.Second
	// refreshTimeout bounds a refresh that no caller's context bounds any more (the
	// callers may all have given up); the HTTP client's own timeout usually ends it first.
	refreshTimeout = time.Minute
	// defaultHTTPTimeout is the timeout of the HTTP client made when Config has none.
	defaultHTTPTimeout = 30 * time.Second
)

// Refresher is a crm.TokenSource for one OAuth credential. It caches the access token,
// refreshes it when it is missing, about to expire or reported expired, and shares each
// refresh among all the callers that need it. Its methods are safe for concurrent use.
type Refresher struct {
	tokenURL     string
	endpoint     string // "POST /path", the APIError.Endpoint of every failure
	host         string // named in error messages
	clientID     string
	clientSecret string
	initialToken string // the configured refresh token, kept to scrub it from errors
	auth         ClientAuth
	scope        string
	client       *http.Client
	now          func() time.Time

	mu           sync.Mutex
	refreshToken string // rotates when the token endpoint returns a new one
	access       string // the current access token; "" when there is none
	stale        bool   // access was reported expired
	refreshAt    time.Time
	expires      time.Time // zero: valid until reported expired
	apiBase      string
	failure      *crm.APIError // a failure returned again until failUntil
	failUntil    time.Time
	inflight     *refresh
}

// refresh is one in-flight refresh; token and err are set before done is closed.
type refresh struct {
	done  chan struct{}
	token string
	err   error
}

var _ crm.TokenSource = (*Refresher)(nil)

// NewRefresher checks cfg and returns a Refresher for it. It sends nothing: the first
// Token call refreshes.
func NewRefresher(cfg Config) (*Refresher, error) {
	u, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return &Refresher{
		tokenURL:     u.String(),
		endpoint:     "POST " + path,
		host:         u.Host,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		initialToken: cfg.RefreshToken,
		auth:         cfg.ClientAuth,
		scope:        cfg.Scope,
		client:       client,
		now:          now,
		refreshToken: cfg.RefreshToken,
	}, nil
}

// validate reports every problem of cfg at once, naming fields, never their values.
func validate(cfg Config) (*url.URL, error) {
	var errs []error
	problem := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("oauth config: "+format, args...))
	}
	var u *url.URL
	switch {
	case strings.TrimSpace(cfg.TokenURL) == "":
		problem("TokenURL is empty")
	default:
		parsed, err := url.Parse(cfg.TokenURL)
		switch {
		case err != nil:
			// The parse error quotes the URL, which may hold a secret pasted in by mistake.
			problem("TokenURL is not a valid URL")
		case parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "":
			problem("TokenURL must be an absolute http or https URL")
		case parsed.User != nil:
			problem("TokenURL must not carry credentials; set ClientID and ClientSecret")
		case parsed.RawQuery != "" || parsed.ForceQuery || parsed.Fragment != "":
			problem("TokenURL must not have a query or fragment; parameters are sent in the form body")
		default:
			u = parsed
		}
	}
	secrets := []struct{ name, value string }{
		{"ClientID", cfg.ClientID},
		{"ClientSecret", cfg.ClientSecret},
		{"RefreshToken", cfg.RefreshToken},
	}
	for _, s := range secrets {
		switch {
		case s.value == "":
			problem("%s is empty", s.name)
		case strings.TrimSpace(s.value) != s.value:
			// A newline from a secrets file would make every refresh fail as invalid_grant.
			problem("%s has leading or trailing white space", s.name)
		}
	}
	if cfg.ClientAuth != ClientAuthForm && cfg.ClientAuth != ClientAuthBasic {
		problem("unknown ClientAuth %d", int(cfg.ClientAuth))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return u, nil
}

// APIBaseURL returns the API base URL the token endpoint last named (Salesforce's
// instance_url, Zoho's and Pipedrive's api_domain), without a trailing slash; "" before
// the first refresh or when the endpoint names none.
func (r *Refresher) APIBaseURL() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apiBase
}

package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// DefaultTokenURL is Salesforce's production login server; sandboxes use
// https://test.salesforce.com/services/oauth2/token, My Domain orgs their own host.
const DefaultTokenURL = "https://login.salesforce.com/services/oauth2/token"

// RefreshTokenOptions configures a RefreshTokenSource.
type RefreshTokenOptions struct {
	// TokenURL defaults to DefaultTokenURL.
	TokenURL string
	// ClientID and ClientSecret identify the connected app; RefreshToken is the grant
	// the org's admin authorised. None of them ever appears in an error.
	ClientID, ClientSecret, RefreshToken string
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// UserAgent defaults to "crmsync".
	UserAgent string
}

// RefreshTokenSource is a crm.TokenSource that gets access tokens with the OAuth
// refresh-token grant. Salesforce's token response has no expires_in (a session lasts the
// org's session timeout, and ends early when an admin revokes it), so a token is used
// until Salesforce answers INVALID_SESSION_ID, and the next Token call refreshes it, once,
// however many callers saw the same expiry.
type RefreshTokenSource struct {
	opts RefreshTokenOptions
	http *http.Client

	// mu is held across a refresh, so concurrent callers share one grant.
	mu          sync.Mutex
	token       string
	instanceURL string
	// revoked is the grant's permanent failure (invalid_grant): the refresh token itself
	// must be replaced.
	revoked error
}

var _ crm.TokenSource = (*RefreshTokenSource)(nil)

// NewRefreshTokenSource returns a source; it makes no request.
func NewRefreshTokenSource(opts RefreshTokenOptions) (*RefreshTokenSource, error) {
	if opts.TokenURL == "" {
		opts.TokenURL = DefaultTokenURL
	}
	u, err := url.Parse(opts.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("salesforce token URL %q: want an http:// or https:// URL", opts.TokenURL)
	}
	if opts.ClientID == "" || opts.RefreshToken == "" {
		return nil, fmt.Errorf("salesforce OAuth: client id and refresh token are required")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "crmsync"
	}
	return &RefreshTokenSource{opts: opts, http: hc}, nil
}

// Token returns the current access token, refreshing it first when there is none.
func (s *RefreshTokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" {
		return s.token, nil
	}
	if s.revoked != nil {
		return "", s.revoked
	}
	if err := s.refresh(ctx); err != nil {
		return "", err
	}
	return s.token, nil
}

// Expired drops tok if it is still the current token, so the next Token call refreshes.
// It reports false once the refresh token has been refused: only a human can fix that.
func (s *RefreshTokenSource) Expired(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked != nil {
		return false
	}
	if tok == s.token {
		s.token = ""
	}
	return true
}

// InstanceURL is the org's instance URL from the last token response ("" before one).
func (s *RefreshTokenSource) InstanceURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instanceURL
}

// refresh makes one token request; s.mu is held.
func (s *RefreshTokenSource) refresh(ctx context.Context) error {
	const endpoint = "POST /services/oauth2/token"
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {s.opts.RefreshToken},
		"client_id":     {s.opts.ClientID},
	}
	if s.opts.ClientSecret != "" {
		form.Set("client_secret", s.opts.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%s: building request: %w", endpoint, withoutURL(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.opts.UserAgent)
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", endpoint, withoutURL(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		e := &crm.APIError{Status: resp.StatusCode, Endpoint: endpoint, Kind: crm.KindInvalid}
		if eb, ok := parseErrorBody(raw); ok && isJSON(resp.Header.Get("Content-Type")) {
			e.Category = truncate(printable(eb.ErrorCode), 100)
			e.Message = truncate(printable(eb.Message), 300)
		} else {
			e.Message = describeBody(resp.Header.Get("Content-Type"), raw)
		}
		switch {
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			e.Kind = crm.KindUnavailable
		case e.Category == "invalid_grant" || e.Category == "invalid_client_id" || e.Category == "invalid_client" ||
			resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			// The refresh token was revoked or expired, or the app is wrong: permanent.
			e.Kind = crm.KindUnauthorized
			s.revoked = e
		}
		return e
	}
	var body struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.AccessToken == "" {
		return &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: "the token response has no access_token"}
	}
	s.token, s.instanceURL = body.AccessToken, body.InstanceURL
	return nil
}

package crmsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The simulator speaks every CRM crmsync supports at once, each on its own real paths,
// over the one seeded dataset: HubSpot at /crm/..., Salesforce at /services/..., Pipedrive
// at /api/v2/... and /v1/..., Zoho CRM at /crm/v8/... (and the OAuth token endpoints each
// CRM's account server would serve). A connector pointed at the simulator's address finds
// the paths it would find at the real CRM; Options.Tokens are accepted by every dialect.

// Provider names, as in the integration config.
const (
	ProviderHubSpot    = "hubspot"
	ProviderSalesforce = "salesforce"
	ProviderPipedrive  = "pipedrive"
	ProviderZoho       = "zoho"
)

// Providers lists the dialects the simulator speaks.
func Providers() []string {
	return []string{ProviderHubSpot, ProviderSalesforce, ProviderPipedrive, ProviderZoho}
}

// dialectRoutes mounts the non-HubSpot dialects. More specific patterns win in ServeMux,
// so Zoho's /crm/v8/ is served by Zoho and the rest of /crm/ by HubSpot.
func (s *Sim) dialectRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/services/", s.serveSalesforce)
	mux.HandleFunc("/api/v2/", s.servePipedrive)
	mux.HandleFunc("/v1/", s.servePipedrive)
	mux.HandleFunc("/oauth/token", s.servePipedriveToken)
	mux.HandleFunc("/crm/v8/", s.serveZoho)
	mux.HandleFunc("/oauth/v2/token", s.serveZohoToken)
}

// SnapshotFor returns the ground truth for object as provider's API renders it: its ids,
// field names and timestamp precision. Property values are the API's JSON values: a string
// as itself, any other non-null value as its compact JSON text, null as "".
func (s *Sim) SnapshotFor(provider, object string) ([]Record, error) {
	switch provider {
	case ProviderHubSpot, "":
		return s.Snapshot(object)
	case ProviderSalesforce:
		return s.salesforceSnapshot(object)
	case ProviderPipedrive:
		return s.pipedriveSnapshot(object)
	case ProviderZoho:
		return s.zohoSnapshot(object)
	}
	return nil, fmt.Errorf("snapshot: unknown provider %q", provider)
}

// accessTokens issues and checks the OAuth access tokens of every dialect's refresh-token
// grant. A refresh token is one of Options.Tokens; the access tokens issued for it share
// its rate-limit buckets, as a real CRM counts calls per app or user, not per token.
type accessTokens struct {
	mu     sync.Mutex
	issued map[string]issuedToken
	count  int
}

type issuedToken struct {
	tok     int // index of the refresh token in Options.Tokens
	expires time.Time
}

// TokenStatus is what the simulator knows of a presented access token.
type tokenStatus int

const (
	tokenUnknown tokenStatus = iota
	tokenValid
	tokenExpired
)

// errUnknownRefreshToken is the refresh grant's answer to a token it never issued.
var errUnknownRefreshToken = errors.New("unknown refresh token")

// issueAccessToken exchanges a refresh token for a new access token that expires after
// Options.AccessTokenTTL. Every call issues a different token, as real CRMs do.
func (s *Sim) issueAccessToken(refresh string, now time.Time) (token string, expires time.Time, err error) {
	i, ok := s.tokens[strings.TrimSpace(refresh)]
	if !ok {
		return "", time.Time{}, errUnknownRefreshToken
	}
	at := &s.access
	at.mu.Lock()
	defer at.mu.Unlock()
	if at.issued == nil {
		at.issued = map[string]issuedToken{}
	}
	at.count++
	token = fmt.Sprintf("simat-%d-%s", at.count, newUUID())
	expires = now.Add(s.opts.AccessTokenTTL)
	at.issued[token] = issuedToken{tok: i, expires: expires}
	return token, expires, nil
}

// checkToken resolves a presented credential: one of Options.Tokens (a static API token
// or a personal access token, which never expires), or an access token issued by a
// refresh grant.
func (s *Sim) checkToken(token string, now time.Time) (int, tokenStatus) {
	token = strings.TrimSpace(token)
	if i, ok := s.tokens[token]; ok {
		return i, tokenValid
	}
	at := &s.access
	at.mu.Lock()
	defer at.mu.Unlock()
	it, ok := at.issued[token]
	switch {
	case !ok:
		return 0, tokenUnknown
	case !now.Before(it.expires):
		return it.tok, tokenExpired
	}
	return it.tok, tokenValid
}

// RefreshGrants counts the access tokens issued by refresh grants, so tests can check that
// many callers seeing one expiry refresh the token once.
func (s *Sim) RefreshGrants() int {
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	return s.access.count
}

// snapshotValue is SnapshotFor's rendering of a JSON value: a string as itself, null as "",
// anything else as its compact JSON text.
func snapshotValue(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

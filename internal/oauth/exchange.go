package oauth

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

const (
	// maxBody caps the token response read: a real one is well under a kilobyte.
	maxBody = 1 << 20
	// maxRetryAfter caps the wait a 429 asks for, so a huge value cannot overflow.
	maxRetryAfter = time.Hour
	// defaultRetryAfter is the wait after a 429 that named none.
	defaultRetryAfter = 10 * time.Second
	// zohoThrottleWait is the wait after Zoho's "Access Denied": it allows ten access
	// tokens per refresh token in ten minutes and blocks the rest of the window, whose
	// start we cannot know; retrying each minute costs little while blocked.
	zohoThrottleWait = time.Minute
	// maxLifetime caps expires_in, so a huge value cannot overflow a time.Time.
	maxLifetime = 365 * 24 * time.Hour
)

// tokenResponse is a token endpoint's answer, success or error (RFC 6749 sections 5.1
// and 5.2, plus the CRMs' extensions).
type tokenResponse struct {
	AccessToken  string  `json:"access_token"`
	ExpiresIn    seconds `json:"expires_in"`
	RefreshToken string  `json:"refresh_token"`
	// ExpiresInSec is sent by older Zoho accounts servers, whose expires_in is then in
	// milliseconds.
	ExpiresInSec seconds `json:"expires_in_sec"`
	// InstanceURL is where Salesforce says the org's API lives.
	InstanceURL string `json:"instance_url"`
	// APIDomain is where Zoho and Pipedrive say the account's API lives.
	APIDomain string `json:"api_domain"`

	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// lifetime is how long the access token lives; 0 when the response does not say
// (Salesforce never does), which means until the CRM rejects it.
func (t tokenResponse) lifetime() time.Duration {
	if t.ExpiresInSec > 0 {
		return time.Duration(t.ExpiresInSec)
	}
	return time.Duration(t.ExpiresIn)
}

// apiBase is the API base URL the response names, if it is a usable absolute URL.
func (t tokenResponse) apiBase() string {
	for _, s := range []string{t.InstanceURL, t.APIDomain} {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if u, err := url.Parse(s); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			return s
		}
	}
	return ""
}

// seconds is a JSON count of seconds, as a number or a numeric string, held as a
// Duration; anything else, or a value out of range, is 0 (unknown).
type seconds time.Duration

// UnmarshalJSON accepts 3600, 3600.0 and "3600".
func (s *seconds) UnmarshalJSON(b []byte) error {
	*s = 0
	v := strings.Trim(string(b), `"`)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return nil
	}
	if f >= maxLifetime.Seconds() {
		*s = seconds(maxLifetime)
		return nil
	}
	*s = seconds(f * float64(time.Second))
	return nil
}

// exchange sends one refresh-token grant and classifies the answer. oldAccess, the
// token being replaced, is passed only so that no error can echo it.
func (r *Refresher) exchange(ctx context.Context, refreshToken, oldAccess string) (tokenResponse, *crm.APIError) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	if r.scope != "" {
		form.Set("scope", r.scope)
	}
	if r.auth == ClientAuthForm {
		form.Set("client_id", r.clientID)
		form.Set("client_secret", r.clientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		// The URL was checked by NewRefresher; the error quotes nothing secret.
		return tokenResponse{}, r.fail(crm.KindInvalid, 0, "", "building the refresh request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if r.auth == ClientAuthBasic {
		// RFC 6749 section 2.3.1: both parts are form-encoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(r.clientID), url.QueryEscape(r.clientSecret))
	}

	resp, err := r.client.Do(req)
	if err != nil {
		// *url.Error names the token URL, which holds no secret (NewRefresher saw to it).
		return tokenResponse{}, r.fail(crm.KindUnavailable, 0, "", "no response from "+r.host, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return tokenResponse{}, r.fail(crm.KindUnavailable, resp.StatusCode, "", "reading the token response from "+r.host, err)
	}

	var body tokenResponse
	parseErr := json.Unmarshal(raw, &body)
	scrub := newScrubber(r.clientSecret, r.initialToken, refreshToken, oldAccess, body.AccessToken, body.RefreshToken)
	code := scrub.clean(body.Error, 64)
	desc := scrub.clean(body.ErrorDescription, 300)
	status := resp.StatusCode
	switch {
	case status == http.StatusTooManyRequests:
		e := r.fail(crm.KindRateLimited, status, code, r.host+" is rate limiting token refreshes", nil)
		e.RetryAfter = cmp.Or(retryAfter(resp.Header.Get("Retry-After"), r.now()), defaultRetryAfter)
		return tokenResponse{}, e
	case status >= 500:
		msg := r.host + " failed to refresh the token"
		if code != "" {
			msg += ": " + describe(code, desc)
		}
		return tokenResponse{}, r.fail(crm.KindUnavailable, status, code, msg, nil)
	case code != "":
		kind, wait := oauthErrorKind(code, status)
		e := r.fail(kind, status, code, r.host+" rejected the token refresh: "+describe(code, desc), nil)
		e.RetryAfter = wait
		return tokenResponse{}, e
	case status/100 == 2:
		if parseErr != nil {
			// The body is not quoted: a proxy's page might echo the request.
			return tokenResponse{}, r.fail(crm.KindUnavailable, status, "",
				fmt.Sprintf("unparseable token response from %s: %s", r.host, describeBody(resp.Header.Get("Content-Type"), raw)), nil)
		}
		if body.AccessToken == "" {
			return tokenResponse{}, r.fail(crm.KindUnavailable, status, "", "token response from "+r.host+" has no access_token", nil)
		}
		return body, nil
	default:
		return tokenResponse{}, r.fail(statusKind(status), status, "",
			fmt.Sprintf("%s refused the token refresh: %s", r.host, describeBody(resp.Header.Get("Content-Type"), raw)), nil)
	}
}

// fail builds the APIError of a failed refresh. Messages name the host, never the secrets.
func (r *Refresher) fail(kind crm.Kind, status int, code, msg string, err error) *crm.APIError {
	return &crm.APIError{Kind: kind, Status: status, Endpoint: r.endpoint, Category: code, Message: msg, Err: err}
}

// oauthErrorKind classifies an OAuth error code, and says how long to wait before trying
// again when the code is a throttle.
func oauthErrorKind(code string, status int) (crm.Kind, time.Duration) {
	switch strings.ToLower(code) {
	case "invalid_grant", "invalid_client", "invalid_code", "unauthorized_client":
		// The refresh token is expired or revoked, or the client credentials are wrong
		// (Zoho says invalid_code for a bad refresh token, with HTTP 200).
		return crm.KindUnauthorized, 0
	case "access denied", "access_denied":
		// Zoho's answer, with HTTP 200, once ten access tokens were issued from one refresh
		// token in ten minutes (zoho.com/crm/developer/docs/api/v8/token-validity.html).
		return crm.KindRateLimited, zohoThrottleWait
	case "temporarily_unavailable", "server_error":
		return crm.KindUnavailable, 0
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return crm.KindUnauthorized, 0
	}
	// invalid_request, unsupported_grant_type, invalid_scope, unknown codes: the request
	// as configured will not be accepted.
	return crm.KindInvalid, 0
}

// statusKind classifies a failed response that carries no OAuth error code.
func statusKind(status int) crm.Kind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return crm.KindUnauthorized
	case status == http.StatusRequestTimeout || status == http.StatusLocked || status == http.StatusTooEarly:
		return crm.KindUnavailable
	case status >= 400 && status < 500:
		return crm.KindInvalid
	default:
		// 1xx and 3xx (a redirect not followed) are no answer to the request.
		return crm.KindUnavailable
	}
}

// describe joins an OAuth error code and its description.
func describe(code, desc string) string {
	if desc == "" {
		return code
	}
	return code + " (" + desc + ")"
}

// describeBody describes a body without quoting it.
func describeBody(contentType string, raw []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "" {
		mt = "untyped"
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return "empty " + mt + " body"
	}
	return fmt.Sprintf("%d-byte %s body", len(raw), mt)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date; 0 when absent or
// invalid.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// scrubber removes secrets from text the token endpoint sent, before it goes into an
// error: a server that echoes the request must not leak the refresh token into logs.
type scrubber struct{ r *strings.Replacer }

func newScrubber(secrets ...string) scrubber {
	// Longest first: the replacer tries its pairs in order, and a secret that begins
	// another must not leave the other's tail behind.
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	return scrubber{strings.NewReplacer(pairs...)}
}

// clean scrubs s, makes it one printable line and truncates it to n bytes.
func (s scrubber) clean(text string, n int) string {
	text = s.r.Replace(strings.TrimSpace(text))
	text = strings.Map(func(c rune) rune {
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, text)
	if len(text) > n {
		// Truncating after scrubbing cannot cut a secret in half and leave a prefix of it,
		// because no secret is left to cut.
		text = strings.ToValidUTF8(text[:n], "") + "..."
	}
	return text
}

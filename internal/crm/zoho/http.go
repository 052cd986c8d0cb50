package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// maxBody bounds what one response may hold: a page of 200 records with 50 fields is well
// under a few megabytes.
const maxBody = 64 << 20

// Waits for a 429 that names none. Zoho documents no Retry-After and v8 does not reliably
// send X-RATELIMIT-* headers, so the connector picks them:
//   - the concurrency cap (TOO_MANY_REQUESTS) clears as soon as one of the app's calls in
//     flight finishes, which takes a request's time: a couple of seconds;
//   - spent credits come back as the calls of the rolling 24 hours age out, at the rate they
//     were spent: an hour gives back a twenty-fourth of a steadily used allowance, without
//     stalling a sync for a whole day.
const (
	concurrencyWait = 2 * time.Second
	creditsWait     = time.Hour
	// maxRetryAfter caps any wait the CRM names: credits come back within a day.
	maxRetryAfter = 24 * time.Hour
)

// Error codes the connector branches on.
const (
	codeTooManyRequests = "TOO_MANY_REQUESTS"
	// The credit-exhaustion code is UNCONFIRMED: the OAS lists both, so both count as daily.
	codeLimitReached  = "LIMIT_REACHED"
	codeLimitExceeded = "LIMIT_EXCEEDED"
	codeScopeMismatch = "OAUTH_SCOPE_MISMATCH"
)

// errorBody is Zoho's error envelope: {"code","details","message","status"}.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// do sends one GET and decodes a 200 JSON body into out. 204 and 304 return their status
// with out untouched. Any other outcome becomes a *crm.APIError (or, when no response
// arrived, the transport's error wrapped with the endpoint). The rate-limit headers are
// returned whatever the status.
func (c *Client) do(ctx context.Context, endpoint, path string, query url.Values, header http.Header, out any) (int, crm.RateLimit, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return 0, crm.RateLimit{}, fmt.Errorf("%s: getting an access token: %w", endpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return 0, crm.RateLimit{}, fmt.Errorf("%s: building request: %w", endpoint, err)
	}
	req.URL.RawQuery = query.Encode()
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	crm.ReportCall(ctx, endpoint, resp)
	if err != nil {
		// The transport's error names the URL with its query (field names, page tokens);
		// the endpoint alone is enough to act on.
		// The query string must not reach an error, so the *url.Error is unwrapped.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, crm.RateLimit{}, fmt.Errorf("%s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	rl := parseRateLimit(resp.Header)
	c.noteTokenReset(resp.Header)

	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		return resp.StatusCode, rl, nil
	case resp.StatusCode != http.StatusOK:
		return resp.StatusCode, rl, c.errorFromResponse(endpoint, resp, raw, rl, tok)
	case readErr != nil:
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: "reading response body", RateLimit: rl, Err: readErr}
	case len(raw) > maxBody:
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: fmt.Sprintf("response body larger than %d bytes", maxBody), RateLimit: rl}
	case !crm.IsJSON(resp.Header.Get("Content-Type")):
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: "expected JSON, got " + crm.DescribeBody(resp.Header.Get("Content-Type"), raw), RateLimit: rl}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: fmt.Sprintf("malformed JSON in a %d-byte body", len(raw)), RateLimit: rl, Err: err}
	}
	return resp.StatusCode, rl, nil
}

// errorFromResponse turns a non-200 response into a classified error.
func (c *Client) errorFromResponse(endpoint string, resp *http.Response, raw []byte, rl crm.RateLimit, tok string) *crm.APIError {
	e := &crm.APIError{Kind: kindOf(resp.StatusCode), Status: resp.StatusCode, Endpoint: endpoint, RateLimit: rl}
	var eb errorBody
	if crm.IsJSON(resp.Header.Get("Content-Type")) && json.Unmarshal(raw, &eb) == nil {
		e.Category = crm.Truncate(crm.Printable(eb.Code), 100)
		e.Message = crm.Truncate(crm.Printable(eb.Message), 500)
	} else {
		e.Message = crm.DescribeBody(resp.Header.Get("Content-Type"), raw)
	}
	switch e.Kind {
	case crm.KindUnauthorized:
		// An expired or revoked access token answers 401 INVALID_TOKEN; a token without
		// the scope answers OAUTH_SCOPE_MISMATCH, which a new token does not fix.
		if resp.StatusCode == http.StatusUnauthorized && e.Category != codeScopeMismatch && c.tokens.Expired(tok) {
			e.Kind = crm.KindTokenExpired
		}
	case crm.KindRateLimited:
		e.Policy = crm.PolicyWindow
		if e.Category == codeLimitReached || e.Category == codeLimitExceeded || (rl.DailyKnown && rl.DailyRemaining == 0) {
			e.Policy = crm.PolicyDaily
		}
	}
	e.RetryAfter = retryAfter(resp, e.Policy)
	return e
}

func kindOf(status int) crm.Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return crm.KindRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return crm.KindUnauthorized
	case status == http.StatusRequestTimeout || status == http.StatusLocked || status >= 500:
		return crm.KindUnavailable
	case status >= 400:
		return crm.KindInvalid
	default:
		return crm.KindUnknown
	}
}

// retryAfter is how long Zoho asked us to wait: Retry-After when present; on a 429
// without it, the legacy X-RATELIMIT-RESET instant for credits, else the waits above.
func retryAfter(resp *http.Response, policy string) time.Duration {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			if secs >= float64(maxRetryAfter/time.Second) {
				return maxRetryAfter
			}
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(time.Until(t), 0), maxRetryAfter)
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0
	}
	if policy == crm.PolicyDaily {
		if at, ok := resetInstant(resp.Header); ok {
			if d := time.Until(at); d > 0 {
				return min(d, maxRetryAfter)
			}
		}
		return creditsWait
	}
	return concurrencyWait
}

// resetInstant reads X-RATELIMIT-RESET, epoch milliseconds in Zoho's legacy SDKs (seconds
// are accepted too).
func resetInstant(h http.Header) (time.Time, bool) {
	v := strings.TrimSpace(h.Get("X-RATELIMIT-RESET"))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > 1e14 {
		return time.Time{}, false
	}
	if n < 1e11 { // seconds: 1e11 s is the year 5138
		return time.Unix(n, 0), true
	}
	return time.UnixMilli(n), true
}

// parseRateLimit reads the legacy X-RATELIMIT-* headers into the daily fields: Zoho's
// only allowance is its credits per rolling day. DAY-LIMIT/DAY-REMAINING win; LIMIT/
// REMAINING stand in for them when alone. Zoho has no short window, so the window
// fields stay unknown.
func parseRateLimit(h http.Header) crm.RateLimit {
	var rl crm.RateLimit
	for _, pair := range [][2]string{
		{"X-RATELIMIT-DAY-LIMIT", "X-RATELIMIT-DAY-REMAINING"},
		{"X-RATELIMIT-LIMIT", "X-RATELIMIT-REMAINING"},
	} {
		lim, ok1 := crm.HeaderInt(h, pair[0])
		rem, ok2 := crm.HeaderInt(h, pair[1])
		if ok1 && ok2 {
			rl.DailyKnown, rl.DailyMax, rl.DailyRemaining = true, lim, rem
			break
		}
	}
	return rl
}

// noteTokenReset keeps the latest X-ACCESSTOKEN-RESET: when Zoho says the access token in
// use stops working.
func (c *Client) noteTokenReset(h http.Header) {
	v := strings.TrimSpace(h.Get("X-ACCESSTOKEN-RESET"))
	if v == "" {
		return
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		c.tokenReset.Store(t.UnixNano())
	}
}

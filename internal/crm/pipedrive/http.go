package pipedrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// maxBody bounds what one response may hold. A page of 500 deals with every custom field is
// a few megabytes; anything far larger is not a page.
const maxBody = 64 << 20

// burstWindow is the length of Pipedrive's rolling burst window (reference 3.5: "per token,
// rolling 2-second window"). The x-ratelimit-* headers describe it.
const burstWindow = 2 * time.Second

// maxRetryAfter caps a told wait: the daily budget resets at the latest a day later, and a
// huge header must not overflow a Duration.
const maxRetryAfter = 24 * time.Hour

// Rate-limit header names (reference 3.5).
const (
	headerLimit     = "x-ratelimit-limit"
	headerRemaining = "x-ratelimit-remaining"
	headerReset     = "x-ratelimit-reset"
	// headerDailyTokens is the daily token budget left. UNCONFIRMED: reported by a
	// third-party client as observed on a sandbox, not in Pipedrive's docs.
	headerDailyTokens = "x-daily-ratelimit-token-remaining"
)

// errorBody is Pipedrive's error shape: {"success":false,"error":"...","errorCode":429,
// "error_info":"..."}. Only the leading "success": false is documented for the 429; the
// rest is UNCONFIRMED, so every field is optional.
type errorBody struct {
	Success   *bool           `json:"success"`
	Error     string          `json:"error"`
	ErrorCode json.RawMessage `json:"errorCode"`
	ErrorInfo string          `json:"error_info"`
}

// do sends one GET and decodes a 2xx JSON body into out. Any other outcome becomes a
// *crm.APIError (or, when no response arrived, the transport's error without the URL). The
// rate-limit headers are returned whatever the status.
func (c *Client) do(ctx context.Context, endpoint, path string, query url.Values, out any) (crm.RateLimit, error) {
	return c.send(ctx, endpoint, path, query, out, nil)
}

// send is do with a hook that sees the response headers of any response.
func (c *Client) send(ctx context.Context, endpoint, path string, query url.Values, out any, headers func(http.Header)) (crm.RateLimit, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return crm.RateLimit{}, fmt.Errorf("%s: getting an access token: %w", endpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return crm.RateLimit{}, fmt.Errorf("%s: building request: %w", endpoint, err)
	}
	if len(query) > 0 {
		req.URL.RawQuery = query.Encode()
	}
	// The credential travels in a header, never as ?api_token=: query strings end up in
	// proxy and server logs.
	if c.oauth {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else {
		req.Header.Set("x-api-token", tok)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	crm.ReportCall(ctx, endpoint, resp)
	if err != nil {
		// *url.Error names the URL, whose query holds cursors and ids: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			return crm.RateLimit{}, fmt.Errorf("%s: %w", endpoint, ue.Err)
		}
		return crm.RateLimit{}, fmt.Errorf("%s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	rl := c.parseRateLimit(resp.Header)
	if headers != nil {
		headers(resp.Header)
	}

	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return rl, c.errorFromResponse(endpoint, tok, resp, raw, rl)
	}
	bad := func(msg string, err error) error {
		return &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: msg, RateLimit: rl, Err: err}
	}
	switch {
	case readErr != nil:
		return rl, bad("reading response body", readErr)
	case len(raw) > maxBody:
		return rl, bad(fmt.Sprintf("response body larger than %d bytes", maxBody), nil)
	case !crm.IsJSON(resp.Header.Get("Content-Type")):
		return rl, bad("expected JSON, got "+crm.DescribeBody(resp.Header.Get("Content-Type"), raw), nil)
	}
	var env struct {
		Success *bool  `json:"success"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return rl, bad(fmt.Sprintf("malformed JSON in a %d-byte body", len(raw)), err)
	}
	if env.Success != nil && !*env.Success {
		// A 2xx that says it failed: Pipedrive pairs "success": false with an error status,
		// so this is a proxy or a bug, worth another try.
		return rl, bad("success is false: "+crm.Truncate(crm.Printable(env.Error), 200), nil)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return rl, bad(fmt.Sprintf("unexpected JSON in a %d-byte body", len(raw)), err)
	}
	return rl, nil
}

// errorFromResponse turns a non-2xx response into a classified error.
func (c *Client) errorFromResponse(endpoint, tok string, resp *http.Response, raw []byte, rl crm.RateLimit) *crm.APIError {
	e := &crm.APIError{Status: resp.StatusCode, Endpoint: endpoint, RateLimit: rl}
	jsonBody := crm.IsJSON(resp.Header.Get("Content-Type"))
	var eb errorBody
	if jsonBody && json.Unmarshal(raw, &eb) == nil {
		e.Message = crm.Truncate(crm.Printable(eb.Error), 500)
		if code := strings.Trim(string(eb.ErrorCode), `"`); code != "" && code != "null" {
			e.Category = crm.Truncate(crm.Printable(code), 40)
		}
	} else {
		jsonBody = false
		e.Message = crm.DescribeBody(resp.Header.Get("Content-Type"), raw)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.Kind = crm.KindRateLimited
		e.Policy, e.RetryAfter = c.rateLimitWait(resp.Header, eb.Error, rl)
	case s == http.StatusUnauthorized:
		// Expired is asked even for a static token: it answers false, and only the source
		// knows whether another token can be had.
		e.Kind = crm.KindUnauthorized
		if c.tokens.Expired(tok) {
			e.Kind = crm.KindTokenExpired
		}
	case s == http.StatusForbidden && !jsonBody:
		// Reference 3.5: an api_token integration that keeps calling after 429s gets a 403
		// with Cloudflare's HTML page. That is a ban to wait out, not a bad credential.
		e.Kind, e.Policy = crm.KindRateLimited, crm.PolicyWindow
		e.RetryAfter, _ = retryAfterHeader(resp.Header)
	case s == http.StatusForbidden:
		e.Kind = crm.KindUnauthorized
	case s == http.StatusRequestTimeout || s == http.StatusLocked || s >= 500:
		e.Kind = crm.KindUnavailable
		e.RetryAfter, _ = retryAfterHeader(resp.Header)
	case s >= 400:
		e.Kind = crm.KindInvalid
	default:
		// 1xx and 3xx: the client follows redirects, so one reaching us is a broken proxy.
		e.Kind = crm.KindUnavailable
	}
	return e
}

// rateLimitWait decides which limit a 429 is from and how long it asked us to wait:
// Retry-After when sent (UNCONFIRMED that Pipedrive sends it), else, for the burst window,
// x-ratelimit-reset, else, for the daily budget, until the next midnight UTC by the server's
// clock (its Date header; reference 3.5: the budget resets at midnight, and the daily
// header is "calculated in UTC").
func (c *Client) rateLimitWait(h http.Header, message string, rl crm.RateLimit) (string, time.Duration) {
	policy := crm.PolicyWindow
	switch {
	case rl.DailyKnown && rl.DailyRemaining == 0:
		policy = crm.PolicyDaily
	case rl.WindowKnown && rl.Remaining > 0:
		// The burst window had room: the daily budget is what ran out.
		policy = crm.PolicyDaily
	case !rl.WindowKnown && crm.ContainsFold(message, "daily"):
		policy = crm.PolicyDaily
	}
	if d, ok := retryAfterHeader(h); ok {
		return policy, d
	}
	if policy == crm.PolicyDaily {
		now, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			// Without the server's clock the reset instant is unknown; the caller decides.
			return policy, 0
		}
		now = now.UTC()
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
		return policy, midnight.Sub(now)
	}
	if secs, ok := crm.HeaderInt(h, headerReset); ok {
		return policy, min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	// The rolling window frees a slot at the latest one window after our last call.
	return policy, burstWindow
}

// retryAfterHeader reads Retry-After, in seconds or as an HTTP date.
func retryAfterHeader(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsNaN(secs) {
		if secs >= float64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		now := time.Now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			now = d // the server's clock, which the date was written by
		}
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

// parseRateLimit reads the burst window (x-ratelimit-limit and -remaining: requests per
// 2 s per token) and the daily token budget left (x-daily-ratelimit-token-remaining, in
// tokens, not calls: a list call costs 20). DailyMax is the budget configured in Options,
// since no header reports it. x-daily-requests-left counts POST/PUT requests only, which
// crmsync never makes, so it is not reported.
func (c *Client) parseRateLimit(h http.Header) crm.RateLimit {
	var rl crm.RateLimit
	maxV, okMax := crm.HeaderInt(h, headerLimit)
	rem, okRem := crm.HeaderInt(h, headerRemaining)
	if okMax && okRem {
		rl.WindowKnown = true
		rl.Max, rl.Remaining, rl.Interval = maxV, rem, burstWindow
	}
	if left, ok := crm.HeaderInt(h, headerDailyTokens); ok {
		rl.DailyKnown = true
		rl.DailyRemaining = left
		rl.DailyMax = max(c.dailyTokens, left)
	}
	return rl
}

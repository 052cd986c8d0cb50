package hubspot

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// maxBody bounds what one response may hold. A HubSpot page of 200 records with a few
// hundred properties is a few megabytes; anything far larger is not a page.
const maxBody = 64 << 20

// errorBody is the union of HubSpot's error shapes: the generic Error (category, message,
// correlationId) and the rate-limit body (errorType, policyName). The docs say to treat
// every field as optional.
type errorBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	Category      string `json:"category"`
	SubCategory   string `json:"subCategory"`
	ErrorType     string `json:"errorType"`
	PolicyName    string `json:"policyName"`
	CorrelationID string `json:"correlationId"`
}

// do sends one request and decodes a 2xx JSON body into out. Any other outcome becomes a
// *crm.APIError (or, when no response arrived, the transport's error wrapped with the
// endpoint). The rate-limit headers are returned whatever the status.
func (c *Client) do(ctx context.Context, method, endpoint, path string, query map[string]string, body any, out any, accept ...int) (int, crm.RateLimit, error) {
	var reqBody io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, crm.RateLimit{}, fmt.Errorf("%s: encoding request: %w", endpoint, err)
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, reqBody)
	if err != nil {
		return 0, crm.RateLimit{}, fmt.Errorf("%s: building request: %w", endpoint, err)
	}
	if len(query) > 0 {
		q := req.URL.Query()
		for k, v := range query {
			q.Set(k, v)
		}
		req.URL.RawQuery = q.Encode()
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	crm.ReportCall(ctx, endpoint, resp)
	if err != nil {
		// Transport failures (refused, reset, timeout) carry the URL, which holds no secret:
		// the token travels in a header.
		return 0, crm.RateLimit{}, fmt.Errorf("%s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	rl := parseRateLimit(resp.Header)
	if resp.StatusCode == http.StatusRequestURITooLong || resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		c.uriBudget.Refused(len(req.URL.RequestURI()))
	}

	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && len(accept) > 0 {
		ok = false
		for _, s := range accept {
			ok = ok || s == resp.StatusCode
		}
	}
	if !ok {
		return resp.StatusCode, rl, errorFromResponse(endpoint, resp, raw, rl)
	}
	if readErr != nil {
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: "reading response body", RateLimit: rl, Err: readErr}
	}
	if len(raw) > maxBody {
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: fmt.Sprintf("response body larger than %d bytes", maxBody), RateLimit: rl}
	}
	if out == nil {
		return resp.StatusCode, rl, nil
	}
	if !crm.IsJSON(resp.Header.Get("Content-Type")) {
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: "expected JSON, got " + crm.DescribeBody(resp.Header.Get("Content-Type"), raw), RateLimit: rl,
			CorrelationID: resp.Header.Get("X-HubSpot-Correlation-Id")}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			Message: fmt.Sprintf("malformed JSON in a %d-byte body", len(raw)), RateLimit: rl,
			CorrelationID: resp.Header.Get("X-HubSpot-Correlation-Id"), Err: err}
	}
	return resp.StatusCode, rl, nil
}

// errorFromResponse turns a non-2xx response into a classified error.
func errorFromResponse(endpoint string, resp *http.Response, raw []byte, rl crm.RateLimit) *crm.APIError {
	e := &crm.APIError{
		Kind:          kindOf(resp.StatusCode),
		Status:        resp.StatusCode,
		Endpoint:      endpoint,
		CorrelationID: resp.Header.Get("X-HubSpot-Correlation-Id"),
		RateLimit:     rl,
	}
	var eb errorBody
	if crm.IsJSON(resp.Header.Get("Content-Type")) && json.Unmarshal(raw, &eb) == nil {
		e.Message = crm.Truncate(eb.Message, 500)
		e.Category = cmp.Or(eb.Category, eb.ErrorType)
		e.Policy = eb.PolicyName
		if eb.CorrelationID != "" {
			e.CorrelationID = eb.CorrelationID
		}
	} else {
		e.Message = crm.DescribeBody(resp.Header.Get("Content-Type"), raw)
	}
	if e.Kind == crm.KindRateLimited && e.Policy == "" && e.Message == secondlyMessage {
		// The official SDK recognises the search limit by this message alone.
		e.Policy = crm.PolicySecondly
	}
	e.RetryAfter = retryAfter(resp, e.Policy, rl)
	return e
}

// maxRetryAfter caps a Retry-After header: a day is longer than any HubSpot wait (the daily
// allowance resets at the latest a day later), and far below what a Duration can hold.
const maxRetryAfter = 24 * time.Hour

// secondlyMessage is the message of HubSpot's per-second (search) 429.
const secondlyMessage = "You have reached your secondly limit."

func kindOf(status int) crm.Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return crm.KindRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return crm.KindUnauthorized
	case status == http.StatusRequestTimeout || status == http.StatusLocked || status == 477:
		// 423: a record is locked by another write, wait and retry; 477: portal migration
		// in progress, with Retry-After.
		return crm.KindUnavailable
	case status >= 500:
		return crm.KindUnavailable
	case status >= 400:
		return crm.KindInvalid
	default:
		return crm.KindUnknown
	}
}

// retryAfter is how long HubSpot asked us to wait: its Retry-After header when present,
// otherwise what the policy implies. A DAILY 429 gets no delay here: when the day resets
// depends on the account's time zone, which the caller must decide on.
func retryAfter(resp *http.Response, policy string, rl crm.RateLimit) time.Duration {
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			// A huge or infinite value must not overflow into a negative wait.
			if secs >= float64(maxRetryAfter/time.Second) {
				return maxRetryAfter
			}
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
			return 0
		}
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0
	}
	switch policy {
	case crm.PolicyDaily:
		return 0
	case crm.PolicySecondly:
		return time.Second
	default:
		// The rolling window frees a slot at the latest one interval after our last call.
		if rl.WindowKnown && rl.Interval > 0 {
			return rl.Interval
		}
		return 10 * time.Second
	}
}

// parseRateLimit reads X-HubSpot-RateLimit-* headers. Search responses carry none.
func parseRateLimit(h http.Header) crm.RateLimit {
	var rl crm.RateLimit
	maxV, okMax := crm.HeaderInt(h, "X-HubSpot-RateLimit-Max")
	rem, okRem := crm.HeaderInt(h, "X-HubSpot-RateLimit-Remaining")
	if okMax && okRem {
		rl.WindowKnown = true
		rl.Max, rl.Remaining = maxV, rem
		rl.Interval = 10 * time.Second
		// An interval beyond a day is not a rate-limit window (and would overflow a Duration).
		if ms, ok := crm.HeaderInt(h, "X-HubSpot-RateLimit-Interval-Milliseconds"); ok && ms > 0 && ms <= int(24*time.Hour/time.Millisecond) {
			rl.Interval = time.Duration(ms) * time.Millisecond
		}
	}
	day, okDay := crm.HeaderInt(h, "X-HubSpot-RateLimit-Daily")
	dayRem, okDayRem := crm.HeaderInt(h, "X-HubSpot-RateLimit-Daily-Remaining")
	if okDay && okDayRem {
		rl.DailyKnown = true
		rl.DailyMax, rl.DailyRemaining = day, dayRem
	}
	return rl
}

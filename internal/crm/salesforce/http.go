package salesforce

import (
	"bytes"
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

// maxBody bounds what one JSON response may hold: a query page of 2,000 records with a few
// hundred fields is tens of megabytes at most.
const maxBody = 128 << 20

// maxRetryAfter caps a Retry-After header (Salesforce sends none; a proxy might).
const maxRetryAfter = 24 * time.Hour

// PolicyConcurrent names the concurrent long-running request limit in APIError.Policy:
// Salesforce refuses new requests while 25 requests that have run 20 s or more are in
// flight, with the same REQUEST_LIMIT_EXCEEDED as the daily allocation.
const PolicyConcurrent = "CONCURRENT_LONG_RUNNING"

// request is one HTTP call to make.
type request struct {
	method   string
	endpoint string // method and path template, for errors and logs
	path     string // path below the instance URL, with the query string
	body     any    // JSON-encoded when non-nil
	header   map[string]string
	accept   string
}

// send makes one request and returns the response when its status is 2xx, with its body
// unread for the caller to decode or stream (and close). Any other outcome is a
// *crm.APIError, or, when no response arrived, the transport's error without the URL:
// the URL holds the SOQL query.
func (c *Client) send(ctx context.Context, rq request) (*http.Response, crm.RateLimit, error) {
	var body io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return nil, crm.RateLimit{}, fmt.Errorf("%s: encoding request: %w", rq.endpoint, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, c.baseURL+rq.path, body)
	if err != nil {
		return nil, crm.RateLimit{}, fmt.Errorf("%s: building request: %w", rq.endpoint, withoutURL(err))
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, crm.RateLimit{}, fmt.Errorf("%s: getting an access token: %w", rq.endpoint, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if rq.accept != "" {
		req.Header.Set("Accept", rq.accept)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	crm.ReportCall(ctx, rq.endpoint, resp)
	if err != nil {
		return nil, crm.RateLimit{}, fmt.Errorf("%s: %w", rq.endpoint, withoutURL(err))
	}
	rl := parseLimitInfo(resp.Header)
	if resp.StatusCode == http.StatusRequestURITooLong || resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
		c.queryBudget.Refused(len(req.URL.RequestURI()))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, rl, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, rl, c.errorFromResponse(rq.endpoint, tok, resp, raw, rl)
}

// withoutURL drops the URL a *url.Error carries (its query string holds the SOQL, and a
// continuation token is a path), keeping the operation and the cause.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// doJSON makes one request and decodes its 2xx JSON body into out.
func (c *Client) doJSON(ctx context.Context, rq request, out any) (crm.RateLimit, error) {
	resp, rl, err := c.send(ctx, rq)
	if err != nil {
		return rl, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: rq.endpoint,
			Message: "reading response body", RateLimit: rl, Err: err}
	}
	if len(raw) > maxBody {
		return rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: rq.endpoint,
			Message: fmt.Sprintf("response body larger than %d bytes", maxBody), RateLimit: rl}
	}
	if !crm.IsJSON(resp.Header.Get("Content-Type")) {
		return rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: rq.endpoint,
			Message: "expected JSON, got " + crm.DescribeBody(resp.Header.Get("Content-Type"), raw), RateLimit: rl}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: rq.endpoint,
			Message: fmt.Sprintf("malformed JSON in a %d-byte body", len(raw)), RateLimit: rl, Err: err}
	}
	return rl, nil
}

// sfErrorBody is one element of Salesforce's error array; the OAuth server's
// {error, error_description} shape is read into the same struct.
type sfErrorBody struct {
	Message          string `json:"message"`
	ErrorCode        string `json:"errorCode"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// parseErrorBody reads an error body: an array of errors (REST, Bulk API 2.0) or a single
// object (OAuth, some gateways). It reports false when the body is neither.
func parseErrorBody(raw []byte) (sfErrorBody, bool) {
	raw = bytes.TrimSpace(raw)
	var arr []*sfErrorBody
	if json.Unmarshal(raw, &arr) == nil {
		for _, e := range arr {
			if e != nil {
				return *e, true
			}
		}
		return sfErrorBody{}, len(raw) > 0 && raw[0] == '['
	}
	var one sfErrorBody
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &one) == nil {
		if one.ErrorCode == "" {
			one.ErrorCode = one.Error
		}
		if one.Message == "" {
			one.Message = one.ErrorDescription
		}
		return one, true
	}
	return sfErrorBody{}, false
}

// Error codes the client branches on.
const (
	codeRequestLimit   = "REQUEST_LIMIT_EXCEEDED"
	codeInvalidSession = "INVALID_SESSION_ID"
	codeJobNotComplete = "JOB_NOT_COMPLETE"
)

// errorFromResponse turns a non-2xx response into a classified error.
func (c *Client) errorFromResponse(endpoint, tok string, resp *http.Response, raw []byte, rl crm.RateLimit) *crm.APIError {
	e := &crm.APIError{Status: resp.StatusCode, Endpoint: endpoint, RateLimit: rl}
	if eb, ok := parseErrorBody(raw); ok && crm.IsJSON(resp.Header.Get("Content-Type")) {
		e.Category = crm.Truncate(crm.Printable(eb.ErrorCode), 100)
		e.Message = crm.Truncate(crm.Printable(eb.Message), 500)
	} else {
		e.Message = crm.DescribeBody(resp.Header.Get("Content-Type"), raw)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		// INVALID_SESSION_ID: the access token expired or was revoked. Whether another
		// one can be had is the token source's call.
		e.Kind = crm.KindUnauthorized
		if c.tokens.Expired(tok) {
			e.Kind = crm.KindTokenExpired
		}
	case s == http.StatusForbidden && e.Category == codeRequestLimit:
		e.Kind = crm.KindRateLimited
		e.Policy = crm.PolicyDaily
		// The daily allocation and the concurrent long-running limit share the code; the
		// message (UNCONFIRMED text) or the usage header tells them apart.
		if strings.Contains(strings.ToLower(e.Message), "concurrent") && (!rl.DailyKnown || rl.DailyRemaining != 0) {
			e.Policy = PolicyConcurrent
		}
	case s == http.StatusForbidden:
		e.Kind = crm.KindUnauthorized
	case s == http.StatusTooManyRequests:
		e.Kind = crm.KindRateLimited
	case s == http.StatusPreconditionFailed && e.Category == codeJobNotComplete:
		// A Bulk API results call before the job completed: it will complete.
		e.Kind = crm.KindUnavailable
	case s == http.StatusRequestTimeout || s == http.StatusLocked || s >= 500:
		e.Kind = crm.KindUnavailable
	case s >= 400:
		e.Kind = crm.KindInvalid
	default:
		e.Kind = crm.KindUnknown
	}
	// Salesforce asks for no wait (no Retry-After, and the rolling window has no reset);
	// a proxy in front of it might.
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	return e
}

func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		if secs >= float64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// parseLimitInfo reads Sforce-Limit-Info: "api-usage=<used>/<max>" for the rolling 24-hour
// allocation, possibly followed by other entries ("; api-bursts=1/750"). Salesforce has no
// short window, so WindowKnown stays false.
func parseLimitInfo(h http.Header) crm.RateLimit {
	var rl crm.RateLimit
	for _, v := range h.Values("Sforce-Limit-Info") {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "api-usage") {
				continue
			}
			u, m, ok := strings.Cut(val, "/")
			used, err1 := strconv.Atoi(strings.TrimSpace(u))
			limit, err2 := strconv.Atoi(strings.TrimSpace(m))
			if !ok || err1 != nil || err2 != nil || used < 0 || limit < 0 {
				continue
			}
			rl.DailyKnown, rl.DailyMax, rl.DailyRemaining = true, limit, max(0, limit-used)
		}
	}
	return rl
}

// maxSOQL is the longest SOQL statement Salesforce takes: "By default, 100,000
// characters" (Salesforce App Limits Cheatsheet, SOQL and SOSL limits).
const maxSOQL = 100000

// compositeResponse is the Composite API's answer: one element per subrequest.
type compositeResponse struct {
	CompositeResponse []struct {
		Body           json.RawMessage   `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

// compositeQuery runs a query whose URI would be too long for a GET as the one subrequest
// of POST /composite, the Composite API (one API call: "The entire request counts as a
// single call toward your API limits"); the statement travels in the JSON body. The
// subrequest's answer is the query's: its records, or its error with its own status.
func (c *Client) compositeQuery(ctx context.Context, resource, path string, header map[string]string) (queryResult, string, crm.RateLimit, error) {
	endpoint := "POST " + c.dataPath("composite") + " (" + resource + ")"
	type subrequest struct {
		Method      string            `json:"method"`
		URL         string            `json:"url"`
		ReferenceID string            `json:"referenceId"`
		HTTPHeaders map[string]string `json:"httpHeaders,omitempty"`
	}
	body := struct {
		AllOrNone        bool         `json:"allOrNone"`
		CompositeRequest []subrequest `json:"compositeRequest"`
	}{CompositeRequest: []subrequest{{Method: http.MethodGet, URL: path, ReferenceID: "page", HTTPHeaders: header}}}
	var resp compositeResponse
	rl, err := c.doJSON(ctx, request{method: http.MethodPost, endpoint: endpoint, path: c.dataPath("composite"), body: body}, &resp)
	if err != nil {
		return queryResult{}, endpoint, rl, err
	}
	if len(resp.CompositeResponse) != 1 {
		return queryResult{}, endpoint, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
			Message: fmt.Sprintf("%d subrequest answers to one subrequest", len(resp.CompositeResponse))}
	}
	sub := resp.CompositeResponse[0]
	if sub.HTTPStatusCode < 200 || sub.HTTPStatusCode >= 300 {
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range sub.HTTPHeaders {
			h.Set(k, v)
		}
		return queryResult{}, endpoint, rl, c.errorFromResponse(endpoint, "", &http.Response{StatusCode: sub.HTTPStatusCode, Header: h}, sub.Body, rl)
	}
	var res queryResult
	if err := json.Unmarshal(sub.Body, &res); err != nil {
		return queryResult{}, endpoint, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
			Message: fmt.Sprintf("malformed query result in a %d-byte subrequest answer", len(sub.Body)), Err: err}
	}
	return res, endpoint, rl, nil
}

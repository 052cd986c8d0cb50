package crm

import (
	"fmt"
	"strings"
	"time"
)

// Kind classifies a CRM failure by what the caller should do about it.
type Kind int

// The kinds of CRM failure.
const (
	// KindUnknown is a failure that fits no other kind; callers treat it as transient.
	KindUnknown Kind = iota
	// KindRateLimited is a 429 (or a CRM's equivalent): wait as told, then retry.
	KindRateLimited
	// KindUnauthorized is a rejected or under-scoped credential: nothing changes until a
	// human fixes the credential, so retrying only burns quota.
	KindUnauthorized
	// KindInvalid is a request the CRM will never accept as sent (400, 404, 422, ...).
	KindInvalid
	// KindUnavailable is a transient server-side failure (5xx, 423 Locked, ...).
	KindUnavailable
	// KindBadResponse is a success status with a body that cannot be parsed (an HTML page
	// from a proxy, truncated JSON): the next attempt usually succeeds.
	KindBadResponse
	// KindTokenExpired is an OAuth access token the CRM rejected as expired after the
	// TokenSource said it can get another: the next attempt, with a fresh token, succeeds.
	KindTokenExpired
)

// String names the kind for logs and error messages.
func (k Kind) String() string {
	switch k {
	case KindRateLimited:
		return "rate limited"
	case KindUnauthorized:
		return "unauthorized"
	case KindInvalid:
		return "invalid request"
	case KindUnavailable:
		return "unavailable"
	case KindBadResponse:
		return "bad response"
	case KindTokenExpired:
		return "access token expired"
	default:
		return "unknown"
	}
}

// Rate-limit policies that CRMs name in their 429 bodies.
const (
	// PolicyWindow is HubSpot's rolling ten-second bucket (TEN_SECONDLY_ROLLING).
	PolicyWindow = "TEN_SECONDLY_ROLLING"
	// PolicyDaily is the daily allowance (DAILY).
	PolicyDaily = "DAILY"
	// PolicySecondly is HubSpot's per-second search limit.
	PolicySecondly = "SECONDLY"
)

// APIError is a failed CRM call, parsed as far as the response allowed. It never holds the
// credential or the request's query string.
type APIError struct {
	Kind Kind
	// Status is the HTTP status; 0 when no response arrived.
	Status int
	// Endpoint is the method and path template, e.g. "POST /crm/v3/objects/contacts/search".
	Endpoint string
	// Category is the CRM's error category or type, e.g. "VALIDATION_ERROR", "RATE_LIMIT".
	Category string
	// Policy is the rate-limit policy a 429 names (PolicyWindow, PolicyDaily, PolicySecondly).
	Policy string
	// Message is the CRM's message, or a short description of an unparseable body.
	Message string
	// CorrelationID is the CRM's request id, for support tickets.
	CorrelationID string
	// RetryAfter is how long the CRM asked us to wait (Retry-After, or derived from the
	// rate-limit policy and headers). Zero when it said nothing.
	RetryAfter time.Duration
	// RateLimit is what the error response's headers said about the quota.
	RateLimit RateLimit
	// Err is the underlying cause (a JSON syntax error, say), if any.
	Err error
}

// Error describes the failure in one line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Endpoint, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Category != "" {
			fmt.Fprintf(&b, " %s", e.Category)
		}
		if e.Policy != "" {
			fmt.Fprintf(&b, " %s", e.Policy)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " [correlation id %s]", e.CorrelationID)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap exposes the underlying cause.
func (e *APIError) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later without a human's help.
func (e *APIError) Retryable() bool {
	switch e.Kind {
	case KindUnauthorized, KindInvalid:
		return false
	default:
		return true
	}
}

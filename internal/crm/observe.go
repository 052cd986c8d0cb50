package crm

import (
	"context"
	"net/http"
)

// CallObserver is told of each HTTP request a connector sent: the endpoint template (the
// method and path with no ids or query, as in APIError.Endpoint) and the response's
// status, 0 when no response arrived (refused, reset, timed out).
type CallObserver func(endpoint string, status int)

type observerKey struct{}

// WithCallObserver returns a context whose connector calls are reported to obs, the way
// net/http/httptrace reports a request's events: the caller that knows which integration
// a call is for (and so how to label it) observes, and the connectors only report.
func WithCallObserver(ctx context.Context, obs CallObserver) context.Context {
	return context.WithValue(ctx, observerKey{}, obs)
}

// ReportCall tells ctx's CallObserver, if any, that a request to endpoint was answered by
// resp (nil when none arrived). Connectors call it once per request they send.
func ReportCall(ctx context.Context, endpoint string, resp *http.Response) {
	obs, _ := ctx.Value(observerKey{}).(CallObserver)
	if obs == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	obs(endpoint, status)
}

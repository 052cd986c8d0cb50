package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Token returns the cached access token while it is fresh. Otherwise it refreshes it, or
// waits for the refresh another caller started, and returns the new token. A permanent
// failure (a revoked grant, a wrong client secret) is returned again for a while without
// asking the token endpoint; so is a rate-limited one until the wait it asked for ends.
// Failures are *crm.APIError. When ctx ends, Token stops waiting but the refresh goes on
// for the other callers.
func (r *Refresher) Token(ctx context.Context) (string, error) {
	r.mu.Lock()
	now := r.now()
	if r.usableLocked(now) {
		tok := r.access
		r.mu.Unlock()
		return tok, nil
	}
	if err := r.heldFailureLocked(now); err != nil {
		r.mu.Unlock()
		return "", err
	}
	f := r.inflight
	if f == nil {
		if err := ctx.Err(); err != nil {
			// Nobody would wait for a refresh started now.
			r.mu.Unlock()
			return "", fmt.Errorf("refreshing access token: %w", err)
		}
		f = r.startLocked(ctx)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for access token refresh: %w", context.Cause(ctx))
	}
}

// Expired reports that the CRM rejected tok. When tok is the current token, the next
// Token call refreshes; when it was already replaced (other requests reported it first),
// nothing more happens and the next Token call returns its replacement. Expired returns
// false only while a permanent refresh failure is remembered: the credential must be fixed.
func (r *Refresher) Expired(tok string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure != nil && !r.failure.Retryable() && r.now().Before(r.failUntil) {
		return false
	}
	if tok != "" && tok == r.access {
		r.stale = true
	}
	return true
}

// usableLocked reports whether the cached token may be handed out as it is.
func (r *Refresher) usableLocked(now time.Time) bool {
	return r.access != "" && !r.stale && (r.refreshAt.IsZero() || now.Before(r.refreshAt))
}

// heldFailureLocked returns the remembered failure while it holds.
func (r *Refresher) heldFailureLocked(now time.Time) error {
	if r.failure == nil {
		return nil
	}
	if !now.Before(r.failUntil) {
		r.failure = nil
		return nil
	}
	if r.failure.Kind == crm.KindRateLimited {
		// Tell the caller how much of the wait is left, not the whole of it again.
		e := *r.failure
		e.RetryAfter = r.failUntil.Sub(now)
		return &e
	}
	return r.failure
}

// startLocked starts a refresh that every caller arriving before it ends will share. It
// runs on a context detached from the caller's cancellation, so the first caller giving
// up does not fail the refresh for the others; its values (tracing) are kept.
func (r *Refresher) startLocked(ctx context.Context) *refresh {
	f := &refresh{done: make(chan struct{})}
	r.inflight = f
	refreshToken, access := r.refreshToken, r.access
	go r.run(context.WithoutCancel(ctx), f, refreshToken, access)
	return f
}

// run performs one refresh and publishes its outcome to the state and to the waiters.
func (r *Refresher) run(ctx context.Context, f *refresh, refreshToken, oldAccess string) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	sent := r.now() // the lifetime counts from before the request, to err on the early side
	res, apiErr := r.exchange(ctx, refreshToken, oldAccess)

	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(f.done)
	r.inflight = nil
	if apiErr != nil {
		f.token, f.err = r.failedLocked(apiErr, r.now())
		return
	}
	r.installLocked(res, sent)
	f.token = r.access
}

// installLocked makes a successful response the current state.
func (r *Refresher) installLocked(res tokenResponse, sent time.Time) {
	r.access = res.AccessToken
	r.stale = false
	r.failure = nil
	r.expires, r.refreshAt = time.Time{}, time.Time{}
	if life := res.lifetime(); life > 0 {
		r.expires = sent.Add(life)
		r.refreshAt = r.expires.Add(-min(maxMargin, life/marginDivisor))
	}
	if res.RefreshToken != "" {
		r.refreshToken = res.RefreshToken
	}
	if base := res.apiBase(); base != "" {
		r.apiBase = base
	}
}

// failedLocked records a failed refresh and decides what its waiters get: the error, or
// the old token when the refresh was a proactive one and that token is still valid.
func (r *Refresher) failedLocked(err *crm.APIError, now time.Time) (string, error) {
	switch {
	case !err.Retryable():
		r.failure, r.failUntil = err, now.Add(failureHold)
		// A revoked grant usually revokes its access tokens too; make Token say so.
		r.access, r.stale = "", false
		r.expires, r.refreshAt = time.Time{}, time.Time{}
		return "", err
	case err.Kind == crm.KindRateLimited:
		r.failure, r.failUntil = err, now.Add(err.RetryAfter)
	}
	if r.access == "" || r.stale || !r.expires.IsZero() && !now.Before(r.expires) {
		return "", err
	}
	// The token is within its refresh margin but not expired: keep using it, and try
	// again after a pause (or the wait the endpoint asked for) rather than on every call.
	next := now.Add(max(retryValidAfter, err.RetryAfter))
	if !r.expires.IsZero() && next.After(r.expires) {
		next = r.expires
	}
	r.refreshAt = next
	return r.access, nil
}

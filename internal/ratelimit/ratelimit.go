// Package ratelimit turns a CRM quota into the task-queue rate limits that the Temporal
// server enforces across every worker of an integration.
package ratelimit

import (
	"math"

	"github.com/crmsync/crmsync/internal/config"
)

// Rates are the per-second dispatch rates of an integration's task queues.
type Rates struct {
	// API is for calls counted by the rolling window (list, batch read, reference data).
	API float64
	// Search is for search calls, which have their own per-second limit.
	Search float64
}

// ForQuota derives the queues' rates from a quota. One call of the window's limit is kept
// back: a task dispatched by the server reaches the CRM a few milliseconds later, and that
// jitter can squeeze two dispatches that were a full window apart into one window.
func ForQuota(q config.Quota) Rates {
	return Rates{
		API:    MaxRate(q.RequestsPer10s-1, 10),
		Search: MaxRate(q.SearchPerSecond, 1),
	}
}

// MaxRate is the highest dispatch rate (per second) at which the Temporal server's task
// queue limiter can never release more than limit tasks in any window of windowSeconds.
//
// The server's limiter is a token bucket whose burst is ceil(rate) tokens (the dynamic
// config matching.minTaskThrottlingBurstSize, default 1, sets a floor). A bucket that starts
// full releases at most burst + rate*window tasks in a window, so the rate must satisfy
// ceil(r) + window*r <= limit. Trying each burst size k finds the largest such r.
//
// When even one task a window is too many for that inequality (a limit of 1 per second),
// it returns limit/(window+1), the rate at which a full bucket plus refill still fit in
// two windows: the CRM's occasional 429 then does the rest.
func MaxRate(limit int, windowSeconds float64) float64 {
	if limit <= 0 || windowSeconds <= 0 {
		return 0
	}
	best := 0.0
	for k := 1; k <= limit; k++ {
		r := math.Min(float64(k), float64(limit-k)/windowSeconds)
		if r > float64(k-1) && r > best {
			best = r
		}
	}
	if best == 0 {
		return float64(limit) / (windowSeconds + 1)
	}
	return best
}

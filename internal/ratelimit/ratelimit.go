// Package ratelimit turns a CRM quota into the limits crmsync enforces: the task-queue rates
// the Temporal server applies across every worker of an integration, and the exact rolling
// windows the quota ledger keeps in PostgreSQL.
package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/store"
)

// Ledger kinds: the CRM's limits that calls count against.
const (
	// KindWindow is the rolling window (HubSpot: requests per 10 seconds, per app).
	KindWindow = "window"
	// KindSearch is the search endpoint's own per-second limit.
	KindSearch = "search"
)

// Rates are the per-second dispatch rates of an integration's task queues.
type Rates struct {
	// API is for calls counted by the rolling window (list, batch read, reference data).
	API float64
	// Search is for search calls, which have their own per-second limit.
	Search float64
}

// DispatchHeadroom is how far above the quota's average rate the server lets a queue
// dispatch. A rolling window allows a burst of its whole allowance at once; the server's
// limiter is a token bucket (burst ceil(rate)) that, set at the average, paces calls evenly
// and cannot release that burst (measured: 1.39x the window limit at 190 per 10 s), and set
// low enough never to exceed the window on its own (MaxRate) wastes a tenth of the quota.
// So the exact window is the ledger's job (Windows), and the server's limit is a fleet-wide
// backstop: no bug in a worker can dispatch more than this multiple of the quota.
const DispatchHeadroom = 10

// ForQuota derives the queues' rates from a quota: DispatchHeadroom times its average. A
// CRM without a short window (Salesforce, Zoho) gets no server-side API rate (0: the SDK's
// default, unlimited): its limits are the daily allowance and the calls in flight, which
// the ledger keeps.
func ForQuota(q config.Quota) Rates {
	api := float64(q.WindowCalls()) / q.WindowLength().Seconds() * DispatchHeadroom
	return Rates{API: api, Search: float64(q.SearchPerSecond) * DispatchHeadroom}
}

// noWindowCalls stands for "no limit" in the window of a CRM that has no short window: the
// ledger then only keeps the CRM's told waits and daily pauses.
const noWindowCalls = 1 << 20

// Windows are the exact rolling windows the ledger enforces for a quota. The ledger spaces a
// call a full window after the answer of the call the allowance back (the latest the CRM can
// have counted it), so the CRM never sees more than the allowance; one call of the
// ten-second window is kept in hand all the same, and a small margin covers the CRM's
// rounding of its window's edges.
func Windows(q config.Quota) (window, search store.Window) {
	window = store.Window{Calls: max(1, q.WindowCalls()-1), Period: q.WindowLength(), Margin: 20 * time.Millisecond, Learns: true}
	if q.WindowCalls() == 0 {
		window = store.Window{Calls: noWindowCalls, Period: q.WindowLength(), Margin: 20 * time.Millisecond}
	}
	search = store.Window{Calls: q.SearchPerSecond, Period: time.Second, Margin: 20 * time.Millisecond}
	return window, search
}

// CredentialKey names a credential in the ledger without revealing it: every integration
// (and every worker) using the same token against the same CRM shares one ledger, because
// the CRM counts them together.
func CredentialKey(baseURL, token string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + token))
	return "cred-" + hex.EncodeToString(sum[:8])
}

// MaxRate is the highest dispatch rate (per second) at which the Temporal server's task
// queue limiter can never release more than limit tasks in any window of windowSeconds.
//
// The server's limiter is a token bucket whose burst is ceil(rate) tokens (the dynamic
// config matching.minTaskThrottlingBurstSize, default 1, sets a floor). A bucket that starts
// full releases at most burst + rate*window tasks in a window, so the rate must satisfy
// ceil(r) + window*r <= limit. Trying each burst size k finds the largest such r. It is what
// the server alone can guarantee without the ledger.
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

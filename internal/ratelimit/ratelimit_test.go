package ratelimit_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/ratelimit"
)

// worstWindow is the most tasks a token bucket (burst ceil(r), refill r/s) releases in a
// window of w seconds when it starts full.
func worstWindow(r, w float64) float64 { return math.Ceil(r) + r*w }

func TestMaxRateNeverExceedsTheWindow(t *testing.T) {
	t.Parallel()
	for limit := 1; limit <= 1000; limit++ {
		for _, w := range []float64{1, 2, 10} {
			r := ratelimit.MaxRate(limit, w)
			require.Greater(t, r, 0.0, "limit %d window %v", limit, w)
			if r >= 1 {
				require.LessOrEqual(t, worstWindow(r, w), float64(limit)+1e-9, "limit %d window %v rate %v", limit, w, r)
				// And it is the largest such rate to 0.01/s.
				require.Greater(t, worstWindow(r+0.01, w), float64(limit)-1e-9, "limit %d window %v rate %v is not maximal", limit, w, r)
			}
		}
	}
}

func TestForQuotaAndWindows(t *testing.T) {
	t.Parallel()
	q := config.Quota{RequestsPer10s: 190, SearchPerSecond: 5}
	rates := ratelimit.ForQuota(q)
	require.InDelta(t, 19*ratelimit.DispatchHeadroom, rates.API, 1e-9, "the server is a backstop above the quota")
	require.InDelta(t, 5*ratelimit.DispatchHeadroom, rates.Search, 1e-9)
	window, search := ratelimit.Windows(q)
	require.Equal(t, 189, window.Calls, "one call kept in hand")
	require.Equal(t, 10*time.Second, window.Period)
	require.Positive(t, window.Margin)
	require.Equal(t, 5, search.Calls)
	require.Equal(t, time.Second, search.Period)
}

func TestWindowsFollowEachCRMsKindOfLimit(t *testing.T) {
	t.Parallel()
	// Pipedrive: a two-second burst window.
	pd := config.Quota{RequestsPerWindow: 20, Window: config.Duration(2 * time.Second), SearchPerSecond: 5}
	window, _ := ratelimit.Windows(pd)
	require.Equal(t, 19, window.Calls)
	require.Equal(t, 2*time.Second, window.Period)
	require.True(t, window.Learns)
	require.InDelta(t, 10*ratelimit.DispatchHeadroom, ratelimit.ForQuota(pd).API, 1e-9)
	// Salesforce and Zoho: no short window; the ledger keeps only told waits and pauses, and
	// the server applies no API rate of its own.
	zo := config.Quota{Concurrency: 10, SearchPerSecond: 5}
	window, _ = ratelimit.Windows(zo)
	require.Greater(t, window.Calls, 100_000)
	require.False(t, window.Learns, "no window to learn from a first call")
	require.Zero(t, ratelimit.ForQuota(zo).API)
}

func TestCredentialKeyIsStableAndRevealsNothing(t *testing.T) {
	t.Parallel()
	a := ratelimit.CredentialKey("https://api.hubapi.com", "pat-na1-secret")
	require.Equal(t, a, ratelimit.CredentialKey("https://api.hubapi.com", "pat-na1-secret"))
	require.NotEqual(t, a, ratelimit.CredentialKey("https://api.hubapi.com", "pat-na1-other"))
	require.NotEqual(t, a, ratelimit.CredentialKey("http://127.0.0.1:8090", "pat-na1-secret"))
	require.NotContains(t, a, "secret")
}

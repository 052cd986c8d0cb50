package ratelimit_test

import (
	"math"
	"testing"

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

func TestForQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		quota     config.Quota
		api, srch float64
	}{
		{name: "HubSpot free/starter", quota: config.Quota{RequestsPer10s: 100, SearchPerSecond: 5}, api: 9, srch: 2},
		{name: "HubSpot professional", quota: config.Quota{RequestsPer10s: 190, SearchPerSecond: 5}, api: 17.1, srch: 2},
		{name: "API add-on", quota: config.Quota{RequestsPer10s: 250, SearchPerSecond: 5}, api: 22.6, srch: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ratelimit.ForQuota(tc.quota)
			require.InDelta(t, tc.api, got.API, 0.001)
			require.InDelta(t, tc.srch, got.Search, 0.001)
			require.LessOrEqual(t, worstWindow(got.API, 10), float64(tc.quota.RequestsPer10s-1)+1e-9)
		})
	}
}

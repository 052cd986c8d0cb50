package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPriorityCountsSayWhetherTheBackfillOutlastedTheBurst(t *testing.T) {
	t.Parallel()
	base := priorityCounts{BurstAtS: 15, WindowBefore: 99, DrainS: 5.6, WriteCalls: 4, MinWriteCalls: 4, BackfillDuringDrain: 34,
		SettledS: []float64{5.32, 5.4, 5.49, 5.59}}
	tests := []struct {
		name  string
		after float64
		want  string
	}{
		{name: "the backfill ran on", after: 39.7,
			want: "write burst at 15.0s into the backfill (crmsync's calls in the 10 s before: 99): 4 batch upserts (min 4), settled at +5.3, +5.4, +5.5, +5.6s, drained in 5.6s, 34 backfill calls meanwhile; the backfill ran 39.7s more"},
		{name: "the backfill ended first", after: -2.5,
			want: "write burst at 15.0s into the backfill (crmsync's calls in the 10 s before: 99): 4 batch upserts (min 4), settled at +5.3, +5.4, +5.5, +5.6s, drained in 5.6s, 34 backfill calls meanwhile; the backfill had ended 2.5s before"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := base
			p.AfterDrainS = tc.after
			require.Equal(t, tc.want, p.String())
		})
	}
}

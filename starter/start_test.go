package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/workflows"
)

func TestProgressLineSaysWhyAndUntilWhenASyncIsPaused(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 11, 29, 0, 0, 5, 0, time.UTC)
	p := workflows.Progress{Kind: "backfill", Phase: "listing", Remaining: -1,
		Waiting: &activities.QuotaPause{Until: until, Why: "daily budget: 25000 of 250000 calls left today"}}
	line := progressLine(stream{}, p, 0)
	require.True(t, strings.Contains(line, "PAUSED until "+until.Local().Format(time.DateTime)), line)
	require.Contains(t, line, "daily budget: 25000 of 250000")
	p.Waiting = nil
	require.NotContains(t, progressLine(stream{}, p, 0), "PAUSED")
}

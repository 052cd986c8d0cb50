package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/workflows"
)

var clockNow = time.Date(2026, 11, 28, 14, 30, 0, 0, time.Local)

const (
	wfRunning   = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	wfCompleted = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	wfFailed    = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
)

func TestShortDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{1400 * time.Millisecond, "1s"},
		{42 * time.Second, "42s"},
		{4*time.Minute + 12*time.Second, "4m12s"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "2h05m"},
		{3*24*time.Hour + 4*time.Hour, "3d04h"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, shortDuration(tt.in), "%s", tt.in)
	}
}

func TestStateCell(t *testing.T) {
	t.Parallel()
	done := store.StreamState{Exists: true, CompletedAt: clockNow.Add(-time.Hour)}
	tests := []struct {
		name string
		view streamView
		want string
	}{
		{name: "never synced", view: streamView{}, want: "never synced"},
		{name: "idle without a schedule", view: streamView{bf: done, backfill: runView{found: true, status: wfCompleted}}, want: "idle"},
		{name: "idle with the next delta", view: streamView{bf: done, delta: runView{found: true, status: wfCompleted},
			schedule: scheduleView{exists: true, next: clockNow.Add(4*time.Minute + 2*time.Second)}}, want: "idle, next delta in 4m02s"},
		{name: "schedule paused", view: streamView{bf: done, schedule: scheduleView{exists: true, paused: true}}, want: "idle, schedule paused"},
		{name: "running backfill with a total", view: streamView{backfill: runView{found: true, status: wfRunning,
			progress: &workflows.Progress{Phase: "listing", Fetched: 3200, Total: 7100}}}, want: "backfill listing 45% (3200/~7100)"},
		{name: "running delta", view: streamView{delta: runView{found: true, status: wfRunning,
			progress: &workflows.Progress{Phase: "changes", Fetched: 120}}}, want: "delta changes, 120 read"},
		{name: "no worker", view: streamView{delta: runView{found: true, status: wfRunning}}, want: "delta running (no worker answers)"},
		{name: "paused", view: streamView{backfill: runView{found: true, status: wfRunning, progress: &workflows.Progress{Phase: "listing",
			Waiting: &activities.QuotaPause{Until: clockNow.Add(9 * time.Hour), Why: "429 DAILY"}}}}, want: "backfill paused until 23:30:00"},
		{name: "last delta failed", view: streamView{bf: done, backfill: runView{found: true, status: wfCompleted, closedAt: clockNow.Add(-time.Hour)},
			delta: runView{found: true, status: wfFailed, closedAt: clockNow.Add(-time.Minute), failure: "listing changes: 401 Unauthorized"}},
			want: "delta failed: listing changes: 401 Unauthorized"},
		{name: "unfinished backfill failed before a delta", view: streamView{
			backfill: runView{found: true, status: wfFailed, closedAt: clockNow.Add(-time.Hour), failure: "bad token"},
			delta:    runView{found: true, status: wfCompleted, closedAt: clockNow.Add(-time.Minute)}},
			want: "backfill failed: bad token"},
		{name: "a long failure is cut", view: streamView{delta: runView{found: true, status: enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
			failure: strings.Repeat("x", 100)}}, want: "delta timed out: " + strings.Repeat("x", maxFailure-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, stateCell(tt.view, clockNow))
		})
	}
}

func TestLagLastSuccessAndWait(t *testing.T) {
	t.Parallel()
	v := streamView{
		bf: store.StreamState{Exists: true, CompletedAt: clockNow.Add(-2 * time.Hour)},
		dl: store.StreamState{Exists: true, CompletedAt: clockNow.Add(-90 * time.Second),
			Cursor: crm.Cursor{ModifiedAt: clockNow.Add(-3*time.Minute - 20*time.Second)}},
	}
	require.Equal(t, "3m20s", lagCell(v, clockNow))
	require.Equal(t, "delta done 1m30s ago", lastSuccessCell(v, clockNow))
	require.Equal(t, "-", waitCell(v, clockNow))
	require.Equal(t, "-", lagCell(streamView{}, clockNow), "no delta cursor: no lag to tell")
	require.Equal(t, "never", lastSuccessCell(streamView{}, clockNow))
	require.Equal(t, "backfill done 2h00m ago", lastSuccessCell(streamView{bf: v.bf}, clockNow))

	v.daily = store.DailyReading{PausedUntil: clockNow.Add(time.Hour), PausedWhy: "429 DAILY"}
	require.Equal(t, "daily pause until 15:30:00", waitCell(v, clockNow))
	v.delta = runView{found: true, status: wfRunning, progress: &workflows.Progress{
		Waiting: &activities.QuotaPause{Until: clockNow.Add(time.Hour), Why: "daily budget: 25000 of 250000 calls left today"}}}
	require.Equal(t, "until 15:30:00: daily budget: 25000 of 250000 calls left today", waitCell(v, clockNow),
		"the running sync's own wait says why")
	v.daily.PausedUntil = clockNow.Add(-time.Minute)
	v.delta = runView{}
	require.Equal(t, "-", waitCell(v, clockNow), "a pause that has passed")
}

func TestCallsAndBudget(t *testing.T) {
	t.Parallel()
	require.Equal(t, "not reported yet", callsCell(store.DailyReading{}, clockNow))
	require.Equal(t, "1234 of 250000 (CRM's count at 14:29:50)",
		callsCell(store.DailyReading{Max: 250_000, Remaining: 250_000 - 1234, At: clockNow.Add(-10 * time.Second)}, clockNow))
	require.Equal(t, "1234 of 250000 (CRM's count at Fri 14:29)",
		callsCell(store.DailyReading{Max: 250_000, Remaining: 250_000 - 1234, At: clockNow.Add(-24*time.Hour - 10*time.Second)}, clockNow))
	reserve := config.Share(0.1)
	require.Equal(t, "250000 (keeps 25000)", budgetCell(config.Quota{Daily: 250_000, DailyReserve: &reserve}))
	require.Equal(t, "250000", budgetCell(config.Quota{Daily: 250_000}))
}

func TestRenderStatusAlignsOneRowPerStream(t *testing.T) {
	t.Parallel()
	views := []streamView{
		{stream: stream{"acme", crm.Contacts}, counts: store.Counts{Live: 697, Deleted: 3},
			bf: store.StreamState{Exists: true, CompletedAt: clockNow.Add(-time.Minute)}, backfill: runView{found: true, status: wfCompleted},
			dl: store.StreamState{Exists: true, Cursor: crm.Cursor{ModifiedAt: clockNow.Add(-2 * time.Minute)}}},
		{stream: stream{"acme", crm.Deals}},
	}
	ins := []integrationView{{in: &config.Integration{ID: "acme", Provider: "hubspot", Quota: config.Quota{Daily: 250_000}},
		daily: store.DailyReading{Max: 250_000, Remaining: 249_000, At: clockNow}}}
	var b bytes.Buffer
	require.NoError(t, renderStatus(&b, views, ins, clockNow))
	want := `STREAM         STATE         LAST SUCCESS             LAG    LIVE/DELETED  WAIT
acme/contacts  idle          backfill done 1m00s ago  2m00s  697/3         -
acme/deals     never synced  never                    -      0/0           -

INTEGRATION     CALLS TODAY                               DAILY BUDGET  PAUSED
acme (hubspot)  1000 of 250000 (CRM's count at 14:30:00)  250000        -
`
	require.Equal(t, want, b.String())
}

func TestProgressBarRateAndETA(t *testing.T) {
	t.Parallel()
	require.Equal(t, "[--------------------]", progressBar(0))
	require.Equal(t, "[#########-----------]", progressBar(45))
	require.Equal(t, "[####################]", progressBar(100))
	require.Equal(t, "[####################]", progressBar(140))

	var m meter
	start := clockNow
	require.Zero(t, m.rate(), "one sample is no rate")
	for i := range 16 {
		m.add(start.Add(time.Duration(i)*time.Second), int64(i*i*100))
	}
	// The last ten seconds: from 5 s (2500 read) to 15 s (22500).
	require.InDelta(t, (22500.0-2500.0)/10, m.rate(), 1, "records per second over the last rateWindow")

	p := workflows.Progress{Kind: "backfill", Phase: "listing", Pages: 32, Fetched: 3200, Written: 3200, Total: 7100, Remaining: -1}
	d, ok := eta(p, 650)
	require.True(t, ok)
	require.Equal(t, 6*time.Second, d.Round(time.Second))
	line := progressLine(stream{"acme", crm.Contacts}, p, 650)
	require.Contains(t, line, "[#########-----------]  45% 3200/~7100")
	require.Contains(t, line, "650 rec/s")
	require.Contains(t, line, "ETA 6s")

	_, ok = eta(workflows.Progress{Phase: "changes", Fetched: 40}, 10)
	require.False(t, ok, "a delta knows no total")
	line = progressLine(stream{"acme", crm.Contacts}, workflows.Progress{Kind: "delta", Phase: "changes", Fetched: 40, Remaining: -1}, 10)
	require.NotContains(t, line, "ETA")
	require.NotContains(t, line, "[")
	require.Contains(t, line, "10 rec/s")
	_, ok = eta(p, 0)
	require.False(t, ok, "no rate yet")
	p.Phase, p.Deleted, p.Fetched = "archived", 50, 7150
	_, ok = eta(p, 650)
	require.False(t, ok, "the archived pass has no known total")
	require.Contains(t, progressLine(stream{}, p, 0), " 99% 7100/~7100", "never 100% before done")
}

func TestStatusShowsWriteQueuesAndDeadLetters(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var out strings.Builder
	require.NoError(t, renderWriteQueues(&out, nil, nil, now))
	require.Empty(t, out.String(), "no write queue, no section")
	queues := []store.WriteQueueStats{{Integration: "acme", Object: "contacts", Pending: 120, Sending: 100, Sent: 9000, Dead: 2,
		OldestPending: now.Add(-90 * time.Second)}}
	dead := []store.DeadLetter{{Seq: 4711, Integration: "acme", Object: "contacts", RecordKey: "bad@", App: "signup",
		Category: "VALIDATION_ERROR", Message: "Email address bad@ is invalid", DeadAt: now.Add(-time.Minute)}}
	require.NoError(t, renderWriteQueues(&out, queues, dead, now))
	s := out.String()
	for _, want := range []string{"WRITE QUEUE", "acme/contacts", "120", "9000", "1m30s ago", "4711", "VALIDATION_ERROR: Email address bad@ is invalid",
		"starter writes replay"} {
		require.Contains(t, s, want)
	}
}

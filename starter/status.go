package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/workflows"
)

func runStatus(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("status", out)
	integration := fs.String("integration", "", "integration id (default: every configured integration)")
	watch := fs.Bool("watch", false, "redraw the status every --every until Ctrl-C")
	every := fs.Duration("every", 2*time.Second, "how often --watch redraws")
	e, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	if *every <= 0 {
		return errors.New("--every must be positive")
	}
	st, err := store.Open(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	streams, err := e.streams(*integration, nil)
	if err != nil {
		return err
	}
	if !*watch {
		return printStatus(ctx, c, st, e.cfg, streams, out)
	}
	tty := isTerminal(out)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for first := true; ; first = false {
		var b bytes.Buffer
		switch {
		case tty:
			b.WriteString("\x1b[H\x1b[2J") // home, clear the screen
		case !first:
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "crmsync status at %s (every %s; Ctrl-C to stop)\n", time.Now().Format(time.TimeOnly), *every)
		if err := printStatus(ctx, c, st, e.cfg, streams, &b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := out.Write(b.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// isTerminal reports whether w is a terminal, where status redraws in place and progress
// bars are drawn over themselves.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// runView is what Temporal says of a stream's latest backfill or delta workflow.
type runView struct {
	found    bool
	status   enumspb.WorkflowExecutionStatus
	closedAt time.Time
	// progress is the running workflow's answer to the progress query (nil if none).
	progress *workflows.Progress
	// failure is why a failed, terminated or timed-out run ended.
	failure string
}

func (r runView) running() bool { return r.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING }

// failed reports that the run ended without completing (closedWords says how).
func (r runView) failed() bool { _, ok := closedWords[r.status]; return ok }

// scheduleView is a stream's delta Schedule.
type scheduleView struct {
	exists, paused bool
	next           time.Time
}

// streamView is everything status shows of one stream.
type streamView struct {
	stream          stream
	backfill, delta runView
	bf, dl          store.StreamState
	counts          store.Counts
	schedule        scheduleView
	// daily is the stream's integration's daily reading (its pause holds the stream too).
	daily store.DailyReading
}

// integrationView is the per-integration footer: calls today against the daily budget.
type integrationView struct {
	in    *config.Integration
	daily store.DailyReading
}

// queryTimeout bounds the progress query, which waits for a worker to answer.
const queryTimeout = 3 * time.Second

func describeRun(ctx context.Context, c client.Client, id string) runView {
	d, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		return runView{}
	}
	v := runView{found: true, status: d.Status}
	if d.WorkflowCloseTime != nil {
		v.closedAt = *d.WorkflowCloseTime
	}
	switch {
	case v.running():
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		var p workflows.Progress
		if res, err := c.QueryWorkflow(qctx, id, "", workflows.QueryProgress); err == nil && res.Get(&p) == nil {
			v.progress = &p
		}
	case v.failed():
		err := c.GetWorkflow(ctx, id, d.WorkflowExecution.RunID).Get(ctx, nil)
		var appErr *temporal.ApplicationError
		switch {
		case errors.As(err, &appErr):
			v.failure = appErr.Error()
		case err != nil:
			v.failure = err.Error()
		}
	}
	return v
}

func gatherStream(ctx context.Context, c client.Client, st *store.Store, s stream) (streamView, error) {
	v := streamView{stream: s}
	var err error
	if v.bf, err = st.Stream(ctx, store.StreamKey{Integration: s.integration, Object: s.object, Stream: store.StreamBackfill}); err != nil {
		return v, err
	}
	if v.dl, err = st.Stream(ctx, store.StreamKey{Integration: s.integration, Object: s.object, Stream: store.StreamDelta}); err != nil {
		return v, err
	}
	if v.counts, err = st.Count(ctx, s.integration, s.object); err != nil {
		return v, err
	}
	v.backfill = describeRun(ctx, c, workflows.BackfillID(s.integration, s.object))
	v.delta = describeRun(ctx, c, workflows.DeltaID(s.integration, s.object))
	if d, err := c.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(s.integration, s.object)).Describe(ctx); err == nil {
		v.schedule.exists = true
		if len(d.Info.NextActionTimes) > 0 {
			v.schedule.next = d.Info.NextActionTimes[0]
		}
		v.schedule.paused = d.Schedule.State != nil && d.Schedule.State.Paused
	}
	return v, nil
}

// printStatus prints one row per stream, then one per integration with its calls today.
func printStatus(ctx context.Context, c client.Client, st *store.Store, cfg *config.Config, streams []stream, out io.Writer) error {
	now := time.Now()
	dailies := map[string]store.DailyReading{}
	var ins []integrationView
	for _, s := range streams {
		if _, ok := dailies[s.integration]; ok {
			continue
		}
		d, err := st.Daily(ctx, s.integration)
		if err != nil {
			return err
		}
		dailies[s.integration] = d
		in, err := cfg.Integration(s.integration)
		if err != nil {
			return err
		}
		ins = append(ins, integrationView{in: in, daily: d})
	}
	views := make([]streamView, 0, len(streams))
	for _, s := range streams {
		v, err := gatherStream(ctx, c, st, s)
		if err != nil {
			return err
		}
		v.daily = dailies[s.integration]
		views = append(views, v)
	}
	if err := renderStatus(out, views, ins, now); err != nil {
		return err
	}
	queues, err := st.WriteQueues(ctx, now)
	if err != nil {
		return err
	}
	dead, err := st.DeadLetters(ctx, store.DeadLetterFilter{}, statusDeadLetters)
	if err != nil {
		return err
	}
	return renderWriteQueues(out, queues, dead, now)
}

// statusDeadLetters is how many dead letters status lists (starter writes dead lists all).
const statusDeadLetters = 5

// renderStatus lays the views out, aligned, to fit one screen.
func renderStatus(out io.Writer, views []streamView, ins []integrationView, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tSTATE\tLAST SUCCESS\tLAG\tLIVE/DELETED\tWAIT")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", v.stream, stateCell(v, now), lastSuccessCell(v, now), lagCell(v, now),
			v.counts.Live, v.counts.Deleted, waitCell(v, now))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INTEGRATION\tCALLS TODAY\tDAILY BUDGET\tPAUSED")
	for _, i := range ins {
		paused := "-"
		if i.daily.PausedUntil.After(now) {
			paused = fmt.Sprintf("until %s (%s)", clock(i.daily.PausedUntil, now), abbreviate(i.daily.PausedWhy, maxWhy))
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\n", i.in.ID, i.in.Provider, callsCell(i.daily, now), budgetCell(i.in.Quota), paused)
	}
	return tw.Flush()
}

// maxWhy and maxFailure bound the free text in a row.
const (
	maxWhy     = 48
	maxFailure = 48
)

// closedWords say how a run that did not complete ended.
var closedWords = map[enumspb.WorkflowExecutionStatus]string{
	enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:     "failed",
	enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED: "terminated",
	enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:  "timed out",
	enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:   "canceled",
}

// stateCell is what the stream is doing: a running sync with its phase and progress, a
// pause, a failure, or idle with its next scheduled delta.
func stateCell(v streamView, now time.Time) string {
	var parts []string
	for _, r := range []struct {
		kind string
		run  runView
	}{{"backfill", v.backfill}, {"delta", v.delta}} {
		if !r.run.running() {
			continue
		}
		p := r.run.progress
		switch {
		case p == nil:
			parts = append(parts, r.kind+" running (no worker answers)")
		case p.Waiting != nil && p.Waiting.Until.After(now):
			parts = append(parts, fmt.Sprintf("%s paused until %s", r.kind, clock(p.Waiting.Until, now)))
		default:
			parts = append(parts, runningState(r.kind, *p))
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	// The most recent run to close speaks for the stream, and so does a backfill that
	// failed and left the stream without its records.
	last, kind := v.delta, "delta"
	if v.backfill.closedAt.After(last.closedAt) || (v.backfill.failed() && !v.bf.Done()) {
		last, kind = v.backfill, "backfill"
	}
	if last.failed() {
		s := kind + " " + closedWords[last.status]
		if last.failure != "" {
			s += ": " + abbreviate(last.failure, maxFailure)
		}
		return s
	}
	if !v.backfill.found && !v.delta.found && !v.bf.Exists {
		return "never synced"
	}
	switch {
	case !v.schedule.exists:
		return "idle"
	case v.schedule.paused:
		return "idle, schedule paused"
	case !v.schedule.next.IsZero():
		return "idle, next delta in " + shortDuration(v.schedule.next.Sub(now))
	}
	return "idle"
}

// runningState is a running sync's phase and counts: "backfill listing 45% (3200/7100)".
func runningState(kind string, p workflows.Progress) string {
	s := kind + " " + p.Phase
	if pct, ok := percent(p); ok {
		return fmt.Sprintf("%s %d%% (%d/~%d)", s, pct, listed(p), p.Total)
	}
	return fmt.Sprintf("%s, %d read", s, p.Fetched)
}

// listed is how many live records a backfill has read: Fetched counts the archived pass too.
func listed(p workflows.Progress) int64 { return p.Fetched - p.Deleted }

// percent is how far a backfill's listing is, when its total is known; never 100 before
// the workflow says it is done, since records are added while it lists.
func percent(p workflows.Progress) (int, bool) {
	if p.Total <= 0 {
		return 0, false
	}
	if p.Phase == "done" {
		return 100, true
	}
	return int(min(99, listed(p)*100/p.Total)), true
}

// lastSuccessCell says when the stream last completed a delta or a backfill.
func lastSuccessCell(v streamView, now time.Time) string {
	kind, at := "delta", v.dl.CompletedAt
	if v.bf.CompletedAt.After(at) {
		kind, at = "backfill", v.bf.CompletedAt
	}
	if at.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s done %s ago", kind, shortDuration(now.Sub(at)))
}

// lagCell is how old the newest change synced is: now minus the delta cursor's modified
// time. On a quiet CRM it grows with nothing missing; it bounds how far PostgreSQL can be
// behind only together with LAST SUCCESS (the last time the CRM was asked).
func lagCell(v streamView, now time.Time) string {
	if !v.dl.Exists || v.dl.Cursor.ModifiedAt.IsZero() {
		return "-"
	}
	return shortDuration(now.Sub(v.dl.Cursor.ModifiedAt))
}

// waitCell is why the stream's CRM calls wait, if they do: the wait a running sync reports,
// else its integration's daily pause.
func waitCell(v streamView, now time.Time) string {
	for _, r := range []runView{v.backfill, v.delta} {
		if p := r.progress; r.running() && p != nil && p.Waiting != nil && p.Waiting.Until.After(now) {
			return fmt.Sprintf("until %s: %s", clock(p.Waiting.Until, now), abbreviate(p.Waiting.Why, maxWhy))
		}
	}
	if d := v.daily; d.PausedUntil.After(now) {
		return fmt.Sprintf("daily pause until %s", clock(d.PausedUntil, now))
	}
	return "-"
}

// callsCell is the CRM's own count of today's calls, as last reported to a worker.
func callsCell(d store.DailyReading, now time.Time) string {
	if d.At.IsZero() {
		return "not reported yet"
	}
	return fmt.Sprintf("%d of %d (CRM's count at %s)", d.Used(), d.Max, clock(d.At, now))
}

// budgetCell is the configured daily budget and the share kept for other apps.
func budgetCell(q config.Quota) string {
	if q.Daily <= 0 {
		return "-"
	}
	if r := q.Reserve(q.Daily); r > 0 {
		return fmt.Sprintf("%d (keeps %d)", q.Daily, r)
	}
	return fmt.Sprint(q.Daily)
}

// clock is a time of day, local, with the weekday when it is not today's.
func clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("Mon 15:04")
}

// shortDuration renders a duration in its two largest units: 42s, 4m12s, 2h05m, 3d04h.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// abbreviate cuts s to n characters, marking the cut.
func abbreviate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

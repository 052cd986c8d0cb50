package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/workflows"
)

type syncKind string

const (
	kindBackfill syncKind = "backfill"
	kindDelta    syncKind = "sync"
)

func runStart(ctx context.Context, kind syncKind, args []string, out io.Writer) error {
	fs := newCommand(string(kind), out)
	integration := fs.String("integration", "", "integration id (default: every configured integration)")
	var objects listFlag
	fs.Var(&objects, "object", "object to sync: contacts, companies, deals (repeatable; default: all configured)")
	wait := fs.Bool("wait", false, "wait for completion, showing live progress")
	restart := false
	if kind == kindBackfill {
		fs.BoolVar(&restart, "restart", false, "start over from the first page instead of resuming an unfinished backfill")
	}
	e, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	streams, err := e.streams(*integration, objects)
	if err != nil {
		return err
	}

	runs := make([]client.WorkflowRun, 0, len(streams))
	labels := newLabeler(ctx, c, e.Temporal.Namespace, e.cfg, out)
	for _, s := range streams {
		run, fresh, err := startStream(ctx, c, e.TaskQueue, kind, s, restart, labels)
		if err != nil {
			return err
		}
		verb := "started"
		if !fresh {
			verb = "already running; following"
		}
		fmt.Fprintf(out, "%-28s %s %s (workflow %s, run %s)\n", s, kind, verb, run.GetID(), run.GetRunID())
		runs = append(runs, run)
	}
	if !*wait {
		fmt.Fprintf(out, "\nfollow with: starter %s --wait, starter status, or the Web UI (http://localhost:8233)\n", kind)
		return nil
	}
	return follow(ctx, c, streams, runs, out)
}

// startStream starts the stream's workflow under its canonical id. A workflow already
// running under that id is followed instead of started twice.
func startStream(ctx context.Context, c client.Client, queue string, kind syncKind, s stream, restart bool, l *labeler) (client.WorkflowRun, bool, error) {
	opts := client.StartWorkflowOptions{
		TaskQueue:                queue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}
	vkind := workflows.KindDelta
	if kind == kindBackfill {
		vkind = workflows.KindBackfill
	}
	withVisibility(&opts, l.of(vkind, s.integration, s.object))
	var run client.WorkflowRun
	var err error
	switch kind {
	case kindBackfill:
		opts.ID = workflows.BackfillID(s.integration, s.object)
		run, err = c.ExecuteWorkflow(ctx, opts, workflows.Backfill,
			workflows.BackfillInput{Integration: s.integration, Object: s.object, Restart: restart})
	default:
		opts.ID = workflows.DeltaID(s.integration, s.object)
		run, err = c.ExecuteWorkflow(ctx, opts, workflows.DeltaSync,
			workflows.DeltaInput{Integration: s.integration, Object: s.object})
	}
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return c.GetWorkflow(ctx, opts.ID, ""), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("starting %s of %s: %w", kind, s, err)
	}
	return run, true, nil
}

// follow shows each run's progress every second until all have finished, then their
// results. It fails if any run failed. On a terminal the runs' lines are redrawn in place
// as progress bars; elsewhere (CI logs, tests) each running run prints one line a second.
func follow(ctx context.Context, c client.Client, streams []stream, runs []client.WorkflowRun, out io.Writer) error {
	started := time.Now()
	tty := isTerminal(out)
	done := make([]bool, len(runs))
	lines := make([]string, len(runs))
	meters := make([]meter, len(runs))
	drawn := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		allDone := true
		for i, run := range runs {
			if done[i] {
				continue
			}
			desc, err := c.DescribeWorkflow(ctx, run.GetID(), "")
			if err == nil && desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				done[i] = true
				continue
			}
			allDone = false
			var p workflows.Progress
			if v, err := c.QueryWorkflow(ctx, run.GetID(), "", workflows.QueryProgress); err == nil && v.Get(&p) == nil {
				now := time.Now()
				meters[i].add(now, p.Fetched)
				lines[i] = fmt.Sprintf("%s  %s", now.Sub(started).Round(time.Second), progressLine(streams[i], p, meters[i].rate()))
				if !tty {
					fmt.Fprintln(out, lines[i])
				}
			}
		}
		if tty {
			if drawn > 0 {
				fmt.Fprintf(out, "\x1b[%dA", drawn) // back up over the last drawing
			}
			for _, l := range lines {
				fmt.Fprintf(out, "\x1b[2K%s\n", l)
			}
			drawn = len(lines)
		}
		if allDone {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopped following; the workflows keep running")
			return ctx.Err()
		case <-tick.C:
		}
	}
	var errs []error
	for i, run := range runs {
		// A DeltaResult decodes a BackfillResult too: both embed Progress.
		var res workflows.DeltaResult
		err := run.Get(ctx, &res)
		if err != nil {
			var appErr *temporal.ApplicationError
			msg := err.Error()
			if errors.As(err, &appErr) {
				msg = appErr.Error()
			}
			fmt.Fprintf(out, "%-28s FAILED: %s\n", streams[i], msg)
			errs = append(errs, fmt.Errorf("%s: %w", streams[i], err))
			continue
		}
		if res.Skipped != "" {
			fmt.Fprintf(out, "%-28s skipped: %s\n", streams[i], res.Skipped)
			continue
		}
		fmt.Fprintf(out, "%-28s done: %d pages, %d records read, %d written, %d archived seen, in %s\n", streams[i],
			res.Pages, res.Fetched, res.Written, res.Deleted, res.FinishedAt.Sub(res.StartedAt).Round(100*time.Millisecond))
		if res.BackfillStarted {
			fmt.Fprintf(out, "%-28s (never backfilled: its backfill was started too; follow it with starter backfill --wait)\n", "")
		}
	}
	return errors.Join(errs...)
}

// rateWindow is how far back a run's rate is measured: a CRM's rolling window (HubSpot's
// ten seconds) lets calls out in bursts, and a shorter span would swing with them.
const rateWindow = 10 * time.Second

// meter measures a run's records per second over the last rateWindow.
type meter struct {
	samples []sample
}

type sample struct {
	at time.Time
	n  int64
}

// add records that n records had been read at `at`.
func (m *meter) add(at time.Time, n int64) {
	m.samples = append(m.samples, sample{at, n})
	i := 0
	for i < len(m.samples)-2 && at.Sub(m.samples[i+1].at) >= rateWindow {
		i++
	}
	m.samples = m.samples[i:]
}

// rate is records per second between the oldest and newest samples kept; 0 before two.
func (m *meter) rate() float64 {
	if len(m.samples) < 2 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	secs := last.at.Sub(first.at).Seconds()
	if secs <= 0 || last.n < first.n {
		return 0
	}
	return float64(last.n-first.n) / secs
}

// barWidth is how many cells a progress bar has.
const barWidth = 20

// progressBar draws a fraction in percent: [#########-----------].
func progressBar(pct int) string {
	filled := min(barWidth, max(0, pct*barWidth/100))
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled) + "]"
}

// eta is how long the records left take at perSecond; false when it cannot be told.
func eta(p workflows.Progress, perSecond float64) (time.Duration, bool) {
	if p.Total <= 0 || perSecond <= 0 || p.Phase != "listing" {
		return 0, false
	}
	left := max(0, p.Total-listed(p))
	return time.Duration(float64(left) / perSecond * float64(time.Second)), true
}

// progressLine is one run's progress: with a bar, percent and ETA when the total is known
// (a backfill that counted its records), else its counts; the rate of the last seconds;
// and why its calls are paused, when they are.
func progressLine(s stream, p workflows.Progress, perSecond float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-9s %-10s", s, p.Kind, p.Phase)
	if pct, ok := percent(p); ok {
		fmt.Fprintf(&b, " %s %3d%% %d/~%d", progressBar(pct), pct, listed(p), p.Total)
	}
	fmt.Fprintf(&b, "  pages %5d  read %7d  written %7d", p.Pages, p.Fetched, p.Written)
	if perSecond > 0 {
		fmt.Fprintf(&b, "  %5.0f rec/s", perSecond)
	}
	if d, ok := eta(p, perSecond); ok {
		fmt.Fprintf(&b, "  ETA %s", shortDuration(d))
	}
	if p.Remaining >= 0 {
		fmt.Fprintf(&b, "  window quota left %d", p.Remaining)
	}
	if w := p.Waiting; w != nil {
		fmt.Fprintf(&b, "  PAUSED until %s: %s", w.Until.Local().Format(time.DateTime), w.Why)
	}
	return b.String()
}

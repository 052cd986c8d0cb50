package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/workflows"
)

func runStatus(ctx context.Context, args []string, out io.Writer) error {
	e, c, err := newCommand("status", out).connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := store.Open(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	streams, err := e.streams("", nil)
	if err != nil {
		return err
	}
	return printStatus(ctx, c, st, streams, out)
}

func printStatus(ctx context.Context, c client.Client, st *store.Store, streams []stream, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tBACKFILL\tDELTA\tCURSOR\tNEXT DELTA\tLIVE\tDELETED")
	now := time.Now()
	for _, s := range streams {
		bf, err := st.Stream(ctx, store.StreamKey{Integration: s.integration, Object: s.object, Stream: store.StreamBackfill})
		if err != nil {
			return err
		}
		dl, err := st.Stream(ctx, store.StreamKey{Integration: s.integration, Object: s.object, Stream: store.StreamDelta})
		if err != nil {
			return err
		}
		counts, err := st.Count(ctx, s.integration, s.object)
		if err != nil {
			return err
		}
		backfill := "not started"
		switch {
		case running(ctx, c, workflows.BackfillID(s.integration, s.object)):
			backfill = fmt.Sprintf("running, %d pages", bf.Pages)
		case bf.Done():
			backfill = fmt.Sprintf("done %s ago (%d pages)", ago(now, bf.CompletedAt), bf.Pages)
		case bf.Exists:
			backfill = fmt.Sprintf("stopped after %d pages", bf.Pages)
		}
		delta, cursor := "never", "-"
		switch {
		case running(ctx, c, workflows.DeltaID(s.integration, s.object)):
			delta = "running"
		case dl.Exists && !dl.CompletedAt.IsZero():
			delta = fmt.Sprintf("caught up %s ago", ago(now, dl.CompletedAt))
		}
		if dl.Exists {
			cursor = dl.Cursor.String()
		}
		next := "no schedule"
		if d, err := c.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(s.integration, s.object)).Describe(ctx); err == nil {
			next = "-"
			if len(d.Info.NextActionTimes) > 0 {
				next = "in " + d.Info.NextActionTimes[0].Sub(now).Round(time.Second).String()
			}
			if d.Schedule.State != nil && d.Schedule.State.Paused {
				next = "paused"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s, backfill, delta, cursor, next, counts.Live, counts.Deleted)
	}
	return tw.Flush()
}

func running(ctx context.Context, c client.Client, id string) bool {
	d, err := c.DescribeWorkflow(ctx, id, "")
	return err == nil && d.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

func ago(now, t time.Time) string {
	return now.Sub(t).Round(time.Second).String()
}

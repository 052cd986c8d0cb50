package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/workflows"
)

// schedulePrefix marks the schedules crmsync owns; apply removes those of this prefix that
// the config no longer asks for, and leaves every other schedule alone.
const schedulePrefix = "crmsync/"

func runScheduleApply(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("schedule apply", out)
	keep := fs.Bool("keep-stale", false, "do not delete crmsync schedules that the config no longer lists")
	e, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	return applySchedules(ctx, c, e, !*keep, out)
}

// applySchedules makes the server's delta schedules match the config: one per configured
// (integration, object), firing every delta.interval, skipping a firing while the previous
// run is still going.
func applySchedules(ctx context.Context, c client.Client, e *env, prune bool, out io.Writer) error {
	want := map[string]bool{}
	labels := newLabeler(ctx, c, e.Temporal.Namespace, e.cfg, out)
	for _, in := range e.cfg.Integrations {
		for _, obj := range in.Objects {
			id := workflows.ScheduleID(in.ID, obj)
			want[id] = true
			spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: in.Delta.Interval.D()}}}
			vis := labels.of(workflows.KindDelta, in.ID, obj)
			action := &client.ScheduleWorkflowAction{
				ID:                    workflows.ScheduledDeltaID(in.ID, obj),
				Workflow:              workflows.DeltaSync,
				Args:                  []any{workflows.DeltaInput{Integration: in.ID, Object: obj}},
				TaskQueue:             e.TaskQueue,
				Memo:                  vis.Memo,
				TypedSearchAttributes: vis.SearchAttributes,
			}
			_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
				ID:            id,
				Spec:          spec,
				Action:        action,
				Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
				CatchupWindow: time.Minute,
				Note:          fmt.Sprintf("crmsync delta sync of %s %s", in.ID, obj),
			})
			switch {
			case err == nil:
				fmt.Fprintf(out, "created  %-40s every %s\n", id, in.Delta.Interval.D())
			case errors.Is(err, temporal.ErrScheduleAlreadyRunning):
				h := c.ScheduleClient().GetHandle(ctx, id)
				err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
					s := u.Description.Schedule
					s.Spec = &spec
					s.Action = action
					if s.Policy == nil {
						s.Policy = &client.SchedulePolicies{}
					}
					s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
					s.Policy.CatchupWindow = time.Minute
					return &client.ScheduleUpdate{Schedule: &s}, nil
				}})
				if err != nil {
					return fmt.Errorf("updating schedule %s: %w", id, err)
				}
				fmt.Fprintf(out, "updated  %-40s every %s\n", id, in.Delta.Interval.D())
			default:
				return fmt.Errorf("creating schedule %s: %w", id, err)
			}
		}
	}
	if !prune {
		return nil
	}
	stale, err := listSchedules(ctx, c, func(id string) bool { return !want[id] })
	if err != nil {
		return err
	}
	for _, id := range stale {
		if err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
			return fmt.Errorf("deleting stale schedule %s: %w", id, err)
		}
		fmt.Fprintf(out, "deleted  %-40s (no longer in the config)\n", id)
	}
	return nil
}

func runScheduleDelete(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("schedule delete", out)
	integration := fs.String("integration", "", "delete only this integration's schedules")
	_, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	ids, err := listSchedules(ctx, c, func(id string) bool {
		return *integration == "" || strings.HasPrefix(id, schedulePrefix+*integration+"/")
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("deleting schedule %s: %w", id, err)
		}
		fmt.Fprintf(out, "deleted  %s\n", id)
	}
	if len(ids) == 0 {
		fmt.Fprintln(out, "no crmsync schedules found")
	}
	return nil
}

// listSchedules returns the ids of crmsync's schedules that match keep.
func listSchedules(ctx context.Context, c client.Client, keep func(id string) bool) ([]string, error) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var ids []string
	for it.HasNext() {
		s, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("listing schedules: %w", err)
		}
		if strings.HasPrefix(s.ID, schedulePrefix) && keep(s.ID) {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

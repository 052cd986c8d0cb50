package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// timeline is where a workflow's time went, read from its history (every run of a
// continue-as-new chain): what Temporal adds around each activity, and how many activities
// ran at once early on, when a rolling window's first calls set the pace of every later one.
type timeline struct {
	Activities int `json:"activities"`
	// ScheduleToStartMs and StartToCloseMs are the activities' p50 and p90.
	ScheduleToStartMs [2]float64 `json:"schedule_to_start_ms"`
	StartToCloseMs    [2]float64 `json:"start_to_close_ms"`
	// WorkflowTaskMs is the p50 and p90 of a workflow task from scheduled to completed: the
	// reaction time between an activity's completion and the next one's scheduling.
	WorkflowTaskMs [2]float64 `json:"workflow_task_ms"`
	// RunningAt is how many activities were running at each half second of the first five.
	RunningAt []int `json:"running_at"`
}

// readTimeline reads the history of a workflow from runID through its continued runs.
func readTimeline(ctx context.Context, c client.Client, workflowID, runID string) (timeline, error) {
	var (
		tl                     timeline
		s2s, s2c, wft          []float64
		starts, ends           []time.Time
		first                  time.Time
		scheduled, wftSched    = map[int64]time.Time{}, map[int64]time.Time{}
		started, wftStartedEvt = map[int64]time.Time{}, map[int64]int64{}
	)
	for runID != "" {
		it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		next := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return timeline{}, fmt.Errorf("reading the history of %s: %w", workflowID, err)
			}
			at := ev.GetEventTime().AsTime()
			if first.IsZero() {
				first = at
			}
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				scheduled[ev.GetEventId()] = at
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				a := ev.GetActivityTaskStartedEventAttributes()
				started[a.GetScheduledEventId()] = at
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
				id := closedScheduledID(ev)
				sch, st := scheduled[id], started[id]
				if sch.IsZero() || st.IsZero() {
					continue
				}
				tl.Activities++
				s2s = append(s2s, ms(st.Sub(sch)))
				s2c = append(s2c, ms(at.Sub(st)))
				starts, ends = append(starts, st), append(ends, at)
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
				wftSched[ev.GetEventId()] = at
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				wftStartedEvt[ev.GetEventId()] = ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				if sch, ok := wftSched[wftStartedEvt[ev.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()]]; ok {
					wft = append(wft, ms(at.Sub(sch)))
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				next = ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			}
		}
		runID = next
	}
	tl.ScheduleToStartMs, tl.StartToCloseMs, tl.WorkflowTaskMs = p50p90(s2s), p50p90(s2c), p50p90(wft)
	for k := 0; k <= 10; k++ {
		t := first.Add(time.Duration(k) * 500 * time.Millisecond)
		n := 0
		for i := range starts {
			if !starts[i].After(t) && ends[i].After(t) {
				n++
			}
		}
		tl.RunningAt = append(tl.RunningAt, n)
	}
	return tl, nil
}

func closedScheduledID(ev *historypb.HistoryEvent) int64 {
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		return ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		return ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId()
	default:
		return ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func p50p90(v []float64) [2]float64 {
	if len(v) == 0 {
		return [2]float64{}
	}
	slices.Sort(v)
	return [2]float64{v[len(v)/2], v[len(v)*9/10]}
}

// writeTimeline saves a run's timeline next to its per-second series and prints a summary.
func writeTimeline(outDir, run string, tl timeline) error {
	b, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("[timeline] %s: %d activities; schedule-to-start p50 %.0f ms p90 %.0f ms; start-to-close p50 %.0f ms p90 %.0f ms; workflow task p50 %.0f ms p90 %.0f ms; running every 0.5 s: %v\n",
		run, tl.Activities, tl.ScheduleToStartMs[0], tl.ScheduleToStartMs[1], tl.StartToCloseMs[0], tl.StartToCloseMs[1],
		tl.WorkflowTaskMs[0], tl.WorkflowTaskMs[1], tl.RunningAt)
	return os.WriteFile(filepath.Join(outDir, run+"-timeline.json"), b, 0o644)
}

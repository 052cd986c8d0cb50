package workflows

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/activities"
)

// Changes arriving in small deliveries are applied in batches of 100 records to read, the
// last one when the flush delay passes; repeated events of one record cost nothing extra,
// and the latest event of a record decides whether it is read or deleted.
func TestPushedChangesBatchByHundredOrAfterTheDelay(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(PushedChanges)
	env.OnActivity(a.Route, mock.Anything, ref).Return(activities.Queues{}, nil).Once()
	var mu sync.Mutex
	var batches [][]activities.Change
	var at []time.Duration
	start := env.Now()
	env.OnActivity(a.ApplyChanges, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ApplyChangesInput) (activities.ApplyChangesResult, error) {
			mu.Lock()
			defer mu.Unlock()
			batches = append(batches, in.Changes)
			at = append(at, env.Now().Sub(start))
			return activities.ApplyChangesResult{PageResult: activities.PageResult{Fetched: len(in.Changes)}, Calls: 1}, nil
		})
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	change := func(id int, deleted bool, sec int) activities.Change {
		return activities.Change{ID: strconv.Itoa(id), Deleted: deleted, OccurredAt: t0.Add(time.Duration(sec) * time.Second)}
	}
	// 250 records changed, in deliveries of 10 a millisecond apart; record 7 is deleted
	// after its change, record 8 changed after its deletion, record 9 reported three times.
	for d := range 25 {
		env.RegisterDelayedCallback(func() {
			var cs []activities.Change
			for i := range 10 {
				cs = append(cs, change(d*10+i, false, 1))
			}
			if d == 0 {
				cs = append(cs, change(7, true, 2), change(8, true, 0), change(9, false, 1), change(9, false, 1))
			}
			env.SignalWorkflow(SignalChanges, cs)
		}, time.Duration(d+1)*time.Millisecond)
	}
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(PushedChanges, PushedChangesInput{Integration: ref.Integration, Object: ref.Object, FlushAfter: "5s"})
	require.Error(t, env.GetWorkflowError()) // cancelled

	require.Len(t, batches, 3)
	reads := func(b []activities.Change) (n int) {
		for _, c := range b {
			if !c.Deleted {
				n++
			}
		}
		return n
	}
	require.Equal(t, []int{100, 100, 49}, []int{reads(batches[0]), reads(batches[1]), reads(batches[2])})
	require.Less(t, at[1], time.Second, "a full batch does not wait for the delay")
	require.GreaterOrEqual(t, at[2], 5*time.Second, "the rest waits for the delay")
	seen := map[string]activities.Change{}
	for _, b := range batches {
		for _, c := range b {
			_, dup := seen[c.ID]
			require.False(t, dup, "record %s applied twice", c.ID)
			seen[c.ID] = c
		}
	}
	require.Len(t, seen, 250)
	require.True(t, seen["7"].Deleted)
	require.False(t, seen["8"].Deleted)
}

func TestPushedChangesRejectsABadFlushDelay(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(PushedChanges)
	env.ExecuteWorkflow(PushedChanges, PushedChangesInput{Integration: ref.Integration, Object: ref.Object, FlushAfter: "soon"})
	require.ErrorContains(t, env.GetWorkflowError(), "flush_after")
}

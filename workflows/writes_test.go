package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/activities"
)

// The write queue sends rounds back to back while writes are due, sleeps until the next
// retry is due, wakes at once for a signal, rests writesStuckWait after a round that
// failed for good (the writes stay queued), and completes when nothing has been queued
// for writesIdle.
func TestWriteQueueDrainsWaitsForRetriesAndSignalsThenCompletes(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(WriteQueue)
	env.OnActivity(a.Route, mock.Anything, ref).Return(activities.Queues{}, nil).Once()
	start := env.Now()
	var mu sync.Mutex
	var at []time.Duration
	rounds := []activities.SendWritesResult{
		{Records: 100, Calls: 1, Sent: 400, More: true},
		{Records: 100, Calls: 1, Sent: 350, Retrying: 10, More: true},
		// Only the retried writes are left, due in 30 s.
		{Records: 20, Calls: 1, Sent: 20, NextAt: start.Add(30 * time.Second)},
		{Records: 10, Calls: 1, Sent: 8, Dead: 2},
		// Woken by the signal at 2 min.
		{Records: 5, Calls: 1, Sent: 5},
	}
	env.OnActivity(a.SendWrites, mock.Anything, ref).Return(
		func(context.Context, activities.StreamRef) (activities.SendWritesResult, error) {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, env.Now().Sub(start))
			n := len(at)
			if n == 6 {
				return activities.SendWritesResult{}, temporal.NewNonRetryableApplicationError("unauthorized", activities.ErrTypeUnauthorized, nil)
			}
			if n > len(rounds) {
				return activities.SendWritesResult{}, nil
			}
			return rounds[n-1], nil
		})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalWrites, nil) }, 2*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalWrites, nil) }, 3*time.Minute)
	var p Progress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryProgress)
		require.NoError(t, err)
		require.NoError(t, v.Get(&p))
	}, 4*time.Minute)
	env.ExecuteWorkflow(WriteQueue, WriteQueueInput{Integration: ref.Integration, Object: ref.Object})
	require.NoError(t, env.GetWorkflowError())

	require.Len(t, at, 7)
	require.Less(t, at[1], time.Second, "rounds go back to back while writes are due")
	require.Less(t, at[2], time.Second)
	require.GreaterOrEqual(t, at[3], 30*time.Second, "the retried writes wait until due")
	require.Less(t, at[3], 31*time.Second)
	require.InDelta(t, (2 * time.Minute).Seconds(), at[4].Seconds(), 1, "a signal wakes the queue")
	require.InDelta(t, (3 * time.Minute).Seconds(), at[5].Seconds(), 1, "and again")
	require.InDelta(t, (3*time.Minute + writesStuckWait).Seconds(), at[6].Seconds(), 1, "a round that failed for good rests the queue")
	require.Equal(t, int64(400+350+20+8+5), p.Written)
	require.Equal(t, int64(2), p.Deleted, "dead-lettered writes")
	require.Equal(t, int64(5), p.Pages, "calls")
	require.Equal(t, KindWrites, p.Kind)
	require.GreaterOrEqual(t, env.Now().Sub(start), 3*time.Minute+writesStuckWait+writesIdle, "completes after writesIdle with nothing queued")
}

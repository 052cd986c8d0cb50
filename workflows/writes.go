package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// SignalWrites wakes a stream's WriteQueue workflow: writes were queued. It carries
// nothing; the writes are in PostgreSQL's outbox, never in workflow history. The worker's
// outbox dispatcher sends it with signal-with-start.
const SignalWrites = "writes"

// WritesID is the workflow id of the one WriteQueue workflow of a stream.
func WritesID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/writes", integration, obj)
}

// KindWrites is the kind of a WriteQueue workflow in progress and search attributes.
const KindWrites = "writes"

// writesIdle is how long a WriteQueue workflow with nothing queued waits for more before
// it completes; the dispatcher starts it again with the next write.
const writesIdle = 10 * time.Minute

// writesStuckWait is how long the queue rests after a round failed for good (a rejected
// credential, a config change): the writes stay queued and the next round tries again.
const writesStuckWait = 5 * time.Minute

// maxWriteRoundsPerRun bounds a run's history; the workflow continues as new beyond it.
const maxWriteRoundsPerRun = 500

// WriteQueueInput starts the workflow that drains a stream's queued writes:
// `{"integration":"acme","object":"contacts"}`.
type WriteQueueInput struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// State carries counts across continue-as-new.
	State *WriteQueueState `json:"state,omitempty"`
}

// WriteQueueState is what a WriteQueue run hands to the next.
type WriteQueueState struct {
	Progress Progress `json:"progress"`
	// Rounds counts SendWrites rounds; Calls, Records, Sent, Dead, Retrying and Verified
	// sum their results.
	Rounds   int64 `json:"rounds"`
	Calls    int64 `json:"calls"`
	Records  int64 `json:"records"`
	Sent     int64 `json:"sent"`
	Dead     int64 `json:"dead"`
	Retrying int64 `json:"retrying"`
	Verified int64 `json:"verified"`
	// Queues says where the CRM calls run.
	Queues *activities.Queues `json:"queues,omitempty"`
}

// WriteQueue drains one stream's queued writes into the CRM, one batch per round: each
// round (activities.SendWrites) sends the records waiting longest, every write to a record
// merged into one input, up to 100 per call, under the integration's quota at a priority
// between realtime reads and backfills. It runs while writes are due, sleeps until a
// signal (new writes) or the next retry, and completes after writesIdle with nothing
// queued. Its progress query counts writes sent, dead-lettered and retrying.
func WriteQueue(ctx workflow.Context, in WriteQueueInput) error {
	if err := validateRef(in.Integration, in.Object); err != nil {
		return err
	}
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	st := in.State
	if st == nil {
		st = &WriteQueueState{Progress: Progress{Kind: KindWrites, Phase: phaseWaiting, Integration: in.Integration,
			Object: in.Object, Remaining: -1, StartedAt: workflow.Now(ctx)}}
	}
	p := &st.Progress
	api, err := watchedOnAPI(ctx, p, ref, &st.Queues)
	if err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, SignalWrites)
	drain := func() bool {
		woke := false
		for ch.ReceiveAsync(nil) {
			woke = true
		}
		return woke
	}
	// wait sleeps until a signal or d; it reports whether a signal came.
	wait := func(d time.Duration) bool {
		if drain() {
			return true
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		defer cancel()
		woke := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			woke = true
		})
		sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) {})
		sel.Select(ctx)
		drain()
		return woke
	}

	for rounds := 0; ; rounds++ {
		if rounds >= maxWriteRoundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Signals only wake the workflow; the next run looks at the outbox first anyway.
			drain()
			return workflow.NewContinueAsNewError(ctx, WriteQueue, WriteQueueInput{Integration: in.Integration, Object: in.Object, State: st})
		}
		drain()
		p.Phase = phaseSending
		var res activities.SendWritesResult
		err := callCRM(ctx, api, p, a.SendWrites, ref, &res)
		p.UpdatedAt = workflow.Now(ctx)
		if err != nil {
			if temporal.IsCanceledError(err) {
				return err
			}
			workflow.GetLogger(ctx).Error("sending queued writes failed for good; they stay queued and are tried again later",
				"error", err.Error(), "retry_in", writesStuckWait)
			p.Phase = phaseStuck
			wait(writesStuckWait)
			continue
		}
		st.Rounds++
		st.Calls += int64(res.Calls)
		st.Records += int64(res.Records)
		st.Sent += int64(res.Sent)
		st.Dead += int64(res.Dead)
		st.Retrying += int64(res.Retrying)
		st.Verified += int64(res.Verified)
		p.Pages, p.Fetched, p.Written, p.Deleted = st.Calls, st.Records, st.Sent, st.Dead
		if res.More {
			continue
		}
		p.Phase = phaseWaiting
		if !res.NextAt.IsZero() {
			wait(max(res.NextAt.Sub(workflow.Now(ctx)), time.Millisecond))
			continue
		}
		if !wait(writesIdle) {
			p.Phase = phaseDone
			return nil
		}
	}
}

// phaseSending: a WriteQueue round is on its way; phaseStuck: a round failed for good and
// the queue rests before trying again.
const (
	phaseSending = "sending"
	phaseStuck   = "stuck"
)

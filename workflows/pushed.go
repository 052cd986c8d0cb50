package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// SignalChanges brings pushed changes (a JSON array of activities.Change) to a
// PushedChanges workflow. The webhook receiver sends it with signal-with-start.
const SignalChanges = "changes"

// PushedID is the workflow id of the one PushedChanges workflow of a stream.
func PushedID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/pushed", integration, obj)
}

// DefaultFlushAfter is how long the first change of a batch waits for more before the
// batch is read anyway.
const DefaultFlushAfter = 2 * time.Second

// batchReadSize is how many changed records one batch read takes (HubSpot's batch
// endpoints: 100).
const batchReadSize = 100

// maxBatchesPerRun bounds a run's history (a batch is about ten events with its signals);
// the workflow continues as new beyond it.
const maxBatchesPerRun = 200

// PushedChangesInput starts the workflow that applies pushed changes of one stream:
// `{"integration":"acme","object":"contacts","flush_after":"2s"}`.
type PushedChangesInput struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// FlushAfter is a Go duration ("2s"); empty means DefaultFlushAfter.
	FlushAfter string `json:"flush_after,omitempty"`
	// State carries pending changes and counts across continue-as-new.
	State *PushedState `json:"state,omitempty"`
}

// PushedState is what a PushedChanges run hands to the next.
type PushedState struct {
	// Pending are changes received and not yet applied, one per record (the latest).
	Pending  []activities.Change `json:"pending,omitempty"`
	Progress Progress            `json:"progress"`
	// Changes counts changes received; Batches and Calls the batches applied and the CRM
	// calls they made; Deleted and Missing as in activities.ApplyChangesResult.
	Changes int64 `json:"changes"`
	Batches int64 `json:"batches"`
	Calls   int64 `json:"calls"`
	Deleted int64 `json:"deleted"`
	Missing int64 `json:"missing"`
	// Queues says where the CRM calls run.
	Queues *activities.Queues `json:"queues,omitempty"`
}

// PushedChanges applies the changes a CRM pushes (webhooks) to one stream, in batches:
// a batch is read when batchReadSize changed (or deleted) records are waiting or
// FlushAfter after its first change arrived, with one batch-read call per group, so K
// changed records cost ceil(K/100) calls however many events name them. It runs until cancelled, continuing as new to keep its
// history short; changes that arrive while a batch is read wait for the next one.
func PushedChanges(ctx workflow.Context, in PushedChangesInput) error {
	if err := validateRef(in.Integration, in.Object); err != nil {
		return err
	}
	flushAfter := DefaultFlushAfter
	if in.FlushAfter != "" {
		d, err := time.ParseDuration(in.FlushAfter)
		if err != nil || d <= 0 {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(`input: "flush_after": %q is not a positive duration such as "2s"`, in.FlushAfter), "InvalidInput", nil)
		}
		flushAfter = d
	}
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	st := in.State
	if st == nil {
		st = &PushedState{Progress: Progress{Kind: "pushed", Phase: phaseWaiting, Integration: in.Integration, Object: in.Object,
			Remaining: -1, StartedAt: workflow.Now(ctx)}}
	}
	p := &st.Progress
	api, err := watchedOnAPI(ctx, p, ref, &st.Queues)
	if err != nil {
		return err
	}

	pending := map[string]activities.Change{}
	var order []string // ids in arrival order, so the oldest waiting changes go first
	keep := func(c activities.Change) {
		old, ok := pending[c.ID]
		if !ok {
			order = append(order, c.ID)
		}
		// The latest event of a record decides whether it is read or deleted.
		if !ok || !c.OccurredAt.Before(old.OccurredAt) {
			pending[c.ID] = c
		}
	}
	add := func(cs []activities.Change) {
		st.Changes += int64(len(cs))
		for _, c := range cs {
			keep(c)
		}
	}
	// Changes carried over were counted when they arrived.
	for _, c := range st.Pending {
		keep(c)
	}
	ch := workflow.GetSignalChannel(ctx, SignalChanges)
	drain := func() {
		for {
			var cs []activities.Change
			if !ch.ReceiveAsync(&cs) {
				return
			}
			add(cs)
		}
	}

	for batches := 0; ; batches++ {
		if batches >= maxBatchesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			drain()
			st.Pending = st.Pending[:0]
			for _, id := range order {
				st.Pending = append(st.Pending, pending[id])
			}
			return workflow.NewContinueAsNewError(ctx, PushedChanges, PushedChangesInput{
				Integration: in.Integration, Object: in.Object, FlushAfter: in.FlushAfter, State: st})
		}
		p.Phase = phaseWaiting
		if len(order) == 0 {
			var cs []activities.Change
			ch.Receive(ctx, &cs)
			add(cs)
		}
		// Wait for a full batch or the flush delay, whichever comes first.
		deadline := workflow.Now(ctx).Add(flushAfter)
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, flushAfter)
		expired := false
		for !expired && !batchFull(pending, order) && workflow.Now(ctx).Before(deadline) {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
				var cs []activities.Change
				c.Receive(ctx, &cs)
				add(cs)
			})
			sel.AddFuture(timer, func(workflow.Future) { expired = true })
			sel.Select(ctx)
		}
		cancelTimer()
		drain()

		batch := takeBatch(pending, &order)
		p.Phase = phaseApplying
		var res activities.ApplyChangesResult
		if err := callCRM(ctx, api, p, a.ApplyChanges, activities.ApplyChangesInput{StreamRef: ref, Changes: batch}, &res); err != nil {
			return err
		}
		st.Batches++
		st.Calls += int64(res.Calls)
		st.Deleted += int64(res.Deleted)
		st.Missing += int64(res.Missing)
		if res.Calls > 0 {
			p.page(ctx, res.PageResult)
		}
		p.Deleted, p.UpdatedAt = st.Deleted, workflow.Now(ctx)
	}
}

// Phases of PushedChanges.
const (
	phaseWaiting  = "waiting"
	phaseApplying = "applying"
)

// batchFull reports that a batch read's worth of changed, or of deleted, records waits.
func batchFull(pending map[string]activities.Change, order []string) bool {
	reads, dels := 0, 0
	for _, id := range order {
		if pending[id].Deleted {
			dels++
		} else {
			reads++
		}
	}
	return reads >= batchReadSize || dels >= batchReadSize
}

// takeBatch removes and returns the oldest pending changes: up to batchReadSize changed
// records and as many deleted ones, each group one batch read.
func takeBatch(pending map[string]activities.Change, order *[]string) []activities.Change {
	var batch []activities.Change
	reads, dels := 0, 0
	rest := (*order)[:0:0]
	for _, id := range *order {
		c := pending[id]
		n := &reads
		if c.Deleted {
			n = &dels
		}
		if *n >= batchReadSize {
			rest = append(rest, id)
			continue
		}
		*n++
		batch = append(batch, c)
		delete(pending, id)
	}
	*order = rest
	slices.SortFunc(batch, func(x, y activities.Change) int { return strings.Compare(x.ID, y.ID) })
	return batch
}

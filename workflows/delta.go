package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// DeltaInput starts a delta sync: `{"integration":"acme","object":"contacts"}`.
type DeltaInput struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// State carries progress across continue-as-new; leave it out when starting.
	State *DeltaState `json:"state,omitempty"`
}

// DeltaState is everything a delta sync needs to continue in a new run.
type DeltaState struct {
	// Phase is phaseChanges or phaseArchived.
	Phase string `json:"phase"`
	// From is the next change page's cursor.
	From crm.Cursor `json:"from"`
	// ArchivedAfter is the next archived page's token.
	ArchivedAfter string `json:"archived_after"`
	// BackfillStarted reports that this sync found the object never backfilled and started
	// its backfill.
	BackfillStarted bool `json:"backfill_started"`
	// DeletesDue reports that this sync walks the deleted records after the changes.
	DeletesDue bool     `json:"deletes_due"`
	Progress   Progress `json:"progress"`
	// Queues says where the CRM calls run.
	Queues activities.Queues `json:"queues"`
}

// DeltaResult summarises a delta sync.
type DeltaResult struct {
	Progress
	// Skipped explains why nothing was done (another delta of the stream was running).
	Skipped string `json:"skipped,omitempty"`
	// BackfillStarted reports that the object had never been backfilled and this sync
	// started its backfill (which runs on its own).
	BackfillStarted bool      `json:"backfill_started,omitempty"`
	FinishedAt      time.Time `json:"finished_at"`
}

// DeltaSync brings one object up to date: it reads every change since its stored cursor
// (moved back by the lag window) page by page, then the archived listing for deletes. A
// stream never backfilled gets its backfill started, and the delta proceeds beside it.
//
// Whatever id it was started under (a Schedule's runs get timestamped ids), the work runs
// in the one workflow with the stream's DeltaID, so two deltas of a stream never overlap.
func DeltaSync(ctx workflow.Context, in DeltaInput) (DeltaResult, error) {
	if err := validateRef(in.Integration, in.Object); err != nil {
		return DeltaResult{}, err
	}
	if id := DeltaID(in.Integration, in.Object); workflow.GetInfo(ctx).WorkflowExecution.ID != id {
		return delegate(ctx, id, in)
	}
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	st := in.State
	if st == nil {
		st = &DeltaState{Phase: phaseStarting, Progress: Progress{
			Kind: "delta", Phase: phaseStarting, Integration: in.Integration, Object: in.Object, Remaining: -1,
			StartedAt: workflow.Now(ctx),
		}}
	}
	p := &st.Progress
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) {
		q := *p
		q.Cursor = st.From
		return q, nil
	}); err != nil {
		return DeltaResult{}, err
	}
	watchAttempts(ctx, p)

	if st.Phase == phaseStarting {
		var begin activities.BeginDeltaResult
		if err := workflow.ExecuteLocalActivity(localContext(ctx), a.BeginDelta, ref).Get(ctx, &begin); err != nil {
			return DeltaResult{}, err
		}
		st.From, st.DeletesDue, st.Queues = begin.From, begin.DeletesDue, begin.Queues
		st.Phase = phaseChanges
		if !begin.BackfillDone {
			started, err := startBackfill(ctx, in.Integration, in.Object)
			if err != nil {
				return DeltaResult{}, err
			}
			st.BackfillStarted = started
		}
	}
	phase := st.Phase
	if err := refreshProperties(ctx, ref, st.Queues, p); err != nil {
		return DeltaResult{}, err
	}
	p.Phase = phase

	search := apiContext(ctx, searchQueue(ctx, in.Integration, st.Queues), st.Queues)
	api := apiContext(ctx, apiQueue(ctx, in.Integration, st.Queues), st.Queues)
	for pages := 0; ; pages++ {
		if runIsFull(ctx, pages) {
			return DeltaResult{}, workflow.NewContinueAsNewError(ctx, DeltaSync, DeltaInput{
				Integration: in.Integration, Object: in.Object, State: st,
			})
		}
		switch st.Phase {
		case phaseChanges:
			var r activities.DeltaPageResult
			err := callCRM(ctx, search, p, a.DeltaPage, activities.DeltaPageInput{StreamRef: ref, From: st.From}, &r)
			if err != nil {
				return DeltaResult{}, err
			}
			p.page(ctx, r.PageResult)
			st.From = r.Next
			if !r.More && st.DeletesDue {
				st.Phase, p.Phase = phaseArchived, phaseArchived
			} else if !r.More {
				return finishDelta(ctx, ref, st)
			}
		case phaseArchived:
			last, err := archivedPage(ctx, api, ref, &st.ArchivedAfter, p)
			if err != nil {
				return DeltaResult{}, err
			}
			if last {
				return finishDelta(ctx, ref, st)
			}
		}
	}
}

// delegate runs the delta as a child under the stream's own id. If that workflow is
// already running (a manual sync, or the previous run still busy), this run has nothing
// to do.
func delegate(ctx workflow.Context, id string, in DeltaInput) (DeltaResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	})
	var res DeltaResult
	err := workflow.ExecuteChildWorkflow(cctx, DeltaSync, DeltaInput{Integration: in.Integration, Object: in.Object}).Get(ctx, &res)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return DeltaResult{
			Progress: Progress{Kind: "delta", Integration: in.Integration, Object: in.Object, Phase: phaseDone, Remaining: -1},
			Skipped:  "a delta sync of this stream is already running as " + id,
		}, nil
	}
	return res, err
}

// startBackfill starts the object's backfill and leaves it running on its own (it may
// take hours; the delta does not wait). It reports false when one was already running.
func startBackfill(ctx workflow.Context, integration string, obj crm.Object) (bool, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            BackfillID(integration, obj),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	})
	child := workflow.ExecuteChildWorkflow(cctx, Backfill, BackfillInput{Integration: integration, Object: obj})
	err := child.GetChildWorkflowExecution().Get(ctx, nil)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	workflow.GetLogger(ctx).Info("object was never backfilled; started its backfill", "workflow_id", BackfillID(integration, obj))
	return true, nil
}

// finishDelta records the delta's completion and returns its result.
func finishDelta(ctx workflow.Context, ref activities.StreamRef, st *DeltaState) (DeltaResult, error) {
	in := activities.FinishDeltaInput{StreamRef: ref, DeletesRead: st.DeletesDue}
	if err := workflow.ExecuteLocalActivity(localContext(ctx), a.FinishDelta, in).Get(ctx, nil); err != nil {
		return DeltaResult{}, err
	}
	p := &st.Progress
	p.Phase = phaseDone
	p.Cursor = st.From
	return DeltaResult{Progress: *p, BackfillStarted: st.BackfillStarted, FinishedAt: workflow.Now(ctx)}, nil
}

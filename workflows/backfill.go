package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// BackfillInput starts a backfill: `{"integration":"acme","object":"contacts"}`.
type BackfillInput struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// Restart lists from the first page even if an earlier backfill stopped midway
	// (by default it resumes from its stored position).
	Restart bool `json:"restart,omitempty"`
	// State carries progress across continue-as-new; leave it out when starting.
	State *BackfillState `json:"state,omitempty"`
}

// BackfillState is everything a backfill needs to continue in a new run.
type BackfillState struct {
	// Phase is phaseListing (live records) or phaseArchived (deleted ones).
	Phase string `json:"phase"`
	// Position is the next live page's token.
	Position string `json:"position"`
	// ArchivedAfter is the next archived page's token.
	ArchivedAfter string   `json:"archived_after"`
	Progress      Progress `json:"progress"`
}

// BackfillResult summarises a finished backfill.
type BackfillResult struct {
	Progress
	FinishedAt time.Time `json:"finished_at"`
}

// Backfill lists every record of one object (live, then archived) into PostgreSQL, one
// page per activity. Each page's position is committed with its records, so a crash re-reads
// at most the page in flight, and a new Backfill of an unfinished stream resumes where the
// last one stopped.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillResult, error) {
	if err := validateRef(in.Integration, in.Object); err != nil {
		return BackfillResult{}, err
	}
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	st := in.State
	if st == nil {
		st = &BackfillState{Phase: phaseStarting, Progress: Progress{
			Kind: "backfill", Phase: phaseStarting, Integration: in.Integration, Object: in.Object, Remaining: -1, StartedAt: workflow.Now(ctx),
		}}
	}
	p := &st.Progress
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) {
		q := *p
		q.Position = st.Position
		return q, nil
	}); err != nil {
		return BackfillResult{}, err
	}

	if st.Phase == phaseStarting {
		var begin activities.BeginBackfillResult
		err := workflow.ExecuteLocalActivity(localContext(ctx), a.BeginBackfill,
			activities.BeginBackfillInput{StreamRef: ref, Restart: in.Restart}).Get(ctx, &begin)
		if err != nil {
			return BackfillResult{}, err
		}
		st.Position = begin.Position
		st.Phase = phaseListing
		if begin.Resumed {
			workflow.GetLogger(ctx).Info("resuming backfill", "position", begin.Position, "pages_done", begin.Pages)
		}
	}
	phase := st.Phase
	if err := refreshProperties(ctx, ref, p); err != nil {
		return BackfillResult{}, err
	}
	p.Phase = phase

	api := apiContext(ctx, APITaskQueue(in.Integration))
	for pages := 0; ; pages++ {
		if runIsFull(ctx, pages) {
			return BackfillResult{}, workflow.NewContinueAsNewError(ctx, Backfill, BackfillInput{
				Integration: in.Integration, Object: in.Object, State: st,
			})
		}
		switch st.Phase {
		case phaseListing:
			var r activities.BackfillPageResult
			err := workflow.ExecuteActivity(api, a.BackfillPage,
				activities.BackfillPageInput{StreamRef: ref, Position: st.Position}).Get(ctx, &r)
			if err != nil {
				return BackfillResult{}, err
			}
			p.page(ctx, r.PageResult)
			st.Position = r.Next
			if r.Done {
				st.Phase, p.Phase = phaseArchived, phaseArchived
			}
		case phaseArchived:
			last, err := archivedPage(ctx, api, ref, &st.ArchivedAfter, p)
			if err != nil {
				return BackfillResult{}, err
			}
			if last {
				p.Phase = phaseDone
				return BackfillResult{Progress: *p, FinishedAt: workflow.Now(ctx)}, nil
			}
		}
	}
}

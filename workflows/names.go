// Package workflows is crmsync's deterministic orchestration: the Backfill and DeltaSync
// workflows that walk a CRM object page by page through activities, the ids and task-queue
// names derived from (integration, object), and the shapes of their inputs, results and
// progress queries. No I/O happens here; records never enter workflow history.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// DefaultTaskQueue is where crmsync's workflows run unless CRMSYNC_TASK_QUEUE names
// another queue (to keep two deployments in one namespace apart). Nothing on it calls a
// CRM, so it needs no rate limit. Child workflows inherit their parent's queue.
const DefaultTaskQueue = "crmsync"

// APITaskQueue is the integration's queue for CRM calls under its request quota. The
// server enforces the queue's rate limit across every worker polling it, which is what
// keeps the quota when more workers are added.
func APITaskQueue(integration string) string { return "crmsync/" + integration }

// SearchTaskQueue is the integration's queue for CRM search calls, which HubSpot limits
// separately (per second, outside the ten-second bucket).
func SearchTaskQueue(integration string) string { return "crmsync/" + integration + "/search" }

// SharedAPITaskQueue and SharedSearchTaskQueue serve every integration's CRM calls when
// workers run with CRMSYNC_TASK_QUEUES=shared (activities.Queues): a fleet with thousands of
// integrations then keeps a handful of long polls open, not two queues' worth per
// integration. They are named after the deployment's workflow queue, which keeps two
// deployments in one namespace apart.
func SharedAPITaskQueue(workflowQueue string) string { return workflowQueue + "/api" }

// SharedSearchTaskQueue is the shared queue for search calls (see SharedAPITaskQueue).
func SharedSearchTaskQueue(workflowQueue string) string { return workflowQueue + "/search" }

// apiQueue and searchQueue are where a sync's CRM calls run.
func apiQueue(ctx workflow.Context, integration string, q activities.Queues) string {
	if q.Shared {
		return SharedAPITaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	}
	return APITaskQueue(integration)
}

func searchQueue(ctx workflow.Context, integration string, q activities.Queues) string {
	if q.Shared {
		return SharedSearchTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	}
	return SearchTaskQueue(integration)
}

// BackfillID is the workflow id of an object's backfill: one id per stream, so two
// backfills of the same stream can never run at once.
func BackfillID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/backfill", integration, obj)
}

// DeltaID is the workflow id of an object's delta sync.
func DeltaID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/delta", integration, obj)
}

// ScheduleID is the id of the Temporal Schedule that runs an object's delta sync.
func ScheduleID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/delta-schedule", integration, obj)
}

// ScheduledDeltaID is the workflow id the schedule gives its runs (the server appends the
// scheduled time). Such a run hands the work to the DeltaID workflow.
func ScheduledDeltaID(integration string, obj crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s/delta-scheduled", integration, obj)
}

// QueryProgress is the query every sync workflow answers with its Progress.
const QueryProgress = "progress"

// Progress is what a sync workflow reports about itself, for `starter`, the Web UI's
// query tab and `temporal workflow query --type progress`.
type Progress struct {
	Kind        string     `json:"kind"`
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// To is the other object of an associations sync, whose Object is the from side.
	To crm.Object `json:"to,omitempty"`
	// Phase is what the workflow is doing now: starting, properties, listing, changes,
	// archived, associations, done.
	Phase string `json:"phase"`
	// Pages, Fetched and Written count CRM pages read, records received and rows changed,
	// across continue-as-new.
	Pages   int64 `json:"pages"`
	Fetched int64 `json:"fetched"`
	Written int64 `json:"written"`
	// Deleted counts archived records read by the archived pass.
	Deleted int64 `json:"deleted"`
	// Total is how many live records a backfill expects to list: the CRM's count when the
	// backfill planned its ranges, 0 when unknown (a delta, a CRM without the count). It is
	// for progress displays only: records come and go while the listing runs.
	Total int64 `json:"total,omitempty"`
	// Cursor is a delta's next cursor.
	Cursor crm.Cursor `json:"cursor"`
	// Lanes, Ranges and RangesDone describe a backfill's parallel reading: how many pages
	// it reads at once, and the id ranges it split the listing into.
	Lanes      int `json:"lanes,omitempty"`
	Ranges     int `json:"ranges,omitempty"`
	RangesDone int `json:"ranges_done,omitempty"`
	// Waiting, while set, says why the sync's CRM calls are paused and until when (the
	// daily budget is spent or down to the share kept for other apps).
	Waiting *activities.QuotaPause `json:"waiting,omitempty"`
	// LastError is the last failed attempt of one of the sync's CRM calls (retried by
	// Temporal), with when it happened; nil while none has failed.
	LastError *activities.AttemptFailure `json:"last_error,omitempty"`
	// Remaining is the CRM's window quota left after the last call, -1 when unknown.
	Remaining int       `json:"remaining"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Phases.
const (
	phaseStarting   = "starting"
	phaseProperties = "properties"
	phaseListing    = "listing"
	phaseBulkPlan   = "bulk-plan"
	phaseBulk       = "bulk"
	phaseChanges    = "changes"
	phaseArchived   = "archived"
	phaseDone       = "done"
)

// maxPagesPerRun bounds a run's history (about six events a page) well under the 10,240
// event warning; the workflow continues as new beyond it.
const maxPagesPerRun = 500

// a is the activities' method set, used for their names and signatures only: workflows
// never call it directly.
var a *activities.Activities

// apiContext runs activities on the integration's rate-limited API queue. They retry
// forever: a CRM outage should delay a sync, not fail it; the errors that can never
// succeed are non-retryable and stop it at once. The short heartbeat timeout lets the
// server hand a dead worker's page to another worker within seconds.
func apiContext(ctx workflow.Context, queue string, q activities.Queues) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           queue,
		Priority:            temporal.Priority{FairnessKey: q.FairnessKey},
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
		},
	})
}

// localContext runs the PostgreSQL-only bookkeeping activities in the workflow's worker.
func localContext(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
}

// validateRef rejects inputs that name no stream, before any activity runs.
func validateRef(integration string, obj crm.Object) error {
	if integration == "" {
		return temporal.NewNonRetryableApplicationError(`input: "integration" is required`, "InvalidInput", nil)
	}
	if _, err := crm.ParseObject(string(obj)); err != nil {
		return temporal.NewNonRetryableApplicationError(`input: "object": `+err.Error(), "InvalidInput", nil)
	}
	return nil
}

// refreshProperties reloads the object's property list when it is missing or stale.
func refreshProperties(ctx workflow.Context, ref activities.StreamRef, q activities.Queues, p *Progress) error {
	var stale bool
	if err := workflow.ExecuteLocalActivity(localContext(ctx), a.PropertiesStale, ref).Get(ctx, &stale); err != nil {
		return err
	}
	if !stale {
		return nil
	}
	p.Phase = phaseProperties
	return callCRM(ctx, apiContext(ctx, apiQueue(ctx, ref.Integration, q), q), p, a.RefreshProperties, ref, nil)
}

// watchedOnAPI is how a stream workflow that reads its progress from p starts: it answers
// the progress query with p, keeps p's last failed attempt, and returns the context of the
// integration's API queue, asking where the stream's CRM calls run (a.Route) on the first
// run only and keeping the answer in *queues for the runs that continue it.
func watchedOnAPI(ctx workflow.Context, p *Progress, ref activities.StreamRef, queues **activities.Queues) (workflow.Context, error) {
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return *p, nil }); err != nil {
		return nil, err
	}
	watchAttempts(ctx, p)
	if *queues == nil {
		var q activities.Queues
		if err := workflow.ExecuteLocalActivity(localContext(ctx), a.Route, ref).Get(ctx, &q); err != nil {
			return nil, err
		}
		*queues = &q
	}
	return apiContext(ctx, apiQueue(ctx, ref.Integration, **queues), **queues), nil
}

// watchAttempts keeps p.LastError up to date from the failed attempts the sync's
// activities report (activities.SignalAttemptFailed). It only receives signals, so it
// adds nothing to the history of a run that gets none.
func watchAttempts(ctx workflow.Context, p *Progress) {
	ch := workflow.GetSignalChannel(ctx, activities.SignalAttemptFailed)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var f activities.AttemptFailure
			if !ch.Receive(ctx, &f) {
				return
			}
			p.LastError = &f
		}
	})
}

// refreshPropertyList is refreshProperties for a backfill that starts its lanes early: it
// reads only the property list, and reports whether the owners and pipelines (RefreshLabels)
// are due as well, for the caller to read beside its first pages.
func refreshPropertyList(ctx workflow.Context, ref activities.StreamRef, q activities.Queues, p *Progress) (labels bool, err error) {
	var stale bool
	if err := workflow.ExecuteLocalActivity(localContext(ctx), a.PropertiesStale, ref).Get(ctx, &stale); err != nil {
		return false, err
	}
	if !stale {
		return false, nil
	}
	p.Phase = phaseProperties
	return true, callCRM(ctx, apiContext(ctx, apiQueue(ctx, ref.Integration, q), q), p, a.RefreshPropertyList, ref, nil)
}

func (p *Progress) page(ctx workflow.Context, r activities.PageResult) {
	p.Pages++
	p.Fetched += int64(r.Fetched)
	p.Written += int64(r.Written)
	p.Remaining = r.Remaining
	p.UpdatedAt = workflow.Now(ctx)
}

// archivedPage reads one page of the archived listing into PostgreSQL and reports whether
// it was the last.
func archivedPage(ctx, api workflow.Context, ref activities.StreamRef, after *string, p *Progress) (bool, error) {
	var r activities.ArchivedPageResult
	err := callCRM(ctx, api, p, a.ArchivedPage, activities.ArchivedPageInput{StreamRef: ref, After: *after}, &r)
	if err != nil {
		return false, err
	}
	p.page(ctx, r.PageResult)
	p.Deleted += int64(r.Fetched)
	*after = r.Next
	return r.Next == "", nil
}

// callCRM runs a CRM activity on actx's queue. When the credential's calls are paused for
// longer than an attempt should wait (the daily budget), it waits on a durable timer,
// showing why in p, and runs the activity again: a paused sync costs no calls, survives
// any restart, and resumes by itself.
func callCRM(ctx, actx workflow.Context, p *Progress, activity, in, out any) error {
	for {
		err := workflow.ExecuteActivity(actx, activity, in).Get(ctx, out)
		pause, paused := activities.PauseOf(err)
		if !paused {
			return err
		}
		p.Waiting, p.UpdatedAt = &pause, workflow.Now(ctx)
		if wait := pause.Until.Sub(workflow.Now(ctx)); wait > 0 {
			workflow.GetLogger(ctx).Info("CRM calls paused", "until", pause.Until, "why", pause.Why)
			if err := workflow.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		p.Waiting, p.UpdatedAt = nil, workflow.Now(ctx)
	}
}

// runIsFull reports that this run's history has grown enough to continue as new.
func runIsFull(ctx workflow.Context, pages int) bool {
	return pages >= maxPagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

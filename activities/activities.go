// Package activities holds every piece of crmsync's I/O that workflows orchestrate: one CRM
// request plus its PostgreSQL write per activity, so that a task queue's rate limit counts CRM
// requests exactly and a crash re-does at most the one page in flight. Records go straight
// from the CRM response into PostgreSQL; activities return only cursors and counts.
package activities

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/refdata"
	"github.com/crmsync/crmsync/internal/store"
)

// Integration is one configured CRM account with its connector.
type Integration struct {
	Config    config.Integration
	Connector crm.Connector
	// Credential names the integration's token in the quota ledger: a hash, never the token
	// (ratelimit.CredentialKey). Integrations sharing a token share the CRM's quota, and so
	// the ledger.
	Credential string

	// crmMax is the window allowance the CRM itself reported (X-HubSpot-RateLimit-Max), when
	// lower than the configured quota: the CRM's word wins.
	crmMax atomic.Int64
	// dailyReset is when the CRM last said its daily allowance resets (unix nanoseconds).
	dailyReset atomic.Int64
	// dailyMu makes the calls that reach the daily reserve together decide one pause.
	dailyMu sync.Mutex
	// dailyKept is when this worker last kept the CRM's daily figures (unix nanoseconds).
	dailyKept atomic.Int64
}

// Activities carries the dependencies every activity needs. It is built once per worker
// process and shared by all activity executions.
type Activities struct {
	store        *store.Store
	integrations map[string]*Integration
	log          *zap.Logger
	now          func() time.Time
	// metrics records CRM calls, quota, records written and sync lag; nil records nothing.
	metrics *metrics.Metrics
	// signaler tells a workflow about its activities' failed attempts; nil tells nobody.
	signaler Signaler

	// PropertiesTTL is how long fetched property definitions are trusted.
	propertiesTTL time.Duration
	// maxSlotWait is the longest an activity waits in-process for its quota slot.
	maxSlotWait time.Duration
	// sharedQueues: every integration's CRM calls run on the shared queues.
	sharedQueues bool

	// refs is the fleet-wide reference data cache (owners, pipelines, properties).
	refs *refdata.Cache

	mu         sync.Mutex
	propsCache map[propsKey]propsEntry
}

type propsKey struct {
	integration string
	object      crm.Object
}

type propsEntry struct {
	names  []string
	loaded time.Time
}

// Options configures New.
type Options struct {
	Store        *store.Store
	Integrations []*Integration
	Logger       *zap.Logger
	// Metrics records CRM calls, quota remaining, records written and sync lag (optional).
	Metrics *metrics.Metrics
	// Signaler reports failed attempts of CRM calls to their workflows (optional: the
	// worker's Temporal client).
	Signaler Signaler
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PropertiesTTL is how long property definitions are trusted (default 1 h).
	PropertiesTTL time.Duration
	// MaxSlotWait is the longest an activity waits in-process for its quota slot (default
	// 15 s, a window and a half). A longer wait fails the attempt retryably, to come back
	// when the slot is due, so that a long told wait does not hold a worker slot.
	MaxSlotWait time.Duration
	// SharedQueues runs every integration's CRM calls on two shared task queues, with the
	// credential as the fairness key, instead of two queues per integration: a worker then
	// keeps the same few long polls open however many integrations it serves.
	SharedQueues bool
}

// Queues says where a sync's CRM activities run: the integration's own task queues, or
// (Shared) the fleet's shared ones, where FairnessKey (the credential's ledger key, never
// the credential) lets a server with fairness enabled share dispatch between credentials.
// Workflows take it from the local activity that begins a sync, so the choice is recorded
// in their history and a replay makes the same one.
type Queues struct {
	Shared      bool   `json:"shared,omitempty"`
	FairnessKey string `json:"fairness_key,omitempty"`
}

func (a *Activities) queues(in *Integration) Queues {
	if !a.sharedQueues {
		return Queues{}
	}
	return Queues{Shared: true, FairnessKey: in.Credential}
}

// New builds the activities' shared state.
func New(opts Options) (*Activities, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("activities: a store is required")
	}
	a := &Activities{
		store:         opts.Store,
		integrations:  map[string]*Integration{},
		log:           opts.Logger,
		now:           opts.Now,
		metrics:       opts.Metrics,
		signaler:      opts.Signaler,
		propertiesTTL: opts.PropertiesTTL,
		maxSlotWait:   opts.MaxSlotWait,
		sharedQueues:  opts.SharedQueues,
		propsCache:    map[propsKey]propsEntry{},
	}
	if a.maxSlotWait <= 0 {
		a.maxSlotWait = 15 * time.Second
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.propertiesTTL <= 0 {
		a.propertiesTTL = time.Hour
	}
	refs, err := refdata.New(refdata.Options{Store: a.store, Fetcher: fetcher{a}, Logger: a.log, Now: a.now, PropertiesTTL: a.propertiesTTL})
	if err != nil {
		return nil, err
	}
	a.refs = refs
	for _, in := range opts.Integrations {
		if in.Connector == nil {
			return nil, fmt.Errorf("activities: integration %s has no connector", in.Config.ID)
		}
		if in.Credential == "" {
			return nil, fmt.Errorf("activities: integration %s has no credential key", in.Config.ID)
		}
		if _, dup := a.integrations[in.Config.ID]; dup {
			return nil, fmt.Errorf("activities: integration %s configured twice", in.Config.ID)
		}
		a.integrations[in.Config.ID] = in
	}
	return a, nil
}

// StreamRef names the (integration, object) pair an activity works on.
type StreamRef struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
}

// String renders the reference for logs and errors.
func (r StreamRef) String() string { return r.Integration + "/" + string(r.Object) }

// integration resolves a reference against the worker's configuration. An unknown
// integration or object will not appear by retrying: it is a non-retryable error.
func (a *Activities) integration(ref StreamRef) (*Integration, error) {
	in, ok := a.integrations[ref.Integration]
	if !ok && a.sharedQueues {
		// On the shared queues any worker of the deployment can get the task; one that does
		// not know the integration yet (a rolling config change) hands it back, slowly.
		return nil, retryAfter(fmt.Sprintf("integration %q is not in this worker's configuration; is every worker running the same config?", ref.Integration),
			ErrTypeConfig, 30*time.Second)
	}
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("integration %q is not in this worker's configuration", ref.Integration), ErrTypeConfig, nil)
	}
	if !in.Config.HasObject(ref.Object) {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("integration %s does not sync %q (configured: %v)", ref.Integration, ref.Object, in.Config.Objects),
			ErrTypeConfig, nil)
	}
	return in, nil
}

// localIntegration resolves a reference for a local activity. Local activities run on
// whichever worker holds the workflow task, and during a rolling config change that may be
// a worker that does not know a new integration yet: the error is retried, slowly, until a
// worker that does picks the workflow up.
func (a *Activities) localIntegration(ref StreamRef) (*Integration, error) {
	in, err := a.integration(ref)
	if err != nil {
		return nil, retryAfter(fmt.Sprintf("%v; is every worker running the same config?", err), ErrTypeConfig, 30*time.Second)
	}
	return in, nil
}

// logger returns the activity's logger with the stream's fields.
func (a *Activities) logger(ctx context.Context, ref StreamRef) *zap.Logger {
	l := a.log.With(zap.String("integration", ref.Integration), zap.String("object", string(ref.Object)))
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		l = l.With(zap.String("workflow_id", info.WorkflowExecution.ID), zap.String("run_id", info.WorkflowExecution.RunID),
			zap.Int32("attempt", info.Attempt))
	}
	return l
}

// heartbeatWhile keeps an activity's heartbeat alive while a slow CRM call or write runs, so
// the server can use a short heartbeat timeout to notice a dead worker quickly without
// mistaking a slow call for one.
func heartbeatWhile(ctx context.Context) (stop func()) {
	_, stop = heartbeatProgress(ctx)
	return stop
}

// writePage writes a page of records and counts the rows it inserted or updated.
func (a *Activities) writePage(ctx context.Context, w store.PageWrite) (store.WriteResult, error) {
	res, err := a.store.WritePage(ctx, w)
	if err == nil {
		a.metrics.RecordsWritten(w.Key.Integration, string(w.Key.Object), res.Inserted+res.Updated)
	}
	return res, err
}

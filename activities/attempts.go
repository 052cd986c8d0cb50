package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.uber.org/zap"
)

// SignalAttemptFailed is the signal an activity sends its workflow when an attempt fails
// and will be retried: Temporal retries activities on the server, so without it a
// workflow (and its progress query) would never learn why its sync is slow.
const SignalAttemptFailed = "crm-attempt-failed"

// AttemptFailure is SignalAttemptFailed's payload. Error is the classified message, which
// never holds a credential or a record value.
type AttemptFailure struct {
	Activity string    `json:"activity"`
	Attempt  int32     `json:"attempt"`
	Error    string    `json:"error"`
	At       time.Time `json:"at"`
}

// Signaler sends a workflow a signal (a Temporal client).
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// attemptTimeout bounds the report of a failed attempt: it must not hold up the retry.
const attemptTimeout = 2 * time.Second

// reportAttempt tells the activity's workflow that this attempt failed with err, when a
// signaler is configured. A report that cannot be sent is logged and dropped.
func (a *Activities) reportAttempt(ctx context.Context, err error) {
	if a.signaler == nil || err == nil || !activity.IsActivity(ctx) {
		return
	}
	info := activity.GetInfo(ctx)
	f := AttemptFailure{Activity: info.ActivityType.Name, Attempt: info.Attempt, Error: err.Error(), At: a.now()}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptTimeout)
	defer cancel()
	if serr := a.signaler.SignalWorkflow(sctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, SignalAttemptFailed, f); serr != nil {
		a.log.Debug("reporting a failed attempt to its workflow", zap.String("workflow_id", info.WorkflowExecution.ID), zap.Error(serr))
	}
}

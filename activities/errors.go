package activities

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// Application error types that workflows and operators can branch on.
const (
	// ErrTypeUnauthorized: the CRM rejected the credential; fix it and the stream resumes.
	ErrTypeUnauthorized = "CRMUnauthorized"
	// ErrTypeInvalidRequest: the CRM will never accept this request as sent.
	ErrTypeInvalidRequest = "CRMInvalidRequest"
	// ErrTypeRateLimited: the CRM answered 429; the retry waits as long as it asked.
	ErrTypeRateLimited = "CRMRateLimited"
	// ErrTypeQuotaPause: the credential may not call the CRM for longer than an attempt
	// should wait (the daily allowance is spent, or down to the share left to other apps).
	// Not retryable: the error's details (a QuotaPause) say until when, and the workflow
	// waits on a durable timer, which costs no calls, then runs the activity again.
	ErrTypeQuotaPause = "CRMQuotaPause"
	// ErrTypeTokenExpired: the OAuth access token expired; the retry uses a fresh one.
	ErrTypeTokenExpired = "CRMTokenExpired"
	// ErrTypeUnavailable: a transient CRM or network failure.
	ErrTypeUnavailable = "CRMUnavailable"
	// ErrTypeDatabase: PostgreSQL failed.
	ErrTypeDatabase = "Database"
	// ErrTypeCursorConflict: the stream's stored position moved under this page.
	ErrTypeCursorConflict = "CursorConflict"
	// ErrTypeConfig: the request names an integration or object this worker doesn't have.
	ErrTypeConfig = "Config"
)

// Backoff for transient failures: full jitter (a uniformly random delay up to an
// exponentially growing cap), because the server's own retry backoff has no jitter and
// many activities failing at once would otherwise retry in lockstep.
const (
	backoffBase = time.Second
	backoffCap  = 2 * time.Minute
	// dailyRetry is how long a spent daily allowance waits when the CRM does not say when
	// the day resets: one call then finds out whether it has.
	dailyRetry = 30 * time.Minute
	// durableWait is the longest told wait an attempt waits out as a retry; a longer one
	// becomes a QuotaPause that the workflow sleeps through.
	durableWait = time.Minute
	// tokenRetry is the wait before retrying a call whose access token had expired.
	tokenRetry = 100 * time.Millisecond
)

// QuotaPause is the detail of an ErrTypeQuotaPause error: why calls are paused and until
// when. Workflows show it in their progress while they wait.
type QuotaPause struct {
	Until time.Time `json:"until"`
	Why   string    `json:"why"`
}

// PauseOf reports whether err (an activity's failure, as a workflow sees it) is a quota
// pause, and its details.
func PauseOf(err error) (QuotaPause, bool) {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrTypeQuotaPause {
		return QuotaPause{}, false
	}
	var p QuotaPause
	if ae.Details(&p) != nil {
		return QuotaPause{}, false
	}
	return p, true
}

// PauseError is the ErrTypeQuotaPause failure of operation op.
func PauseError(op string, p QuotaPause) error {
	return temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("%s: calls paused until %s: %s", op, p.Until.UTC().Format(time.RFC3339), p.Why),
		ErrTypeQuotaPause, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{p}})
}

// backoff is the full-jitter delay for the given attempt (1-based).
func backoff(attempt int32) time.Duration {
	ceiling := backoffBase
	for i := int32(1); i < attempt && ceiling < backoffCap; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, backoffCap)
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
}

func attempt(ctx context.Context) int32 {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).Attempt
	}
	return 1
}

// classify turns a failure into the error Temporal should see: permanent failures are
// non-retryable, transient ones carry the delay before the next attempt. The message never
// includes a credential: CRM errors hold none, and pgx errors are reduced to their codes.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *crm.APIError
	var pgErr *pgconn.PgError
	var netErr net.Error
	var classified *temporal.ApplicationError
	switch {
	case errors.As(err, &classified):
		// Classified where it happened (a CRM call made through a cache, say): the SDK
		// reads only the outermost error, so hand it back unwrapped.
		return classified
	case errors.As(err, &ae):
		msg := fmt.Sprintf("%s: %v", op, ae)
		switch ae.Kind {
		case crm.KindUnauthorized:
			return temporal.NewNonRetryableApplicationError(msg, ErrTypeUnauthorized, nil)
		case crm.KindInvalid:
			return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalidRequest, nil)
		case crm.KindTokenExpired:
			// The token source has dropped the expired token: the next attempt refreshes it
			// (once for the credential, however many calls saw it expire) and goes again.
			return retryAfter(msg, ErrTypeTokenExpired, tokenRetry)
		case crm.KindRateLimited:
			if ae.Policy == crm.PolicyDaily {
				wait := ae.RetryAfter
				if wait <= 0 {
					wait = dailyRetry
				}
				return PauseError(op, QuotaPause{Until: time.Now().Add(wait), Why: dailySpent})
			}
			wait := ae.RetryAfter
			if wait <= 0 {
				wait = backoff(attempt(ctx))
			}
			return retryAfter(msg, ErrTypeRateLimited, wait)
		default:
			wait := max(ae.RetryAfter, backoff(attempt(ctx)))
			return retryAfter(msg, ErrTypeUnavailable, wait)
		}
	case errors.Is(err, store.ErrCursorMoved):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", op, err), ErrTypeCursorConflict, nil)
	case errors.As(err, &pgErr):
		msg := fmt.Sprintf("%s: PostgreSQL error %s (%s)", op, pgErr.Code, pgErr.Message)
		if permanentPG(pgErr.Code) {
			return temporal.NewNonRetryableApplicationError(msg, ErrTypeDatabase, nil)
		}
		return retryAfter(msg, ErrTypeDatabase, backoff(attempt(ctx)))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &netErr):
		return retryAfter(fmt.Sprintf("%s: %v", op, err), ErrTypeUnavailable, backoff(attempt(ctx)))
	default:
		return retryAfter(fmt.Sprintf("%s: %v", op, err), ErrTypeUnavailable, backoff(attempt(ctx)))
	}
}

// permanentPG reports SQLSTATE classes that retrying cannot fix: data exceptions (22),
// integrity violations (23), and syntax or access errors (42): a schema problem or a bug.
func permanentPG(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "22", "23", "42":
		return true
	}
	return false
}

func retryAfter(msg, typ string, wait time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{NextRetryDelay: wait})
}

package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
)

// SendWritesResult is what one round of a stream's write queue did: one CRM call at most.
// It carries counts, never record data.
type SendWritesResult struct {
	// Records is how many records the round's batch held; Calls the CRM calls it made (0
	// or 1).
	Records int `json:"records"`
	Calls   int `json:"calls"`
	// Sent, Dead and Retrying count the queued writes the round settled: sent to the CRM,
	// moved to the dead letters, or queued again for a retry.
	Sent     int `json:"sent"`
	Dead     int `json:"dead"`
	Retrying int `json:"retrying"`
	// Verified counts writes of a batch left in doubt by a dead sender that the round
	// found already applied in the CRM, so did not send again.
	Verified int `json:"verified,omitempty"`
	// More says writes are due now: call again at once.
	More bool `json:"more"`
	// NextAt is when the earliest write waiting out a retry delay is due (zero: none).
	NextAt time.Time `json:"next_at,omitzero"`
}

// writeLease is how long a claimed batch belongs to its sender: past it, the batch is in
// doubt whoever asks. It is longer than an attempt's Start-To-Close, so a slow sender is
// never taken for a dead one.
const writeLease = 3 * time.Minute

// maxWriteAttempts is how many times a write that keeps failing retryably is tried before
// it goes to the dead letters, where a human can see it and replay it.
const maxWriteAttempts = 12

// writeBackoff is the delay before a failed write's next try: exponential from 2 s to
// 5 min, with jitter, so that a record the CRM has locked is not hammered.
func writeBackoff(attempts int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempts && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// writesKey marks a context whose CRM calls send queued writes (store.Window.Writes); its
// value is how many more calls the write queue expects to need (store.Window.WritesWanted).
type writesKey struct{}

// withWrites marks ctx's CRM calls as queued writes with `wanted` more calls to come.
func withWrites(ctx context.Context, wanted int) context.Context {
	return context.WithValue(ctx, writesKey{}, wanted)
}

// writeIntegration resolves a stream that takes writes and its connector's writer.
func (a *Activities) writeIntegration(ref StreamRef) (*Integration, crm.Writer, error) {
	in, err := a.integration(ref)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := in.Config.WriteTargets()[ref.Object]; !ok {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("integration %s takes no writes to %s (writes.objects in the config)", ref.Integration, ref.Object), ErrTypeConfig, nil)
	}
	w, ok := in.Connector.(crm.Writer)
	if !ok {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("integration %s: the %s connector cannot write", ref.Integration, in.Config.Provider), ErrTypeConfig, nil)
	}
	return in, w, nil
}

// SendWrites sends one batch of a stream's queued writes under the integration's quota,
// at a priority below realtime reads and above backfills: the records waiting longest,
// each with all its pending writes merged, at most 100 per call (HubSpot's batch upsert
// by the unique property, or batch update by id). Per-record failures settle per record:
// refused ones go to the dead letters with the CRM's words, the others are retried later.
//
// A batch whose sender died on its way is in doubt: the CRM may have applied it. The next
// round reads those records back and sends again only what the CRM does not hold, so a
// queued version is never applied twice.
func (a *Activities) SendWrites(ctx context.Context, ref StreamRef) (SendWritesResult, error) {
	in, writer, err := a.writeIntegration(ref)
	if err != nil {
		return SendWritesResult{}, err
	}
	defer heartbeatWhile(ctx)()
	log := a.logger(ctx, ref)
	owner, attempt := "local", 1 // outside an activity (tests)
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		owner, attempt = info.WorkflowExecution.ID+"/"+info.ActivityID, int(info.Attempt)
	}
	obj := string(ref.Object)
	var res SendWritesResult

	open, err := a.store.OpenWriteBatch(ctx, ref.Integration, obj)
	if err != nil {
		return res, classify(ctx, "reading the open write batch", err)
	}
	if open != nil {
		now := a.now()
		ours := open.ClaimedBy == owner && open.Attempt < attempt
		if !ours && now.Before(open.LeaseUntil) {
			return res, retryAfter(fmt.Sprintf("write batch %d of %s is on its way by %s (attempt %d); waiting for it",
				open.ID, ref, open.ClaimedBy, open.Attempt), ErrTypeUnavailable, open.LeaseUntil.Sub(now))
		}
		log.Warn("a write batch's sender died on its way; reading its records back before sending any again",
			zap.Int64("batch", open.ID), zap.Int("records", len(open.Inputs)))
		// The read-back may be followed by a resend.
		if err := a.verifyWrites(withWrites(ctx, 1), in, ref, open, &res); err != nil {
			return res, err
		}
		return a.finishRound(ctx, ref, res)
	}

	size := min(store.MaxBatchInputs, writer.WriteBatchSize())
	batch, next, err := a.store.ClaimWrites(ctx, ref.Integration, obj, owner, attempt, size, a.now(), writeLease)
	if err != nil {
		return res, classify(ctx, "claiming queued writes", err)
	}
	if batch == nil {
		res.NextAt = next
		return res, nil
	}
	res.Records = len(batch.Inputs)
	inputs := make([]crm.WriteInput, len(batch.Inputs))
	for i, bi := range batch.Inputs {
		inputs[i] = crm.WriteInput{TraceID: bi.TraceID, ID: bi.Key, IDProperty: batch.IDProperty, Properties: bi.Properties}
	}
	op := fmt.Sprintf("%s %d %s of %s", batch.Op, len(inputs), ref.Object, ref.Integration)
	// A backfill leaves the window room for the batches still to come, and no more.
	ctx = withWrites(ctx, (batch.Remaining+size-1)/size)
	sent := false
	var wr crm.WriteResult
	var sendErr error
	callErr := a.crmCall(ctx, in, ratelimit.KindWindow, op, func(ctx context.Context) (crm.RateLimit, error) {
		sent = true
		if batch.Op == store.OpUpsert {
			wr, sendErr = writer.Upsert(ctx, ref.Object, inputs)
		} else {
			wr, sendErr = writer.Update(ctx, ref.Object, inputs)
		}
		return wr.RateLimit, sendErr
	})
	if sent {
		res.Calls = 1
	}
	release := func() {
		if err := a.store.ReleaseWriteBatch(context.WithoutCancel(ctx), batch); err != nil {
			// The batch stays open and the next round takes it as in doubt: read back,
			// nothing lost.
			log.Warn("putting an unsent write batch back", zap.Error(err))
		}
	}
	if callErr != nil {
		switch {
		case !sent || sendErr == nil:
			release()
			return res, callErr
		case !mayHaveApplied(sendErr):
			// The CRM refused the request before applying any of it.
			if refused, msg := batchRefused(sendErr); refused {
				return a.settleRefused(ctx, ref, batch, msg, res)
			}
			release()
			return res, callErr
		default:
			// No answer, or one that does not say what was applied (5xx, a cut-off
			// body): the batch stays open, and the retry reads the records back.
			log.Warn("a write batch's outcome is unknown; the next attempt reads it back", zap.Int64("batch", batch.ID), zap.Error(callErr))
			return res, callErr
		}
	}
	fates := map[string]store.InputFate{}
	for _, w := range wr.Written {
		fates[w.TraceID] = store.InputFate{Sent: true, CRMID: w.ID}
	}
	attempts := map[string]int{}
	for _, bi := range batch.Inputs {
		attempts[bi.TraceID] = bi.Attempts
	}
	now := a.now()
	for _, f := range wr.Failed {
		if _, ok := attempts[f.TraceID]; !ok {
			continue
		}
		fates[f.TraceID] = a.failedFate(f.Retryable, f.Category, f.Message, attempts[f.TraceID], now)
	}
	for _, bi := range batch.Inputs {
		if _, ok := fates[bi.TraceID]; !ok {
			// The CRM said nothing of it: not written, as far as we can tell.
			fates[bi.TraceID] = a.failedFate(true, "UNANSWERED", "the CRM's answer did not mention this record", bi.Attempts, now)
		}
	}
	return a.settle(ctx, ref, batch, fates, res)
}

// failedFate is a failed input's fate: retried after a backoff, or dead when it can never
// succeed or has been tried too often.
func (a *Activities) failedFate(retryable bool, category, message string, attempts int, now time.Time) store.InputFate {
	if !retryable {
		return store.InputFate{Dead: true, Category: category, Message: message}
	}
	if attempts+1 >= maxWriteAttempts {
		return store.InputFate{Dead: true, Category: category,
			Message: fmt.Sprintf("gave up after %d attempts: %s", attempts+1, message)}
	}
	return store.InputFate{NotBefore: now.Add(writeBackoff(attempts + 1)), Message: category + ": " + message}
}

// settleRefused handles a batch the CRM refused as a whole (400): one record alone is dead
// with the CRM's words; several are each sent alone next, to find the one it refuses.
func (a *Activities) settleRefused(ctx context.Context, ref StreamRef, batch *store.WriteBatch, msg string, res SendWritesResult) (SendWritesResult, error) {
	fates := map[string]store.InputFate{}
	for _, bi := range batch.Inputs {
		if len(batch.Inputs) == 1 {
			fates[bi.TraceID] = store.InputFate{Dead: true, Category: "REFUSED", Message: msg}
		} else {
			fates[bi.TraceID] = store.InputFate{Isolate: true, NotBefore: a.now(), Message: "batch refused: " + msg}
		}
	}
	return a.settle(ctx, ref, batch, fates, res)
}

// settle records a batch's fates and says whether more is due.
func (a *Activities) settle(ctx context.Context, ref StreamRef, batch *store.WriteBatch, fates map[string]store.InputFate, res SendWritesResult) (SendWritesResult, error) {
	t, err := a.store.FinishWriteBatch(context.WithoutCancel(ctx), batch, fates)
	if err != nil {
		return res, classify(ctx, "settling a write batch", err)
	}
	res.Sent, res.Dead, res.Retrying = res.Sent+t.Sent, res.Dead+t.Dead, res.Retrying+t.Retrying
	a.countWrites(ref, t, 0)
	if t.Dead > 0 {
		a.logger(ctx, ref).Warn("the CRM refused queued writes for good; they are in write_dead_letters (starter writes dead)",
			zap.Int("writes", t.Dead))
	}
	return a.finishRound(ctx, ref, res)
}

// finishRound says whether more writes are due now, and when the next retry is.
func (a *Activities) finishRound(ctx context.Context, ref StreamRef, res SendWritesResult) (SendWritesResult, error) {
	due, next, err := a.store.WritesDue(ctx, ref.Integration, string(ref.Object), a.now())
	if err != nil {
		return res, classify(ctx, "checking queued writes", err)
	}
	res.More, res.NextAt = due, next
	if !due {
		// Nothing to send now: a running backfill may have the whole window back. (A
		// write queue of another object of the credential takes its share again with its
		// next call.)
		if in, ok := a.integrations[ref.Integration]; ok {
			if err := a.store.EndWrites(ctx, in.Credential, ratelimit.KindWindow); err != nil {
				a.logger(ctx, ref).Warn("lifting the writes' share of the window", zap.Error(err))
			}
		}
	}
	return res, nil
}

// mayHaveApplied reports whether a failed write request may have been applied by the CRM:
// only an answer that refuses the request (429, 4xx) says it was not. No answer, a 5xx, or
// a success whose body could not be read may all follow an applied write.
func mayHaveApplied(err error) bool {
	var ae *crm.APIError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.Status == 0 || ae.Status >= 500 || ae.Kind == crm.KindBadResponse
}

// batchRefused reports a write request refused as a whole for its content (400, 413, 422),
// which another try as sent cannot fix.
func batchRefused(err error) (bool, string) {
	var ae *crm.APIError
	if !errors.As(err, &ae) || ae.Kind != crm.KindInvalid {
		return false, ""
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusConflict:
		return true, strings.TrimSpace(ae.Category + " " + ae.Message)
	}
	return false, ""
}

// verifyWrites settles a batch left in doubt: it reads its records back (one batch read)
// and takes the inputs the CRM holds, every property as written, as sent; the others go
// back to the queue to be sent again.
func (a *Activities) verifyWrites(ctx context.Context, in *Integration, ref StreamRef, b *store.WriteBatch, res *SendWritesResult) error {
	names := map[string]bool{}
	ids := make([]string, len(b.Inputs))
	for i, bi := range b.Inputs {
		ids[i] = bi.Key
		for name := range bi.Properties {
			names[name] = true
		}
	}
	if b.IDProperty != "" {
		names[b.IDProperty] = true
	}
	props := make([]string, 0, len(names))
	for name := range names {
		props = append(props, name)
	}
	op := fmt.Sprintf("reading back %d %s of %s", len(ids), ref.Object, ref.Integration)
	page, calls, err := a.reader(in, op).BatchRead(ctx, crm.BatchReadRequest{Object: ref.Object, IDs: ids, Properties: props, IDProperty: b.IDProperty})
	res.Calls += calls.Total()
	if err != nil {
		return err
	}
	res.Records = len(b.Inputs)
	byKey := map[string]crm.Record{}
	for _, r := range page.Records {
		key := r.ID
		if b.IDProperty != "" {
			var p map[string]*string
			if json.Unmarshal(r.Properties, &p) != nil || p[b.IDProperty] == nil {
				continue
			}
			key = strings.TrimSpace(*p[b.IDProperty])
			if b.IDProperty == "email" {
				key = strings.ToLower(key)
			}
		}
		byKey[key] = r
	}
	fates := map[string]store.InputFate{}
	for _, bi := range b.Inputs {
		r, ok := byKey[bi.Key]
		if ok && holds(r, bi.Properties) {
			fates[bi.TraceID] = store.InputFate{Sent: true, CRMID: r.ID}
			res.Verified += len(bi.Seqs)
		}
		// Otherwise no fate: the input goes back to the queue as it was.
	}
	t, err := a.store.FinishWriteBatch(context.WithoutCancel(ctx), b, fates)
	if err != nil {
		return classify(ctx, "settling a write batch in doubt", err)
	}
	res.Sent += t.Sent
	a.countWrites(ref, t, res.Verified)
	return nil
}

// countWrites records a settled batch in the metrics.
func (a *Activities) countWrites(ref StreamRef, t store.WriteTally, verified int) {
	obj := string(ref.Object)
	a.metrics.QueuedWrites(ref.Integration, obj, metrics.WriteSent, t.Sent)
	a.metrics.QueuedWrites(ref.Integration, obj, metrics.WriteDead, t.Dead)
	a.metrics.QueuedWrites(ref.Integration, obj, metrics.WriteRetried, t.Retrying)
	a.metrics.QueuedWrites(ref.Integration, obj, metrics.WriteVerified, verified)
}

// holds reports whether a record read from the CRM has every property as written. A
// cleared property reads back as null or "".
func holds(r crm.Record, want map[string]string) bool {
	var got map[string]*string
	if err := json.Unmarshal(r.Properties, &got); err != nil {
		return false
	}
	for name, v := range want {
		g := got[name]
		if (g == nil && v != "") || (g != nil && *g != v) {
			return false
		}
	}
	return true
}

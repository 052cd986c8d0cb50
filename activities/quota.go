package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
)

// window is the ledger window a kind of call counts against.
func (a *Activities) window(in *Integration, kind string) store.Window {
	window, search := ratelimit.Windows(in.Config.Quota)
	if kind == ratelimit.KindSearch {
		return search
	}
	if m := int(in.crmMax.Load()); m > 0 && m-1 < window.Calls {
		window.Calls = max(1, m-1)
	}
	return window
}

// reader reads records from in's CRM with every property asked for, each request through
// crmCall: a page of a wide object can take several (crm.Reader). Reads of changes count
// against the pool the connector's Changes draws on, the rest against the window.
func (a *Activities) reader(in *Integration, op string) crm.Reader {
	return crm.Reader{Conn: in.Connector, Send: func(ctx context.Context, o crm.Op, do func(context.Context) (crm.RateLimit, error)) error {
		kind := ratelimit.KindWindow
		if o == crm.OpChanges {
			kind = changesKind(in)
		}
		return a.crmCall(ctx, in, kind, op, do)
	}}
}

// crmCall sends one CRM request under the quota: it reserves the request's send time in the
// fleet-wide ledger (which never lets a window hold more calls than the quota, nor a call go
// before a wait the CRM told us), waits for it, sends, and feeds back what the CRM said
// about the quota. The CRM's error, if any, is returned classified.
func (a *Activities) crmCall(ctx context.Context, in *Integration, kind, op string, send func(context.Context) (crm.RateLimit, error)) error {
	return a.call(ctx, in, kind, op, true, send)
}

// call is crmCall; daily says whether the response's daily figures may pause the
// credential (not for the call that asks the CRM when the day resets).
func (a *Activities) call(ctx context.Context, in *Integration, kind, op string, daily bool, send func(context.Context) (crm.RateLimit, error)) error {
	w := a.window(in, kind)
	w.Realtime = ctx.Value(realtimeKey{}) != nil
	if wanted, ok := ctx.Value(writesKey{}).(int); ok {
		w.Writes, w.WritesWanted = true, wanted
	}
	res, err := a.store.Reserve(ctx, in.Credential, kind, w, a.now(), a.maxSlotWait)
	for err == nil && res.Probing {
		// The ledger's first call in this window is on its way; its answer says how much of
		// the window others are using.
		if err = sleepUntil(ctx, res.At, a.now); err == nil {
			res, err = a.store.Reserve(ctx, in.Credential, kind, w, a.now(), a.maxSlotWait)
		}
	}
	if err != nil {
		return classify(ctx, op, err)
	}
	if !res.Granted {
		return a.notYet(op, res.At, res.Blocked)
	}
	if err := sleepUntil(ctx, res.At, a.now); err != nil {
		a.release(ctx, in, kind, res.At)
		return classify(ctx, op, err)
	}
	// A 429 may have arrived, for any worker, while this call waited for its slot.
	until, why, err := a.store.BlockedUntil(ctx, in.Credential, kind)
	if err != nil {
		a.release(ctx, in, kind, res.At)
		return classify(ctx, op, err)
	}
	if until.After(a.now()) {
		a.release(ctx, in, kind, res.At)
		return a.notYet(op, until, why)
	}
	if limit := in.Config.Quota.Concurrency; limit > 0 {
		leave, err := a.enterFlight(ctx, in, op, limit)
		if err != nil {
			a.release(ctx, in, kind, res.At)
			return err
		}
		defer leave()
	}
	rl, callErr := send(crm.WithCallObserver(ctx, func(endpoint string, status int) {
		a.metrics.CRMCall(in.Config.ID, in.Config.Provider, endpoint, status)
	}))
	pause := a.learn(ctx, in, kind, res.At, a.now(), rl, callErr, daily)
	if callErr != nil {
		if !pause.Until.IsZero() {
			return PauseError(op, pause)
		}
		err := classify(ctx, op, callErr)
		a.reportAttempt(ctx, err)
		return err
	}
	return nil
}

// flightPoll is how often a call waiting for a place in flight asks again: about the time a
// fast call takes, so a freed place is taken soon after.
const flightPoll = 25 * time.Millisecond

// enterFlight waits for one of the credential's places in flight (quota.concurrency),
// fleet-wide, for up to maxSlotWait, and returns the function that gives it back.
func (a *Activities) enterFlight(ctx context.Context, in *Integration, op string, limit int) (leave func(), err error) {
	deadline := a.now().Add(a.maxSlotWait)
	for {
		slot, ok, err := a.store.EnterFlight(ctx, in.Credential, limit, a.now())
		if err != nil {
			return nil, classify(ctx, op, err)
		}
		if ok {
			return func() {
				if err := a.store.LeaveFlight(context.WithoutCancel(ctx), in.Credential, slot); err != nil {
					a.log.Warn("giving back a place in flight", zap.String("integration", in.Config.ID), zap.Error(err))
				}
			}, nil
		}
		if a.now().After(deadline) {
			return nil, retryAfter(fmt.Sprintf("%s: %d calls of the credential are in flight (quota.concurrency)", op, limit),
				ErrTypeRateLimited, flightPoll)
		}
		if err := sleepUntil(ctx, a.now().Add(flightPoll), a.now); err != nil {
			return nil, classify(ctx, op, err)
		}
	}
}

// realtimeKey marks a context whose CRM calls are realtime work (store.Window.Realtime).
type realtimeKey struct{}

// realtime marks ctx's CRM calls as realtime: changes pushed by the CRM, which must not
// queue behind a backfill's reservations.
func realtime(ctx context.Context) context.Context {
	return context.WithValue(ctx, realtimeKey{}, true)
}

// notYet is the error of a call that may not be sent before `at`: retryable, or a
// QuotaPause for the workflow to sleep through when the CRM told us to wait that long.
func (a *Activities) notYet(op string, at time.Time, blocked string) error {
	wait := at.Sub(a.now())
	if blocked != "" && wait > durableWait {
		return PauseError(op, QuotaPause{Until: at, Why: blocked})
	}
	why := "the quota window is full"
	if blocked != "" {
		why = "the CRM asked us to wait (" + blocked + ")"
	}
	return retryAfter(fmt.Sprintf("%s: %s; next slot in %s", op, why, wait.Round(time.Millisecond)), ErrTypeRateLimited, wait)
}

// release gives back a reservation that will not be sent. Failing to is logged, not
// returned: the ledger takes an unanswered reservation as answered after maxInFlight.
func (a *Activities) release(ctx context.Context, in *Integration, kind string, slot time.Time) {
	if err := a.store.Release(context.WithoutCancel(ctx), in.Credential, kind, slot); err != nil {
		a.log.Warn("releasing an unsent call's slot", zap.String("integration", in.Config.ID), zap.Error(err))
	}
}

// learn records what a call's response said about the quota: that it was answered (the
// latest it can have been counted), usage by others from the rate-limit headers, the CRM's
// own allowance, and any wait it told us to respect. It returns the pause it put every
// worker in, if the daily allowance is spent or down to the reserve (when daily is set).
// Failing to record it must not fail the call whose data is already in hand, so errors are
// logged.
func (a *Activities) learn(ctx context.Context, in *Integration, kind string, slot, received time.Time, rl crm.RateLimit, callErr error, daily bool) QuotaPause {
	log := a.log.With(zap.String("integration", in.Config.ID))
	var ae *crm.APIError
	if errors.As(callErr, &ae) {
		rl = ae.RateLimit
	}
	if rl.WindowKnown {
		a.metrics.QuotaWindow(in.Config.ID, rl.Remaining, rl.Max)
	}
	if rl.DailyKnown {
		a.metrics.QuotaDaily(in.Config.ID, rl.DailyRemaining, rl.DailyMax)
		a.keepDaily(ctx, in, rl, received)
	}
	used := -1
	if rl.WindowKnown && kind == ratelimit.KindWindow {
		if rl.Max > 0 && rl.Max < in.Config.Quota.WindowCalls() && in.crmMax.Swap(int64(rl.Max)) != int64(rl.Max) {
			log.Warn("the CRM allows fewer calls than the config says; using the CRM's allowance",
				zap.Int("configured_per_window", in.Config.Quota.WindowCalls()), zap.Int("crm_per_window", rl.Max))
		}
		used = rl.Max - rl.Remaining
	}
	theirs, change, err := a.store.Settle(ctx, in.Credential, kind, a.window(in, kind), slot, received, used)
	switch {
	case err != nil:
		log.Warn("recording quota usage", zap.Error(err))
	case change > 0 && theirs == change:
		log.Info("another consumer is using this credential's quota; leaving it its share", zap.Int("their_calls_in_window", theirs))
	case change < 0 && theirs == 0:
		log.Info("no other consumer is using this credential's quota any more; full speed")
	}
	if ae != nil && ae.Kind == crm.KindRateLimited && ae.Policy == crm.PolicyDaily {
		if !daily {
			return QuotaPause{}
		}
		return a.pauseForTheDay(ctx, in, ae.RetryAfter, dailySpent)
	}
	if daily && rl.DailyKnown && rl.DailyMax > 0 {
		if reserve := in.Config.Quota.Reserve(rl.DailyMax); reserve > 0 && rl.DailyRemaining <= reserve {
			return a.pauseForTheDay(ctx, in, 0, fmt.Sprintf(
				dailyBudgetWhy+"%d of %d calls left today, the share kept for other apps (quota.daily_reserve)", rl.DailyRemaining, rl.DailyMax))
		}
	}
	if ae == nil || ae.Kind != crm.KindRateLimited {
		return QuotaPause{}
	}
	wait, kinds := ae.RetryAfter, []string{kind}
	switch ae.Policy {
	case crm.PolicySecondly:
		kinds = []string{ratelimit.KindSearch}
	case crm.PolicyWindow:
		kinds = []string{ratelimit.KindWindow}
	}
	if wait <= 0 {
		return QuotaPause{}
	}
	why := fmt.Sprintf("429 %s", cmp.Or(ae.Policy, ae.Category))
	for _, k := range kinds {
		if err := a.store.Block(ctx, in.Credential, k, a.now().Add(wait), why); err != nil {
			log.Warn("recording a told wait", zap.Error(err))
		}
	}
	log.Warn("the CRM answered 429; every worker waits as told", zap.String("policy", ae.Policy), zap.Duration("wait", wait))
	return QuotaPause{}
}

// dailyKeepEvery is how often a worker keeps the CRM's daily figures for `starter status`:
// often enough to read as today's count, rarely enough to cost no write per call.
const dailyKeepEvery = time.Second

// keepDaily stores the CRM's daily figures (store.RecordDaily) at most every dailyKeepEvery
// per worker. Failing to is logged: the figures are for display.
func (a *Activities) keepDaily(ctx context.Context, in *Integration, rl crm.RateLimit, at time.Time) {
	last := in.dailyKept.Load()
	if at.UnixNano()-last < int64(dailyKeepEvery) || !in.dailyKept.CompareAndSwap(last, at.UnixNano()) {
		return
	}
	if err := a.store.RecordDaily(ctx, in.Config.ID, rl.DailyMax, rl.DailyRemaining, at); err != nil {
		a.log.Warn("keeping the daily usage", zap.String("integration", in.Config.ID), zap.Error(err))
	}
}

// keepDailyPause stores the daily pause for `starter status`; failing to is logged.
func (a *Activities) keepDailyPause(ctx context.Context, in *Integration, p QuotaPause) {
	if err := a.store.RecordDailyPause(ctx, in.Config.ID, p.Until, p.Why); err != nil {
		a.log.Warn("keeping the daily pause", zap.String("integration", in.Config.ID), zap.Error(err))
	}
}

// Why calls pause for the day: after a DAILY 429, or at the reserve (dailyBudgetWhy...).
const (
	dailySpent     = "429 DAILY: the daily allowance is spent"
	dailyBudgetWhy = "daily budget: "
)

// isDailyPause reports whether a told wait's reason is a daily pause.
func isDailyPause(why string) bool {
	return why == dailySpent || strings.HasPrefix(why, dailyBudgetWhy)
}

// pauseForTheDay holds every call of the credential, in every worker, until the daily
// allowance resets: when the CRM said (Retry-After), else when its usage report says,
// else dailyRetry from now, when one call finds out. A daily pause already in place is
// kept: calls in flight when the reserve is reached all report it.
func (a *Activities) pauseForTheDay(ctx context.Context, in *Integration, told time.Duration, why string) QuotaPause {
	in.dailyMu.Lock()
	defer in.dailyMu.Unlock()
	log := a.log.With(zap.String("integration", in.Config.ID))
	now := a.now()
	if until, blockedWhy, err := a.store.BlockedUntil(ctx, in.Credential, ratelimit.KindWindow); err == nil && until.After(now) && isDailyPause(blockedWhy) {
		// Another integration on the credential may have decided it: keep it for this one too.
		p := QuotaPause{Until: until, Why: blockedWhy}
		a.keepDailyPause(ctx, in, p)
		return p
	}
	until := now.Add(told)
	if told <= 0 {
		until = a.dailyReset(ctx, in)
	}
	for _, k := range []string{ratelimit.KindWindow, ratelimit.KindSearch} {
		if err := a.store.Block(ctx, in.Credential, k, until, why); err != nil {
			log.Warn("recording the daily pause", zap.Error(err))
		}
	}
	log.Warn("pausing every sync of the credential until the daily allowance resets", zap.String("why", why), zap.Time("until", until))
	p := QuotaPause{Until: until, Why: why}
	a.keepDailyPause(ctx, in, p)
	return p
}

// dailyReset asks the CRM when its daily allowance resets, once a day per worker. The
// answer is given to the second (HubSpot: midnight in the account's time zone), and the
// CRM's clock is not ours, so the pause runs resetGrace past it; a reset the CRM still
// reports after it has passed is imminent.
func (a *Activities) dailyReset(ctx context.Context, in *Integration) time.Time {
	now := a.now()
	if t := time.Unix(0, in.dailyReset.Load()); t.After(now) {
		return t
	}
	fallback := now.Add(dailyRetry)
	ur, ok := in.Connector.(crm.UsageReader)
	if !ok {
		return fallback
	}
	var u crm.DailyUsage
	err := a.call(ctx, in, ratelimit.KindWindow, "reading the daily usage of "+in.Config.ID, false, func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		u, rl, err = ur.DailyUsage(ctx)
		return rl, err
	})
	if err != nil || u.ResetsAt.IsZero() {
		a.log.Warn("the CRM did not say when its daily allowance resets; checking again later",
			zap.String("integration", in.Config.ID), zap.Duration("in", dailyRetry), zap.Error(err))
		return fallback
	}
	until := u.ResetsAt.Add(resetGrace)
	if soon := a.now().Add(resetGrace); until.Before(soon) {
		until = soon
	}
	in.dailyReset.Store(until.UnixNano())
	return until
}

// resetGrace is how long after the CRM's reported daily reset calls resume.
const resetGrace = 5 * time.Second

// sleepUntil waits for the clock to reach t, or for ctx to end.
func sleepUntil(ctx context.Context, t time.Time, now func() time.Time) error {
	d := t.Sub(now())
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

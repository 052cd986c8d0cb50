package store_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/store"
)

// maxInAnyWindow is the most calls in any half-open window (t-period, t] over the times.
func maxInAnyWindow(ts []time.Time, period time.Duration) int {
	best := 0
	for i, end := range ts {
		n := 0
		for _, t := range ts[:i+1] {
			if t.After(end.Add(-period)) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestNextSlot(t *testing.T) {
	t.Parallel()
	w := store.Window{Calls: 3, Period: time.Second, Margin: 10 * time.Millisecond}
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name    string
		pending []time.Time
		ours    []time.Time
		others  []time.Time
		now     time.Time
		blocked time.Time
		want    time.Time
	}{
		{name: "empty window: now", now: ms(0), want: ms(0)},
		{name: "room left: now", ours: []time.Time{ms(0), ms(100)}, now: ms(200), want: ms(200)},
		{name: "full: one span after the call Calls places back", ours: []time.Time{ms(0), ms(100), ms(200)}, now: ms(300), want: ms(1010)},
		{name: "others count too, and a tenth more", ours: []time.Time{ms(100)}, others: []time.Time{ms(0)}, now: ms(300), want: ms(1110)},
		{name: "with others, our share is spread over the window", others: []time.Time{ms(0)}, pending: []time.Time{ms(100)}, now: ms(100), want: ms(1110)},
		{name: "without others, a burst", pending: []time.Time{ms(100)}, now: ms(100), want: ms(100)},
		{name: "calls in flight count in every window", pending: []time.Time{ms(0)}, ours: []time.Time{ms(50), ms(100)}, now: ms(300), want: ms(1060)},
		{name: "never before our last reservation", pending: []time.Time{ms(700)}, now: ms(300), want: ms(700)},
		{name: "never before a told wait", now: ms(0), blocked: ms(5000), want: ms(5000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := store.NextSlot(tc.pending, tc.ours, tc.others, w, tc.now, tc.blocked)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got.Sub(t0), tc.want.Sub(t0))
		})
	}
}

func TestReserveKeepsEveryWindowWithinTheAllowanceAcrossWorkers(t *testing.T) {
	t.Parallel()
	s := setup(t)
	w := store.Window{Calls: 10, Period: time.Second, Margin: 20 * time.Millisecond}
	type call struct{ slot, answered time.Time }
	// Five "workers" reserve concurrently for 3 simulated seconds; each call is answered
	// 7-40 ms after its slot, and settled.
	var mu sync.Mutex
	var calls []call
	var wg sync.WaitGroup
	for worker := range 5 {
		wg.Go(func() {
			now := t0.Add(time.Duration(worker) * time.Millisecond)
			for i := 0; now.Before(t0.Add(3 * time.Second)); i++ {
				res, err := s.Reserve(t.Context(), "cred", "window", w, now, 10*time.Second)
				require.NoError(t, err)
				require.True(t, res.Granted)
				require.False(t, res.At.Before(now))
				answered := res.At.Add(time.Duration(7+(worker*7+i*13)%34) * time.Millisecond)
				_, _, err = s.Settle(t.Context(), "cred", "window", w, res.At, answered, -1)
				require.NoError(t, err)
				mu.Lock()
				calls = append(calls, call{res.At, answered})
				mu.Unlock()
				now = answered
			}
		})
	}
	wg.Wait()
	// Wherever in [slot, answered] the CRM counted each call, no window (end-Period, end]
	// can hold more than Calls: count every call that could fall in each window.
	for _, c := range calls {
		for _, end := range []time.Time{c.slot, c.answered} {
			n := 0
			for _, o := range calls {
				if o.answered.After(end.Add(-w.Period)) && !o.slot.After(end) {
					n++
				}
			}
			require.LessOrEqual(t, n, w.Calls, "window ending at %s", end.Sub(t0))
		}
	}
	// And the allowance is used: about Calls per window over the 3 s.
	require.GreaterOrEqual(t, len(calls), 3*w.Calls-w.Calls/2)
}

func TestReserveRefusesALongWaitWithoutTakingTheSlot(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 2, Period: 10 * time.Second}
	for range 2 {
		res, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
		require.NoError(t, err)
		require.True(t, res.Granted)
	}
	res, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
	require.NoError(t, err)
	require.False(t, res.Granted)
	require.True(t, t0.Add(10*time.Second).Equal(res.At), "come back when the window has room")
	st, err := s.Ledger(ctx, "cred", "window")
	require.NoError(t, err)
	require.Len(t, st.Pending, 2, "a refused reservation takes nothing")
}

func TestObservedUsageOfOthersSlowsUsDownUntilItAgesOut(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 10, Period: 10 * time.Second}
	res, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
	require.NoError(t, err)
	// The CRM says 8 calls are in its window after ours: 7 are someone else's.
	theirs, change, err := s.Settle(ctx, "cred", "window", w, res.At, res.At.Add(100*time.Millisecond), 8)
	require.NoError(t, err)
	require.Equal(t, 7, theirs)
	require.Equal(t, 7, change)
	// The same reading again changes nothing: they are already known.
	theirs, change, err = s.Settle(ctx, "cred", "window", w, res.At, res.At.Add(100*time.Millisecond), 8)
	require.NoError(t, err)
	require.Equal(t, 7, theirs)
	require.Zero(t, change)

	// Until t0+10 s: 10 allowed, 1 ours and 7 theirs (and 1 spare for them) leave 1.
	require.Equal(t, 1, grantedBy(t, s, w, t0.Add(time.Second), t0.Add(10*time.Second), 5))
	// Ten seconds later their calls have aged out: full speed again.
	r, err := s.Reserve(ctx, "cred", "window", w, t0.Add(10*time.Second+time.Millisecond), 0)
	require.NoError(t, err)
	require.True(t, r.Granted)
}

func TestBlockHoldsEveryCallUntilTheToldWaitPasses(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 100, Period: 10 * time.Second}
	require.NoError(t, s.Block(ctx, "cred", "window", t0.Add(7*time.Second), "429 TEN_SECONDLY_ROLLING"))
	require.NoError(t, s.Block(ctx, "cred", "window", t0.Add(2*time.Second), "a shorter wait never shortens a longer one"))
	res, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
	require.NoError(t, err)
	require.False(t, res.Granted)
	require.True(t, t0.Add(7*time.Second).Equal(res.At))
	require.Equal(t, "429 TEN_SECONDLY_ROLLING", res.Blocked)
	res, err = s.Reserve(ctx, "cred", "window", w, t0.Add(7*time.Second), time.Second)
	require.NoError(t, err)
	require.True(t, res.Granted)
	require.Empty(t, res.Blocked)

	// Ledgers are per credential and kind.
	res, err = s.Reserve(ctx, "cred", "search", w, t0, time.Second)
	require.NoError(t, err)
	require.True(t, res.Granted)
	res, err = s.Reserve(ctx, "other", "window", w, t0, time.Second)
	require.NoError(t, err)
	require.True(t, res.Granted)
}

func TestOurOwnBurstIsNotMistakenForAnotherConsumer(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 100, Period: 10 * time.Second}
	// Ten calls sent within 10 ms; the first one's response says the CRM has counted ten,
	// because the other nine overtook it on the way.
	var first store.Reservation
	for i := range 10 {
		r, err := s.Reserve(ctx, "cred", "window", w, t0.Add(time.Duration(i)*time.Millisecond), time.Second)
		require.NoError(t, err)
		if i == 0 {
			first = r
		}
	}
	theirs, _, err := s.Settle(ctx, "cred", "window", w, first.At, t0.Add(50*time.Millisecond), 10)
	require.NoError(t, err)
	require.Zero(t, theirs, "all ten are ours")
}

func TestACallCountsUntilItIsAnswered(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 2, Period: 10 * time.Second}
	a, err := s.Reserve(ctx, "cred", "window", w, t0, time.Minute)
	require.NoError(t, err)
	b, err := s.Reserve(ctx, "cred", "window", w, t0.Add(time.Second), time.Minute)
	require.NoError(t, err)
	// Both in flight: nothing more until one is answered and has aged out.
	next, err := s.Reserve(ctx, "cred", "window", w, t0.Add(2*time.Second), 0)
	require.NoError(t, err)
	require.False(t, next.Granted)
	// a was answered 3 s after it was sent: the CRM may have counted it as late as that.
	_, _, err = s.Settle(ctx, "cred", "window", w, a.At, t0.Add(3*time.Second), -1)
	require.NoError(t, err)
	_, _, err = s.Settle(ctx, "cred", "window", w, b.At, t0.Add(1200*time.Millisecond), -1)
	require.NoError(t, err)
	next, err = s.Reserve(ctx, "cred", "window", w, t0.Add(2*time.Second), time.Minute)
	require.NoError(t, err)
	require.True(t, t0.Add(11200*time.Millisecond).Equal(next.At), "a window after b's answer, got %s", next.At.Sub(t0))
	_, _, err = s.Settle(ctx, "cred", "window", w, next.At, next.At.Add(time.Second), -1)
	require.NoError(t, err)
	next, err = s.Reserve(ctx, "cred", "window", w, t0.Add(2*time.Second), time.Minute)
	require.NoError(t, err)
	require.True(t, t0.Add(13*time.Second).Equal(next.At), "a window after a's answer, got %s", next.At.Sub(t0))
}

func TestAReservationNeverSettledExpires(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 1, Period: 10 * time.Second}
	_, err := s.Reserve(ctx, "cred", "window", w, t0, time.Minute) // its worker died
	require.NoError(t, err)
	next, err := s.Reserve(ctx, "cred", "window", w, t0.Add(31*time.Second), time.Minute)
	require.NoError(t, err)
	require.True(t, t0.Add(40*time.Second).Equal(next.At), "taken as answered at its send time plus the HTTP timeout, got %s", next.At.Sub(t0))
}

func TestSettleFindsItsReservationAtNanosecondTimes(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 5, Period: 10 * time.Second}
	now := t0.Add(123456789 * time.Nanosecond) // finer than PostgreSQL keeps
	r, err := s.Reserve(ctx, "cred", "window", w, now, time.Second)
	require.NoError(t, err)
	_, _, err = s.Settle(ctx, "cred", "window", w, r.At, now.Add(time.Millisecond+7), -1)
	require.NoError(t, err)
	st, err := s.Ledger(ctx, "cred", "window")
	require.NoError(t, err)
	require.Empty(t, st.Pending, "the settled call is no longer in flight")
	require.Len(t, st.Ours, 1)
}

func TestANewerReadingOfOthersReplacesTheLast(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 20, Period: 10 * time.Second, Learns: true}
	call := func(at time.Time, used int) (theirs, change int) {
		t.Helper()
		r, err := s.Reserve(ctx, "cred", "window", w, at, time.Second)
		require.NoError(t, err)
		require.True(t, r.Granted)
		theirs, change, err = s.Settle(ctx, "cred", "window", w, r.At, r.At.Add(50*time.Millisecond), used)
		require.NoError(t, err)
		return theirs, change
	}
	theirs, change := call(t0, 11)
	require.Equal(t, 10, theirs)
	require.Equal(t, 10, change)
	// A steady neighbour: the next reading renews the count, it does not add to it.
	theirs, change = call(t0.Add(time.Second), 12)
	require.Equal(t, 10, theirs)
	require.Zero(t, change)
	// The neighbour slows down: its calls age out of the CRM's window and we speed up.
	theirs, change = call(t0.Add(2*time.Second), 7)
	require.Equal(t, 4, theirs)
	require.Equal(t, -6, change)
	// A reading older than the one kept (its answer came late) is ignored.
	st, err := s.Ledger(ctx, "cred", "window")
	require.NoError(t, err)
	_, _, err = s.Settle(ctx, "cred", "window", w, t0.Add(1500*time.Millisecond), t0.Add(2100*time.Millisecond), 20)
	require.NoError(t, err)
	after, err := s.Ledger(ctx, "cred", "window")
	require.NoError(t, err)
	require.Equal(t, st.Others, after.Others)
	require.Len(t, after.Others, 4)
	// 20 allowed: 4 theirs (and 1 spare) leave us 15 a window, sent 0.67 s apart; until
	// t0+10 s that is 11 after our 3.
	require.Equal(t, 11, grantedBy(t, s, w, t0.Add(3*time.Second), t0.Add(10*time.Second), 20))
}

// grantedBy counts how many of n reservations asked for at `now` can be sent by `until`.
func grantedBy(t *testing.T, s *store.Store, w store.Window, now, until time.Time, n int) int {
	t.Helper()
	granted := 0
	for range n {
		r, err := s.Reserve(t.Context(), "cred", "window", w, now, until.Sub(now))
		require.NoError(t, err)
		require.False(t, r.Probing)
		if r.Granted {
			granted++
		}
	}
	return granted
}

func TestAColdLedgerSendsOneCallToLearnTheWindowFirst(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 100, Period: 10 * time.Second, Learns: true}
	probe, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
	require.NoError(t, err)
	require.True(t, probe.Granted)
	next, err := s.Reserve(ctx, "cred", "window", w, t0.Add(time.Millisecond), time.Second)
	require.NoError(t, err)
	require.False(t, next.Granted, "the first call has not been answered")
	require.True(t, next.Probing)
	require.True(t, next.At.After(t0.Add(time.Millisecond)))
	// Its answer: another consumer has 60 calls in the window.
	theirs, _, err := s.Settle(ctx, "cred", "window", w, probe.At, t0.Add(200*time.Millisecond), 61)
	require.NoError(t, err)
	require.Equal(t, 60, theirs)
	// 100 allowed: their 60 (and 6 spare) leave us 34 a window, sent 0.29 s apart.
	require.Equal(t, 34, grantedBy(t, s, w, t0.Add(300*time.Millisecond), t0.Add(10200*time.Millisecond), 50))

	// A limit the CRM reports nothing about (search) is never probed.
	search := store.Window{Calls: 5, Period: time.Second}
	for range 5 {
		r, err := s.Reserve(ctx, "cred", "search", search, t0, 0)
		require.NoError(t, err)
		require.True(t, r.Granted)
	}
}

func TestAReleasedReservationCountsAgainstNothing(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 1, Period: 10 * time.Second}
	r, err := s.Reserve(ctx, "cred", "window", w, t0, 0)
	require.NoError(t, err)
	require.True(t, r.Granted)
	require.NoError(t, s.Block(ctx, "cred", "window", t0.Add(2*time.Second), "429 TEN_SECONDLY_ROLLING"))
	until, why, err := s.BlockedUntil(ctx, "cred", "window")
	require.NoError(t, err)
	require.True(t, t0.Add(2*time.Second).Equal(until))
	require.Equal(t, "429 TEN_SECONDLY_ROLLING", why)
	require.NoError(t, s.Release(ctx, "cred", "window", r.At))
	next, err := s.Reserve(ctx, "cred", "window", w, t0.Add(2*time.Second), 0)
	require.NoError(t, err)
	require.True(t, next.Granted, "the released call never went, so the window is free once the wait passes")
	until, _, err = s.BlockedUntil(ctx, "nobody", "window")
	require.NoError(t, err)
	require.True(t, until.IsZero())
}

func TestACallOfOursAnsweredLaterIsNotMistakenForAnotherConsumer(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 100, Period: 10 * time.Second}
	a, err := s.Reserve(ctx, "cred", "window", w, t0, time.Second)
	require.NoError(t, err)
	b, err := s.Reserve(ctx, "cred", "window", w, t0.Add(time.Millisecond), time.Second)
	require.NoError(t, err)
	// b reached the CRM first but was answered after a; its answer is recorded first.
	_, _, err = s.Settle(ctx, "cred", "window", w, b.At, t0.Add(300*time.Millisecond), 2)
	require.NoError(t, err)
	theirs, _, err := s.Settle(ctx, "cred", "window", w, a.At, t0.Add(200*time.Millisecond), 2)
	require.NoError(t, err)
	require.Zero(t, theirs, "both calls the CRM counted are ours")
}

func TestAnswersInTheWindowOfACallInFlightAreKeptForItsReading(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	w := store.Window{Calls: 100, Period: 10 * time.Second}
	// Five calls answered early in the window.
	for i := range 5 {
		r, err := s.Reserve(ctx, "cred", "window", w, t0.Add(time.Duration(i)*time.Millisecond), time.Second)
		require.NoError(t, err)
		_, _, err = s.Settle(ctx, "cred", "window", w, r.At, t0.Add(100*time.Millisecond), -1)
		require.NoError(t, err)
	}
	// A call sent ten seconds later is still on its way when another worker reserves a
	// slot half a second after it, at a time when the first five have left every window.
	slow, err := s.Reserve(ctx, "cred", "window", w, t0.Add(10*time.Second), time.Second)
	require.NoError(t, err)
	_, err = s.Reserve(ctx, "cred", "window", w, t0.Add(10500*time.Millisecond), time.Second)
	require.NoError(t, err)
	// The CRM counted the five answered ones and itself in the slow call's window.
	theirs, _, err := s.Settle(ctx, "cred", "window", w, slow.At, t0.Add(10200*time.Millisecond), 6)
	require.NoError(t, err)
	require.Zero(t, theirs, "every call the CRM counted was ours")
}

// Webhook batches (realtime) never queue behind a backfill's reservations: while they are
// about, bulk calls leave a tenth of the window to them, and a realtime call takes a free
// slot ahead of bulk calls reserved for later. No window ever holds more than the quota.
func TestRealtimeCallsGoAheadOfBulkReservations(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	bulk := store.Window{Calls: 10, Period: 10 * time.Second}
	rt := bulk
	rt.Realtime = true
	var slots []time.Time
	reserve := func(w store.Window, at time.Time) time.Time {
		t.Helper()
		r, err := s.Reserve(ctx, "cred", "window", w, at, time.Minute)
		require.NoError(t, err)
		require.True(t, r.Granted)
		slots = append(slots, r.At)
		return r.At
	}
	// A webhook batch is read: realtime calls are about.
	first := reserve(rt, t0)
	require.Equal(t, t0, first)
	_, _, err := s.Settle(ctx, "cred", "window", bulk, first, t0.Add(100*time.Millisecond), -1)
	require.NoError(t, err)
	// A backfill takes what it may of the window: 8 calls, leaving one free.
	for i := range 8 {
		require.Equal(t, t0.Add(time.Second), reserve(bulk, t0.Add(time.Second)), "bulk call %d", i)
	}
	later := reserve(bulk, t0.Add(time.Second))
	require.True(t, later.After(t0.Add(10*time.Second)), "the ninth bulk call waits for the next window")
	// The next webhook batch goes at once, ahead of the bulk call reserved for later.
	require.Equal(t, t0.Add(1500*time.Millisecond), reserve(rt, t0.Add(1500*time.Millisecond)))
	require.LessOrEqual(t, maxInAnyWindow(sortedTimes(slots), 10*time.Second), 10)
}

// Queued writes rank between realtime calls and bulk ones: a write batch goes ahead of
// bulk calls reserved for later but leaves realtime's share free, and while writes are
// about, bulk calls leave half of the window to them.
func TestWritesGoAheadOfBulkAndBehindRealtime(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	bulk := store.Window{Calls: 10, Period: 10 * time.Second}
	wr, rt := bulk, bulk
	wr.Writes, wr.WritesWanted, rt.Realtime = true, 10, true
	var slots []time.Time
	reserve := func(w store.Window, at time.Time) time.Time {
		t.Helper()
		r, err := s.Reserve(ctx, "cred", "window", w, at, time.Minute)
		require.NoError(t, err)
		require.True(t, r.Granted)
		slots = append(slots, r.At)
		return r.At
	}
	// A realtime call: bulk and writes leave it a tenth of the window from now on.
	require.Equal(t, t0, reserve(rt, t0))
	// A write batch goes at once.
	require.Equal(t, t0.Add(time.Second), reserve(wr, t0.Add(time.Second)))
	// A backfill now leaves half the window and realtime's call free: with the two calls
	// in flight, it takes 2.
	for i := range 2 {
		require.Equal(t, t0.Add(2*time.Second), reserve(bulk, t0.Add(2*time.Second)), "bulk call %d", i)
	}
	require.True(t, reserve(bulk, t0.Add(2*time.Second)).After(t0.Add(10*time.Second)), "the third bulk call waits for the next window")
	// Writes take the room bulk left (the bulk call reserved for later counts too, until
	// answered), up to realtime's share: 4 more now.
	for i := range 4 {
		require.Equal(t, t0.Add(3*time.Second), reserve(wr, t0.Add(3*time.Second)), "write call %d", i)
	}
	require.True(t, reserve(wr, t0.Add(3*time.Second)).After(t0.Add(10*time.Second)), "writes leave realtime's share")
	// The realtime call still goes at once.
	require.Equal(t, t0.Add(4*time.Second), reserve(rt, t0.Add(4*time.Second)))
	require.LessOrEqual(t, maxInAnyWindow(sortedTimes(slots), 10*time.Second), 10)
}

// Once the write queue has nothing due, bulk calls stop leaving half the window to it.
func TestEndWritesGivesBulkTheWindowBack(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	bulk := store.Window{Calls: 10, Period: 10 * time.Second}
	wr := bulk
	wr.Writes, wr.WritesWanted = true, 10
	r, err := s.Reserve(ctx, "cred", "window", wr, t0, time.Minute)
	require.NoError(t, err)
	_, _, err = s.Settle(ctx, "cred", "window", wr, r.At, t0.Add(100*time.Millisecond), -1)
	require.NoError(t, err)
	require.Equal(t, 4, grantedBy(t, s, bulk, t0.Add(time.Second), t0.Add(time.Second), 10), "half the window, less the write's call, while writes are about")
	require.NoError(t, s.EndWrites(ctx, "cred", "window"))
	require.Equal(t, 5, grantedBy(t, s, bulk, t0.Add(time.Second), t0.Add(time.Second), 10), "the rest of the window once the queue is drained")
}

// A backfill leaves the write queue what it says it still needs, not half the window.
func TestBulkLeavesWritesWhatTheyWant(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	bulk := store.Window{Calls: 10, Period: 10 * time.Second}
	wr := bulk
	wr.Writes, wr.WritesWanted = true, 2
	_, err := s.Reserve(ctx, "cred", "window", wr, t0, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 7, grantedBy(t, s, bulk, t0.Add(time.Second), t0.Add(time.Second), 10), "10 calls, one the write's, two left for the writes to come")
	for i := range 2 {
		r, err := s.Reserve(ctx, "cred", "window", wr, t0.Add(2*time.Second), time.Minute)
		require.NoError(t, err)
		require.Equal(t, t0.Add(2*time.Second), r.At, "write %d goes in the room left for it", i)
	}
}

// Without realtime calls about, bulk calls use the whole window.
func TestBulkCallsUseTheWholeWindowWithoutRealtimeCalls(t *testing.T) {
	t.Parallel()
	s := setup(t)
	bulk := store.Window{Calls: 10, Period: 10 * time.Second}
	for i := range 10 {
		r, err := s.Reserve(t.Context(), "cred", "window", bulk, t0, time.Minute)
		require.NoError(t, err)
		require.Equal(t, t0, r.At, "bulk call %d", i)
	}
}

func sortedTimes(ts []time.Time) []time.Time {
	out := slices.Clone(ts)
	slices.SortFunc(out, time.Time.Compare)
	return out
}

func TestCallsInFlightNeverExceedTheLimitAcrossWorkers(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	var slots []time.Time
	for range 3 {
		slot, ok, err := s.EnterFlight(ctx, "cred", 3, t0)
		require.NoError(t, err)
		require.True(t, ok)
		slots = append(slots, slot)
	}
	_, ok, err := s.EnterFlight(ctx, "cred", 3, t0.Add(time.Second))
	require.NoError(t, err)
	require.False(t, ok, "a fourth call while three are in flight")
	_, ok, err = s.EnterFlight(ctx, "other", 3, t0.Add(time.Second))
	require.NoError(t, err)
	require.True(t, ok, "another credential has its own places")

	require.NoError(t, s.LeaveFlight(ctx, "cred", slots[1]))
	_, ok, err = s.EnterFlight(ctx, "cred", 3, t0.Add(time.Second))
	require.NoError(t, err)
	require.True(t, ok, "an answered call gives its place back")
	_, ok, err = s.EnterFlight(ctx, "cred", 3, t0.Add(time.Second))
	require.NoError(t, err)
	require.False(t, ok)

	// Places of a worker that died lapse.
	_, ok, err = s.EnterFlight(ctx, "cred", 3, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "places not given back lapse after the longest a call can take")

	// Concurrent workers: at most limit granted at once.
	var mu sync.Mutex
	granted := 0
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, ok, err := s.EnterFlight(ctx, "burst", 4, t0)
			if err == nil && ok {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 4, granted)
}

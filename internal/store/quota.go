package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Window is a rolling-window allowance: at most Calls in any Period, as the CRM counts them.
// Margin widens the period the ledger enforces, for the CRM's own rounding of its window.
type Window struct {
	Calls  int
	Period time.Duration
	Margin time.Duration
	// Learns says the CRM reports its count of the window in every response (HubSpot's
	// X-HubSpot-RateLimit-Remaining). A ledger that knows nothing of the current window then
	// sends one call alone and learns from its answer how much of the window other consumers
	// are using, before sending the rest.
	Learns bool
	// Realtime marks the reservation's call as realtime work (webhook batches, deltas)
	// rather than bulk (backfill pages): it may take a slot ahead of bulk calls already
	// reserved, and for one span after it bulk calls leave realtimeShare of the window free.
	Realtime bool
	// Writes marks the call as a batch of queued writes: below realtime calls, above bulk.
	// It may take a slot ahead of bulk calls already reserved, leaving realtime's share
	// free, and for one span after it bulk calls leave WritesWanted calls of every window
	// free (at most 1/writesShare of it).
	Writes bool
	// WritesWanted is how many more calls the write queue expects to need after this one.
	WritesWanted int
}

// writesShare: while queued writes are being sent, bulk calls leave what they want of the
// window, up to one call in this many, so that a burst of application writes drains
// within a window or two of a running backfill instead of after it, and a backfill gives
// up no more than the writes use.
const writesShare = 2

// writesRoom is how many calls of the window bulk reservations leave free for writes that
// want `wanted` more.
func (w Window) writesRoom(wanted int) int { return min(wanted, max(1, w.Calls/writesShare)) }

// realtimeShare: while realtime calls are about, bulk calls leave one call in this many of
// the window (at least one) to them, so that a webhook batch never queues behind a
// backfill's reservations.
const realtimeShare = 10

// spare is how many calls of the window bulk reservations leave free for realtime ones.
func (w Window) spare() int { return max(1, w.Calls/realtimeShare) }

// othersSlack: one call in every othersSlack of another consumer's is left spare as well.
const othersSlack = 10

// maxTime is later than any call.
var maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// probePoll is how often a call held back while a cold ledger's first call is on its way
// asks again.
const probePoll = 20 * time.Millisecond

// span is the period the ledger enforces.
func (w Window) span() time.Duration { return w.Period + w.Margin }

// stamp is a time as PostgreSQL stores it (microseconds), so that a reservation handed out
// can be found again when it is settled.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// maxInFlight is how long a call can be on its way: the worker's HTTP timeout. A call
// reserved longer ago and never settled (its worker died) is taken to have reached the CRM
// at the latest then.
const maxInFlight = 30 * time.Second

// Reservation is the answer to a request to send one call.
type Reservation struct {
	// At is when the call may be sent. When Granted, the slot is taken.
	At time.Time
	// Granted is false when the call would have to wait longer than the caller accepts;
	// then nothing was reserved and At says when to come back.
	Granted bool
	// Blocked says why, when the wait comes from a told wait (a 429).
	Blocked string
	// Probing is set, with Granted false, when the ledger knows nothing of the window and
	// its first call is on its way: come back at At, a moment later, for its answer.
	Probing bool
}

type ledgerRow struct {
	pending, ours, others []time.Time
	blockedUntil          *time.Time
	blockedWhy            string
	realtimeUntil         *time.Time
	writesUntil           *time.Time
	writesWanted          int
}

// withLedger runs fn on the locked ledger row of (credential, kind), creating it if needed,
// and writes back what fn leaves in it. The row lock serialises the fleet's reservations
// for one credential; it is held for a few milliseconds.
func (s *Store) withLedger(ctx context.Context, credential, kind string, fn func(*ledgerRow) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row lock is held until the commit, so the commit's flush to disk would be paid
		// once per call by every call of the credential, one after another. A ledger entry
		// lost to a crash of PostgreSQL itself (the last fraction of a second of reservations)
		// costs at worst a few calls sent early, which the CRM's 429 and its told wait then
		// hold back; the records and cursors keep synchronous commits.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		var row ledgerRow
		selectRow := func() error {
			return tx.QueryRow(ctx, `SELECT pending, ours, others, blocked_until, blocked_why, realtime_until, writes_until, writes_wanted
			FROM quota_ledger WHERE credential = $1 AND kind = $2 FOR UPDATE`, credential, kind).
				Scan(&row.pending, &row.ours, &row.others, &row.blockedUntil, &row.blockedWhy, &row.realtimeUntil, &row.writesUntil, &row.writesWanted)
		}
		err := selectRow()
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, `INSERT INTO quota_ledger (credential, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				credential, kind); err != nil {
				return err
			}
			err = selectRow()
		}
		if err != nil {
			return err
		}
		if err := fn(&row); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE quota_ledger SET pending = $3, ours = $4, others = $5, blocked_until = $6, blocked_why = $7,
			realtime_until = $8, writes_until = $9, writes_wanted = $10, updated_at = now() WHERE credential = $1 AND kind = $2`,
			credential, kind, row.pending, row.ours, row.others, row.blockedUntil, row.blockedWhy, row.realtimeUntil, row.writesUntil,
			row.writesWanted)
		return err
	})
}

// tidy drops what can no longer fall in a window ending at or after now (or, for our own
// answered calls, after the oldest call in flight), and takes pending
// calls older than maxInFlight as answered at the latest possible moment.
func (row *ledgerRow) tidy(now time.Time, w Window) {
	keep := row.pending[:0]
	for _, p := range row.pending {
		if now.Sub(p) > maxInFlight {
			row.ours = insertSorted(row.ours, p.Add(maxInFlight))
			continue
		}
		keep = append(keep, p)
	}
	row.pending = keep
	// A call still in flight is settled against the window before its own slot: the
	// answers of ours in that window must still be here then, or the CRM's count would
	// show more calls than ours and read as another consumer's.
	keepFrom := now
	if len(row.pending) > 0 && row.pending[0].Before(keepFrom) {
		keepFrom = row.pending[0]
	}
	row.ours, row.others = prune(row.ours, keepFrom, w), prune(row.others, now, w)
}

// prune drops times that can no longer fall in a window ending at or after now.
func prune(ts []time.Time, now time.Time, w Window) []time.Time {
	cut := now.Add(-w.span())
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	return ts[i:]
}

func insertSorted(ts []time.Time, t time.Time) []time.Time {
	i, _ := slices.BinarySearchFunc(ts, t, time.Time.Compare)
	return slices.Insert(ts, i, t)
}

// NextSlot is the earliest send time at or after now that keeps every window within the
// allowance. Answered calls (ours, at their answer's time) and other consumers' calls
// (others, plus a tenth of them spare) count where they are; calls still in flight (pending) can reach the CRM at any
// moment until answered, so each counts in every window from now on. Reservations only move
// forward, so the window ending at the new slot is the only one that can overflow: the slot
// must come at least one span after the counted call that sits (Calls - in flight) places
// back.
func NextSlot(pending, ours, others []time.Time, w Window, now time.Time, blockedUntil time.Time) time.Time {
	return nextSlot(pending, ours, others, w, now, blockedUntil, 0)
}

// nextSlot is NextSlot for a bulk call leaving `spare` calls of every window free.
func nextSlot(pending, ours, others []time.Time, w Window, now time.Time, blockedUntil time.Time, spare int) time.Time {
	at := now
	for _, ts := range [][]time.Time{pending, ours} {
		if n := len(ts); n > 0 && ts[n-1].After(at) {
			at = ts[n-1]
		}
	}
	if blockedUntil.After(at) {
		at = blockedUntil
	}
	room := w.Calls - len(pending) - spare
	if room <= 0 {
		// Every call the window allows is on its way: come back when one is answered, which
		// the caller cannot know; the earliest a slot can open is one span after now.
		return at.Add(w.span())
	}
	all := countedCalls(ours, others)
	if len(all) >= room {
		if free := all[len(all)-room].Add(w.span()); free.After(at) {
			at = free
		}
	}
	if share := w.Calls - (len(all) - len(ours)); len(others) > 0 && share > 0 {
		// With another consumer on the credential, our share is spread evenly over the
		// window rather than sent in bursts: each answer then reads the CRM's count with
		// few of our calls in flight, which is what tells their share from ours.
		last := time.Time{}
		if n := len(pending); n > 0 {
			last = pending[n-1]
		} else if n := len(ours); n > 0 {
			last = ours[n-1]
		}
		if paced := last.Add(w.span() / time.Duration(share)); !last.IsZero() && paced.After(at) {
			at = paced
		}
	}
	return at
}

// countedCalls is every answered call that counts where it lies, sorted: ours, and others'
// plus a tenth of theirs spare, because their pace is only known from the past: the spare
// absorbs their jitter, so that a call of theirs a little early does not tip the window over.
func countedCalls(ours, others []time.Time) []time.Time {
	all := make([]time.Time, 0, len(ours)+len(others)+len(others)/othersSlack+1)
	all = append(all, ours...)
	all = append(all, others...)
	if n := len(others); n > 0 {
		for range (n + othersSlack - 1) / othersSlack {
			all = append(all, others[n-1])
		}
	}
	slices.SortFunc(all, time.Time.Compare)
	return all
}

// realtimeSlot is the earliest send time at or after now for a realtime call, ahead of
// calls already reserved for later if a window has room: a reserved call is not sent before
// its slot, so it counts only in windows ending at or after it (until answered), and the
// call fits if every window that would hold it (the one ending at the slot, and those
// ending at each later reservation within a span) stays within the allowance. Bulk calls
// leave room for it (spare); they never reserve ahead of one another.
func realtimeSlot(pending, ours, others []time.Time, w Window, now, blockedUntil time.Time) time.Time {
	return aheadSlot(pending, ours, others, w, now, blockedUntil, 0)
}

// aheadSlot is realtimeSlot for a call that leaves `spare` calls of every window free
// (queued writes leave realtime's share).
func aheadSlot(pending, ours, others []time.Time, w Window, now, blockedUntil time.Time, spare int) time.Time {
	counted := countedCalls(ours, others)
	fits := func(at time.Time) bool {
		for _, t := range append([]time.Time{at}, pending...) {
			if t.Before(at) || !t.Before(at.Add(w.span())) {
				continue
			}
			n := 1
			for _, x := range counted {
				if x.After(t.Add(-w.span())) && !x.After(t) {
					n++
				}
			}
			for _, p := range pending {
				if !p.After(t) {
					n++
				}
			}
			if n > w.Calls-spare {
				return false
			}
		}
		return true
	}
	start := now
	if blockedUntil.After(start) {
		start = blockedUntil
	}
	// The count only falls when a counted call leaves the window: try those moments.
	candidates := []time.Time{start}
	for _, x := range counted {
		if free := x.Add(w.span()); free.After(start) {
			candidates = append(candidates, free)
		}
	}
	for _, at := range candidates {
		if fits(at) {
			return at
		}
	}
	// Every window up to a span ahead is full of reserved calls: after the last of them.
	last := start
	if n := len(pending); n > 0 && pending[n-1].After(last) {
		last = pending[n-1]
	}
	return nextSlot(pending, ours, others, w, last, blockedUntil, spare)
}

// Reserve asks to send one call of a credential under a window. If the call could go
// within maxWait, its slot is taken and the reservation granted; otherwise nothing is
// taken, so a caller that gives up wastes no quota. Every granted reservation must be
// settled once the call is answered (or has failed).
func (s *Store) Reserve(ctx context.Context, credential, kind string, w Window, now time.Time, maxWait time.Duration) (Reservation, error) {
	var res Reservation
	now = stamp(now)
	err := s.withLedger(ctx, credential, kind, func(row *ledgerRow) error {
		row.tidy(now, w)
		var blocked time.Time
		if row.blockedUntil != nil {
			blocked = row.blockedUntil.UTC()
		}
		spare := 0
		if !w.Realtime && row.realtimeUntil != nil && row.realtimeUntil.After(now) {
			spare = w.spare()
		}
		switch {
		case w.Realtime:
			res.At = stamp(realtimeSlot(row.pending, row.ours, row.others, w, now, blocked))
		case w.Writes:
			res.At = stamp(aheadSlot(row.pending, row.ours, row.others, w, now, blocked, spare))
		default:
			if row.writesUntil != nil && row.writesUntil.After(now) {
				spare = max(spare, min(spare+w.writesRoom(row.writesWanted), w.Calls-1))
			}
			res.At = stamp(nextSlot(row.pending, row.ours, row.others, w, now, blocked, spare))
		}
		if blocked.After(now) && !res.At.After(blocked) {
			res.Blocked = row.blockedWhy
		}
		if w.Learns && len(row.ours) == 0 && len(row.others) == 0 && len(row.pending) > 0 && res.Blocked == "" {
			res.At, res.Probing = now.Add(probePoll), true
			return nil
		}
		if res.At.Sub(now) > maxWait {
			return nil
		}
		res.Granted = true
		row.pending = insertSorted(row.pending, res.At)
		until := stamp(now.Add(w.span()))
		switch {
		case w.Realtime:
			row.realtimeUntil = &until
		case w.Writes:
			row.writesUntil, row.writesWanted = &until, w.WritesWanted
		}
		return nil
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("reserving a %s call for %s: %w", kind, credential, err)
	}
	return res, nil
}

// Settle records a call as answered: reserved at `slot`, answered at `received`. The CRM
// counted it at some instant in between (a busy machine can wake a sender late, and a busy
// CRM can accept a request late), so the ledger keeps it at `received`, the latest it can
// have been counted: the call a window later is then never squeezed into its window.
//
// `used` (-1 when unknown) is how many calls the CRM counted in its window (Max -
// Remaining). Those beyond ours were made by someone else on the same credential. The
// newest such reading replaces the last one, kept as that many calls at `slot`: while the
// other consumer keeps its pace every answer renews it, so this fleet leaves its share
// free before the CRM has to say so, and when it slows down or stops the readings fall
// and this fleet speeds up again. Every call of ours sent before the response arrived
// counts as ours, because in a burst a call sent after this one can reach the CRM first:
// that can hide another consumer while many of our calls are in flight, but it never
// mistakes our own burst for someone else's. Answered calls of ours count whenever they
// were answered, for the same reason. It returns the change in the other
// consumers' calls the reading made: the other consumers' calls now known in the window and
// the change from the previous reading.
func (s *Store) Settle(ctx context.Context, credential, kind string, w Window, slot, received time.Time, used int) (theirs, change int, err error) {
	slot, received = stamp(slot), stamp(received)
	err = s.withLedger(ctx, credential, kind, func(row *ledgerRow) error {
		if i := slices.IndexFunc(row.pending, func(t time.Time) bool { return t.Equal(slot) }); i >= 0 {
			row.pending = slices.Delete(row.pending, i, i+1)
			row.ours = insertSorted(row.ours, received)
		}
		row.tidy(slot, w)
		theirs = len(row.others)
		if used < 0 {
			return nil
		}
		if theirs > 0 && slot.Before(row.others[theirs-1]) {
			return nil // an older reading than the one kept
		}
		from := slot.Add(-w.Period)
		inWindow := func(ts []time.Time, until time.Time) int {
			n := 0
			for _, t := range ts {
				if t.After(from) && !t.After(until) {
					n++
				}
			}
			return n
		}
		// Ours answered after this call may still have reached the CRM before it, so every
		// answered call of ours in the window counts, as does every one sent before this
		// answer came.
		mine := inWindow(row.ours, stamp(maxTime)) + inWindow(row.pending, received)
		theirs = min(max(0, used-mine), w.Calls)
		change = theirs - len(row.others)
		row.others = slices.Repeat([]time.Time{slot}, theirs)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("settling a %s call of %s: %w", kind, credential, err)
	}
	return theirs, change, nil
}

// Release gives back a granted reservation that was never sent (the CRM told every worker
// to wait while it was waiting for its slot), so that it counts against nothing.
func (s *Store) Release(ctx context.Context, credential, kind string, slot time.Time) error {
	slot = stamp(slot)
	err := s.withLedger(ctx, credential, kind, func(row *ledgerRow) error {
		if i := slices.IndexFunc(row.pending, func(t time.Time) bool { return t.Equal(slot) }); i >= 0 {
			row.pending = slices.Delete(row.pending, i, i+1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("releasing a %s call of %s: %w", kind, credential, err)
	}
	return nil
}

// EndWrites lifts the share of every window bulk calls leave to queued writes: the write
// queue has nothing due, so a backfill need not hold back for it. The next write's
// reservation sets it again.
func (s *Store) EndWrites(ctx context.Context, credential, kind string) error {
	_, err := s.pool.Exec(ctx, `UPDATE quota_ledger SET writes_until = NULL, writes_wanted = 0
		WHERE credential = $1 AND kind = $2 AND writes_until IS NOT NULL`,
		credential, kind)
	if err != nil {
		return fmt.Errorf("ending the writes' share of %s: %w", credential, err)
	}
	return nil
}

// BlockedUntil reads the wait the CRM told a credential's callers to respect, checked just
// before a call is sent: a 429 can arrive while a granted call waits for its slot.
func (s *Store) BlockedUntil(ctx context.Context, credential, kind string) (until time.Time, why string, err error) {
	var blocked *time.Time
	err = s.pool.QueryRow(ctx, `SELECT blocked_until, blocked_why FROM quota_ledger WHERE credential = $1 AND kind = $2`,
		credential, kind).Scan(&blocked, &why)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("reading the told wait of %s: %w", credential, err)
	}
	if blocked != nil {
		until = blocked.UTC()
	}
	return until, why, nil
}

// Block holds every call of a credential under a kind until `until` (never shortening a
// longer wait already told), because the CRM said so.
func (s *Store) Block(ctx context.Context, credential, kind string, until time.Time, why string) error {
	err := s.withLedger(ctx, credential, kind, func(row *ledgerRow) error {
		if row.blockedUntil == nil || until.After(*row.blockedUntil) {
			u := stamp(until)
			row.blockedUntil, row.blockedWhy = &u, why
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording a told wait for %s: %w", credential, err)
	}
	return nil
}

// LedgerState is a credential's ledger as stored, for status displays and tests.
type LedgerState struct {
	Pending, Ours, Others []time.Time
	BlockedUntil          time.Time
	BlockedWhy            string
}

// Ledger reads a credential's ledger.
func (s *Store) Ledger(ctx context.Context, credential, kind string) (LedgerState, error) {
	var st LedgerState
	var blocked *time.Time
	err := s.pool.QueryRow(ctx, `SELECT pending, ours, others, blocked_until, blocked_why FROM quota_ledger
		WHERE credential = $1 AND kind = $2`, credential, kind).Scan(&st.Pending, &st.Ours, &st.Others, &blocked, &st.BlockedWhy)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return LedgerState{}, fmt.Errorf("reading the %s ledger of %s: %w", kind, credential, err)
	}
	if blocked != nil {
		st.BlockedUntil = blocked.UTC()
	}
	return st, nil
}

// FlightKind is the ledger kind that counts a credential's calls in flight, for CRMs that
// limit concurrent requests rather than (or besides) requests per window (Zoho CRM: 10 at
// once on Standard).
const FlightKind = "inflight"

// EnterFlight takes one of a credential's `limit` places for a call in flight, fleet-wide:
// granted when fewer than limit calls of the credential are in flight, else nothing is
// taken. A call's place is its entry time; LeaveFlight gives it back when the call is
// answered, and a place never given back (its worker died) lapses after maxInFlight.
func (s *Store) EnterFlight(ctx context.Context, credential string, limit int, now time.Time) (slot time.Time, granted bool, err error) {
	now = stamp(now)
	err = s.withLedger(ctx, credential, FlightKind, func(row *ledgerRow) error {
		keep := row.pending[:0]
		for _, p := range row.pending {
			if now.Sub(p) <= maxInFlight {
				keep = append(keep, p)
			}
		}
		row.pending = keep
		if len(row.pending) >= limit {
			return nil
		}
		// Two places taken in one microsecond would be indistinguishable when given back.
		slot = now
		for slices.ContainsFunc(row.pending, slot.Equal) {
			slot = slot.Add(time.Microsecond)
		}
		row.pending, granted = insertSorted(row.pending, slot), true
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("entering a call in flight for %s: %w", credential, err)
	}
	return slot, granted, nil
}

// LeaveFlight gives back the place EnterFlight granted at slot.
func (s *Store) LeaveFlight(ctx context.Context, credential string, slot time.Time) error {
	return s.Release(ctx, credential, FlightKind, slot)
}

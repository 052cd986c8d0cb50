package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/crm"
)

// Scenario (x): a burst of application writes arriving while a backfill has the whole
// window. Queued writes rank above backfill pages in the ledger (store.Window.Writes), so
// the burst should drain within a window or two, and the quota hold.
const (
	// priorityRecords is the backfill's contacts: about 50 s at 100 calls per 10 s, so that
	// the backfill outlasts the burst by far, and a burst waiting behind the backfill's
	// calls would show as a drain of 30 s or more.
	priorityRecords = 50_000
	// priorityEvents events for priorityContacts distinct contacts, queued as scenario (w)
	// queues its burst.
	priorityEvents   = 2_000
	priorityContacts = 400
	// priorityWarmUp is how long the backfill runs alone before the burst: past its first
	// window, at its steady pace with the window full. The last quotaWindow of it is
	// measured.
	priorityWarmUp = 15 * time.Second
)

// priorityCounts is what scenario (x) shows of the backfill the write burst arrived in;
// the burst's own figures are the row's Writes.
type priorityCounts struct {
	// BurstAtS is when the burst began to be queued, from the backfill's start.
	BurstAtS float64 `json:"burst_at_s"`
	// WindowBefore is crmsync's calls in the quotaWindow before the burst: the backfill's
	// use of the window when the writes arrived.
	WindowBefore int `json:"window_before"`
	// DrainS is from the burst's first event queued to an outbox with nothing pending or
	// sending (the row's Writes.TimeS).
	DrainS float64 `json:"drain_s"`
	// WriteCalls are the burst's batch upserts; MinWriteCalls ceil(contacts/100).
	WriteCalls    int `json:"write_calls"`
	MinWriteCalls int `json:"min_write_calls"`
	// BackfillDuringDrain is the backfill's calls from the burst's start until the outbox
	// was seen drained.
	BackfillDuringDrain int `json:"backfill_during_drain"`
	// AfterDrainS is how long the backfill ran on after the outbox was seen drained.
	AfterDrainS float64 `json:"after_drain_s"`
	// SettledS are the moments the burst's batches were settled, from its first event
	// queued.
	SettledS []float64 `json:"settled_s"`
}

func (p priorityCounts) String() string {
	after := fmt.Sprintf("the backfill ran %.1fs more", p.AfterDrainS)
	if p.AfterDrainS < 0 {
		after = fmt.Sprintf("the backfill had ended %.1fs before", -p.AfterDrainS)
	}
	settled := make([]string, len(p.SettledS))
	for i, s := range p.SettledS {
		settled[i] = fmt.Sprintf("%.1f", s)
	}
	return fmt.Sprintf("write burst at %.1fs into the backfill (crmsync's calls in the 10 s before: %d): %d batch upserts (min %d), settled at +%ss, drained in %.1fs, %d backfill calls meanwhile; %s",
		p.BurstAtS, p.WindowBefore, p.WriteCalls, p.MinWriteCalls, strings.Join(settled, ", +"), p.DrainS, p.BackfillDuringDrain, after)
}

// runPriority starts a backfill of priorityRecords contacts, queues a burst of
// priorityEvents write events once the backfill has the window full, and measures the
// burst's drain and the backfill's time. The row's figures are the backfill's (its calls
// without the writes'); the burst's are in the write table.
func (b *bench) runPriority(ctx context.Context) result {
	p := rowParams{scenario: "x", quota: 100, workers: 1}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, 0, priorityRecords, 10, 10),
		quota:   quota(p.quota),
		objects: []crm.Object{crm.Contacts},
		writes:  true,
		timeout: 10 * time.Minute,
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		emails, err := burstEmails(r.sim, priorityContacts)
		if err != nil {
			return err
		}
		events := writeBurst(emails, priorityEvents)
		pool, err := r.writerPool(ctx)
		if err != nil {
			return err
		}
		defer pool.Close()
		r.sim.ResetStats()
		r.sim.ResetWriteStats()
		calls := func() int { return r.sim.Stats().ByClient[crmsyncClient].Calls }

		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel() // an early return ends the backfill before waiting for it
		var elapsed time.Duration
		var backfillErr error
		finished := make(chan struct{})
		began := time.Now()
		wg.Go(func() {
			defer close(finished)
			elapsed, backfillErr = r.backfill(ctx, b.client, crm.Contacts)
		})

		b.progress("%s: backfill of %d contacts started; the write burst follows in %s", spec.run, priorityRecords, priorityWarmUp)
		if err := sleep(ctx, priorityWarmUp-quotaWindow); err != nil {
			return err
		}
		before := calls()
		if err := sleep(ctx, quotaWindow); err != nil {
			return err
		}
		select {
		case <-finished:
			if backfillErr != nil {
				return backfillErr
			}
			return fmt.Errorf("the backfill ended after %.1fs, before the write burst: it is too small to show the priority", elapsed.Seconds())
		default:
		}
		pc := priorityCounts{BurstAtS: roundTo(time.Since(began).Seconds(), 1), MinWriteCalls: (priorityContacts + 99) / 100}
		atBurst := calls()
		pc.WindowBefore = atBurst - before
		queued, err := r.queueAndDrain(ctx, b, pool, events)
		if err != nil {
			return err
		}
		drained := time.Since(began)
		st := r.sim.Stats()
		pc.BackfillDuringDrain = st.ByClient[crmsyncClient].Calls - atBurst - st.Calls(writeEndpoint)
		b.progress("%s: burst drained; waiting for the backfill", spec.run)
		wg.Wait()
		if backfillErr != nil {
			return backfillErr
		}
		pc.AfterDrainS = roundTo((elapsed - drained).Seconds(), 1)

		w, err := r.countBurst(ctx, pool, events, queued)
		if err != nil {
			return err
		}
		if pc.SettledS, err = settledTimes(ctx, pool, r.integration); err != nil {
			return err
		}
		w.Client = "crmsync write queue, beside a backfill"
		w.APICalls = w.Calls
		pc.DrainS, pc.WriteCalls = w.TimeS, w.Calls
		res.Writes, res.Priority = w, &pc

		st = r.sim.Stats()
		records, err := countRecords(ctx, r.schemaURL, r.integration)
		if err != nil {
			return err
		}
		t := trafficOf(st)
		t.calls -= w.Calls // the row's calls are the backfill's
		res.record(t, records, elapsed)
		if len(r.timelines) == 1 {
			if err := writeTimeline(b.opts.outDir, spec.run, r.timelines[0]); err != nil {
				return err
			}
		}
		if err := writePerSecond(b.opts.outDir, spec.run, st.PerSecond); err != nil {
			return err
		}
		var errs []error
		if w.Lost > 0 || w.Duplicated > 0 || w.Dead > 0 {
			errs = append(errs, fmt.Errorf("the write queue lost %d records' latest values, applied %d versions twice, gave up on %d writes",
				w.Lost, w.Duplicated, w.Dead))
		}
		if w.RateLimited > 0 || w.Peak10s > w.Quota {
			errs = append(errs, fmt.Errorf("the quota was exceeded: %d 429s, peak %d calls in 10 s of %d", w.RateLimited, w.Peak10s, w.Quota))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// settledTimes are the moments the integration's write batches were settled, in seconds
// from the first write queued: a batch's writes are settled in one transaction, so they
// share its done_at.
func settledTimes(ctx context.Context, pool *pgxpool.Pool, integration string) ([]float64, error) {
	rows, err := pool.Query(ctx, `SELECT DISTINCT extract(epoch FROM done_at - min(queued_at) OVER ())::float8 AS s
		FROM write_outbox WHERE integration = $1 AND done_at IS NOT NULL ORDER BY s`, integration)
	if err != nil {
		return nil, fmt.Errorf("reading when the write batches settled: %w", err)
	}
	times, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("reading when the write batches settled: %w", err)
	}
	for i, t := range times {
		times[i] = roundTo(t, 2)
	}
	return times, nil
}

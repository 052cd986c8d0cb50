package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/groundtruth"
	"github.com/crmsync/crmsync/internal/store"
)

// Scenario (s): a soak run. After a backfill of every object, the simulator changes records
// for --soak while the webhooks push the changes and a delta of every object runs every
// minute; the row reports how soon each change reached PostgreSQL, what the workers' memory
// did, and the invariants: PostgreSQL equals the CRM, no delta cursor moves backwards, no
// call came early and none was refused.
const (
	soakContacts  = 20000
	soakCompanies = 5000
	soakDeals     = 5000
	soakQuota     = 100
	soakLatency   = 50 * time.Millisecond
	soakWorkers   = 3
	// soakRoundEvery is how often soakRound's changes are made.
	soakRoundEvery = 10 * time.Second
	// soakDeltaEvery is how often every object's delta runs, as a schedule would start it.
	soakDeltaEvery = time.Minute
	// soakCursorEvery is how often the delta cursors are read to check they never go back.
	soakCursorEvery = 5 * time.Second
	// soakLagPoll is how often PostgreSQL is asked for the changes it does not hold yet, and
	// so the lag's resolution: at 200 ms, a poll phase locked to the rounds' made every change
	// read 1.20 s. It asks only while changes are pending, about a second per round.
	soakLagPoll = pushPoll
	// soakProgressEvery is how often the run reports how it is going.
	soakProgressEvery = time.Minute
	// soakSettle lets the last pushed batches be read after the webhooks are delivered.
	soakSettle = 3 * pushFlushAfter
	// soakFinishTimeout bounds the end of the run: flush, final deltas and the comparison.
	soakFinishTimeout = 10 * time.Minute
)

// soakRound is one round's changes to each of the three objects: 60 changes every 10 s,
// 360 a minute. The webhooks turn a round into about one batch read per object, and the
// deltas re-read the lag window with search, so the run stays far inside the quota. Two
// archives to one restore let the archived records pile up, so the end checks deletes
// too; a restore picks among all archived records, mostly older rounds'.
var soakRound = crmsim.MutationSpec{Updates: 15, Creates: 2, Archives: 2, Restores: 1}

// soakCounts is what scenario (s) saw.
type soakCounts struct {
	// SoakS is how long records were changed; BackfillS how long the first backfill took.
	SoakS     float64 `json:"soak_s"`
	BackfillS float64 `json:"backfill_s"`
	// Rounds of changes were made; Changes counts their changes, split by kind.
	Rounds   int `json:"rounds"`
	Changes  int `json:"changes"`
	Updated  int `json:"updated"`
	Created  int `json:"created"`
	Archived int `json:"archived"`
	Restored int `json:"restored"`
	// Synced is how many rows PostgreSQL wrote after the backfill (by webhook or delta),
	// each counted once.
	Synced int `json:"synced"`
	// Deltas counts the delta syncs run, the final ones included; DeltaWritten the rows
	// they changed.
	Deltas       int64 `json:"deltas"`
	DeltaWritten int64 `json:"delta_written"`
	// SoakCalls are crmsync's CRM calls after the backfill.
	SoakCalls int `json:"soak_calls"`
	// Lag is the time from a change to its version (or a newer one) in PostgreSQL, over
	// every change made; Unseen counts the changes PostgreSQL never held.
	LagSamples int     `json:"lag_samples"`
	LagP50S    float64 `json:"lag_p50_s"`
	LagP95S    float64 `json:"lag_p95_s"`
	LagMaxS    float64 `json:"lag_max_s"`
	Unseen     int     `json:"unseen"`
	// LagP95ByKind is the lag's p95 by kind of change (each change is in <run>-lag.json).
	LagP95ByKind map[string]float64 `json:"lag_p95_by_kind"`
	// Workers are the worker processes' memory and CPU, in the order they were started.
	Workers []workerUsage `json:"workers"`
	// CursorChecks counts reads of the delta cursors; CursorRegressions the times one was
	// found behind its previous reading.
	CursorChecks      int      `json:"cursor_checks"`
	CursorRegressions int      `json:"cursor_regressions"`
	CursorExamples    []string `json:"cursor_examples,omitempty"`
	// Compared and Mismatches are the ground truth's, all objects together.
	Compared         int      `json:"compared"`
	Mismatches       int      `json:"mismatches"`
	MismatchExamples []string `json:"mismatch_examples,omitempty"`
}

// workerUsage is one worker's memory at the soak's start (after the backfill) and end, and
// the CPU time it used in between.
type workerUsage struct {
	RSSStartMB float64 `json:"rss_start_mb"`
	RSSEndMB   float64 `json:"rss_end_mb"`
	CPUS       float64 `json:"cpu_s"`
}

// String formats the counts for the table.
func (c soakCounts) String() string {
	mem := make([]string, len(c.Workers))
	cpu := make([]string, len(c.Workers))
	for i, w := range c.Workers {
		mem[i] = fmt.Sprintf("%.0f->%.0f", w.RSSStartMB, w.RSSEndMB)
		cpu[i] = fmt.Sprintf("%.1f", w.CPUS)
	}
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(c.LagP95ByKind)) {
		kinds = append(kinds, fmt.Sprintf("%s %.2fs", k, c.LagP95ByKind[k]))
	}
	return fmt.Sprintf("SOAK %s: %d changes (%d updated, %d created, %d archived, %d restored) in %d rounds, %d rows synced, %d deltas, %d calls; "+
		"lag p50 %.2fs p95 %.2fs max %.2fs over %d changes (p95 %s), %d unseen; workers RSS %s MB, CPU %s s; "+
		"cursor regressions %d of %d checks; mismatches %d of %d",
		time.Duration(c.SoakS*float64(time.Second)).Round(time.Second), c.Changes, c.Updated, c.Created, c.Archived, c.Restored, c.Rounds,
		c.Synced, c.Deltas, c.SoakCalls, c.LagP50S, c.LagP95S, c.LagMaxS, c.LagSamples, strings.Join(kinds, ", "), c.Unseen,
		strings.Join(mem, ", "), strings.Join(cpu, "/"), c.CursorRegressions, c.CursorChecks, c.Mismatches, c.Compared)
}

// broken lists the invariants the run broke.
func (c soakCounts) broken(res result) []string {
	var out []string
	for _, v := range []struct {
		n    int
		what string
	}{
		{c.Mismatches, "ground-truth mismatches"},
		{c.Unseen, "changes never in PostgreSQL"},
		{c.CursorRegressions, "delta cursor regressions"},
		{res.Early, "early calls"},
		{res.RateLimited, "429s"},
	} {
		if v.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", v.n, v.what))
		}
	}
	if res.Peak10s > res.Quota {
		out = append(out, fmt.Sprintf("peak %d calls in 10 s over the quota of %d", res.Peak10s, res.Quota))
	}
	return out
}

// runSoak runs scenario (s): a backfill of every object, --soak of changes pushed by
// webhook and read by deltas, then a final delta and the ground truth.
func (b *bench) runSoak(ctx context.Context) result {
	p := rowParams{scenario: "s", quota: soakQuota, latency: soakLatency, workers: soakWorkers}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:      simOptions(p.quota, p.latency, soakContacts, soakCompanies, soakDeals),
		quota:    quota(p.quota),
		objects:  crm.Objects,
		webhooks: true,
		timeout:  runTimeout + b.opts.soak + soakFinishTimeout,
	}
	c := &soakCounts{}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, spec.objects...)
		if err != nil {
			return err
		}
		c.BackfillS = roundTo(elapsed.Seconds(), 1)
		res.Soak = c
		b.progress("%s: backfill done in %s; changing records for %s", spec.run, elapsed.Round(time.Second), b.opts.soak)
		return r.soak(ctx, b, &res, c)
	})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if broken := c.broken(res); len(broken) > 0 {
		res.Error = "invariants broken: " + strings.Join(broken, ", ")
	}
	return res
}

// soak changes records for the soak's duration while deltas run and the lag and cursors are
// watched, then brings PostgreSQL up to date and compares it with the CRM.
func (r *rig) soak(ctx context.Context, b *bench, res *result, c *soakCounts) error {
	lagConn, err := pgx.Connect(ctx, r.schemaURL)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer lagConn.Close(context.WithoutCancel(ctx))
	conn, err := pgx.Connect(ctx, r.schemaURL)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	usage, err := startUsage(r.workers)
	if err != nil {
		return err
	}
	began := time.Now()
	callsBefore := r.sim.Stats().ByClient[crmsyncClient].Calls
	lag := &lagTracker{pending: map[lagKey]lagSample{}}
	cursors := &cursorWatch{last: map[string]crm.Cursor{}}
	if err := cursors.check(ctx, conn, r.integration); err != nil {
		return err
	}
	var deltas deltaTally

	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	failed := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := lag.run(loopCtx, lagConn, r.integration); err != nil {
			failed <- fmt.Errorf("watching the lag: %w", err)
		}
	})
	wg.Go(func() {
		if err := r.deltaLoop(ctx, loopCtx, b, &deltas); err != nil {
			failed <- err
		}
	})
	err = r.soakLoop(ctx, b, c, lag, cursors, conn, &deltas, failed)
	stopLoops()
	wg.Wait()
	if err != nil {
		return err
	}
	c.SoakS = roundTo(time.Since(began).Seconds(), 1)

	// The end: every change delivered, every object's delta run once more.
	ctx, cancel := context.WithTimeout(ctx, soakFinishTimeout)
	defer cancel()
	b.progress("%s: changes stopped; flushing webhooks and running the final deltas", r.spec.run)
	if err := r.sim.FlushWebhooks(ctx); err != nil {
		return err
	}
	if err := sleep(ctx, soakSettle); err != nil {
		return err
	}
	for _, obj := range r.spec.objects {
		if err := deltas.run(ctx, r, b, obj); err != nil {
			return fmt.Errorf("final delta: %w", err)
		}
	}
	if err := lag.check(ctx, lagConn, r.integration); err != nil {
		return err
	}
	if err := cursors.check(ctx, conn, r.integration); err != nil {
		return err
	}
	if c.Workers, err = usage.end(); err != nil {
		return err
	}
	lag.summarise(c)
	if err := lag.write(b.opts.outDir, r.spec.run); err != nil {
		return err
	}
	c.Deltas, c.DeltaWritten = deltas.runs.Load(), deltas.written.Load()
	c.CursorChecks, c.CursorRegressions, c.CursorExamples = cursors.checks, cursors.regressions, cursors.examples
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM records WHERE integration = $1 AND synced_at >= $2`,
		r.integration, began).Scan(&c.Synced); err != nil {
		return fmt.Errorf("counting the rows synced: %w", err)
	}
	if err := r.compareAll(ctx, c); err != nil {
		return err
	}

	st := r.sim.Stats()
	t := trafficOf(st)
	c.SoakCalls = t.calls - callsBefore
	records, err := countRecords(ctx, r.schemaURL, r.integration)
	if err != nil {
		return err
	}
	res.Records, res.APICalls, res.ElapsedS = records, t.calls, c.SoakS
	res.RateLimited, res.Early, res.Peak10s, res.ByEndpoint = t.rateLimited, t.early, t.peak, t.byEndpoint
	return writePerSecond(b.opts.outDir, r.spec.run, st.PerSecond)
}

// soakLoop makes a round of changes every soakRoundEvery, reads the cursors every
// soakCursorEvery and reports progress every soakProgressEvery, until the soak's time is
// up or a watcher fails.
func (r *rig) soakLoop(ctx context.Context, b *bench, c *soakCounts, lag *lagTracker, cursors *cursorWatch, conn *pgx.Conn, deltas *deltaTally, failed <-chan error) error {
	began := time.Now()
	deadline := time.NewTimer(b.opts.soak)
	defer deadline.Stop()
	rounds := time.NewTicker(soakRoundEvery)
	defer rounds.Stop()
	cursorTicks := time.NewTicker(soakCursorEvery)
	defer cursorTicks.Stop()
	progress := time.NewTicker(soakProgressEvery)
	defer progress.Stop()
	if err := r.soakRound(c, lag); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-deadline.C:
			return nil
		case <-rounds.C:
			if err := r.soakRound(c, lag); err != nil {
				return err
			}
		case <-cursorTicks.C:
			if err := cursors.check(ctx, conn, r.integration); err != nil {
				return err
			}
		case <-progress.C:
			b.progress("%s: %s of %s: %s", r.spec.run, time.Since(began).Round(time.Second), b.opts.soak, r.soakProgress(c, lag, cursors, deltas))
		}
	}
}

// soakRound makes one round of changes and hands them to the lag tracker.
func (r *rig) soakRound(c *soakCounts, lag *lagTracker) error {
	made := time.Now()
	m, err := r.sim.Mutate(soakRound)
	if err != nil {
		return err
	}
	c.Rounds++
	for obj, ch := range m.ByObject {
		c.Updated += len(ch.Updated)
		c.Created += len(ch.Created)
		c.Archived += len(ch.Archived)
		c.Restored += len(ch.Restored)
		lag.add(obj, "updated", ch.Updated, made)
		lag.add(obj, "created", ch.Created, made)
		lag.add(obj, "archived", ch.Archived, made)
		lag.add(obj, "restored", ch.Restored, made)
	}
	c.Changes = c.Updated + c.Created + c.Archived + c.Restored
	return nil
}

// soakProgress is one progress line's figures.
func (r *rig) soakProgress(c *soakCounts, lag *lagTracker, cursors *cursorWatch, deltas *deltaTally) string {
	var now soakCounts
	lag.summarise(&now)
	t := trafficOf(r.sim.Stats())
	rss := make([]string, len(r.workers))
	for i, w := range r.workers {
		mb, err := rssMB(w.cmd.Process.Pid)
		if err != nil {
			rss[i] = "?"
			continue
		}
		rss[i] = fmt.Sprintf("%.0f", mb)
	}
	return fmt.Sprintf("%d changes, %d in PostgreSQL (%d pending), lag p95 %.2fs max %.2fs; %d deltas; %d cursor regressions; %d calls, peak %d/%d, %d 429s, %d early; RSS %s MB",
		c.Changes, now.LagSamples, now.Unseen, now.LagP95S, now.LagMaxS, deltas.runs.Load(), cursors.regressions,
		t.calls, t.peak, r.spec.quota.RequestsPer10s, t.rateLimited, t.early, strings.Join(rss, "/"))
}

// compareAll compares every object in PostgreSQL with the CRM.
func (r *rig) compareAll(ctx context.Context, c *soakCounts) error {
	s, err := store.Open(ctx, r.schemaURL)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, obj := range r.spec.objects {
		diff, err := groundtruth.Compare(ctx, r.sim, s, r.integration, obj, time.Time{})
		if err != nil {
			return err
		}
		c.Compared += diff.Compared
		c.Mismatches += diff.Mismatches()
		if diff.Mismatches() > 0 {
			c.MismatchExamples = append(c.MismatchExamples, fmt.Sprintf("%s: %s", obj, diff))
		}
	}
	return nil
}

// deltaTally runs deltas and counts them; its counters are read while deltas run.
type deltaTally struct {
	runs, written atomic.Int64
}

// run runs obj's delta and counts it.
func (d *deltaTally) run(ctx context.Context, r *rig, b *bench, obj crm.Object) error {
	out, err := r.delta(ctx, b.client, obj)
	if err != nil {
		return err
	}
	d.runs.Add(1)
	d.written.Add(out.Written)
	return nil
}

// deltaLoop runs every object's delta every soakDeltaEvery until stop ends. A delta that
// has started runs to its end under ctx, so the soak never leaves one cut short.
func (r *rig) deltaLoop(ctx, stop context.Context, b *bench, d *deltaTally) error {
	t := time.NewTicker(soakDeltaEvery)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return nil
		case <-t.C:
		}
		for _, obj := range r.spec.objects {
			if stop.Err() != nil {
				return nil
			}
			if err := d.run(ctx, r, b, obj); err != nil {
				return err
			}
		}
	}
}

// lagKey names one record.
type lagKey struct{ object, id string }

// lagTracker follows changes until PostgreSQL holds them. A change is held when its row's
// version (the later of modified_at and deleted_at) is at least the time the change was
// made, to the millisecond: the simulator stamps a change with its clock at the change,
// never earlier, and every older version of a record is at least a round older.
type lagTracker struct {
	mu sync.Mutex
	// pending maps a changed record to its change. A record changed again before its
	// first change arrived keeps the first: the newer version satisfies it.
	pending map[lagKey]lagSample
	// seen are the changes PostgreSQL holds, with their times to PostgreSQL.
	seen []lagSample
}

// lagSample is one change followed to PostgreSQL.
type lagSample struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	// Kind is "updated", "created", "archived" or "restored".
	Kind string    `json:"kind"`
	Made time.Time `json:"made"`
	// LagS is the time from the change to its first sight in PostgreSQL.
	LagS float64 `json:"lag_s"`
}

// add starts following changes of one kind made to obj's ids at made.
func (l *lagTracker) add(obj, kind string, ids []string, made time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		k := lagKey{obj, id}
		if _, ok := l.pending[k]; !ok {
			l.pending[k] = lagSample{Object: obj, ID: id, Kind: kind, Made: made}
		}
	}
}

// run checks the pending changes every soakLagPoll until ctx ends.
func (l *lagTracker) run(ctx context.Context, conn *pgx.Conn, integration string) error {
	t := time.NewTicker(soakLagPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := l.check(ctx, conn, integration); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

// check asks PostgreSQL for the pending records' versions and stops following those it
// holds.
func (l *lagTracker) check(ctx context.Context, conn *pgx.Conn, integration string) error {
	l.mu.Lock()
	objs := make([]string, 0, len(l.pending))
	ids := make([]string, 0, len(l.pending))
	for k := range l.pending {
		objs, ids = append(objs, k.object), append(ids, k.id)
	}
	l.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT k.o, k.id, GREATEST(r.modified_at, r.deleted_at)
		FROM unnest($2::text[], $3::text[]) AS k(o, id)
		JOIN records r ON r.integration = $1 AND r.object_type = k.o AND r.crm_id = k.id`, integration, objs, ids)
	if err != nil {
		return fmt.Errorf("reading %d changed records: %w", len(ids), err)
	}
	now := time.Now()
	type version struct {
		k  lagKey
		at time.Time
	}
	var got []version
	for rows.Next() {
		var v version
		if err := rows.Scan(&v.k.object, &v.k.id, &v.at); err != nil {
			rows.Close()
			return err
		}
		got = append(got, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range got {
		smp, ok := l.pending[v.k]
		if ok && !v.at.Before(smp.Made.Truncate(time.Millisecond)) {
			delete(l.pending, v.k)
			smp.LagS = roundTo(now.Sub(smp.Made).Seconds(), 3)
			l.seen = append(l.seen, smp)
		}
	}
	return nil
}

// summarise fills c's lag figures: the changes seen so far and those still pending.
func (l *lagTracker) summarise(c *soakCounts) {
	l.mu.Lock()
	lags := make([]float64, len(l.seen))
	byKind := map[string][]float64{}
	for i, smp := range l.seen {
		lags[i] = smp.LagS
		byKind[smp.Kind] = append(byKind[smp.Kind], smp.LagS)
	}
	c.Unseen = len(l.pending)
	l.mu.Unlock()
	slices.Sort(lags)
	c.LagSamples = len(lags)
	if len(lags) > 0 {
		c.LagP50S, c.LagP95S, c.LagMaxS = roundTo(percentile(lags, 0.50), 3), roundTo(percentile(lags, 0.95), 3), roundTo(lags[len(lags)-1], 3)
	}
	c.LagP95ByKind = map[string]float64{}
	for kind, v := range byKind {
		slices.Sort(v)
		c.LagP95ByKind[kind] = roundTo(percentile(v, 0.95), 3)
	}
}

// write saves every change followed, seen or not (lag_s 0), to <outDir>/<run>-lag.json.
func (l *lagTracker) write(outDir, run string) error {
	l.mu.Lock()
	all := slices.Clone(l.seen)
	for _, smp := range l.pending {
		all = append(all, smp)
	}
	l.mu.Unlock()
	slices.SortFunc(all, func(a, b lagSample) int { return a.Made.Compare(b.Made) })
	path := filepath.Join(outDir, run+"-lag.json")
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the lag samples: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// cursorWatch reads the delta cursors and counts the times one moved backwards.
type cursorWatch struct {
	last        map[string]crm.Cursor
	checks      int
	regressions int
	examples    []string
}

// check reads every delta cursor of the integration and compares it with its last reading.
func (w *cursorWatch) check(ctx context.Context, conn *pgx.Conn, integration string) error {
	rows, err := conn.Query(ctx, `SELECT object_type, cursor_at, cursor_id FROM sync_cursors
		WHERE integration = $1 AND stream = $2`, integration, store.StreamDelta)
	if err != nil {
		return fmt.Errorf("reading the delta cursors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var obj string
		var at *time.Time
		var c crm.Cursor
		if err := rows.Scan(&obj, &at, &c.ID); err != nil {
			return fmt.Errorf("reading the delta cursors: %w", err)
		}
		if at != nil {
			c.ModifiedAt = *at
		}
		if prev, ok := w.last[obj]; ok && c.Compare(prev) < 0 {
			w.regressions++
			if len(w.examples) < 5 {
				w.examples = append(w.examples, fmt.Sprintf("%s: (%s, %s) after (%s, %s)", obj,
					c.ModifiedAt.Format(time.RFC3339Nano), c.ID, prev.ModifiedAt.Format(time.RFC3339Nano), prev.ID))
			}
		}
		w.last[obj] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the delta cursors: %w", err)
	}
	w.checks++
	return nil
}

// usage holds the workers' CPU times at the soak's start, for workerUsage.
type usage struct {
	workers []*workerProc
	start   []workerUsage
	ticks   []int64
}

// startUsage reads the workers' memory and CPU time now.
func startUsage(workers []*workerProc) (*usage, error) {
	u := &usage{workers: workers}
	for _, w := range workers {
		pid := w.cmd.Process.Pid
		rss, err := rssMB(pid)
		if err != nil {
			return nil, err
		}
		ticks, err := cpuTicks(pid)
		if err != nil {
			return nil, err
		}
		u.start = append(u.start, workerUsage{RSSStartMB: roundTo(rss, 1)})
		u.ticks = append(u.ticks, ticks)
	}
	return u, nil
}

// end reads the workers' memory and CPU time again and returns each worker's usage. A
// worker that exited during the soak is an error.
func (u *usage) end() ([]workerUsage, error) {
	out := slices.Clone(u.start)
	for i, w := range u.workers {
		if w.exited() {
			return nil, fmt.Errorf("worker %d exited during the soak (log: %s): %w", i+1, w.logPath, w.exitError())
		}
		pid := w.cmd.Process.Pid
		rss, err := rssMB(pid)
		if err != nil {
			return nil, err
		}
		ticks, err := cpuTicks(pid)
		if err != nil {
			return nil, err
		}
		out[i].RSSEndMB = roundTo(rss, 1)
		out[i].CPUS = roundTo(float64(ticks-u.ticks[i])/clockTicks, 1)
	}
	return out, nil
}

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// Simulator and quota settings common to the scenarios.
const (
	// simSeed makes every run's dataset the same.
	simSeed = 1
	// searchPerSecond is HubSpot's search limit, in the simulator and the config.
	searchPerSecond = 5
	// dailyLimit is far above anything a run uses, so only the 10 s window binds.
	dailyLimit = 10_000_000
	// consumerWarmUp is how long the other consumer runs alone before the sync starts: one
	// window, so that it is at its steady share.
	consumerWarmUp = 10 * time.Second
	// runTimeout bounds a whole run: setup, syncs and measurement.
	runTimeout = backfillTimeout + 5*time.Minute
)

// scenario is one lettered benchmark. run executes all its rows and returns one result per
// row, failed rows included (with Error set).
type scenario struct {
	name  string
	about string
	run   func(ctx context.Context, b *bench) []result
	// optIn leaves the scenario out of the default list: it runs only when named.
	optIn bool
}

// allScenarios lists the implemented scenarios in the order they run.
func allScenarios() []scenario {
	return []scenario{
		{name: "a", about: "backfill of --records contacts, one worker",
			run: func(ctx context.Context, b *bench) []result { return b.backfillGrid(ctx, "a", 1, 0) }},
		{name: "b", about: "backfill of --records contacts, three workers",
			run: func(ctx context.Context, b *bench) []result { return b.backfillGrid(ctx, "b", 3, 0) }},
		{name: "c", about: "backfill while another consumer of the same token uses half the quota",
			run: func(ctx context.Context, b *bench) []result {
				p := backfillParams{rowParams: rowParams{scenario: "c", quota: 100, workers: 1}, records: b.opts.records, otherShare: 0.5}
				return []result{b.runBackfill(ctx, p)}
			}},
		{name: "d", about: "cost of a delta sync with no changes, after a small backfill",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runIdleDelta(ctx)} }},
		{name: "e", about: "a daily allowance that runs out mid-backfill",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runDailyBudget(ctx)} }},
		{name: "f", about: "an idle worker's cost by integrations configured, queue pair per integration vs shared queues",
			run: func(ctx context.Context, b *bench) []result { return b.runIdleCost(ctx) }},
		{name: "g", about: "K contacts changed at once, pushed by webhook: calls vs ceil(K/100), change-to-PostgreSQL latency",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runPushed(ctx)} }},
		{name: "h", about: "owner and stage labels of every synced record, through the reference cache vs one live call each",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runReference(ctx)} }},
		{name: "i", about: "associations of a backfilled dataset by v4 batch read: calls vs one per 1,000 records",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runAssociations(ctx)} }},
		{name: "w", about: "10,000 write events for 2,000 distinct contacts arriving in a burst: crmsync's write queue vs one call per event",
			run: func(ctx context.Context, b *bench) []result { return b.runWrites(ctx) }},
		{name: "x", about: "2,000 write events for 400 contacts queued 15 s into a backfill of 50,000 that has the window full: drain time, calls vs ceil(400/100), the backfill's time, 429s, peak",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runPriority(ctx)} }},
		{name: "p", about: "backfill of --records contacts from each --providers CRM at its default quota: calls vs ceil(N/page), refused calls, ground truth",
			run: func(ctx context.Context, b *bench) []result { return b.providerGrid(ctx) }},
		{name: "s", about: "soak: --soak of mutations, webhooks and deltas on three workers: lag, memory, invariants",
			run: func(ctx context.Context, b *bench) []result { return []result{b.runSoak(ctx)} }, optIn: true},
	}
}

// scenarioNames lists the implemented scenarios' names.
func scenarioNames() []string {
	var names []string
	for _, s := range allScenarios() {
		names = append(names, s.name)
	}
	return names
}

// defaultScenarioNames lists the scenarios a run without --scenarios runs: all but the
// opt-in ones.
func defaultScenarioNames() []string {
	var names []string
	for _, s := range allScenarios() {
		if !s.optIn {
			names = append(names, s.name)
		}
	}
	return names
}

// selectScenarios returns the named scenarios, in the order given.
func selectScenarios(names []string) ([]scenario, error) {
	byName := map[string]scenario{}
	for _, s := range allScenarios() {
		byName[s.name] = s
	}
	var out []scenario
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q; have %s", n, strings.Join(scenarioNames(), ", "))
		}
		out = append(out, s)
	}
	return out, nil
}

// backfillParams are a backfill row's parameters.
type backfillParams struct {
	rowParams
	// records is how many contacts the simulator holds.
	records int
	// otherShare is the share of the quota another consumer of the token uses while the
	// backfill runs; 0 for none.
	otherShare float64
}

// backfillGrid runs the backfill rows: each quota (default 100 and 190 per 10 s) at each
// CRM latency (default none and 200 ms).
func (b *bench) backfillGrid(ctx context.Context, name string, workers int, otherShare float64) []result {
	var out []result
	for _, quota := range b.opts.quotas {
		for _, lat := range b.opts.latencies {
			if ctx.Err() != nil {
				return out
			}
			p := backfillParams{
				rowParams: rowParams{scenario: name, quota: quota, latency: lat, workers: workers},
				records:   b.opts.records, otherShare: otherShare,
			}
			out = append(out, b.runBackfill(ctx, p))
		}
	}
	return out
}

// runBackfill runs one backfill row: a contacts backfill, timed, with crmsync's traffic
// taken from the simulator's counters.
func (b *bench) runBackfill(ctx context.Context, p backfillParams) result {
	res := newResult(p.rowParams)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, p.latency, p.records, 10, 10),
		quota:   quota(p.quota),
		objects: []crm.Object{crm.Contacts},
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		var other *consumer
		if p.otherShare > 0 {
			// The other consumer is already at its pace when the sync starts: crmsync learns
			// its share from the CRM's headers on its first call.
			other = startConsumer(r.simURL, r.token, consumerInterval(p.quota, p.otherShare))
			select {
			case <-ctx.Done():
				other.finish()
				return ctx.Err()
			case <-time.After(consumerWarmUp):
			}
		}
		elapsed, err := r.backfill(ctx, b.client, crm.Contacts)
		var otherCounts consumerCounts
		if other != nil {
			otherCounts = other.finish()
			res.OtherConsumer = &otherCounts
		}
		if err != nil {
			return err
		}
		st, err := r.measure(ctx, &res, elapsed)
		if err != nil {
			return err
		}
		if len(r.timelines) == 1 {
			if err := writeTimeline(b.opts.outDir, spec.run, r.timelines[0]); err != nil {
				return err
			}
		}
		return writePerSecond(b.opts.outDir, spec.run, st.PerSecond)
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// Scenario (d)'s dataset and delta lag.
const (
	idleContacts  = 2000
	idleCompanies = 500
	idleDeals     = 500
	idleDeltaLag  = 2 * time.Second
)

// runIdleDelta backfills a small dataset, lets the delta lag window pass, runs every
// stream's delta twice and reports the second run's calls: what an idle stream costs per
// delta. The row's other figures are the backfill's.
func (b *bench) runIdleDelta(ctx context.Context) result {
	p := rowParams{scenario: "d", quota: 100, workers: 1}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, 0, idleContacts, idleCompanies, idleDeals),
		quota:   quota(p.quota),
		objects: crm.Objects,
		// Search in the simulator is current at once: the lag only sets how far back a
		// delta re-reads.
		deltaLag: idleDeltaLag,
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, spec.objects...)
		if err != nil {
			return err
		}
		if _, err := r.measure(ctx, &res, elapsed); err != nil {
			return err
		}

		b.progress("%s: backfill done; waiting %s for the delta lag window to pass", spec.run, idleDeltaLag+time.Second)
		if err := sleep(ctx, idleDeltaLag+time.Second); err != nil {
			return err
		}
		for _, obj := range spec.objects {
			sc, err := r.idleDelta(ctx, b, obj)
			if err != nil {
				return err
			}
			res.IdleDelta = append(res.IdleDelta, sc)
		}
		return writePerSecond(b.opts.outDir, spec.run, r.sim.Stats().PerSecond)
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// idleDelta runs obj's delta twice and returns the second run's traffic.
func (r *rig) idleDelta(ctx context.Context, b *bench, obj crm.Object) (streamCalls, error) {
	if _, err := r.delta(ctx, b.client, obj); err != nil {
		return streamCalls{}, fmt.Errorf("first delta: %w", err)
	}
	before := r.sim.Stats()
	if _, err := r.delta(ctx, b.client, obj); err != nil {
		return streamCalls{}, fmt.Errorf("second delta: %w", err)
	}
	return deltaCalls(obj, before, r.sim.Stats()), nil
}

// measure fills res from crmsync's traffic in the simulator's counters and the records
// stored, and returns the counters.
func (r *rig) measure(ctx context.Context, res *result, elapsed time.Duration) (crmsim.Stats, error) {
	st := r.sim.Stats()
	records, err := countRecords(ctx, r.schemaURL, r.integration)
	if err != nil {
		return st, err
	}
	res.record(trafficOf(st), records, elapsed)
	return st, nil
}

// withRig sets up a run's world, runs fn in it under spec.timeout (default runTimeout), and tears the world down
// whatever happened. The error reports what failed, fn's and the teardown's.
func (b *bench) withRig(ctx context.Context, spec rigSpec, fn func(context.Context, *rig) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(spec.timeout, runTimeout))
	defer cancel()
	b.progress("%s: starting (%d worker(s))", spec.run, spec.workers)
	r, err := newRig(ctx, b, spec)
	if err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	defer func() { err = errors.Join(err, r.close()) }()
	b.progress("%s: workers ready; integration %s", spec.run, r.integration)
	if err := fn(ctx, r); err != nil {
		return err
	}
	b.progress("%s: done", spec.run)
	return nil
}

// simOptions configures a run's simulator: quota calls per 10 s, latency on every call.
func simOptions(quota int, latency time.Duration, contacts, companies, deals int) crmsim.Options {
	return crmsim.Options{
		Seed:     simSeed,
		Contacts: contacts, Companies: companies, Deals: deals,
		TenSecondLimit: quota, SearchPerSecond: searchPerSecond, DailyLimit: dailyLimit,
		Latency: latency,
	}
}

// quota is the integration's configured quota, equal to what the simulator allows.
func quota(per10s int) config.Quota {
	return config.Quota{RequestsPer10s: per10s, Daily: dailyLimit, SearchPerSecond: searchPerSecond}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

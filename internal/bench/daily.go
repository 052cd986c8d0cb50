package main

import (
	"context"
	"fmt"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// Scenario (e): a daily allowance that runs out mid-backfill. The simulator's day is two
// minutes long (a pause that long is slept on a workflow timer, not retried), and its
// allowance covers about two thirds of the backfill.
const (
	dailyContacts = 20_000
	dailyAllow    = 150
	dailyDay      = 2 * time.Minute
	dailyReserve  = config.Share(0.1)
)

// dailyCounts is what scenario (e) shows of the daily budget.
type dailyCounts struct {
	// Limit and Reserve are the day's allowance and the share kept for other apps.
	Limit   int `json:"limit"`
	Reserve int `json:"reserve"`
	// FirstDayCalls are crmsync's calls before the pause: at most Limit - Reserve plus the
	// calls already in flight when the reserve was reached.
	FirstDayCalls int `json:"first_day_calls"`
	// PausedS is the longest stretch without a call: the pause until the day reset.
	PausedS float64 `json:"paused_s"`
}

// String formats the counts for the table.
func (d dailyCounts) String() string {
	return fmt.Sprintf("%d/%d before pause (reserve %d), paused %.0fs, resumed", d.FirstDayCalls, d.Limit, d.Reserve, d.PausedS)
}

// runDailyBudget backfills more contacts than a day allows: crmsync must stop at the
// reserve, wait for the reset without a call or a 429, and finish on the next day.
func (b *bench) runDailyBudget(ctx context.Context) result {
	p := rowParams{scenario: "e", quota: 100, workers: 1}
	res := newResult(p)
	sim := simOptions(p.quota, 0, dailyContacts, 10, 10)
	sim.DailyLimit, sim.DayLength = dailyAllow, dailyDay
	q := quota(p.quota)
	q.Daily = dailyAllow
	reserve := dailyReserve
	q.DailyReserve = &reserve
	spec := rigSpec{run: p.runName(), scenario: p.scenario, workers: p.workers, sim: sim, quota: q, objects: []crm.Object{crm.Contacts}}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, crm.Contacts)
		if err != nil {
			return err
		}
		st, err := r.measure(ctx, &res, elapsed)
		if err != nil {
			return err
		}
		d := pauseOf(st.PerSecond)
		d.Limit, d.Reserve = dailyAllow, q.Reserve(dailyAllow)
		res.Daily = &d
		return writePerSecond(b.opts.outDir, spec.run, st.PerSecond)
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// pauseOf finds the longest gap between seconds with calls and counts the calls before it.
func pauseOf(series []crmsim.SecondCount) dailyCounts {
	var d dailyCounts
	gapAt := -1
	for i := 1; i < len(series); i++ {
		if gap := float64(series[i].Unix - series[i-1].Unix - 1); gap > d.PausedS {
			d.PausedS, gapAt = gap, i
		}
	}
	for i := 0; i < gapAt; i++ {
		d.FirstDayCalls += series[i].Requests
	}
	return d
}

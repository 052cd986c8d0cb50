package main

import (
	"context"
	"fmt"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/workflows"
)

// Scenario (i): associations after a backfill.
const (
	assocContacts  = 5000
	assocCompanies = 1000
	assocDeals     = 3000
)

// associationCounts is one pair's associations sync.
type associationCounts struct {
	Pair    string `json:"pair"`
	Records int    `json:"records"`
	Calls   int    `json:"calls"`
	// MinCalls is ceil(records/1000), one batch read per 1,000 records; the sync may add
	// one call per batch whose records have more links than a page holds.
	MinCalls int `json:"min_calls"`
	// PerRecord is what reading them one record at a time would cost.
	PerRecord int `json:"per_record"`
}

func (a associationCounts) String() string {
	return fmt.Sprintf("%s %d records: %d calls (minimum %d; %d one per record)", a.Pair, a.Records, a.Calls, a.MinCalls, a.PerRecord)
}

// runAssociations backfills contacts, companies and deals, then syncs the three pairs'
// associations and reports their calls against one per 1,000 records.
func (b *bench) runAssociations(ctx context.Context) result {
	p := rowParams{scenario: "i", quota: 100, workers: 1}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, 0, assocContacts, assocCompanies, assocDeals),
		quota:   quota(p.quota),
		objects: crm.Objects,
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
		for _, pair := range crm.AssociationPairs {
			before := r.sim.Stats()
			in := workflows.AssociationsInput{Integration: r.integration, From: pair.From, To: pair.To}
			run, err := b.client.ExecuteWorkflow(ctx, r.workflowOptions(workflows.AssociationsID(r.integration, pair.From, pair.To)), workflows.SyncAssociations, in)
			if err != nil {
				return err
			}
			var out workflows.AssociationsResult
			if err := run.Get(ctx, &out); err != nil {
				return fmt.Errorf("associations %s: %w", pair, err)
			}
			after := r.sim.Stats()
			key := "batch_associations " + pair.String()
			n := int(out.Fetched)
			res.Associations = append(res.Associations, associationCounts{
				Pair: pair.String(), Records: n, Calls: after.Calls(key) - before.Calls(key), MinCalls: (n + 999) / 1000, PerRecord: n,
			})
		}
		t := trafficOf(r.sim.Stats())
		res.RateLimited, res.Early, res.Peak10s = t.rateLimited, t.early, t.peak
		return nil
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/refdata"
	"github.com/crmsync/crmsync/internal/store"
)

// Scenario (h): owner and stage labels over a synced dataset.
const (
	refContacts = 2000
	refDeals    = 1000
)

// referenceCounts is what resolving every synced record's labels cost.
type referenceCounts struct {
	// Lookups is how many labels were resolved: an owner per contact and deal, a stage per
	// deal.
	Lookups int `json:"lookups"`
	// Resolved is how many of them found a label.
	Resolved int `json:"resolved"`
	// SyncCalls is the reference calls (owners, pipelines) the sync itself made, filling
	// the cache; LookupCalls those the lookups made through the cache.
	SyncCalls   int `json:"sync_calls"`
	LookupCalls int `json:"lookup_calls"`
	// Uncached is what the lookups cost without a cache: one live call each.
	Uncached int `json:"uncached"`
}

func (r referenceCounts) String() string {
	return fmt.Sprintf("%d label lookups (%d resolved): %d calls with the cache (%d by the sync + %d by the lookups) vs %d without",
		r.Lookups, r.Resolved, r.SyncCalls+r.LookupCalls, r.SyncCalls, r.LookupCalls, r.Uncached)
}

// runReference backfills contacts and deals, then resolves every record's owner and deal
// stage label through the reference cache the sync filled, counting the CRM calls made.
func (b *bench) runReference(ctx context.Context) result {
	p := rowParams{scenario: "h", quota: 100, workers: 1}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, 0, refContacts, 10, refDeals),
		quota:   quota(p.quota),
		objects: []crm.Object{crm.Contacts, crm.Deals},
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, spec.objects...)
		if err != nil {
			return err
		}
		st, err := r.measure(ctx, &res, elapsed)
		if err != nil {
			return err
		}
		refCalls := func() int {
			s := r.sim.Stats()
			return s.Calls("owners") + s.Calls("pipelines deals")
		}
		counts := referenceCounts{SyncCalls: st.Calls("owners") + st.Calls("pipelines deals")}
		s, err := store.Open(ctx, r.schemaURL)
		if err != nil {
			return err
		}
		defer s.Close()
		conn, err := provider.New(config.Integration{ID: r.integration, Provider: "hubspot", BaseURL: r.simURL}, crm.StaticToken(r.token), http.DefaultClient)
		if err != nil {
			return err
		}
		cache, err := refdata.New(refdata.Options{Store: s, Fetcher: directFetcher{conn}})
		if err != nil {
			return err
		}
		resolver := refdata.NewResolver(cache)
		before := refCalls()
		for _, obj := range spec.objects {
			recs, err := s.Records(ctx, r.integration, obj)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				var props map[string]string
				if err := json.Unmarshal(rec.Properties, &props); err != nil {
					return fmt.Errorf("record %s: %w", rec.ID, err)
				}
				if owner := props["hubspot_owner_id"]; owner != "" {
					counts.Lookups++
					if _, ok, err := resolver.OwnerLabel(ctx, r.integration, owner); err != nil {
						return err
					} else if ok {
						counts.Resolved++
					}
				}
				if obj == crm.Deals && props["dealstage"] != "" {
					counts.Lookups++
					if _, ok, err := resolver.StageLabel(ctx, r.integration, obj, props["pipeline"], props["dealstage"]); err != nil {
						return err
					} else if ok {
						counts.Resolved++
					}
				}
			}
		}
		counts.LookupCalls = refCalls() - before
		counts.Uncached = counts.Lookups
		res.Reference = &counts
		return nil
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// directFetcher reads reference data straight from the connector, for the benchmark's own
// cache (the workers' go through the quota ledger).
type directFetcher struct{ c crm.Connector }

func (f directFetcher) FetchOwners(ctx context.Context, _ string) ([]crm.Owner, error) {
	var all []crm.Owner
	after := ""
	for {
		page, err := f.c.Owners(ctx, after)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Owners...)
		if page.Next == "" {
			return all, nil
		}
		after = page.Next
	}
}

func (f directFetcher) FetchPipelines(ctx context.Context, _ string, obj crm.Object) ([]crm.Pipeline, error) {
	p, _, err := f.c.Pipelines(ctx, obj)
	return p, err
}

func (f directFetcher) FetchProperties(ctx context.Context, _ string, obj crm.Object) ([]crm.Property, error) {
	p, _, err := f.c.Properties(ctx, obj)
	return p, err
}

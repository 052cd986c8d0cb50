package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/groundtruth"
	"github.com/crmsync/crmsync/internal/store"
)

// Scenario (p): a backfill of --records contacts from each CRM, at the CRM's documented
// default quota (what the config assumes when the quota is left out, and what the
// simulator's dialect enforces by default), at each latency of the grid, on the default
// account (as wide as a real one: hundreds of properties) and on a narrow one (a dozen),
// side by side: what reading every property of a wide account costs per 100 records.

// defaultProviders are the CRMs scenario (p) runs unless --providers names others.
var defaultProviders = []string{crmsim.ProviderHubSpot, crmsim.ProviderSalesforce, crmsim.ProviderPipedrive, crmsim.ProviderZoho}

// Account widths of scenario (p).
const (
	widthWide   = "wide"
	widthNarrow = "narrow"
)

// providerCounts is what a provider's backfill row adds to the common figures.
type providerCounts struct {
	Provider string `json:"provider"`
	// Quota is the integration's quota in words, the provider's defaults.
	Quota string `json:"quota"`
	// PageSize is the connector's list page: MinCalls is ceil(records / PageSize).
	PageSize int `json:"page_size"`
	// Width is the account's ("wide" or "narrow"), Properties how many properties of
	// contacts it defines, all of which the sync reads.
	Width      string `json:"width"`
	Properties int    `json:"properties"`
	// PerPage is the requests a full page takes as the connector plans it (the list
	// request, then reads by id of what it cannot carry); ReadCalls are those reads by id.
	PerPage   int `json:"per_page"`
	ReadCalls int `json:"read_calls"`
	// PageCallsPer100 is (ListCalls + ReadCalls) per 100 records.
	PageCallsPer100 float64 `json:"page_calls_per_100"`
	// ListCalls paged through the records; OtherCalls are everything else (field
	// definitions, owners, deleted listings, token grants). Together they are APICalls.
	ListCalls  int `json:"list_calls"`
	OtherCalls int `json:"other_calls"`
	// Refused counts the calls the CRM refused for a limit: 429s, or Salesforce's 403
	// REQUEST_LIMIT_EXCEEDED.
	Refused int `json:"refused"`
	// TokenGrants counts the access tokens the OAuth refresh grant issued.
	TokenGrants int `json:"token_grants"`
	// Compared and Mismatches are the ground-truth check of PostgreSQL against the CRM as
	// it renders the records; Mismatches must be 0.
	Compared   int `json:"compared"`
	Mismatches int `json:"mismatches"`
}

func (p providerCounts) String() string {
	calls := "calls"
	if p.PerPage == 1 {
		calls = "call"
	}
	return fmt.Sprintf("%s %s, %d properties (%s; page %d, %d %s a page): list %d + reads by id %d = %.2f calls per 100 records, other %d calls, %d refused, %d token grants; ground truth %d mismatches of %d",
		p.Provider, p.Width, p.Properties, p.Quota, p.PageSize, p.PerPage, calls, p.ListCalls, p.ReadCalls, p.PageCallsPer100,
		p.OtherCalls-p.ReadCalls, p.Refused, p.TokenGrants, p.Mismatches, p.Compared)
}

// providerGrid runs a backfill row per provider, width and latency.
func (b *bench) providerGrid(ctx context.Context) []result {
	var out []result
	for _, prov := range b.opts.providers {
		for _, width := range b.opts.widths {
			for _, lat := range b.opts.latencies {
				if ctx.Err() != nil {
					return out
				}
				out = append(out, b.runProviderBackfill(ctx, prov, width, lat))
			}
		}
	}
	return out
}

// runProviderBackfill backfills --records contacts from one CRM at its default quota and
// checks PostgreSQL against the simulator's ground truth.
func (b *bench) runProviderBackfill(ctx context.Context, prov, width string, latency time.Duration) result {
	p := rowParams{scenario: "p", latency: latency, workers: 1, provider: prov, narrow: width == widthNarrow}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers, provider: prov,
		// Zero limits: every dialect's documented defaults, which the config's match.
		sim: crmsim.Options{Seed: simSeed, Contacts: b.opts.records, Companies: 10, Deals: 10, Latency: latency,
			Narrow: p.narrow},
		objects: []crm.Object{crm.Contacts},
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, crm.Contacts)
		if err != nil {
			return err
		}
		counts, err := r.providerCounts(ctx, &res, elapsed, width)
		if err != nil {
			return err
		}
		res.Provider = &counts
		if err := writePerSecond(b.opts.outDir, spec.run, r.sim.Stats().PerSecond); err != nil {
			return err
		}
		if counts.Mismatches > 0 {
			return fmt.Errorf("PostgreSQL differs from %s's ground truth: %d mismatches of %d", prov, counts.Mismatches, counts.Compared)
		}
		return nil
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// providerCounts fills res from the simulator's counters and the records stored, against
// the provider's page size and quota window, and compares PostgreSQL with the CRM.
func (r *rig) providerCounts(ctx context.Context, res *result, elapsed time.Duration, width string) (providerCounts, error) {
	st := r.sim.Stats()
	records, err := countRecords(ctx, r.schemaURL, r.integration)
	if err != nil {
		return providerCounts{}, err
	}
	conn, err := provider.New(r.integ, crm.StaticToken(r.token), nil)
	if err != nil {
		return providerCounts{}, err
	}
	keys, err := crmsim.ListEndpoints(r.integ.Provider, string(crm.Contacts))
	if err != nil {
		return providerCounts{}, err
	}
	list := 0
	for _, k := range keys {
		list += st.Calls(k)
	}
	readKeys, err := crmsim.ReadEndpoints(r.integ.Provider, string(crm.Contacts))
	if err != nil {
		return providerCounts{}, err
	}
	reads := 0
	for _, k := range readKeys {
		reads += st.Calls(k)
	}
	q := r.integ.Quota
	// Only crmsync uses the simulator in this scenario, so the totals are its own, token
	// grants included (their requests carry Go's User-Agent, not crmsync's).
	t := traffic{calls: st.Total, rateLimited: st.RateLimited, early: st.Early, byEndpoint: endpointCalls(st)}
	res.recordAt(t, records, elapsed, conn.PageSize(), q.WindowCalls(), q.WindowLength())

	s, err := store.Open(ctx, r.schemaURL)
	if err != nil {
		return providerCounts{}, err
	}
	defer s.Close()
	diff, err := groundtruth.CompareAs(ctx, r.sim, r.integ.Provider, s, r.integration, crm.Contacts, time.Time{})
	if err != nil {
		return providerCounts{}, err
	}
	// The property list the worker read the records with, as it cached it.
	var props []crm.Property
	if _, _, err := s.GetReference(ctx, r.integration, store.RefProperties, crm.Contacts, &props); err != nil {
		return providerCounts{}, err
	}
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	slices.Sort(names)
	plan := crm.PlanPage(conn, crm.Shape{Op: crm.OpList, Object: crm.Contacts}, names)
	return providerCounts{
		Provider: r.integ.Provider, Quota: q.String(), PageSize: conn.PageSize(),
		Width: width, Properties: len(names), PerPage: plan.PerPage, ReadCalls: reads,
		PageCallsPer100: roundTo(100*float64(list+reads)/float64(max(records, 1)), 2),
		ListCalls:       list, OtherCalls: st.Total - list, Refused: st.RateLimited, TokenGrants: r.sim.RefreshGrants(),
		Compared: diff.Compared, Mismatches: diff.Mismatches(),
	}, nil
}

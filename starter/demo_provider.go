package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/store"
)

// The OAuth app's client id and secret the demo hands the worker for Salesforce and Zoho.
// The simulator accepts any pair, as it has no app registry; the refresh token is
// demoToken, in demoTokenEnv.
const (
	demoClientIDEnv     = "CRMSYNC_DEMO_CLIENT_ID"
	demoClientSecretEnv = "CRMSYNC_DEMO_CLIENT_SECRET"
	demoClientID        = "crmsync-demo"
	demoClientSecret    = "crmsync-demo-secret"
)

// demoHubSpotOnly says, in one line, what the demo does only with HubSpot, printed when
// another provider runs so that nobody looks for it.
const demoHubSpotOnly = "HubSpot-only, skipped for %s: webhooks (the receiver takes HubSpot's signed deliveries only) and associations (only HubSpot's connector reads them)"

// checkDemoProvider accepts the providers crmsync has connectors for.
func checkDemoProvider(name string) error {
	if !slices.Contains(config.Providers, name) {
		return fmt.Errorf("--provider %q: want one of %s", name, strings.Join(config.Providers, ", "))
	}
	return nil
}

// demoAuth is the integration's credential lines: HubSpot and Pipedrive take a static token
// (a private-app token, an API token), Salesforce and Zoho an OAuth app whose refresh grant
// the simulator serves at the path the real CRM's token endpoint has.
func demoAuth(provider, simAddr string) string {
	tokenPath := map[string]string{crmsim.ProviderSalesforce: "/services/oauth2/token", crmsim.ProviderZoho: "/oauth/v2/token"}[provider]
	if tokenPath == "" {
		return "credential_env: " + demoTokenEnv
	}
	return fmt.Sprintf(`oauth:
      token_url: http://%s%s
      client_id_env: %s
      client_secret_env: %s
      refresh_token_env: %s`, simAddr, tokenPath, demoClientIDEnv, demoClientSecretEnv, demoTokenEnv)
}

// demoQuota is the integration's quota: what the simulator was started with, which by
// default is the provider's documented entry-level allowance (config's defaults too).
func demoQuota(provider string, f demoFlags) string {
	s := f.sim
	switch provider {
	case crmsim.ProviderSalesforce:
		// No short window: the rolling 24 h allocation is the limit.
		return fmt.Sprintf("\n      daily: %d", s.salesforce.DailyLimit)
	case crmsim.ProviderPipedrive:
		// An API token's burst; the daily budget is in tokens (a list call costs 20).
		return fmt.Sprintf("\n      requests_per_window: %d\n      window: %s\n      daily: %d",
			s.pipedrive.BurstLimit, s.pipedrive.BurstWindow, s.pipedrive.DailyTokens)
	case crmsim.ProviderZoho:
		return fmt.Sprintf("\n      concurrency: %d\n      daily: %d", s.zoho.Concurrency, s.zoho.DailyCredits)
	}
	return fmt.Sprintf("\n      requests_per_10s: %d\n      daily: %d\n      search_per_second: %d", f.quota10s, s.daily, s.searchRate)
}

// pageSize is the integration's connector's list page, the unit of a backfill's minimum
// cost. It comes from the connector itself so that the demo never disagrees with it.
func pageSize(in config.Integration) (int, error) {
	c, err := provider.New(in, crm.StaticToken(demoToken), nil)
	if err != nil {
		return 0, err
	}
	return c.PageSize(), nil
}

// pagePlan is how the worker reads a page of obj: with the property list it loaded into
// PostgreSQL (the reference cache), planned by the integration's connector. ok is false
// until the worker has loaded the list.
func (d *demo) pagePlan(ctx context.Context, obj crm.Object) (plan crm.Plan, ok bool) {
	in := d.cfg.Integrations[0]
	conn, err := provider.New(in, crm.StaticToken(demoToken), nil)
	if err != nil {
		return crm.Plan{}, false
	}
	var props []crm.Property
	if _, found, err := d.store.GetReference(ctx, in.ID, store.RefProperties, obj, &props); err != nil || !found {
		return crm.Plan{}, false
	}
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	slices.Sort(names)
	return crm.PlanPage(conn, crm.Shape{Op: crm.OpList, Object: obj}, names), true
}

// listCalls counts the calls that listed objs' pages in the simulator's counters, counting
// an endpoint key shared by several objects (Salesforce's query_more) once.
func listCalls(st crmsim.Stats, provider string, objs ...crm.Object) int {
	seen, n := map[string]bool{}, 0
	for _, obj := range objs {
		keys, err := crmsim.ListEndpoints(provider, string(obj))
		if err != nil {
			continue // the config only names objects the simulator has
		}
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				n += st.Calls(k)
			}
		}
	}
	return n
}

// ownListCalls counts obj's list calls, unless one of its list endpoints is shared with
// another object (Salesforce's query_more) and was called: then no count is obj's alone.
func ownListCalls(st crmsim.Stats, provider string, obj crm.Object) (int, bool) {
	keys, err := crmsim.ListEndpoints(provider, string(obj))
	if err != nil {
		return 0, false
	}
	shared := map[string]bool{}
	for _, other := range crm.Objects {
		if other == obj {
			continue
		}
		otherKeys, _ := crmsim.ListEndpoints(provider, string(other))
		for _, k := range otherKeys {
			shared[k] = true
		}
	}
	n := 0
	for _, k := range keys {
		if shared[k] && st.Calls(k) > 0 {
			return 0, false
		}
		n += st.Calls(k)
	}
	return n, true
}

// startMutator changes records while the demo syncs. Pipedrive's API lists no deleted
// persons or organizations (only its webhooks report them, which crmsync does not receive
// for Pipedrive yet), so there only deals are deleted: a delete no sync can see would show
// as a mismatch that says nothing about crmsync.
func (d *demo) startMutator(ctx context.Context) {
	f := d.flags
	spec := f.sim.mutate
	if f.provider != crmsim.ProviderPipedrive || spec.Archives == 0 {
		d.sim.StartMutator(ctx, f.sim.mutateEvery, spec)
		d.say("the simulator now changes records every %s (updates, creates, archives) while we sync", f.sim.mutateEvery)
		return
	}
	noDeletes := spec
	noDeletes.Archives, noDeletes.Restores = 0, 0
	go func() {
		t := time.NewTicker(f.sim.mutateEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, obj := range crm.Objects {
				s := noDeletes
				if obj == crm.Deals {
					s = spec
				}
				s.Object = string(obj)
				if _, err := d.sim.Mutate(s); err != nil {
					d.say("mutating %s: %v", obj, err)
					return
				}
			}
		}
	}()
	d.say("the simulator now changes records every %s while we sync; it deletes only deals: Pipedrive lists no deleted persons or organizations", f.sim.mutateEvery)
}

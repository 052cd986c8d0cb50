package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/workflows"
)

// providerCase is one CRM other than HubSpot, run through the same end-to-end checks.
type providerCase struct {
	provider string
	// pageSize is the connector's list page: the minimum calls are ceil(N / pageSize).
	pageSize int
	// deletable are the objects whose deletes the CRM's API can list. Pipedrive has no
	// listing of deleted persons or organizations: only its webhooks report those.
	deletable []string
	// planCalls is what a backfill spends per object before listing: Salesforce counts
	// the object (a COUNT() query) to choose between a query and a bulk export.
	planCalls int
	// listKeys name the simulator's endpoints that list an object's pages (Salesforce
	// follows every object's query with query_more pages under one key).
	listKeys func(obj crm.Object) []string
}

// listCalls counts the list calls of objs.
func (pc providerCase) listCalls(st crmsim.Stats, objs ...crm.Object) int {
	seen, n := map[string]bool{}, 0
	for _, obj := range objs {
		for _, k := range pc.listKeys(obj) {
			if !seen[k] {
				seen[k] = true
				n += st.Calls(k)
			}
		}
	}
	return n
}

var providerCases = []providerCase{
	{
		provider: crmsim.ProviderSalesforce, pageSize: 2000, deletable: []string{"contacts", "companies", "deals"}, planCalls: 1,
		listKeys: func(obj crm.Object) []string {
			keys, _ := crmsim.ListEndpoints(crmsim.ProviderSalesforce, string(obj))
			return keys
		},
	},
	{
		provider: crmsim.ProviderPipedrive, pageSize: 500, deletable: []string{"deals"},
		listKeys: func(obj crm.Object) []string {
			return []string{"pipedrive list " + map[crm.Object]string{crm.Contacts: "persons", crm.Companies: "organizations", crm.Deals: "deals"}[obj]}
		},
	},
	{
		provider: crmsim.ProviderZoho, pageSize: 200, deletable: []string{"contacts", "companies", "deals"},
		listKeys: func(obj crm.Object) []string {
			return []string{"zoho list " + map[crm.Object]string{crm.Contacts: "Contacts", crm.Companies: "Accounts", crm.Deals: "Deals"}[obj]}
		},
	},
}

// Each CRM, through its own connector and the simulator's dialect of it: a backfill (with
// records deleted before it), changes of every kind, a delta, and Postgres equal to the
// CRM's ground truth after each, with no rate-limit answer and no call before a told wait.
// Salesforce and Zoho authenticate with the OAuth refresh grant, and their access tokens
// expire mid-test: the worker refreshes them.
func TestEveryProviderBackfillsAndSyncsDeltasToGroundTruth(t *testing.T) {
	t.Parallel()
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			const deltaLag = 3 * time.Second
			h := newHarness(t, options{
				provider: pc.provider,
				// Access tokens last 4 s: the worker refreshes them while it syncs.
				sim:      crmsim.Options{Seed: 51, Contacts: 3000, Companies: 800, Deals: 1500, AccessTokenTTL: 4 * time.Second},
				deltaLag: deltaLag,
			})
			deleted := map[string]int{}
			for _, obj := range pc.deletable {
				res, err := h.sim.Mutate(crmsim.MutationSpec{Object: obj, Archives: 10})
				require.NoError(t, err)
				deleted[obj] += len(res.Archived)
			}
			h.startWorker()

			began := time.Now()
			h.wait(3*time.Minute, h.start("backfill")...)
			st := h.sim.Stats()
			minimum := 0
			for _, obj := range h.objects {
				live := h.liveCount(obj)
				minimum += (live + pc.pageSize - 1) / pc.pageSize
				t.Logf("%s backfill %s: %d live records", pc.provider, obj, live)
			}
			calls := pc.listCalls(st, h.objects...) - pc.planCalls*len(h.objects)
			reads := 0
			for _, obj := range h.objects {
				keys, err := crmsim.ReadEndpoints(pc.provider, string(obj))
				require.NoError(t, err)
				for _, k := range keys {
					reads += st.Calls(k)
				}
			}
			t.Logf("%s backfill: %d list calls, minimum %d (besides %d count calls); %d reads by id of the properties the list calls could not carry",
				pc.provider, calls, minimum, pc.planCalls*len(h.objects), reads)
			require.Equal(t, minimum, calls, "list calls beyond the minimum")
			if pc.provider == crmsim.ProviderZoho {
				// A realistic Zoho module has more fields than the 50 one call may name.
				require.Positive(t, reads, "the wide account's fields were read in groups")
			}
			compared := h.requireGroundTruth(time.Time{})
			t.Logf("%s backfill: %d records compared in %s, 0 mismatches; %d calls, %d refused by a limit, %d early, %d token refreshes",
				pc.provider, compared, time.Since(began).Round(time.Millisecond), st.Total, st.RateLimited, st.Early, h.sim.RefreshGrants())
			require.Zero(t, st.RateLimited)
			require.Zero(t, st.Early)

			// Changes of every kind, deletes where the CRM can list them, and a burst
			// sharing one instant (whole seconds at these CRMs: many ties).
			for _, obj := range []string{"contacts", "companies", "deals"} {
				spec := crmsim.MutationSpec{Object: obj, Updates: 60, Creates: 15}
				for _, d := range pc.deletable {
					if d == obj {
						spec.Archives = 8
						deleted[obj] += 8
					}
				}
				_, err := h.sim.Mutate(spec)
				require.NoError(t, err)
			}
			_, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 300, SameTimestamp: true})
			require.NoError(t, err)
			// A change is stamped in whole seconds by these CRMs; the delta re-reads the lag
			// behind its cursor, so waiting it out lets this delta see every change.
			time.Sleep(deltaLag + time.Second)
			deltas := h.wait(2*time.Minute, h.start("delta")...)
			compared = h.requireGroundTruth(time.Time{})
			st = h.sim.Stats()
			for i, obj := range h.objects {
				t.Logf("%s delta %s: %d read, %d written, %d deletes seen", pc.provider, obj, deltas[i].Fetched, deltas[i].Written, deltas[i].Deleted)
				require.Positive(t, deltas[i].Written)
			}
			t.Logf("%s after the delta: %d records compared, 0 mismatches; deletes made %v; %d token refreshes; %d calls, %d refused, %d early",
				pc.provider, compared, deleted, h.sim.RefreshGrants(), st.Total, st.RateLimited, st.Early)
			require.Zero(t, st.RateLimited)
			require.Zero(t, st.Early)
			if pc.provider != crmsim.ProviderPipedrive {
				require.GreaterOrEqual(t, h.sim.RefreshGrants(), 2, "the access token expired during the test and was refreshed")
			}
		})
	}
}

// Each CRM's backfill survives its worker being SIGKILLed mid-page: it resumes from its
// stored position, re-reading at most the page in flight per kill, and ends equal to the CRM.
func TestEveryProviderResumesABackfillAfterTheWorkerIsKilled(t *testing.T) {
	t.Parallel()
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			t.Parallel()
			pages := 24
			h := newHarness(t, options{
				provider: pc.provider,
				// Salesforce's 24 pages are 48,000 records: resuming is the subject, and its wide
				// records are read by the tests above and below; the other CRMs' pages stay wide.
				sim: crmsim.Options{Seed: 61, Contacts: pages * pc.pageSize, Companies: 5, Deals: 5, Latency: 250 * time.Millisecond,
					Narrow: pc.provider == crmsim.ProviderSalesforce},
				objects: []crm.Object{crm.Contacts},
			})
			w := h.startWorker()
			runs := h.start("backfill")
			kills := 0
			for _, at := range []int64{4, 11, 18} {
				require.Eventually(t, func() bool {
					return h.backfillPages(crm.Contacts) >= at && h.inflight.Load() > 0
				}, 2*time.Minute, 2*time.Millisecond, "backfill did not reach page %d", at)
				w.kill()
				kills++
				w = h.startWorker()
			}
			h.wait(4*time.Minute, runs...)
			live := h.liveCount(crm.Contacts)
			minimum := (live + pc.pageSize - 1) / pc.pageSize
			calls := pc.listCalls(h.sim.Stats(), crm.Contacts) - pc.planCalls
			t.Logf("%s crash test: %d kills, %d records, %d list calls, minimum %d, extra %d", pc.provider, kills, live, calls, minimum, calls-minimum)
			require.LessOrEqual(t, calls, minimum+kills, "more than one page re-read per kill")
			require.GreaterOrEqual(t, calls, minimum)
			h.requireGroundTruth(time.Time{})
			require.Zero(t, h.sim.Stats().RateLimited)
		})
	}
}

// A Salesforce object above backfill.bulk_above is read with a Bulk API 2.0 query job (a
// count, a job, polls on a durable timer, a call per 10,000 results, streamed into
// PostgreSQL); a smaller one with the REST query. Both end equal to the CRM.
func TestSalesforceBackfillAboveTheThresholdUsesABulkExport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		provider:  crmsim.ProviderSalesforce,
		sim:       crmsim.Options{Seed: 71, Contacts: 13_000, Companies: 900, Deals: 10},
		objects:   []crm.Object{crm.Contacts, crm.Companies},
		bulkAbove: 5000,
	})
	_, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 12})
	require.NoError(t, err)
	h.startWorker()
	began := time.Now()
	res := h.wait(3*time.Minute, h.start("backfill")...)
	st := h.sim.Stats()
	for _, k := range []string{"salesforce query Contact", "salesforce query Account", "salesforce composite query Account", "salesforce query_more",
		"salesforce bulk_create", "salesforce bulk_status", "salesforce bulk_results"} {
		t.Logf("%s: %d", k, st.Calls(k))
	}
	require.Equal(t, 1, st.Calls("salesforce bulk_create"), "one export job, for contacts")
	require.Equal(t, 2, st.Calls("salesforce bulk_results"), "13,000 contacts in pages of 10,000")
	require.Equal(t, 1, st.Calls("salesforce query Contact"), "contacts are counted, not queried")
	require.Equal(t, 1, st.Calls("salesforce query Account"), "companies: counted")
	// Every field of a wide Account is too long a query for a GET: one Composite call.
	require.Equal(t, 1, st.Calls("salesforce composite query Account"), "companies: one query page")
	h.requireGroundTruth(time.Time{})
	require.Zero(t, st.RateLimited)
	require.Zero(t, st.Early)
	t.Logf("bulk backfill of %d contacts (%d deleted seen) in %s: %d calls in all", h.liveCount(crm.Contacts), res[0].Deleted,
		time.Since(began).Round(time.Millisecond), st.Total)
	h.recordHistories(map[string]string{"backfill-bulk-salesforce-contacts.json": workflows.BackfillID(h.integration, crm.Contacts)})
}

// Zoho refuses a call beyond the edition's concurrency cap with a 429. Three objects
// backfilled at once against a cap of 2, with the CRM 150 ms away: the fleet-wide count of
// calls in flight (quota.concurrency) keeps every call within it.
func TestZohoCallsInFlightStayWithinTheConcurrencyCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		provider:    crmsim.ProviderZoho,
		sim:         crmsim.Options{Seed: 81, Contacts: 2000, Companies: 1200, Deals: 1600, Latency: 150 * time.Millisecond, Zoho: crmsim.ZohoOptions{Concurrency: 2}},
		concurrency: 2,
	})
	h.startWorker()
	h.wait(3*time.Minute, h.start("backfill")...)
	h.requireGroundTruth(time.Time{})
	st := h.sim.Stats()
	t.Logf("zoho at a concurrency cap of 2: %d calls, %d refused, %d early", st.Total, st.RateLimited, st.Early)
	require.Zero(t, st.RateLimited, "a call went beyond the concurrency cap")
	require.Greater(t, st.Total, 30)
}

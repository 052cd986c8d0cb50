package e2e

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/workflows"
)

// (a) Backfill, mutate, delta: PostgreSQL equals the CRM exactly, deletes included, at the
// minimum number of list calls, with no 429 at HubSpot's Free/Starter quota.
func TestBackfillThenMutateThenDeltaEqualsGroundTruth(t *testing.T) {
	t.Parallel()
	const quota = 100
	const indexLag = time.Second
	const deltaLag = 2 * time.Second
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 21, Contacts: 3000, Companies: 1000, Deals: 2000, SearchIndexLag: indexLag},
		requestsPer10s: quota,
		deltaLag:       deltaLag,
	})
	// Some records are archived before the first sync: the backfill must bring them in as deleted.
	_, err := h.sim.Mutate(crmsim.MutationSpec{Archives: 15})
	require.NoError(t, err)
	h.startWorker()

	began := time.Now()
	results := h.wait(3*time.Minute, h.start("backfill")...)
	elapsed := time.Since(began)
	st := h.sim.Stats()
	calls := 0
	for i, obj := range h.objects {
		live := h.liveCount(obj)
		listCalls, fills := st.Calls("list "+string(obj)), st.Calls("batch_read "+string(obj))
		t.Logf("backfill %s: %d live records, %d list calls (minimum %d) and %d batch reads, %d archived read", obj, live, listCalls, (live+99)/100, fills, results[i].Deleted)
		require.Equal(t, (live+99)/100, listCalls, "%s: list calls beyond the minimum ceil(N/100)", obj)
		// The default account is as wide as a real portal: every contact property does not
		// fit one list GET's URI, so each page of contacts (live and archived) takes one
		// batch read for the rest; companies and deals fit.
		wantFills := 0
		if obj == crm.Contacts {
			wantFills = listCalls + 1
		}
		require.Equal(t, wantFills, fills, "%s: batch reads beyond one per page that needs one", obj)
		require.Equal(t, 1, st.Calls("list_archived "+string(obj)))
		require.Equal(t, int64(15), results[i].Deleted)
		calls += listCalls
	}
	configured := ratelimit.ForQuota(config.Quota{RequestsPer10s: quota, SearchPerSecond: 5}).API
	t.Logf("backfill: %d calls in %s: achieved %.2f calls/s, queue rate %.2f/s, quota %.1f/s, busiest 10 s %v",
		st.Total, elapsed.Round(time.Millisecond), float64(st.Total)/elapsed.Seconds(), configured, float64(quota)/10, st.Peak10s)
	h.requireGroundTruth(time.Time{})
	h.requirePolite(quota)

	// Changes of every kind, including a burst sharing one millisecond.
	_, err = h.sim.Mutate(crmsim.MutationSpec{Updates: 150, Creates: 40, Archives: 25, Restores: 5})
	require.NoError(t, err)
	burst, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 400, SameTimestamp: true})
	require.NoError(t, err)
	// The simulated search index shows a change only indexLag after it happened (HubSpot's
	// is eventually consistent too). Waiting out the lag window (a fixed delay, not async
	// work) lets this delta see every change and the next one know it has.
	time.Sleep(deltaLag + 200*time.Millisecond)

	before := h.sim.Stats()
	deltas := h.wait(time.Minute, h.start("delta")...)
	after := h.sim.Stats()
	compared := h.requireGroundTruth(time.Time{})
	h.requirePolite(quota)
	for i, obj := range h.objects {
		search := after.Calls("search "+string(obj)) - before.Calls("search "+string(obj))
		t.Logf("delta %s: %d search calls, %d records read, %d written, %d archived seen", obj, search, deltas[i].Fetched, deltas[i].Written, deltas[i].Deleted)
		require.Positive(t, deltas[i].Written)
	}
	t.Logf("after the delta: %d records compared, 0 mismatches; burst of %d equal timestamps included", compared, len(burst.Updated))

	// The previous delta started more than the lag after the last change, so it saw all of
	// them: a delta with nothing new reads one search page per object.
	before = h.sim.Stats()
	h.wait(time.Minute, h.start("delta")...)
	after = h.sim.Stats()
	for _, obj := range h.objects {
		require.Equal(t, 1, after.Calls("search "+string(obj))-before.Calls("search "+string(obj)), "%s: an idle delta costs one search", obj)
	}

	h.recordHistories(map[string]string{
		"backfill-contacts.json": workflows.BackfillID(h.integration, crm.Contacts),
		"delta-contacts.json":    workflows.DeltaID(h.integration, crm.Contacts),
	})

	// No record data and no credential in any workflow history.
	sample, err := h.sim.Snapshot("contacts")
	require.NoError(t, err)
	var ids []string
	for _, obj := range h.objects {
		ids = append(ids, workflows.BackfillID(h.integration, obj), workflows.DeltaID(h.integration, obj))
	}
	for _, id := range ids {
		hist := h.history(id)
		require.NotContains(t, string(hist), h.token, "%s: the credential is in the history", id)
		for _, r := range sample[:50] {
			if email := r.Properties["email"]; email != "" {
				require.False(t, bytes.Contains(hist, []byte(email)), "%s: contact %s's email is in the history", id, r.ID)
			}
		}
	}
}

// history returns every event of the latest run of a workflow, as protobuf bytes (payloads
// appear in it as their raw JSON).
func (h *harness) history(id string) []byte {
	h.t.Helper()
	it := h.client.GetWorkflowHistory(h.t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var buf bytes.Buffer
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		b, err := proto.Marshal(ev)
		require.NoError(h.t, err)
		buf.Write(b)
	}
	return buf.Bytes()
}

// (b) The worker is SIGKILLed several times mid-backfill and restarted: the backfill
// completes, the data equals the CRM, and each kill costs at most one extra page. The
// simulated CRM answers in 150 ms, so a kill almost always lands while a page is in flight.
// One lane: the bound is per page in flight.
func TestWorkerKilledMidBackfillResumesWhereItStopped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 33, Contacts: 3500, Companies: 10, Deals: 10, Latency: 150 * time.Millisecond},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 1000,
		lanes:          1,
	})
	w := h.startWorker()
	began := time.Now()
	runs := h.start("backfill")
	kills := 0
	for _, at := range []int64{6, 16, 26} {
		// Past page `at`, and with the next page's request in flight at the CRM.
		require.Eventually(t, func() bool {
			return h.backfillPages(crm.Contacts) >= at && h.inflight.Load() > 0
		}, 2*time.Minute, 2*time.Millisecond, "backfill did not reach page %d", at)
		w.kill()
		kills++
		t.Logf("SIGKILLed the worker at page %d (%s)", h.backfillPages(crm.Contacts), time.Since(began).Round(time.Millisecond))
		w = h.startWorker()
	}
	res := h.wait(4*time.Minute, runs...)
	elapsed := time.Since(began)

	live := h.liveCount(crm.Contacts)
	minimum := (live + 99) / 100
	listCalls := h.sim.Stats().Calls("list contacts")
	t.Logf("crash test: %d kills, %d records, %d list calls, minimum %d, extra %d, %d pages recorded by the workflow, %s",
		kills, live, listCalls, minimum, listCalls-minimum, res[0].Pages, elapsed.Round(time.Millisecond))
	require.LessOrEqual(t, listCalls, minimum+kills, "more than one page re-read per kill")
	require.GreaterOrEqual(t, listCalls, minimum)
	h.requireGroundTruth(time.Time{})
	st := h.sim.Stats()
	require.Zero(t, st.RateLimited)
}

// A backfill split into id ranges read by several lanes at once (the CRM 100 ms away), with
// the worker SIGKILLed twice: every range completes, the data equals the CRM, and the calls
// stay close to the minimum (each range boundary and each page in flight at a kill costs
// at most one page).
func TestRangedBackfillWithKillsEqualsGroundTruth(t *testing.T) {
	t.Parallel()
	const lanes = 4
	h := newHarness(t, options{
		// A narrow account: ranges, lanes and kills are the subject (a kill between a wide
		// page's requests is TestWorkerKilledMidBackfillResumesWhereItStopped's), and 20,000
		// wide records would only make it slower.
		sim:            crmsim.Options{Seed: 35, Contacts: 20000, Companies: 10, Deals: 10, Latency: 100 * time.Millisecond, Narrow: true},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 1000,
		lanes:          lanes,
	})
	w := h.startWorker()
	began := time.Now()
	runs := h.start("backfill")
	kills := 0
	for _, at := range []int64{40, 120} {
		require.Eventually(t, func() bool {
			return h.backfillPages(crm.Contacts) >= at && h.inflight.Load() > 0
		}, 3*time.Minute, 2*time.Millisecond, "backfill did not reach page %d", at)
		ps, err := h.store.Partitions(t.Context(), h.integration, crm.Contacts)
		require.NoError(t, err)
		w.kill()
		kills++
		t.Logf("SIGKILLed the worker at page %d with %d ranges (%s)", h.backfillPages(crm.Contacts), len(ps), time.Since(began).Round(time.Millisecond))
		w = h.startWorker()
	}
	res := h.wait(4*time.Minute, runs...)
	live := h.liveCount(crm.Contacts)
	minimum := (live + 99) / 100
	listCalls := h.sim.Stats().Calls("list contacts")
	t.Logf("ranged backfill: %d records in %d ranges over %d lanes, %d list calls (minimum %d, %.3fx), %d kills, %s",
		live, res[0].Ranges, res[0].Lanes, listCalls, minimum, float64(listCalls)/float64(minimum), kills, time.Since(began).Round(time.Millisecond))
	h.recordHistories(map[string]string{"backfill-ranged-contacts.json": workflows.BackfillID(h.integration, crm.Contacts)})
	require.Greater(t, res[0].Ranges, 1, "the listing was split into ranges")
	require.Equal(t, res[0].Ranges, res[0].RangesDone)
	require.LessOrEqual(t, listCalls, minimum+res[0].Ranges+kills*lanes)
	h.requireGroundTruth(time.Time{})
	require.Zero(t, h.sim.Stats().RateLimited)
}

// (c) An equal-timestamp burst larger than the search API's 10,000-result cap: every change
// lands, the delta ends, and it costs about one search call per 200 changes.
func TestEqualTimestampBurstBeyondTheSearchCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		// A narrow account: the search cap and ties are the subject; search pages carry
		// every property in their body however wide the account is.
		sim:            crmsim.Options{Seed: 44, Contacts: 12500, Companies: 10, Deals: 10, Narrow: true},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 2000,
		searchPerSec:   20,
	})
	h.startWorker()
	h.wait(3*time.Minute, h.start("backfill")...)
	h.requireGroundTruth(time.Time{})

	burst, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 12000, SameTimestamp: true})
	require.NoError(t, err)
	before := h.sim.Stats().Calls("search contacts")
	res := h.wait(3*time.Minute, h.start("delta")...)
	search := h.sim.Stats().Calls("search contacts") - before
	t.Logf("burst: %d updates at %s; delta read %d records in %d search calls (minimum %d), wrote %d",
		len(burst.Updated), burst.At.Format(time.RFC3339Nano), res[0].Fetched, search, (len(burst.Updated)+199)/200, res[0].Written)
	require.Equal(t, int64(len(burst.Updated)), res[0].Written, "every change written once")
	require.LessOrEqual(t, search, (len(burst.Updated)+199)/200+4)
	h.requireGroundTruth(time.Time{})
	require.Zero(t, h.sim.Stats().RateLimited)

	var cursor crm.Cursor
	st, err := h.store.Stream(t.Context(), store.StreamKey{Integration: h.integration, Object: crm.Contacts, Stream: store.StreamDelta})
	require.NoError(t, err)
	cursor = st.Cursor
	require.True(t, cursor.ModifiedAt.Equal(burst.At.Truncate(time.Millisecond)), "cursor %s ends at the burst", cursor)
	b, err := json.Marshal(cursor)
	require.NoError(t, err)
	t.Logf("delta cursor after the burst: %s", b)
}

// Two worker processes on the shared task queues: the quota holds (the ledger is shared by
// the fleet, whatever queue the calls come through), both workers read pages, and the data
// equals the CRM's.
func TestTwoWorkersOnSharedQueuesKeepTheQuota(t *testing.T) {
	t.Parallel()
	const quota = 100
	h := newHarness(t, options{
		// A narrow account: the fleet-wide quota is the subject, and it counts calls
		// whatever they carry.
		sim:            crmsim.Options{Seed: 31, Contacts: 8000, Companies: 10, Deals: 10, Latency: 20 * time.Millisecond, Narrow: true},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: quota,
		sharedQueues:   true,
	})
	h.startWorker()
	h.startWorker()
	began := time.Now()
	h.wait(3*time.Minute, h.start("backfill")...)
	st := h.sim.Stats()
	ids := h.activityIdentities(workflows.BackfillID(h.integration, crm.Contacts))
	t.Logf("two workers, shared queues: %d calls in %s, busiest 10 s %v, activities per worker %v",
		st.Total, time.Since(began).Round(time.Millisecond), st.Peak10s, ids)
	require.Len(t, ids, 2, "both workers read pages")
	h.requirePolite(quota)
	h.requireGroundTruth(time.Time{})
}

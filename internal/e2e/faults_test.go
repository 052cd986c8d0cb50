package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/store"
)

// faultCase is one CRM fault the sync must ride out.
type faultCase struct {
	name  string
	fault crmsim.Fault
	// stream is where the fault bites: store.StreamBackfill (the listing, after its fifth
	// page) or store.StreamDelta (the change scan, after its second page).
	stream string
	// retryAfter makes the simulator send Retry-After with its 429s.
	retryAfter bool
}

// wasted is how many calls the fault costs: every failed answer is a call whose page is
// read again; a slow answer is still an answer.
func (fc faultCase) wasted() int {
	if fc.fault.Kind == crmsim.FaultLatency {
		return 0
	}
	return fc.fault.Count
}

// faultQuota is the requests per 10 s the fault cases run at (CRM and config alike).
const faultQuota = 200

// Each CRM fault, injected where it bites (mid-listing, or mid-change-scan after a backfill
// and a round of changes), and every case ends with the same invariants (requireInvariants):
// PostgreSQL equals the CRM, no call came before a told wait, no 429 beyond the injected
// ones, no stream position or cursor ever moved back, and no history holds a credential or
// record data. Each failed answer costs exactly one extra call (the page is read again,
// once), a slow one none.
func TestCRMFaultsKeepTheInvariants(t *testing.T) {
	t.Parallel()
	list := func(kind string, n int) crmsim.Fault {
		return crmsim.Fault{Endpoint: "list contacts", Kind: kind, Count: n}
	}
	search := func(kind string, n int) crmsim.Fault {
		return crmsim.Fault{Endpoint: "search contacts", Kind: kind, Count: n}
	}
	slow := func(f crmsim.Fault) crmsim.Fault { f.Latency = 10 * time.Second; return f }
	cases := []faultCase{
		{name: "429 storm", fault: list(crmsim.Fault429TenSecondly, 30), stream: store.StreamBackfill, retryAfter: true},
		// HubSpot's own 429s carry no Retry-After: the wait is the rolling window's interval.
		{name: "429 without Retry-After", fault: list(crmsim.Fault429TenSecondly, 2), stream: store.StreamBackfill},
		{name: "500", fault: list(crmsim.Fault500, 5), stream: store.StreamBackfill},
		{name: "503", fault: search(crmsim.Fault503, 5), stream: store.StreamDelta},
		{name: "502 HTML", fault: list(crmsim.Fault502HTML, 5), stream: store.StreamBackfill},
		{name: "reset mid-body", fault: list(crmsim.FaultReset, 5), stream: store.StreamBackfill},
		{name: "truncated JSON", fault: search(crmsim.FaultTruncatedJSON, 3), stream: store.StreamDelta},
		{name: "malformed JSON", fault: list(crmsim.FaultMalformedJSON, 3), stream: store.StreamBackfill},
		{name: "10 s latency", fault: slow(list(crmsim.FaultLatency, 1)), stream: store.StreamBackfill},
		{name: "10 s latency in search", fault: slow(search(crmsim.FaultLatency, 1)), stream: store.StreamDelta},
	}
	table := &faultTable{}
	t.Cleanup(func() { table.log(t) })
	for i, fc := range cases {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			table.add(runFaultCase(t, int64(60+i), fc))
		})
	}
}

// runFaultCase backfills 2,500 contacts (ten archived), and for a fault in the change scan
// makes changes of every kind and runs a delta; the fault is injected once its stream has
// read a few pages. It returns the case's row of the table.
func runFaultCase(t *testing.T, seed int64, fc faultCase) faultRow {
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: seed, Contacts: 2500, Companies: 10, Deals: 10, RetryAfter: fc.retryAfter},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: faultQuota,
	})
	row := faultRow{fault: fc.name, injected: fmt.Sprintf("%s x%d on %s", fc.fault.Kind, fc.fault.Count, fc.fault.Endpoint)}
	_, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 10})
	require.NoError(t, err)
	watch := h.watchCursors()
	h.startWorker()

	var started []client.WorkflowRun
	backfill := h.start("backfill")
	started = append(started, backfill...)
	if fc.stream == store.StreamBackfill {
		in := h.injectAfter(fc.fault, store.StreamBackfill, 5)
		row.where = "backfill, after page 5"
		row.recovery = h.recovered(in, backfill[0])
	}
	h.wait(3*time.Minute, backfill...)
	st := h.sim.Stats()
	row.extra = st.Calls("list contacts") - int(h.streamPages(store.StreamBackfill))

	if fc.stream == store.StreamDelta {
		require.Zero(t, row.extra, "list calls beyond one per page, with no fault injected")
		_, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 1500, Creates: 40, Archives: 20, Restores: 3})
		require.NoError(t, err)
		pages, calls := h.streamPages(store.StreamDelta), st.Calls("search contacts")
		delta := h.start("delta")
		started = append(started, delta...)
		in := h.injectAfter(fc.fault, store.StreamDelta, pages+2)
		row.where = "delta, after page 2"
		row.recovery = h.recovered(in, delta[0])
		h.wait(3*time.Minute, delta...)
		row.extra = h.sim.Stats().Calls("search contacts") - calls - int(h.streamPages(store.StreamDelta)-pages)
	}
	t.Logf("%s: %d extra calls, recovered in %s", fc.name, row.extra, row.recovery.Round(time.Millisecond))
	require.Equal(t, fc.wasted(), row.extra, "calls beyond one per page read: each failed answer costs one call, nothing else does")
	injected429 := 0
	if fc.fault.Kind == crmsim.Fault429TenSecondly {
		injected429 = fc.fault.Count
	}
	row.held = h.requireInvariants(watch, faultQuota, injected429, started...)
	return row
}

// A revoked credential stops the stream at once, with a non-retryable error that names
// the problem, after no more calls than were in flight; once the credential is fixed, a new
// run resumes from the stored position and reads only the pages that were left. The same
// for a delta: it stops, then catches up.
func TestRevokedTokenStopsTheStreamUntilItIsFixed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 71, Contacts: 3000, Companies: 10, Deals: 10},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: faultQuota,
	})
	_, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 10})
	require.NoError(t, err)
	watch := h.watchCursors()
	h.startWorker()

	var started []client.WorkflowRun
	first := h.start("backfill")
	started = append(started, first...)
	h.awaitPages(store.StreamBackfill, 8)
	h.revoked.Store(true)
	revokedAt := time.Now()
	h.requireUnauthorized(first[0])
	stopped := time.Since(revokedAt)
	rejected := h.rejected()
	pagesAtStop := h.streamPages(store.StreamBackfill)
	okBefore := h.sim.Stats().ByEndpoint["list contacts"][200]
	t.Logf("revoked at page %d: the backfill stopped in %s after %d rejected calls", pagesAtStop, stopped.Round(time.Millisecond), rejected)
	require.Positive(t, rejected)
	require.LessOrEqual(t, rejected, 2, "rejected calls beyond the page in flight: the stream retried a revoked credential")

	// The credential is fixed; a new backfill of the stream resumes where the first stopped.
	h.revoked.Store(false)
	fixedAt := time.Now()
	second := h.start("backfill")
	started = append(started, second...)
	h.awaitPages(store.StreamBackfill, pagesAtStop+1)
	recovery := time.Since(fixedAt)
	h.wait(3*time.Minute, second...)
	minimum := (h.liveCount(crm.Contacts) + 99) / 100
	okCalls := h.sim.Stats().ByEndpoint["list contacts"][200]
	t.Logf("fixed: first page after %s, %d list calls for the %d pages left (%d in all, minimum %d)",
		recovery.Round(time.Millisecond), okCalls-okBefore, minimum-int(pagesAtStop), okCalls, minimum)
	require.Equal(t, minimum-int(pagesAtStop), okCalls-okBefore, "after the fix the backfill reads only the pages left")
	require.Equal(t, int64(minimum), h.streamPages(store.StreamBackfill))

	// Changes, and the credential revoked before the delta's first call.
	_, err = h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 300, Creates: 20, Archives: 10, Restores: 2})
	require.NoError(t, err)
	h.revoked.Store(true)
	d1 := h.start("delta")
	started = append(started, d1...)
	h.requireUnauthorized(d1[0])
	require.LessOrEqual(t, h.rejected()-rejected, 2, "the delta retried a revoked credential")
	h.revoked.Store(false)
	d2 := h.start("delta")
	started = append(started, d2...)
	h.wait(3*time.Minute, d2...)

	held := h.requireInvariants(watch, faultQuota, 0, started...)
	t.Logf("%s", faultRow{fault: "revoked token (401)", where: fmt.Sprintf("backfill, after page %d; delta, first call", pagesAtStop),
		injected: "credential revoked, then fixed", extra: h.rejected(), recovery: recovery, held: held})
}

// No workflow history holds a credential, the webhook secret or record data, after a
// normal backfill, webhook deliveries and a delta of all three objects: every run on the
// test's task queue is read in full (backfills, deltas, pushed-changes workflows).
func TestWorkflowHistoriesHoldNoRecordDataOrSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:      crmsim.Options{Seed: 81, Contacts: 1500, Companies: 400, Deals: 600},
		webhooks: true,
	})
	_, err := h.sim.Mutate(crmsim.MutationSpec{Archives: 10})
	require.NoError(t, err)
	watch := h.watchCursors()
	h.startWorker()
	h.startReceiver()
	var started []client.WorkflowRun
	backfills := h.start("backfill")
	started = append(started, backfills...)
	h.wait(3*time.Minute, backfills...)

	_, err = h.sim.Mutate(crmsim.MutationSpec{Updates: 150, Creates: 30, Archives: 12, Restores: 4})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, h.sim.FlushWebhooks(ctx))
	deltas := h.start("delta")
	started = append(started, deltas...)
	h.wait(3*time.Minute, deltas...)
	h.awaitGroundTruth(time.Minute)
	h.requireInvariants(watch, 100, 0, started...)
}

// requireInvariants checks what every fault case must end with: PostgreSQL equals the CRM
// (no lost, duplicated or stale rows; deletes applied); no call arrived before a told wait
// had passed, no 429 beyond the injected ones and no 10 s window above the quota; no stream
// position or cursor moved back while the workflows ran; and no workflow history holds a
// credential or record data. It reports them held (a failure ends the test).
func (h *harness) requireInvariants(w *cursorWatch, quota, injected429 int, started ...client.WorkflowRun) string {
	h.t.Helper()
	h.requireGroundTruth(time.Time{})
	st := h.sim.Stats()
	require.Zero(h.t, st.Early, "calls made before a told wait had passed")
	require.Equal(h.t, injected429, st.RateLimited, "429s beyond the injected ones")
	for tok, peak := range st.Peak10s {
		require.LessOrEqual(h.t, peak, quota, "peak calls in a 10 s window for %s", tok)
	}
	samples := w.finish(h.t)
	runs := h.requireCleanHistories(started...)
	h.t.Logf("invariants held: ground truth, 0 early, %d 429s (all injected), %d cursor samples monotonic, %d histories clean",
		st.RateLimited, samples, runs)
	return "yes"
}

// faultRow is one line of the fault table.
type faultRow struct {
	fault, where, injected string
	extra                  int
	recovery               time.Duration
	held                   string
}

func (r faultRow) String() string {
	return fmt.Sprintf("%s | %s | %s | %d | %s | %s", r.fault, r.where, r.injected, r.extra, r.recovery.Round(100*time.Millisecond), r.held)
}

// faultTable collects the rows of parallel cases.
type faultTable struct {
	mu   sync.Mutex
	rows []faultRow
}

func (ft *faultTable) add(r faultRow) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.rows = append(ft.rows, r)
}

func (ft *faultTable) log(t *testing.T) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	lines := []string{"fault | where | injected | extra calls | recover time | invariants held"}
	for _, r := range ft.rows {
		lines = append(lines, r.String())
	}
	t.Logf("fault table:\n%s", strings.Join(lines, "\n"))
}

// streamPages is how many pages of contacts a stream has committed: for the backfill, over
// all its ranges (whose counts move into the stream's own row when it completes).
func (h *harness) streamPages(stream string) int64 {
	h.t.Helper()
	sts, err := h.store.Streams(h.t.Context())
	require.NoError(h.t, err)
	var n int64
	for _, s := range sts {
		if s.Key.Integration == h.integration && s.Key.Object == crm.Contacts && sameStream(s.Key.Stream, stream) {
			n += s.Pages
		}
	}
	return n
}

// sameStream reports whether a sync_cursors row belongs to stream: a backfill's ranges
// ("backfill/<lo>") belong to the backfill.
func sameStream(row, stream string) bool {
	return row == stream || (stream == store.StreamBackfill && isRange(row))
}

func isRange(row string) bool { return strings.HasPrefix(row, store.StreamBackfill+"/") }

// awaitPages waits until the stream has committed at least pages pages and no CRM call is in
// flight, so that what happens next bites the following call.
func (h *harness) awaitPages(stream string, pages int64) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		return h.streamPages(stream) >= pages && h.inflight.Load() == 0
	}, 2*time.Minute, 2*time.Millisecond, "%s did not reach page %d", stream, pages)
}

// injection is a fault queued at the simulator, with what its endpoint had served by then.
type injection struct {
	fault  crmsim.Fault
	stream string
	at     time.Time
	calls  int
}

// injectAfter queues f once stream has committed pages pages (with no call in flight).
func (h *harness) injectAfter(f crmsim.Fault, stream string, pages int64) injection {
	h.t.Helper()
	h.awaitPages(stream, pages)
	in := injection{fault: f, stream: stream, calls: h.sim.Stats().Calls(f.Endpoint)}
	h.sim.InjectFault(f)
	in.at = time.Now()
	return in
}

// recovered waits until the fault is used up and the stream has committed a page since (or
// the workflow has ended), and returns how long that took from the injection.
func (h *harness) recovered(in injection, run client.WorkflowRun) time.Duration {
	h.t.Helper()
	var usedUp bool
	var pages int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for {
		if !usedUp && h.sim.Stats().Calls(in.fault.Endpoint)-in.calls >= in.fault.Count {
			usedUp, pages = true, h.streamPages(in.stream)
		}
		if usedUp && h.streamPages(in.stream) > pages {
			return time.Since(in.at)
		}
		desc, err := h.client.DescribeWorkflow(h.t.Context(), run.GetID(), "")
		require.NoError(h.t, err)
		if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			require.True(h.t, usedUp || h.sim.Stats().Calls(in.fault.Endpoint)-in.calls >= in.fault.Count,
				"the workflow ended before the injected %s was used up", in.fault.Kind)
			return time.Since(in.at)
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("%s: no page committed within 3 minutes of injecting %+v", in.stream, in.fault)
		}
	}
}

// rejected counts the calls the CRM answered 401.
func (h *harness) rejected() int {
	n := 0
	for _, byStatus := range h.sim.Stats().ByEndpoint {
		n += byStatus[401]
	}
	return n
}

// requireUnauthorized waits for run to fail with the non-retryable error of a rejected
// credential, and checks that no activity of it was retried.
func (h *harness) requireUnauthorized(run client.WorkflowRun) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 2*time.Minute)
	defer cancel()
	err := run.Get(ctx, nil)
	require.Error(h.t, err, "%s: the run went on with a revoked credential", run.GetID())
	var ae *temporal.ApplicationError
	require.True(h.t, errors.As(err, &ae), "%s: not an application error: %v", run.GetID(), err)
	require.Equal(h.t, activities.ErrTypeUnauthorized, ae.Type(), "%v", err)
	require.True(h.t, ae.NonRetryable(), "%v", err)
	require.Contains(h.t, ae.Error(), "unauthorized (HTTP 401", "the error names the credential problem")
	h.t.Logf("%s stopped: %v", run.GetID(), ae)
	it := h.client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			require.EqualValues(h.t, 1, a.GetAttempt(), "%s: an activity was retried (event %d)", run.GetID(), ev.GetEventId())
		}
	}
}

// cursorWatch samples sync_cursors every 50 ms while the workflows run and records any
// stream that moved backwards.
type cursorWatch struct {
	h          *harness
	stop, done chan struct{}
	once       sync.Once
	samples    int
	violations []string
	prev       map[string]store.StreamState
	totals     map[crm.Object]int64
}

// watchCursors starts sampling the test's streams.
func (h *harness) watchCursors() *cursorWatch {
	w := &cursorWatch{h: h, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	h.t.Cleanup(w.halt)
	return w
}

func (w *cursorWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sts, err := w.h.store.Streams(ctx)
		cancel()
		if err != nil {
			w.violations = append(w.violations, "reading sync_cursors: "+err.Error())
		} else {
			w.check(sts)
			w.samples++
		}
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

func (w *cursorWatch) halt() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// finish stops the sampling (after one last sample) and fails the test if a stream moved
// backwards; it returns the number of samples.
func (w *cursorWatch) finish(t *testing.T) int {
	t.Helper()
	w.halt()
	require.Empty(t, w.violations, "streams moved backwards")
	require.Greater(t, w.samples, 1)
	return w.samples
}

// check compares one sample with the previous one. A backfill's ranges only gain pages and
// never reopen; a range's position moves only with a page; a range is dropped only when the
// backfill completes (or unread, by a split nobody learned of); the backfill's pages over all
// ranges never shrink; a delta's (modified_at, id) cursor never goes back.
func (w *cursorWatch) check(sts []store.StreamState) {
	cur := map[string]store.StreamState{}
	totals := map[crm.Object]int64{}
	completed := map[crm.Object]bool{}
	for _, s := range sts {
		if s.Key.Integration != w.h.integration {
			continue
		}
		cur[s.Key.String()] = s
		if sameStream(s.Key.Stream, store.StreamBackfill) {
			totals[s.Key.Object] += s.Pages
		}
		if s.Key.Stream == store.StreamBackfill && s.Done() {
			completed[s.Key.Object] = true
		}
	}
	bad := func(format string, args ...any) {
		if len(w.violations) < 20 {
			w.violations = append(w.violations, fmt.Sprintf(format, args...))
		}
	}
	for k, p := range w.prev {
		c, ok := cur[k]
		if !ok {
			if !isRange(p.Key.Stream) || (p.Pages > 0 && !completed[p.Key.Object]) {
				bad("%s disappeared (%d pages) before its backfill completed", k, p.Pages)
			}
			continue
		}
		if c.Pages < p.Pages {
			bad("%s: pages went from %d to %d", k, p.Pages, c.Pages)
		}
		if sameStream(p.Key.Stream, store.StreamBackfill) && p.Done() && !c.Done() {
			bad("%s: completed, then not", k)
		}
		if isRange(p.Key.Stream) && c.Position != p.Position && c.Pages == p.Pages {
			bad("%s: position moved from %q to %q without a page", k, p.Position, c.Position)
		}
		if p.Key.Stream == store.StreamDelta && c.Cursor.Compare(p.Cursor) < 0 {
			bad("%s: cursor moved back from %s to %s", k, p.Cursor, c.Cursor)
		}
	}
	for obj, n := range w.totals {
		if totals[obj] < n {
			bad("%s backfill: pages over all ranges went from %d to %d", obj, n, totals[obj])
		}
	}
	w.prev, w.totals = cur, totals
}

// execution is one workflow run.
type execution struct{ id, runID string }

// requireCleanHistories reads the full history of every workflow run of the test (every run
// on its task queue, as listed by the server, plus the started runs, the runs they continued
// as and the children they started) and fails if one holds the credential, the webhook
// secret or a property value of a sample of the CRM's records. It returns how many runs it
// read.
func (h *harness) requireCleanHistories(started ...client.WorkflowRun) int {
	h.t.Helper()
	secrets := map[string]string{"the credential": h.token}
	if h.webhookSecret != "" {
		secrets["the webhook secret"] = h.webhookSecret
	}
	values := h.sampleValues(100)

	todo := h.listRuns()
	for _, r := range started {
		todo = append(todo, execution{r.GetID(), r.GetRunID()})
	}
	seen := map[execution]bool{}
	for len(todo) > 0 {
		ex := todo[0]
		todo = todo[1:]
		if seen[ex] {
			continue
		}
		seen[ex] = true
		hist, more := h.runHistory(ex)
		todo = append(todo, more...)
		// The scan sees the payloads: every run's input names its integration.
		require.True(h.t, bytes.Contains(hist, []byte(h.integration)), "%s run %s: no payload found in the history", ex.id, ex.runID)
		for what, s := range secrets {
			require.False(h.t, bytes.Contains(hist, []byte(s)), "%s run %s: %s is in the history", ex.id, ex.runID, what)
		}
		for _, v := range values {
			require.False(h.t, containsValue(hist, v), "%s run %s: the record value %q is in the history", ex.id, ex.runID, v)
		}
	}
	require.GreaterOrEqual(h.t, len(seen), len(started))
	h.t.Logf("histories: %d runs read in full, none holds a credential or any of %d record values", len(seen), len(values))
	return len(seen)
}

// listRuns lists every run (open or closed, each run of a continue-as-new chain) whose
// workflow task queue is the test's.
func (h *harness) listRuns() []execution {
	h.t.Helper()
	var out []execution
	var token []byte
	for {
		resp, err := h.client.ListWorkflow(h.t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TaskQueue = '%s'", h.queue), NextPageToken: token,
		})
		require.NoError(h.t, err)
		for _, e := range resp.GetExecutions() {
			out = append(out, execution{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out
		}
	}
}

// runHistory returns one run's events as protobuf bytes (payloads appear in them as their
// raw JSON), and the runs it led to: the run it continued as, the children it started.
func (h *harness) runHistory(ex execution) ([]byte, []execution) {
	h.t.Helper()
	it := h.client.GetWorkflowHistory(h.t.Context(), ex.id, ex.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var buf []byte
	var next []execution
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		b, err := proto.Marshal(ev)
		require.NoError(h.t, err)
		buf = append(buf, b...)
		if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			next = append(next, execution{ex.id, a.GetNewExecutionRunId()})
		}
		if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
			next = append(next, execution{a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId()})
		}
	}
	return buf, next
}

// sampleValues picks n records of each object spread over the CRM's listing and returns
// their property values that identify a record: at least six characters (no chance match),
// not a number or a timestamp (ids and modification times are what positions and cursors
// are made of, and belong in history), and not shared with another sampled record (a
// picklist option or a common name says nothing about one record).
func (h *harness) sampleValues(n int) []string {
	h.t.Helper()
	var out []string
	for _, obj := range h.objects {
		recs, err := h.sim.SnapshotFor(h.provider, string(obj))
		require.NoError(h.t, err)
		count := map[string]int{}
		for i := 0; i < len(recs); i += max(1, len(recs)/n) {
			for _, v := range recs[i].Properties {
				if identifying(v) {
					count[v]++
				}
			}
		}
		picked := 0
		for v, c := range count {
			if c == 1 {
				out = append(out, v)
				picked++
			}
		}
		require.GreaterOrEqual(h.t, picked, n, "%s: too few identifying values to sample", obj)
	}
	slices.Sort(out)
	return out
}

func identifying(v string) bool {
	if utf8.RuneCountInString(v) < 6 {
		return false
	}
	if enumCode.MatchString(v) {
		// A picklist's option ("unavailable", "PAID_SOCIAL") is shared by many records and
		// may be a word crmsync's own messages use.
		return false
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return false
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return false
	}
	return true
}

// enumCode matches a picklist option's value: one lower- or upper-case word or code.
var enumCode = regexp.MustCompile(`^([a-z0-9_]+|[A-Z0-9_]+)$`)

// containsValue reports whether hist holds v as written or as JSON escapes it.
func containsValue(hist []byte, v string) bool {
	if bytes.Contains(hist, []byte(v)) {
		return true
	}
	b, _ := json.Marshal(v)
	return bytes.Contains(hist, b[1:len(b)-1])
}

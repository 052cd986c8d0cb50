// Package e2e holds crmsync's end-to-end tests: a real Temporal dev server, the real worker
// binary as an OS process (so it can be SIGKILLed), real PostgreSQL, and the simulator in
// place of HubSpot. Each test gets its own integration id (so its own task queues), its
// own schema and its own simulator, so tests share only the dev server.
package e2e

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/groundtruth"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/workflows"
)

var (
	devServer   *testsuite.DevServer
	temporalBin string
	binDir      string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	temporalBin, err = findTemporal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binDir, err = os.MkdirTemp("", "crmsync-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	for _, name := range []string{"worker", "starter"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "../../"+name).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", name, err, out)
			return 1
		}
	}
	devServer, err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: temporalBin,
		LogLevel:     "error",
		ExtraArgs: []string{
			// One partition per task queue, so a queue's rate limit is delivered as set.
			"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
			"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		},
		ClientOptions: &client.Options{Logger: quiet{}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the Temporal dev server:", err)
		return 1
	}
	defer devServer.Stop()
	return m.Run()
}

// findTemporal locates the Temporal CLI that `make` installs into bin/.
func findTemporal() (string, error) {
	for _, p := range []string{os.Getenv("TEMPORAL_CLI"), "../../bin/temporal"} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs, nil
			}
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no Temporal CLI: run `make tools` (installs bin/temporal) or set TEMPORAL_CLI")
}

// harness is one test's world.
type harness struct {
	t           *testing.T
	integration string
	token       string
	sim         *crmsim.Sim
	simURL      string
	dbURL       string
	store       *store.Store
	client      client.Client
	cfgPath     string
	objects     []crm.Object
	workers     int
	shared      bool
	// queue keeps this test's workflows away from other tests' workers.
	queue string
	// inflight counts CRM requests the simulator is answering right now.
	inflight atomic.Int32
	// revoked makes the CRM reject the integration's credential, as if it had been revoked:
	// requests reach the simulator with a token it does not know.
	revoked atomic.Bool
	// webhookPort is the receiver's port, webhookSecret the app secret signing deliveries.
	webhookPort   int
	webhookSecret string
	// provider is the integration's CRM.
	provider string
	// temporal is the Temporal server's address (default: the suite's dev server).
	temporal string
	// payloadKeys is CRMSYNC_PAYLOAD_KEYS for the worker, the starter and h.client.
	payloadKeys string
	// metricsAddr is the worker's CRMSYNC_METRICS_ADDR: "off" unless options.metrics.
	metricsAddr string
	// intakePort is the write intake's port and appToken the calling app's bearer token
	// (options.writes).
	intakePort int
	appToken   string
}

type options struct {
	// provider is the CRM the integration is configured for (default hubspot); the
	// simulator speaks every one. Salesforce and Zoho authenticate through the OAuth
	// refresh grant, Pipedrive with an API token.
	provider       string
	sim            crmsim.Options
	objects        []crm.Object
	requestsPer10s int
	searchPerSec   int
	deltaLag       time.Duration
	deltaInterval  time.Duration
	// lanes is backfill.lanes (0: automatic).
	lanes int
	// bulkAbove is backfill.bulk_above (0: the default).
	bulkAbove int
	// concurrency is quota.concurrency for a CRM without a short window (0: its default).
	concurrency int
	// temporal is the address of a Temporal server of the test's own (default: the
	// suite's shared dev server).
	temporal string
	// sharedQueues runs the workers with CRMSYNC_TASK_QUEUES=shared.
	sharedQueues bool
	// webhooks makes the simulator push its changes to a receiver (startReceiver) on
	// webhookPort, and configures the integration to take them.
	webhooks bool
	// payloadKeys, when set, is CRMSYNC_PAYLOAD_KEYS for the worker and the starter, and
	// h.client encrypts with the same keys.
	payloadKeys string
	// metrics serves the worker's /metrics on a free port (h.metricsAddr); only for a
	// test that runs one worker at a time. Off otherwise.
	metrics bool
	// writes lets the integration take queued writes to contacts (by email) and an app
	// write through the intake (startIntake) on intakePort.
	writes bool
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: needs the Temporal dev server")
	}
	h := &harness{t: t, integration: "e2e-" + randomHex(4), token: "pat-e2e-" + randomHex(8), objects: o.objects, shared: o.sharedQueues,
		provider: cmp.Or(o.provider, crmsim.ProviderHubSpot), payloadKeys: o.payloadKeys}
	h.queue = "crmsync-" + h.integration
	h.metricsAddr = "off"
	if o.metrics {
		h.metricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	if len(h.objects) == 0 {
		h.objects = crm.Objects
	}
	o.sim.Tokens = []string{h.token}
	if o.webhooks {
		h.webhookPort, h.webhookSecret = freePort(t), "app-secret-"+randomHex(8)
		o.sim.WebhookURL = fmt.Sprintf("http://127.0.0.1:%d/webhooks/hubspot", h.webhookPort)
		o.sim.WebhookSecret = h.webhookSecret
	}
	if o.requestsPer10s == 0 {
		o.requestsPer10s = 100
	}
	if o.searchPerSec == 0 {
		o.searchPerSec = 5
	}
	// The simulated CRM allows what the integration is configured for.
	o.sim.TenSecondLimit, o.sim.SearchPerSecond = o.requestsPer10s, o.searchPerSec
	sim, err := crmsim.New(o.sim)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.inflight.Add(1)
		defer h.inflight.Add(-1)
		if h.revoked.Load() {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer revoked")
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	h.sim, h.simURL = sim, srv.URL

	h.dbURL = pgtest.Schema(t)
	h.store, err = store.Open(t.Context(), h.dbURL)
	require.NoError(t, err)
	t.Cleanup(h.store.Close)
	_, err = h.store.Migrate(t.Context())
	require.NoError(t, err)

	if o.deltaLag == 0 {
		o.deltaLag = 5 * time.Second
	}
	if o.deltaInterval == 0 {
		o.deltaInterval = time.Hour
	}
	objs := ""
	for i, obj := range h.objects {
		if i > 0 {
			objs += ", "
		}
		objs += string(obj)
	}
	h.cfgPath = filepath.Join(t.TempDir(), "crmsync.yaml")
	auth := "credential_env: E2E_TOKEN"
	quota := fmt.Sprintf("{requests_per_10s: %d, daily: %d, search_per_second: %d}", o.requestsPer10s, max(o.sim.DailyLimit, crmsim.DefaultDailyLimit), o.searchPerSec)
	switch h.provider {
	case crmsim.ProviderSalesforce:
		auth = fmt.Sprintf("oauth: {token_url: %s/services/oauth2/token, client_id_env: E2E_CLIENT_ID, client_secret_env: E2E_CLIENT_SECRET, refresh_token_env: E2E_TOKEN}", h.simURL)
		quota = "{}"
	case crmsim.ProviderZoho:
		auth = fmt.Sprintf("oauth: {token_url: %s/oauth/v2/token, client_id_env: E2E_CLIENT_ID, client_secret_env: E2E_CLIENT_SECRET, refresh_token_env: E2E_TOKEN}", h.simURL)
		quota = fmt.Sprintf("{concurrency: %d}", o.concurrency)
	case crmsim.ProviderPipedrive:
		quota = "{}"
	}
	doc := fmt.Sprintf(`integrations:
  - id: %s
    provider: %s
    base_url: %s
    %s
    objects: [%s]
    quota: %s
    delta: {interval: %s, lag: %s, deletes_every: 0s}
    backfill: {lanes: %d, bulk_above: %d}
`, h.integration, h.provider, h.simURL, auth, objs, quota, o.deltaInterval, o.deltaLag, o.lanes, o.bulkAbove)
	if o.webhooks {
		doc += fmt.Sprintf("    webhooks: {portal_id: %d, secret_env: E2E_APP_SECRET, flush_after: 1s}\n", crmsim.DefaultPortalID)
	}
	if o.writes {
		h.intakePort, h.appToken = freePort(t), "app-token-"+randomHex(12)
		doc += "    writes: {objects: {contacts: {id_property: email}}}\n"
		doc += "intake: {apps: [{name: e2e-app, token_env: E2E_INTAKE_TOKEN}]}\n"
	}
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(doc), 0o644))

	h.temporal = cmp.Or(o.temporal, devServer.FrontendHostPort())
	copts := client.Options{HostPort: h.temporal, Logger: quiet{}}
	if o.payloadKeys != "" {
		keys, err := config.ParsePayloadKeys(o.payloadKeys)
		require.NoError(t, err)
		codec, err := payloadcrypt.NewCodec(keys...)
		require.NoError(t, err)
		copts.DataConverter = payloadcrypt.NewDataConverter(codec)
	}
	h.client, err = client.Dial(copts)
	require.NoError(t, err)
	t.Cleanup(h.client.Close)
	return h
}

// env is the environment the worker and the starter run with.
func (h *harness) env() []string {
	return append(os.Environ(),
		// The application name lets a test find the worker's connections in pg_stat_activity.
		"CRMSYNC_CONFIG="+h.cfgPath, "DATABASE_URL="+h.dbURL+"&application_name="+h.integration, "E2E_TOKEN="+h.token,
		"TEMPORAL_ADDRESS="+h.temporal, "TEMPORAL_NAMESPACE=default", "CRMSYNC_TASK_QUEUE="+h.queue,
		"CRMSYNC_LOG_FORMAT=json", "CRMSYNC_TASK_QUEUES="+map[bool]string{false: "per-integration", true: "shared"}[h.shared],
		"E2E_APP_SECRET="+h.webhookSecret, "E2E_CLIENT_ID=e2e-client", "E2E_CLIENT_SECRET=e2e-client-secret",
		// Encryption only where the test asks for it, whatever the caller's shell holds.
		config.PayloadKeysEnv+"="+h.payloadKeys,
		"CRMSYNC_METRICS_ADDR="+h.metricsAddr, "E2E_INTAKE_TOKEN="+h.appToken)
}

// startIntake runs `starter intake` on the harness's intake port and waits until it answers.
func (h *harness) startIntake() *workerProc {
	h.t.Helper()
	p := h.startProcess("intake", "starter", "intake", "--listen", fmt.Sprintf("127.0.0.1:%d", h.intakePort))
	require.Eventually(h.t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", h.intakePort))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the intake never answered")
	return p
}

// activityIdentities are the workers that ran a workflow's activities (its latest run).
func (h *harness) activityIdentities(workflowID string) map[string]int {
	h.t.Helper()
	ids := map[string]int{}
	it := h.client.GetWorkflowHistory(h.t.Context(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			ids[a.GetIdentity()]++
		}
	}
	return ids
}

// workerProc is a worker OS process.
type workerProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startWorker runs the worker binary; its log goes to the test's temp dir.
func (h *harness) startWorker() *workerProc {
	h.t.Helper()
	h.workers++
	return h.startProcess("worker-"+strconv.Itoa(h.workers), "worker")
}

// startReceiver runs `starter webhooks` on the harness's webhook port.
func (h *harness) startReceiver() *workerProc {
	h.t.Helper()
	return h.startProcess("receiver", "starter", "webhooks", "--listen", fmt.Sprintf("127.0.0.1:%d", h.webhookPort))
}

// startProcess runs one of the built binaries until the test ends; its output goes to a
// log in the test's temp dir, shown when the test fails.
func (h *harness) startProcess(name, bin string, args ...string) *workerProc {
	h.t.Helper()
	logPath := filepath.Join(h.t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(h.t, err)
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Env = h.env()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(h.t, cmd.Start())
	w := &workerProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(w.done)
	}()
	h.t.Cleanup(func() {
		w.kill()
		if h.t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				h.t.Logf("%s log %s (last 3000 bytes):\n%s", name, logPath, tail(b, 3000))
			}
		}
	})
	return w
}

// kill SIGKILLs the worker: no graceful shutdown, no in-flight activity completes.
func (w *workerProc) kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// start starts one workflow per object and returns the runs.
func (h *harness) start(kind string, objects ...crm.Object) []client.WorkflowRun {
	h.t.Helper()
	if len(objects) == 0 {
		objects = h.objects
	}
	var runs []client.WorkflowRun
	for _, obj := range objects {
		opts := client.StartWorkflowOptions{TaskQueue: h.queue, WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}
		var run client.WorkflowRun
		var err error
		switch kind {
		case "backfill":
			opts.ID = workflows.BackfillID(h.integration, obj)
			run, err = h.client.ExecuteWorkflow(h.t.Context(), opts, workflows.Backfill, workflows.BackfillInput{Integration: h.integration, Object: obj})
		default:
			opts.ID = workflows.DeltaID(h.integration, obj)
			run, err = h.client.ExecuteWorkflow(h.t.Context(), opts, workflows.DeltaSync, workflows.DeltaInput{Integration: h.integration, Object: obj})
		}
		require.NoError(h.t, err)
		runs = append(runs, run)
	}
	return runs
}

// wait waits for every run, failing the test on any workflow error.
func (h *harness) wait(timeout time.Duration, runs ...client.WorkflowRun) []workflows.DeltaResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), timeout)
	defer cancel()
	out := make([]workflows.DeltaResult, len(runs))
	for i, run := range runs {
		require.NoError(h.t, run.Get(ctx, &out[i]), "workflow %s", run.GetID())
	}
	return out
}

// backfillPages is how many pages the backfill of obj has committed, over all its ranges.
func (h *harness) backfillPages(obj crm.Object) int64 {
	ps, err := h.store.Partitions(h.t.Context(), h.integration, obj)
	require.NoError(h.t, err)
	var n int64
	for _, p := range ps {
		n += p.Pages
	}
	return n
}

// requireGroundTruth compares every object with the simulator.
func (h *harness) requireGroundTruth(asOf time.Time) int {
	h.t.Helper()
	compared := 0
	for _, obj := range h.objects {
		diff, err := groundtruth.CompareAs(h.t.Context(), h.sim, h.provider, h.store, h.integration, obj, asOf)
		require.NoError(h.t, err)
		h.t.Logf("%s: %s", obj, diff)
		require.Zero(h.t, diff.Mismatches(), "%s: %s", obj, diff)
		compared += diff.Compared
	}
	return compared
}

// liveCount is the number of live records of obj in the simulator.
func (h *harness) liveCount(obj crm.Object) int {
	recs, err := h.sim.SnapshotFor(h.provider, string(obj))
	require.NoError(h.t, err)
	n := 0
	for _, r := range recs {
		if !r.Archived {
			n++
		}
	}
	return n
}

// requirePolite checks the simulator saw no 429, no call before a told wait, and never more
// than the quota in any 10-second window.
func (h *harness) requirePolite(quota int) {
	h.t.Helper()
	st := h.sim.Stats()
	require.Zero(h.t, st.RateLimited, "429s received")
	require.Zero(h.t, st.Early, "calls made before a told wait had passed")
	for tok, peak := range st.Peak10s {
		require.LessOrEqual(h.t, peak, quota, "peak calls in a 10 s window for %s", tok)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// freePort returns a TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// quiet silences the SDK's client logs in tests.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

// recordHistories writes the given workflows' latest-run histories as JSON, with a manifest
// naming each file's workflow id, when CRMSYNC_RECORD_HISTORIES names a directory
// (workflows/testdata holds the ones the replay tests use).
func (h *harness) recordHistories(ids map[string]string) {
	h.t.Helper()
	dir := os.Getenv("CRMSYNC_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	type entry struct {
		File       string `json:"file"`
		WorkflowID string `json:"workflow_id"`
	}
	var manifest []entry
	if b, err := os.ReadFile(filepath.Join(dir, "histories.json")); err == nil {
		require.NoError(h.t, json.Unmarshal(b, &manifest))
	}
	manifest = slices.DeleteFunc(manifest, func(e entry) bool { _, again := ids[e.File]; return again })
	for file, id := range ids {
		it := h.client.GetWorkflowHistory(h.t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var hist historypb.History
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(h.t, err)
			hist.Events = append(hist.Events, ev)
		}
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&hist)
		require.NoError(h.t, err)
		require.NoError(h.t, os.WriteFile(filepath.Join(dir, file), b, 0o644))
		manifest = append(manifest, entry{File: file, WorkflowID: id})
	}
	slices.SortFunc(manifest, func(a, b entry) int { return strings.Compare(a.File, b.File) })
	b, err := json.MarshalIndent(manifest, "", "  ")
	require.NoError(h.t, err)
	require.NoError(h.t, os.WriteFile(filepath.Join(dir, "histories.json"), append(b, '\n'), 0o644))
	h.t.Logf("recorded %d histories into %s", len(ids), dir)
}

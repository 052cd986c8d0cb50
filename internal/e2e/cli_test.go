package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/temporalclient"
	"github.com/crmsync/crmsync/workflows"
)

// starter runs the starter binary with the harness's environment and returns its output;
// the command must succeed.
func (h *harness) starter(timeout time.Duration, args ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), args...)
	cmd.Env = h.env()
	out, err := cmd.CombinedOutput()
	require.NoError(h.t, err, "starter %v:\n%s", args, out)
	return string(out)
}

// The starter's backfill and sync commands start the stream workflows and wait for them.
func TestStarterBackfillAndSyncWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 51, Contacts: 700, Companies: 300, Deals: 200},
		requestsPer10s: 190,
	})
	h.startWorker()
	// The worker registers crmsync's search attributes at start; the starter sets them on
	// the workflows it starts once they are there.
	require.Eventually(t, func() bool {
		missing, err := temporalclient.MissingSearchAttributes(t.Context(), h.client, "default")
		return err == nil && len(missing) == 0
	}, 30*time.Second, 100*time.Millisecond)
	out := h.starter(2*time.Minute, "backfill", "--wait")
	t.Logf("starter backfill --wait:\n%s", out)
	for _, obj := range h.objects {
		require.Contains(t, out, h.integration+"/"+string(obj))
	}
	require.Contains(t, out, "done:")
	h.requireGroundTruth(time.Time{})
	h.requireStatusAfterBackfill()

	// Each sync can be found by its search attributes (the worker registered them), and
	// its memo says what it is.
	query := fmt.Sprintf("CrmsyncIntegration = '%s' AND CrmsyncKind = 'backfill' AND CrmsyncProvider = 'hubspot'", h.integration)
	require.Eventually(t, func() bool {
		resp, err := h.client.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		return err == nil && len(resp.GetExecutions()) == len(h.objects)
	}, 30*time.Second, 200*time.Millisecond, "backfills found by %s", query)
	desc, err := h.client.DescribeWorkflow(t.Context(), workflows.BackfillID(h.integration, crm.Contacts), "")
	require.NoError(t, err)
	var description string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.RawResponse.GetWorkflowExecutionInfo().GetMemo().GetFields()["description"], &description))
	require.Equal(t, fmt.Sprintf("crmsync backfill of %s contacts (hubspot)", h.integration), description)

	_, err = h.sim.Mutate(crmsim.MutationSpec{Updates: 20, Archives: 3})
	require.NoError(t, err)
	out = h.starter(2*time.Minute, "sync", "--wait", "--object", "contacts")
	t.Logf("starter sync --wait --object contacts:\n%s", out)
	require.Contains(t, out, h.integration+"/contacts")
	require.NotContains(t, out, h.integration+"/deals")
	require.Contains(t, out, "done:")

	out = h.starter(time.Minute, "status")
	t.Logf("starter status:\n%s", out)
	require.Contains(t, out, h.integration+"/contacts")
	require.Contains(t, out, "done")
	require.Regexp(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(h.integration+"/contacts")+` +idle.* +delta done \S+ ago `), out,
		"the last success is the delta")

	// --watch redraws until Ctrl-C; piped, it prints one snapshot after another.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), "status", "--watch", "--every", "300ms")
	cmd.Env = h.env()
	var watched lockedBuffer
	cmd.Stdout, cmd.Stderr = &watched, &watched
	require.NoError(t, cmd.Start())
	require.Eventually(t, func() bool { return strings.Count(watched.String(), "crmsync status at") >= 2 }, 30*time.Second, 50*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.NoError(t, cmd.Wait(), "Ctrl-C ends --watch cleanly:\n%s", watched.String())
	require.Contains(t, watched.String(), "\n\ncrmsync status at", "snapshots are separated by a blank line")
	require.NotContains(t, watched.String(), "\x1b[", "no screen control codes when stdout is not a terminal")
}

// requireStatusAfterBackfill checks `starter status` after a backfill: every stream idle,
// its records counted as PostgreSQL holds them, a lag, and the CRM's count of the day's
// calls.
func (h *harness) requireStatusAfterBackfill() {
	t := h.t
	t.Helper()
	out := h.starter(time.Minute, "status")
	t.Logf("starter status after the backfill:\n%s", out)
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		rows[cells[0]] = cells
	}
	require.Equal(t, []string{"STREAM", "STATE", "LAST SUCCESS", "LAG", "LIVE/DELETED", "WAIT"}, rows["STREAM"])
	for _, obj := range h.objects {
		row := rows[h.integration+"/"+string(obj)]
		require.Len(t, row, 6, "%s: %q", obj, row)
		require.Equal(t, "idle", row[1], obj)
		require.Regexp(t, `^backfill done \S+ ago$`, row[2], obj)
		require.Regexp(t, `^\d+[smhd]`, row[3], "%s: the lag is the delta cursor's age", obj)
		counts, err := h.store.Count(t.Context(), h.integration, obj)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%d/%d", counts.Live, counts.Deleted), row[4], obj)
		require.Equal(t, "-", row[5], obj)
	}
	require.Equal(t, []string{"INTEGRATION", "CALLS TODAY", "DAILY BUDGET", "PAUSED"}, rows["INTEGRATION"])
	row := rows[fmt.Sprintf("%s (%s)", h.integration, h.provider)]
	require.Len(t, row, 4, "%q", row)
	require.Regexp(t, `^\d+ of \d+ \(CRM's count at \d\d:\d\d:\d\d\)$`, row[1], "the CRM's daily figures, kept by the worker")
	require.Equal(t, "-", row[3])
}

// lockedBuffer is a bytes.Buffer a running command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A Schedule alone brings a never-synced integration in sync: its scheduled run hands the
// delta to the stream's own workflow, which starts the object's backfill.
func TestScheduleAloneSyncsANewIntegration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 52, Contacts: 900, Companies: 10, Deals: 10},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 190,
		deltaInterval:  time.Hour,
	})
	h.startWorker()
	out := h.starter(time.Minute, "schedule", "apply")
	require.Contains(t, out, "created  "+workflows.ScheduleID(h.integration, crm.Contacts))
	out = h.starter(time.Minute, "schedule", "apply")
	require.Contains(t, out, "updated  "+workflows.ScheduleID(h.integration, crm.Contacts), "apply is idempotent")

	sched := h.client.ScheduleClient().GetHandle(t.Context(), workflows.ScheduleID(h.integration, crm.Contacts))
	require.NoError(t, sched.Trigger(t.Context(), client.ScheduleTriggerOptions{}))
	bf := store.StreamKey{Integration: h.integration, Object: crm.Contacts, Stream: store.StreamBackfill}
	require.Eventually(t, func() bool {
		st, err := h.store.Stream(t.Context(), bf)
		return err == nil && st.Done()
	}, 2*time.Minute, 100*time.Millisecond, "the scheduled delta did not start the backfill")
	h.wait(time.Minute, h.client.GetWorkflow(t.Context(), workflows.BackfillID(h.integration, crm.Contacts), ""))
	h.wait(time.Minute, h.client.GetWorkflow(t.Context(), workflows.DeltaID(h.integration, crm.Contacts), ""))
	h.requireGroundTruth(time.Time{})

	out = h.starter(time.Minute, "schedule", "delete", "--integration", h.integration)
	require.Contains(t, out, "deleted  "+workflows.ScheduleID(h.integration, crm.Contacts))
}

// Two deltas of one stream never run at once: a scheduled run that finds the stream's delta
// running does nothing.
func TestScheduledDeltaSkipsWhileTheStreamsDeltaRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:     crmsim.Options{Seed: 53, Contacts: 50, Companies: 10, Deals: 10},
		objects: []crm.Object{crm.Contacts},
	})
	// No worker yet: the manual delta stays running while the scheduled one is started.
	manual := h.start("delta")[0]
	scheduled, err := h.client.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: workflows.ScheduledDeltaID(h.integration, crm.Contacts) + "-2026-11-27T00:00:00Z", TaskQueue: h.queue,
	}, workflows.DeltaSync, workflows.DeltaInput{Integration: h.integration, Object: crm.Contacts})
	require.NoError(t, err)
	h.startWorker()

	res := h.wait(2*time.Minute, scheduled)
	require.Contains(t, res[0].Skipped, "already running")
	require.Zero(t, res[0].Pages)
	h.wait(2*time.Minute, manual)
}

// The README's plain `temporal workflow start` with JSON input runs a backfill, and the
// progress query answers through the same CLI.
func TestTemporalCLIStartsABackfillFromPlainJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:     crmsim.Options{Seed: 54, Contacts: 10, Companies: 10, Deals: 250},
		objects: []crm.Object{crm.Deals},
	})
	h.startWorker()
	id := workflows.BackfillID(h.integration, crm.Deals)
	input := fmt.Sprintf(`{"integration":%q,"object":"deals"}`, h.integration)
	temporal := func(args ...string) []byte {
		cmd := exec.CommandContext(t.Context(), temporalBin, append(args, "--address", devServer.FrontendHostPort())...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "temporal %v:\n%s", args, out)
		return out
	}
	temporal("workflow", "start", "--task-queue", h.queue, "--type", "Backfill", "--workflow-id", id, "--input", input)
	res := h.wait(time.Minute, h.client.GetWorkflow(t.Context(), id, ""))
	require.Equal(t, int64(h.liveCount(crm.Deals)), res[0].Fetched-res[0].Deleted)

	out := temporal("workflow", "query", "--workflow-id", id, "--type", workflows.QueryProgress, "--output", "json")
	var q struct {
		QueryResult []workflows.Progress `json:"queryResult"`
	}
	require.NoError(t, json.Unmarshal(out, &q), "%s", out)
	require.Len(t, q.QueryResult, 1)
	require.Equal(t, "done", q.QueryResult[0].Phase)
	require.Equal(t, res[0].Pages, q.QueryResult[0].Pages)
}

// `starter demo --exit-after-backfill` runs the whole demo on its own ports and checks its
// own result: PostgreSQL equals the CRM, no 429.
func TestDemoRunsEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	schema := "demo_" + randomHex(4)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), pgtest.BaseURL())
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	dir := t.TempDir()
	args := []string{"demo", "--exit-after-backfill", "--dir", dir,
		"--contacts", "1500", "--companies", "400", "--deals", "600", "--mutate-every", "500ms",
		"--temporal-port", strconv.Itoa(freePort(t)), "--ui-port", strconv.Itoa(freePort(t)),
		"--sim-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--webhook-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)),
		"--metrics-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)),
		"--intake-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)), "--writes", "1000",
		"--database-url", pgtest.BaseURL(), "--schema", schema, "--delta-interval", "10s", "--delta-lag", "3s"}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_CLI="+temporalBin, "CRMSYNC_WORKER="+filepath.Join(binDir, "worker"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("starter demo output:\n%s", out.String())
	require.NoError(t, err)
	require.Contains(t, out.String(), "backfill complete")
	require.Contains(t, out.String(), "Refused calls:       0 (429s)")
	require.Contains(t, out.String(), "PostgreSQL equals the CRM; no call refused")
	require.Contains(t, out.String(), "webhook receiver on http://")
	require.Regexp(t, `associations deals->contacts +\d+ records, \d+ links, [1-9]\d* calls`, out.String())
	require.Regexp(t, `pushed: [1-9][0-9]* events accepted \(\d+ duplicates\) -> [1-9][0-9]* batch reads`, out.String())
	require.Contains(t, out.String(), "writes: 1001 events for 201 contacts queued through the HTTP intake")
	require.Regexp(t, `writes: drained in [0-9.]+m?s: \d+ batch calls for 201 contacts \(minimum ceil\(201/100\) = 3\)`, out.String())
	require.Regexp(t, `writes: dead letter \d+ \(not-an-email-address\): VALIDATION_ERROR`, out.String())
	require.Regexp(t, `writes: the CRM holds the latest queued value of all [1-9]\d* written properties`, out.String())
	_, err = os.Stat(filepath.Join(dir, "worker.log"))
	require.NoError(t, err)
}

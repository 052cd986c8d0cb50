package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/workflows"
)

// PostgreSQL drops every connection of the worker, three times, mid-backfill (as a restart
// of the database does): the page in flight fails to commit and is retried once the pool
// reconnects; the backfill completes without a human, equal to the CRM, re-reading at
// most the page in flight per outage.
func TestBackfillSurvivesPostgreSQLDroppingItsConnections(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		// A narrow account: PostgreSQL's failures are the subject, not width.
		sim:            crmsim.Options{Seed: 91, Contacts: 6000, Companies: 10, Deals: 10, Latency: 100 * time.Millisecond, Narrow: true},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 1000,
		lanes:          1,
	})
	h.startWorker()
	runs := h.start("backfill")
	conn, err := pgx.Connect(t.Context(), pgtest.BaseURL())
	require.NoError(t, err)
	defer conn.Close(t.Context())
	cuts := 0
	for _, at := range []int64{8, 20, 35} {
		require.Eventually(t, func() bool { return h.backfillPages(crm.Contacts) >= at }, 2*time.Minute, 5*time.Millisecond)
		var killed int
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1) k`, h.integration).Scan(&killed))
		require.Positive(t, killed, "the worker's connections were found")
		cuts++
		t.Logf("cut %d connections at page %d", killed, at)
	}
	h.wait(3*time.Minute, runs...)
	live := h.liveCount(crm.Contacts)
	minimum := (live + 99) / 100
	calls := h.sim.Stats().Calls("list contacts")
	t.Logf("PostgreSQL outages: %d, %d records, %d list calls, minimum %d", cuts, live, calls, minimum)
	require.LessOrEqual(t, calls, minimum+cuts, "more than the page in flight re-read per outage")
	h.requireGroundTruth(time.Time{})
	require.Zero(t, h.sim.Stats().Early)
}

// The Temporal server stops mid-backfill and comes back on its database file: the
// worker reconnects, the workflow carries on from its history, and the backfill
// completes equal to the CRM.
func TestBackfillSurvivesATemporalServerRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end: needs the Temporal dev server")
	}
	db := filepath.Join(t.TempDir(), "temporal.db")
	port := freePort(t)
	start := func() *testsuite.DevServer {
		srv, err := testsuite.StartDevServer(t.Context(), testsuite.DevServerOptions{
			ExistingPath: temporalBin, LogLevel: "error", DBFilename: db,
			ClientOptions: &client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", port), Logger: quiet{}},
		})
		require.NoError(t, err)
		return srv
	}
	srv := start()
	h := newHarness(t, options{
		// A narrow account: Temporal's restart is the subject, not width.
		sim:            crmsim.Options{Seed: 93, Contacts: 8000, Companies: 10, Deals: 10, Latency: 100 * time.Millisecond, Narrow: true},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 1000,
		lanes:          1,
		temporal:       srv.FrontendHostPort(),
	})
	h.startWorker()
	runs := h.start("backfill")
	require.Eventually(t, func() bool { return h.backfillPages(crm.Contacts) >= 15 }, 2*time.Minute, 5*time.Millisecond)
	require.NoError(t, srv.Stop())
	down := time.Now()
	at := h.backfillPages(crm.Contacts)
	time.Sleep(2 * time.Second) // the server is down: nothing can move on
	require.LessOrEqual(t, h.backfillPages(crm.Contacts), at+1, "pages went on while the server was down")
	srv = start()
	defer func() { _ = srv.Stop() }()
	t.Logf("Temporal stopped at page %d for %s", at, time.Since(down).Round(time.Millisecond))

	// The workflow client of the first server is gone with it; a new one follows the run.
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Logger: quiet{}})
	require.NoError(t, err)
	defer c.Close()
	run := c.GetWorkflow(t.Context(), runs[0].GetID(), "")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	require.NoError(t, run.Get(ctx, nil))
	live := h.liveCount(crm.Contacts)
	minimum := (live + 99) / 100
	calls := h.sim.Stats().Calls("list contacts")
	t.Logf("Temporal restart: %d records, %d list calls, minimum %d; recovered %s after the stop", live, calls, minimum, time.Since(down).Round(time.Millisecond))
	require.LessOrEqual(t, calls, minimum+2, "more than a page or two re-read across the restart")
	h.requireGroundTruth(time.Time{})
	require.Zero(t, h.sim.Stats().Early)
}

// A CRM call that fails and is retried by Temporal shows in the sync's progress query:
// the worker reports the failed attempt to its workflow.
func TestProgressQueryShowsTheLastFailedAttempt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 95, Contacts: 3000, Companies: 10, Deals: 10, Latency: 50 * time.Millisecond},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 1000,
		lanes:          1,
	})
	h.startWorker()
	runs := h.start("backfill")
	require.Eventually(t, func() bool { return h.backfillPages(crm.Contacts) >= 3 }, time.Minute, 5*time.Millisecond)
	h.sim.InjectFault(crmsim.Fault{Endpoint: "list contacts", Kind: crmsim.Fault503, Count: 2})
	var p workflows.Progress
	require.Eventually(t, func() bool {
		v, err := h.client.QueryWorkflow(t.Context(), runs[0].GetID(), "", workflows.QueryProgress)
		if err != nil || v.Get(&p) != nil {
			return false
		}
		return p.LastError != nil
	}, time.Minute, 20*time.Millisecond)
	t.Logf("progress while retrying: last error %+v", *p.LastError)
	require.Equal(t, "BackfillPage", p.LastError.Activity)
	require.Contains(t, p.LastError.Error, "503")
	require.NotContains(t, p.LastError.Error, h.token)
	h.wait(2*time.Minute, runs...)
	h.requireGroundTruth(time.Time{})
	h.recordHistories(map[string]string{"backfill-attempt-failed-contacts.json": workflows.BackfillID(h.integration, crm.Contacts)})
}

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/groundtruth"
	"github.com/crmsync/crmsync/workflows"
)

// Changes pushed as webhook deliveries would bring them (signal-with-start, in small
// deliveries, some repeated) are read in batches of 100 ids, one call each, and Postgres
// ends equal to the CRM without any delta.
func TestPushedChangesAreReadInBatchesAndEqualGroundTruth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:     crmsim.Options{Seed: 33, Contacts: 1500},
		objects: []crm.Object{crm.Contacts},
	})
	h.startWorker()
	h.wait(2*time.Minute, h.start("backfill")...)

	res, err := h.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 230, Creates: 40, Archives: 20, Restores: 5})
	require.NoError(t, err)
	truth, err := h.sim.Snapshot("contacts")
	require.NoError(t, err)
	byID := map[string]crmsim.Record{}
	for _, r := range truth {
		byID[r.ID] = r
	}
	var changes []activities.Change
	reads := map[string]bool{}
	for _, ids := range [][]string{res.Updated, res.Created, res.Restored} {
		for _, id := range ids {
			changes = append(changes, activities.Change{ID: id, OccurredAt: byID[id].UpdatedAt})
			reads[id] = true
		}
	}
	for _, id := range res.Archived {
		changes = append(changes, activities.Change{ID: id, Deleted: true, OccurredAt: byID[id].ArchivedAt})
	}
	before := h.sim.Stats()
	deliver := func(cs []activities.Change) {
		_, err := h.client.SignalWithStartWorkflow(t.Context(), workflows.PushedID(h.integration, crm.Contacts), workflows.SignalChanges, cs,
			client.StartWorkflowOptions{TaskQueue: h.queue}, workflows.PushedChanges,
			workflows.PushedChangesInput{Integration: h.integration, Object: crm.Contacts, FlushAfter: "1s"})
		require.NoError(t, err)
	}
	for i := 0; i < len(changes); i += 25 {
		deliver(changes[i:min(i+25, len(changes))])
	}
	deliver(changes[:30]) // a repeated delivery

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		v, err := h.client.QueryWorkflow(ctx, workflows.PushedID(h.integration, crm.Contacts), "", workflows.QueryProgress)
		require.NoError(t, err)
		var p workflows.Progress
		require.NoError(t, v.Get(&p))
		if p.Phase == "waiting" && p.Deleted > 0 && h.sim.Stats().Calls("batch_read contacts")-before.Calls("batch_read contacts") >= (len(reads)+99)/100+1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pushed changes not applied: %+v", p)
		case <-time.After(200 * time.Millisecond):
		}
	}
	after := h.sim.Stats()
	calls := after.Total - before.Total
	batchReads := after.Calls("batch_read contacts") - before.Calls("batch_read contacts")
	t.Logf("%d changes (%d records to read, %d deletions) in %d deliveries: %d batch reads, %d calls in all",
		len(changes)+30, len(reads), len(res.Archived), (len(changes)+24)/25+1, batchReads, calls)
	want := (len(reads)+99)/100 + (len(res.Archived)+99)/100
	require.Equal(t, want, batchReads, "one batch read per 100 changed records, and per 100 deleted ones")
	require.Equal(t, batchReads, calls, "no other call")
	h.requireGroundTruth(time.Time{})
	h.requirePolite(100)

	h.recordHistories(map[string]string{"pushed-contacts.json": workflows.PushedID(h.integration, crm.Contacts)})
}

// The simulator's own webhooks, through the real receiver process, are the only way its
// changes reach PostgreSQL (no delta runs): after every round of mutations PostgreSQL
// equals the CRM, each round's changed records cost one batch read per 100, and a
// redelivered batch changes nothing.
func TestSimulatorWebhooksAloneKeepPostgresEqualToTheCRM(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:      crmsim.Options{Seed: 44, Contacts: 1200, Companies: 300, Deals: 600},
		webhooks: true,
	})
	h.startWorker()
	h.startReceiver()
	h.wait(2*time.Minute, h.start("backfill")...)
	h.requireGroundTruth(time.Time{})

	for round := range 3 {
		before := h.sim.Stats()
		res, err := h.sim.Mutate(crmsim.MutationSpec{Updates: 120, Creates: 30, Archives: 12, Restores: 4})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		require.NoError(t, h.sim.FlushWebhooks(ctx))
		cancel()
		lag := h.awaitGroundTruth(time.Minute)
		after := h.sim.Stats()
		for _, obj := range h.objects {
			ch := res.ByObject[string(obj)]
			reads := map[string]bool{}
			for _, ids := range [][]string{ch.Updated, ch.Created, ch.Restored} {
				for _, id := range ids {
					reads[id] = true
				}
			}
			for _, id := range ch.Archived {
				delete(reads, id) // archived in this round after a change: its deletion is what counts
			}
			batchReads := after.Calls("batch_read "+string(obj)) - before.Calls("batch_read "+string(obj))
			minimum := (len(reads)+99)/100 + (len(ch.Archived)+99)/100
			t.Logf("round %d %s: %d records to read, %d deleted: %d batch reads (minimum %d)", round, obj, len(reads), len(ch.Archived), batchReads, minimum)
			// Deliveries arrive over a few milliseconds; a batch full of changed records
			// can leave with some deletions that would otherwise have shared a later call.
			require.LessOrEqual(t, batchReads, minimum+1, "%s: batch reads beyond one per 100 changed and per 100 deleted records", obj)
			require.Zero(t, after.Calls("search "+string(obj))-before.Calls("search "+string(obj)), "no delta ran")
		}
		t.Logf("round %d: mutation to PostgreSQL equal to the CRM in %s; webhooks %+v", round, lag.Round(time.Millisecond), h.sim.WebhookStats())
	}
	ws := h.sim.WebhookStats()
	require.Zero(t, ws.Dropped)
	require.Equal(t, ws.Sent, ws.Delivered)
	h.requirePolite(100)
	for _, obj := range h.objects {
		hist := string(h.history(workflows.PushedID(h.integration, obj)))
		require.NotContains(t, hist, h.webhookSecret, "the webhook secret is in the history")
		require.NotContains(t, hist, h.token, "the credential is in the history")
	}
	h.recordHistories(map[string]string{"pushed-webhooks-contacts.json": workflows.PushedID(h.integration, crm.Contacts)})
}

// awaitGroundTruth polls until every object equals the simulator, and returns how long it
// took; it fails the test after timeout.
func (h *harness) awaitGroundTruth(timeout time.Duration) time.Duration {
	h.t.Helper()
	began := time.Now()
	deadline := began.Add(timeout)
	for {
		mismatches, last := 0, ""
		for _, obj := range h.objects {
			diff, err := groundtruth.Compare(h.t.Context(), h.sim, h.store, h.integration, obj, time.Time{})
			require.NoError(h.t, err)
			mismatches += diff.Mismatches()
			if diff.Mismatches() > 0 {
				last = string(obj) + ": " + diff.String()
			}
		}
		if mismatches == 0 {
			return time.Since(began)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("PostgreSQL still differs from the CRM after %s: %s", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Webhooks and deltas race while the CRM keeps changing: each writes only versions newer
// than what is stored, so once the changes stop and both have caught up, PostgreSQL equals
// the CRM, whichever wrote each record last.
func TestWebhooksRacingDeltasEndEqualToTheCRM(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:      crmsim.Options{Seed: 55, Contacts: 800, Companies: 200, Deals: 400},
		webhooks: true,
		deltaLag: 2 * time.Second,
	})
	h.startWorker()
	h.startReceiver()
	h.wait(2*time.Minute, h.start("backfill")...)

	ctx, stop := context.WithCancel(t.Context())
	h.sim.StartMutator(ctx, 150*time.Millisecond, crmsim.MutationSpec{Updates: 15, Creates: 3, Archives: 2, Restores: 1})
	deltas := 0
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); deltas++ {
		h.wait(time.Minute, h.start("delta")...)
	}
	stop()
	flush, cancel := context.WithTimeout(t.Context(), time.Minute)
	require.NoError(t, h.sim.FlushWebhooks(flush))
	cancel()
	lag := h.awaitGroundTruth(time.Minute)
	st, ws := h.sim.Stats(), h.sim.WebhookStats()
	t.Logf("%d delta rounds raced %d pushed events (%d batch reads); PostgreSQL equal to the CRM %s after the last change",
		deltas, ws.Delivered, st.Calls("batch_read contacts")+st.Calls("batch_read companies")+st.Calls("batch_read deals"), lag.Round(time.Millisecond))
	require.Positive(t, deltas)
	require.Zero(t, ws.Dropped)
	h.requirePolite(100)
}

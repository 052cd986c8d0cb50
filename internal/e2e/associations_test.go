package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/workflows"
)

// After a backfill, the associations of the three synced directions are read with the
// v4 batch endpoint, never a call per record: one call per 1,000 stored records, plus, for
// each such batch, one per further page of the records with more links than a page holds
// (read on together). The associations table then equals the CRM's links exactly, types
// included.
func TestAssociationsAfterBackfillEqualGroundTruth(t *testing.T) {
	t.Parallel()
	const quota = 100
	// Pages of two associations per record, so that deals with three contacts need a
	// second page and the follow-up calls are exercised.
	const pageSize = 2
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 31, Contacts: 2500, Companies: 400, Deals: 1500, AssociationPageSize: pageSize},
		requestsPer10s: quota,
	})
	h.startWorker()
	h.wait(3*time.Minute, h.start("backfill")...)

	before := h.sim.Stats()
	runs := make([]client.WorkflowRun, len(crm.AssociationPairs))
	for i, pair := range crm.AssociationPairs {
		run, err := h.client.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
			ID: workflows.AssociationsID(h.integration, pair.From, pair.To), TaskQueue: h.queue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, workflows.SyncAssociations, workflows.AssociationsInput{Integration: h.integration, From: pair.From, To: pair.To})
		require.NoError(t, err)
		runs[i] = run
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for i, pair := range crm.AssociationPairs {
		var res workflows.AssociationsResult
		require.NoError(t, runs[i].Get(ctx, &res), "workflow %s", runs[i].GetID())
		after := h.sim.Stats() // the pair's calls are all made once its workflow is done

		truth := h.associationTruth(pair)
		got := h.storedAssociations(pair)
		require.Equal(t, truth.links, got.links, "%s: the stored links are the CRM's", pair)
		for from, n := range got.primaries {
			require.Equal(t, 1, n, "%s: record %s has one primary", pair, from)
		}
		if pair.To == crm.Companies {
			require.Len(t, got.primaries, truth.withLinks, "%s: every record with a company has its primary", pair)
		}

		calls := after.Calls("batch_associations "+pair.String()) - before.Calls("batch_associations "+pair.String())
		minimum, batches, rounds := truth.minimumCalls(pageSize)
		t.Logf("associations %s: %d records, %d links, %d calls (minimum %d: %d batches of up to 1,000 + %d follow-up calls; %d records had more than a page: %d calls with a follow-up call per such record)",
			pair, len(truth.ids), len(got.links), calls, minimum, batches, rounds, truth.overPage(pageSize), batches+truth.overPage(pageSize))
		require.Equal(t, minimum, calls, "%s: calls beyond the minimum", pair)
		require.Equal(t, int64(calls), res.Calls)
		require.Equal(t, int64(len(truth.ids)), res.Fetched)
		require.Equal(t, "done", res.Phase)
	}
	h.requirePolite(quota)
	h.recordHistories(map[string]string{
		"associations-deals-contacts.json": workflows.AssociationsID(h.integration, crm.Deals, crm.Contacts),
	})
}

// assocTruth is one direction's links between live records: the ids of the live from
// records in id order, each one's number of links, and the links as "from->to".
type assocTruth struct {
	ids       []string
	perRecord map[string]int
	links     map[string]bool
	withLinks int
}

func (h *harness) associationTruth(pair crm.AssociationPair) assocTruth {
	h.t.Helper()
	targets, err := h.sim.Snapshot(string(pair.To))
	require.NoError(h.t, err)
	live := map[string]bool{}
	for _, r := range targets {
		live[r.ID] = !r.Archived
	}
	recs, err := h.sim.Snapshot(string(pair.From)) // in numeric id order, as the store pages
	require.NoError(h.t, err)
	tr := assocTruth{perRecord: map[string]int{}, links: map[string]bool{}}
	for _, r := range recs {
		if r.Archived {
			continue
		}
		tr.ids = append(tr.ids, r.ID)
		for _, id := range r.Associations[string(pair.To)] {
			if live[id] {
				tr.links[r.ID+"->"+id] = true
				tr.perRecord[r.ID]++
			}
		}
		if tr.perRecord[r.ID] > 0 {
			tr.withLinks++
		}
	}
	return tr
}

// minimumCalls is one call per batch of 1,000 records, plus, per batch, one call per
// further page of its record with the most links.
func (tr assocTruth) minimumCalls(pageSize int) (calls, batches, rounds int) {
	for start := 0; start < len(tr.ids); start += 1000 {
		most := 0
		for _, id := range tr.ids[start:min(len(tr.ids), start+1000)] {
			most = max(most, tr.perRecord[id])
		}
		batches++
		rounds += max(0, (most+pageSize-1)/pageSize-1)
	}
	return batches + rounds, batches, rounds
}

// overPage counts the records with more links than one page holds.
func (tr assocTruth) overPage(pageSize int) int {
	n := 0
	for _, k := range tr.perRecord {
		if k > pageSize {
			n++
		}
	}
	return n
}

// storedLinks is what the associations table holds for one direction.
type storedLinks struct {
	links     map[string]bool
	primaries map[string]int
}

// storedAssociations reads one direction's table rows, checking each row's type against
// HubSpot's defined types of the direction.
func (h *harness) storedAssociations(pair crm.AssociationPair) storedLinks {
	h.t.Helper()
	types := map[string][2]int{"contacts->companies": {279, 1}, "deals->companies": {341, 5}, "deals->contacts": {3, 0}}[pair.String()]
	unlabeled, primary := types[0], types[1]
	rows, err := h.store.Associations(h.t.Context(), h.integration, pair.From, pair.To)
	require.NoError(h.t, err)
	out := storedLinks{links: map[string]bool{}, primaries: map[string]int{}}
	for _, l := range rows {
		k := fmt.Sprintf("%s->%s", l.FromID, l.ToID)
		require.Equal(h.t, "HUBSPOT_DEFINED", l.Category, k)
		switch {
		case l.TypeID == unlabeled:
			require.Empty(h.t, l.Label, k)
			out.links[k] = true
		case primary != 0 && l.TypeID == primary:
			require.Equal(h.t, "Primary", l.Label, k)
			out.primaries[l.FromID]++
		default:
			h.t.Fatalf("%s: link %s has type %d", pair, k, l.TypeID)
		}
	}
	return out
}

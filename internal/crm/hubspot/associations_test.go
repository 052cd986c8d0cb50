package hubspot_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// readAllAssociations reads the associations of ids the way a sync does: batches of the
// connector's size, then the records with more, together, until none has more. It returns
// the links and the number of calls.
func readAllAssociations(t *testing.T, c *hubspot.Client, from, to crm.Object, ids []string) ([]crm.Association, int) {
	t.Helper()
	var links []crm.Association
	calls := 0
	for start := 0; start < len(ids); start += c.AssociationBatchSize() {
		page, err := c.BatchAssociations(t.Context(), from, to, ids[start:min(len(ids), start+c.AssociationBatchSize())])
		require.NoError(t, err)
		calls++
		links = append(links, page.Links...)
		for more := page.More; len(more) > 0; {
			require.LessOrEqual(t, len(more), c.AssociationBatchSize())
			next, err := c.ContinueAssociations(t.Context(), from, to, more)
			require.NoError(t, err)
			calls++
			links = append(links, next.Links...)
			more = next.More
		}
	}
	return links, calls
}

// liveTruth is the simulator's ground truth of one direction: the links between live
// records (the API hides a deleted record's links), keyed "from->to".
func liveTruth(t *testing.T, sim *crmsim.Sim, from, to crm.Object) (ids []string, links map[string]bool, maxPerRecord int) {
	t.Helper()
	targets, err := sim.Snapshot(string(to))
	require.NoError(t, err)
	live := map[string]bool{}
	for _, r := range targets {
		live[r.ID] = !r.Archived
	}
	recs, err := sim.Snapshot(string(from))
	require.NoError(t, err)
	links = map[string]bool{}
	for _, r := range recs {
		if r.Archived {
			continue
		}
		ids = append(ids, r.ID)
		n := 0
		for _, id := range r.Associations[string(to)] {
			if live[id] {
				links[r.ID+"->"+id] = true
				n++
			}
		}
		maxPerRecord = max(maxPerRecord, n)
	}
	return ids, links, maxPerRecord
}

func TestBatchAssociationsReadEveryLinkOfEachPair(t *testing.T) {
	t.Parallel()
	// Pages of 2 associations per record, so deals with three contacts need a second page.
	sim, c := setup(t, crmsim.Options{Seed: 9, Contacts: 1500, Companies: 200, Deals: 1200, AssociationPageSize: 2})
	_, err := sim.Mutate(crmsim.MutationSpec{Archives: 20})
	require.NoError(t, err)
	tests := []struct {
		pair      crm.AssociationPair
		unlabeled int
		primary   int
	}{
		{pair: crm.AssociationPair{From: crm.Contacts, To: crm.Companies}, unlabeled: 279, primary: 1},
		{pair: crm.AssociationPair{From: crm.Deals, To: crm.Companies}, unlabeled: 341, primary: 5},
		{pair: crm.AssociationPair{From: crm.Deals, To: crm.Contacts}, unlabeled: 3},
	}
	for _, tc := range tests {
		t.Run(tc.pair.String(), func(t *testing.T) {
			ids, want, maxPer := liveTruth(t, sim, tc.pair.From, tc.pair.To)
			// Ids the CRM does not have, and deleted ones, have no links: not an error.
			ids = append(ids, "999999999")
			links, calls := readAllAssociations(t, c, tc.pair.From, tc.pair.To, ids)
			got := map[string]bool{}
			primaries := map[string]int{}
			for _, l := range links {
				k := l.FromID + "->" + l.ToID
				require.Equal(t, "HUBSPOT_DEFINED", l.Category)
				switch l.TypeID {
				case tc.unlabeled:
					require.False(t, got[k], "link %s read twice", k)
					got[k] = true
					require.Empty(t, l.Label)
				case tc.primary:
					require.Equal(t, "Primary", l.Label)
					primaries[l.FromID]++
				default:
					t.Fatalf("link %s of type %d", k, l.TypeID)
				}
			}
			require.Equal(t, want, got)
			if tc.primary != 0 {
				for from, n := range primaries {
					require.Equal(t, 1, n, "record %s has one primary company", from)
				}
			}
			batches := (len(ids) + 999) / 1000
			wantCalls := batches + max(0, (maxPer+1)/2-1)*batches
			require.LessOrEqual(t, calls, wantCalls, "the records with more are read on together")
			require.Equal(t, calls, sim.Calls("batch_associations "+tc.pair.String()))
			t.Logf("%s: %d records, %d links, %d calls (largest record %d links)", tc.pair, len(ids), len(got), calls, maxPer)
		})
	}
}

func TestBatchAssociationsRefusesWhatHubSpotWould(t *testing.T) {
	t.Parallel()
	_, c := setup(t, crmsim.Options{Seed: 3, Contacts: 10, Companies: 5, Deals: 5})
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	_, err := c.BatchAssociations(t.Context(), crm.Contacts, crm.Companies, ids)
	require.ErrorContains(t, err, "at most 1000")
	_, err = c.ContinueAssociations(t.Context(), crm.Deals, crm.Contacts, []crm.AssociationCursor{{FromID: "7001"}})
	require.ErrorContains(t, err, "without a cursor")
	_, err = c.BatchAssociations(t.Context(), crm.Contacts, "tickets", []string{"1"})
	require.ErrorContains(t, err, "unsupported object type")
	page, err := c.BatchAssociations(t.Context(), crm.Contacts, crm.Companies, nil)
	require.NoError(t, err)
	require.Empty(t, page.Links)
}

package activities_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/store"
)

// backfill stores every live record of obj through the backfill activities.
func backfill(t *testing.T, w *world, obj crm.Object) {
	t.Helper()
	ref := activities.StreamRef{Integration: "acme", Object: obj}
	_, err := w.acts.BeginBackfill(t.Context(), activities.BeginBackfillInput{StreamRef: ref})
	require.NoError(t, err)
	_, err = w.acts.RefreshProperties(t.Context(), ref)
	require.NoError(t, err)
	in := activities.BackfillPageInput{StreamRef: ref}
	for {
		p, err := w.acts.BackfillPage(t.Context(), in)
		require.NoError(t, err)
		if p.Done {
			return
		}
		in.Position, in.PrevLastID = p.Next, p.LastID
	}
}

// syncAssociations runs the activity page by page and returns its pages.
func syncAssociations(t *testing.T, w *world, from, to crm.Object) []activities.AssociationsPageResult {
	t.Helper()
	var pages []activities.AssociationsPageResult
	in := activities.AssociationsPageInput{Integration: "acme", From: from, To: to}
	for {
		r, err := w.acts.SyncAssociations(t.Context(), in)
		require.NoError(t, err)
		pages = append(pages, r)
		if r.Done {
			return pages
		}
		in.After = r.Next
	}
}

// storedLinks is the stored associations of a direction as "from->to" (unlabeled type).
func storedLinks(t *testing.T, w *world, from, to crm.Object) map[string]bool {
	t.Helper()
	links, err := w.store.Associations(t.Context(), "acme", from, to)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, l := range links {
		out[l.FromID+"->"+l.ToID] = true
	}
	return out
}

// simLinks is the simulator's links of a direction between live records.
func simLinks(t *testing.T, sim *crmsim.Sim, from, to crm.Object) map[string]bool {
	t.Helper()
	targets, err := sim.Snapshot(string(to))
	require.NoError(t, err)
	live := map[string]bool{}
	for _, r := range targets {
		live[r.ID] = !r.Archived
	}
	recs, err := sim.Snapshot(string(from))
	require.NoError(t, err)
	out := map[string]bool{}
	for _, r := range recs {
		for _, id := range r.Associations[string(to)] {
			if !r.Archived && live[id] {
				out[r.ID+"->"+id] = true
			}
		}
	}
	return out
}

func TestSyncAssociationsReadsPagesOfAThousandAndFollowsTheRecordsWithMore(t *testing.T) {
	t.Parallel()
	// Pages of two associations per record: deals with three contacts need a second call.
	w := setup(t, crmsim.Options{Seed: 8, Contacts: 1300, Companies: 150, Deals: 1250, AssociationPageSize: 2}, "good-token")
	backfill(t, w, crm.Deals)

	pages := syncAssociations(t, w, crm.Deals, crm.Contacts)
	require.Len(t, pages, 2, "1,250 deals: a page of 1,000 and the rest")
	require.Equal(t, []int{1000, 250}, []int{pages[0].Records, pages[1].Records})
	require.Equal(t, 2, pages[0].Calls, "one call for the page, one for the deals with a third contact")
	require.Equal(t, 2, pages[1].Calls)
	require.Equal(t, 4, w.sim.Calls("batch_associations deals->contacts"))
	require.Equal(t, simLinks(t, w.sim, crm.Deals, crm.Contacts), storedLinks(t, w, crm.Deals, crm.Contacts))
	n, err := w.store.CountAssociations(t.Context(), "acme", crm.Deals, crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, pages[0].Links+pages[1].Links, n)

	// Again: the same rows, the same calls.
	again := syncAssociations(t, w, crm.Deals, crm.Contacts)
	require.Equal(t, pages[0].Links+pages[1].Links, again[0].Links+again[1].Links)
	require.Equal(t, simLinks(t, w.sim, crm.Deals, crm.Contacts), storedLinks(t, w, crm.Deals, crm.Contacts))

	// Deals deleted since, and contacts deleted since, take their links with them.
	res, err := w.sim.Mutate(crmsim.MutationSpec{Archives: 30})
	require.NoError(t, err)
	var dels []store.Deletion
	for _, id := range res.ByObject[crmsim.Deals].Archived {
		dels = append(dels, store.Deletion{ID: id, At: res.At})
	}
	_, err = w.store.MarkDeleted(t.Context(), "acme", crm.Deals, dels)
	require.NoError(t, err)
	before := len(storedLinks(t, w, crm.Deals, crm.Contacts))
	syncAssociations(t, w, crm.Deals, crm.Contacts)
	after := storedLinks(t, w, crm.Deals, crm.Contacts)
	require.Equal(t, simLinks(t, w.sim, crm.Deals, crm.Contacts), after)
	require.Less(t, len(after), before)
}

func TestSyncAssociationsStoresTypesAndLabels(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 9, Contacts: 200, Companies: 40, Deals: 10}, "good-token")
	backfill(t, w, crm.Contacts)
	pages := syncAssociations(t, w, crm.Contacts, crm.Companies)
	require.Len(t, pages, 1)
	require.Equal(t, 1, pages[0].Calls)
	links, err := w.store.Associations(t.Context(), "acme", crm.Contacts, crm.Companies)
	require.NoError(t, err)
	require.NotEmpty(t, links)
	byType := map[int]int{}
	for _, l := range links {
		byType[l.TypeID]++
		require.Equal(t, "HUBSPOT_DEFINED", l.Category)
		if l.TypeID == 1 {
			require.Equal(t, "Primary", l.Label)
		} else {
			require.Empty(t, l.Label)
		}
	}
	require.Equal(t, byType[279], byType[1], "each seeded contact's one company is its primary")
	require.Len(t, byType, 2)
}

func TestSyncAssociationsRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 4, Contacts: 10, Companies: 5, Deals: 5}, "good-token")
	_, err := w.acts.SyncAssociations(t.Context(), activities.AssociationsPageInput{Integration: "acme", From: crm.Companies, To: crm.Contacts})
	ae := appError(t, err)
	require.True(t, ae.NonRetryable())
	require.Equal(t, activities.ErrTypeConfig, ae.Type())
	require.Contains(t, ae.Error(), "companies->contacts are not synced")

	_, err = w.acts.SyncAssociations(t.Context(), activities.AssociationsPageInput{Integration: "nobody", From: crm.Deals, To: crm.Contacts})
	require.True(t, appError(t, err).NonRetryable())

	// Nothing backfilled: one empty, final page, and no call.
	r, err := w.acts.SyncAssociations(t.Context(), activities.AssociationsPageInput{Integration: "acme", From: crm.Deals, To: crm.Contacts})
	require.NoError(t, err)
	require.True(t, r.Done)
	require.Zero(t, r.Calls)
	require.Zero(t, w.sim.Calls("batch_associations deals->contacts"))
}

// activityEnv runs SyncAssociations as Temporal would, heartbeats included; each has its
// own suite, as a suite's registry takes an activity once.
func activityEnv(w *world) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(w.acts.SyncAssociations)
	return env
}

// A retry of a page whose first call is stored (the worker died during the follow-up
// calls) resumes from the heartbeat: only the follow-up calls are made again.
func TestSyncAssociationsResumesFromItsHeartbeat(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 8, Contacts: 300, Companies: 40, Deals: 200, AssociationPageSize: 2}, "good-token")
	backfill(t, w, crm.Deals)
	in := activities.AssociationsPageInput{Integration: "acme", From: crm.Deals, To: crm.Contacts}
	env := activityEnv(w)
	var progress map[string]any
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		if progress == nil && details.HasValues() {
			require.NoError(t, details.Get(&progress))
		}
	})
	v, err := env.ExecuteActivity(w.acts.SyncAssociations, in)
	require.NoError(t, err)
	var want activities.AssociationsPageResult
	require.NoError(t, v.Get(&want))
	require.Equal(t, 2, want.Calls, "the page, then its deals with a third contact")
	require.NotNil(t, progress, "the page's progress was heartbeat")
	require.NotEmpty(t, progress["more"], "after the first call, with the deals that have more")

	retry := activityEnv(w)
	retry.SetHeartbeatDetails(progress)
	before := w.sim.Calls("batch_associations deals->contacts")
	v, err = retry.ExecuteActivity(w.acts.SyncAssociations, in)
	require.NoError(t, err)
	var got activities.AssociationsPageResult
	require.NoError(t, v.Get(&got))
	require.Equal(t, 1, w.sim.Calls("batch_associations deals->contacts")-before, "only the follow-up call again")
	want.Remaining, got.Remaining = 0, 0 // the window moved on
	require.Equal(t, want, got, "the same result as the attempt that was not interrupted")
	require.Equal(t, simLinks(t, w.sim, crm.Deals, crm.Contacts), storedLinks(t, w, crm.Deals, crm.Contacts))

	// Progress of another page is not this page's: the page is read from the start.
	other := activityEnv(w)
	other.SetHeartbeatDetails(progress)
	before = w.sim.Calls("batch_associations deals->contacts")
	_, err = other.ExecuteActivity(w.acts.SyncAssociations, activities.AssociationsPageInput{Integration: "acme", From: crm.Deals, To: crm.Contacts, After: "7100"})
	require.NoError(t, err)
	require.Positive(t, w.sim.Calls("batch_associations deals->contacts")-before)
}

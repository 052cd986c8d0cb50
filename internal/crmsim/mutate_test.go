package crmsim

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMutateSameTimestampBurst(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 31, Contacts: 15000, Companies: 20, SearchPerSecond: 1 << 30})
	start := time.Now()
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 12000, SameTimestamp: true})
	require.Less(t, time.Since(start), 5*time.Second, "a 12,000-record burst must be fast")
	require.Len(t, res.Updated, 12000)
	require.Len(t, res.ByObject[Contacts].Updated, 12000)
	require.Equal(t, h.clock.Now().Truncate(time.Millisecond), res.At)

	distinct := map[string]bool{}
	for _, id := range res.Updated {
		distinct[id] = true
	}
	require.Len(t, distinct, 12000, "updates pick distinct records")
	n := 0
	for _, r := range snapshot(t, h.sim, Contacts) {
		if r.UpdatedAt.Equal(res.At) {
			n++
			require.True(t, distinct[r.ID])
			require.Equal(t, res.At.Format(isoMillis), r.Properties["lastmodifieddate"])
		}
	}
	require.Equal(t, 12000, n)

	p := decodePage(t, h.post(t, searchPath, filterReq([]map[string]any{
		f("lastmodifieddate", "EQ", strconv.FormatInt(res.At.UnixMilli(), 10))})))
	require.Equal(t, 12000, p.Total)
}

func TestMutateArchiveAndRestore(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 32, Contacts: 200, Companies: 10, TenSecondLimit: 100000, SearchPerSecond: 1 << 30})
	archived := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 10})
	require.Len(t, archived.Archived, 10)

	listed := ids(h.walkList(t, Contacts, "limit=100"))
	searched := h.searchAll(t, Contacts, map[string]any{"limit": 200})
	archivedList := ids(h.walkList(t, Contacts, "archived=true"))
	require.ElementsMatch(t, archived.Archived, archivedList)
	byID := map[string]Record{}
	for _, r := range snapshot(t, h.sim, Contacts) {
		byID[r.ID] = r
	}
	for _, id := range archived.Archived {
		require.NotContains(t, listed, id)
		require.NotContains(t, searched, id)
		require.True(t, byID[id].Archived)
		require.Equal(t, archived.At, byID[id].ArchivedAt)
		require.Equal(t, archived.At, byID[id].UpdatedAt)
	}

	h.clock.Advance(time.Minute)
	restored := mutate(t, h.sim, MutationSpec{Object: Contacts, Restores: 50})
	require.ElementsMatch(t, archived.Archived, restored.Restored, "only what is archived can be restored")
	require.Empty(t, ids(h.walkList(t, Contacts, "archived=true")))
	searched = h.searchAll(t, Contacts, map[string]any{"limit": 200})
	for _, r := range snapshot(t, h.sim, Contacts) {
		require.False(t, r.Archived)
		require.True(t, r.ArchivedAt.IsZero())
		if slices.Contains(restored.Restored, r.ID) {
			require.Equal(t, restored.At, r.UpdatedAt)
			require.Contains(t, searched, r.ID)
		}
	}
}

func TestMutateTimestampsNeverGoBackwards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		same bool
	}{
		{name: "per change", same: false},
		{name: "same timestamp", same: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, Options{Seed: 33, Contacts: 100, Companies: 5})
			first := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 3, SameTimestamp: tc.same})
			h.clock.Advance(-time.Hour)
			second := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 3, Creates: 1, SameTimestamp: tc.same})
			require.Equal(t, first.At, second.At, "the clock stepped back; stamps hold")

			// A clock before the seeded data cannot produce stamps older than it either.
			h.clock.Advance(-5 * 365 * 24 * time.Hour)
			third := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 1, SameTimestamp: tc.same})
			require.Equal(t, first.At, third.At)
			for _, r := range snapshot(t, h.sim, Contacts) {
				require.False(t, r.UpdatedAt.After(first.At))
			}
		})
	}
}

func TestMutateCreates(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 34, Contacts: 50, Companies: 10, Deals: 10})
	before := snapshot(t, h.sim, Contacts)
	lastID, err := strconv.ParseInt(before[len(before)-1].ID, 10, 64)
	require.NoError(t, err)
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 20})
	require.Len(t, res.Created, 20)
	require.True(t, slices.IsSortedFunc(res.Created, compareIDs))
	first, err := strconv.ParseInt(res.Created[0], 10, 64)
	require.NoError(t, err)
	require.Greater(t, first, lastID)

	companies := map[string]Record{}
	for _, r := range snapshot(t, h.sim, Companies) {
		companies[r.ID] = r
	}
	after := snapshot(t, h.sim, Contacts)
	require.Len(t, after, 70)
	for _, r := range after[50:] {
		require.Equal(t, res.At, r.CreatedAt)
		require.Equal(t, res.At, r.UpdatedAt)
		require.Equal(t, r.ID, r.Properties["hs_object_id"])
		require.Len(t, r.Associations[Companies], 1)
		require.Contains(t, companies[r.Associations[Companies][0]].Associations[Contacts], r.ID,
			"associations exist in both directions")
	}
	r := h.get(t, "/crm/v3/objects/contacts/"+res.Created[0])
	require.Equal(t, http.StatusOK, r.status)
}

func TestMutateUpdatesChangeAFewProperties(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 35, Deals: 200, Companies: 10, Contacts: 30})
	before := map[string]Record{}
	for _, r := range snapshot(t, h.sim, Deals) {
		before[r.ID] = r
	}
	h.clock.Advance(time.Second)
	res := mutate(t, h.sim, MutationSpec{Object: Deals, Updates: 50})
	after := map[string]Record{}
	for _, r := range snapshot(t, h.sim, Deals) {
		after[r.ID] = r
	}
	changedAny := 0
	for _, id := range res.Updated {
		changed := 0
		for k, v := range after[id].Properties {
			if k != "hs_lastmodifieddate" && before[id].Properties[k] != v {
				changed++
			}
		}
		require.LessOrEqual(t, changed, 4, "1-3 properties, plus closedate when a deal closes")
		require.Equal(t, after[id].UpdatedAt.Format(isoMillis), after[id].Properties["hs_lastmodifieddate"])
		require.Equal(t, before[id].CreatedAt, after[id].CreatedAt)
		changedAny += changed
	}
	require.Greater(t, changedAny, 50)
}

func TestMutateIsDeterministic(t *testing.T) {
	t.Parallel()
	run := func() ([]MutationResult, []Record) {
		clock := newFakeClock()
		s, err := New(Options{Seed: 36, Contacts: 300, Companies: 30, Deals: 60, Tokens: []string{"t"}, Now: clock.Now})
		require.NoError(t, err)
		var out []MutationResult
		for range 3 {
			out = append(out, mutate(t, s, MutationSpec{Updates: 5, Creates: 2, Archives: 2, Restores: 1}))
			clock.Advance(time.Second)
		}
		return out, snapshot(t, s, Deals)
	}
	r1, s1 := run()
	r2, s2 := run()
	require.Equal(t, r1, r2)
	require.Equal(t, s1, s2)
	for _, obj := range Objects() {
		require.Len(t, r1[0].ByObject[obj].Updated, 5, "an empty object applies the counts to each object")
	}
}

func TestMutateRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Tokens: []string{"t"}})
	require.NoError(t, err)
	tests := []struct {
		name    string
		spec    MutationSpec
		wantErr string
	}{
		{name: "unknown object", spec: MutationSpec{Object: "tickets"}, wantErr: "unknown object"},
		{name: "negative count", spec: MutationSpec{Updates: -1}, wantErr: "updates must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Mutate(tc.spec)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestStartMutatorRunsUntilCancelled(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Seed: 37, Contacts: 100, Companies: 5, Tokens: []string{"t"}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	s.StartMutator(ctx, 5*time.Millisecond, MutationSpec{Object: Contacts, Creates: 1})
	require.Eventually(t, func() bool { return len(snapshot(t, s, Contacts)) >= 103 },
		5*time.Second, 5*time.Millisecond, "the mutator made no changes")
	cancel()
	// After cancellation at most one in-flight tick may still land.
	settled := len(snapshot(t, s, Contacts))
	require.Never(t, func() bool { return len(snapshot(t, s, Contacts)) > settled+1 },
		100*time.Millisecond, 5*time.Millisecond, "the mutator kept running after cancel")
}

func TestMutateConcurrentWithTraffic(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 38, Contacts: 2000, Companies: 50, Deals: 100,
		TenSecondLimit: 1 << 30, SearchPerSecond: 1 << 30, Now: time.Now})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h.sim.StartMutator(ctx, time.Millisecond, MutationSpec{Updates: 20, Creates: 2, Archives: 1, Restores: 1})
	for range 30 {
		require.Equal(t, http.StatusOK, h.get(t, "/crm/v3/objects/contacts?limit=100&associations=companies").status)
		require.Equal(t, http.StatusOK, h.post(t, searchPath, map[string]any{"limit": 200,
			"sorts": []string{"lastmodifieddate"}}).status)
	}
}

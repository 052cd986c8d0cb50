package store_test

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/store"
)

// freshIDs runs FreshWebhookEvents with a record that succeeds (or fails with fail) and
// returns the sorted ids it was given.
func freshIDs(t *testing.T, s *store.Store, integration string, ids []int64, fail error) ([]int64, error) {
	t.Helper()
	var got []int64
	err := s.FreshWebhookEvents(t.Context(), integration, ids, func(fresh map[int64]bool) error {
		got = slices.Collect(maps.Keys(fresh))
		return fail
	})
	slices.Sort(got)
	return got, err
}

func TestFreshWebhookEventsRecordsEachEventOnce(t *testing.T) {
	t.Parallel()
	s := setup(t)

	got, err := freshIDs(t, s, "acme", []int64{3, 1, 2, 1}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3}, got, "every id is fresh the first time, repeats once")

	got, err = freshIDs(t, s, "acme", []int64{2, 3, 4}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{4}, got, "ids already seen are not fresh again")

	got, err = freshIDs(t, s, "globex", []int64{1, 2}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, got, "event ids are per integration")

	got, err = freshIDs(t, s, "acme", nil, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestFreshWebhookEventsMarksNothingWhenRecordFails(t *testing.T) {
	t.Parallel()
	s := setup(t)
	boom := errors.New("temporal unavailable")

	got, err := freshIDs(t, s, "acme", []int64{10, 11}, boom)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []int64{10, 11}, got)

	got, err = freshIDs(t, s, "acme", []int64{10, 11}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{10, 11}, got, "a failed recording left nothing marked, so the retry is fresh")

	var n int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM webhook_events`).Scan(&n))
	require.Equal(t, 2, n)
}

func TestFreshWebhookEventsOverlappingDeliveriesRecordEachOnce(t *testing.T) {
	t.Parallel()
	for _, firstFails := range []bool{false, true} {
		t.Run(map[bool]string{false: "first commits", true: "first rolls back"}[firstFails], func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			inside, release := make(chan struct{}), make(chan struct{})
			var first []int64
			var firstErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				firstErr = s.FreshWebhookEvents(t.Context(), "acme", []int64{1, 2, 3}, func(fresh map[int64]bool) error {
					first = slices.Sorted(maps.Keys(fresh))
					close(inside)
					<-release
					if firstFails {
						return errors.New("boom")
					}
					return nil
				})
			})
			<-inside
			// The second delivery overlaps the first while the first holds its rows; it
			// must wait for the outcome rather than record 2 and 3 a second time.
			var second []int64
			var secondErr error
			wg.Go(func() { second, secondErr = freshIDs(t, s, "acme", []int64{2, 3, 4}, nil) })
			close(release)
			wg.Wait()

			require.Equal(t, []int64{1, 2, 3}, first)
			require.NoError(t, secondErr)
			if firstFails {
				require.Error(t, firstErr)
				require.Equal(t, []int64{2, 3, 4}, second)
			} else {
				require.NoError(t, firstErr)
				require.Equal(t, []int64{4}, second)
			}
		})
	}
}

func TestPruneWebhookEvents(t *testing.T) {
	t.Parallel()
	s := setup(t)
	_, err := freshIDs(t, s, "acme", []int64{1, 2, 3}, nil)
	require.NoError(t, err)
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.Pool().Exec(t.Context(), `UPDATE webhook_events SET received_at = $1 WHERE event_id IN (1, 2)`, old)
	require.NoError(t, err)

	n, err := s.PruneWebhookEvents(t.Context(), old.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n)

	got, err := freshIDs(t, s, "acme", []int64{1, 2, 3}, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, got, "pruned events are forgotten, the recent one is kept")
}

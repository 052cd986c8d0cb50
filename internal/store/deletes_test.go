package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// A webhook's deletion and the pages of syncs arrive in any order; whatever the order, the
// newest version of each record wins.
func TestDeletionsAndPagesRaceToTheNewestVersion(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := store.StreamKey{Integration: "i", Object: crm.Contacts, Stream: store.StreamWebhook}
	write := func(recs ...crm.Record) {
		t.Helper()
		_, err := s.WritePage(ctx, store.PageWrite{Key: key, Records: recs})
		require.NoError(t, err)
	}
	get := func(id string) store.StoredRecord {
		t.Helper()
		recs, err := s.Records(ctx, "i", crm.Contacts)
		require.NoError(t, err)
		for _, r := range recs {
			if r.ID == id {
				return r
			}
		}
		t.Fatalf("record %s not stored", id)
		return store.StoredRecord{}
	}
	write(rec("1", t0, `{"a":"1"}`), rec("2", t0, `{"a":"1"}`), rec("3", t0.Add(time.Minute), `{"a":"restored"}`))

	n, err := s.MarkDeleted(ctx, "i", crm.Contacts, []store.Deletion{
		{ID: "1", At: t0.Add(time.Second)},      // newer than the stored copy: applied
		{ID: "2", At: t0.Add(-time.Second)},     // older (a late delivery): ignored
		{ID: "3", At: t0.Add(30 * time.Second)}, // the record was restored after it: ignored
		{ID: "4", At: t0.Add(time.Second)},      // never stored: a tombstone
		{ID: "4", At: t0.Add(500 * time.Millisecond)},
	})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	r1 := get("1")
	require.Equal(t, t0.Add(time.Second), r1.DeletedAt.UTC())
	require.Equal(t, t0.Add(time.Second), r1.ModifiedAt.UTC(), "the deletion is the record's newest version")
	require.JSONEq(t, `{"a":"1"}`, string(r1.Properties), "a soft delete keeps the last properties")
	require.True(t, get("2").DeletedAt.IsZero())
	require.True(t, get("3").DeletedAt.IsZero())
	require.Equal(t, t0.Add(time.Second), get("4").DeletedAt.UTC())

	// A delta page read before the deletions arrives late: it brings back neither 1 nor 4.
	write(rec("1", t0, `{"a":"1"}`), rec("4", t0.Add(100*time.Millisecond), `{"a":"old"}`))
	require.False(t, get("1").DeletedAt.IsZero())
	require.False(t, get("4").DeletedAt.IsZero())
	// A change after the deletion (a restore) wins over it.
	write(rec("1", t0.Add(2*time.Second), `{"a":"back"}`))
	require.True(t, get("1").DeletedAt.IsZero())
	require.JSONEq(t, `{"a":"back"}`, string(get("1").Properties))
	// The same deletion delivered again changes nothing.
	n, err = s.MarkDeleted(ctx, "i", crm.Contacts, []store.Deletion{{ID: "4", At: t0.Add(time.Second)}})
	require.NoError(t, err)
	require.Zero(t, n)
}

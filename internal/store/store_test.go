package store_test

import (
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
)

func setup(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rec(id string, updated time.Time, props string) crm.Record {
	return crm.Record{ID: id, CreatedAt: t0.Add(-time.Hour), UpdatedAt: updated, Properties: json.RawMessage(props)}
}

func archived(id string, updated, at time.Time, props string) crm.Record {
	r := rec(id, updated, props)
	r.Archived, r.ArchivedAt = true, at
	return r
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	t.Parallel()
	s, err := store.Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	before, err := s.SchemaVersion(t.Context())
	require.NoError(t, err, "no migration yet: no schema_migrations table, version 0")
	require.Zero(t, before)

	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	total := 0
	for i := range 4 {
		require.NoError(t, errs[i])
		total += applied[i]
	}
	v, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	files, err := os.ReadDir("migrations")
	require.NoError(t, err)
	require.Equal(t, len(files), v, "the schema is at the last migration")
	latest, err := store.LatestVersion()
	require.NoError(t, err)
	require.Equal(t, latest, v, "LatestVersion is where Migrate brings the schema")
	require.Equal(t, v, total, "each migration is applied exactly once across concurrent workers")

	again, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.Zero(t, again)
}

func TestWritePageOnlyIfNewer(t *testing.T) {
	t.Parallel()
	key := store.StreamKey{Integration: "acme", Object: crm.Contacts, Stream: store.StreamDelta}
	tests := []struct {
		name        string
		stored      []crm.Record
		incoming    []crm.Record
		wantWritten int
		wantProps   string
		wantDeleted time.Time
	}{
		{
			name:        "new record is inserted",
			incoming:    []crm.Record{rec("1", t0, `{"a":"1"}`)},
			wantWritten: 1, wantProps: `{"a":"1"}`,
		},
		{
			name:        "newer copy replaces",
			stored:      []crm.Record{rec("1", t0, `{"a":"1"}`)},
			incoming:    []crm.Record{rec("1", t0.Add(time.Millisecond), `{"a":"2"}`)},
			wantWritten: 1, wantProps: `{"a":"2"}`,
		},
		{
			name:        "older copy is ignored",
			stored:      []crm.Record{rec("1", t0, `{"a":"new"}`)},
			incoming:    []crm.Record{rec("1", t0.Add(-time.Millisecond), `{"a":"old"}`)},
			wantWritten: 0, wantProps: `{"a":"new"}`,
		},
		{
			name:        "identical re-read writes nothing",
			stored:      []crm.Record{rec("1", t0, `{"a":"1"}`)},
			incoming:    []crm.Record{rec("1", t0, `{"a":"1"}`)},
			wantWritten: 0, wantProps: `{"a":"1"}`,
		},
		{
			name:        "same millisecond, different content: the later read wins",
			stored:      []crm.Record{rec("1", t0, `{"a":"first"}`)},
			incoming:    []crm.Record{rec("1", t0, `{"a":"second"}`)},
			wantWritten: 1, wantProps: `{"a":"second"}`,
		},
		{
			name:        "archive after the last change marks deleted",
			stored:      []crm.Record{rec("1", t0, `{"a":"1"}`)},
			incoming:    []crm.Record{archived("1", t0, t0.Add(time.Second), `{"a":"1"}`)},
			wantWritten: 1, wantProps: `{"a":"1"}`, wantDeleted: t0.Add(time.Second),
		},
		{
			name:        "stale live copy does not undelete",
			stored:      []crm.Record{archived("1", t0, t0.Add(time.Second), `{"a":"1"}`)},
			incoming:    []crm.Record{rec("1", t0.Add(time.Millisecond), `{"a":"1"}`)},
			wantWritten: 0, wantProps: `{"a":"1"}`, wantDeleted: t0.Add(time.Second),
		},
		{
			name:        "restore after the archive undeletes",
			stored:      []crm.Record{archived("1", t0, t0.Add(time.Second), `{"a":"1"}`)},
			incoming:    []crm.Record{rec("1", t0.Add(2*time.Second), `{"a":"back"}`)},
			wantWritten: 1, wantProps: `{"a":"back"}`,
		},
		{
			name:        "duplicate id in one page keeps the newest copy",
			incoming:    []crm.Record{rec("1", t0.Add(time.Second), `{"a":"newest"}`), rec("1", t0, `{"a":"older"}`)},
			wantWritten: 1, wantProps: `{"a":"newest"}`,
		},
		{
			name:        "NUL escapes and invalid UTF-8 are stored, not rejected",
			incoming:    []crm.Record{rec("1", t0, "{\"a\":\"x\\u0000y\",\"b\":\"\\\\u0000\",\"c\":\"\xff\"}")},
			wantWritten: 1, wantProps: `{"a":"x\ufffdy","b":"\\u0000","c":"\ufffd"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			_, err := s.StartDeltaRun(t.Context(), key, t0)
			require.NoError(t, err)
			if tc.stored != nil {
				_, err := s.WritePage(t.Context(), store.PageWrite{Key: key, Records: tc.stored, Advance: store.Advance{}})
				require.NoError(t, err)
			}
			res, err := s.WritePage(t.Context(), store.PageWrite{Key: key, Records: tc.incoming, Advance: store.Advance{}})
			require.NoError(t, err)
			require.Equal(t, tc.wantWritten, res.Inserted+res.Updated)
			require.Equal(t, len(tc.incoming)-tc.wantWritten, res.Unchanged)

			got, err := s.Records(t.Context(), key.Integration, key.Object)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.JSONEq(t, tc.wantProps, string(got[0].Properties))
			require.True(t, tc.wantDeleted.Equal(got[0].DeletedAt), "deleted_at %v, want %v", got[0].DeletedAt, tc.wantDeleted)
		})
	}
}

func TestBackfillPositionIsCompareAndSet(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := store.StreamKey{Integration: "acme", Object: crm.Deals, Stream: store.PartitionStream("")}

	start, err := s.BeginBackfill(ctx, "acme", crm.Deals, false, t0)
	require.NoError(t, err)
	require.False(t, start.Resumed)
	require.Equal(t, []store.Partition{{}}, start.Partitions, "one range over the whole listing")

	page1 := store.PageWrite{Key: key, Records: []crm.Record{rec("1", t0, `{}`)},
		Advance: store.Advance{Position: &store.PositionMove{From: "", To: "p2"}}}
	res, err := s.WritePage(ctx, page1)
	require.NoError(t, err)
	require.Equal(t, "p2", res.State.Position)
	require.EqualValues(t, 1, res.State.Pages)

	// A duplicate attempt of the same page (a retry after a crash) is harmless.
	res, err = s.WritePage(ctx, page1)
	require.NoError(t, err)
	require.Equal(t, "p2", res.State.Position)

	_, err = s.WritePage(ctx, store.PageWrite{Key: key, Records: []crm.Record{rec("2", t0, `{}`)},
		Advance: store.Advance{Position: &store.PositionMove{From: "p2", To: "p3"}}})
	require.NoError(t, err)

	// A zombie attempt that read page 1 late must not rewind the range, nor write.
	_, err = s.WritePage(ctx, store.PageWrite{Key: key, Records: []crm.Record{rec("9", t0, `{}`)},
		Advance: store.Advance{Position: &store.PositionMove{From: "", To: "p2"}}})
	require.ErrorIs(t, err, store.ErrCursorMoved)
	got, err := s.Records(ctx, "acme", crm.Deals)
	require.NoError(t, err)
	require.Len(t, got, 2, "the rejected page's records were rolled back")

	// An unfinished backfill resumes with its ranges; restart starts over.
	start, err = s.BeginBackfill(ctx, "acme", crm.Deals, false, t0)
	require.NoError(t, err)
	require.True(t, start.Resumed)
	require.Equal(t, "p3", start.Partitions[0].Position)
	start, err = s.BeginBackfill(ctx, "acme", crm.Deals, true, t0)
	require.NoError(t, err)
	require.False(t, start.Resumed)
	require.Equal(t, "", start.Partitions[0].Position)
}

func TestBackfillRangesSplitResumeAndFinish(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	_, err := s.BeginBackfill(ctx, "acme", crm.Contacts, false, t0)
	require.NoError(t, err)
	write := func(lo, from, to string, done bool, recs ...crm.Record) {
		t.Helper()
		_, err := s.WritePage(ctx, store.PageWrite{Key: store.StreamKey{Integration: "acme", Object: crm.Contacts, Stream: store.PartitionStream(lo)},
			Records: recs, Advance: store.Advance{Position: &store.PositionMove{From: from, To: to, Done: done}}})
		require.NoError(t, err)
	}
	write("", "", "t100", false, rec("1", t0, `{}`), rec("99", t0, `{}`))

	// The open range is split at 5000 and 8000: it ends at 5000, the next runs to 8000, the
	// last to the old end (open).
	require.NoError(t, s.SplitPartition(ctx, "acme", crm.Contacts, "", "", []store.Partition{{Lo: "5000", Position: "seek4999"}, {Lo: "8000", Position: "seek7999"}}))
	require.NoError(t, s.SplitPartition(ctx, "acme", crm.Contacts, "", "", []store.Partition{{Lo: "5000", Position: "seek4999"}, {Lo: "8000", Position: "seek7999"}}),
		"splitting again (a retry) gives the same ranges")
	ps, err := s.Partitions(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, []store.Partition{
		{Lo: "", Hi: "5000", Position: "t100", Pages: 1, Records: 2},
		{Lo: "5000", Hi: "8000", Position: "seek4999"},
		{Lo: "8000", Hi: "", Position: "seek7999"},
	}, ps)

	write("5000", "seek4999", "", true, rec("5001", t0, `{}`))
	write("8000", "seek7999", "", true)
	start, err := s.BeginBackfill(ctx, "acme", crm.Contacts, false, t0)
	require.NoError(t, err)
	require.True(t, start.Resumed)
	require.Len(t, start.Partitions, 3)
	require.True(t, start.Partitions[1].Done)

	write("", "t100", "t200", true, rec("100", t0, `{}`))
	st, err := s.FinishBackfill(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.True(t, st.Done())
	require.EqualValues(t, 4, st.Pages)
	require.EqualValues(t, 4, st.Records)
	ps, err = s.Partitions(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.Empty(t, ps, "a finished backfill keeps no ranges")

	// A finished backfill starts over.
	start, err = s.BeginBackfill(ctx, "acme", crm.Contacts, false, t0)
	require.NoError(t, err)
	require.False(t, start.Resumed)
}

func TestBeginBackfillCreatesDeltaCursorOnce(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	delta := store.StreamKey{Integration: "acme", Object: crm.Contacts, Stream: store.StreamDelta}

	_, err := s.BeginBackfill(ctx, "acme", crm.Contacts, false, t0)
	require.NoError(t, err)
	_, err = s.BeginBackfill(ctx, "acme", crm.Contacts, true, t0.Add(time.Hour))
	require.NoError(t, err)
	st, err := s.Stream(ctx, delta)
	require.NoError(t, err)
	require.True(t, st.Exists)
	require.True(t, t0.Equal(st.Cursor.ModifiedAt), "a later backfill must not move an existing delta cursor")
}

func TestDeltaCursorNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := store.StreamKey{Integration: "acme", Object: crm.Companies, Stream: store.StreamDelta}
	_, err := s.StartDeltaRun(ctx, key, t0)
	require.NoError(t, err)

	steps := []struct {
		name string
		to   crm.Cursor
		want crm.Cursor
	}{
		{name: "forward", to: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "99"}, want: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "99"}},
		{name: "numeric id order", to: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "100"}, want: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "100"}},
		{name: "lag re-read stays", to: crm.Cursor{ModifiedAt: t0, ID: "5"}, want: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "100"}},
		{name: "smaller id at same time stays", to: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "20"}, want: crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "100"}},
	}
	for _, step := range steps {
		res, err := s.WritePage(ctx, store.PageWrite{Key: key, Advance: store.Advance{Cursor: &step.to}})
		require.NoError(t, err, step.name)
		require.Zero(t, res.State.Cursor.Compare(step.want), "%s: cursor %s, want %s", step.name, res.State.Cursor, step.want)
	}
}

func TestWritePageToMissingStreamFails(t *testing.T) {
	t.Parallel()
	s := setup(t)
	key := store.StreamKey{Integration: "nobody", Object: crm.Contacts, Stream: store.StreamDelta}
	c := crm.Cursor{ModifiedAt: t0}
	_, err := s.WritePage(t.Context(), store.PageWrite{Key: key, Records: []crm.Record{rec("1", t0, `{}`)}, Advance: store.Advance{Cursor: &c}})
	require.True(t, errors.Is(err, store.ErrCursorMoved), "got %v", err)
	counts, err := s.Count(t.Context(), "nobody", crm.Contacts)
	require.NoError(t, err)
	require.Zero(t, counts.Live)
}

func TestStartDeltaRunReturnsThePreviousRun(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := store.StreamKey{Integration: "acme", Object: crm.Deals, Stream: store.StreamDelta}

	first, err := s.StartDeltaRun(ctx, key, t0)
	require.NoError(t, err)
	require.True(t, first.Exists)
	require.True(t, t0.Equal(first.Cursor.ModifiedAt), "a new stream starts at now")
	require.True(t, t0.Equal(first.StartedAt))

	c := crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "8"}
	_, err = s.WritePage(ctx, store.PageWrite{Key: key, Advance: store.Advance{Cursor: &c}})
	require.NoError(t, err)
	second, err := s.StartDeltaRun(ctx, key, t0.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, t0.Equal(second.StartedAt), "returns when the previous run started")
	require.Zero(t, second.Cursor.Compare(c))
	third, err := s.StartDeltaRun(ctx, key, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.True(t, t0.Add(time.Hour).Equal(third.StartedAt))
}

// A split stored by a workflow task that then failed is unknown to the workflow, which on
// replay may split the range elsewhere: the unseen split's ranges are replaced, so every
// range the workflow reads exists and no two ranges overlap.
func TestASplitTheWorkflowNeverSawIsReplaced(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	_, err := s.BeginBackfill(ctx, "acme", crm.Contacts, false, t0)
	require.NoError(t, err)
	require.NoError(t, s.SplitPartition(ctx, "acme", crm.Contacts, "", "", []store.Partition{{Lo: "3000", Position: "seek2999"}, {Lo: "6000", Position: "seek5999"}}))
	// The workflow still sees one open range, and splits it at 4000.
	require.NoError(t, s.SplitPartition(ctx, "acme", crm.Contacts, "", "", []store.Partition{{Lo: "4000", Position: "seek3999"}}))
	ps, err := s.Partitions(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, []store.Partition{
		{Lo: "", Hi: "4000", Position: ""},
		{Lo: "4000", Hi: "", Position: "seek3999"},
	}, ps)
}

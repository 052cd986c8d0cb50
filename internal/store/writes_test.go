package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
)

func writeTargets(t *testing.T, s *store.Store) {
	t.Helper()
	require.NoError(t, s.SetWriteTargets(t.Context(), []store.WriteTarget{
		{Integration: "acme", Object: "contacts", IDProperty: "email", MaxBytes: 1000},
		{Integration: "acme", Object: "deals", MaxBytes: 1000},
	}))
}

func queue(t *testing.T, s *store.Store, ws ...store.QueuedWrite) []store.Queued {
	t.Helper()
	q, err := s.QueueWrites(t.Context(), ws)
	require.NoError(t, err)
	return q
}

func contact(props string) store.QueuedWrite {
	return store.QueuedWrite{Integration: "acme", Object: "contacts", Properties: json.RawMessage(props), App: "test"}
}

func TestOutboxRefusesBadWritesInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	writeTargets(t, s)

	for name, tc := range map[string]struct {
		w    store.QueuedWrite
		want string
	}{
		"unknown object":      {store.QueuedWrite{Integration: "acme", Object: "tickets", Properties: json.RawMessage(`{"a":"b"}`)}, `takes no writes to "tickets"`},
		"unknown integration": {store.QueuedWrite{Integration: "other", Object: "contacts", Properties: json.RawMessage(`{"email":"a@b.c"}`)}, `integration "other"`},
		"missing id property": {contact(`{"firstname":"Ann"}`), `needs record_id or the property "email"`},
		"deal without id":     {store.QueuedWrite{Integration: "acme", Object: "deals", Properties: json.RawMessage(`{"amount":"1"}`)}, "needs record_id"},
		"not an object":       {contact(`["email"]`), "must be a JSON object"},
		"empty":               {contact(`{}`), "nothing to write"},
		"nested value":        {contact(`{"email":"a@b.c","x":{"y":1}}`), `property "x" is not a string`},
		"oversized":           {contact(fmt.Sprintf(`{"email":"a@b.c","notes":"%0900d%0200d"}`, 0, 0)), "more than the 1000 allowed"},
	} {
		_, err := s.QueueWrites(ctx, []store.QueuedWrite{contact(`{"email":"ok@example.com"}`), tc.w})
		var refused *store.WriteRefusedError
		require.ErrorAs(t, err, &refused, name)
		require.Equal(t, 1, refused.Index, name)
		require.Contains(t, refused.Message, tc.want, name)
	}
	var n int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM write_outbox`).Scan(&n))
	require.Zero(t, n, "a refused write takes its call's other writes with it")

	// An application's own INSERT, inside its transaction, gets the same check.
	err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO write_outbox (integration, object, properties) VALUES ('acme', 'contacts', '{"phone":"1"}')`)
		return err
	})
	require.ErrorContains(t, err, `needs record_id or the property "email"`)
}

func TestClaimCoalescesByRecordAndLatestValueWins(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	writeTargets(t, s)

	q := queue(t, s,
		contact(`{"email":"Ann@Example.com","firstname":"A","age":1}`),
		contact(`{"email":"bob@example.com","firstname":"B"}`),
		contact(`{"email":"ann@example.com","firstname":"Ann","lastname":null,"vip":true,"score":1e3}`),
		store.QueuedWrite{Integration: "acme", Object: "contacts", RecordID: "42", Properties: json.RawMessage(`{"phone":"1"}`), IdempotencyKey: "k1"},
	)
	again := queue(t, s, store.QueuedWrite{Integration: "acme", Object: "contacts", RecordID: "42", Properties: json.RawMessage(`{"phone":"2"}`), IdempotencyKey: "k1"})
	require.Equal(t, store.Queued{Seq: q[3].Seq, Duplicate: true}, again[0], "the same idempotency key is the same write")

	b, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/1", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.NotNil(t, b)
	require.Equal(t, store.OpUpsert, b.Op)
	require.Equal(t, "email", b.IDProperty)
	require.Len(t, b.Inputs, 2, "the record by id goes in a batch of its own kind")
	ann := b.Inputs[0]
	require.Equal(t, "ann@example.com", ann.Key)
	require.Equal(t, []int64{q[0].Seq, q[2].Seq}, ann.Seqs)
	require.Equal(t, fmt.Sprint(q[2].Seq), ann.TraceID, "named after its newest version")
	require.Equal(t, map[string]string{"email": "ann@example.com", "firstname": "Ann", "age": "1", "lastname": "", "vip": "true", "score": "1000"},
		ann.Properties)
	require.Equal(t, "bob@example.com", b.Inputs[1].Key)

	// While the batch is out, a newer write to Ann waits for the next batch.
	q2 := queue(t, s, contact(`{"email":"ann@example.com","firstname":"Annie"}`))
	open, err := s.OpenWriteBatch(ctx, "acme", "contacts")
	require.NoError(t, err)
	require.Equal(t, b.ID, open.ID)
	require.Len(t, open.Inputs, 2)

	tally, err := s.FinishWriteBatch(ctx, b, map[string]store.InputFate{
		ann.TraceID:         {Sent: true, CRMID: "7"},
		b.Inputs[1].TraceID: {Dead: true, Category: "VALIDATION_ERROR", Message: "bad"},
	})
	require.NoError(t, err)
	require.Equal(t, store.WriteTally{Sent: 2, Dead: 1}, tally)

	b2, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/2", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Equal(t, store.OpUpdate, b2.Op, "the record by id waited longest now")
	require.Equal(t, "42", b2.Inputs[0].Key)
	tally, err = s.FinishWriteBatch(ctx, b2, map[string]store.InputFate{b2.Inputs[0].TraceID: {Message: "locked", NotBefore: t0.Add(time.Minute)}})
	require.NoError(t, err)
	require.Equal(t, store.WriteTally{Retrying: 1}, tally)

	b3, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/3", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, b3.Inputs, 1)
	require.Equal(t, []int64{q2[0].Seq}, b3.Inputs[0].Seqs)
	require.Equal(t, "Annie", b3.Inputs[0].Properties["firstname"])
	require.NoError(t, s.ReleaseWriteBatch(ctx, b3))

	_, _, err = s.ClaimWrites(ctx, "acme", "contacts", "wf/4", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	b5, next, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/5", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Nil(t, b5, "only the write waiting out its retry is left")
	require.Equal(t, t0.Add(time.Minute), next)

	dead, err := s.DeadLetters(ctx, store.DeadLetterFilter{}, 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, q[1].Seq, dead[0].Seq)
	require.Equal(t, "VALIDATION_ERROR", dead[0].Category)

	stats, err := s.WriteQueues(ctx, t0)
	require.NoError(t, err)
	require.Len(t, stats, 1)
	require.Equal(t, int64(1), stats[0].Dead)
	require.Equal(t, int64(2), stats[0].Pending, "Annie's write (claimed by wf/4) and the retry")

	_, err = s.Pool().Exec(ctx, `UPDATE write_dead_letters SET properties = '{"email":"bob@example.com","firstname":"Bobby"}' WHERE seq = $1`, q[1].Seq)
	require.NoError(t, err)
	seqs, err := s.ReplayDeadLetters(ctx, store.DeadLetterFilter{Integration: "acme"})
	require.NoError(t, err)
	require.Len(t, seqs, 1)
	dead, err = s.DeadLetters(ctx, store.DeadLetterFilter{}, 0)
	require.NoError(t, err)
	require.Empty(t, dead, "replayed")
	var props string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT properties->>'firstname' FROM write_outbox WHERE seq = $1`, seqs[0]).Scan(&props))
	require.Equal(t, "Bobby", props, "the fixed data is queued")
}

func TestClaimTakesAtMostMaxRecordsAndIsolates(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	writeTargets(t, s)
	var ws []store.QueuedWrite
	for i := range 250 {
		ws = append(ws, contact(fmt.Sprintf(`{"email":"c%d@example.com","n":"%d"}`, i%120, i)))
	}
	queue(t, s, ws...)
	b, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/1", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, b.Inputs, 100)
	total := 0
	for _, in := range b.Inputs {
		total += len(in.Seqs)
	}
	require.Equal(t, 100*2+min(100, 10), total, "every write to the records claimed comes along")

	fates := map[string]store.InputFate{}
	for _, in := range b.Inputs {
		fates[in.TraceID] = store.InputFate{Message: "batch refused", Isolate: true}
	}
	_, err = s.FinishWriteBatch(ctx, b, fates)
	require.NoError(t, err)
	b2, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/2", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, b2.Inputs, 1, "an isolated record goes alone")
}

func TestQueueWritesOneIdempotencyKeyIsOneWrite(t *testing.T) {
	t.Parallel()
	s := setup(t)
	writeTargets(t, s)
	w := store.QueuedWrite{Integration: "acme", Object: "contacts", Properties: json.RawMessage(`{"email":"a@b.c"}`), IdempotencyKey: "k"}
	q := queue(t, s, w, contact(`{"email":"x@b.c"}`), w)
	require.False(t, q[0].Duplicate)
	require.False(t, q[1].Duplicate)
	require.Equal(t, store.Queued{Seq: q[0].Seq, Duplicate: true}, q[2], "the same key later in the same call")
	other := w
	other.Integration = "other"
	_, err := s.QueueWrites(t.Context(), []store.QueuedWrite{other})
	require.ErrorContains(t, err, `integration "other" takes no writes`, "keys are per integration, but the target must exist")
}

// A claim reads the oldest pending writes a window at a time, but a record's writes past
// the window still come along, and one of them waiting out a retry holds the record back.
func TestClaimReadsTheBacklogAWindowAtATime(t *testing.T) {
	// Not parallel: it changes the package's scan window.
	defer store.SetClaimScan(3)()
	s := setup(t)
	ctx := t.Context()
	writeTargets(t, s)
	q := queue(t, s,
		contact(`{"email":"k1@example.com","n":"1"}`),
		contact(`{"email":"k2@example.com","n":"2"}`),
		contact(`{"email":"k3@example.com","n":"3"}`),
		contact(`{"email":"k1@example.com","n":"4"}`),
		contact(`{"email":"k2@example.com","n":"5"}`),
		contact(`{"email":"k4@example.com","n":"6"}`))
	_, err := s.Pool().Exec(ctx, `UPDATE write_outbox SET not_before = $2 WHERE seq = $1`, q[3].Seq, t0.Add(time.Minute))
	require.NoError(t, err)

	b, _, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/1", 1, 2, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, b.Inputs, 2)
	require.Equal(t, "k2@example.com", b.Inputs[0].Key, "k1's later write waits out a retry, past the first window")
	require.Equal(t, []int64{q[1].Seq, q[4].Seq}, b.Inputs[0].Seqs, "k2's write past the window comes along")
	require.Equal(t, "5", b.Inputs[0].Properties["n"])
	require.Equal(t, "k3@example.com", b.Inputs[1].Key)
	_, err = s.FinishWriteBatch(ctx, b, map[string]store.InputFate{b.Inputs[0].TraceID: {Sent: true}, b.Inputs[1].TraceID: {Sent: true}})
	require.NoError(t, err)

	b, _, err = s.ClaimWrites(ctx, "acme", "contacts", "wf/2", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Len(t, b.Inputs, 1)
	require.Equal(t, "k4@example.com", b.Inputs[0].Key, "found past the windows of blocked writes")
	require.NoError(t, s.ReleaseWriteBatch(ctx, b))
	_, err = s.Pool().Exec(ctx, `UPDATE write_outbox SET state = 'sent' WHERE seq = $1`, q[5].Seq)
	require.NoError(t, err)
	b, next, err := s.ClaimWrites(ctx, "acme", "contacts", "wf/3", 1, 100, t0, time.Minute)
	require.NoError(t, err)
	require.Nil(t, b)
	require.Equal(t, t0.Add(time.Minute), next)
}

// BenchmarkClaimWritesFromABacklog measures a claim (and its release) with a million
// writes for 200,000 records queued: go test ./internal/store -run - -bench ClaimWrites.
func BenchmarkClaimWritesFromABacklog(b *testing.B) {
	s, err := store.Open(b.Context(), pgtest.Schema(b))
	require.NoError(b, err)
	b.Cleanup(s.Close)
	_, err = s.Migrate(b.Context())
	require.NoError(b, err)
	ctx := b.Context()
	require.NoError(b, s.SetWriteTargets(ctx, []store.WriteTarget{{Integration: "acme", Object: "contacts", IDProperty: "email", MaxBytes: 1000}}))
	_, err = s.Pool().Exec(ctx, `INSERT INTO write_outbox (integration, object, properties)
		SELECT 'acme', 'contacts', jsonb_build_object('email', 'c' || (i % 200000) || '@example.com', 'firstname', 'v' || i)
		FROM generate_series(1, 1000000) i`)
	require.NoError(b, err)
	_, err = s.Pool().Exec(ctx, `ANALYZE write_outbox`)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		batch, _, err := s.ClaimWrites(ctx, "acme", "contacts", "bench", 1, 100, t0, time.Minute)
		require.NoError(b, err)
		require.Len(b, batch.Inputs, 100)
		require.NoError(b, s.ReleaseWriteBatch(ctx, batch))
	}
}

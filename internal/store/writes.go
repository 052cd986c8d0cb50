package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// WriteTarget is an (integration, object) that takes queued writes.
type WriteTarget struct {
	Integration string
	Object      string
	// IDProperty is the unique property that names a record besides its CRM id ("email");
	// empty when records are written by CRM id only.
	IDProperty string
	// MaxBytes is the largest properties document accepted.
	MaxBytes int
}

// SetWriteTargets makes targets the whole list of write targets. Workers call it when they
// start, so that the outbox's trigger refuses writes the config does not take.
func (s *Store) SetWriteTargets(ctx context.Context, targets []WriteTarget) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var keep []string
		for _, t := range targets {
			if _, err := tx.Exec(ctx, `INSERT INTO write_targets (integration, object, id_property, max_bytes) VALUES ($1, $2, $3, $4)
				ON CONFLICT (integration, object) DO UPDATE SET id_property = excluded.id_property, max_bytes = excluded.max_bytes, updated_at = now()
				WHERE (write_targets.id_property, write_targets.max_bytes) IS DISTINCT FROM (excluded.id_property, excluded.max_bytes)`,
				t.Integration, t.Object, t.IDProperty, t.MaxBytes); err != nil {
				return err
			}
			keep = append(keep, t.Integration+"/"+t.Object)
		}
		_, err := tx.Exec(ctx, `DELETE FROM write_targets WHERE NOT (integration || '/' || object = ANY($1::text[]))`, keep)
		return err
	})
	if err != nil {
		return fmt.Errorf("registering the write targets: %w", err)
	}
	return nil
}

// QueuedWrite is one write an application queues.
type QueuedWrite struct {
	Integration string
	Object      string
	// RecordID is the CRM id of the record to update; empty to name it by the target's
	// unique property, which Properties must then hold.
	RecordID string
	// Properties is a JSON object of property name to value.
	Properties json.RawMessage
	// IdempotencyKey, when set, makes a second write with the same key (per integration)
	// the same write: it is not queued again.
	IdempotencyKey string
	// App names the application that queued it.
	App string
}

// Queued is what became of a QueuedWrite.
type Queued struct {
	// Seq is the write's queued version (write_outbox.seq).
	Seq int64 `json:"seq"`
	// Duplicate says the idempotency key had been queued before: Seq is that write's.
	Duplicate bool `json:"duplicate,omitempty"`
}

// WriteRefusedError is a write the outbox's checks refused (crmsync_write_queued): an
// unknown target, a missing id property, an oversized or malformed document.
type WriteRefusedError struct {
	// Index is the write's position in the call.
	Index   int
	Message string
}

func (e *WriteRefusedError) Error() string {
	return fmt.Sprintf("write %d refused: %s", e.Index, e.Message)
}

// QueueWrites queues writes in one transaction: all of them, or none when one is refused.
// The inserts go to PostgreSQL as one pipeline, so a thousand writes cost one round trip.
func (s *Store) QueueWrites(ctx context.Context, ws []QueuedWrite) ([]Queued, error) {
	out := make([]Queued, len(ws))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, w := range ws {
			var recordID, key *string
			if w.RecordID != "" {
				recordID = &w.RecordID
			}
			if w.IdempotencyKey != "" {
				key = &w.IdempotencyKey
			}
			b.Queue(`INSERT INTO write_outbox (integration, object, record_id, properties, idempotency_key, app)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (integration, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING seq`,
				w.Integration, w.Object, recordID, w.Properties, key, cmp.Or(w.App, "sql"))
		}
		br := tx.SendBatch(ctx, b)
		var dups []int
		for i := range ws {
			err := br.QueryRow().Scan(&out[i].Seq)
			var pgErr *pgconn.PgError
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				out[i].Duplicate = true
				dups = append(dups, i)
			case errors.As(err, &pgErr) && refusal(pgErr.Code):
				_ = br.Close()
				return &WriteRefusedError{Index: i, Message: pgErr.Message}
			case err != nil:
				_ = br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		// A duplicate is the write queued before under its key (in this call or earlier).
		for _, i := range dups {
			if err := tx.QueryRow(ctx, `SELECT seq FROM write_outbox WHERE integration = $1 AND idempotency_key = $2`,
				ws[i].Integration, ws[i].IdempotencyKey).Scan(&out[i].Seq); err != nil {
				return err
			}
		}
		return nil
	})
	var refused *WriteRefusedError
	if errors.As(err, &refused) {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("queueing %d writes: %w", len(ws), err)
	}
	return out, nil
}

// refusal reports the SQLSTATEs the outbox's checks raise: a write refused for what it
// holds, not a failure of the database.
func refusal(code string) bool {
	switch code {
	case "22023", "23502", "54000", "22P02":
		return true
	}
	return false
}

// Write batch operations.
const (
	// OpUpsert writes records named by a unique property (create or update).
	OpUpsert = "upsert"
	// OpUpdate writes existing records named by CRM id.
	OpUpdate = "update"
)

// WriteBatch is a batch of coalesced writes on its way to the CRM: one input per record,
// every queued write to the record merged in queued order, so the latest value of each
// property wins.
type WriteBatch struct {
	ID         int64
	Op         string
	IDProperty string
	Inputs     []BatchInput
	// Remaining is how many records with writes due were left for later batches when this
	// one was claimed.
	Remaining int
	// ClaimedBy and Attempt name the activity attempt that claimed the batch; LeaseUntil is
	// when it is in doubt whoever asks.
	ClaimedBy  string
	Attempt    int
	LeaseUntil time.Time
}

// BatchInput is one record's merged writes.
type BatchInput struct {
	// TraceID names the input to the CRM (objectWriteTraceId): the newest queued version
	// it carries, so a version is never sent under two names.
	TraceID string
	// Key is the record's CRM id (OpUpdate) or unique property value (OpUpsert).
	Key        string
	Properties map[string]string
	// Seqs are the queued writes merged into it, oldest first.
	Seqs []int64
	// Attempts is how many times its writes have been tried before (the most of them).
	Attempts int
}

// MaxBatchInputs is the most inputs a claimed batch holds (HubSpot's batch endpoints: 100).
const MaxBatchInputs = 100

// ClaimWrites claims the next batch of a stream's pending writes for the CRM: the record
// waiting longest and up to max-1 more named the same way (CRM id, or the same unique
// property), each with every pending write to it. A record with a write waiting out a
// retry delay waits as a whole, so that its older values never overtake newer ones. It
// returns nil when nothing is due, with the time the next retry delay ends (zero when
// nothing waits at all).
func (s *Store) ClaimWrites(ctx context.Context, integration, object, claimedBy string, attempt, max int, now time.Time, lease time.Duration) (*WriteBatch, time.Time, error) {
	var batch *WriteBatch
	var next time.Time
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One claimer per stream at a time; the stream's WriteQueue workflow is the only
		// caller, so this lock only guards against a second one started by hand.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('crmsync_writes/' || $1 || '/' || $2))`, integration, object); err != nil {
			return err
		}
		due, nextDue, err := dueGroups(ctx, tx, integration, object, now, max)
		if err != nil {
			return err
		}
		next = nextDue
		if len(due) == 0 {
			return nil
		}
		head := due[0]
		keys := []string{head.key}
		if !head.isolate {
			for _, g := range due[1:] {
				if len(keys) >= max {
					break
				}
				if g.idProp == head.idProp && !g.isolate {
					keys = append(keys, g.key)
				}
			}
		}
		op := OpUpsert
		if head.idProp == "" {
			op = OpUpdate
		}
		b := &WriteBatch{Op: op, IDProperty: head.idProp, Remaining: len(due) - len(keys), ClaimedBy: claimedBy, Attempt: attempt,
			LeaseUntil: stamp(now.Add(lease))}
		if err := tx.QueryRow(ctx, `INSERT INTO write_batches (integration, object, op, id_property, claimed_by, attempt, claimed_at, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			integration, object, op, head.idProp, claimedBy, attempt, now, b.LeaseUntil).Scan(&b.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE write_outbox SET state = 'sending', batch_id = $5
			WHERE integration = $1 AND object = $2 AND state = 'pending' AND id_property = $3 AND record_key = ANY($4)`,
			integration, object, head.idProp, keys, b.ID); err != nil {
			return err
		}
		inputs, err := batchInputs(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		b.Inputs = inputs
		batch = b
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claiming writes of %s/%s: %w", integration, object, err)
	}
	return batch, next, nil
}

// claimScan is how many of a stream's oldest pending writes a claim reads at a time to
// find the records it takes: a backlog of a million writes costs a claim a few thousand
// rows, not a scan of the backlog (about a second for a million).
var claimScan = 5000

// dueGroup is a record with pending writes.
type dueGroup struct {
	idProp, key string
	isolate     bool
	blocked     bool
}

// dueGroups finds, oldest first, the records whose pending writes are all due by now
// (none waits out a retry delay), reading the stream's pending writes claimScan at a time
// until it has max of them or has read them all; next is when the earliest write it saw
// waiting is due.
func dueGroups(ctx context.Context, tx pgx.Tx, integration, object string, now time.Time, max int) (due []dueGroup, next time.Time, err error) {
	var order []*dueGroup
	byKey := map[[2]string]*dueGroup{}
	after := int64(0)
	candidates := 0
	for {
		rows, err := tx.Query(ctx, `SELECT seq, id_property, record_key, isolate, not_before FROM write_outbox
			WHERE integration = $1 AND object = $2 AND state = 'pending' AND seq > $3 ORDER BY seq LIMIT $4`,
			integration, object, after, claimScan)
		if err != nil {
			return nil, time.Time{}, err
		}
		n := 0
		for rows.Next() {
			var idProp, key string
			var isolate bool
			var notBefore *time.Time
			if err := rows.Scan(&after, &idProp, &key, &isolate, &notBefore); err != nil {
				rows.Close()
				return nil, time.Time{}, err
			}
			n++
			g, ok := byKey[[2]string{idProp, key}]
			if !ok {
				g = &dueGroup{idProp: idProp, key: key}
				byKey[[2]string{idProp, key}] = g
				order = append(order, g)
				candidates++
			}
			g.isolate = g.isolate || isolate
			if notBefore != nil && notBefore.After(now) {
				if !g.blocked {
					candidates--
				}
				g.blocked = true
				if next.IsZero() || notBefore.Before(next) {
					next = notBefore.UTC()
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, time.Time{}, err
		}
		if n < claimScan || candidates >= max {
			break
		}
	}
	// A record's later writes, past what was read, may still wait out a retry delay or be
	// isolated: they decide for the whole record.
	var props, keys []string
	for _, g := range order {
		if !g.blocked {
			props, keys = append(props, g.idProp), append(keys, g.key)
		}
	}
	if len(keys) > 0 {
		rows, err := tx.Query(ctx, `SELECT id_property, record_key, bool_or(isolate), max(not_before) FROM write_outbox
			WHERE integration = $1 AND object = $2 AND state = 'pending' AND seq > $3
			AND (id_property, record_key) IN (SELECT * FROM unnest($4::text[], $5::text[]))
			GROUP BY id_property, record_key`, integration, object, after, props, keys)
		if err != nil {
			return nil, time.Time{}, err
		}
		for rows.Next() {
			var idProp, key string
			var isolate bool
			var notBefore *time.Time
			if err := rows.Scan(&idProp, &key, &isolate, &notBefore); err != nil {
				rows.Close()
				return nil, time.Time{}, err
			}
			g := byKey[[2]string{idProp, key}]
			g.isolate = g.isolate || isolate
			if notBefore != nil && notBefore.After(now) {
				g.blocked = true
				if next.IsZero() || notBefore.Before(next) {
					next = notBefore.UTC()
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, time.Time{}, err
		}
	}
	for _, g := range order {
		if !g.blocked {
			due = append(due, *g)
		}
	}
	return due, next, nil
}

// batchInputs merges a batch's writes into one input per record, in the order the records
// first waited. Writes commit in their applications' transactions, so a write can commit
// (and be sent) before another with a lower seq: the properties an input sends take the
// value of the highest seq that set them, whether that write is in the batch or already
// sent, so the CRM ends with every property's latest queued value whatever the order of
// commits.
func batchInputs(ctx context.Context, q pgx.Tx, batchID int64) ([]BatchInput, error) {
	rows, err := q.Query(ctx, `WITH b AS (
			SELECT integration, object, id_property, record_key, min(seq) AS first
			FROM write_outbox WHERE batch_id = $1 AND state = 'sending' GROUP BY 1, 2, 3, 4)
		SELECT o.seq, o.record_key, o.properties, o.attempts, o.state = 'sending'
		FROM write_outbox o JOIN b USING (integration, object, id_property, record_key)
		WHERE (o.batch_id = $1 AND o.state = 'sending') OR (o.state = 'sent' AND o.seq > b.first)
		ORDER BY o.seq`, batchID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var inputs []BatchInput
	at := map[string]int{}
	all := map[string]map[string]string{}
	for rows.Next() {
		var seq int64
		var key string
		var props []byte
		var attempts int
		var mine bool
		if err := rows.Scan(&seq, &key, &props, &attempts, &mine); err != nil {
			return nil, err
		}
		i, ok := at[key]
		if !ok {
			i = len(inputs)
			at[key] = i
			inputs = append(inputs, BatchInput{Key: key, Properties: map[string]string{}})
			all[key] = map[string]string{}
		}
		if err := mergeProperties(all[key], props); err != nil {
			return nil, fmt.Errorf("write %d: %w", seq, err)
		}
		if !mine {
			continue
		}
		in := &inputs[i]
		// The input sends the properties its own writes set.
		if err := mergeProperties(in.Properties, props); err != nil {
			return nil, fmt.Errorf("write %d: %w", seq, err)
		}
		in.Seqs = append(in.Seqs, seq)
		in.Attempts = max(in.Attempts, attempts)
		in.TraceID = strconv.FormatInt(seq, 10)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range inputs {
		in := &inputs[i]
		for name := range in.Properties {
			in.Properties[name] = all[in.Key][name]
		}
	}
	return inputs, nil
}

// mergeProperties lays a queued write's properties over the values merged so far. Values
// become the strings CRM APIs take: numbers as written, booleans as "true"/"false", and
// null as "", which clears the property.
func mergeProperties(into map[string]string, doc []byte) error {
	var props map[string]json.RawMessage
	if err := json.Unmarshal(doc, &props); err != nil {
		return err
	}
	for name, raw := range props {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("property %q: %w", name, err)
		}
		switch x := v.(type) {
		case nil:
			into[name] = ""
		case string:
			into[name] = x
		case bool:
			into[name] = strconv.FormatBool(x)
		case json.Number:
			into[name] = canonicalNumber(x)
		default:
			return fmt.Errorf("property %q is not a string, number, boolean or null", name)
		}
	}
	return nil
}

// canonicalNumber writes a JSON number without exponent where it is an integer, so that
// 1e3 and 1000 are the same value to the CRM.
func canonicalNumber(n json.Number) string {
	if r, ok := new(big.Rat).SetString(n.String()); ok && r.IsInt() {
		return r.Num().String()
	}
	return n.String()
}

// OpenWriteBatch is a stream's batch still on its way to the CRM (or whose sender died),
// nil when there is none.
func (s *Store) OpenWriteBatch(ctx context.Context, integration, object string) (*WriteBatch, error) {
	var b *WriteBatch
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var x WriteBatch
		err := tx.QueryRow(ctx, `SELECT id, op, id_property, claimed_by, attempt, lease_until FROM write_batches
			WHERE integration = $1 AND object = $2 ORDER BY id LIMIT 1`, integration, object).
			Scan(&x.ID, &x.Op, &x.IDProperty, &x.ClaimedBy, &x.Attempt, &x.LeaseUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		x.LeaseUntil = x.LeaseUntil.UTC()
		if x.Inputs, err = batchInputs(ctx, tx, x.ID); err != nil {
			return err
		}
		b = &x
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the open write batch of %s/%s: %w", integration, object, err)
	}
	return b, nil
}

// InputFate is what became of one input of a batch.
type InputFate struct {
	// Sent: the CRM applied it; CRMID is the record's id.
	Sent  bool
	CRMID string
	// Dead: the CRM will never accept it as sent; Category and Message are its words.
	Dead     bool
	Category string
	Message  string
	// Otherwise it is tried again at NotBefore (Message says why); Isolate sends it alone.
	NotBefore time.Time
	Isolate   bool
}

// WriteTally counts the queued writes a batch's end settled.
type WriteTally struct {
	Sent, Dead, Retrying int
}

// FinishWriteBatch settles a batch: each input's writes are sent, dead (copied to
// write_dead_letters with the CRM's message) or pending again, and the batch is gone. An
// input without a fate goes back to pending unchanged, as if never sent.
func (s *Store) FinishWriteBatch(ctx context.Context, b *WriteBatch, fates map[string]InputFate) (WriteTally, error) {
	var t WriteTally
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, in := range b.Inputs {
			f, ok := fates[in.TraceID]
			switch {
			case !ok:
				if _, err := tx.Exec(ctx, `UPDATE write_outbox SET state = 'pending', batch_id = NULL WHERE seq = ANY($1) AND state = 'sending'`, in.Seqs); err != nil {
					return err
				}
			case f.Sent:
				tag, err := tx.Exec(ctx, `UPDATE write_outbox SET state = 'sent', batch_id = NULL, crm_id = $2, done_at = now(),
					attempts = attempts + 1, last_error = NULL WHERE seq = ANY($1) AND state = 'sending'`, in.Seqs, f.CRMID)
				if err != nil {
					return err
				}
				t.Sent += int(tag.RowsAffected())
			case f.Dead:
				tag, err := tx.Exec(ctx, `UPDATE write_outbox SET state = 'dead', batch_id = NULL, done_at = now(),
					attempts = attempts + 1, last_error = $2 WHERE seq = ANY($1) AND state = 'sending'`, in.Seqs, f.Category+": "+f.Message)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO write_dead_letters (seq, integration, object, record_id, id_property, record_key,
						properties, app, idempotency_key, queued_at, attempts, category, message)
					SELECT seq, integration, object, record_id, id_property, record_key, properties, app, idempotency_key, queued_at,
						attempts, $2, $3 FROM write_outbox WHERE seq = ANY($1) AND state = 'dead'
					ON CONFLICT (seq) DO UPDATE SET category = excluded.category, message = excluded.message, attempts = excluded.attempts,
						dead_at = now(), replayed_at = NULL, replayed_as = NULL`, in.Seqs, f.Category, f.Message); err != nil {
					return err
				}
				t.Dead += int(tag.RowsAffected())
			default:
				var notBefore *time.Time
				if !f.NotBefore.IsZero() {
					nb := stamp(f.NotBefore)
					notBefore = &nb
				}
				tag, err := tx.Exec(ctx, `UPDATE write_outbox SET state = 'pending', batch_id = NULL, attempts = attempts + 1,
					not_before = $2, isolate = isolate OR $3, last_error = $4 WHERE seq = ANY($1) AND state = 'sending'`,
					in.Seqs, notBefore, f.Isolate, f.Message)
				if err != nil {
					return err
				}
				t.Retrying += int(tag.RowsAffected())
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM write_batches WHERE id = $1`, b.ID)
		return err
	})
	if err != nil {
		return WriteTally{}, fmt.Errorf("settling write batch %d: %w", b.ID, err)
	}
	return t, nil
}

// ReleaseWriteBatch puts a batch that was never sent back in the queue as it was.
func (s *Store) ReleaseWriteBatch(ctx context.Context, b *WriteBatch) error {
	_, err := s.FinishWriteBatch(ctx, b, nil)
	return err
}

// WriteState is where one queued write stands, for the application that queued it.
type WriteState struct {
	Seq    int64  `json:"seq"`
	Object string `json:"object"`
	// State is pending, sending, sent or dead.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// CRMID is the record's id in the CRM, once sent.
	CRMID string `json:"crm_id,omitempty"`
	// LastError is the CRM's word on the last failed attempt (for a dead write, why it
	// is dead).
	LastError string    `json:"last_error,omitempty"`
	QueuedAt  time.Time `json:"queued_at"`
	DoneAt    time.Time `json:"done_at,omitzero"`
}

// WriteStatus reads one queued write of an integration; found is false when there is
// none (never queued, or sent and pruned).
func (s *Store) WriteStatus(ctx context.Context, integration string, seq int64) (w WriteState, found bool, err error) {
	var crmID, lastError *string
	var done *time.Time
	err = s.pool.QueryRow(ctx, `SELECT seq, object, state, attempts, crm_id, last_error, queued_at, done_at
		FROM write_outbox WHERE integration = $1 AND seq = $2`, integration, seq).
		Scan(&w.Seq, &w.Object, &w.State, &w.Attempts, &crmID, &lastError, &w.QueuedAt, &done)
	if errors.Is(err, pgx.ErrNoRows) {
		return WriteState{}, false, nil
	}
	if err != nil {
		return WriteState{}, false, fmt.Errorf("reading write %d: %w", seq, err)
	}
	if crmID != nil {
		w.CRMID = *crmID
	}
	if lastError != nil {
		w.LastError = *lastError
	}
	w.QueuedAt = w.QueuedAt.UTC()
	if done != nil {
		w.DoneAt = done.UTC()
	}
	return w, true, nil
}

// WriteStreamKey names a stream with writes waiting.
type WriteStreamKey struct {
	Integration string
	Object      string
}

// OpenWriteStreams lists the streams with writes pending or on their way.
func (s *Store) OpenWriteStreams(ctx context.Context) ([]WriteStreamKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT integration, object FROM write_outbox WHERE state IN ('pending', 'sending') ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("listing streams with queued writes: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[WriteStreamKey])
	if err != nil {
		return nil, fmt.Errorf("listing streams with queued writes: %w", err)
	}
	return keys, nil
}

// WritesDue reports whether a stream has pending writes due by now, and when the
// earliest write waiting out a retry delay is due (zero when none waits).
func (s *Store) WritesDue(ctx context.Context, integration, object string, now time.Time) (due bool, next time.Time, err error) {
	var nb *time.Time
	err = s.pool.QueryRow(ctx, `SELECT coalesce(bool_or(not_before IS NULL OR not_before <= $3), false),
		min(not_before) FILTER (WHERE not_before > $3)
		FROM write_outbox WHERE integration = $1 AND object = $2 AND state = 'pending'`, integration, object, now).Scan(&due, &nb)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("checking queued writes of %s/%s: %w", integration, object, err)
	}
	if nb != nil {
		next = nb.UTC()
	}
	return due, next, nil
}

// WriteQueueStats is one stream's write queue, for `starter status`.
type WriteQueueStats struct {
	Integration, Object string
	// Pending counts queued writes not yet sent (Sending of them on their way now).
	Pending, Sending int64
	// Sent counts writes sent in the last 24 hours; Dead the dead letters not replayed.
	Sent, Dead int64
	// OldestPending is when the oldest pending write was queued (zero when none).
	OldestPending time.Time
}

// WriteQueues reads every stream's write queue.
func (s *Store) WriteQueues(ctx context.Context, now time.Time) ([]WriteQueueStats, error) {
	rows, err := s.pool.Query(ctx, `WITH o AS (
			SELECT integration, object,
				count(*) FILTER (WHERE state IN ('pending', 'sending')) AS pending,
				count(*) FILTER (WHERE state = 'sending') AS sending,
				count(*) FILTER (WHERE state = 'sent' AND done_at > $1) AS sent,
				min(queued_at) FILTER (WHERE state IN ('pending', 'sending')) AS oldest
			FROM write_outbox GROUP BY integration, object),
		d AS (SELECT integration, object, count(*) AS dead FROM write_dead_letters WHERE replayed_at IS NULL GROUP BY integration, object)
		SELECT coalesce(o.integration, d.integration), coalesce(o.object, d.object), coalesce(o.pending, 0), coalesce(o.sending, 0),
			coalesce(o.sent, 0), coalesce(d.dead, 0), o.oldest
		FROM o FULL JOIN d ON o.integration = d.integration AND o.object = d.object ORDER BY 1, 2`, now.Add(-24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("reading the write queues: %w", err)
	}
	defer rows.Close()
	var out []WriteQueueStats
	for rows.Next() {
		var w WriteQueueStats
		var oldest *time.Time
		if err := rows.Scan(&w.Integration, &w.Object, &w.Pending, &w.Sending, &w.Sent, &w.Dead, &oldest); err != nil {
			return nil, fmt.Errorf("reading the write queues: %w", err)
		}
		if oldest != nil {
			w.OldestPending = oldest.UTC()
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeadLetter is a write the CRM refused for good.
type DeadLetter struct {
	Seq                 int64
	Integration, Object string
	RecordKey           string
	Properties          json.RawMessage
	App                 string
	Category, Message   string
	QueuedAt, DeadAt    time.Time
}

// DeadLetterFilter selects dead letters; zero fields select everything.
type DeadLetterFilter struct {
	Integration string
	Object      string
	// Seqs selects these queued writes only.
	Seqs []int64
}

func (f DeadLetterFilter) where() (string, []any) {
	return `replayed_at IS NULL AND ($1 = '' OR integration = $1) AND ($2 = '' OR object = $2)
		AND (coalesce(cardinality($3::bigint[]), 0) = 0 OR seq = ANY($3))`, []any{f.Integration, f.Object, f.Seqs}
}

// DeadLetters lists the dead letters not replayed, oldest first, at most limit (0: all).
func (s *Store) DeadLetters(ctx context.Context, f DeadLetterFilter, limit int) ([]DeadLetter, error) {
	where, args := f.where()
	q := `SELECT seq, integration, object, record_key, properties, app, category, message, queued_at, dead_at
		FROM write_dead_letters WHERE ` + where + ` ORDER BY seq`
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.Seq, &d.Integration, &d.Object, &d.RecordKey, &d.Properties, &d.App, &d.Category, &d.Message,
			&d.QueuedAt, &d.DeadAt); err != nil {
			return nil, fmt.Errorf("reading dead letters: %w", err)
		}
		d.QueuedAt, d.DeadAt = d.QueuedAt.UTC(), d.DeadAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// ReplayDeadLetters queues the selected dead letters again, as they now stand in
// write_dead_letters (fix their properties there first, or the CRM's settings), oldest
// first, in one transaction, and marks them replayed. It returns the new writes' seqs.
func (s *Store) ReplayDeadLetters(ctx context.Context, f DeadLetterFilter) ([]int64, error) {
	var seqs []int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		where, args := f.where()
		rows, err := tx.Query(ctx, `SELECT seq, integration, object, record_id, properties FROM write_dead_letters WHERE `+where+
			` ORDER BY seq FOR UPDATE`, args...)
		if err != nil {
			return err
		}
		type dead struct {
			seq                 int64
			integration, object string
			recordID            *string
			props               []byte
		}
		var ds []dead
		for rows.Next() {
			var d dead
			if err := rows.Scan(&d.seq, &d.integration, &d.object, &d.recordID, &d.props); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			var seq int64
			err := tx.QueryRow(ctx, `INSERT INTO write_outbox (integration, object, record_id, properties, app) VALUES ($1, $2, $3, $4, 'replay') RETURNING seq`,
				d.integration, d.object, d.recordID, d.props).Scan(&seq)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				return fmt.Errorf("dead letter %d: %s", d.seq, pgErr.Message)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE write_dead_letters SET replayed_at = now(), replayed_as = $2 WHERE seq = $1`, d.seq, seq); err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replaying dead letters: %w", err)
	}
	return seqs, nil
}

// PruneSentWrites deletes writes sent before `before`; their idempotency keys are then
// forgotten. It returns how many it deleted.
func (s *Store) PruneSentWrites(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM write_outbox WHERE state = 'sent' AND done_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("pruning sent writes: %w", err)
	}
	return tag.RowsAffected(), nil
}

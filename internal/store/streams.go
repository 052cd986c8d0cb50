package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/crm"
)

// Stream names.
const (
	// StreamBackfill is a full listing of an object's live records.
	StreamBackfill = "backfill"
	// StreamDelta is the change feed of an object.
	StreamDelta = "delta"
	// StreamDeletes records the object's last walk of the CRM's deleted records.
	StreamDeletes = "deletes"
	// StreamWebhook names the changes webhooks push; it keeps no cursor, since each event
	// names its record.
	StreamWebhook = "webhook"
)

// ErrCursorMoved means the stream's stored position is not the one a page was read from:
// another attempt advanced it (or a restart reset it) in the meantime. The page is not
// written, so nothing moves backwards.
var ErrCursorMoved = errors.New("stream cursor moved since the page was read")

// StreamKey names one sync stream.
type StreamKey struct {
	Integration string
	Object      crm.Object
	Stream      string
}

// String renders the key for logs and errors.
func (k StreamKey) String() string {
	return k.Integration + "/" + string(k.Object) + "/" + k.Stream
}

// StreamState is a stream's stored progress.
type StreamState struct {
	Key StreamKey
	// Exists is false when the stream has never been started.
	Exists bool
	// Position is a backfill's next-page token ("" = first page).
	Position string
	// Cursor is a delta's high-water mark.
	Cursor      crm.Cursor
	StartedAt   time.Time
	CompletedAt time.Time
	Pages       int64
	Records     int64
	UpdatedAt   time.Time
}

// Done reports that a backfill has listed its last page.
func (s StreamState) Done() bool { return !s.CompletedAt.IsZero() }

const streamColumns = `position, cursor_at, cursor_id, started_at, completed_at, pages, records, updated_at`

func scanStream(key StreamKey, row pgx.Row) (StreamState, error) {
	st := StreamState{Key: key}
	var cursorAt, completedAt *time.Time
	err := row.Scan(&st.Position, &cursorAt, &st.Cursor.ID, &st.StartedAt, &completedAt, &st.Pages, &st.Records, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamState{Key: key}, nil
	}
	if err != nil {
		return StreamState{}, fmt.Errorf("reading stream %s: %w", key, err)
	}
	st.Exists = true
	st.Cursor.ModifiedAt = ptrTime(cursorAt)
	st.CompletedAt = ptrTime(completedAt)
	st.StartedAt = st.StartedAt.UTC()
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, nil
}

// Stream reads a stream's state; a stream never started has Exists false.
func (s *Store) Stream(ctx context.Context, key StreamKey) (StreamState, error) {
	return scanStream(key, s.pool.QueryRow(ctx, `SELECT `+streamColumns+` FROM sync_cursors
		WHERE integration = $1 AND object_type = $2 AND stream = $3`, key.Integration, string(key.Object), key.Stream))
}

// Streams lists every stream, for status displays.
func (s *Store) Streams(ctx context.Context) ([]StreamState, error) {
	rows, err := s.pool.Query(ctx, `SELECT integration, object_type, stream, `+streamColumns+` FROM sync_cursors
		ORDER BY integration, object_type, stream`)
	if err != nil {
		return nil, fmt.Errorf("listing streams: %w", err)
	}
	defer rows.Close()
	var out []StreamState
	for rows.Next() {
		var k StreamKey
		var obj string
		st := StreamState{Exists: true}
		var cursorAt, completedAt *time.Time
		if err := rows.Scan(&k.Integration, &obj, &k.Stream, &st.Position, &cursorAt, &st.Cursor.ID, &st.StartedAt,
			&completedAt, &st.Pages, &st.Records, &st.UpdatedAt); err != nil {
			return nil, fmt.Errorf("listing streams: %w", err)
		}
		k.Object = crm.Object(obj)
		st.Key = k
		st.Cursor.ModifiedAt = ptrTime(cursorAt)
		st.CompletedAt = ptrTime(completedAt)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing streams: %w", err)
	}
	return out, nil
}

// PartitionStream names the cursor row of the backfill range that starts at lo ("" for
// the range that starts at the beginning of the listing).
func PartitionStream(lo string) string { return StreamBackfill + "/" + lo }

// Partition is one id range of a backfill and how far it has been read.
type Partition struct {
	// Lo is the range's first id ("" = the start of the listing); Hi the first id of the
	// next range ("" = to the end).
	Lo, Hi string
	// Position is the token of the range's next page.
	Position string
	Done     bool
	Pages    int64
	Records  int64
}

// BackfillStart is where a backfill begins.
type BackfillStart struct {
	// Resumed reports that an unfinished backfill is continued.
	Resumed    bool
	Partitions []Partition
}

// BeginBackfill prepares a backfill. An unfinished backfill keeps its ranges and positions
// (a new workflow resumes where an old one stopped) unless restart is set; otherwise it
// starts over with one range covering the whole listing. In the same transaction the delta
// stream's cursor is created at deltaFrom if it does not exist yet, so that changes made
// while the backfill runs are picked up by the first delta.
func (s *Store) BeginBackfill(ctx context.Context, integration string, obj crm.Object, restart bool, deltaFrom time.Time) (BackfillStart, error) {
	var out BackfillStart
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream, cursor_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, integration, string(obj), StreamDelta, deltaFrom.UTC()); err != nil {
			return fmt.Errorf("creating delta cursor: %w", err)
		}
		key := StreamKey{Integration: integration, Object: obj, Stream: StreamBackfill}
		cur, err := scanStream(key, tx.QueryRow(ctx, `SELECT `+streamColumns+` FROM sync_cursors
			WHERE integration = $1 AND object_type = $2 AND stream = $3 FOR UPDATE`, integration, string(obj), StreamBackfill))
		if err != nil {
			return err
		}
		if cur.Exists && !restart && !cur.Done() {
			out.Resumed = true
			out.Partitions, err = partitions(ctx, tx, integration, obj)
			if err != nil || len(out.Partitions) > 0 {
				return err
			}
			// A backfill begun before ranges existed: start its one range over.
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream) VALUES ($1, $2, $3)
			ON CONFLICT (integration, object_type, stream) DO UPDATE SET
				position = '', started_at = now(), completed_at = NULL, pages = 0, records = 0, updated_at = now()`,
			integration, string(obj), StreamBackfill); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sync_cursors WHERE integration = $1 AND object_type = $2 AND stream LIKE 'backfill/%'`,
			integration, string(obj)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream) VALUES ($1, $2, $3)`,
			integration, string(obj), PartitionStream("")); err != nil {
			return err
		}
		out.Resumed = false
		out.Partitions = []Partition{{}}
		return nil
	})
	if err != nil {
		return BackfillStart{}, fmt.Errorf("beginning backfill of %s/%s: %w", integration, obj, err)
	}
	return out, nil
}

func partitions(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, integration string, obj crm.Object) ([]Partition, error) {
	rows, err := q.Query(ctx, `SELECT substr(stream, 10), range_end, position, completed_at IS NOT NULL, pages, records
		FROM sync_cursors WHERE integration = $1 AND object_type = $2 AND stream LIKE 'backfill/%'`, integration, string(obj))
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
		var p Partition
		err := r.Scan(&p.Lo, &p.Hi, &p.Position, &p.Done, &p.Pages, &p.Records)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Partition) int { return crm.CompareIDs(a.Lo, b.Lo) })
	return out, nil
}

// Partitions reads a backfill's ranges, in id order.
func (s *Store) Partitions(ctx context.Context, integration string, obj crm.Object) ([]Partition, error) {
	ps, err := partitions(ctx, s.pool, integration, obj)
	if err != nil {
		return nil, fmt.Errorf("reading backfill ranges of %s/%s: %w", integration, obj, err)
	}
	return ps, nil
}

// SplitPartition splits the range that starts at from and, as the caller knows it, ends
// at end: in one transaction it ends that range where the first new range begins and
// creates the new ranges' rows, each running to the next one's start and the last to end.
// A crash therefore never leaves ids that no range covers.
//
// The stored end can differ from end when an earlier split of the range was stored but its
// caller never learned of it: a workflow task that ran the split as a local activity failed,
// and the workflow, replayed, decided on other boundaries. That split's ranges were never
// read (nothing was scheduled on them), so they are removed and the range split as asked.
// Splitting again with the same starts (a retry) therefore gives the same ranges.
func (s *Store) SplitPartition(ctx context.Context, integration string, obj crm.Object, from, end string, parts []Partition) error {
	if len(parts) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var stored string
		err := tx.QueryRow(ctx, `SELECT range_end FROM sync_cursors WHERE integration = $1 AND object_type = $2 AND stream = $3 FOR UPDATE`,
			integration, string(obj), PartitionStream(from)).Scan(&stored)
		if err != nil {
			return fmt.Errorf("range %q: %w", from, err)
		}
		if stored != end {
			if err := dropUnseenSplit(ctx, tx, integration, obj, stored, end); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE sync_cursors SET range_end = $4, updated_at = now()
			WHERE integration = $1 AND object_type = $2 AND stream = $3`, integration, string(obj), PartitionStream(from), parts[0].Lo); err != nil {
			return err
		}
		for k, p := range parts {
			hi := end
			if k+1 < len(parts) {
				hi = parts[k+1].Lo
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream, position, range_end)
				VALUES ($1, $2, $3, $4, $5)`, integration, string(obj), PartitionStream(p.Lo), p.Position, hi); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("splitting backfill range %q of %s/%s: %w", from, integration, obj, err)
	}
	return nil
}

// dropUnseenSplit removes the ranges in [lo, hi) ("" hi: to the end) that a split nobody
// learned of created. They must be unread: a range that was read is known to the workflow.
func dropUnseenSplit(ctx context.Context, tx pgx.Tx, integration string, obj crm.Object, lo, hi string) error {
	ps, err := partitions(ctx, tx, integration, obj)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Lo == "" || crm.CompareIDs(p.Lo, lo) < 0 || (hi != "" && crm.CompareIDs(p.Lo, hi) >= 0) {
			continue
		}
		if p.Pages > 0 {
			return fmt.Errorf("range %q, which the split at %q would cover, has been read (%d pages): the backfill's ranges and the workflow's disagree", p.Lo, lo, p.Pages)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sync_cursors WHERE integration = $1 AND object_type = $2 AND stream = $3`,
			integration, string(obj), PartitionStream(p.Lo)); err != nil {
			return err
		}
	}
	return nil
}

// FinishBackfill marks a backfill complete with its totals and drops its ranges' rows.
func (s *Store) FinishBackfill(ctx context.Context, integration string, obj crm.Object) (StreamState, error) {
	key := StreamKey{Integration: integration, Object: obj, Stream: StreamBackfill}
	var st StreamState
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		st, err = scanStream(key, tx.QueryRow(ctx, `UPDATE sync_cursors b SET completed_at = now(), updated_at = now(),
				pages = b.pages + coalesce(p.pages, 0), records = b.records + coalesce(p.records, 0)
			FROM (SELECT sum(pages) AS pages, sum(records) AS records FROM sync_cursors
				WHERE integration = $1 AND object_type = $2 AND stream LIKE 'backfill/%') p
			WHERE b.integration = $1 AND b.object_type = $2 AND b.stream = $3
			RETURNING `+prefixed("b.", streamColumns), integration, string(obj), StreamBackfill))
		if err != nil {
			return err
		}
		if !st.Exists {
			return fmt.Errorf("%w: backfill of %s/%s was never begun", ErrCursorMoved, integration, obj)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sync_cursors WHERE integration = $1 AND object_type = $2 AND stream LIKE 'backfill/%'`,
			integration, string(obj))
		return err
	})
	if err != nil {
		return StreamState{}, fmt.Errorf("finishing backfill of %s/%s: %w", integration, obj, err)
	}
	return st, nil
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + c
	}
	return strings.Join(parts, ", ")
}

// StartDeltaRun records that a delta run starts at now and returns the stream as the
// previous run left it (its StartedAt is when that run started). A stream never synced is
// created with its cursor at now first.
func (s *Store) StartDeltaRun(ctx context.Context, key StreamKey, now time.Time) (StreamState, error) {
	var prev StreamState
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream, cursor_at, started_at)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING`, key.Integration, string(key.Object), key.Stream, now.UTC()); err != nil {
			return err
		}
		var err error
		prev, err = scanStream(key, tx.QueryRow(ctx, `SELECT `+streamColumns+` FROM sync_cursors
			WHERE integration = $1 AND object_type = $2 AND stream = $3 FOR UPDATE`, key.Integration, string(key.Object), key.Stream))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sync_cursors SET started_at = $4, updated_at = now()
			WHERE integration = $1 AND object_type = $2 AND stream = $3`, key.Integration, string(key.Object), key.Stream, now.UTC())
		return err
	})
	if err != nil {
		return StreamState{}, fmt.Errorf("starting delta run of %s: %w", key, err)
	}
	return prev, nil
}

// Advance says how a page moves its stream: set at most one of Position or Cursor. With
// neither, the page is stored and no stream moves (the archived pass, which keeps its
// position in the workflow).
type Advance struct {
	// Position moves a backfill from one page token to the next, only if the stored
	// position is still From (compare-and-set): a late duplicate can never rewind it.
	Position *PositionMove
	// Cursor raises a delta's high-water mark to this cursor if it is later than the stored
	// one; an earlier cursor (a lag-window re-read) leaves it where it is.
	Cursor *crm.Cursor
}

// PositionMove is a backfill's step from one page token to the next.
type PositionMove struct {
	From, To string
	// Done marks the backfill complete (the page was the listing's last).
	Done bool
}

// PageWrite is one page of records together with its stream's advance.
type PageWrite struct {
	Key     StreamKey
	Records []crm.Record
	Advance Advance
}

// WriteResult counts what a page changed.
type WriteResult struct {
	// Inserted and Updated count rows written; Unchanged counts records that were older than,
	// or identical to, what was already stored.
	Inserted, Updated, Unchanged int
	// State is the stream after the write.
	State StreamState
}

// WritePage stores a page and advances its stream in one transaction.
func (s *Store) WritePage(ctx context.Context, w PageWrite) (WriteResult, error) {
	if w.Advance.Position != nil && w.Advance.Cursor != nil {
		return WriteResult{}, fmt.Errorf("writing page of %s: set at most one of Position and Cursor", w.Key)
	}
	var res WriteResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res.Inserted, res.Updated, err = upsertRecords(ctx, tx, w.Key.Integration, w.Key.Object, w.Records)
		if err != nil {
			return err
		}
		res.Unchanged = len(w.Records) - res.Inserted - res.Updated
		written := int64(res.Inserted + res.Updated)
		switch {
		case w.Advance.Position != nil:
			res.State, err = movePosition(ctx, tx, w.Key, *w.Advance.Position, written)
		case w.Advance.Cursor != nil:
			res.State, err = raiseCursor(ctx, tx, w.Key, *w.Advance.Cursor, written)
		}
		return err
	})
	if err != nil {
		return WriteResult{}, fmt.Errorf("writing page of %s: %w", w.Key, err)
	}
	return res, nil
}

func movePosition(ctx context.Context, tx pgx.Tx, key StreamKey, p PositionMove, written int64) (StreamState, error) {
	st, err := scanStream(key, tx.QueryRow(ctx, `UPDATE sync_cursors SET
			position = $5, completed_at = CASE WHEN $6 THEN now() END,
			pages = pages + 1, records = records + $7, updated_at = now()
		WHERE integration = $1 AND object_type = $2 AND stream = $3 AND position = $4 AND completed_at IS NULL
		RETURNING `+streamColumns,
		key.Integration, string(key.Object), key.Stream, p.From, p.To, p.Done, written))
	if err != nil || st.Exists {
		return st, err
	}
	// No row moved: either a duplicate attempt of this very page already moved it (harmless:
	// the records just written are the same ones), or the stream is somewhere else entirely.
	cur, err := scanStream(key, tx.QueryRow(ctx, `SELECT `+streamColumns+` FROM sync_cursors
		WHERE integration = $1 AND object_type = $2 AND stream = $3`, key.Integration, string(key.Object), key.Stream))
	if err != nil {
		return StreamState{}, err
	}
	if cur.Exists && cur.Position == p.To && cur.Done() == p.Done {
		return cur, nil
	}
	if !cur.Exists {
		return StreamState{}, fmt.Errorf("%w: stream %s does not exist", ErrCursorMoved, key)
	}
	return StreamState{}, fmt.Errorf("%w: page read at %q, stream is at %q (done %v)", ErrCursorMoved, p.From, cur.Position, cur.Done())
}

func raiseCursor(ctx context.Context, tx pgx.Tx, key StreamKey, c crm.Cursor, written int64) (StreamState, error) {
	cur, err := scanStream(key, tx.QueryRow(ctx, `SELECT `+streamColumns+` FROM sync_cursors
		WHERE integration = $1 AND object_type = $2 AND stream = $3 FOR UPDATE`, key.Integration, string(key.Object), key.Stream))
	if err != nil {
		return StreamState{}, err
	}
	if !cur.Exists {
		return StreamState{}, fmt.Errorf("%w: stream %s does not exist", ErrCursorMoved, key)
	}
	next := cur.Cursor
	if c.Compare(next) > 0 {
		next = crm.Cursor{ModifiedAt: c.ModifiedAt, ID: c.ID}
	}
	return scanStream(key, tx.QueryRow(ctx, `UPDATE sync_cursors SET
			cursor_at = $4, cursor_id = $5, pages = pages + 1, records = records + $6, updated_at = now()
		WHERE integration = $1 AND object_type = $2 AND stream = $3
		RETURNING `+streamColumns,
		key.Integration, string(key.Object), key.Stream, next.ModifiedAt.UTC(), next.ID, written))
}

// MarkPassDone records that a stream's periodic pass (a walk of deleted records) finished
// now, creating the stream's row if needed.
func (s *Store) MarkPassDone(ctx context.Context, key StreamKey) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO sync_cursors (integration, object_type, stream, completed_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (integration, object_type, stream) DO UPDATE SET completed_at = now(), updated_at = now()`,
		key.Integration, string(key.Object), key.Stream); err != nil {
		return fmt.Errorf("marking %s done: %w", key, err)
	}
	return nil
}

// MarkCompleted records that a stream finished a run (a delta caught up) at now.
func (s *Store) MarkCompleted(ctx context.Context, key StreamKey) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sync_cursors SET completed_at = now(), updated_at = now()
		WHERE integration = $1 AND object_type = $2 AND stream = $3`, key.Integration, string(key.Object), key.Stream)
	if err != nil {
		return fmt.Errorf("marking %s completed: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("marking %s completed: %w: stream does not exist", key, ErrCursorMoved)
	}
	return nil
}

package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/crm"
)

// The staging table lives as long as its connection and is emptied at every commit, so a
// page costs a COPY, not a CREATE TABLE.
const createStaging = `CREATE TEMP TABLE IF NOT EXISTS crmsync_staging (
	crm_id      text        NOT NULL,
	created_at  timestamptz,
	modified_at timestamptz NOT NULL,
	deleted_at  timestamptz,
	properties  jsonb       NOT NULL
) ON COMMIT DELETE ROWS`

var stagingColumns = []string{"crm_id", "created_at", "modified_at", "deleted_at", "properties"}

// upsertFromStaging writes the staged page. A row is replaced only when the incoming copy is
// not older: its version (the later of modified and deleted) is newer, or equal with
// different content (two changes within one millisecond: the later read wins). Older
// copies, from a lagging search index or a page read before a webhook's, are ignored, and
// identical re-reads write nothing. DISTINCT ON keeps the newest copy of an id that appears
// twice in one page, which a single INSERT ... ON CONFLICT could not take.
const upsertFromStaging = `WITH src AS (
	SELECT DISTINCT ON (crm_id) crm_id, created_at, modified_at, deleted_at, properties
	FROM crmsync_staging
	ORDER BY crm_id, GREATEST(modified_at, deleted_at) DESC
), written AS (
	INSERT INTO records AS t (integration, object_type, crm_id, created_at, modified_at, deleted_at, properties, synced_at)
	SELECT $1, $2, crm_id, created_at, modified_at, deleted_at, properties, now() FROM src
	ON CONFLICT (integration, object_type, crm_id) DO UPDATE SET
		created_at  = COALESCE(excluded.created_at, t.created_at),
		modified_at = excluded.modified_at,
		deleted_at  = excluded.deleted_at,
		properties  = excluded.properties,
		synced_at   = excluded.synced_at
	WHERE GREATEST(excluded.modified_at, excluded.deleted_at) > GREATEST(t.modified_at, t.deleted_at)
	   OR (GREATEST(excluded.modified_at, excluded.deleted_at) = GREATEST(t.modified_at, t.deleted_at)
	       AND (excluded.properties, excluded.deleted_at) IS DISTINCT FROM (t.properties, t.deleted_at))
	RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written`

func upsertRecords(ctx context.Context, tx pgx.Tx, integration string, obj crm.Object, recs []crm.Record) (inserted, updated int, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	if _, err := tx.Exec(ctx, createStaging); err != nil {
		return 0, 0, fmt.Errorf("creating staging table: %w", err)
	}
	rows := make([][]any, len(recs))
	for i, r := range recs {
		var deleted any
		if r.Archived {
			at := r.ArchivedAt
			if at.IsZero() {
				// Archived without a time: the last modification is the best lower bound.
				at = r.UpdatedAt
			}
			deleted = at
		}
		rows[i] = []any{r.ID, timeOrNil(r.CreatedAt), r.UpdatedAt, deleted, storableJSON(r.Properties)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"crmsync_staging"}, stagingColumns, pgx.CopyFromRows(rows)); err != nil {
		return 0, 0, fmt.Errorf("copying %d records into staging: %w", len(recs), err)
	}
	if err := tx.QueryRow(ctx, upsertFromStaging, integration, string(obj)).Scan(&inserted, &updated); err != nil {
		return 0, 0, fmt.Errorf("upserting %d %s: %w", len(recs), obj, err)
	}
	return inserted, updated, nil
}

// storableJSON adapts valid JSON to what jsonb accepts: PostgreSQL text cannot hold NUL, so
// \u0000 escapes become U+FFFD, and invalid UTF-8 is replaced the same way. A record with
// no properties at all (a deleted-records listing gives ids only) is stored with an empty
// object. Everything else passes through untouched (and uncopied).
func storableJSON(b json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage(`{}`)
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) && string(b[i+2:i+6]) == "0000" {
			out = append(out, `\ufffd`...)
			i += 5
			continue
		}
		// Any other escape pair is copied whole, so "\\u0000" (an escaped backslash) stays.
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// StoredRecord is a row of the records table.
type StoredRecord struct {
	ID         string
	CreatedAt  time.Time
	ModifiedAt time.Time
	DeletedAt  time.Time
	SyncedAt   time.Time
	Properties json.RawMessage
}

// Records reads every stored record of one object, ordered by id, for comparisons and
// exports. It holds the whole object in memory: meant for tests and tools, not the sync.
func (s *Store) Records(ctx context.Context, integration string, obj crm.Object) ([]StoredRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT crm_id, created_at, modified_at, deleted_at, synced_at, properties
		FROM records WHERE integration = $1 AND object_type = $2 ORDER BY crm_id`, integration, string(obj))
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", integration, obj, err)
	}
	defer rows.Close()
	var out []StoredRecord
	for rows.Next() {
		var r StoredRecord
		var created, deleted *time.Time
		if err := rows.Scan(&r.ID, &created, &r.ModifiedAt, &deleted, &r.SyncedAt, &r.Properties); err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", integration, obj, err)
		}
		r.CreatedAt, r.DeletedAt = ptrTime(created), ptrTime(deleted)
		r.ModifiedAt, r.SyncedAt = r.ModifiedAt.UTC(), r.SyncedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", integration, obj, err)
	}
	return out, nil
}

// Counts is how many records of one object are stored, live and deleted.
type Counts struct {
	Live, Deleted int64
}

// Count counts the stored records of one object.
func (s *Store) Count(ctx context.Context, integration string, obj crm.Object) (Counts, error) {
	var c Counts
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
		FROM records WHERE integration = $1 AND object_type = $2`, integration, string(obj)).Scan(&c.Live, &c.Deleted)
	if err != nil {
		return Counts{}, fmt.Errorf("counting %s %s: %w", integration, obj, err)
	}
	return c, nil
}

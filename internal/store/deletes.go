package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Deletion says a record was deleted (archived) in the CRM at a moment, as a webhook
// reports it: no copy of the record comes with it.
type Deletion struct {
	ID string
	At time.Time
}

// markDeleted soft-deletes records, or leaves a tombstone for ids never stored, unless the
// stored copy is at least as new as the deletion: a deletion event delivered late must not
// bury a record restored or changed after it, and a page read before the deletion (a
// backfill or a lagging delta) must not bring it back, which the tombstone's version
// guarantees through the "only if newer" upsert.
const markDeleted = `INSERT INTO records AS t (integration, object_type, crm_id, modified_at, deleted_at, properties, synced_at)
	SELECT $1, $2, d.id, d.at, d.at, '{}'::jsonb, now() FROM unnest($3::text[], $4::timestamptz[]) AS d(id, at)
	ON CONFLICT (integration, object_type, crm_id) DO UPDATE SET
		deleted_at  = excluded.deleted_at,
		modified_at = GREATEST(t.modified_at, excluded.modified_at),
		synced_at   = excluded.synced_at
	WHERE excluded.deleted_at > GREATEST(t.modified_at, t.deleted_at)`

// MarkDeleted applies deletions reported without a copy of the record (webhooks), only where
// they are newer than what is stored. It returns how many rows changed.
func (s *Store) MarkDeleted(ctx context.Context, integration string, obj crm.Object, dels []Deletion) (int, error) {
	if len(dels) == 0 {
		return 0, nil
	}
	// One row per id, the latest deletion: a statement may not update a row twice.
	latest := make(map[string]time.Time, len(dels))
	for _, d := range dels {
		if d.ID == "" {
			return 0, fmt.Errorf("marking %s deleted: a deletion without an id", obj)
		}
		if at, ok := latest[d.ID]; !ok || d.At.After(at) {
			latest[d.ID] = d.At
		}
	}
	ids := make([]string, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, strings.Compare)
	ats := make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = latest[id].UTC()
	}
	tag, err := s.pool.Exec(ctx, markDeleted, integration, string(obj), ids, ats)
	if err != nil {
		return 0, fmt.Errorf("marking %d %s of %s deleted: %w", len(ids), obj, integration, err)
	}
	return int(tag.RowsAffected()), nil
}

package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmsync/crmsync/internal/crm"
)

// idOrder is the order of an object's record ids: numeric for the decimal ids of HubSpot,
// Pipedrive and Zoho ("99" before "100"), and for any other ids a total order, which is all
// keyset paging needs. Bytes, not the database's collation, so that compareIDs agrees with
// it; it matches the expression index records_id_order_idx.
const idOrder = `(octet_length(crm_id), crm_id COLLATE "C")`

// compareIDs orders ids as idOrder does.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

// RecordIDsAfter pages through the ids of an object's live records in numeric id order:
// up to limit ids that come after `after` ("" = from the first). A short page is the last.
func (s *Store) RecordIDsAfter(ctx context.Context, integration string, obj crm.Object, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("listing %s ids of %s: limit %d is not positive", obj, integration, limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT crm_id FROM records
		WHERE integration = $1 AND object_type = $2 AND deleted_at IS NULL AND `+idOrder+` > ($3::int, $4::text COLLATE "C")
		ORDER BY octet_length(crm_id), crm_id COLLATE "C" LIMIT $5`, integration, string(obj), len(after), after, limit)
	if err != nil {
		return nil, fmt.Errorf("listing %s ids of %s after %q: %w", obj, integration, after, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing %s ids of %s after %q: %w", obj, integration, after, err)
	}
	return ids, nil
}

// AssociationSpan is every association of one direction (From -> To) from the stored
// records of From whose ids lie in (After, Through], in RecordIDsAfter's order.
type AssociationSpan struct {
	Integration string
	From, To    crm.Object
	// After excludes it and every id before it ("" = from the first id).
	After string
	// Through is the span's last id, included ("" = through the last id).
	Through string
	// Links are the span's associations, all of them: a record in the span that has none
	// here has none.
	Links []crm.Association
}

// clearSpan deletes the associations of every stored record in the span, live or deleted:
// a record deleted since the last sync is not read again, and must lose its links too. The
// ids are collected first so that the delete is an index lookup per id whatever the plan.
const clearSpan = `DELETE FROM associations
	WHERE integration = $1 AND from_type = $2 AND to_type = $3
	  AND from_id = ANY (ARRAY(SELECT crm_id FROM records WHERE integration = $1 AND object_type = $2
	      AND ` + idOrder + ` > ($4::int, $5::text COLLATE "C")
	      AND ` + idOrder + ` <= ($6::int, $7::text COLLATE "C")))`

// insertAssociations writes links; a link already stored (a retried continuation) gets the
// type's current category and label.
const insertAssociations = `INSERT INTO associations AS t (integration, from_type, from_id, to_type, to_id, type_id, category, label, synced_at)
	SELECT $1, $2, l.from_id, $3, l.to_id, l.type_id, l.category, l.label, now()
	FROM unnest($4::text[], $5::text[], $6::int[], $7::text[], $8::text[]) AS l(from_id, to_id, type_id, category, label)
	ON CONFLICT (integration, from_type, from_id, to_type, to_id, type_id) DO UPDATE SET
		category = excluded.category, label = excluded.label, synced_at = excluded.synced_at`

// ReplaceAssociations makes the span's stored associations exactly span.Links, in one
// transaction: every association of the span's records is deleted, then the links are
// inserted. That drops links removed in the CRM, and replacing a span twice leaves the same
// rows. It returns the number of links stored.
func (s *Store) ReplaceAssociations(ctx context.Context, span AssociationSpan) (int, error) {
	for _, l := range span.Links {
		if span.After != "" && compareIDs(l.FromID, span.After) <= 0 || span.Through != "" && compareIDs(l.FromID, span.Through) > 0 {
			return 0, fmt.Errorf("replacing %s associations of %s: link from %s lies outside the span (%q, %q]",
				span.From, span.Integration, l.FromID, span.After, span.Through)
		}
	}
	what := fmt.Sprintf("%s->%s associations of %s after %q", span.From, span.To, span.Integration, span.After)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("replacing %s: %w", what, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rolled back only when not committed
	// Bounds go in as (length, id) pairs, an open end as one above every id, so that the
	// statement's plan is the same index range scan whatever the span.
	throughLen := len(span.Through)
	if span.Through == "" {
		throughLen = math.MaxInt32
	}
	if _, err := tx.Exec(ctx, clearSpan, span.Integration, string(span.From), string(span.To),
		len(span.After), span.After, throughLen, span.Through); err != nil {
		return 0, fmt.Errorf("clearing %s: %w", what, err)
	}
	n, err := insertLinks(ctx, tx, span.Integration, span.From, span.To, span.Links)
	if err != nil {
		return 0, fmt.Errorf("storing %s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing %s: %w", what, err)
	}
	return n, nil
}

// AddAssociations stores links in addition to those stored: the further pages of records
// whose first page ReplaceAssociations stored. Adding a link twice stores it once. It
// returns the number of links given, once each.
func (s *Store) AddAssociations(ctx context.Context, integration string, from, to crm.Object, links []crm.Association) (int, error) {
	n, err := insertLinks(ctx, s.pool, integration, from, to, links)
	if err != nil {
		return 0, fmt.Errorf("adding %s->%s associations of %s: %w", from, to, integration, err)
	}
	return n, nil
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertLinks writes links, each once: one statement may not insert a row twice.
func insertLinks(ctx context.Context, db execer, integration string, from, to crm.Object, links []crm.Association) (int, error) {
	type key struct {
		from, to string
		typ      int
	}
	seen := make(map[key]bool, len(links))
	var fromIDs, toIDs, cats, labels []string
	var types []int32
	for _, l := range links {
		if l.FromID == "" || l.ToID == "" {
			return 0, fmt.Errorf("a link without an id (from %q, to %q)", l.FromID, l.ToID)
		}
		k := key{l.FromID, l.ToID, l.TypeID}
		if seen[k] {
			continue
		}
		seen[k] = true
		fromIDs, toIDs, cats, labels = append(fromIDs, l.FromID), append(toIDs, l.ToID), append(cats, l.Category), append(labels, l.Label)
		types = append(types, int32(l.TypeID))
	}
	if len(fromIDs) == 0 {
		return 0, nil
	}
	if _, err := db.Exec(ctx, insertAssociations, integration, string(from), string(to), fromIDs, toIDs, types, cats, labels); err != nil {
		return 0, err
	}
	return len(fromIDs), nil
}

// Associations reads the stored associations of one direction, ordered by from id, to id
// and type. It holds them all in memory: meant for tests and tools, not the sync.
func (s *Store) Associations(ctx context.Context, integration string, from, to crm.Object) ([]crm.Association, error) {
	rows, err := s.pool.Query(ctx, `SELECT from_id, to_id, type_id, category, label FROM associations
		WHERE integration = $1 AND from_type = $2 AND to_type = $3
		ORDER BY octet_length(from_id), from_id COLLATE "C", octet_length(to_id), to_id COLLATE "C", type_id`,
		integration, string(from), string(to))
	if err != nil {
		return nil, fmt.Errorf("reading %s->%s associations of %s: %w", from, to, integration, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crm.Association, error) {
		var l crm.Association
		err := row.Scan(&l.FromID, &l.ToID, &l.TypeID, &l.Category, &l.Label)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s->%s associations of %s: %w", from, to, integration, err)
	}
	return out, nil
}

// CountAssociations counts the stored associations of one direction.
func (s *Store) CountAssociations(ctx context.Context, integration string, from, to crm.Object) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM associations WHERE integration = $1 AND from_type = $2 AND to_type = $3`,
		integration, string(from), string(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting %s->%s associations of %s: %w", from, to, integration, err)
	}
	return n, nil
}

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// FreshWebhookEvents marks the integration's eventIDs seen and calls record with those
// never seen before, in one transaction committed only if record returns nil: a delivery
// whose recording failed leaves nothing marked, and its retry is recorded. A concurrent
// call with some of the same ids waits on their rows until this one commits or rolls
// back, so each event is recorded once even when a redelivery overlaps the original.
// record's error is returned as is. If the commit itself fails after record succeeded,
// the events stay unmarked and a redelivery is recorded again: at least once, not at most.
func (s *Store) FreshWebhookEvents(ctx context.Context, integration string, eventIDs []int64,
	record func(fresh map[int64]bool) error) error {
	if len(eventIDs) == 0 {
		return record(map[int64]bool{})
	}
	// Sorted, so that two overlapping deliveries lock their rows in the same order and
	// never deadlock.
	ids := slices.Clone(eventIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var recordErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			INSERT INTO webhook_events (integration, event_id)
			SELECT $1, id FROM unnest($2::bigint[]) WITH ORDINALITY AS t(id, n) ORDER BY n
			ON CONFLICT DO NOTHING
			RETURNING event_id`, integration, ids)
		if err != nil {
			return fmt.Errorf("marking webhook events seen: %w", err)
		}
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("marking webhook events seen: %w", err)
		}
		fresh := make(map[int64]bool, len(inserted))
		for _, id := range inserted {
			fresh[id] = true
		}
		recordErr = record(fresh)
		return recordErr
	})
	if recordErr != nil {
		return recordErr
	}
	if err != nil {
		return fmt.Errorf("webhook events of %s: %w", integration, err)
	}
	return nil
}

// PruneWebhookEvents forgets the webhook events received before olderThan and returns how
// many. Keep them longer than HubSpot keeps retrying a delivery (ten retries backing off
// from two minutes: more than a day), or a late retry would be recorded again.
func (s *Store) PruneWebhookEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_events WHERE received_at < $1`, olderThan)
	if err != nil {
		return 0, fmt.Errorf("pruning webhook events: %w", err)
	}
	return tag.RowsAffected(), nil
}

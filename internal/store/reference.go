package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/crm"
)

// Reference data kinds.
const (
	// RefProperties is an object's property definitions.
	RefProperties = "properties"
)

// GetReference decodes stored reference data into out and returns when it was fetched;
// found is false when nothing is stored.
func (s *Store) GetReference(ctx context.Context, integration, kind string, obj crm.Object, out any) (fetchedAt time.Time, found bool, err error) {
	var raw []byte
	err = s.pool.QueryRow(ctx, `SELECT data, fetched_at FROM reference_data
		WHERE integration = $1 AND kind = $2 AND object_type = $3`, integration, kind, string(obj)).Scan(&raw, &fetchedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading %s %s of %s: %w", obj, kind, integration, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return time.Time{}, false, fmt.Errorf("decoding %s %s of %s: %w", obj, kind, integration, err)
		}
	}
	return fetchedAt.UTC(), true, nil
}

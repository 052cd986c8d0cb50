package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmsync/crmsync/internal/crm"
)

// Reference data kinds besides RefProperties. The views of migration 0005 name them too.
const (
	// RefOwners is the CRM's owners, the users records name in hubspot_owner_id. They
	// belong to the account, not to an object type, so they are stored with object type "".
	RefOwners = "owners"
	// RefPipelines is an object type's pipelines with their stages.
	RefPipelines = "pipelines"
)

// ErrReferenceBusy means another transaction holds the refresh lock of a piece of reference
// data: another worker (or goroutine) is refreshing it right now.
var ErrReferenceBusy = errors.New("reference data is being refreshed by another worker")

// ReferenceKey names one piece of reference data: one row of reference_data.
type ReferenceKey struct {
	Integration string
	Kind        string
	// Object is the object type the data describes; "" for account-wide data (owners).
	Object crm.Object
}

// String renders the key for logs and errors.
func (k ReferenceKey) String() string {
	if k.Object == "" {
		return k.Integration + " " + k.Kind
	}
	return k.Integration + " " + string(k.Object) + " " + k.Kind
}

// Reference is one stored copy of reference data, still encoded, so that a cache can keep
// it and decode it into whatever shape its caller asks for.
type Reference struct {
	Data      json.RawMessage
	FetchedAt time.Time
}

// LoadReference reads the stored copy of a piece of reference data; found is false when
// there is none.
func (s *Store) LoadReference(ctx context.Context, k ReferenceKey) (ref Reference, found bool, err error) {
	return loadReference(ctx, s.pool, k)
}

func loadReference(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, k ReferenceKey) (Reference, bool, error) {
	var ref Reference
	err := q.QueryRow(ctx, `SELECT data, fetched_at FROM reference_data
		WHERE integration = $1 AND kind = $2 AND object_type = $3`,
		k.Integration, k.Kind, string(k.Object)).Scan(&ref.Data, &ref.FetchedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Reference{}, false, nil
	}
	if err != nil {
		return Reference{}, false, fmt.Errorf("reading %s: %w", k, err)
	}
	ref.FetchedAt = ref.FetchedAt.UTC()
	return ref, true, nil
}

// RefreshFunc decides, holding a piece of reference data's refresh lock, what to store. It
// is given the copy stored at that moment (found false when none), which may already be
// newer than the one its caller saw before taking the lock. It returns write false to keep
// that copy; its error is returned by RefreshReference as it is, unwrapped.
type RefreshFunc func(ctx context.Context, current Reference, found bool) (next Reference, write bool, err error)

// referenceLockClass is the first key of the two-key advisory locks that guard reference
// data refreshes. PostgreSQL keeps two-key and single-bigint advisory locks in separate key
// spaces, so these never collide with the migration lock.
const referenceLockClass int32 = 7_220_012

// referenceLockID is the second key, computed by PostgreSQL from $2..$4 (integration, kind,
// object type): 32 bits of an MD5, so every worker computes the same key. Advisory locks are
// per database, not per schema, so the key also covers this schema's reference_data table
// (its OID): deployments, or tests, sharing a database in separate schemas do not contend.
// Two keys that share a hash only share a lock: one refresh then waits for, or yields to,
// the other, and still happens on a later look-up.
const referenceLockID = `('x' || left(md5(concat_ws(chr(1), 'reference_data'::regclass::oid::text, $2::text, $3::text, $4::text)), 8))::bit(32)::integer`

// RefreshReference runs refresh while holding the refresh lock of k, so that across every
// worker at most one refresh of k runs at a time, and stores what it returns. It returns the
// copy stored when it is done (found false if there is none).
//
// The lock is a transaction-level advisory lock, held from before refresh reads the current
// copy until the new copy is committed: a caller that takes the lock after another refresh
// therefore always sees that refresh's copy, and a worker that dies mid-refresh loses the
// lock with its connection, with no lease to expire. The price is one pooled connection
// held, idle in a transaction, while refresh calls the CRM.
//
// With wait 0 the lock is only tried, and ErrReferenceBusy returned at once when another
// transaction holds it; otherwise RefreshReference waits for it up to wait (PostgreSQL's
// lock_timeout) before returning ErrReferenceBusy.
func (s *Store) RefreshReference(ctx context.Context, k ReferenceKey, wait time.Duration, refresh RefreshFunc) (ref Reference, found bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Reference{}, false, fmt.Errorf("refreshing %s: %w", k, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rolled back only when not committed
	if err := lockReference(ctx, tx, k, wait); err != nil {
		return Reference{}, false, err
	}
	current, found, err := loadReference(ctx, tx, k)
	if err != nil {
		return Reference{}, false, err
	}
	next, write, err := refresh(ctx, current, found)
	if err != nil {
		return Reference{}, false, err
	}
	if write {
		// Only if newer: a copy stored meanwhile without the lock (by an older crmsync during
		// a rolling upgrade) is kept when it is the more recent one.
		if _, err := tx.Exec(ctx, `INSERT INTO reference_data AS t (integration, kind, object_type, data, fetched_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (integration, kind, object_type) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at
			WHERE excluded.fetched_at >= t.fetched_at`,
			k.Integration, k.Kind, string(k.Object), next.Data, next.FetchedAt); err != nil {
			return Reference{}, false, fmt.Errorf("storing %s: %w", k, err)
		}
		if current, found, err = loadReference(ctx, tx, k); err != nil {
			return Reference{}, false, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Reference{}, false, fmt.Errorf("committing %s: %w", k, err)
	}
	return current, found, nil
}

// lockReference takes k's refresh lock for the rest of tx.
func lockReference(ctx context.Context, tx pgx.Tx, k ReferenceKey, wait time.Duration) error {
	args := []any{referenceLockClass, k.Integration, k.Kind, string(k.Object)}
	if wait <= 0 {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, `+referenceLockID+`)`, args...).Scan(&got); err != nil {
			return fmt.Errorf("locking %s: %w", k, err)
		}
		if !got {
			return ErrReferenceBusy
		}
		return nil
	}
	// lock_timeout bounds the wait inside PostgreSQL, which wakes the waiter the moment the
	// holder commits. It is put back afterwards so that it does not also bound the write.
	var prev string
	if err := tx.QueryRow(ctx, `SELECT current_setting('lock_timeout')`).Scan(&prev); err != nil {
		return fmt.Errorf("locking %s: %w", k, err)
	}
	ms := max(wait.Milliseconds(), 1)
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, strconv.FormatInt(ms, 10)); err != nil {
		return fmt.Errorf("locking %s: %w", k, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, `+referenceLockID+`)`, args...); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			return ErrReferenceBusy
		}
		return fmt.Errorf("locking %s: %w", k, err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, prev); err != nil {
		return fmt.Errorf("locking %s: %w", k, err)
	}
	return nil
}

// ReferenceRefresh says who holds and who waits for a refresh lock.
type ReferenceRefresh struct {
	// Holders is 1 while a refresh of the data runs, in any worker.
	Holders int
	// Waiters counts callers waiting for that refresh because nothing was cached.
	Waiters int
}

// ReferenceRefreshing reports whether a refresh of k is running anywhere and how many
// callers wait for it, for status displays and tests.
func (s *Store) ReferenceRefreshing(ctx context.Context, k ReferenceKey) (ReferenceRefresh, error) {
	var r ReferenceRefresh
	// pg_locks shows the two int4 keys as OIDs, unsigned.
	err := s.pool.QueryRow(ctx, `WITH key AS (SELECT (`+referenceLockID+`)::bigint & 4294967295 AS id)
		SELECT count(*) FILTER (WHERE l.granted), count(*) FILTER (WHERE NOT l.granted)
		FROM pg_locks l, key
		WHERE l.locktype = 'advisory' AND l.objsubid = 2
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid = $1::bigint::oid AND l.objid = key.id::oid`,
		referenceLockClass, k.Integration, k.Kind, string(k.Object)).Scan(&r.Holders, &r.Waiters)
	if err != nil {
		return ReferenceRefresh{}, fmt.Errorf("reading the refresh lock of %s: %w", k, err)
	}
	return r, nil
}

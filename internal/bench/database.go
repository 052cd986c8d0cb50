package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/store"
)

// dbTimeout bounds each of the benchmark's own PostgreSQL operations.
const dbTimeout = 30 * time.Second

// createSchema creates a fresh schema named "bench_<random>", applies crmsync's migrations
// in it (so the workers start without racing to do so), and returns its name and a URL
// whose connections use it as their search_path.
func createSchema(ctx context.Context, baseURL string) (schema, schemaURL string, err error) {
	schema = "bench_" + randomHex(6)
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return "", "", fmt.Errorf("connecting to PostgreSQL (%s): %w", redactURL(baseURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("creating schema %s: %w", schema, err)
	}
	schemaURL, err = withSearchPath(baseURL, schema)
	if err != nil {
		return "", "", err
	}
	st, err := store.Open(ctx, schemaURL)
	if err != nil {
		return schema, "", fmt.Errorf("opening schema %s: %w", schema, err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return schema, "", fmt.Errorf("migrating schema %s: %w", schema, err)
	}
	return schema, schemaURL, nil
}

// dropSchema drops a schema createSchema made, with everything in it.
func dropSchema(ctx context.Context, baseURL, schema string) error {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL to drop schema %s: %w", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("dropping schema %s: %w", schema, err)
	}
	return nil
}

// withSearchPath returns baseURL with search_path set to schema.
func withSearchPath(baseURL, schema string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("DATABASE_URL %q: want a postgres:// URL", redactURL(baseURL))
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// countRecords counts the rows (live and deleted) crmsync stored for an integration.
func countRecords(ctx context.Context, schemaURL, integration string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, schemaURL)
	if err != nil {
		return 0, fmt.Errorf("connecting to PostgreSQL to count records: %w", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM records WHERE integration = $1`, integration).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the records of %s: %w", integration, err)
	}
	return n, nil
}

// redactURL hides a password in a database URL before it is printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

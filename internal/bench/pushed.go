package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// Scenario (g): changes pushed by webhook.
const (
	// pushContacts is the dataset the pushed changes are made to.
	pushContacts = 5000
	// pushFlushAfter is the integration's webhooks.flush_after.
	pushFlushAfter = time.Second
	// pushTimeout bounds the wait for one round's changes to reach PostgreSQL.
	pushTimeout = 2 * time.Minute
	// pushPoll is how often PostgreSQL is checked for the changed records.
	pushPoll = 50 * time.Millisecond
)

// pushRounds are the numbers of contacts changed at once, one round each.
var pushRounds = []int{100, 1000, 2500}

// pushedRound is what one burst of K changed records cost and how soon PostgreSQL had them.
type pushedRound struct {
	Changed  int     `json:"changed"`
	Calls    int     `json:"calls"`
	MinCalls int     `json:"min_calls"`
	P50S     float64 `json:"p50_s"`
	P95S     float64 `json:"p95_s"`
	MaxS     float64 `json:"max_s"`
}

func (p pushedRound) String() string {
	return fmt.Sprintf("K=%d calls %d/%d p50 %.2fs p95 %.2fs", p.Changed, p.Calls, p.MinCalls, p.P50S, p.P95S)
}

// runPushed backfills a small dataset, then changes K contacts at once for each round: the
// simulator pushes the changes to the receiver, and the row reports the CRM calls they cost
// against ceil(K/100) and the time from each change to its copy in PostgreSQL.
func (b *bench) runPushed(ctx context.Context) result {
	p := rowParams{scenario: "g", quota: 100, workers: 1}
	res := newResult(p)
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:      simOptions(p.quota, 0, pushContacts, 10, 10),
		quota:    quota(p.quota),
		objects:  []crm.Object{crm.Contacts},
		webhooks: true,
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		r.sim.ResetStats()
		elapsed, err := r.backfill(ctx, b.client, crm.Contacts)
		if err != nil {
			return err
		}
		if _, err := r.measure(ctx, &res, elapsed); err != nil {
			return err
		}
		// The backfill's own changes are pushed too; let them settle first.
		if err := r.sim.FlushWebhooks(ctx); err != nil {
			return err
		}
		if err := sleep(ctx, 2*pushFlushAfter); err != nil {
			return err
		}
		for _, k := range pushRounds {
			round, err := r.pushRound(ctx, k)
			if err != nil {
				return fmt.Errorf("round of %d: %w", k, err)
			}
			b.progress("%s: %s", spec.run, round)
			res.Pushed = append(res.Pushed, round)
		}
		st := r.sim.Stats()
		t := trafficOf(st)
		res.RateLimited, res.Early, res.Peak10s = t.rateLimited, t.early, t.peak
		return nil
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// pushRound changes k contacts at once and waits until PostgreSQL holds every new version.
func (r *rig) pushRound(ctx context.Context, k int) (pushedRound, error) {
	before := r.sim.Stats()
	began := time.Now()
	m, err := r.sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: k})
	if err != nil {
		return pushedRound{}, err
	}
	truth, err := r.sim.Snapshot("contacts")
	if err != nil {
		return pushedRound{}, err
	}
	want := map[string]time.Time{}
	changed := map[string]bool{}
	for _, id := range m.Updated {
		changed[id] = true
	}
	for _, rec := range truth {
		if changed[rec.ID] {
			want[rec.ID] = rec.UpdatedAt
		}
	}
	seen, err := r.awaitVersions(ctx, want)
	if err != nil {
		return pushedRound{}, err
	}
	// Calls made by a late flush belong to this round: wait for the workflow to go idle.
	if err := sleep(ctx, 2*pushFlushAfter); err != nil {
		return pushedRound{}, err
	}
	after := r.sim.Stats()
	lat := make([]float64, 0, len(seen))
	for _, at := range seen {
		lat = append(lat, at.Sub(began).Seconds())
	}
	slices.Sort(lat)
	return pushedRound{
		Changed: len(want), Calls: after.Calls("batch_read contacts") - before.Calls("batch_read contacts"),
		MinCalls: (len(want) + 99) / 100,
		P50S:     roundTo(percentile(lat, 0.50), 3), P95S: roundTo(percentile(lat, 0.95), 3), MaxS: roundTo(lat[len(lat)-1], 3),
	}, nil
}

// awaitVersions polls PostgreSQL until every record holds at least the wanted version and
// returns when each was first seen there.
func (r *rig) awaitVersions(ctx context.Context, want map[string]time.Time) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.schemaURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	seen := map[string]time.Time{}
	for len(seen) < len(want) {
		rows, err := conn.Query(ctx, `SELECT crm_id, modified_at FROM records
			WHERE integration = $1 AND object_type = 'contacts' AND crm_id = ANY($2)`, r.integration, ids)
		if err != nil {
			return nil, fmt.Errorf("waiting for %d changed records (%d arrived): %w", len(want), len(seen), err)
		}
		now := time.Now()
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return nil, err
			}
			if _, ok := seen[id]; !ok && !at.Before(want[id]) {
				seen[id] = now
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(seen) < len(want) {
			if err := sleep(ctx, pushPoll); err != nil {
				return nil, fmt.Errorf("%d of %d changed records reached PostgreSQL: %w", len(seen), len(want), err)
			}
		}
	}
	return seen, nil
}

// percentile is the q-quantile of sorted values (nearest rank).
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// joinRows formats a scenario's rows for the table's last column.
func joinRows[T fmt.Stringer](rows []T) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}

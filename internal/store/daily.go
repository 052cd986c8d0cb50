package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DailyReading is an integration's daily allowance as the CRM last reported it, and the
// daily pause its workers last decided, for status displays.
type DailyReading struct {
	// Max is the CRM's daily allowance and Remaining what was left of it at At; At is zero
	// when the CRM never reported them.
	Max, Remaining int
	At             time.Time
	// PausedUntil and PausedWhy are the last daily pause (zero when none was ever decided).
	PausedUntil time.Time
	PausedWhy   string
}

// Used is how many calls of the day the CRM had counted at At.
func (d DailyReading) Used() int { return d.Max - d.Remaining }

// RecordDaily keeps the CRM's daily figures for an integration, read at `at`. An older
// reading than the one kept is ignored.
func (s *Store) RecordDaily(ctx context.Context, integration string, dailyMax, remaining int, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO quota_daily (integration, daily_max, daily_remaining, observed_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (integration) DO UPDATE SET daily_max = excluded.daily_max, daily_remaining = excluded.daily_remaining,
			observed_at = excluded.observed_at
		WHERE quota_daily.observed_at IS NULL OR quota_daily.observed_at <= excluded.observed_at`,
		integration, dailyMax, remaining, stamp(at))
	if err != nil {
		return fmt.Errorf("recording the daily usage of %s: %w", integration, err)
	}
	return nil
}

// RecordDailyPause keeps the daily pause an integration's calls are in.
func (s *Store) RecordDailyPause(ctx context.Context, integration string, until time.Time, why string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO quota_daily (integration, paused_until, paused_why) VALUES ($1, $2, $3)
		ON CONFLICT (integration) DO UPDATE SET paused_until = excluded.paused_until, paused_why = excluded.paused_why`,
		integration, stamp(until), why)
	if err != nil {
		return fmt.Errorf("recording the daily pause of %s: %w", integration, err)
	}
	return nil
}

// Daily reads what is kept of an integration's daily allowance; the zero reading when
// nothing is.
func (s *Store) Daily(ctx context.Context, integration string) (DailyReading, error) {
	var d DailyReading
	var at, until *time.Time
	err := s.pool.QueryRow(ctx, `SELECT daily_max, daily_remaining, observed_at, paused_until, paused_why FROM quota_daily
		WHERE integration = $1`, integration).Scan(&d.Max, &d.Remaining, &at, &until, &d.PausedWhy)
	if errors.Is(err, pgx.ErrNoRows) {
		return DailyReading{}, nil
	}
	if err != nil {
		return DailyReading{}, fmt.Errorf("reading the daily usage of %s: %w", integration, err)
	}
	d.At, d.PausedUntil = ptrTime(at), ptrTime(until)
	return d, nil
}

package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/store"
)

func TestDailyReadingKeepsTheNewestAndThePause(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()

	d, err := s.Daily(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, store.DailyReading{}, d, "nothing recorded: the zero reading")

	require.NoError(t, s.RecordDaily(ctx, "acme", 250_000, 249_000, t0))
	require.NoError(t, s.RecordDaily(ctx, "acme", 250_000, 249_500, t0.Add(-time.Minute)), "an older reading")
	d, err = s.Daily(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, store.DailyReading{Max: 250_000, Remaining: 249_000, At: t0}, d, "the older reading is ignored")
	require.Equal(t, 1000, d.Used())

	require.NoError(t, s.RecordDailyPause(ctx, "acme", t0.Add(12*time.Hour), "daily budget: 100 left"))
	require.NoError(t, s.RecordDaily(ctx, "acme", 250_000, 100, t0.Add(time.Second)))
	d, err = s.Daily(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, store.DailyReading{Max: 250_000, Remaining: 100, At: t0.Add(time.Second),
		PausedUntil: t0.Add(12 * time.Hour), PausedWhy: "daily budget: 100 left"}, d)

	require.NoError(t, s.RecordDailyPause(ctx, "other", t0, "429 DAILY"))
	d, err = s.Daily(ctx, "other")
	require.NoError(t, err)
	require.Equal(t, store.DailyReading{PausedUntil: t0, PausedWhy: "429 DAILY"}, d, "a pause before any reading")
}

package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
)

func TestDeltaStart(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const lag = 2 * time.Minute
	tests := []struct {
		name      string
		cursor    crm.Cursor
		prevStart time.Time
		want      crm.Cursor
	}{
		{
			name:      "idle stream starts at its cursor, id included",
			cursor:    crm.Cursor{ModifiedAt: t0, ID: "42"},
			prevStart: t0.Add(time.Hour),
			want:      crm.Cursor{ModifiedAt: t0, ID: "42"},
		},
		{
			name:      "changes within the lag of the last run are re-read",
			cursor:    crm.Cursor{ModifiedAt: t0, ID: "42"},
			prevStart: t0.Add(time.Minute),
			want:      crm.Cursor{ModifiedAt: t0.Add(-time.Minute)},
		},
		{
			name:      "a new stream re-reads the lag before its creation",
			cursor:    crm.Cursor{ModifiedAt: t0},
			prevStart: t0,
			want:      crm.Cursor{ModifiedAt: t0.Add(-lag)},
		},
		{
			name:      "a cursor mode never carries into a new run",
			cursor:    crm.Cursor{ModifiedAt: t0, ID: "42", Mode: "ties"},
			prevStart: t0.Add(time.Hour),
			want:      crm.Cursor{ModifiedAt: t0, ID: "42"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := deltaStart(tc.cursor, tc.prevStart, lag)
			require.Equal(t, tc.want, got)
		})
	}
}

package crmsim

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no tokens", opts: Options{}, wantErr: "at least one token"},
		{name: "empty token", opts: Options{Tokens: []string{"a", ""}}, wantErr: "token 2 is empty"},
		{name: "duplicate token", opts: Options{Tokens: []string{"a", "a"}}, wantErr: "duplicate"},
		{name: "negative contacts", opts: Options{Tokens: []string{"a"}, Contacts: -1}, wantErr: "contacts must not be negative"},
		{name: "negative lag", opts: Options{Tokens: []string{"a"}, SearchIndexLag: -time.Second}, wantErr: "search index lag"},
		{name: "valid empty dataset", opts: Options{Tokens: []string{"a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.opts)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := Options{Seed: 42, Contacts: 400, Companies: 80, Deals: 150, Tokens: []string{"t"}}
	a, err := New(opts)
	require.NoError(t, err)
	b, err := New(opts)
	require.NoError(t, err)
	opts.Seed = 43
	c, err := New(opts)
	require.NoError(t, err)
	for _, obj := range Objects() {
		sa, sb, sc := snapshot(t, a, obj), snapshot(t, b, obj), snapshot(t, c, obj)
		require.Equal(t, sa, sb, obj)
		require.NotEqual(t, sa, sc, obj)
	}
}

func TestSeededDataShape(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s, err := New(Options{Seed: 7, Contacts: 3000, Companies: 300, Deals: 900, Epoch: epoch, Tokens: []string{"t"}})
	require.NoError(t, err)

	modProp := map[string]string{Contacts: "lastmodifieddate", Companies: "hs_lastmodifieddate", Deals: "hs_lastmodifieddate"}
	ids := map[string]map[string]bool{}
	for _, obj := range Objects() {
		recs := snapshot(t, s, obj)
		ids[obj] = map[string]bool{}
		lengths := map[int]bool{}
		byUpdated := map[time.Time]int{}
		var prev int64
		for _, r := range recs {
			n, err := strconv.ParseInt(r.ID, 10, 64)
			require.NoError(t, err)
			require.Greater(t, n, prev, "ids ascending")
			prev = n
			lengths[len(r.ID)] = true
			ids[obj][r.ID] = true

			require.False(t, r.CreatedAt.Before(epoch.AddDate(-3, 0, 0)), r.ID)
			require.True(t, r.CreatedAt.Before(epoch), r.ID)
			require.False(t, r.UpdatedAt.Before(r.CreatedAt), r.ID)
			require.True(t, r.UpdatedAt.Before(epoch), r.ID)
			require.Equal(t, r.CreatedAt.Format(isoMillis), r.Properties["createdate"], r.ID)
			require.Equal(t, r.UpdatedAt.Format(isoMillis), r.Properties[modProp[obj]], r.ID)
			require.Equal(t, r.ID, r.Properties["hs_object_id"])
			byUpdated[r.UpdatedAt]++
		}
		require.GreaterOrEqual(t, len(lengths), 4, "%s ids should have several lengths", obj)
		burst := 0
		for _, n := range byUpdated {
			burst = max(burst, n)
		}
		require.GreaterOrEqual(t, burst, 6, "%s should have an import burst sharing one updatedAt", obj)
	}

	contacts := snapshot(t, s, Contacts)
	empties, unicode := 0, 0
	for _, r := range contacts {
		require.Len(t, r.Associations[Companies], 1, "each contact has one company")
		require.True(t, ids[Companies][r.Associations[Companies][0]])
		if r.Properties["phone"] == "" {
			empties++
		}
		for _, ch := range r.Properties["firstname"] + r.Properties["lastname"] {
			if ch > 0x7f {
				unicode++
				break
			}
		}
	}
	require.Positive(t, empties)
	require.Positive(t, unicode)
	for _, r := range snapshot(t, s, Deals) {
		require.Len(t, r.Associations[Companies], 1, "each deal has one company")
		require.GreaterOrEqual(t, len(r.Associations[Contacts]), 1)
		require.LessOrEqual(t, len(r.Associations[Contacts]), 3)
		if cd := r.Properties["closedate"]; cd != "" {
			_, err := time.Parse(isoMillis, cd)
			require.NoError(t, err)
		}
	}
}

func TestSnapshotUnknownObject(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Tokens: []string{"t"}})
	require.NoError(t, err)
	_, err = s.Snapshot("tickets")
	require.ErrorContains(t, err, "unknown object")
}

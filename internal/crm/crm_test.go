package crm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
)

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{a: "99", b: "100", want: -1},
		{a: "100", b: "99", want: 1},
		{a: "007", b: "7", want: 0},
		{a: "12", b: "12", want: 0},
		{a: "", b: "1", want: -1},
		{a: "1", b: "", want: 1},
		{a: "003Dn00000Abc", b: "003Dn00000Abd", want: -1},
		{a: "9", b: "a", want: -1},
	}
	for _, tc := range tests {
		got := crm.CompareIDs(tc.a, tc.b)
		require.Equal(t, tc.want, max(-1, min(1, got)), "CompareIDs(%q, %q)", tc.a, tc.b)
	}
}

func TestCursorOrdersByTimeThenID(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := func(ms int, id string) crm.Cursor {
		return crm.Cursor{ModifiedAt: t0.Add(time.Duration(ms) * time.Millisecond), ID: id}
	}
	ordered := []crm.Cursor{c(0, ""), c(0, "9"), c(0, "10"), c(1, ""), c(1, "2")}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			require.Equal(t, want, max(-1, min(1, ordered[i].Compare(ordered[j]))), "%s vs %s", ordered[i], ordered[j])
		}
	}
	require.Zero(t, crm.Cursor{ModifiedAt: t0, ID: "5", Mode: "ties"}.Compare(crm.Cursor{ModifiedAt: t0, ID: "5"}), "mode does not order")
}

func TestParseObject(t *testing.T) {
	t.Parallel()
	for _, o := range crm.Objects {
		got, err := crm.ParseObject(string(o))
		require.NoError(t, err)
		require.Equal(t, o, got)
	}
	_, err := crm.ParseObject("Contacts")
	require.ErrorContains(t, err, "contacts, companies, deals")
}

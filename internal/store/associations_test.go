package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// storeRecords writes live records with the given ids, and deleted ones with dead ids.
func storeRecords(t *testing.T, s *store.Store, obj crm.Object, live, dead []string) {
	t.Helper()
	key := store.StreamKey{Integration: "acme", Object: obj, Stream: store.StreamDelta}
	_, err := s.StartDeltaRun(t.Context(), key, t0)
	require.NoError(t, err)
	var recs []crm.Record
	for _, id := range live {
		recs = append(recs, rec(id, t0, `{}`))
	}
	for _, id := range dead {
		recs = append(recs, archived(id, t0, t0, `{}`))
	}
	_, err = s.WritePage(t.Context(), store.PageWrite{Key: key, Records: recs})
	require.NoError(t, err)
}

func link(from, to string, typ int) crm.Association {
	return crm.Association{FromID: from, ToID: to, TypeID: typ, Category: "HUBSPOT_DEFINED"}
}

func labeled(from, to string, typ int, label string) crm.Association {
	return crm.Association{FromID: from, ToID: to, TypeID: typ, Category: "USER_DEFINED", Label: label}
}

func TestRecordIDsAfterPagesLiveIDsInNumericOrder(t *testing.T) {
	t.Parallel()
	s := setup(t)
	storeRecords(t, s, crm.Contacts, []string{"1000", "9", "100", "11", "2", "10", "99"}, []string{"50"})
	storeRecords(t, s, crm.Deals, []string{"1", "3"}, nil)

	var pages [][]string
	after := ""
	for {
		ids, err := s.RecordIDsAfter(t.Context(), "acme", crm.Contacts, after, 3)
		require.NoError(t, err)
		pages = append(pages, ids)
		if len(ids) < 3 {
			break
		}
		after = ids[len(ids)-1]
	}
	require.Equal(t, [][]string{{"2", "9", "10"}, {"11", "99", "100"}, {"1000"}}, pages,
		"numeric order across id lengths, deleted records and other objects left out")

	_, err := s.RecordIDsAfter(t.Context(), "acme", crm.Contacts, "", 0)
	require.Error(t, err)
}

func TestReplaceAssociationsReplacesTheWholeSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stored  []crm.Association
		span    store.AssociationSpan
		want    []crm.Association
		wantErr string
	}{
		{
			name: "first sync stores the links, primary and unlabeled types apart",
			span: store.AssociationSpan{Links: []crm.Association{link("9", "301", 1), link("9", "301", 279), link("10", "302", 279)}},
			want: []crm.Association{link("9", "301", 1), link("9", "301", 279), link("10", "302", 279)},
		},
		{
			name:   "a link removed in the CRM disappears, one added appears",
			stored: []crm.Association{link("9", "301", 279), link("9", "305", 279), link("10", "302", 279)},
			span:   store.AssociationSpan{Links: []crm.Association{link("9", "301", 279), link("10", "303", 279)}},
			want:   []crm.Association{link("9", "301", 279), link("10", "303", 279)},
		},
		{
			name:   "a record that lost every link keeps none",
			stored: []crm.Association{link("9", "301", 279), link("10", "302", 279)},
			span:   store.AssociationSpan{Links: []crm.Association{link("9", "301", 279)}},
			want:   []crm.Association{link("9", "301", 279)},
		},
		{
			name:   "records outside the span keep their links",
			stored: []crm.Association{link("2", "301", 279), link("9", "301", 279), link("11", "301", 279), link("100", "302", 279)},
			span:   store.AssociationSpan{After: "2", Through: "10"},
			want:   []crm.Association{link("2", "301", 279), link("11", "301", 279), link("100", "302", 279)},
		},
		{
			name:   "a deleted record in the span loses its links though it is not read again",
			stored: []crm.Association{link("50", "301", 279), link("99", "301", 279)},
			span:   store.AssociationSpan{After: "11", Through: "99", Links: []crm.Association{link("99", "301", 279)}},
			want:   []crm.Association{link("99", "301", 279)},
		},
		{
			name:   "an open span runs to the last id",
			stored: []crm.Association{link("9", "301", 279), link("1000", "301", 279)},
			span:   store.AssociationSpan{After: "99"},
			want:   []crm.Association{link("9", "301", 279)},
		},
		{
			name:   "the same link twice is stored once; a label change is taken",
			stored: []crm.Association{link("9", "301", 279)},
			span:   store.AssociationSpan{Links: []crm.Association{labeled("9", "301", 279, "Billing"), labeled("9", "301", 279, "Billing")}},
			want:   []crm.Association{labeled("9", "301", 279, "Billing")},
		},
		{
			name:    "a link from outside the span is refused",
			stored:  []crm.Association{link("9", "301", 279)},
			span:    store.AssociationSpan{After: "9", Through: "99", Links: []crm.Association{link("100", "301", 279)}},
			want:    []crm.Association{link("9", "301", 279)},
			wantErr: "outside the span",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			storeRecords(t, s, crm.Contacts, []string{"2", "9", "10", "11", "99", "100", "1000"}, []string{"50"})
			_, err := s.ReplaceAssociations(t.Context(), store.AssociationSpan{Integration: "acme", From: crm.Contacts, To: crm.Companies, Links: tc.stored})
			require.NoError(t, err)
			// Another direction and another integration are never touched.
			other := []crm.Association{link("9", "7001", 4)}
			_, err = s.ReplaceAssociations(t.Context(), store.AssociationSpan{Integration: "acme", From: crm.Contacts, To: crm.Deals, Links: other})
			require.NoError(t, err)

			span := tc.span
			span.Integration, span.From, span.To = "acme", crm.Contacts, crm.Companies
			for range 2 { // replacing a span twice (a retried activity) leaves the same rows
				_, err = s.ReplaceAssociations(t.Context(), span)
				if tc.wantErr != "" {
					require.ErrorContains(t, err, tc.wantErr)
				} else {
					require.NoError(t, err)
				}
			}
			got, err := s.Associations(t.Context(), "acme", crm.Contacts, crm.Companies)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			n, err := s.CountAssociations(t.Context(), "acme", crm.Contacts, crm.Companies)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), n)
			got, err = s.Associations(t.Context(), "acme", crm.Contacts, crm.Deals)
			require.NoError(t, err)
			require.Equal(t, other, got)
		})
	}
}

func TestAddAssociationsAppendsFurtherPages(t *testing.T) {
	t.Parallel()
	s := setup(t)
	storeRecords(t, s, crm.Deals, []string{"7001", "7002"}, nil)
	n, err := s.ReplaceAssociations(t.Context(), store.AssociationSpan{Integration: "acme", From: crm.Deals, To: crm.Contacts,
		Links: []crm.Association{link("7001", "51", 3), link("7002", "52", 3)}})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for range 2 { // a retried continuation adds nothing twice
		n, err = s.AddAssociations(t.Context(), "acme", crm.Deals, crm.Contacts, []crm.Association{link("7001", "53", 3), link("7001", "54", 3)})
		require.NoError(t, err)
		require.Equal(t, 2, n)
	}
	got, err := s.Associations(t.Context(), "acme", crm.Deals, crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, []crm.Association{link("7001", "51", 3), link("7001", "53", 3), link("7001", "54", 3), link("7002", "52", 3)}, got)
}

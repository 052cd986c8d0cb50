package store_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// Whatever a CRM puts in a record's properties is stored as data, never as SQL: property
// names that look like SQL, quotes and backslashes, enormous values, odd Unicode, nulls,
// unknown properties and no properties at all round-trip through a page write unchanged
// (jsonb may reorder an object's keys; the values are compared as JSON).
func TestHostileRecordContentIsStoredAsData(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ctx := t.Context()
	key := store.StreamKey{Integration: "acme", Object: crm.Contacts, Stream: store.StreamDelta}
	_, err := s.StartDeltaRun(ctx, key, t0)
	require.NoError(t, err)

	huge := strings.Repeat("Ω long value ", 200_000) // about 2.8 MB
	props := map[string]any{
		`email"); DROP TABLE records; --`: "x@example.com",
		`'; SELECT pg_sleep(10); --`:      `it's "quoted" \ and \\ backslashed`,
		"properties":                      "a property named like the column",
		"crm_id":                          "a property named like another column",
		"rtl":                             "שלום עולם \u202e gnp.exe",
		"emoji and combining":             "👩‍👩‍👧‍👦 e\u0301 \u200b zero width",
		"null value":                      nil,
		"enormous":                        huge,
		"nested unknown":                  map[string]any{"deep": []any{1.5, true, "x", nil}},
	}
	raw, err := json.Marshal(props)
	require.NoError(t, err)
	recs := []crm.Record{
		rec("1", t0, string(raw)),
		{ID: "2", CreatedAt: t0, UpdatedAt: t0}, // no properties at all
		{ID: `3'; DELETE FROM records; --`, UpdatedAt: t0, Properties: json.RawMessage(`{}`)}, // an id like SQL
	}
	res, err := s.WritePage(ctx, store.PageWrite{Key: key, Records: recs})
	require.NoError(t, err)
	require.Equal(t, 3, res.Inserted)

	rows, err := s.Records(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	byID := map[string]store.StoredRecord{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal(byID["1"].Properties, &got))
	require.Equal(t, props, got)
	require.Contains(t, byID, `3'; DELETE FROM records; --`)
	require.JSONEq(t, `{}`, string(byID["2"].Properties))
}

package crmsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newLargeSim seeds 50,000 contacts, the size the search latency budget is set for.
func newLargeSim(tb testing.TB, lag time.Duration) *Sim {
	tb.Helper()
	s, err := New(Options{Seed: 61, Contacts: 50000, Companies: 5000, Tokens: []string{testToken},
		TenSecondLimit: 1 << 30, SearchPerSecond: 1 << 30, DailyLimit: 1 << 30, SearchIndexLag: lag})
	require.NoError(tb, err)
	return s
}

// deltaSearch is the connector's incremental read: modified since a cursor, ascending.
func deltaSearch(since time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
			"propertyName": "lastmodifieddate", "operator": "GTE", "value": strconv.FormatInt(since.UnixMilli(), 10)}}}},
		"sorts": []any{map[string]string{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}},
		"limit": 200, "after": "0",
		"properties": []string{"email", "firstname", "lastname", "lastmodifieddate"},
	})
	return b
}

func serveOnce(tb testing.TB, h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(tb.Context(), method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func BenchmarkSearchDelta50k(b *testing.B) {
	s := newLargeSim(b, 0)
	h := s.Handler()
	body := deltaSearch(defaultEpoch().AddDate(0, -6, 0))
	b.ResetTimer()
	for b.Loop() {
		rec := serveOnce(b, h, http.MethodPost, "/crm/v3/objects/contacts/search", body)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkListPage50k(b *testing.B) {
	s := newLargeSim(b, 0)
	h := s.Handler()
	after := encodeAfter(s.objects[contactsKind].entries[40000].id)
	b.ResetTimer()
	for b.Loop() {
		rec := serveOnce(b, h, http.MethodGet, "/crm/v3/objects/contacts?limit=100&after="+after, nil)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkMutateBurst12k(b *testing.B) {
	s := newLargeSim(b, 0)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Mutate(MutationSpec{Object: Contacts, Updates: 12000, SameTimestamp: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeed50k(b *testing.B) {
	for b.Loop() {
		newLargeSim(b, 0)
	}
}

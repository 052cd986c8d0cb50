package intake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/intake"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
)

const token = "signup-app-token-0123456789"

func setup(t *testing.T) (*store.Store, http.Handler) {
	t.Helper()
	s, err := store.Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.SetWriteTargets(t.Context(), []store.WriteTarget{
		{Integration: "acme", Object: "contacts", IDProperty: "email", MaxBytes: 2000},
		{Integration: "acme", Object: "deals", MaxBytes: 2000},
		{Integration: "other", Object: "contacts", IDProperty: "email", MaxBytes: 2000},
	}))
	h, err := intake.New(intake.Options{
		Targets: map[string]map[string]intake.Target{
			"acme":  {"contacts": {IDProperty: "email", MaxBytes: 2000}, "deals": {MaxBytes: 2000}},
			"other": {"contacts": {IDProperty: "email", MaxBytes: 2000}},
		},
		Apps:  []intake.App{{Name: "signup", Token: token, Integrations: []string{"acme"}}},
		Queue: s,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Register(mux)
	return s, mux
}

func post(t *testing.T, h http.Handler, path, auth, body string, header ...string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if auth != "" {
		r.Header.Set("Authorization", "Bearer "+auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out), w.Body.String())
	return w.Code, out
}

func outboxCount(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM write_outbox`).Scan(&n))
	return n
}

func TestIntakeQueuesValidWritesAtOnce(t *testing.T) {
	t.Parallel()
	s, h := setup(t)
	code, out := post(t, h, "/v1/writes/acme/contacts", token, `{"properties":{"email":"ann@example.com","firstname":"Ann","age":31}}`,
		"Idempotency-Key", "signup-1")
	require.Equal(t, http.StatusAccepted, code, out)
	require.EqualValues(t, 1, out["queued"])

	code, out = post(t, h, "/v1/writes/acme/contacts", token, `{"properties":{"email":"ann@example.com","firstname":"Ann"}}`,
		"Idempotency-Key", "signup-1")
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, 0, out["queued"])
	require.EqualValues(t, 1, out["duplicates"], "a retried request is the same write")

	code, out = post(t, h, "/v1/writes/acme/deals", token, `{"records":[{"id":"901","properties":{"amount":"10"}},{"id":"902","properties":{"amount":"20"},"idempotency_key":"o-2"}]}`)
	require.Equal(t, http.StatusAccepted, code, out)
	require.EqualValues(t, 2, out["queued"])
	require.Equal(t, 3, outboxCount(t, s))
	var app, key string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT app, record_key FROM write_outbox WHERE record_id = '902'`).Scan(&app, &key))
	require.Equal(t, "signup", app)
	require.Equal(t, "902", key)
}

func TestIntakeRefusesBadRequestsWithClearErrorsAndQueuesNothing(t *testing.T) {
	t.Parallel()
	s, h := setup(t)
	big := fmt.Sprintf(`{"properties":{"email":"a@b.c","notes":"%s"}}`, strings.Repeat("x", 3000))
	many := `{"records":[` + strings.TrimSuffix(strings.Repeat(`{"properties":{"email":"a@b.c"}},`, intake.MaxRecords+1), ",") + `]}`
	for name, tc := range map[string]struct {
		path, auth, body string
		code             int
		want             string
	}{
		"no token":            {"/v1/writes/acme/contacts", "", `{"properties":{"email":"a@b.c"}}`, 401, "bearer token"},
		"wrong token":         {"/v1/writes/acme/contacts", "nope-nope-nope-nope", `{"properties":{"email":"a@b.c"}}`, 401, "bearer token"},
		"unknown integration": {"/v1/writes/nope/contacts", token, `{"properties":{"email":"a@b.c"}}`, 404, `unknown integration "nope"`},
		"not allowed":         {"/v1/writes/other/contacts", token, `{"properties":{"email":"a@b.c"}}`, 403, "may not write to integration other"},
		"unknown object":      {"/v1/writes/acme/tickets", token, `{"properties":{"email":"a@b.c"}}`, 404, `takes no writes to "tickets"`},
		"not json":            {"/v1/writes/acme/contacts", token, `email=a@b.c`, 400, "not a JSON object"},
		"missing id property": {"/v1/writes/acme/contacts", token, `{"records":[{"properties":{"email":"ok@b.c"}},{"properties":{"firstname":"Ann"}}]}`, 422, `needs "id" or the property "email"`},
		"deal without id":     {"/v1/writes/acme/deals", token, `{"properties":{"amount":"1"}}`, 422, `"id" (the record's CRM id) is required`},
		"nested value":        {"/v1/writes/acme/contacts", token, `{"properties":{"email":"a@b.c","x":{"y":1}}}`, 422, `property "x" is not a string`},
		"oversized record":    {"/v1/writes/acme/contacts", token, big, 413, "more than the 2000 allowed"},
		"too many records":    {"/v1/writes/acme/contacts", token, many, 413, "at most 1000 per request"},
		"empty":               {"/v1/writes/acme/contacts", token, `{"records":[]}`, 400, "is empty"},
	} {
		code, out := post(t, h, tc.path, tc.auth, tc.body)
		require.Equal(t, tc.code, code, "%s: %v", name, out)
		require.Contains(t, fmt.Sprint(out), tc.want, name)
	}
	require.Zero(t, outboxCount(t, s), "nothing refused was queued")
}

func TestIntakeTellsWhereAWriteStands(t *testing.T) {
	t.Parallel()
	s, h := setup(t)
	code, out := post(t, h, "/v1/writes/acme/contacts", token, `{"properties":{"email":"ann@example.com"}}`)
	require.Equal(t, http.StatusAccepted, code)
	seq := int64(out["writes"].([]any)[0].(map[string]any)["seq"].(float64))

	get := func(path, auth string) (int, map[string]any) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
		return w.Code, body
	}
	code, st := get(fmt.Sprintf("/v1/writes/acme/contacts/%d", seq), token)
	require.Equal(t, http.StatusOK, code, st)
	require.Equal(t, "pending", st["state"])
	require.EqualValues(t, seq, st["seq"])

	_, err := s.Pool().Exec(t.Context(), `UPDATE write_outbox SET state = 'sent', crm_id = '901', done_at = now() WHERE seq = $1`, seq)
	require.NoError(t, err)
	_, st = get(fmt.Sprintf("/v1/writes/acme/contacts/%d", seq), token)
	require.Equal(t, "sent", st["state"])
	require.Equal(t, "901", st["crm_id"])

	code, _ = get(fmt.Sprintf("/v1/writes/acme/deals/%d", seq), token)
	require.Equal(t, http.StatusNotFound, code, "another object's path")
	code, _ = get("/v1/writes/acme/contacts/999999", token)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = get("/v1/writes/acme/contacts/abc", token)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = get(fmt.Sprintf("/v1/writes/acme/contacts/%d", seq), "wrong-token-wrong-token")
	require.Equal(t, http.StatusUnauthorized, code)
}

package hubspot_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
)

// recorded is one request a writeServer received.
type recorded struct {
	path string
	body map[string]any
}

// writeServer answers every request with status and body and records what it got.
func writeServer(t *testing.T, status int, body string) (*hubspot.Client, *[]recorded) {
	t.Helper()
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		got = append(got, recorded{path: r.URL.Path, body: m})
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("X-HubSpot-RateLimit-Max", "100")
		w.Header().Set("X-HubSpot-RateLimit-Remaining", "42")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: "pat-na1-secret-token"})
	require.NoError(t, err)
	return c, &got
}

func TestUpsertSendsInputsAndReadsNew(t *testing.T) {
	t.Parallel()
	c, got := writeServer(t, http.StatusOK, `{"status":"COMPLETE","results":[
		{"id":"512","new":false,"objectWriteTraceId":"t-2","properties":{"email":"b@example.com"},"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","archived":false},
		{"id":"901","new":true,"objectWriteTraceId":"t-1","properties":{"email":"a@example.com"},"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","archived":false}],
		"startedAt":"2026-01-01T00:00:00Z","completedAt":"2026-01-01T00:00:01Z"}`)
	res, err := c.Upsert(t.Context(), crm.Contacts, []crm.WriteInput{
		{TraceID: "t-1", ID: "a@example.com", IDProperty: "email", Properties: map[string]string{"firstname": "Ann"}},
		{TraceID: "t-2", ID: "b@example.com", IDProperty: "email"},
	})
	require.NoError(t, err)

	require.Len(t, *got, 1)
	req := (*got)[0]
	require.Equal(t, "/crm/v3/objects/contacts/batch/upsert", req.path)
	require.Equal(t, map[string]any{"inputs": []any{
		map[string]any{"id": "a@example.com", "idProperty": "email", "objectWriteTraceId": "t-1",
			"properties": map[string]any{"firstname": "Ann"}},
		map[string]any{"id": "b@example.com", "idProperty": "email", "objectWriteTraceId": "t-2",
			"properties": map[string]any{}},
	}}, req.body)

	require.ElementsMatch(t, []crm.Written{
		{TraceID: "t-1", ID: "901", Created: true},
		{TraceID: "t-2", ID: "512", Created: false},
	}, res.Written)
	require.Empty(t, res.Failed)
	require.Equal(t, 42, res.RateLimit.Remaining)
}

func TestUpdateAndCreateSendTheirShapes(t *testing.T) {
	t.Parallel()
	c, got := writeServer(t, http.StatusOK, `{"status":"COMPLETE","results":[]}`)
	_, err := c.Update(t.Context(), crm.Deals, []crm.WriteInput{{TraceID: "u", ID: "77", Properties: map[string]string{"amount": "10"}}})
	require.NoError(t, err)
	_, err = c.Create(t.Context(), crm.Companies, []crm.WriteInput{{TraceID: "c", Properties: map[string]string{"name": "Acme"}}})
	require.NoError(t, err)

	require.Len(t, *got, 2)
	require.Equal(t, "/crm/v3/objects/deals/batch/update", (*got)[0].path)
	require.Equal(t, []any{map[string]any{"id": "77", "objectWriteTraceId": "u", "properties": map[string]any{"amount": "10"}}},
		(*got)[0].body["inputs"], "update by CRM id sends no idProperty")
	require.Equal(t, "/crm/v3/objects/companies/batch/create", (*got)[1].path)
	require.Equal(t, []any{map[string]any{"objectWriteTraceId": "c", "properties": map[string]any{"name": "Acme"}}},
		(*got)[1].body["inputs"], "create sends no id")
}

// TestMultiStatusIsMatchedByTraceID: a 207 with results and errors in no particular order,
// a result without objectWriteTraceId, and errors naming inputs by trace id or by id.
func TestMultiStatusIsMatchedByTraceID(t *testing.T) {
	t.Parallel()
	c, _ := writeServer(t, http.StatusMultiStatus, `{"status":"COMPLETE","numErrors":4,
		"results":[
			{"id":"13","objectWriteTraceId":"t-3","properties":{}},
			{"id":"11","properties":{"hs_object_id":"11"}},
			{"id":"99","objectWriteTraceId":"someone-else","properties":{}}],
		"errors":[
			{"status":"error","category":"VALIDATION_ERROR","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address bad@ is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]",
			 "context":{"objectWriteTraceId":["t-2"]},"errors":[],"links":{}},
			{"status":"error","category":"OBJECT_NOT_FOUND","message":"Could not get some CONTACT objects","context":{"ids":["14","404"]}},
			{"status":"error","category":"INTERNAL_ERROR","message":"try again","context":{"objectWriteTraceId":["t-5","t-6"]}},
			{"status":"error","category":"SOMETHING_NEW","message":"?","context":{"objectWriteTraceId":["t-7"]}}]}`)
	inputs := make([]crm.WriteInput, 7)
	for i := range inputs {
		inputs[i] = crm.WriteInput{TraceID: "t-" + strconv.Itoa(i+1), ID: strconv.Itoa(11 + i)}
	}
	res, err := c.Update(t.Context(), crm.Contacts, inputs)
	require.NoError(t, err)

	require.ElementsMatch(t, []crm.Written{{TraceID: "t-1", ID: "11"}, {TraceID: "t-3", ID: "13"}}, res.Written,
		"a result without a trace id is matched by id; a stranger's trace id is ignored")
	require.Len(t, res.Failed, 5)
	byTrace := map[string]crm.ItemError{}
	for _, f := range res.Failed {
		byTrace[f.TraceID] = f
	}
	require.Equal(t, "VALIDATION_ERROR", byTrace["t-2"].Category)
	require.Contains(t, byTrace["t-2"].Message, "INVALID_EMAIL")
	require.False(t, byTrace["t-2"].Retryable)
	require.Equal(t, "OBJECT_NOT_FOUND", byTrace["t-4"].Category, "matched through context ids")
	require.False(t, byTrace["t-4"].Retryable)
	require.True(t, byTrace["t-5"].Retryable)
	require.True(t, byTrace["t-6"].Retryable)
	require.True(t, byTrace["t-7"].Retryable, "an unknown category may succeed later")
}

func TestUpsertResultWithoutTraceIDIsMatchedByItsProperty(t *testing.T) {
	t.Parallel()
	c, _ := writeServer(t, http.StatusOK, `{"status":"COMPLETE","results":[
		{"id":"5","new":true,"properties":{"email":"mixed@example.com"}},
		{"id":"6","new":false,"properties":{"firstname":"no email here"}}]}`)
	res, err := c.Upsert(t.Context(), crm.Contacts, []crm.WriteInput{
		{TraceID: "a", ID: "Mixed@Example.com", IDProperty: "email"},
		{TraceID: "b", ID: "other@example.com", IDProperty: "email"},
	})
	require.NoError(t, err)
	require.Equal(t, []crm.Written{{TraceID: "a", ID: "5", Created: true}}, res.Written,
		"HubSpot lower-cases emails; a result naming no input is left out")
	require.Empty(t, res.Failed)
}

func TestCreateResultWithoutTraceIDIsLeftUnmatched(t *testing.T) {
	t.Parallel()
	c, _ := writeServer(t, http.StatusCreated, `{"status":"COMPLETE","results":[
		{"id":"5","properties":{"name":"Acme"}},
		{"id":"6","objectWriteTraceId":"b","properties":{"name":"Beta"}}]}`)
	res, err := c.Create(t.Context(), crm.Companies, []crm.WriteInput{
		{TraceID: "a", Properties: map[string]string{"name": "Acme"}},
		{TraceID: "b", Properties: map[string]string{"name": "Beta"}},
	})
	require.NoError(t, err)
	require.Equal(t, []crm.Written{{TraceID: "b", ID: "6", Created: true}}, res.Written)
	require.Empty(t, res.Failed)
}

func TestWholeRequestFailuresAreAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		kind   crm.Kind
	}{
		{name: "429", status: 429, body: `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`,
			kind: crm.KindRateLimited},
		{name: "400", status: 400, body: `{"status":"error","message":"Duplicate IDs found in batch input","category":"VALIDATION_ERROR"}`,
			kind: crm.KindInvalid},
		{name: "401", status: 401, body: `{"status":"error","message":"expired","category":"INVALID_AUTHENTICATION"}`,
			kind: crm.KindUnauthorized},
		{name: "503", status: 503, body: `{"status":"error","message":"Service Unavailable","category":"SERVICE_UNAVAILABLE"}`,
			kind: crm.KindUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := writeServer(t, tc.status, tc.body)
			res, err := c.Upsert(t.Context(), crm.Contacts, []crm.WriteInput{{TraceID: "a", ID: "a@example.com", IDProperty: "email"}})
			var ae *crm.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tc.kind, ae.Kind)
			require.Equal(t, "POST /crm/v3/objects/contacts/batch/upsert", ae.Endpoint)
			require.Empty(t, res.Written)
			require.Empty(t, res.Failed)
			require.Equal(t, 42, res.RateLimit.Remaining, "the quota headers come back with the error")
		})
	}
	t.Run("429 waits the window", func(t *testing.T) {
		t.Parallel()
		c, _ := writeServer(t, 429, tests[0].body)
		_, err := c.Create(t.Context(), crm.Deals, []crm.WriteInput{{TraceID: "a"}})
		var ae *crm.APIError
		require.ErrorAs(t, err, &ae)
		require.True(t, ae.Retryable())
		require.Positive(t, ae.RetryAfter)
	})
}

func TestBadWriteInputsAreRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	many := make([]crm.WriteInput, 101)
	for i := range many {
		many[i] = crm.WriteInput{TraceID: strconv.Itoa(i), ID: strconv.Itoa(i)}
	}
	tests := []struct {
		name   string
		op     string
		inputs []crm.WriteInput
		want   string
	}{
		{name: "too many", op: "update", inputs: many, want: "101 inputs, at most 100"},
		{name: "no trace id", op: "create", inputs: []crm.WriteInput{{}}, want: "no trace id"},
		{name: "trace id twice", op: "create", inputs: []crm.WriteInput{{TraceID: "a"}, {TraceID: "a"}}, want: "appears twice"},
		{name: "update without id", op: "update", inputs: []crm.WriteInput{{TraceID: "a"}}, want: "has no id"},
		{name: "upsert without idProperty", op: "upsert", inputs: []crm.WriteInput{{TraceID: "a", ID: "x@y.z"}}, want: "names no idProperty"},
		{name: "upsert with mixed idProperty", op: "upsert",
			inputs: []crm.WriteInput{{TraceID: "a", ID: "x@y.z", IDProperty: "email"}, {TraceID: "b", ID: "1", IDProperty: "hs_object_id"}},
			want:   "different idProperty"},
		{name: "upsert of one email twice", op: "upsert",
			inputs: []crm.WriteInput{{TraceID: "a", ID: "x@y.z", IDProperty: "email"}, {TraceID: "b", ID: "X@y.z", IDProperty: "email"}},
			want:   "appears twice"},
		{name: "create with an id", op: "create", inputs: []crm.WriteInput{{TraceID: "a", ID: "5"}}, want: "create makes new records"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, got := writeServer(t, 200, `{}`)
			ops := map[string]func() (crm.WriteResult, error){
				"create": func() (crm.WriteResult, error) { return c.Create(t.Context(), crm.Contacts, tc.inputs) },
				"update": func() (crm.WriteResult, error) { return c.Update(t.Context(), crm.Contacts, tc.inputs) },
				"upsert": func() (crm.WriteResult, error) { return c.Upsert(t.Context(), crm.Contacts, tc.inputs) },
			}
			_, err := ops[tc.op]()
			require.ErrorContains(t, err, tc.want)
			var ae *crm.APIError
			require.NotErrorAs(t, err, &ae, "a caller's mistake is not a CRM failure")
			require.Empty(t, *got, "nothing is sent")
		})
	}
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		c, got := writeServer(t, 200, `{}`)
		res, err := c.Upsert(t.Context(), crm.Contacts, nil)
		require.NoError(t, err)
		require.Equal(t, crm.WriteResult{}, res)
		require.Empty(t, *got, "no inputs, no call")
	})
}

func TestRetryableCategory(t *testing.T) {
	t.Parallel()
	for cat, want := range map[string]bool{
		"RATE_LIMITS": true, "INTERNAL_ERROR": true, "LOCKED": true, "SERVICE_UNAVAILABLE": true, "TIMEOUT": true,
		"SOMETHING_NEW": true, "": true,
		"VALIDATION_ERROR": false, "OBJECT_NOT_FOUND": false, "CONFLICT": false, "MISSING_SCOPES": false,
		"INVALID_AUTHENTICATION": false, "INVALID_EMAIL": false,
	} {
		require.Equal(t, want, hubspot.RetryableCategory(cat), cat)
	}
}

func TestBatchReadByUniqueProperty(t *testing.T) {
	t.Parallel()
	c, got := writeServer(t, http.StatusOK, `{"status":"COMPLETE","results":[
		{"id":"5","properties":{"email":"a@example.com"},"updatedAt":"2026-01-01T00:00:00Z"}]}`)
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"a@example.com"},
		IDProperty: "email", Properties: []string{"email"}})
	require.NoError(t, err)
	require.Equal(t, "5", page.Records[0].ID)
	require.Equal(t, "email", (*got)[0].body["idProperty"])

	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"5"}})
	require.NoError(t, err)
	require.NotContains(t, (*got)[1].body, "idProperty", "by CRM id: no idProperty")
}

package crmsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	createPath = "/crm/v3/objects/contacts/batch/create"
	updatePath = "/crm/v3/objects/contacts/batch/update"
	upsertPath = "/crm/v3/objects/contacts/batch/upsert"
)

// writeReply decodes a batch write response.
type writeReply struct {
	Status  string `json:"status"`
	Results []struct {
		apiRecord
		New                *bool  `json:"new"`
		ObjectWriteTraceID string `json:"objectWriteTraceId"`
	} `json:"results"`
	NumErrors int `json:"numErrors"`
	Errors    []struct {
		Status   string              `json:"status"`
		Category string              `json:"category"`
		Message  string              `json:"message"`
		Errors   []errorDetail       `json:"errors"`
		Context  map[string][]string `json:"context"`
	} `json:"errors"`
	StartedAt   string `json:"startedAt"`
	CompletedAt string `json:"completedAt"`
}

func decodeWrite(t *testing.T, r response, status int) writeReply {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	var w writeReply
	require.NoError(t, json.Unmarshal(r.body, &w))
	return w
}

// in builds one input; id and trace may be empty.
func in(trace, id string, props map[string]any) map[string]any {
	m := map[string]any{"properties": props}
	if trace != "" {
		m["objectWriteTraceId"] = trace
	}
	if id != "" {
		m["id"] = id
	}
	return m
}

func inputs(ins ...map[string]any) map[string]any { return map[string]any{"inputs": ins} }

func TestBatchCreate(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 61, Contacts: 30})
	before := snapshot(t, h.sim, Contacts)
	lastID, _ := strconv.ParseInt(before[len(before)-1].ID, 10, 64)
	h.clock.Advance(time.Hour)
	now := h.clock.Now().UTC()

	w := decodeWrite(t, h.post(t, createPath, inputs(
		in("t-1", "", map[string]any{"email": "new.one@example.com", "firstname": "New", "lifecyclestage": "lead"}),
		in("t-2", "", map[string]any{"firstname": "Nameless", "phone": nil}),
	)), http.StatusCreated)

	require.Equal(t, "COMPLETE", w.Status)
	require.Zero(t, w.NumErrors)
	require.Len(t, w.Results, 2)
	for i, r := range w.Results {
		require.Equal(t, strconv.FormatInt(lastID+int64(i)+1, 10), r.ID, "new records take the next ids")
		require.Equal(t, "t-"+strconv.Itoa(i+1), r.ObjectWriteTraceID)
		require.Nil(t, r.New, `"new" is upsert's`)
		require.False(t, r.Archived)
		require.Equal(t, now.Format(isoMillis), r.CreatedAt)
		require.Equal(t, now.Format(isoMillis), r.UpdatedAt)
		require.Equal(t, r.ID, *r.Properties["hs_object_id"])
		require.Equal(t, now.Format(isoMillis), *r.Properties["createdate"])
		require.Equal(t, now.Format(isoMillis), *r.Properties["lastmodifieddate"])
	}
	require.Equal(t, "new.one@example.com", *w.Results[0].Properties["email"])
	require.Equal(t, "lead", *w.Results[0].Properties["lifecyclestage"])
	require.NotContains(t, w.Results[0].Properties, "city", "only written and core properties come back")

	// The new records are in the ground truth, the listing, search and batch read by email.
	recs := byID(snapshot(t, h.sim, Contacts))
	require.Len(t, recs, len(before)+2)
	require.Equal(t, "New", recs[w.Results[0].ID].Properties["firstname"])
	require.Equal(t, now, recs[w.Results[0].ID].CreatedAt)
	require.Contains(t, ids(h.walkList(t, Contacts, "limit=100")), w.Results[1].ID)
	p := decodePage(t, h.post(t, searchPath, filterReq([]map[string]any{
		f("lastmodifieddate", "GTE", strconv.FormatInt(now.UnixMilli(), 10))})))
	require.ElementsMatch(t, []string{w.Results[0].ID, w.Results[1].ID}, ids(p.Results))
	p = decodePage(t, h.post(t, "/crm/v3/objects/contacts/batch/read", map[string]any{
		"idProperty": "email", "inputs": []map[string]string{{"id": "NEW.ONE@example.com"}}}))
	require.Equal(t, []string{w.Results[0].ID}, ids(p.Results))

	st := h.sim.WriteStats()
	require.Equal(t, WriteStats{Applied: 2, Created: 2, TraceIDs: 2, DuplicateTraceIDs: []string{}}, st)
	require.Equal(t, 1, h.sim.AppliedCount("t-1"))
	require.Equal(t, 1, h.sim.Stats().ByEndpoint["batch_create contacts"][http.StatusCreated])
}

func TestBatchUpsertByEmail(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 62, Contacts: 40})
	var existing Record
	for _, r := range snapshot(t, h.sim, Contacts) {
		if r.Properties["email"] != "" {
			existing = r
			break
		}
	}
	require.NotEmpty(t, existing.ID)
	h.clock.Advance(time.Minute)
	now := h.clock.Now().UTC()

	body := inputs(
		map[string]any{"id": strings.ToUpper(existing.Properties["email"]), "idProperty": "email", "objectWriteTraceId": "a",
			"properties": map[string]any{"jobtitle": "CTO"}},
		map[string]any{"id": "fresh@example.com", "idProperty": "email", "objectWriteTraceId": "b",
			"properties": map[string]any{"firstname": "Fresh"}},
	)
	w := decodeWrite(t, h.post(t, upsertPath, body), http.StatusOK)
	require.Len(t, w.Results, 2)
	require.Equal(t, existing.ID, w.Results[0].ID, "matched without regard to case")
	require.False(t, *w.Results[0].New)
	require.Equal(t, "CTO", *w.Results[0].Properties["jobtitle"])
	require.True(t, *w.Results[1].New)
	require.Equal(t, "fresh@example.com", *w.Results[1].Properties["email"], "a new record holds the idProperty value")

	recs := byID(snapshot(t, h.sim, Contacts))
	upd := recs[existing.ID]
	require.Equal(t, "CTO", upd.Properties["jobtitle"])
	require.Equal(t, existing.Properties["email"], upd.Properties["email"], "the stored email keeps its case")
	require.Equal(t, now, upd.UpdatedAt)
	require.Equal(t, now.Format(isoMillis), upd.Properties["lastmodifieddate"])
	require.Equal(t, existing.CreatedAt, upd.CreatedAt)
	require.Equal(t, "Fresh", recs[w.Results[1].ID].Properties["firstname"])

	// The same batch again changes nothing's identity: both exist now.
	h.clock.Advance(time.Second)
	w = decodeWrite(t, h.post(t, upsertPath, body), http.StatusOK)
	require.False(t, *w.Results[0].New)
	require.False(t, *w.Results[1].New)
	require.Len(t, snapshot(t, h.sim, Contacts), len(recs))

	st := h.sim.WriteStats()
	require.Equal(t, 4, st.Applied)
	require.Equal(t, 1, st.Created)
	require.Equal(t, 2, st.Duplicates, "each trace id was applied twice")
	require.Equal(t, []string{"a", "b"}, st.DuplicateTraceIDs)
	require.Equal(t, 2, h.sim.AppliedCount("b"))
	require.Equal(t, 2, h.sim.Stats().Calls("batch_upsert contacts"))
}

// TestBatchWritePartialFailures: invalid inputs fail one by one in a 207, named by trace
// id, and are not applied; the valid ones are.
func TestBatchWritePartialFailures(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 63, Contacts: 20})
	recs := snapshot(t, h.sim, Contacts)
	h.clock.Advance(time.Minute)

	w := decodeWrite(t, h.post(t, updatePath, inputs(
		in("ok", recs[0].ID, map[string]any{"city": "Lyon"}),
		in("missing", "999999", map[string]any{"city": "Nowhere"}),
		in("email", recs[1].ID, map[string]any{"email": "bad@"}),
		in("nosuch", recs[2].ID, map[string]any{"favourite_colour": "blue", "city": "Oslo"}),
		in("option", recs[3].ID, map[string]any{"lifecyclestage": "king"}),
		in("readonly", recs[4].ID, map[string]any{"lastmodifieddate": "2020-01-01T00:00:00Z"}),
		in("missing2", "999998", map[string]any{"city": "Nowhere"}),
	)), http.StatusMultiStatus)

	require.Len(t, w.Results, 1)
	require.Equal(t, "ok", w.Results[0].ObjectWriteTraceID)
	require.Equal(t, "Lyon", *w.Results[0].Properties["city"])
	require.Equal(t, len(w.Errors), w.NumErrors)
	byTrace := map[string]int{}
	for k, e := range w.Errors {
		require.Equal(t, "error", e.Status)
		for _, tr := range e.Context["objectWriteTraceId"] {
			byTrace[tr] = k
		}
		require.NotContains(t, e.Context, "ids", "inputs with trace ids are named by them")
	}
	require.Len(t, byTrace, 6)
	require.Equal(t, byTrace["missing"], byTrace["missing2"], "one error per category and message")
	nf := w.Errors[byTrace["missing"]]
	require.Equal(t, "OBJECT_NOT_FOUND", nf.Category)
	require.Equal(t, []string{"missing", "missing2"}, nf.Context["objectWriteTraceId"])

	em := w.Errors[byTrace["email"]]
	require.Equal(t, "VALIDATION_ERROR", em.Category)
	require.Equal(t, `Property values were not valid: [{"isValid":false,"message":"Email address bad@ is invalid","error":"INVALID_EMAIL","name":"email"}]`, em.Message)
	require.Equal(t, []errorDetail{{Message: "Email address bad@ is invalid", Code: "INVALID_EMAIL",
		Context: map[string][]string{"propertyName": {"email"}}}}, em.Errors)
	for trace, code := range map[string]string{"nosuch": "PROPERTY_DOESNT_EXIST", "option": "INVALID_OPTION", "readonly": "READ_ONLY_VALUE"} {
		e := w.Errors[byTrace[trace]]
		require.Equal(t, "VALIDATION_ERROR", e.Category, trace)
		require.Contains(t, e.Message, `"error":"`+code+`"`, trace)
	}

	after := byID(snapshot(t, h.sim, Contacts))
	require.Equal(t, "Lyon", after[recs[0].ID].Properties["city"])
	for _, r := range recs[1:5] {
		require.Equal(t, r, after[r.ID], "a refused input changes nothing, not even the valid properties beside it")
	}
	require.Len(t, after, len(recs), "update never creates")
	st := h.sim.WriteStats()
	require.Equal(t, 1, st.Applied)
	require.Equal(t, 6, st.Failed)

	t.Run("without trace ids the inputs are named by id", func(t *testing.T) {
		w := decodeWrite(t, h.post(t, updatePath, inputs(
			in("", recs[5].ID, map[string]any{"city": "Bern"}),
			in("", "999999", map[string]any{"city": "Bern"}),
		)), http.StatusMultiStatus)
		require.Len(t, w.Results, 1)
		require.Empty(t, w.Results[0].ObjectWriteTraceID)
		require.Equal(t, map[string][]string{"ids": {"999999"}}, w.Errors[0].Context)
		require.Equal(t, 1, h.sim.WriteStats().Untraced)
	})
}

func TestBatchCreateConflicts(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 64, Contacts: 20})
	var taken Record
	for _, r := range snapshot(t, h.sim, Contacts) {
		if r.Properties["email"] != "" {
			taken = r
			break
		}
	}
	w := decodeWrite(t, h.post(t, createPath, inputs(
		in("dup-existing", "", map[string]any{"email": strings.ToUpper(taken.Properties["email"])}),
		in("first", "", map[string]any{"email": "twice@example.com"}),
		in("second", "", map[string]any{"email": "twice@example.com"}),
	)), http.StatusMultiStatus)
	require.Len(t, w.Results, 1)
	require.Equal(t, "first", w.Results[0].ObjectWriteTraceID)
	require.Len(t, w.Errors, 2)
	require.Equal(t, "CONFLICT", w.Errors[0].Category)
	require.Equal(t, "Contact already exists. Existing ID: "+taken.ID, w.Errors[0].Message)
	require.Equal(t, []string{"dup-existing"}, w.Errors[0].Context["objectWriteTraceId"])
	require.Equal(t, "CONFLICT", w.Errors[1].Category)
	require.Equal(t, []string{"second"}, w.Errors[1].Context["objectWriteTraceId"])

	// An update may not take another contact's email either.
	w = decodeWrite(t, h.post(t, updatePath, inputs(
		in("steal", w.Results[0].ID, map[string]any{"email": taken.Properties["email"]}))), http.StatusMultiStatus)
	require.Equal(t, "CONFLICT", w.Errors[0].Category)
}

func TestBatchWriteRefusesWholeRequests(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 65, Contacts: 10})
	recs := snapshot(t, h.sim, Contacts)
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = in(strconv.Itoa(i), "", map[string]any{"firstname": "x"})
	}
	tests := []struct {
		name string
		path string
		body any
		want string
	}{
		{name: "more than 100 inputs", path: createPath, body: inputs(many...), want: "Too many inputs: 101. The maximum is 100."},
		{name: "upsert by a non-unique property", path: upsertPath,
			body: inputs(map[string]any{"id": "Ann", "idProperty": "firstname", "properties": map[string]any{}}),
			want: "Unable to perform update/upsert by non-unique 0-1 property firstname in portal ID 62515"},
		{name: "update by hs_object_id", path: updatePath,
			body: inputs(map[string]any{"id": recs[0].ID, "idProperty": "hs_object_id", "properties": map[string]any{}}),
			want: "non-unique 0-1 property hs_object_id"},
		{name: "upsert without idProperty", path: upsertPath,
			body: inputs(map[string]any{"id": "a@example.com", "properties": map[string]any{}}), want: "idProperty is required"},
		{name: "update without id", path: updatePath, body: inputs(in("a", "", map[string]any{})), want: "inputs[0].id is required"},
		{name: "one record twice", path: updatePath,
			body: inputs(in("a", recs[0].ID, map[string]any{}), in("b", recs[0].ID, map[string]any{})),
			want: "Duplicate IDs found in batch input: [" + recs[0].ID + "]. IDs must be unique"},
		{name: "create without trace ids and an invalid input", path: createPath,
			body: inputs(in("", "", map[string]any{"firstname": "ok"}), in("", "", map[string]any{"email": "@x"})),
			want: "Email address @x is invalid"},
	}
	for _, tc := range tests {
		r := h.post(t, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, "VALIDATION_ERROR", r.json(t)["category"], tc.name)
		require.Contains(t, r.json(t)["message"], tc.want, tc.name)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL+createPath, strings.NewReader(`{"inputs":[`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "invalid JSON")
	require.Equal(t, recs, snapshot(t, h.sim, Contacts), "nothing was written")
	require.Zero(t, h.sim.WriteStats().Applied)
}

func TestWriteFaults(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 66, Contacts: 5, WriteFaults: WriteFaults{Every: 3}})
	batch := make([]map[string]any, 9)
	for i := range batch {
		batch[i] = map[string]any{"id": "p" + strconv.Itoa(i) + "@example.com", "idProperty": "email",
			"objectWriteTraceId": "w" + strconv.Itoa(i), "properties": map[string]any{"firstname": "P"}}
	}
	w := decodeWrite(t, h.post(t, upsertPath, inputs(batch...)), http.StatusMultiStatus)
	require.Len(t, w.Results, 6)
	require.Len(t, w.Errors, 1)
	require.Equal(t, DefaultWriteFaultCategory, w.Errors[0].Category)
	failed := w.Errors[0].Context["objectWriteTraceId"]
	require.Equal(t, []string{"w2", "w5", "w8"}, failed, "every third input, deterministically")
	for _, id := range failed {
		require.Zero(t, h.sim.AppliedCount(id), "a failed input is not applied")
	}

	// Turned off over HTTP, the failed inputs go through on retry: each applied once.
	r := h.call(t, http.MethodPost, "/_sim/write-faults", "", map[string]any{})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var retry []map[string]any
	for _, b := range batch {
		for _, id := range failed {
			if b["objectWriteTraceId"] == id {
				retry = append(retry, b)
			}
		}
	}
	w = decodeWrite(t, h.post(t, upsertPath, inputs(retry...)), http.StatusOK)
	require.Len(t, w.Results, 3)
	for _, res := range w.Results {
		require.True(t, *res.New)
	}
	st := h.sim.WriteStats()
	require.Equal(t, 9, st.Applied)
	require.Equal(t, 9, st.TraceIDs)
	require.Zero(t, st.Duplicates)
	require.Equal(t, 3, st.InjectedFaults)

	// A count: the next two inputs fail, with the chosen category, then none.
	r = h.call(t, http.MethodPost, "/_sim/write-faults", "", map[string]any{"count": 2, "category": "LOCKED"})
	require.Equal(t, http.StatusOK, r.status)
	w = decodeWrite(t, h.post(t, createPath, inputs(
		in("c1", "", map[string]any{"firstname": "A"}), in("c2", "", map[string]any{"firstname": "B"}),
		in("c3", "", map[string]any{"firstname": "C"}))), http.StatusMultiStatus)
	require.Equal(t, "LOCKED", w.Errors[0].Category)
	require.Equal(t, []string{"c1", "c2"}, w.Errors[0].Context["objectWriteTraceId"])
	decodeWrite(t, h.post(t, createPath, inputs(in("c4", "", map[string]any{"firstname": "D"}))), http.StatusCreated)

	// Sending an applied input again shows as a duplicate in the admin answer.
	decodeWrite(t, h.post(t, upsertPath, inputs(batch[0])), http.StatusOK)
	r = h.call(t, http.MethodGet, "/_sim/writes", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	var got WriteStats
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, 1, got.Duplicates)
	require.Equal(t, []string{"w0"}, got.DuplicateTraceIDs)
	require.Equal(t, 12, got.Applied)

	r = h.call(t, http.MethodPost, "/_sim/write-faults", "", map[string]any{"every": -1})
	require.Equal(t, http.StatusBadRequest, r.status)
	r = h.call(t, http.MethodPost, "/_sim/writes/reset", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, WriteStats{DuplicateTraceIDs: []string{}}, h.sim.WriteStats())

	_, err := New(Options{Tokens: []string{"x"}, WriteFaults: WriteFaults{Count: -2}})
	require.ErrorContains(t, err, "write faults count must not be negative")
}

func TestBatchWritesCountAgainstTheRateLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 67, Contacts: 5, TenSecondLimit: 2})
	body := inputs(in("a", "", map[string]any{"firstname": "A"}))
	require.Equal(t, http.StatusCreated, h.post(t, createPath, body).status)
	require.Equal(t, http.StatusOK, h.post(t, "/crm/v3/objects/contacts/batch/read", map[string]any{"inputs": []any{}}).status)
	r := h.post(t, createPath, inputs(in("b", "", map[string]any{"firstname": "B"})))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Zero(t, h.sim.AppliedCount("b"), "a rate-limited write is not applied")
	require.Equal(t, map[int]int{201: 1, 429: 1}, h.sim.Stats().ByEndpoint["batch_create contacts"])
}

func TestBatchWritesSendWebhooks(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := setupHooks(t, Options{Seed: 68, Contacts: 5, Companies: 3}, rcv)
	recs := snapshot(t, h.sim, Contacts)
	w := decodeWrite(t, h.post(t, createPath, inputs(in("n", "", map[string]any{"firstname": "Neo"}))), http.StatusCreated)
	decodeWrite(t, h.post(t, updatePath, inputs(in("u", recs[0].ID, map[string]any{"jobtitle": "Pilot " + recs[0].Properties["jobtitle"]}))),
		http.StatusOK)
	decodeWrite(t, h.post(t, "/crm/v3/objects/companies/batch/update", inputs(
		in("c", snapshot(t, h.sim, Companies)[0].ID, map[string]any{"city": "Quito"}))), http.StatusOK)
	flushHooks(t, h.sim)

	events := allEvents(rcv.received(t))
	require.Len(t, events, 3)
	newID, _ := strconv.ParseInt(w.Results[0].ID, 10, 64)
	require.Equal(t, "contact.creation", events[0].SubscriptionType)
	require.Equal(t, newID, events[0].ObjectID)
	require.Equal(t, "contact.propertyChange", events[1].SubscriptionType)
	require.Equal(t, "jobtitle", *events[1].PropertyName)
	require.Equal(t, "company.propertyChange", events[2].SubscriptionType)
	require.Equal(t, "Quito", *events[2].PropertyValue)
}

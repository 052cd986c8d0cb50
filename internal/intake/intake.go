// Package intake is the HTTP front of the write queue: applications POST the records they
// want written to the CRM, and get an answer as soon as the writes are durably queued in
// PostgreSQL's outbox. Nothing here calls the CRM; the WriteQueue workflows send the
// writes later, in batches, under the integration's quota.
//
//	POST /v1/writes/{integration}/{object}
//	Authorization: Bearer <the app's token>
//	Idempotency-Key: <optional, for a single record>
//
//	{"properties": {"email": "ann@example.com", "firstname": "Ann"}}
//	{"records": [{"properties": {...}}, {"id": "1234", "properties": {...}, "idempotency_key": "order-77"}]}
//
//	GET /v1/writes/{integration}/{object}/{seq}   where a write stands: pending, sending, sent or dead
//
// A request is all or nothing: one invalid record refuses the request, with every
// problem listed, and nothing is queued.
package intake

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/store"
)

// Path is the route the handler serves for queueing writes.
const Path = "/v1/writes/{integration}/{object}"

// StatusPath is the route that tells an application where one of its writes stands:
// GET /v1/writes/{integration}/{object}/{seq} answers a store.WriteState.
const StatusPath = "/v1/writes/{integration}/{object}/{seq}"

// Limits of one request.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 8 << 20
	// MaxRecords bounds the records of one request.
	MaxRecords = 1000
	// maxKeyLen bounds an idempotency key.
	maxKeyLen = 200
)

// Target is an object that takes writes.
type Target struct {
	// IDProperty names the unique property that names a record besides its CRM id; empty
	// when writes must carry the id.
	IDProperty string
	// MaxBytes bounds one record's properties (as JSON).
	MaxBytes int
}

// App is a calling application.
type App struct {
	Name  string
	Token string
	// Integrations it may write to; empty means all.
	Integrations []string
}

// Queuer queues writes durably, all or none, and reads them back (store.Store).
type Queuer interface {
	QueueWrites(ctx context.Context, ws []store.QueuedWrite) ([]store.Queued, error)
	WriteStatus(ctx context.Context, integration string, seq int64) (store.WriteState, bool, error)
}

// Options configures a Handler.
type Options struct {
	// Targets maps integration -> object -> target.
	Targets map[string]map[string]Target
	Apps    []App
	Queue   Queuer
	Logger  *zap.Logger
}

// Handler serves Path.
type Handler struct {
	opts Options
}

// New builds a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Queue == nil {
		return nil, errors.New("intake: a queue is required")
	}
	if len(opts.Apps) == 0 {
		return nil, errors.New("intake: no application may write: add intake.apps (name, token_env) to the config")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Handler{opts: opts}, nil
}

// Record is one record of a request.
type Record struct {
	// ID is the record's CRM id, to update it by id.
	ID string `json:"id,omitempty"`
	// Properties are the values to write.
	Properties json.RawMessage `json:"properties"`
	// IdempotencyKey makes a retried request's record the same write.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Problem is one reason a request was refused.
type Problem struct {
	// Record is the index of the record concerned, -1 for the request as a whole.
	Record  int    `json:"record"`
	Message string `json:"message"`
}

// Response is the answer to a request that was accepted.
type Response struct {
	Queued     int            `json:"queued"`
	Duplicates int            `json:"duplicates"`
	Writes     []store.Queued `json:"writes"`
}

// errorBody is the answer to a refused request.
type errorBody struct {
	Error    string    `json:"error"`
	Problems []Problem `json:"problems,omitempty"`
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, status int, msg string, problems ...Problem) {
	reply(w, status, errorBody{Error: msg, Problems: problems})
}

// Register serves the handler's routes on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(Path, h)
	mux.Handle(StatusPath, h)
}

// ServeHTTP handles one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	asksStatus := r.PathValue("seq") != ""
	allowed := http.MethodPost
	if asksStatus {
		allowed = http.MethodGet
	}
	if r.Method != allowed {
		w.Header().Set("Allow", allowed)
		refuse(w, http.StatusMethodNotAllowed, "use "+allowed)
		return
	}
	app, ok := h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="crmsync"`)
		refuse(w, http.StatusUnauthorized, "missing or unknown bearer token (Authorization: Bearer <your app's token>)")
		return
	}
	integration, object := r.PathValue("integration"), r.PathValue("object")
	targets, ok := h.opts.Targets[integration]
	if !ok {
		refuse(w, http.StatusNotFound, fmt.Sprintf("unknown integration %q", integration))
		return
	}
	if len(app.Integrations) > 0 && !slices.Contains(app.Integrations, integration) {
		refuse(w, http.StatusForbidden, fmt.Sprintf("app %s may not write to integration %s", app.Name, integration))
		return
	}
	target, ok := targets[object]
	if !ok {
		refuse(w, http.StatusNotFound, fmt.Sprintf("integration %s takes no writes to %q (it takes: %s)", integration, object, names(targets)))
		return
	}
	if asksStatus {
		h.serveStatus(w, r, integration, object)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		refuse(w, http.StatusUnsupportedMediaType, "send JSON (Content-Type: application/json)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes; send fewer records per request", MaxBodyBytes))
			return
		}
		refuse(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	records, status, msg := parse(body, r.Header.Get("Idempotency-Key"))
	if status != 0 {
		refuse(w, status, msg)
		return
	}
	writes := make([]store.QueuedWrite, len(records))
	var problems []Problem
	tooLarge := false
	for i, rec := range records {
		msg, large := check(rec, target)
		if msg != "" {
			problems = append(problems, Problem{Record: i, Message: msg})
			tooLarge = tooLarge || large
		}
		writes[i] = store.QueuedWrite{Integration: integration, Object: object, RecordID: strings.TrimSpace(rec.ID),
			Properties: rec.Properties, IdempotencyKey: rec.IdempotencyKey, App: app.Name}
	}
	if len(problems) > 0 {
		status := http.StatusUnprocessableEntity
		if tooLarge && len(problems) == 1 {
			status = http.StatusRequestEntityTooLarge
		}
		refuse(w, status, fmt.Sprintf("%d of %d records are invalid; nothing was queued", len(problems), len(records)), problems...)
		return
	}
	queued, err := h.opts.Queue.QueueWrites(r.Context(), writes)
	var refused *store.WriteRefusedError
	switch {
	case errors.As(err, &refused):
		refuse(w, http.StatusUnprocessableEntity, "nothing was queued", Problem{Record: refused.Index, Message: refused.Message})
		return
	case err != nil:
		h.opts.Logger.Error("queueing writes", zap.String("app", app.Name), zap.String("integration", integration), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "the write queue is unavailable; nothing was queued, try again")
		return
	}
	resp := Response{Writes: queued}
	for _, q := range queued {
		if q.Duplicate {
			resp.Duplicates++
		} else {
			resp.Queued++
		}
	}
	h.opts.Logger.Debug("writes queued", zap.String("app", app.Name), zap.String("integration", integration),
		zap.String("object", object), zap.Int("queued", resp.Queued), zap.Int("duplicates", resp.Duplicates))
	reply(w, http.StatusAccepted, resp)
}

// serveStatus answers where one write stands.
func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request, integration, object string) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq <= 0 {
		refuse(w, http.StatusBadRequest, fmt.Sprintf("%q is not a write's seq (the number the POST answered)", r.PathValue("seq")))
		return
	}
	st, found, err := h.opts.Queue.WriteStatus(r.Context(), integration, seq)
	if err != nil {
		h.opts.Logger.Error("reading a write's status", zap.String("integration", integration), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "the write queue is unavailable; try again")
		return
	}
	if !found || st.Object != object {
		refuse(w, http.StatusNotFound, fmt.Sprintf("no write %d to %s/%s (sent writes are forgotten after a week)", seq, integration, object))
		return
	}
	reply(w, http.StatusOK, st)
}

// authenticate finds the app whose token the request carries, comparing every token in
// constant time.
func (h *Handler) authenticate(r *http.Request) (App, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return App{}, false
	}
	var found App
	match := 0
	for _, app := range h.opts.Apps {
		if subtle.ConstantTimeCompare([]byte(token), []byte(app.Token)) == 1 {
			found, match = app, 1
		}
	}
	return found, match == 1
}

// parse reads a body: one record, or {"records": [...]}.
func parse(body []byte, headerKey string) ([]Record, int, string) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, http.StatusBadRequest, "the body is not a JSON object: " + err.Error()
	}
	var records []Record
	if raw, ok := probe["records"]; ok {
		if err := json.Unmarshal(raw, &records); err != nil {
			return nil, http.StatusBadRequest, `"records" must be an array of {"id"?, "properties", "idempotency_key"?}: ` + err.Error()
		}
		if headerKey != "" && len(records) != 1 {
			return nil, http.StatusBadRequest, "the Idempotency-Key header names one record; give each record its own idempotency_key instead"
		}
	} else {
		var rec Record
		if err := json.Unmarshal(body, &rec); err != nil {
			return nil, http.StatusBadRequest, "the body is not a record: " + err.Error()
		}
		records = []Record{rec}
	}
	if len(records) == 0 {
		return nil, http.StatusBadRequest, `"records" is empty`
	}
	if len(records) > MaxRecords {
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d records; at most %d per request", len(records), MaxRecords)
	}
	if headerKey != "" {
		if records[0].IdempotencyKey != "" && records[0].IdempotencyKey != headerKey {
			return nil, http.StatusBadRequest, "the Idempotency-Key header and the record's idempotency_key differ"
		}
		records[0].IdempotencyKey = headerKey
	}
	return records, 0, ""
}

// check validates one record against its target, as the outbox's trigger would, so that
// every problem of a request is reported at once. large says the record is too big.
func check(rec Record, t Target) (msg string, large bool) {
	if len(rec.IdempotencyKey) > maxKeyLen {
		return fmt.Sprintf("idempotency_key is longer than %d characters", maxKeyLen), false
	}
	if len(rec.Properties) == 0 {
		return `"properties" is required`, false
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(rec.Properties, &props); err != nil || props == nil {
		return `"properties" must be a JSON object of property name to value`, false
	}
	if len(props) == 0 {
		return `"properties" is empty: nothing to write`, false
	}
	if t.MaxBytes > 0 && len(rec.Properties) > t.MaxBytes {
		return fmt.Sprintf("properties are %d bytes, more than the %d allowed", len(rec.Properties), t.MaxBytes), true
	}
	for name, v := range props {
		if name == "" {
			return "a property has an empty name", false
		}
		switch strings.TrimSpace(string(v))[0] {
		case '{', '[':
			return fmt.Sprintf("property %q is not a string, number, boolean or null", name), false
		}
	}
	if strings.TrimSpace(rec.ID) != "" {
		return "", false
	}
	if t.IDProperty == "" {
		return `"id" (the record's CRM id) is required: this object is written by id`, false
	}
	var key string
	if raw, ok := props[t.IDProperty]; !ok || json.Unmarshal(raw, &key) != nil || strings.TrimSpace(key) == "" {
		return fmt.Sprintf(`the record needs "id" or the property %q as a non-empty string`, t.IDProperty), false
	}
	return "", false
}

func names(targets map[string]Target) string {
	var out []string
	for n := range targets {
		out = append(out, n)
	}
	if len(out) == 0 {
		return "nothing"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

package crmsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Page size limits.
const (
	listDefaultLimit   = 10
	listMaxLimit       = 100
	ownersDefaultLimit = 100
	ownersMaxLimit     = 500
	batchMaxInputs     = 100
)

// apiObject is HubSpot's SimplePublicObjectWithAssociations.
type apiObject struct {
	ID           string                   `json:"id"`
	Properties   renderedProps            `json:"properties"`
	CreatedAt    string                   `json:"createdAt"`
	UpdatedAt    string                   `json:"updatedAt"`
	Archived     bool                     `json:"archived"`
	ArchivedAt   string                   `json:"archivedAt,omitempty"`
	Associations map[string]associatedIDs `json:"associations,omitempty"`
}

// associatedIDs is HubSpot's CollectionResponseAssociatedId (without paging: the sim never
// has more associations than fit one page).
type associatedIDs struct {
	Results []associatedID `json:"results"`
}

type associatedID struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type paging struct {
	Next nextPage `json:"next"`
}

type nextPage struct {
	After string `json:"after"`
	Link  string `json:"link"`
}

type listResponse struct {
	Results []apiObject `json:"results"`
	Paging  *paging     `json:"paging,omitempty"`
}

func newPaging(after string) *paging {
	return &paging{Next: nextPage{After: after, Link: "?after=" + after}}
}

// render shapes one version of a record for the API, with the chosen properties (null for
// empty ones) and, optionally, associations.
func render(o *objectStore, e *entry, st *state, props []int, assoc []objectKind) apiObject {
	obj := apiObject{
		ID:         e.sid,
		Properties: renderedProps{typ: o.typ, st: st, props: props},
		CreatedAt:  formatTime(st.createdAt),
		UpdatedAt:  formatTime(st.updatedAt),
		Archived:   st.archived,
		ArchivedAt: formatTime(st.archivedAt),
	}
	for _, k := range assoc {
		ids := e.assoc[k]
		if len(ids) == 0 {
			continue
		}
		if obj.Associations == nil {
			obj.Associations = make(map[string]associatedIDs, len(assoc))
		}
		typ := o.typ.singular + "_to_" + singularOf(k)
		list := associatedIDs{Results: make([]associatedID, 0, len(ids))}
		for _, id := range sortedIDs(ids) {
			list.Results = append(list.Results, associatedID{ID: id, Type: typ})
		}
		obj.Associations[objectName(k)] = list
	}
	return obj
}

// renderedProps is a record version's chosen properties as HubSpot renders them: an object
// with each name (null for an empty value), in schema order. It writes the JSON itself:
// a wide record's hundreds of properties through a map would be sorted and allocated per
// record, which dominates the simulator's cost on a wide account.
type renderedProps struct {
	typ   *objectType
	st    *state
	props []int
}

// MarshalJSON writes the properties object.
func (p renderedProps) MarshalJSON() ([]byte, error) {
	return p.appendJSON(make([]byte, 0, 32*len(p.props)+2)), nil
}

// appendJSON appends the properties object.
func (p renderedProps) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for k, i := range p.props {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p.typ.props[i].Name)
		b = append(b, ':')
		if v := p.st.get(i); v == "" {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, v)
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it (HTML
// characters included), invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case '\u2028':
				b = append(b, `\u2028`...)
			case '\u2029':
				b = append(b, `\u2029`...)
			default:
				b = append(b, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func singularOf(k objectKind) string {
	return [numObjects]string{"contact", "company", "deal"}[k]
}

// selectProps resolves requested property names (repeated parameters and/or comma
// separated) to indices. Unknown names are ignored, as HubSpot does; no names at all means
// the object's defaults. HubSpot always adds the id, create and modified dates.
func selectProps(t *objectType, requested []string) []int {
	var out []int
	named := false
	for _, r := range requested {
		for _, n := range strings.Split(r, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			named = true
			if i, ok := t.index[n]; ok {
				out = append(out, i)
			}
		}
	}
	if !named {
		return t.defaults
	}
	out = append(out, t.core...)
	slices.Sort(out)
	return slices.Compact(out)
}

// selectAssociations resolves the associations parameter; unknown types are ignored.
func selectAssociations(t *objectType, requested []string) []objectKind {
	var out []objectKind
	for _, r := range requested {
		for _, n := range strings.Split(r, ",") {
			k, ok := kindByName(strings.TrimSpace(n))
			if ok && k != t.kind && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// encodeAfter builds a list cursor the way HubSpot's look: base64 of the next id and a
// newline, URL-escaped ("NTI1Cg%3D%3D" is 525).
func encodeAfter(id int64) string {
	return url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10) + "\n")))
}

// decodeAfter accepts a cursor whether or not the client unescaped it before sending it
// back, since both happen with HubSpot's already-escaped cursors.
func decodeAfter(v string) (int64, error) {
	if strings.Contains(v, "%") {
		u, err := url.QueryUnescape(v)
		if err != nil {
			return 0, fmt.Errorf("unescaping paging cursor: %w", err)
		}
		v = u
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
		if err != nil {
			return 0, fmt.Errorf("decoding paging cursor: %w", err)
		}
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("paging cursor holds no id: %w", err)
	}
	return id, nil
}

// queryLimit parses a page size; too large is clamped to maxLimit.
func queryLimit(v string, def, maxLimit int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit must be a positive integer, got %q", v)
	}
	return min(n, maxLimit), nil
}

func queryBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid boolean %q", v)
	}
	return b, nil
}

func badRequest(c *call, msg string) reply {
	return errorReply(http.StatusBadRequest, c.corr, "VALIDATION_ERROR", msg)
}

// pageParams are the paging parameters list-style endpoints share.
type pageParams struct {
	limit    int
	archived bool
	from     int64 // the first id to return, decoded from after
}

// parsePageParams reads limit, archived and after; a bad value gets a 400 reply.
func parsePageParams(c *call, defLimit, maxLimit int) (pageParams, *reply) {
	q := c.r.URL.Query()
	var p pageParams
	var err error
	if p.limit, err = queryLimit(q.Get("limit"), defLimit, maxLimit); err != nil {
		rep := badRequest(c, err.Error())
		return p, &rep
	}
	if p.archived, err = queryBool(q.Get("archived")); err != nil {
		rep := badRequest(c, "archived: "+err.Error())
		return p, &rep
	}
	if v := q.Get("after"); v != "" {
		if p.from, err = decodeAfter(v); err != nil {
			rep := badRequest(c, "after: "+err.Error())
			return p, &rep
		}
	}
	return p, nil
}

func (s *Sim) serveList(c *call) reply {
	o := c.route.obj
	q := c.r.URL.Query()
	pp, bad := parsePageParams(c, listDefaultLimit, listMaxLimit)
	if bad != nil {
		return *bad
	}
	limit, archived, from := pp.limit, pp.archived, pp.from
	props := selectProps(o.typ, q["properties"])
	assoc := selectAssociations(o.typ, q["associations"])

	s.mu.RLock()
	defer s.mu.RUnlock()
	page, next := o.page(from, limit, archived)
	resp := listResponse{Results: make([]apiObject, len(page))}
	for i, e := range page {
		resp.Results[i] = render(o, e, e.cur, props, assoc)
	}
	if next != 0 {
		resp.Paging = newPaging(encodeAfter(next))
	}
	return bodyReply(http.StatusOK, resp.body())
}

// findBy looks a record up by id, or by a unique property when idProperty names one. When
// several records hold a unique value (an archived one and a live one, say), the one whose
// archived state matches wins.
func (o *objectStore) findBy(idProperty, value string, archived bool) (*entry, bool) {
	if idProperty == "" || idProperty == propObjectID {
		return o.lookup(value)
	}
	i, ok := o.typ.index[idProperty]
	if !ok {
		return nil, false
	}
	if o.uniqueSlot(i) >= 0 {
		hs := o.holders(i, value)
		for _, e := range hs {
			if e.cur.archived == archived {
				return e, true
			}
		}
		if len(hs) > 0 {
			return hs[0], true
		}
		return nil, false
	}
	for _, e := range o.entries {
		if v := e.cur.get(i); v != "" && strings.EqualFold(v, value) {
			return e, true
		}
	}
	return nil, false
}

func (s *Sim) serveGet(c *call) reply {
	o := c.route.obj
	q := c.r.URL.Query()
	archived, err := queryBool(q.Get("archived"))
	if err != nil {
		return badRequest(c, "archived: "+err.Error())
	}
	props := selectProps(o.typ, q["properties"])
	assoc := selectAssociations(o.typ, q["associations"])

	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := o.findBy(q.Get("idProperty"), c.route.id, archived)
	if !ok || (e.cur.archived && !archived) {
		return errorReply(http.StatusNotFound, c.corr, "OBJECT_NOT_FOUND", "resource not found")
	}
	return jsonReply(http.StatusOK, render(o, e, e.cur, props, assoc))
}

// standardError is HubSpot's StandardError, used inside batch responses.
type standardError struct {
	Status      string              `json:"status"`
	Category    string              `json:"category"`
	SubCategory string              `json:"subCategory,omitempty"`
	Message     string              `json:"message"`
	Errors      []json.RawMessage   `json:"errors"`
	Context     map[string][]string `json:"context"`
	Links       map[string]string   `json:"links"`
}

type batchResponse struct {
	Status      string          `json:"status"`
	Results     []apiObject     `json:"results"`
	NumErrors   int             `json:"numErrors,omitempty"`
	Errors      []standardError `json:"errors,omitempty"`
	StartedAt   string          `json:"startedAt"`
	CompletedAt string          `json:"completedAt"`
}

func (s *Sim) serveBatchRead(c *call) reply {
	o := c.route.obj
	archived, err := queryBool(c.r.URL.Query().Get("archived"))
	if err != nil {
		return badRequest(c, "archived: "+err.Error())
	}
	var body struct {
		Properties            []string `json:"properties"`
		PropertiesWithHistory []string `json:"propertiesWithHistory"`
		IDProperty            string   `json:"idProperty"`
		Inputs                []struct {
			ID json.RawMessage `json:"id"`
		} `json:"inputs"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return badRequest(c, err.Error())
	}
	if len(body.Inputs) > batchMaxInputs {
		return badRequest(c, fmt.Sprintf("Too many inputs: %d. The maximum is %d.", len(body.Inputs), batchMaxInputs))
	}
	props := selectProps(o.typ, body.Properties)
	started := formatTime(c.now)

	s.mu.RLock()
	defer s.mu.RUnlock()
	resp := batchResponse{Status: "COMPLETE", Results: []apiObject{}, StartedAt: started}
	var missing []string
	seen := make(map[string]bool, len(body.Inputs))
	for i, in := range body.Inputs {
		id, ok := rawString(in.ID)
		if !ok || id == "" {
			return badRequest(c, fmt.Sprintf("inputs[%d].id is required", i))
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		e, ok := o.findBy(body.IDProperty, id, archived)
		if !ok || e.cur.archived != archived {
			missing = append(missing, id)
			continue
		}
		resp.Results = append(resp.Results, render(o, e, e.cur, props, nil))
	}
	resp.CompletedAt = formatTime(s.now())
	if len(missing) == 0 {
		return bodyReply(http.StatusOK, resp.body())
	}
	resp.NumErrors = 1
	resp.Errors = []standardError{{
		Status:   "error",
		Category: "OBJECT_NOT_FOUND",
		Message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.",
			o.typ.upper),
		Errors:  []json.RawMessage{},
		Context: map[string][]string{"ids": missing},
		Links:   map[string]string{},
	}}
	return bodyReply(http.StatusMultiStatus, resp.body())
}

// decodeBody reads a JSON request body of at most 1 MiB.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid input JSON: %w", err)
	}
	return nil
}

// rawString reads a JSON value that should be a string but that clients sometimes send as
// a number or boolean.
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	}
	return string(raw), true
}

type ownersResponse struct {
	Results []owner `json:"results"`
	Paging  *paging `json:"paging,omitempty"`
}

func (s *Sim) serveOwners(c *call) reply {
	q := c.r.URL.Query()
	pp, bad := parsePageParams(c, ownersDefaultLimit, ownersMaxLimit)
	if bad != nil {
		return *bad
	}
	limit, archived, from := pp.limit, pp.archived, pp.from
	resp := ownersResponse{Results: []owner{}}
	if archived { // no seeded owner is deactivated
		return jsonReply(http.StatusOK, resp)
	}
	email := q.Get("email")
	for _, ow := range s.owners {
		id, _ := strconv.ParseInt(ow.ID, 10, 64)
		if id < from || (email != "" && !strings.EqualFold(email, ow.Email)) {
			continue
		}
		if len(resp.Results) == limit {
			resp.Paging = newPaging(encodeAfter(id))
			break
		}
		resp.Results = append(resp.Results, ow)
	}
	return jsonReply(http.StatusOK, resp)
}

func (s *Sim) servePipelines(c *call) reply {
	return jsonReply(http.StatusOK, struct {
		Results []pipeline `json:"results"`
	}{s.pipelines})
}

func (s *Sim) serveProperties(c *call) reply {
	return jsonReply(http.StatusOK, struct {
		Results []propertyDef `json:"results"`
	}{c.route.obj.typ.props})
}

type usageResult struct {
	Name         string `json:"name"`
	UsageLimit   int    `json:"usageLimit"`
	CurrentUsage int    `json:"currentUsage"`
	CollectedAt  string `json:"collectedAt"`
	FetchStatus  string `json:"fetchStatus"`
	ResetsAt     string `json:"resetsAt"`
}

func (s *Sim) serveUsage(c *call) reply {
	used, limit, resets := s.meter.usage(c.now)
	return jsonReply(http.StatusOK, struct {
		Results []usageResult `json:"results"`
	}{[]usageResult{{
		Name: "private-apps-api-calls-daily", UsageLimit: limit, CurrentUsage: used,
		CollectedAt: formatTime(c.now), FetchStatus: "SUCCESS",
		ResetsAt: resets.UTC().Format(time.RFC3339),
	}}})
}

// The list, search and batch read responses are the simulator's hot path: a wide account's
// page is megabytes of properties. encoding/json validates and re-compacts whatever a
// MarshalJSON method returns, which for these bodies costs as much as writing them, so they
// are written by hand, byte for byte what encoding/json would write (render_test.go).

// appendJSON appends o as encoding/json encodes apiObject.
func (o *apiObject) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, o.ID)
	b = append(b, `,"properties":`...)
	b = o.Properties.appendJSON(b)
	b = append(b, `,"createdAt":`...)
	b = appendJSONString(b, o.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, o.UpdatedAt)
	b = append(b, `,"archived":`...)
	b = strconv.AppendBool(b, o.Archived)
	if o.ArchivedAt != "" {
		b = append(b, `,"archivedAt":`...)
		b = appendJSONString(b, o.ArchivedAt)
	}
	if len(o.Associations) > 0 {
		b = append(b, `,"associations":`...)
		b = appendMarshal(b, o.Associations)
	}
	return append(b, '}')
}

// appendObjects appends a JSON array of objects.
func appendObjects(b []byte, objs []apiObject) []byte {
	b = append(b, '[')
	for i := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = objs[i].appendJSON(b)
	}
	return append(b, ']')
}

// appendMarshal appends v's encoding/json encoding: for the small parts of a hot response.
func appendMarshal(b []byte, v any) []byte {
	enc, err := json.Marshal(v)
	if err != nil {
		// Built from strings and numbers only: failing is a bug in the sim.
		panic(fmt.Sprintf("crmsim: encoding %T: %v", v, err))
	}
	return append(b, enc...)
}

func (r listResponse) body() []byte {
	b := append(make([]byte, 0, 4096), `{"results":`...)
	b = appendObjects(b, r.Results)
	if r.Paging != nil {
		b = append(b, `,"paging":`...)
		b = appendMarshal(b, r.Paging)
	}
	return append(b, '}')
}

func (r batchResponse) body() []byte {
	b := append(make([]byte, 0, 4096), `{"status":`...)
	b = appendJSONString(b, r.Status)
	b = append(b, `,"results":`...)
	b = appendObjects(b, r.Results)
	if r.NumErrors != 0 {
		b = append(b, `,"numErrors":`...)
		b = strconv.AppendInt(b, int64(r.NumErrors), 10)
	}
	if len(r.Errors) > 0 {
		b = append(b, `,"errors":`...)
		b = appendMarshal(b, r.Errors)
	}
	b = append(b, `,"startedAt":`...)
	b = appendJSONString(b, r.StartedAt)
	b = append(b, `,"completedAt":`...)
	b = appendJSONString(b, r.CompletedAt)
	return append(b, '}')
}

// bodyReply is a JSON reply whose body is already written.
func bodyReply(status int, body []byte) reply {
	return reply{status: status, contentType: contentTypeJSON, body: body}
}

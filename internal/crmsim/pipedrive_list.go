package crmsim

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Page sizes of the Pipedrive dialect (reference 3.2: "If not provided, 100 items will be
// returned. Please note that a maximum value of 500 is allowed."; ids "up to 100").
const (
	pdDefaultLimit = 100
	pdMaxLimit     = 500
	pdMaxIDs       = 100
)

// pipedriveEntities maps v2 path segments to objects.
var pipedriveEntities = map[string]objectKind{"persons": contactsKind, "organizations": companiesKind, "deals": dealsKind}

// pipedriveFieldPaths maps the v2 field endpoints to objects.
var pipedriveFieldPaths = map[string]objectKind{"personFields": contactsKind, "organizationFields": companiesKind, "dealFields": dealsKind}

// pipedriveMatch resolves a request to its Stats endpoint key, cost and handler. Every path
// gets a route so that all traffic, even to unknown paths, is counted.
func (s *Sim) pipedriveMatch(r *http.Request) pdRoute {
	path := strings.Trim(r.URL.Path, "/")
	cost := s.opts.Pipedrive.ListCost
	if r.Method == http.MethodGet {
		if name, ok := strings.CutPrefix(path, "api/v2/"); ok {
			if k, ok := pipedriveEntities[name]; ok {
				key := "pipedrive list " + name
				if k == dealsKind && r.URL.Query().Get("status") == "deleted" {
					key = "pipedrive list_deleted " + name
				}
				return pdRoute{key: key, cost: cost, serve: func(s *Sim, c *call) reply { return s.servePipedriveList(c, k) }}
			}
			if k, ok := pipedriveFieldPaths[name]; ok {
				return pdRoute{key: "pipedrive fields " + pipedriveEntityName(k), cost: cost, serve: func(s *Sim, c *call) reply {
					defs := s.pd.fields[k].defs
					return pipedriveRefPage(c, defs, func(i int, _ pdFieldDef) int64 { return int64(i + 1) })
				}}
			}
			switch name {
			case "pipelines":
				return pdRoute{key: "pipedrive pipelines", cost: cost, serve: func(s *Sim, c *call) reply {
					return pipedriveRefPage(c, s.pd.pipes, func(_ int, p pdPipeline) int64 { return p.ID })
				}}
			case "stages":
				return pdRoute{key: "pipedrive stages", cost: cost, serve: (*Sim).servePipedriveStages}
			}
		}
		if path == "v1/users" {
			return pdRoute{key: "pipedrive users", cost: cost, serve: (*Sim).servePipedriveUsers}
		}
	}
	return pdRoute{key: "pipedrive unknown", serve: func(_ *Sim, c *call) reply {
		return pipedriveError(http.StatusNotFound, fmt.Sprintf("Unknown method %s %s", c.r.Method, c.r.URL.Path))
	}}
}

func pipedriveEntityName(k objectKind) string {
	return [numObjects]string{"persons", "organizations", "deals"}[k]
}

// pdCursor is the dialect's next_cursor: base64url of the sort field, the last item's value
// of it, the direction and the last item's id. Pipedrive's cursors are opaque strings; this
// keyset form resumes correctly however records change between pages.
type pdCursor struct {
	Field         string          `json:"field"`
	FieldValue    json.RawMessage `json:"fieldValue"`
	SortDirection string          `json:"sortDirection"`
	ID            int64           `json:"id"`
}

func (c pdCursor) encode() string {
	b, _ := json.Marshal(c) // strings and numbers only
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePDCursor(v string) (pdCursor, error) {
	var c pdCursor
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil || json.Unmarshal(b, &c) != nil || c.Field == "" {
		return pdCursor{}, fmt.Errorf("invalid cursor")
	}
	return c, nil
}

// pdKey orders records for a sort: the sort field's value, then (for timestamps, which
// Pipedrive's whole seconds make tie) a hash that is stable but unrelated to the id, so
// that clients cannot come to rely on id order among equal timestamps, then the id.
type pdKey struct {
	v   int64
	tie uint64
	id  int64
}

func comparePDKeys(a, b pdKey) int {
	return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.tie, b.tie), cmp.Compare(a.id, b.id))
}

func (s *Sim) pdKeyOf(sortBy string, id int64, st *state) pdKey {
	switch sortBy {
	case "update_time":
		return pdKey{v: st.updatedAt.Unix(), tie: tieHash(s.opts.Seed, id), id: id}
	case "add_time":
		return pdKey{v: st.createdAt.Unix(), tie: tieHash(s.opts.Seed, id), id: id}
	}
	return pdKey{v: id, id: id}
}

// cursorKey is the position a cursor names.
func (s *Sim) cursorKey(c pdCursor) (pdKey, error) {
	if c.Field == "id" {
		return pdKey{v: c.ID, id: c.ID}, nil
	}
	var v string
	if err := json.Unmarshal(c.FieldValue, &v); err != nil {
		return pdKey{}, fmt.Errorf("invalid cursor")
	}
	t, err := time.Parse(pdTimeLayout, v)
	if err != nil {
		return pdKey{}, fmt.Errorf("invalid cursor")
	}
	return pdKey{v: t.Unix(), tie: tieHash(s.opts.Seed, c.ID), id: c.ID}, nil
}

// pdListParams are a v2 list request's parameters.
type pdListParams struct {
	limit         int
	sortBy, dir   string
	since, until  time.Time
	ids           map[int64]bool
	status        string
	cursor        *pdCursor
	pipelineID    int64
	hasPipelineID bool
	customFields  map[string]bool // the custom_fields keys; nil for every custom field
}

// parsePDTime reads updated_since / updated_until: RFC 3339 in whole seconds.
func parsePDTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("%s must be an RFC3339 date-time in whole seconds, e.g. 2025-01-01T10:20:00Z, got %q", name, v)
	}
	return t.UTC(), nil
}

func parsePDLimit(v string) (int, error) {
	if v == "" {
		return pdDefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > pdMaxLimit {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d, got %q", pdMaxLimit, v)
	}
	return n, nil
}

func parsePDListParams(c *call, deals bool) (pdListParams, error) {
	q := c.r.URL.Query()
	p := pdListParams{sortBy: cmp.Or(q.Get("sort_by"), "id"), dir: cmp.Or(q.Get("sort_direction"), "asc")}
	var err error
	if p.limit, err = parsePDLimit(q.Get("limit")); err != nil {
		return p, err
	}
	if !slices.Contains([]string{"id", "update_time", "add_time"}, p.sortBy) {
		return p, fmt.Errorf("sort_by must be one of id, update_time, add_time, got %q", p.sortBy)
	}
	if p.dir != "asc" && p.dir != "desc" {
		return p, fmt.Errorf("sort_direction must be asc or desc, got %q", p.dir)
	}
	if v := q.Get("updated_since"); v != "" {
		if p.since, err = parsePDTime("updated_since", v); err != nil {
			return p, err
		}
	}
	if v := q.Get("updated_until"); v != "" {
		if p.until, err = parsePDTime("updated_until", v); err != nil {
			return p, err
		}
	}
	if v := q.Get("ids"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) > pdMaxIDs {
			return p, fmt.Errorf("ids takes up to %d ids, got %d", pdMaxIDs, len(parts))
		}
		p.ids = make(map[int64]bool, len(parts))
		for _, part := range parts {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id < 1 {
				return p, fmt.Errorf("ids must be positive integers, got %q", part)
			}
			p.ids[id] = true
		}
	}
	if deals {
		p.status = q.Get("status")
		if p.status != "" && !slices.Contains([]string{"open", "won", "lost", "deleted"}, p.status) {
			return p, fmt.Errorf("status must be one of open, won, lost, deleted, got %q", p.status)
		}
	}
	if p.customFields, err = parsePDCustomFields(q.Get("custom_fields")); err != nil {
		return p, err
	}
	if v := q.Get("cursor"); v != "" {
		cur, err := decodePDCursor(v)
		if err != nil || cur.Field != p.sortBy || cur.SortDirection != p.dir {
			return p, fmt.Errorf("invalid cursor %q for sort_by=%s sort_direction=%s", v, p.sortBy, p.dir)
		}
		p.cursor = &cur
	}
	return p, nil
}

// pdListResponse is the v2 list envelope.
type pdListResponse struct {
	Success        bool             `json:"success"`
	Data           any              `json:"data"`
	AdditionalData pdAdditionalData `json:"additional_data"`
}

type pdAdditionalData struct {
	NextCursor *string `json:"next_cursor"`
}

// servePipedriveList is GET /api/v2/{persons,organizations,deals}.
func (s *Sim) servePipedriveList(c *call, k objectKind) reply {
	p, err := parsePDListParams(c, k == dealsKind)
	if err != nil {
		return pipedriveError(http.StatusBadRequest, err.Error())
	}
	var from pdKey
	if p.cursor != nil {
		if from, err = s.cursorKey(*p.cursor); err != nil {
			return pipedriveError(http.StatusBadRequest, err.Error())
		}
	}
	type candidate struct {
		e   *entry
		key pdKey
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.objects[k]
	var cands []candidate
	for _, e := range o.entries {
		st := e.cur
		switch {
		case p.status == "deleted":
			if !st.archived {
				continue
			}
		case st.archived:
			continue
		case p.status != "":
			if stage, ok := s.pd.stages[st.get(o.typ.index["dealstage"])]; !ok || stage.status != p.status {
				continue
			}
		}
		if p.ids != nil && !p.ids[e.id] {
			continue
		}
		upd := st.updatedAt.Truncate(time.Second)
		if (!p.since.IsZero() && upd.Before(p.since)) || (!p.until.IsZero() && !upd.Before(p.until)) {
			continue
		}
		cands = append(cands, candidate{e: e, key: s.pdKeyOf(p.sortBy, e.id, st)})
	}
	order := func(a, b candidate) int { return comparePDKeys(a.key, b.key) }
	if p.dir == "desc" {
		order = func(a, b candidate) int { return comparePDKeys(b.key, a.key) }
	}
	if p.sortBy != "id" || p.dir != "asc" {
		slices.SortFunc(cands, order) // entries are already in id order
	}
	start := 0
	if p.cursor != nil {
		start, _ = slices.BinarySearchFunc(cands, candidate{key: from}, order)
		if start < len(cands) && comparePDKeys(cands[start].key, from) == 0 {
			start++
		}
	}
	end := min(start+p.limit, len(cands))
	page := make([]any, 0, end-start)
	for _, cd := range cands[start:end] {
		page = append(page, s.pipedriveRender(k, cd.e, p.customFields))
	}
	resp := pdListResponse{Success: true, Data: page}
	if end < len(cands) {
		last := cands[end-1]
		cur := pdCursor{Field: p.sortBy, SortDirection: p.dir, ID: last.e.id}
		switch p.sortBy {
		case "id":
			cur.FieldValue = json.RawMessage(strconv.FormatInt(last.e.id, 10))
		case "update_time":
			cur.FieldValue, _ = json.Marshal(pdTime(last.e.cur.updatedAt))
		default:
			cur.FieldValue, _ = json.Marshal(pdTime(last.e.cur.createdAt))
		}
		next := cur.encode()
		resp.AdditionalData.NextCursor = &next
	}
	return jsonReply(http.StatusOK, resp)
}

// pipedriveRefPage pages a small reference list by position, as the v2 reference endpoints
// do with cursor and limit.
func pipedriveRefPage[T any](c *call, items []T, idOf func(int, T) int64) reply {
	q := c.r.URL.Query()
	limit, err := parsePDLimit(q.Get("limit"))
	if err != nil {
		return pipedriveError(http.StatusBadRequest, err.Error())
	}
	start := 0
	if v := q.Get("cursor"); v != "" {
		cur, err := decodePDCursor(v)
		if err != nil {
			return pipedriveError(http.StatusBadRequest, err.Error())
		}
		for start < len(items) && idOf(start, items[start]) <= cur.ID {
			start++
		}
	}
	end := min(start+limit, len(items))
	resp := pdListResponse{Success: true, Data: items[start:end]}
	if end < len(items) {
		id := idOf(end-1, items[end-1])
		next := pdCursor{Field: "id", FieldValue: json.RawMessage(strconv.FormatInt(id, 10)), SortDirection: "asc", ID: id}.encode()
		resp.AdditionalData.NextCursor = &next
	}
	return jsonReply(http.StatusOK, resp)
}

// servePipedriveStages is GET /api/v2/stages, optionally for one pipeline_id (the
// parameter's name is UNCONFIRMED).
func (s *Sim) servePipedriveStages(c *call) reply {
	var pid int64
	if v := c.r.URL.Query().Get("pipeline_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return pipedriveError(http.StatusBadRequest, fmt.Sprintf("pipeline_id must be an integer, got %q", v))
		}
		pid = n
	}
	stages := make([]pdStage, 0, len(s.pd.stages))
	for _, st := range s.pd.stages {
		if pid == 0 || st.PipelineID == pid {
			stages = append(stages, st)
		}
	}
	slices.SortFunc(stages, func(a, b pdStage) int { return cmp.Compare(a.ID, b.ID) })
	return pipedriveRefPage(c, stages, func(_ int, st pdStage) int64 { return st.ID })
}

// pdUser is the v1 User shape.
type pdUser struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	DefaultCurrency   string  `json:"default_currency"`
	Locale            string  `json:"locale"`
	Lang              int     `json:"lang"`
	Email             string  `json:"email"`
	Phone             *string `json:"phone"`
	Activated         bool    `json:"activated"`
	LastLogin         string  `json:"last_login"`
	Created           string  `json:"created"`
	Modified          string  `json:"modified"`
	HasCreatedCompany bool    `json:"has_created_company"`
	ActiveFlag        bool    `json:"active_flag"`
	TimezoneName      string  `json:"timezone_name"`
	TimezoneOffset    string  `json:"timezone_offset"`
	RoleID            int     `json:"role_id"`
	IconURL           *string `json:"icon_url"`
	IsYou             bool    `json:"is_you"`
	IsAdmin           int     `json:"is_admin"`
}

// pdPagination is v1's additional_data.pagination.
type pdPagination struct {
	Start                 int  `json:"start"`
	Limit                 int  `json:"limit"`
	MoreItemsInCollection bool `json:"more_items_in_collection"`
	NextStart             *int `json:"next_start,omitempty"`
}

// servePipedriveUsers is GET /v1/users with v1's start/limit paging. Users keep the seeded
// owners' numeric ids, which records name in owner_id.
func (s *Sim) servePipedriveUsers(c *call) reply {
	q := c.r.URL.Query()
	limit, err := parsePDLimit(q.Get("limit"))
	if err != nil {
		return pipedriveError(http.StatusBadRequest, err.Error())
	}
	start := 0
	if v := q.Get("start"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return pipedriveError(http.StatusBadRequest, fmt.Sprintf("start must be a non-negative integer, got %q", v))
		}
	}
	v1Time := func(v string) string {
		t, err := time.Parse(isoMillis, v)
		if err != nil {
			return v
		}
		return t.UTC().Format(time.DateTime)
	}
	users := []pdUser{}
	end := min(start+limit, len(s.owners))
	for i := min(start, end); i < end; i++ {
		ow := s.owners[i]
		id, _ := strconv.ParseInt(ow.ID, 10, 64)
		users = append(users, pdUser{ID: id, Name: strings.TrimSpace(ow.FirstName + " " + ow.LastName),
			DefaultCurrency: "USD", Locale: "en_US", Lang: 1, Email: ow.Email, Activated: true,
			LastLogin: v1Time(ow.UpdatedAt), Created: v1Time(ow.CreatedAt), Modified: v1Time(ow.UpdatedAt),
			ActiveFlag: !ow.Archived, TimezoneName: "UTC", TimezoneOffset: "+00:00", RoleID: 1, IsYou: i == 0})
	}
	pg := pdPagination{Start: start, Limit: limit, MoreItemsInCollection: end < len(s.owners)}
	if pg.MoreItemsInCollection {
		pg.NextStart = &end
	}
	type additionalData struct {
		Pagination pdPagination `json:"pagination"`
	}
	return jsonReply(http.StatusOK, struct {
		Success        bool           `json:"success"`
		Data           []pdUser       `json:"data"`
		AdditionalData additionalData `json:"additional_data"`
	}{Success: true, Data: users, AdditionalData: additionalData{pg}})
}

package crmsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Search limits, per HubSpot's documentation (filter limits leniently: the docs disagree).
const (
	searchDefaultLimit = 10
	searchMaxLimit     = 200
	searchResultCap    = 10000
	maxFilterGroups    = 5
	maxFilters         = 25
)

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Properties []string          `json:"properties"`
	Limit      *int              `json:"limit"`
	After      json.RawMessage   `json:"after"`
	Query      string            `json:"query"`
}

type searchFilter struct {
	PropertyName string            `json:"propertyName"`
	Operator     string            `json:"operator"`
	Value        json.RawMessage   `json:"value"`
	HighValue    json.RawMessage   `json:"highValue"`
	Values       []json.RawMessage `json:"values"`
}

type searchResponse struct {
	Total   int         `json:"total"`
	Results []apiObject `json:"results"`
	Paging  *paging     `json:"paging,omitempty"`
}

// valueKind decides how a property's values compare.
type valueKind int

const (
	kindString valueKind = iota // case-insensitive text
	kindNumber                  // numeric when both sides parse as numbers, else text
	kindTime                    // instants; filter values may be epoch ms or ISO-8601
)

func kindOf(t *objectType, prop int) valueKind {
	if prop < 0 {
		return kindString
	}
	switch t.propType(prop) {
	case typeDatetime:
		return kindTime
	case typeString:
		return kindString
	}
	return kindNumber
}

// operand is a filter value parsed once per query rather than once per record.
type operand struct {
	lower string
	num   float64
	isNum bool
	ms    int64
	iso   string // for instants: the canonical form, which orders like the instant
}

func parseOperand(kind valueKind, raw string) (operand, error) {
	o := operand{lower: lowerASCII(raw)}
	switch kind {
	case kindTime:
		ms, ok := parseInstant(raw)
		if !ok {
			return o, fmt.Errorf("%q is not a date: use epoch milliseconds or ISO-8601", raw)
		}
		o.ms = ms
		o.iso = canonicalISO(ms)
	case kindNumber:
		n, err := strconv.ParseFloat(raw, 64)
		o.num, o.isNum = n, err == nil
	}
	return o, nil
}

// filter is a compiled search filter.
type filter struct {
	prop  int // -1 for a property the object does not have: it never has a value
	kind  valueKind
	op    string
	val   operand
	hi    operand
	vals  []operand
	token string // for CONTAINS_TOKEN
}

func compileFilter(t *objectType, f searchFilter) (filter, error) {
	cf := filter{prop: -1, op: strings.ToUpper(f.Operator)}
	if i, ok := t.index[f.PropertyName]; ok {
		cf.prop = i
	}
	cf.kind = kindOf(t, cf.prop)
	value, hasValue := rawString(f.Value)
	switch cf.op {
	case "HAS_PROPERTY", "NOT_HAS_PROPERTY":
		return cf, nil
	case "IN", "NOT_IN":
		if len(f.Values) == 0 {
			return cf, fmt.Errorf("operator %s on %s needs values", cf.op, f.PropertyName)
		}
		for _, raw := range f.Values {
			v, _ := rawString(raw)
			o, err := parseOperand(cf.kind, v)
			if err != nil {
				return cf, fmt.Errorf("filter on %s: %w", f.PropertyName, err)
			}
			cf.vals = append(cf.vals, o)
		}
		return cf, nil
	case "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN":
	default:
		return cf, fmt.Errorf("unknown operator %q", f.Operator)
	}
	if !hasValue {
		return cf, fmt.Errorf("operator %s on %s needs a value", cf.op, f.PropertyName)
	}
	if cf.op == "CONTAINS_TOKEN" || cf.op == "NOT_CONTAINS_TOKEN" {
		cf.token = strings.ToLower(value)
		return cf, nil
	}
	var err error
	if cf.val, err = parseOperand(cf.kind, value); err != nil {
		return cf, fmt.Errorf("filter on %s: %w", f.PropertyName, err)
	}
	if cf.op == "BETWEEN" {
		high, ok := rawString(f.HighValue)
		if !ok {
			return cf, fmt.Errorf("operator BETWEEN on %s needs a highValue", f.PropertyName)
		}
		if cf.hi, err = parseOperand(cf.kind, high); err != nil {
			return cf, fmt.Errorf("filter on %s: %w", f.PropertyName, err)
		}
	}
	return cf, nil
}

// compare orders a record's value against an operand; ok is false when they cannot be
// compared (a malformed date, say), which makes ordering filters fail.
func (f *filter) compare(v string, o operand) (int, bool) {
	switch f.kind {
	case kindTime:
		// Values the sim writes are canonical and compare as strings, which is what keeps
		// a scan over 50,000 records cheap; anything else is parsed.
		if o.iso != "" && isCanonicalISO(v) {
			return strings.Compare(v, o.iso), true
		}
		ms, ok := parseInstant(v)
		if !ok {
			return 0, false
		}
		return cmp.Compare(ms, o.ms), true
	case kindNumber:
		if o.isNum {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return cmp.Compare(n, o.num), true
			}
		}
	}
	return strings.Compare(lowerASCII(v), o.lower), true
}

func (f *filter) equal(v string, o operand) bool {
	if f.kind == kindString {
		return strings.EqualFold(v, o.lower)
	}
	c, ok := f.compare(v, o)
	return ok && c == 0
}

func (f *filter) match(st *state) bool {
	var v string
	if f.prop >= 0 {
		v = st.get(f.prop)
	}
	switch f.op {
	case "HAS_PROPERTY":
		return v != ""
	case "NOT_HAS_PROPERTY":
		return v == ""
	case "NEQ":
		return v == "" || !f.equal(v, f.val)
	case "NOT_IN":
		return v == "" || !slices.ContainsFunc(f.vals, func(o operand) bool { return f.equal(v, o) })
	case "NOT_CONTAINS_TOKEN":
		return v == "" || !containsToken(v, f.token)
	}
	if v == "" {
		return false
	}
	switch f.op {
	case "EQ":
		return f.equal(v, f.val)
	case "IN":
		return slices.ContainsFunc(f.vals, func(o operand) bool { return f.equal(v, o) })
	case "CONTAINS_TOKEN":
		return containsToken(v, f.token)
	case "BETWEEN":
		lo, ok1 := f.compare(v, f.val)
		hi, ok2 := f.compare(v, f.hi)
		return ok1 && ok2 && lo >= 0 && hi <= 0
	}
	c, ok := f.compare(v, f.val)
	if !ok {
		return false
	}
	switch f.op {
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	case "LT":
		return c < 0
	case "LTE":
		return c <= 0
	}
	return false
}

// containsToken matches a word of v, or the whole of v, against token, in which '*'
// stands for any run of characters (HubSpot's "*@example.com" idiom).
func containsToken(v, token string) bool {
	v = strings.ToLower(v)
	if globMatch(token, v) {
		return true
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if globMatch(token, w) {
			return true
		}
	}
	return false
}

func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// parseInstant reads epoch milliseconds, ISO-8601 or a plain date, as HubSpot accepts for
// date filters. The fixed-width form the sim itself writes is parsed without allocation.
func parseInstant(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, true
	}
	if len(v) == len(isoMillis) && v[10] == 'T' && v[19] == '.' && v[23] == 'Z' {
		if ms, ok := parseISOMillis(v); ok {
			return ms, true
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// isCanonicalISO reports whether v has the fixed-width UTC form the sim writes
// ("2019-12-07T16:50:06.678Z"), whose string order is chronological order.
func isCanonicalISO(v string) bool {
	return len(v) == len(isoMillis) && v[4] == '-' && v[10] == 'T' && v[19] == '.' && v[23] == 'Z'
}

// canonicalISO formats epoch milliseconds in the canonical form, or returns "" when the
// instant falls outside years 0000-9999 and so has no fixed-width form.
func canonicalISO(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return ""
	}
	return t.Format(isoMillis)
}

func parseISOMillis(v string) (int64, bool) {
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := v[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	parts := [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 23}}
	var f [7]int
	for i, p := range parts {
		n, ok := num(p[0], p[1])
		if !ok {
			return 0, false
		}
		f[i] = n
	}
	if v[4] != '-' || v[7] != '-' || v[13] != ':' || v[16] != ':' {
		return 0, false
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6]*int(time.Millisecond), time.UTC)
	return t.UnixMilli(), true
}

// sortSpec is the one sort HubSpot honours.
type sortSpec struct {
	set  bool
	prop int // -1: unknown property, every record ties
	desc bool
	kind valueKind
}

func parseSorts(t *objectType, raws []json.RawMessage) (sortSpec, error) {
	if len(raws) == 0 {
		return sortSpec{}, nil
	}
	// Only the first sort counts, as HubSpot's SDK documentation warns.
	raw := raws[0]
	var name string
	var desc bool
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		name, desc = strings.CutPrefix(str, "-")
	} else {
		var obj struct {
			PropertyName string `json:"propertyName"`
			Direction    string `json:"direction"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return sortSpec{}, fmt.Errorf("sorts[0] must be a property name or {propertyName, direction}: %w", err)
		}
		name = obj.PropertyName
		switch strings.ToUpper(obj.Direction) {
		case "", "ASCENDING":
		case "DESCENDING":
			desc = true
		default:
			return sortSpec{}, fmt.Errorf("sorts[0].direction must be ASCENDING or DESCENDING, got %q", obj.Direction)
		}
	}
	sp := sortSpec{set: true, prop: -1, desc: desc}
	if i, ok := t.index[name]; ok {
		sp.prop = i
	}
	sp.kind = kindOf(t, sp.prop)
	return sp, nil
}

// hit is a matching record with its sort key.
type hit struct {
	e    *entry
	st   *state
	null bool
	num  float64
	str  string
}

func (sp sortSpec) key(h *hit) {
	v := ""
	if sp.prop >= 0 {
		v = h.st.get(sp.prop)
	}
	if v == "" {
		h.null = true
		return
	}
	switch sp.kind {
	case kindTime:
		if isCanonicalISO(v) {
			h.str = v
			return
		}
		ms, ok := parseInstant(v)
		h.str, h.null = canonicalISO(ms), !ok
	case kindNumber:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			h.str = lowerASCII(v)
		}
		h.num = n
	default:
		h.str = lowerASCII(v)
	}
}

// compare orders hits by the sort value (empty values last either way), then by the tie
// hash: records with equal values come back in a stable order that is not id order.
func (sp sortSpec) compare(a, b *hit) int {
	if a.null != b.null {
		if a.null {
			return 1
		}
		return -1
	}
	if !a.null {
		c := cmp.Compare(a.num, b.num)
		if c == 0 {
			c = strings.Compare(a.str, b.str)
		}
		if sp.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.e.tie, b.e.tie); c != 0 {
		return c
	}
	return cmp.Compare(a.e.id, b.e.id)
}

// searchable lists the properties free-text queries look at, per object.
func searchable(t *objectType) []int {
	var names []string
	switch t.kind {
	case contactsKind:
		names = []string{"firstname", "lastname", "email", "phone", "company"}
	case companiesKind:
		names = []string{"name", "domain", "phone"}
	default:
		names = []string{"dealname"}
	}
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = t.index[n]
	}
	return out
}

func matchQuery(words []string, fields []int, st *state) bool {
	for _, w := range words {
		found := false
		for _, i := range fields {
			if strings.Contains(strings.ToLower(st.get(i)), w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Sim) serveSearch(c *call) reply {
	o := c.route.obj
	var req searchRequest
	if err := decodeBody(c.r, &req); err != nil {
		return badRequest(c, err.Error())
	}
	limit := searchDefaultLimit
	if req.Limit != nil && *req.Limit != 0 {
		limit = *req.Limit
	}
	if limit < 0 || limit > searchMaxLimit {
		return badRequest(c, fmt.Sprintf("limit must be between 1 and %d, got %d", searchMaxLimit, limit))
	}
	after := 0
	if v, ok := rawString(req.After); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest(c, fmt.Sprintf("after must be a non-negative integer offset, got %q", v))
		}
		after = n
	}
	if after >= searchResultCap {
		return badRequest(c, fmt.Sprintf(
			"The search endpoints are limited to 10,000 total results for any given query. Cannot page to after=%d.", after))
	}
	if len(req.FilterGroups) > maxFilterGroups {
		return badRequest(c, fmt.Sprintf("Too many filter groups: %d. The maximum is %d.", len(req.FilterGroups), maxFilterGroups))
	}
	groups := make([][]filter, len(req.FilterGroups))
	total := 0
	for g, fg := range req.FilterGroups {
		total += len(fg.Filters)
		for _, f := range fg.Filters {
			cf, err := compileFilter(o.typ, f)
			if err != nil {
				return badRequest(c, err.Error())
			}
			groups[g] = append(groups[g], cf)
		}
	}
	if total > maxFilters {
		return badRequest(c, fmt.Sprintf("Too many filters: %d. The maximum is %d in total.", total, maxFilters))
	}
	sp, err := parseSorts(o.typ, req.Sorts)
	if err != nil {
		return badRequest(c, err.Error())
	}
	words := strings.Fields(strings.ToLower(req.Query))
	fields := searchable(o.typ)
	props := selectProps(o.typ, req.Properties)

	s.mu.RLock()
	defer s.mu.RUnlock()
	lag := s.opts.SearchIndexLag
	cutoff := c.now.Add(-lag)
	hits := make([]hit, 0, len(o.entries)/4)
	for _, e := range o.entries {
		st := e.cur
		if lag > 0 {
			if st = visible(e, cutoff); st == nil {
				continue
			}
		}
		if st.archived || !matchGroups(groups, st) || (len(words) > 0 && !matchQuery(words, fields, st)) {
			continue
		}
		hits = append(hits, hit{e: e, st: st})
	}
	end := min(after+limit, len(hits), searchResultCap)
	if sp.set {
		for i := range hits {
			sp.key(&hits[i])
		}
		sortPrefix(hits, end, sp.compare)
	}

	resp := searchResponse{Total: len(hits), Results: []apiObject{}}
	for i := after; i < end; i++ {
		resp.Results = append(resp.Results, render(o, hits[i].e, hits[i].st, props, nil))
	}
	if end > after && end < len(hits) {
		resp.Paging = newPaging(strconv.Itoa(end))
	}
	return bodyReply(http.StatusOK, resp.body())
}

// matchGroups ORs the groups and ANDs the filters within each; no groups match everything.
func matchGroups(groups [][]filter, st *state) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		ok := true
		for i := range g {
			if !g[i].match(st) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// sortPrefix puts the k smallest hits, in order, at the front. A delta read asks for the
// first 200 of tens of thousands of matches, so selecting before sorting saves most of a
// full sort.
func sortPrefix(hits []hit, k int, compare func(a, b *hit) int) {
	if k >= len(hits)/2 {
		slices.SortFunc(hits, func(a, b hit) int { return compare(&a, &b) })
		return
	}
	lo, hi := 0, len(hits)-1
	for lo < hi {
		p := partition(hits, lo, hi, compare)
		switch {
		case p == k:
			lo = hi
		case p < k:
			lo = p + 1
		default:
			hi = p - 1
		}
	}
	prefix := hits[:k]
	slices.SortFunc(prefix, func(a, b hit) int { return compare(&a, &b) })
}

// partition is Lomuto's scheme with a median-of-three pivot; hits are totally ordered
// (ties are broken by hash and id), so it cannot degenerate on equal keys.
func partition(hits []hit, lo, hi int, compare func(a, b *hit) int) int {
	mid := lo + (hi-lo)/2
	if compare(&hits[mid], &hits[lo]) < 0 {
		hits[mid], hits[lo] = hits[lo], hits[mid]
	}
	if compare(&hits[hi], &hits[lo]) < 0 {
		hits[hi], hits[lo] = hits[lo], hits[hi]
	}
	if compare(&hits[mid], &hits[hi]) < 0 {
		hits[mid], hits[hi] = hits[hi], hits[mid]
	}
	pivot := hits[hi]
	i := lo
	for j := lo; j < hi; j++ {
		if compare(&hits[j], &pivot) < 0 {
			hits[i], hits[j] = hits[j], hits[i]
			i++
		}
	}
	hits[i], hits[hi] = hits[hi], hits[i]
	return i
}

func (r searchResponse) body() []byte {
	b := append(make([]byte, 0, 4096), `{"total":`...)
	b = strconv.AppendInt(b, int64(r.Total), 10)
	b = append(b, `,"results":`...)
	b = appendObjects(b, r.Results)
	if r.Paging != nil {
		b = append(b, `,"paging":`...)
		b = appendMarshal(b, r.Paging)
	}
	return append(b, '}')
}

package crmsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Salesforce dialect (reference section 2) serves, under /services/:
//
//	POST oauth2/token                                    refresh-token grant
//	GET  data/                                           API versions (no auth, no limit header)
//	GET  data/vNN.N/query?q=SOQL, query/{locator}        SOQL, nextRecordsUrl paging
//	GET  data/vNN.N/queryAll?q=SOQL, queryAll/{locator}  the same, deleted rows included
//	GET  data/vNN.N/composite/sobjects/{Type}?ids=&fields=  sObject Collections retrieve
//	POST data/vNN.N/composite/sobjects/{Type}            the same, ids and fields in the body
//	POST data/vNN.N/composite                            Composite API (salesforce_composite.go)
//	GET  data/vNN.N/sobjects/{Type}/describe             field definitions and picklists
//	GET  data/vNN.N/sobjects/{Type}/deleted/?start=&end= getDeleted
//	GET  data/vNN.N/limits                               DailyApiRequests
//	POST data/vNN.N/jobs/query, GET jobs/query/{id}, GET jobs/query/{id}/results
//	                                                     Bulk API 2.0 query (CSV results)
//
// Limits: the front end's 16,384 bytes of URI and headers (414/431, salesforce_edge.go), one
// org-wide allocation per rolling 24 hours shared by every token (exhaustion is 403
// REQUEST_LIMIT_EXCEEDED, never 429), the concurrent long-running request limit, SOQL's
// 100,000 characters, and the Sforce-Limit-Info header on every data response but the
// versions list.

// Defaults of SalesforceOptions.
const (
	DefaultSalesforceDailyLimit            = 100000
	DefaultSalesforceConcurrentLongRunning = 25
	DefaultSalesforceBulkJobDelay          = 2 * time.Second
)

// Salesforce timing constants.
const (
	// sfWindow is the rolling period of the daily allocation.
	sfWindow = 24 * time.Hour
	// sfLongRunning is how long a request must last to count against the concurrent
	// long-running limit.
	sfLongRunning = 20 * time.Second
	// sfLocatorTTL is how long an unused query locator lives (Salesforce: 15 minutes of
	// inactivity).
	sfLocatorTTL = 15 * time.Minute
	// sfMaxLocators and sfMaxJobs bound the memory open locators and bulk jobs hold (each
	// keeps its result rows). Salesforce allows 10 open locators per user; the sim is more
	// lenient so that parallel tests sharing a token do not evict each other's.
	sfMaxLocators = 100
	sfMaxJobs     = 100
)

// SalesforceOptions configures the Salesforce dialect.
type SalesforceOptions struct {
	// DailyLimit is the org's API request allocation in any rolling 24 hours, shared by
	// all tokens; default 100000 (Enterprise Edition's base allocation).
	DailyLimit int
	// ConcurrentLongRunning is how many requests lasting 20 s or more may be in flight at
	// once; default 25 (production orgs; Developer Edition has 5). A request counts as long
	// running when Options.Latency plus any injected latency reaches 20 s.
	ConcurrentLongRunning int
	// BulkJobDelay is how long a Bulk API 2.0 query job stays InProgress before it is
	// JobComplete; default 2 s.
	BulkJobDelay time.Duration
	// URILimit is the most bytes of request URI plus headers Salesforce's front end passes:
	// past it a request gets 431, or 414 when the URI alone is longer (salesforce_edge.go).
	// Default DefaultSalesforceURILimit (16,384); negative for none.
	URILimit int
}

func (o *SalesforceOptions) applyDefaults() {
	if o.DailyLimit == 0 {
		o.DailyLimit = DefaultSalesforceDailyLimit
	}
	if o.ConcurrentLongRunning == 0 {
		o.ConcurrentLongRunning = DefaultSalesforceConcurrentLongRunning
	}
	if o.BulkJobDelay == 0 {
		o.BulkJobDelay = DefaultSalesforceBulkJobDelay
	}
	if o.URILimit == 0 {
		o.URILimit = DefaultSalesforceURILimit
	}
}

func (o *SalesforceOptions) validate() []error {
	var errs []error
	if o.DailyLimit < 0 {
		errs = append(errs, fmt.Errorf("salesforce daily limit must not be negative, got %d", o.DailyLimit))
	}
	if o.ConcurrentLongRunning < 0 {
		errs = append(errs, fmt.Errorf("salesforce concurrent long-running limit must not be negative, got %d", o.ConcurrentLongRunning))
	}
	if o.BulkJobDelay < 0 {
		errs = append(errs, fmt.Errorf("salesforce bulk job delay must not be negative, got %s", o.BulkJobDelay))
	}
	return errs
}

// salesforceState is the Salesforce dialect's schema, rate-limit state, open query
// locators and bulk jobs.
type salesforceState struct {
	schema *sfSchema
	opts   SalesforceOptions

	mu sync.Mutex
	// window holds the admitted calls of the last 24 hours, oldest first, with calls at
	// one instant merged; used is their sum.
	window      []sfCount
	used        int
	longRunning int
	// toldTok and toldClient are when the allocation has room again, as last told by a
	// REQUEST_LIMIT_EXCEEDED to a token and to one client of it.
	toldTok    []time.Time
	toldClient map[clientToken]time.Time
	cursors    map[string]*sfCursor
	jobs       map[string]*sfJob
	seq        int
}

type sfCount struct {
	at time.Time
	n  int
}

func newSalesforceState(s *Sim) *salesforceState {
	return &salesforceState{
		schema:     newSFSchema(s),
		opts:       s.opts.Salesforce,
		toldTok:    make([]time.Time, len(s.opts.Tokens)),
		toldClient: map[clientToken]time.Time{},
		cursors:    map[string]*sfCursor{},
		jobs:       map[string]*sfJob{},
	}
}

// sfLimit names the limit that refused a request.
type sfLimit int

const (
	sfLimitNone sfLimit = iota
	sfLimitDaily
	sfLimitConcurrent
)

// sfAdmission is the verdict on one authenticated data request.
type sfAdmission struct {
	limit sfLimit
	until time.Time // sfLimitDaily: when the allocation has room again
	used  int       // for Sforce-Limit-Info
	max   int
	long  bool // holds a long-running slot until release
	fault *Fault
}

// prune drops calls that have left the rolling window.
func (st *salesforceState) prune(now time.Time) {
	cutoff := now.Add(-sfWindow)
	k := 0
	for k < len(st.window) && !st.window[k].at.After(cutoff) {
		st.used -= st.window[k].n
		k++
	}
	st.window = st.window[k:]
}

// roomAt is when the full allocation next has room: when the oldest counted call leaves
// the window.
func (st *salesforceState) roomAt(now time.Time) time.Time {
	if len(st.window) == 0 {
		return now
	}
	return st.window[0].at.Add(sfWindow)
}

// admit counts one authenticated request and decides whether a limit or an injected fault
// answers it. Only admitted requests use the allocation; a refused one does not.
func (s *Sim) sfAdmit(tok int, key, client string, now time.Time) sfAdmission {
	st := s.sf
	fault := s.meter.sfTakeFault(key)
	delay := s.opts.Latency
	if fault != nil && fault.Kind == FaultLatency {
		delay += fault.Latency
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	tokEarly := now.Before(st.toldTok[tok])
	clientEarly := now.Before(st.toldClient[clientToken{tok, client}])
	if tokEarly || clientEarly {
		s.meter.sfEarly(client, tokEarly, clientEarly)
	}
	st.prune(now)
	adm := sfAdmission{max: st.opts.DailyLimit, fault: fault}
	switch {
	case fault != nil && fault.Kind == Fault429Daily:
		adm.limit, adm.until = sfLimitDaily, st.roomAt(now)
		if !adm.until.After(now) {
			adm.until = now.Add(sfWindow)
		}
	case fault != nil && fault.Kind == Fault429TenSecondly:
		adm.limit = sfLimitConcurrent
	case fault != nil && fault.answers():
		// The fault answers instead; it still used the allocation, as the HubSpot meter's
		// faults do.
		st.count(now)
	case st.used >= st.opts.DailyLimit:
		adm.limit, adm.until = sfLimitDaily, st.roomAt(now)
	case delay >= sfLongRunning && st.longRunning >= st.opts.ConcurrentLongRunning:
		adm.limit = sfLimitConcurrent
	default:
		st.count(now)
		if delay >= sfLongRunning {
			st.longRunning++
			adm.long = true
		}
	}
	adm.used = st.used
	return adm
}

func (st *salesforceState) count(now time.Time) {
	if n := len(st.window); n > 0 && st.window[n-1].at.Equal(now) {
		st.window[n-1].n++
	} else {
		st.window = append(st.window, sfCount{at: now, n: 1})
	}
	st.used++
}

// release frees a long-running slot.
func (st *salesforceState) release() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.longRunning--
}

// tell records, as a REQUEST_LIMIT_EXCEEDED reaches the client, when the allocation has
// room again: calls before then are early.
func (st *salesforceState) tell(tok int, client string, until time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if until.After(st.toldTok[tok]) {
		st.toldTok[tok] = until
	}
	k := clientToken{tok, client}
	if until.After(st.toldClient[k]) {
		st.toldClient[k] = until
	}
}

// usage is the allocation's state for the limits resource.
func (st *salesforceState) usage(now time.Time) (used, limit int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.prune(now)
	return st.used, st.opts.DailyLimit
}

// sfTakeFault pops one use of the first queued fault matching key.
func (m *meter) sfTakeFault(key string) *Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeFault(key)
}

// sfEarly counts a call that arrived before a told wait had passed.
func (m *meter) sfEarly(client string, tokEarly, clientEarly bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tokEarly {
		m.early++
	}
	if clientEarly {
		cs := m.byClient[client]
		cs.Early++
		m.byClient[client] = cs
	}
}

// sfRateLimited counts a REQUEST_LIMIT_EXCEEDED: Salesforce's 429, sent as a 403, which
// the shared finish does not recognise.
func (m *meter) sfRateLimited(client string, arrived time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rateLimited++
	cs := m.byClient[client]
	cs.RateLimited++
	m.byClient[client] = cs
	if sc := m.perSecond[arrived.Unix()]; sc != nil {
		sc.RateLimited++
	}
}

// sfError is one element of Salesforce's error array.
type sfError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func sfErrorReply(status int, code, msg string) reply {
	return jsonReply(status, []sfError{{Message: msg, ErrorCode: code}})
}

func sfNotFound() reply {
	return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

// sfCall is one data API request being served.
type sfCall struct {
	r       *http.Request
	now     time.Time
	version string // "v62.0"
	seg     []string
	// header holds response headers a handler sets besides the reply (the Bulk API's
	// Sforce-Locator).
	header http.Header
}

// sfRoute is the outcome of matching a data API path.
type sfRoute struct {
	key   string
	serve func(s *Sim, c *sfCall) reply
}

var soqlFrom = regexp.MustCompile(`(?i)\sFROM\s+([A-Za-z_][A-Za-z0-9_]*)`)

// sfVersion validates an API version segment: v20.0 up to v66.0, the newest GA version.
func sfVersion(seg string) (float64, bool) {
	if !strings.HasPrefix(seg, "v") {
		return 0, false
	}
	v, err := strconv.ParseFloat(seg[1:], 64)
	if err != nil || v < 20 || v > 66 || !strings.Contains(seg, ".") {
		return 0, false
	}
	return v, true
}

// sfMatch resolves a path under /services/data/vNN.N/ to its stats key and handler.
func sfMatch(r *http.Request, seg []string) sfRoute {
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	objOf := func() string {
		if m := soqlFrom.FindStringSubmatch(" " + r.URL.Query().Get("q")); m != nil {
			return m[1]
		}
		return "invalid"
	}
	switch {
	case len(seg) == 1 && seg[0] == "query" && get:
		return sfRoute{key: "salesforce query " + objOf(), serve: func(s *Sim, c *sfCall) reply { return s.sfServeQuery(c, false) }}
	case len(seg) == 1 && seg[0] == "queryAll" && get:
		return sfRoute{key: "salesforce queryAll " + objOf(), serve: func(s *Sim, c *sfCall) reply { return s.sfServeQuery(c, true) }}
	case len(seg) == 2 && (seg[0] == "query" || seg[0] == "queryAll") && get:
		return sfRoute{key: "salesforce query_more", serve: (*Sim).sfServeQueryMore}
	case len(seg) == 3 && seg[0] == "composite" && seg[1] == "sobjects" && get:
		return sfRoute{key: "salesforce retrieve " + seg[2], serve: (*Sim).sfServeRetrieve}
	case len(seg) == 3 && seg[0] == "composite" && seg[1] == "sobjects" && post:
		return sfRoute{key: "salesforce retrieve " + seg[2], serve: (*Sim).sfServeRetrievePost}
	case len(seg) == 1 && seg[0] == "composite" && post:
		return sfRoute{key: sfCompositeKey(r), serve: (*Sim).sfServeComposite}
	case len(seg) == 3 && seg[0] == "sobjects" && seg[2] == "describe" && get:
		return sfRoute{key: "salesforce describe " + seg[1], serve: (*Sim).sfServeDescribe}
	case len(seg) == 3 && seg[0] == "sobjects" && seg[2] == "deleted" && get:
		return sfRoute{key: "salesforce deleted " + seg[1], serve: (*Sim).sfServeDeleted}
	case len(seg) == 1 && seg[0] == "limits" && get:
		return sfRoute{key: "salesforce limits", serve: (*Sim).sfServeLimits}
	case len(seg) == 2 && seg[0] == "jobs" && seg[1] == "query" && post:
		return sfRoute{key: "salesforce bulk_create", serve: (*Sim).sfServeBulkCreate}
	case len(seg) == 3 && seg[0] == "jobs" && seg[1] == "query" && get:
		return sfRoute{key: "salesforce bulk_status", serve: (*Sim).sfServeBulkStatus}
	case len(seg) == 4 && seg[0] == "jobs" && seg[1] == "query" && seg[3] == "results" && get:
		return sfRoute{key: "salesforce bulk_results", serve: (*Sim).sfServeBulkResults}
	}
	return sfRoute{key: "salesforce unknown", serve: func(*Sim, *sfCall) reply { return sfNotFound() }}
}

// serveSalesforce runs every request under /services/ through Salesforce's steps:
// authenticate, count against the org's allocation, then answer.
func (s *Sim) serveSalesforce(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	client := clientName(r.Header.Get("User-Agent"))
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/services/"), "/")
	seg := strings.Split(path, "/")
	if rep, refused := s.sfEdgeRefusal(r); refused {
		// The front end answers before authentication, the allocation and any fault.
		sleep(r.Context(), s.opts.Latency)
		s.meter.finish(sfEdgeKey(r, path, seg), client, rep.status, arrived)
		s.write(w, rep)
		return
	}
	if path == "oauth2/token" {
		s.sfServeToken(w, r, arrived, client)
		return
	}
	if seg[0] != "data" {
		s.meter.finish("salesforce unknown", client, http.StatusNotFound, arrived)
		s.write(w, sfNotFound())
		return
	}
	if len(seg) == 1 {
		// The versions list needs no session and carries no limit header.
		rep := s.sfServeVersions()
		s.meter.finish("salesforce versions", client, rep.status, arrived)
		s.write(w, rep)
		return
	}
	c := &sfCall{r: r, now: arrived, version: seg[1], seg: seg[2:], header: http.Header{}}
	rt := sfMatch(r, c.seg)
	if _, ok := sfVersion(seg[1]); !ok {
		rt = sfRoute{key: "salesforce unknown", serve: func(*Sim, *sfCall) reply { return sfNotFound() }}
	}

	tok, status := s.sfAuthenticate(r, arrived)
	if status != tokenValid {
		sleep(r.Context(), s.opts.Latency)
		rep := sfErrorReply(http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		s.meter.finish(rt.key, client, rep.status, arrived)
		s.write(w, rep)
		return
	}
	adm := s.sfAdmit(tok, rt.key, client, arrived)
	if adm.long {
		defer s.sf.release()
	}
	delay := s.opts.Latency
	if adm.fault != nil && adm.fault.Kind == FaultLatency {
		delay += adm.fault.Latency
	}
	sleep(r.Context(), delay)
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", adm.used, adm.max))

	var rep reply
	switch {
	case adm.limit == sfLimitDaily:
		rep = sfErrorReply(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		s.sf.tell(tok, client, adm.until)
	case adm.limit == sfLimitConcurrent:
		rep = sfErrorReply(http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
	case adm.fault != nil && adm.fault.answers():
		rep = s.sfFaultReply(c, rt, adm.fault)
	default:
		rep = rt.serve(s, c)
	}
	if adm.fault != nil {
		switch adm.fault.Kind {
		case FaultTruncatedJSON:
			rep = reply{status: http.StatusOK, contentType: rep.contentType, body: rep.body[:len(rep.body)/2]}
		case FaultMalformedJSON:
			rep = reply{status: http.StatusOK, contentType: rep.contentType, body: malform(rep.body)}
		case FaultReset:
			s.meter.finish(rt.key, client, 0, arrived)
			reset(w, rep)
			return
		}
	}
	s.meter.finish(rt.key, client, rep.status, arrived)
	if adm.limit != sfLimitNone {
		s.meter.sfRateLimited(client, arrived)
	}
	for k, v := range c.header {
		w.Header()[k] = v
	}
	s.write(w, rep)
}

// sfEdgeKey is the stats key of a request the front end refused: the key it would have had.
func sfEdgeKey(r *http.Request, path string, seg []string) string {
	switch {
	case path == "oauth2/token":
		return "salesforce token"
	case seg[0] != "data":
		return "salesforce unknown"
	case len(seg) == 1:
		return "salesforce versions"
	}
	if _, ok := sfVersion(seg[1]); !ok {
		return "salesforce unknown"
	}
	return sfMatch(r, seg[2:]).key
}

// sfAuthenticate resolves the request's bearer token: a static token or an access token
// from the refresh grant.
func (s *Sim) sfAuthenticate(r *http.Request, now time.Time) (int, tokenStatus) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return 0, tokenUnknown
	}
	return s.checkToken(tok, now)
}

func (s *Sim) sfFaultReply(c *sfCall, rt sfRoute, f *Fault) reply {
	switch f.Kind {
	case Fault500:
		return sfErrorReply(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")
	case Fault503:
		return sfErrorReply(http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "Server unavailable")
	case Fault502HTML:
		return reply{status: http.StatusBadGateway, contentType: contentTypeHTML, body: []byte(
			"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\r\n")}
	case Fault401:
		return sfErrorReply(http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
	case FaultTruncatedJSON, FaultMalformedJSON, FaultReset:
		return rt.serve(s, c)
	}
	return sfErrorReply(http.StatusInternalServerError, "UNKNOWN_EXCEPTION", fmt.Sprintf("crmsim: unknown injected fault kind %q", f.Kind))
}

// sfServeToken is the OAuth refresh-token grant. Salesforce's token response has no
// expires_in; the access token lasts the org's session timeout (Options.AccessTokenTTL).
// OAuth calls do not use the API allocation.
func (s *Sim) sfServeToken(w http.ResponseWriter, r *http.Request, arrived time.Time, client string) {
	const key = "salesforce token"
	rep := func() reply {
		if r.Method != http.MethodPost {
			return sfErrorReply(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are POST")
		}
		if err := r.ParseForm(); err != nil {
			return oauthError("invalid_request", "invalid request body")
		}
		switch {
		case r.PostForm.Get("grant_type") != "refresh_token":
			return oauthError("unsupported_grant_type", "grant type not supported")
		case r.PostForm.Get("client_id") == "":
			return oauthError("invalid_client_id", "client identifier invalid")
		}
		tok, _, err := s.issueAccessToken(r.PostForm.Get("refresh_token"), arrived)
		if errors.Is(err, errUnknownRefreshToken) {
			return oauthError("invalid_grant", "expired access/refresh token")
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		issued := strconv.FormatInt(arrived.UnixMilli(), 10)
		id := "https://login.salesforce.com/id/00D5g000000SimAAA/" + sfID(sfPrefixUser, 1)
		mac := hmac.New(sha256.New, []byte(r.PostForm.Get("client_secret")))
		mac.Write([]byte(id + issued))
		return jsonReply(http.StatusOK, map[string]string{
			"access_token": tok,
			"instance_url": scheme + "://" + r.Host,
			"id":           id,
			"token_type":   "Bearer",
			"issued_at":    issued,
			"signature":    base64.StdEncoding.EncodeToString(mac.Sum(nil)),
		})
	}()
	s.meter.finish(key, client, rep.status, arrived)
	s.write(w, rep)
}

func oauthError(code, desc string) reply {
	return jsonReply(http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// salesforceSnapshot is the ground truth of object ("contacts", "companies", "deals", or
// the sObject name) as the dialect renders it: Salesforce ids, every field but Id, whole
// seconds. A deleted record's ArchivedAt is its SystemModstamp.
func (s *Sim) salesforceSnapshot(object string) ([]Record, error) {
	k, ok := kindByName(object)
	var o *sfObject
	if ok {
		o = s.sf.schema.byKind[k]
	} else if so, found := s.sf.schema.objects[strings.ToLower(object)]; found && so.isRecord() {
		o = so
	} else {
		return nil, fmt.Errorf("snapshot: unknown object %q", object)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rows := s.sfRows(o, true)
	out := make([]Record, len(rows))
	for i, r := range rows {
		rec := Record{
			ID:         o.fields[0].get(r).text,
			CreatedAt:  r.st.createdAt.UTC().Truncate(time.Second),
			UpdatedAt:  r.st.updatedAt.UTC().Truncate(time.Second),
			Archived:   r.st.archived,
			Properties: make(map[string]string, len(o.fields)-1),
		}
		if rec.Archived {
			rec.ArchivedAt = rec.UpdatedAt
		}
		for _, f := range o.fields[1:] {
			rec.Properties[f.name] = sfSnapshotText(f.kind, f.get(r))
		}
		out[i] = rec
	}
	return out, nil
}

// sfSnapshotText is a value as SnapshotFor compares it: a JSON string as itself, any
// other JSON value as its text, null as "".
func sfSnapshotText(k sfKind, v sfValue) string {
	switch {
	case v.null:
		return ""
	case k == sfKDateTime:
		return v.t.Format(sfTimeLayout)
	case k == sfKBool:
		return strconv.FormatBool(v.b)
	}
	return v.text
}

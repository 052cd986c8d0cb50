package crmsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Zoho CRM dialect serves the seeded dataset on Zoho's v8 paths (docs section "4. Zoho
// CRM" of the shared CRM API reference): GET /crm/v8/{Contacts,Accounts,Deals} with the
// fields, sort_by, page, page_token and ids parameters and the If-Modified-Since header,
// /crm/v8/{module}/deleted, /crm/v8/users, /crm/v8/settings/{fields,layouts,pipeline}, and
// the accounts server's POST /oauth/v2/token. Credentials arrive as
// "Authorization: Zoho-oauthtoken <token>". Its limits are Zoho's: API credits per rolling
// day, shared by the whole account, and a cap on the requests one app has in flight.

// ZohoOptions configures the Zoho dialect's limits. Zero values select the Standard
// edition's figures.
type ZohoOptions struct {
	// DailyCredits is the account's API credits per rolling CreditWindow; every API call
	// that is admitted spends one. Default 50,000 (Standard's base allowance).
	DailyCredits int
	// CreditWindow is the length of the rolling credit window; default 24 h. Tests shorten
	// it to see credits come back.
	CreditWindow time.Duration
	// Concurrency is how many requests one app (one of Options.Tokens, with the access
	// tokens issued for it) may have in flight; the next one gets a 429. Default 10
	// (Standard; Free 5, Professional 15, Enterprise 20, Ultimate 25).
	Concurrency int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up) to 429s: 1 s for the
	// concurrency cap, the time until a credit comes back for the credits. Zoho documents
	// none, so it is off by default; only a wait sent this way makes a later call early.
	RetryAfter bool
	// RateLimitHeaders adds the legacy X-RATELIMIT-LIMIT, -REMAINING, -RESET, -DAY-LIMIT and
	// -DAY-REMAINING headers (credits, and epoch milliseconds when the next credit comes
	// back). A 2024 capture of v8 showed none, so they are off by default.
	RateLimitHeaders bool
	// MaxPagedRecords is how many records one page_token chain may reach; default 100,000
	// (Zoho: "Consecutive page tokens can be used to navigate through up to 100,000
	// records").
	MaxPagedRecords int
}

// Defaults of ZohoOptions.
const (
	DefaultZohoDailyCredits    = 50_000
	DefaultZohoConcurrency     = 10
	DefaultZohoMaxPagedRecords = 100_000
)

func (o *ZohoOptions) applyDefaults() {
	if o.DailyCredits == 0 {
		o.DailyCredits = DefaultZohoDailyCredits
	}
	if o.CreditWindow == 0 {
		o.CreditWindow = 24 * time.Hour
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultZohoConcurrency
	}
	if o.MaxPagedRecords == 0 {
		o.MaxPagedRecords = DefaultZohoMaxPagedRecords
	}
}

func (o *ZohoOptions) validate() []error {
	return negatives(
		namedValue{"zoho daily credits", int64(o.DailyCredits)},
		namedValue{"zoho credit window", int64(o.CreditWindow)},
		namedValue{"zoho concurrency", int64(o.Concurrency)},
		namedValue{"zoho max paged records", int64(o.MaxPagedRecords)},
	)
}

// Zoho's limits, as the dialect tells them.
const (
	// zohoConcurrencyWait is the Retry-After of a concurrency 429: in-flight calls finish
	// within a request's time, so a second is enough for a slot to free.
	zohoConcurrencyWait = time.Second
	// zohoDiscreteLimit is how far page numbers reach: "page (1-10) and per_page (maximum
	// 200)".
	zohoDiscreteLimit = 2000
	zohoPerPage       = 200
	zohoMaxFields     = 50
	zohoMaxIDs        = 100
)

// zohoLimit names the two Zoho limits.
type zohoLimit int

const (
	zohoConcurrencyLimit zohoLimit = iota
	zohoCreditLimit
	numZohoLimits
)

// zohoState is the Zoho dialect's own rate-limit state and its lookup tables.
type zohoState struct {
	mu       sync.Mutex
	inflight []int       // per token: requests being served
	credits  []time.Time // account-wide: when each credit in the rolling window was spent
	// told is, per token and client, the instant each limit's last Retry-After ran out: a
	// request before it is early. Only waits actually sent count.
	told map[clientToken][numZohoLimits]time.Time

	owners  map[string]owner // HubSpot owner id -> owner
	modules [numObjects]*zohoModule
}

func newZohoState(s *Sim) *zohoState {
	st := &zohoState{
		inflight: make([]int, len(s.opts.Tokens)),
		told:     map[clientToken][numZohoLimits]time.Time{},
		owners:   make(map[string]owner, len(s.owners)),
		modules:  newZohoModules(s),
	}
	for _, o := range s.owners {
		st.owners[o.ID] = o
	}
	return st
}

// zohoError is Zoho's error envelope.
type zohoError struct {
	Code    string         `json:"code"`
	Details map[string]any `json:"details"`
	Message string         `json:"message"`
	Status  string         `json:"status"`
}

func zohoErrorReply(status int, code, message string, details map[string]any) reply {
	if details == nil {
		details = map[string]any{}
	}
	return jsonReply(status, zohoError{Code: code, Details: details, Message: message, Status: "error"})
}

func zohoInvalid(param, message string) reply {
	return zohoErrorReply(http.StatusBadRequest, "INVALID_DATA", message, map[string]any{"param_name": param})
}

// zohoCall is one Zoho API request being served.
type zohoCall struct {
	r      *http.Request
	now    time.Time
	module *zohoModule // the module in the path, if any
	id     string      // the record id in the path, for single reads
}

// zohoRoute is a matched Zoho request.
type zohoRoute struct {
	key   string // Stats endpoint key, "zoho ..." so it never collides with HubSpot's
	serve func(s *Sim, c *zohoCall) reply
	mod   *zohoModule
	id    string
}

// zohoMatch resolves a /crm/v8/ request to its endpoint key and handler.
func (s *Sim) zohoMatch(r *http.Request) zohoRoute {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/crm/v8"), "/"), "/")
	notFound := zohoRoute{key: "zoho unknown", serve: func(*Sim, *zohoCall) reply {
		return zohoErrorReply(http.StatusNotFound, "INVALID_URL_PATTERN",
			"Please check if the URL trying to access is a correct one", nil)
	}}
	if r.Method != http.MethodGet {
		return zohoRoute{key: "zoho unknown", serve: func(*Sim, *zohoCall) reply {
			return zohoErrorReply(http.StatusBadRequest, "INVALID_REQUEST_METHOD",
				"The http request method type is not a valid one", nil)
		}}
	}
	switch {
	case len(seg) == 1 && seg[0] == "users":
		return zohoRoute{key: "zoho users", serve: (*Sim).serveZohoUsers}
	case len(seg) == 2 && seg[0] == "settings":
		switch seg[1] {
		case "fields":
			return zohoRoute{key: "zoho fields", serve: (*Sim).serveZohoFields}
		case "layouts":
			return zohoRoute{key: "zoho layouts", serve: (*Sim).serveZohoLayouts}
		case "pipeline":
			return zohoRoute{key: "zoho pipelines", serve: (*Sim).serveZohoPipelines}
		}
		return notFound
	case len(seg) >= 1 && len(seg) <= 2 && seg[0] != "":
		m := s.zo.moduleByName(seg[0])
		if m == nil {
			return zohoRoute{key: "zoho invalid_module", serve: func(*Sim, *zohoCall) reply {
				return zohoErrorReply(http.StatusBadRequest, "INVALID_MODULE",
					"the module name given seems to be invalid", map[string]any{"resource_path_index": 0})
			}}
		}
		if len(seg) == 2 {
			if seg[1] == "deleted" {
				return zohoRoute{key: "zoho deleted " + m.api, serve: (*Sim).serveZohoDeleted, mod: m}
			}
			return zohoRoute{key: "zoho get " + m.api, serve: (*Sim).serveZohoGet, mod: m, id: seg[1]}
		}
		q := r.URL.Query()
		switch {
		case q.Get("ids") != "":
			return zohoRoute{key: "zoho batch_read " + m.api, serve: (*Sim).serveZohoRecords, mod: m}
		case r.Header.Get("If-Modified-Since") != "":
			return zohoRoute{key: "zoho changes " + m.api, serve: (*Sim).serveZohoRecords, mod: m}
		}
		return zohoRoute{key: "zoho list " + m.api, serve: (*Sim).serveZohoRecords, mod: m}
	}
	return notFound
}

// serveZoho runs every Zoho API request through Zoho's steps: authenticate, admit against
// the concurrency cap and the credits, then answer; faults intervene after admission.
func (s *Sim) serveZoho(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	client := clientName(r.Header.Get("User-Agent"))
	rt := s.zohoMatch(r)

	tok, expires, status := s.zohoAuthenticate(r, arrived)
	if status != tokenValid {
		sleep(r.Context(), s.opts.Latency)
		rep := zohoErrorReply(http.StatusUnauthorized, "INVALID_TOKEN", "invalid oauth token", nil)
		if r.Header.Get("Authorization") == "" {
			rep = zohoErrorReply(http.StatusUnauthorized, "AUTHENTICATION_FAILURE", "Authentication failed", nil)
		}
		s.meter.finish(rt.key, client, rep.status, arrived)
		s.write(w, rep)
		return
	}
	if !expires.IsZero() {
		w.Header().Set("X-ACCESSTOKEN-RESET", formatZohoTime(expires))
	}

	adm := s.zo.admit(s, tok, rt.key, client, arrived)
	if adm.admitted {
		defer s.zo.release(tok)
	}
	if adm.limit < 0 {
		delay := s.opts.Latency
		if adm.fault != nil && adm.fault.Kind == FaultLatency {
			delay += adm.fault.Latency
		}
		sleep(r.Context(), delay)
	}
	if s.opts.Zoho.RateLimitHeaders {
		s.zo.setRateHeaders(w.Header(), s.opts.Zoho, s.now())
	}

	c := &zohoCall{r: r, now: arrived, module: rt.mod, id: rt.id}
	var rep reply
	switch {
	case adm.limit >= 0:
		rep = s.zohoRateLimited(w, adm)
		if s.opts.Zoho.RetryAfter {
			s.zo.tell(tok, client, adm)
		}
	case adm.fault != nil && adm.fault.answers():
		rep = s.zohoFaultReply(c, rt, adm.fault)
	default:
		rep = rt.serve(s, c)
	}
	if adm.fault != nil && len(rep.body) > 0 {
		switch adm.fault.Kind {
		case FaultTruncatedJSON:
			rep = reply{status: http.StatusOK, contentType: contentTypeJSON, body: rep.body[:len(rep.body)/2]}
		case FaultMalformedJSON:
			rep = reply{status: http.StatusOK, contentType: contentTypeJSON, body: malform(rep.body)}
		case FaultReset:
			s.meter.finish(rt.key, client, 0, arrived)
			reset(w, rep)
			return
		}
	}
	s.meter.finish(rt.key, client, rep.status, arrived)
	s.zohoWrite(w, rep)
}

// zohoWrite writes a reply; 204 and 304 carry no body, as HTTP requires.
func (s *Sim) zohoWrite(w http.ResponseWriter, rep reply) {
	if rep.status == http.StatusNoContent || rep.status == http.StatusNotModified {
		w.WriteHeader(rep.status)
		return
	}
	s.write(w, rep)
}

// zohoAuthenticate resolves "Authorization: Zoho-oauthtoken <token>": one of
// Options.Tokens, or an access token from the refresh grant (whose expiry it returns).
func (s *Sim) zohoAuthenticate(r *http.Request, now time.Time) (int, time.Time, tokenStatus) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Zoho-oauthtoken") {
		return 0, time.Time{}, tokenUnknown
	}
	i, status := s.checkToken(tok, now)
	if status != tokenValid {
		return i, time.Time{}, status
	}
	var expires time.Time
	s.access.mu.Lock()
	if it, ok := s.access.issued[strings.TrimSpace(tok)]; ok {
		expires = it.expires
	}
	s.access.mu.Unlock()
	return i, expires, tokenValid
}

// zohoAdmission is the verdict on one authenticated request.
type zohoAdmission struct {
	limit    zohoLimit // the limit that rejects the request, or -1
	wait     time.Duration
	until    time.Time // the instant the wait ends
	fault    *Fault
	admitted bool // the request holds a concurrency slot to release
}

// admit checks a request against the concurrency cap and the rolling credits, in that
// order, and takes a slot and a credit when it passes. Rejected requests spend no credit.
func (z *zohoState) admit(s *Sim, tok int, key, client string, now time.Time) zohoAdmission {
	opts := s.opts.Zoho
	fault := s.meter.zohoTakeFault(key)
	z.mu.Lock()
	defer z.mu.Unlock()
	adm := zohoAdmission{limit: -1, fault: fault}

	ct := clientToken{tok, client}
	told := z.told[ct]
	for _, until := range told {
		if now.Before(until) {
			s.meter.zohoEarly(client)
			break
		}
	}

	z.pruneCredits(now, opts.CreditWindow)
	switch {
	case fault != nil && fault.Kind == Fault429TenSecondly:
		adm.limit, adm.wait = zohoConcurrencyLimit, zohoConcurrencyWait
	case fault != nil && fault.Kind == Fault429Daily:
		adm.limit, adm.wait = zohoCreditLimit, z.creditWait(now, opts.CreditWindow)
	case z.inflight[tok] >= opts.Concurrency:
		adm.limit, adm.wait = zohoConcurrencyLimit, zohoConcurrencyWait
	case len(z.credits) >= opts.DailyCredits:
		adm.limit, adm.wait = zohoCreditLimit, z.creditWait(now, opts.CreditWindow)
	default:
		z.inflight[tok]++
		z.credits = append(z.credits, now)
		adm.admitted = true
	}
	adm.until = now.Add(adm.wait)
	return adm
}

func (z *zohoState) release(tok int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.inflight[tok]--
}

// pruneCredits drops the credits spent before the rolling window; z.mu is held.
func (z *zohoState) pruneCredits(now time.Time, window time.Duration) {
	z.credits = prune(z.credits, now.Add(-window))
}

// creditWait is how long until the oldest credit in the window comes back; z.mu is held.
func (z *zohoState) creditWait(now time.Time, window time.Duration) time.Duration {
	if len(z.credits) == 0 {
		return time.Second
	}
	return max(z.credits[0].Add(window).Sub(now), time.Millisecond)
}

// tell records a wait that a 429 sent as Retry-After; without the header nothing was told.
func (z *zohoState) tell(tok int, client string, adm zohoAdmission) {
	z.mu.Lock()
	defer z.mu.Unlock()
	ct := clientToken{tok, client}
	told := z.told[ct]
	if adm.until.After(told[adm.limit]) {
		told[adm.limit] = adm.until
	}
	z.told[ct] = told
}

// setRateHeaders writes the legacy X-RATELIMIT-* headers: the credit window's allowance,
// what is left of it and when the next credit comes back (epoch milliseconds).
func (z *zohoState) setRateHeaders(h http.Header, opts ZohoOptions, now time.Time) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.pruneCredits(now, opts.CreditWindow)
	remaining := max(0, opts.DailyCredits-len(z.credits))
	reset := now.Add(opts.CreditWindow)
	if len(z.credits) > 0 {
		reset = z.credits[0].Add(opts.CreditWindow)
	}
	h.Set("X-RATELIMIT-LIMIT", strconv.Itoa(opts.DailyCredits))
	h.Set("X-RATELIMIT-REMAINING", strconv.Itoa(remaining))
	h.Set("X-RATELIMIT-RESET", strconv.FormatInt(reset.UnixMilli(), 10))
	h.Set("X-RATELIMIT-DAY-LIMIT", strconv.Itoa(opts.DailyCredits))
	h.Set("X-RATELIMIT-DAY-REMAINING", strconv.Itoa(remaining))
}

// zohoRateLimited builds the 429. The concurrency cap answers TOO_MANY_REQUESTS, as Zoho
// documents; spent credits answer LIMIT_REACHED (UNCONFIRMED: the OAS lists LIMIT_REACHED
// and LIMIT_EXCEEDED, and LIMIT_EXCEEDED is already Get Records' 400 for too many ids or
// fields, so the credits take the other).
func (s *Sim) zohoRateLimited(w http.ResponseWriter, adm zohoAdmission) reply {
	if s.opts.Zoho.RetryAfter {
		secs := int64(math.Ceil(adm.wait.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	if adm.limit == zohoCreditLimit {
		return zohoErrorReply(http.StatusTooManyRequests, "LIMIT_REACHED",
			"API calls limit reached for the rolling 24 hours", nil)
	}
	return zohoErrorReply(http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
		"The number of concurrent requests exceeds the limit", nil)
}

func (s *Sim) zohoFaultReply(c *zohoCall, rt zohoRoute, f *Fault) reply {
	switch f.Kind {
	case Fault500:
		return zohoErrorReply(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal Server Error", nil)
	case Fault503:
		return zohoErrorReply(http.StatusServiceUnavailable, "INTERNAL_ERROR", "Service Unavailable", nil)
	case Fault502HTML:
		return reply{status: http.StatusBadGateway, contentType: contentTypeHTML, body: []byte(
			"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\r\n")}
	case Fault401:
		return zohoErrorReply(http.StatusUnauthorized, "INVALID_TOKEN", "invalid oauth token", nil)
	case FaultTruncatedJSON, FaultMalformedJSON, FaultReset:
		return rt.serve(s, c) // corrupted by the caller once built
	}
	return zohoErrorReply(http.StatusInternalServerError, "INTERNAL_ERROR",
		fmt.Sprintf("crmsim: unknown injected fault kind %q", f.Kind), nil)
}

// zohoTakeFault pops a queued fault for a Zoho endpoint key.
func (m *meter) zohoTakeFault(key string) *Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeFault(key)
}

// zohoEarly counts a request that arrived before a Retry-After told to its client ran out.
func (m *meter) zohoEarly(client string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.early++
	cs := m.byClient[client]
	cs.Early++
	m.byClient[client] = cs
}

// zohoTokenResponse is the accounts server's answer to a refresh grant.
type zohoTokenResponse struct {
	AccessToken string `json:"access_token"`
	APIDomain   string `json:"api_domain"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// serveZohoToken is the accounts server's POST /oauth/v2/token for grant_type=
// refresh_token. A refresh token is one of Options.Tokens. An unknown one answers HTTP 200
// with {"error":"invalid_code"}, as Zoho's accounts server is known to (UNCONFIRMED: the
// reference gives no status).
func (s *Sim) serveZohoToken(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	client := clientName(r.Header.Get("User-Agent"))
	const key = "zoho token"
	sleep(r.Context(), s.opts.Latency)
	var rep reply
	switch {
	case r.Method != http.MethodPost:
		rep = jsonReply(http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
	case r.ParseForm() != nil:
		rep = jsonReply(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
	case r.PostForm.Get("grant_type") != "refresh_token":
		rep = jsonReply(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	case r.PostForm.Get("client_id") == "" || r.PostForm.Get("client_secret") == "":
		rep = jsonReply(http.StatusOK, map[string]string{"error": "invalid_client"})
	default:
		tok, expires, err := s.issueAccessToken(r.PostForm.Get("refresh_token"), arrived)
		switch {
		case errors.Is(err, errUnknownRefreshToken):
			rep = jsonReply(http.StatusOK, map[string]string{"error": "invalid_code"})
		case err != nil:
			rep = jsonReply(http.StatusInternalServerError, map[string]string{"error": "server_error"})
		default:
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			rep = jsonReply(http.StatusOK, zohoTokenResponse{
				AccessToken: tok, APIDomain: scheme + "://" + r.Host, TokenType: "Bearer",
				ExpiresIn: int64(math.Round(expires.Sub(arrived).Seconds())),
			})
		}
	}
	s.meter.finish(key, client, rep.status, arrived)
	s.write(w, rep)
}

// zohoJSON encodes v, or fails loudly: every value the dialect encodes is built from
// strings and numbers.
func zohoJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("crmsim: encoding %T: %v", v, err))
	}
	return b
}

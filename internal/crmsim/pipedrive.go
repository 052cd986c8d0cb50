package crmsim

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Pipedrive dialect serves the seeded dataset as Pipedrive's API does (section 3 of the
// shared CRM API reference): the v2 list endpoints /api/v2/{persons,organizations,deals}
// with cursor paging, updated_since/updated_until, sort_by, ids and (deals) status filters
// and the custom_fields selection (pipedrive_fields.go); /api/v2/pipelines, /api/v2/stages
// and /api/v2/{person,organization,deal}Fields; v1 /v1/users; and the OAuth refresh grant
// at /oauth/token. Ids are the seeded integers and timestamps have Pipedrive's whole-second
// precision, so records the seed or a mutation stamped within one second share one
// update_time. The mapping of the seeded properties to Pipedrive's fields is in
// pipedrive_render.go and pipedrive_fields.go.
//
// Limits (reference 3.5): a rolling burst window per token (BurstLimit per BurstWindow for
// API tokens, OAuthBurstLimit for OAuth access tokens) and a daily token budget per company
// (DailyTokens, shared by every token), where each call costs tokens by endpoint (ListCost)
// and the budget resets at midnight UTC (or every Options.DayLength). Every authenticated
// answer carries x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (whole
// seconds until the window frees a slot), x-daily-ratelimit-token-remaining (UNCONFIRMED
// header) and, for API tokens, x-daily-requests-left; a Date header from the sim's clock
// lets a client work out the daily reset. Over a limit the answer is 429 with
// {"success":false,"error":...,"errorCode":429,"error_info":...} (only the leading
// "success": false is documented); Retry-After only with PipedriveOptions.RetryAfter.

// Pipedrive dialect defaults (reference 3.5: Lite plan, one seat).
const (
	DefaultPipedriveBurstLimit      = 20
	DefaultPipedriveOAuthBurstLimit = 80
	DefaultPipedriveBurstWindow     = 2 * time.Second
	DefaultPipedriveDailyTokens     = 30000
	// DefaultPipedriveListCost is the documented cost of "get list". v2 endpoints are said
	// to cost less, without a figure, so the documented one is used for both.
	DefaultPipedriveListCost = 20
	// pipedriveRequestsLeft is x-daily-requests-left: POST/PUT requests left today, which
	// nothing in the sim spends.
	pipedriveRequestsLeft = 10000
)

// PipedriveOptions configures the Pipedrive dialect's limits. Zero values select the
// defaults above.
type PipedriveOptions struct {
	// BurstLimit is how many requests one API token may make per BurstWindow; default 20.
	BurstLimit int
	// OAuthBurstLimit is the same for an OAuth app's access tokens; default 80.
	OAuthBurstLimit int
	// BurstWindow is the rolling window of the burst limits; default 2 s.
	BurstWindow time.Duration
	// DailyTokens is the company's daily token budget (30,000 x plan x seats); default
	// 30,000.
	DailyTokens int
	// ListCost is what one list call (every endpoint the dialect serves) costs in tokens;
	// default 20.
	ListCost int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up) to 429s. Whether
	// Pipedrive sends one is UNCONFIRMED, so it is off by default.
	RetryAfter bool
}

func (o *PipedriveOptions) applyDefaults() {
	if o.BurstLimit == 0 {
		o.BurstLimit = DefaultPipedriveBurstLimit
	}
	if o.OAuthBurstLimit == 0 {
		o.OAuthBurstLimit = DefaultPipedriveOAuthBurstLimit
	}
	if o.BurstWindow == 0 {
		o.BurstWindow = DefaultPipedriveBurstWindow
	}
	if o.DailyTokens == 0 {
		o.DailyTokens = DefaultPipedriveDailyTokens
	}
	if o.ListCost == 0 {
		o.ListCost = DefaultPipedriveListCost
	}
}

func (o *PipedriveOptions) validate() []error {
	return negatives(
		namedValue{"pipedrive burst limit", int64(o.BurstLimit)},
		namedValue{"pipedrive OAuth burst limit", int64(o.OAuthBurstLimit)},
		namedValue{"pipedrive burst window", int64(o.BurstWindow)},
		namedValue{"pipedrive daily tokens", int64(o.DailyTokens)},
		namedValue{"pipedrive list cost", int64(o.ListCost)},
	)
}

// The two limits a Pipedrive 429 can come from.
const (
	pdBurst = iota
	pdDaily
	pdLimits
)

// pipedriveState is the Pipedrive dialect's rate-limit state and its fixed id mappings.
type pipedriveState struct {
	opts PipedriveOptions

	mu       sync.Mutex
	win      [][]time.Time // per token: requests in the burst window
	day      int64         // the daily period dayUsed counts
	dayUsed  int           // tokens spent today by the company
	told     [][pdLimits]time.Time
	toldUser map[clientToken][pdLimits]time.Time

	fields [numObjects]pdFieldMap
	pipes  []pdPipeline
	stages map[string]pdStage // by seeded (HubSpot) stage id
}

func newPipedriveState(s *Sim) *pipedriveState {
	st := &pipedriveState{
		opts:     s.opts.Pipedrive,
		win:      make([][]time.Time, len(s.opts.Tokens)),
		told:     make([][pdLimits]time.Time, len(s.opts.Tokens)),
		toldUser: map[clientToken][pdLimits]time.Time{},
		day:      s.meter.dayIndex(s.start),
	}
	st.pipes, st.stages = pipedrivePipelines(s.pipelines)
	nextOption := int64(1)
	for k := range numObjects {
		st.fields[k] = pipedriveFields(s.objects[k].typ, &nextOption)
	}
	return st
}

// pdAdmission is the verdict on one authenticated request.
type pdAdmission struct {
	limit     int           // pdBurst or pdDaily when a 429 answers, else -1
	wait      time.Duration // until the request would be allowed
	headers   map[string]string
	early     bool
	earlyUser bool
}

// admit counts one request against the token's burst window (rejected ones too, as the
// window counts arrivals) and, when it is let through, charges its cost to the daily budget.
func (p *pipedriveState) admit(s *Sim, tok int, oauth bool, client string, cost int, now time.Time, fault *Fault) pdAdmission {
	p.mu.Lock()
	defer p.mu.Unlock()
	adm := pdAdmission{limit: -1}
	told, toldUser := p.told[tok], p.toldUser[clientToken{tok, client}]
	for l := range pdLimits {
		adm.early = adm.early || now.Before(told[l])
		adm.earlyUser = adm.earlyUser || now.Before(toldUser[l])
	}

	if d := s.meter.dayIndex(now); d != p.day {
		p.day, p.dayUsed = d, 0
	}
	limit := p.opts.BurstLimit
	if oauth {
		limit = p.opts.OAuthBurstLimit
	}
	win := prune(p.win[tok], now.Add(-p.opts.BurstWindow))
	burstFull := len(win) >= limit
	win = append(win, now)
	p.win[tok] = win
	// The window admits again once the request at len-limit (counting this one) slides out.
	freeIn := time.Duration(0)
	if len(win) >= limit {
		freeIn = win[len(win)-limit].Add(p.opts.BurstWindow).Sub(now)
	}

	switch {
	case fault != nil && fault.Kind == Fault429Daily:
		adm.limit, adm.wait = pdDaily, s.meter.nextReset(now).Sub(now)
	case fault != nil && fault.Kind == Fault429TenSecondly:
		adm.limit, adm.wait = pdBurst, injectedTenSecondlyWait
	case fault != nil && fault.answers():
		// The fault answers instead; it costs what a normal answer costs.
		p.dayUsed += cost
	case p.dayUsed+cost > p.opts.DailyTokens:
		adm.limit, adm.wait = pdDaily, s.meter.nextReset(now).Sub(now)
	case burstFull:
		adm.limit, adm.wait = pdBurst, freeIn
	default:
		p.dayUsed += cost
	}
	if adm.limit >= 0 {
		until := now.Add(adm.wait)
		if until.After(p.told[tok][adm.limit]) {
			p.told[tok][adm.limit] = until
		}
		key := clientToken{tok, client}
		tu := p.toldUser[key]
		if until.After(tu[adm.limit]) {
			tu[adm.limit] = until
			p.toldUser[key] = tu
		}
	}

	reset := freeIn
	if len(win) > 0 && reset <= 0 {
		reset = win[0].Add(p.opts.BurstWindow).Sub(now)
	}
	if adm.limit == pdBurst {
		reset = adm.wait
	}
	adm.headers = map[string]string{
		"x-ratelimit-limit":                 strconv.Itoa(limit),
		"x-ratelimit-remaining":             strconv.Itoa(max(0, limit-len(win))),
		"x-ratelimit-reset":                 strconv.FormatInt(ceilSeconds(reset), 10),
		"x-daily-ratelimit-token-remaining": strconv.Itoa(max(0, p.opts.DailyTokens-p.dayUsed)),
	}
	if !oauth {
		adm.headers["x-daily-requests-left"] = strconv.Itoa(pipedriveRequestsLeft)
	}
	return adm
}

func ceilSeconds(d time.Duration) int64 {
	return max(0, int64(math.Ceil(d.Seconds())))
}

// pipedriveEarly counts a request that arrived before a wait a 429 told its token (and,
// with user, its client) had passed.
func (m *meter) pipedriveEarly(client string, token, user bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if token {
		m.early++
	}
	if user {
		cs := m.byClient[client]
		cs.Early++
		m.byClient[client] = cs
	}
}

// takePipedriveFault pops one use of the first queued fault matching key.
func (m *meter) takePipedriveFault(key string) *Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.takeFault(key)
}

// pdRoute is a matched Pipedrive request.
type pdRoute struct {
	key   string
	cost  int
	serve func(s *Sim, c *call) reply
}

// servePipedrive runs every Pipedrive API request through the same steps as the HubSpot
// dialect: count, authenticate, rate limit, then answer, with faults after counting.
func (s *Sim) servePipedrive(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	client := clientName(r.Header.Get("User-Agent"))
	rt := s.pipedriveMatch(r)
	c := &call{r: r, now: arrived, corr: newUUID()}
	w.Header().Set("Date", arrived.UTC().Format(http.TimeFormat))

	tok, oauth, status := s.pipedriveAuth(r, arrived)
	if status != tokenValid {
		sleep(r.Context(), s.opts.Latency)
		msg := "unauthorized access"
		if status == tokenExpired {
			// UNCONFIRMED wording: Pipedrive's text for an expired access token.
			msg = "Unauthorized: access token has expired"
		}
		rep := pipedriveError(http.StatusUnauthorized, msg)
		s.meter.finish(rt.key, client, rep.status, arrived)
		s.write(w, rep)
		return
	}

	fault := s.meter.takePipedriveFault(rt.key)
	adm := s.pd.admit(s, tok, oauth, client, rt.cost, arrived, fault)
	if adm.early || adm.earlyUser {
		s.meter.pipedriveEarly(client, adm.early, adm.earlyUser)
	}
	delay := s.opts.Latency
	if fault != nil && fault.Kind == FaultLatency {
		delay += fault.Latency
	}
	sleep(r.Context(), delay)
	for k, v := range adm.headers {
		w.Header().Set(k, v)
	}

	var rep reply
	switch {
	case adm.limit >= 0:
		if s.pd.opts.RetryAfter {
			w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(adm.wait), 10))
		}
		msg := "Request over limit"
		if adm.limit == pdDaily {
			// UNCONFIRMED wording: the doc's 429 body was cut after "success": false.
			msg = "Daily API token budget exceeded"
		}
		rep = pipedriveError(http.StatusTooManyRequests, msg)
	case fault != nil && fault.answers():
		rep = s.pipedriveFaultReply(c, rt, fault)
	default:
		rep = rt.serve(s, c)
	}
	if fault != nil {
		switch fault.Kind {
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
	s.write(w, rep)
}

// pipedriveAuth resolves the request's credential: an API token in x-api-token (or the
// legacy api_token query parameter), or an OAuth access token (or API token) as a Bearer
// token. oauth reports an access token from the refresh grant, which has the OAuth burst
// limit.
func (s *Sim) pipedriveAuth(r *http.Request, now time.Time) (int, bool, tokenStatus) {
	if v := r.Header.Get("x-api-token"); v != "" {
		i, ok := s.tokens[strings.TrimSpace(v)]
		if !ok {
			return 0, false, tokenUnknown
		}
		return i, false, tokenValid
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		i, status := s.checkToken(tok, now)
		_, static := s.tokens[strings.TrimSpace(tok)]
		return i, !static, status
	}
	if v := r.URL.Query().Get("api_token"); v != "" {
		i, ok := s.tokens[v]
		if !ok {
			return 0, false, tokenUnknown
		}
		return i, false, tokenValid
	}
	return 0, false, tokenUnknown
}

// pipedriveErrorInfo is the error_info every Pipedrive error carries.
const pipedriveErrorInfo = "Please check developers.pipedrive.com for more information about Pipedrive API."

// pipedriveErrorBody is Pipedrive's error shape.
type pipedriveErrorBody struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	ErrorCode int    `json:"errorCode"`
	ErrorInfo string `json:"error_info"`
}

func pipedriveError(status int, msg string) reply {
	return jsonReply(status, pipedriveErrorBody{Success: false, Error: msg, ErrorCode: status, ErrorInfo: pipedriveErrorInfo})
}

func (s *Sim) pipedriveFaultReply(c *call, rt pdRoute, f *Fault) reply {
	switch f.Kind {
	case Fault500:
		return pipedriveError(http.StatusInternalServerError, "Internal server error")
	case Fault503:
		return pipedriveError(http.StatusServiceUnavailable, "Service unavailable")
	case Fault502HTML:
		return reply{status: http.StatusBadGateway, contentType: contentTypeHTML, body: []byte(
			"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
				"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")}
	case Fault401:
		return pipedriveError(http.StatusUnauthorized, "unauthorized access")
	case FaultTruncatedJSON, FaultMalformedJSON, FaultReset:
		return rt.serve(s, c) // corrupted by the caller once built
	}
	return pipedriveError(http.StatusInternalServerError, fmt.Sprintf("crmsim: unknown injected fault kind %q", f.Kind))
}

// pipedriveTokenResponse is the refresh grant's answer.
type pipedriveTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	APIDomain    string `json:"api_domain"`
}

// servePipedriveToken is Pipedrive's POST /oauth/token refresh grant: the client
// authenticates with HTTP Basic (client_id:client_secret, any pair here: the sim has no app
// registry) and sends grant_type=refresh_token&refresh_token=... as a form. The refresh
// token is one of Options.Tokens and comes back unchanged; api_domain is the sim's own base
// URL, where the API is.
func (s *Sim) servePipedriveToken(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	const key = "pipedrive oauth token"
	client := clientName(r.Header.Get("User-Agent"))
	sleep(r.Context(), s.opts.Latency)
	w.Header().Set("Date", arrived.UTC().Format(http.TimeFormat))
	rep := s.pipedriveToken(r, arrived)
	s.meter.finish(key, client, rep.status, arrived)
	s.write(w, rep)
}

func (s *Sim) pipedriveToken(r *http.Request, now time.Time) reply {
	if r.Method != http.MethodPost {
		return pipedriveError(http.StatusMethodNotAllowed, "Method not allowed")
	}
	if id, secret, ok := r.BasicAuth(); !ok || id == "" || secret == "" {
		return jsonReply(http.StatusUnauthorized, map[string]any{"success": false, "error": "Invalid client credentials"})
	}
	if err := r.ParseForm(); err != nil {
		return jsonReply(http.StatusBadRequest, map[string]any{"success": false, "error": "Invalid request body"})
	}
	if gt := r.PostForm.Get("grant_type"); gt != "refresh_token" {
		return jsonReply(http.StatusBadRequest, map[string]any{"success": false, "error": "Unsupported grant type: " + gt})
	}
	refresh := r.PostForm.Get("refresh_token")
	tok, _, err := s.issueAccessToken(refresh, now)
	if errors.Is(err, errUnknownRefreshToken) {
		// UNCONFIRMED wording.
		return jsonReply(http.StatusBadRequest, map[string]any{"success": false, "error": "Invalid grant: refresh token is invalid"})
	}
	if err != nil {
		return pipedriveError(http.StatusInternalServerError, "Internal server error")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return jsonReply(http.StatusOK, pipedriveTokenResponse{
		AccessToken: tok, TokenType: "Bearer", RefreshToken: refresh,
		Scope: "base,deals:full,contacts:full,users:read", ExpiresIn: max(0, ceilSeconds(s.opts.AccessTokenTTL)-1),
		APIDomain: scheme + "://" + r.Host,
	})
}

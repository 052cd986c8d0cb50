package crmsim

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// policy is one of HubSpot's rate limits.
type policy int

const (
	policyNone policy = iota
	policyDaily
	policyTenSecondly
	policySecondly
	numPolicies
)

// Window lengths of the rolling limits.
const (
	tenSecondWindow = 10 * time.Second
	searchWindow    = time.Second
	// injectedTenSecondlyWait is what an injected ten-secondly 429 tells the client to wait:
	// the fault does not come from a real window, so there is no real instant to report.
	injectedTenSecondlyWait = time.Second
	// maxPerSecondEntries bounds the per-second chart data to one day.
	maxPerSecondEntries = 86400
)

func (p policy) name() string {
	switch p {
	case policyDaily:
		return "DAILY"
	case policyTenSecondly:
		return "TEN_SECONDLY_ROLLING"
	case policySecondly:
		return "SECONDLY"
	}
	return ""
}

func (p policy) message() string {
	switch p {
	case policyDaily:
		return "You have reached your daily limit."
	case policyTenSecondly:
		return "You have reached your ten_secondly_rolling limit."
	case policySecondly:
		return "You have reached your secondly limit."
	}
	return ""
}

// Stats counts the API traffic the simulator has seen since it started or since the last
// ResetStats. Admin requests are never counted.
type Stats struct {
	// Total counts all API requests, with a valid token or not.
	Total int `json:"total"`
	// ByEndpoint maps an endpoint key ("list contacts", "list_archived contacts",
	// "search contacts", "batch_read contacts", "batch_create contacts", "batch_update
	// contacts", "batch_upsert contacts", "get contacts", "batch_associations
	// contacts->companies", "owners", "pipelines deals", "properties contacts", "usage",
	// "unknown") to response status -> count. Status 0 counts connections reset by an
	// injected fault.
	ByEndpoint map[string]map[int]int `json:"byEndpoint"`
	// RateLimited counts 429 responses, real or injected.
	RateLimited int `json:"rateLimited"`
	// Early counts requests that arrived before the wait a previous 429 implied for the
	// same token and limit had passed: a measure of clients that do not honour the wait.
	Early int `json:"early"`
	// Peak10s maps a token label ("token#1", in Options.Tokens order) to the most
	// non-search requests it had in any rolling 10 s window.
	Peak10s map[string]int `json:"peak10s"`
	// PerSecond counts requests per clock second, ascending, for charts.
	PerSecond []SecondCount `json:"perSecond"`
	// ByClient splits the traffic by client (the User-Agent's product name, "crmsync" for
	// crmsync), so that clients sharing a token are judged each on its own behaviour.
	ByClient map[string]ClientStats `json:"byClient"`
}

// ClientStats is one client's share of the traffic.
type ClientStats struct {
	Calls       int `json:"calls"`
	RateLimited int `json:"rateLimited"`
	Early       int `json:"early"`
}

// SecondCount is the traffic in one clock second.
type SecondCount struct {
	Unix        int64 `json:"unix"`
	Requests    int   `json:"requests"`
	RateLimited int   `json:"rateLimited"`
}

// Calls sums all statuses recorded for an endpoint key.
func (st Stats) Calls(endpoint string) int {
	n := 0
	for _, c := range st.ByEndpoint[endpoint] {
		n += c
	}
	return n
}

// meter holds the rate-limit windows, the told waits, the fault queue and the stats. One
// mutex keeps each request's admission decision atomic.
type meter struct {
	mu sync.Mutex

	tenLimit, dailyLimit, searchLimit int
	dayLength                         time.Duration
	start                             time.Time

	tokenWin  [][]time.Time // per token: times of non-search requests in the last 10 s
	searchWin []time.Time   // account-wide: times of search requests in the last 1 s
	day       int64
	dayCount  int
	told      [][numPolicies]time.Time // per token: instant the last 429 said to wait for
	// toldClient is told per token and client: a client is early only against waits it
	// was itself told, not against a 429 another client sharing the token received.
	toldClient map[clientToken][numPolicies]time.Time
	byClient   map[string]ClientStats
	faults     []Fault

	total, rateLimited, early int
	byEndpoint                map[string]map[int]int
	peak                      []int
	perSecond                 map[int64]*SecondCount
}

func newMeter(opts Options, start time.Time) *meter {
	m := &meter{
		tenLimit:    opts.TenSecondLimit,
		dailyLimit:  opts.DailyLimit,
		searchLimit: opts.SearchPerSecond,
		dayLength:   opts.DayLength,
		start:       start,
		tokenWin:    make([][]time.Time, len(opts.Tokens)),
		told:        make([][numPolicies]time.Time, len(opts.Tokens)),
		toldClient:  map[clientToken][numPolicies]time.Time{},
		byClient:    map[string]ClientStats{},
	}
	m.day = m.dayIndex(start)
	m.resetStats()
	return m
}

func (m *meter) resetStats() {
	m.total, m.rateLimited, m.early = 0, 0, 0
	m.byEndpoint = make(map[string]map[int]int)
	m.peak = make([]int, len(m.tokenWin))
	m.perSecond = make(map[int64]*SecondCount)
	m.byClient = map[string]ClientStats{}
}

// dayIndex numbers the daily-limit periods.
func (m *meter) dayIndex(t time.Time) int64 {
	if m.dayLength > 0 {
		d := t.Sub(m.start)
		if d < 0 {
			return -1 - int64((-d-1)/m.dayLength)
		}
		return int64(d / m.dayLength)
	}
	return floorDiv(t.Unix(), 86400)
}

// nextReset is when the daily counter next goes back to zero.
func (m *meter) nextReset(t time.Time) time.Time {
	i := m.dayIndex(t) + 1
	if m.dayLength > 0 {
		return m.start.Add(time.Duration(i) * m.dayLength)
	}
	return time.Unix(i*86400, 0).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (m *meter) rollDay(now time.Time) {
	if d := m.dayIndex(now); d != m.day {
		m.day, m.dayCount = d, 0
	}
}

// admission is the meter's verdict on one authenticated request.
type admission struct {
	policy  policy        // the limit that rejects the request, or policyNone
	wait    time.Duration // until a request would next be allowed, when policy is set
	until   time.Time     // the instant the wait ends
	fault   *Fault        // an injected fault to apply instead of the normal answer
	headers rateHeaders   // values for the X-HubSpot-RateLimit-* headers
}

type rateHeaders struct {
	max, remaining, daily, dailyRemaining, secondly, secondlyRemaining int
}

// prune drops the times at or before cutoff; windows are appended in clock order.
func prune(win []time.Time, cutoff time.Time) []time.Time {
	k := 0
	for k < len(win) && !win[k].After(cutoff) {
		k++
	}
	return win[k:]
}

// admit counts one authenticated request against every limit it is subject to (whatever
// the outcome: rejected requests count too) and decides whether a limit or an injected
// fault answers it.
func (m *meter) admit(tok int, search bool, key, client string, now time.Time) admission {
	m.mu.Lock()
	defer m.mu.Unlock()
	var adm admission

	told := &m.told[tok]
	windowPolicy := policyTenSecondly
	if search {
		windowPolicy = policySecondly
	}
	if now.Before(told[policyDaily]) || now.Before(told[windowPolicy]) {
		m.early++
	}
	if ct := m.toldClient[clientToken{tok, client}]; now.Before(ct[policyDaily]) || now.Before(ct[windowPolicy]) {
		cs := m.byClient[client]
		cs.Early++
		m.byClient[client] = cs
	}

	m.rollDay(now)
	if m.dayCount >= m.dailyLimit {
		adm.policy, adm.wait = policyDaily, m.nextReset(now).Sub(now)
	}
	m.dayCount++

	if search {
		m.searchWin = prune(m.searchWin, now.Add(-searchWindow))
		limited := len(m.searchWin) >= m.searchLimit
		m.searchWin = append(m.searchWin, now)
		if limited && adm.policy == policyNone {
			adm.policy = policySecondly
			adm.wait = m.searchWin[len(m.searchWin)-m.searchLimit].Add(searchWindow).Sub(now)
		}
	} else {
		win := prune(m.tokenWin[tok], now.Add(-tenSecondWindow))
		limited := len(win) >= m.tenLimit
		win = append(win, now)
		m.tokenWin[tok] = win
		m.peak[tok] = max(m.peak[tok], len(win))
		if limited && adm.policy == policyNone {
			// The window admits again once it holds fewer than the limit, i.e. when the
			// request at len-limit (counting this one) has slid out.
			adm.policy = policyTenSecondly
			adm.wait = win[len(win)-m.tenLimit].Add(tenSecondWindow).Sub(now)
		}
		recent := 0
		for k := len(win) - 1; k >= 0 && win[k].After(now.Add(-time.Second)); k-- {
			recent++
		}
		adm.headers = rateHeaders{
			max: m.tenLimit, remaining: max(0, m.tenLimit-len(win)),
			daily: m.dailyLimit, dailyRemaining: max(0, m.dailyLimit-m.dayCount),
			secondly: m.tenLimit / 10, secondlyRemaining: max(0, m.tenLimit/10-recent),
		}
	}

	if f := m.takeFault(key); f != nil {
		adm.fault = f
		switch f.Kind {
		case Fault429TenSecondly:
			adm.policy, adm.wait = policyTenSecondly, injectedTenSecondlyWait
		case Fault429Daily:
			adm.policy, adm.wait = policyDaily, m.nextReset(now).Sub(now)
		case FaultLatency:
			adm.fault = f // the normal answer follows, delayed
		default:
			// The fault answers instead of any limit, so no wait was told.
			adm.policy, adm.wait = policyNone, 0
			return adm
		}
	}
	if adm.policy != policyNone {
		adm.until = now.Add(adm.wait)
	}
	return adm
}

// tell records, as the 429 reaches the client, the wait it told: requests that arrive
// from now until then are early. Requests already on their way when the 429 was decided
// could not have known, and are not.
func (m *meter) tell(tok int, client string, adm admission) {
	if adm.policy == policyNone {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if told := &m.told[tok]; adm.until.After(told[adm.policy]) {
		told[adm.policy] = adm.until
	}
	key := clientToken{tok, client}
	if ct := m.toldClient[key]; adm.until.After(ct[adm.policy]) {
		ct[adm.policy] = adm.until
		m.toldClient[key] = ct
	}
}

// clientToken names one client's use of one token.
type clientToken struct {
	tok    int
	client string
}

// takeFault pops one use of the first queued fault matching key.
func (m *meter) takeFault(key string) *Fault {
	for i := range m.faults {
		f := &m.faults[i]
		if f.Endpoint != "" && f.Endpoint != key {
			continue
		}
		taken := *f
		f.Count--
		if f.Count <= 0 {
			m.faults = slices.Delete(m.faults, i, i+1)
		}
		return &taken
	}
	return nil
}

// usage reports the daily counter for the usage endpoint.
func (m *meter) usage(now time.Time) (used, limit int, resetsAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollDay(now)
	return m.dayCount, m.dailyLimit, m.nextReset(now)
}

// finish records a request's outcome in the stats.
func (m *meter) finish(key, client string, status int, arrived time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total++
	cs := m.byClient[client]
	cs.Calls++
	if status == 429 {
		cs.RateLimited++
	}
	m.byClient[client] = cs
	byStatus := m.byEndpoint[key]
	if byStatus == nil {
		byStatus = make(map[int]int)
		m.byEndpoint[key] = byStatus
	}
	byStatus[status]++
	sec := arrived.Unix()
	sc := m.perSecond[sec]
	if sc == nil {
		if len(m.perSecond) >= maxPerSecondEntries {
			oldest := slices.Min(slices.Collect(maps.Keys(m.perSecond)))
			delete(m.perSecond, oldest)
		}
		sc = &SecondCount{Unix: sec}
		m.perSecond[sec] = sc
	}
	sc.Requests++
	if status == 429 {
		m.rateLimited++
		sc.RateLimited++
	}
}

func (m *meter) stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Stats{
		Total:       m.total,
		RateLimited: m.rateLimited,
		Early:       m.early,
		ByEndpoint:  make(map[string]map[int]int, len(m.byEndpoint)),
		Peak10s:     make(map[string]int, len(m.peak)),
		PerSecond:   make([]SecondCount, 0, len(m.perSecond)),
		ByClient:    maps.Clone(m.byClient),
	}
	for k, v := range m.byEndpoint {
		st.ByEndpoint[k] = maps.Clone(v)
	}
	for i, p := range m.peak {
		st.Peak10s[tokenLabel(i)] = p
	}
	for _, sc := range m.perSecond {
		st.PerSecond = append(st.PerSecond, *sc)
	}
	slices.SortFunc(st.PerSecond, func(a, b SecondCount) int { return int(a.Unix - b.Unix) })
	return st
}

// Stats returns a copy of the traffic counters.
func (s *Sim) Stats() Stats { return s.meter.stats() }

// Calls is shorthand for Stats().Calls(endpoint).
func (s *Sim) Calls(endpoint string) int { return s.Stats().Calls(endpoint) }

// ResetStats zeroes the traffic counters. Rate-limit windows and told waits are state, not
// statistics, and carry on.
func (s *Sim) ResetStats() {
	s.meter.mu.Lock()
	defer s.meter.mu.Unlock()
	s.meter.resetStats()
}

package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// rowParams are the parameters that distinguish the rows of a scenario.
type rowParams struct {
	scenario string
	quota    int
	latency  time.Duration
	workers  int
	// provider is the CRM of scenario (p)'s rows, which run at its default quota; empty
	// for the other scenarios, which are HubSpot's.
	provider string
	// narrow marks a row on a narrow account (scenario p).
	narrow bool
}

// runName names a row in ids and file names: "a-b100-lat200ms-w1", or "p-zoho-lat200ms-w1"
// for a provider's row.
func (p rowParams) runName() string {
	if p.provider != "" {
		width := ""
		if p.narrow {
			width = "-narrow"
		}
		return fmt.Sprintf("%s-%s%s-lat%dms-w%d", p.scenario, p.provider, width, p.latency.Milliseconds(), p.workers)
	}
	return fmt.Sprintf("%s-b%d-lat%dms-w%d", p.scenario, p.quota, p.latency.Milliseconds(), p.workers)
}

// result is one row of the table and one JSON line.
type result struct {
	Scenario  string `json:"scenario"`
	Run       string `json:"run"`
	Quota     int    `json:"quota_per_10s"`
	LatencyMS int64  `json:"latency_ms"`
	Workers   int    `json:"workers"`

	Records         int     `json:"records"`
	APICalls        int     `json:"api_calls"`
	MinCalls        int     `json:"min_calls"`
	CallsPerMin     ratio   `json:"calls_per_min"`
	ElapsedS        float64 `json:"elapsed_s"`
	TLimS           float64 `json:"t_lim_s"`
	ElapsedOverTLim ratio   `json:"elapsed_over_tlim"`
	Utilisation     ratio   `json:"utilisation"`
	// RateLimited are crmsync's 429s.
	RateLimited int `json:"rate_limited"`
	// Early counts crmsync's calls made before a wait crmsync was told had passed.
	Early int `json:"early"`
	// Peak10s is the most calls the token had in any rolling 10 s window, from every client
	// of the token: what the CRM holds against the quota.
	Peak10s int `json:"peak_10s"`
	// ByEndpoint is the simulator's calls per endpoint key, from every client.
	ByEndpoint map[string]int `json:"by_endpoint,omitempty"`

	// OtherConsumer is what the second consumer of scenario (c) did.
	OtherConsumer *consumerCounts `json:"other_consumer,omitempty"`
	// IdleDelta is the cost of a delta sync with nothing to do, per stream (scenario d).
	IdleDelta []streamCalls `json:"idle_delta,omitempty"`
	// Daily is what scenario (e) shows of the daily budget.
	Daily *dailyCounts `json:"daily,omitempty"`
	// Idle is what an idle worker costs (scenario f).
	Idle *idleCounts `json:"idle,omitempty"`
	// Pushed is what changes pushed by webhook cost (scenario g), one burst per entry.
	Pushed []pushedRound `json:"pushed,omitempty"`
	// Reference is what resolving labels over a sync cost (scenario h).
	Reference *referenceCounts `json:"reference,omitempty"`
	// Associations is what each pair's associations sync cost (scenario i).
	Associations []associationCounts `json:"associations,omitempty"`
	// Provider is what a provider's backfill showed (scenario p).
	Provider *providerCounts `json:"provider,omitempty"`
	// Writes is what one client's handling of the write burst cost (scenarios w and x).
	Writes *writeCounts `json:"writes,omitempty"`
	// Priority is the backfill a write burst arrived in (scenario x).
	Priority *priorityCounts `json:"priority,omitempty"`
	// Soak is what the soak run saw (scenario s).
	Soak *soakCounts `json:"soak,omitempty"`

	Error string `json:"error,omitempty"`
}

// streamCalls is the API traffic of one stream's delta sync.
type streamCalls struct {
	Object      crm.Object     `json:"object"`
	Calls       int            `json:"calls"`
	RateLimited int            `json:"rate_limited"`
	ByEndpoint  map[string]int `json:"by_endpoint"`
}

// newResult starts a row; its figures are undefined until record fills them.
func newResult(p rowParams) result {
	nan := ratio(math.NaN())
	return result{
		Scenario: p.scenario, Run: p.runName(), Quota: p.quota, LatencyMS: p.latency.Milliseconds(), Workers: p.workers,
		CallsPerMin: nan, ElapsedOverTLim: nan, Utilisation: nan,
	}
}

// record fills the row's figures from crmsync's traffic, the records synced and the time
// taken.
func (res *result) record(t traffic, records int, elapsed time.Duration) {
	res.recordAt(t, records, elapsed, pageSize, res.Quota, quotaWindow)
}

// recordAt is record for a CRM with its own page size and quota of quotaCalls per window
// (0 calls: no short window).
func (res *result) recordAt(t traffic, records int, elapsed time.Duration, page, quotaCalls int, window time.Duration) {
	m := derive(measurement{Records: records, APICalls: t.calls, Elapsed: elapsed, Quota: quotaCalls, PageSize: page, Window: window})
	res.Records, res.APICalls, res.ElapsedS = records, t.calls, roundTo(elapsed.Seconds(), 3)
	res.MinCalls, res.CallsPerMin, res.TLimS = m.MinCalls, m.CallsPerMin, m.TLim.Seconds()
	res.ElapsedOverTLim, res.Utilisation = m.ElapsedOverTLim, m.Utilisation
	res.RateLimited, res.Early, res.Peak10s, res.ByEndpoint = t.rateLimited, t.early, t.peak, t.byEndpoint
}

// traffic is crmsync's part of the simulator's counters.
type traffic struct {
	calls, rateLimited, early, peak int
	byEndpoint                      map[string]int
}

// crmsyncClient is the name crmsync's requests carry (their User-Agent product), which the
// simulator splits its counters by.
const crmsyncClient = "crmsync"

// trafficOf takes crmsync's traffic from the simulator's per-client counters, so another
// consumer of the token is not held against crmsync; the peak window is the token's, from
// every client, because that is what the CRM holds against the quota.
func trafficOf(st crmsim.Stats) traffic {
	own := st.ByClient[crmsyncClient]
	t := traffic{
		calls:       own.Calls,
		rateLimited: own.RateLimited,
		early:       own.Early,
		byEndpoint:  endpointCalls(st),
	}
	for _, p := range st.Peak10s {
		t.peak = max(t.peak, p)
	}
	return t
}

// endpointCalls sums each endpoint's calls over their statuses.
func endpointCalls(st crmsim.Stats) map[string]int {
	out := make(map[string]int, len(st.ByEndpoint))
	for key := range st.ByEndpoint {
		out[key] = st.Calls(key)
	}
	return out
}

// deltaCalls is the traffic between two snapshots of the simulator's stats.
func deltaCalls(obj crm.Object, before, after crmsim.Stats) streamCalls {
	sc := streamCalls{
		Object:      obj,
		Calls:       after.Total - before.Total,
		RateLimited: after.RateLimited - before.RateLimited,
		ByEndpoint:  map[string]int{},
	}
	was := endpointCalls(before)
	for key, n := range endpointCalls(after) {
		if d := n - was[key]; d != 0 {
			sc.ByEndpoint[key] = d
		}
	}
	return sc
}

// idleDeltaSummary formats the idle delta's calls per stream for the table.
func idleDeltaSummary(streams []streamCalls) string {
	if len(streams) == 0 {
		return "-"
	}
	parts := make([]string, len(streams))
	for i, s := range streams {
		keys := slices.Sorted(maps.Keys(s.ByEndpoint))
		detail := make([]string, len(keys))
		for j, k := range keys {
			op, _, _ := strings.Cut(k, " ")
			detail[j] = fmt.Sprintf("%s %d", op, s.ByEndpoint[k])
		}
		parts[i] = fmt.Sprintf("%s %d (%s)", s.Object, s.Calls, strings.Join(detail, ", "))
	}
	return strings.Join(parts, "; ")
}

// roundTo rounds x to the given number of decimals.
func roundTo(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

package main

import (
	"encoding/json"
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crmsim"
)

func TestDerive(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name            string
		in              measurement
		minCalls        int
		callsPerMin     float64
		tLim            time.Duration
		elapsedOverTLim float64
		utilisation     float64
	}{
		{
			name:     "first window's burst: every call fits in it, so no lower bound on time",
			in:       measurement{Records: 5000, APICalls: 52, Elapsed: 6500 * time.Millisecond, Quota: 100},
			minCalls: 50, callsPerMin: 1.04, tLim: 0, elapsedOverTLim: nan, utilisation: 0.8,
		},
		{
			name:     "exactly one full window: B calls still fit in the first",
			in:       measurement{Records: 10000, APICalls: 100, Elapsed: 10 * time.Second, Quota: 100},
			minCalls: 100, callsPerMin: 1, tLim: 0, elapsedOverTLim: nan, utilisation: 1,
		},
		{
			name:     "one call more than the window needs a second window",
			in:       measurement{Records: 10001, APICalls: 101, Elapsed: 10 * time.Second, Quota: 100},
			minCalls: 101, callsPerMin: 1, tLim: 10 * time.Second, elapsedOverTLim: 1, utilisation: 1.01,
		},
		{
			name:     "50,000 records at 100 per 10 s",
			in:       measurement{Records: 50000, APICalls: 503, Elapsed: 55 * time.Second, Quota: 100},
			minCalls: 500, callsPerMin: 1.006, tLim: 50 * time.Second, elapsedOverTLim: 1.1, utilisation: 503.0 / 55 / 10,
		},
		{
			name:     "50,000 records at 190 per 10 s",
			in:       measurement{Records: 50000, APICalls: 503, Elapsed: 30 * time.Second, Quota: 190},
			minCalls: 500, callsPerMin: 1.006, tLim: 20 * time.Second, elapsedOverTLim: 1.5, utilisation: 503.0 / 30 / 19,
		},
		{
			name:     "a partial last page still costs a call",
			in:       measurement{Records: 2001, APICalls: 21, Elapsed: 2 * time.Second, Quota: 100},
			minCalls: 21, callsPerMin: 1, tLim: 0, elapsedOverTLim: nan, utilisation: 1.05,
		},
		{
			name:     "Pipedrive: pages of 500, 20 calls per 2 s",
			in:       measurement{Records: 20000, APICalls: 42, Elapsed: 5 * time.Second, Quota: 20, PageSize: 500, Window: 2 * time.Second},
			minCalls: 40, callsPerMin: 1.05, tLim: 4 * time.Second, elapsedOverTLim: 1.25, utilisation: 42.0 / 5 / 10,
		},
		{
			name:     "no short window (Salesforce, Zoho): time and utilisation undefined",
			in:       measurement{Records: 20000, APICalls: 14, Elapsed: 4 * time.Second, PageSize: 2000},
			minCalls: 10, callsPerMin: 1.4, tLim: 0, elapsedOverTLim: nan, utilisation: nan,
		},
		{
			name:     "nothing measured: every ratio undefined",
			in:       measurement{Quota: 100},
			minCalls: 0, callsPerMin: nan, tLim: 0, elapsedOverTLim: nan, utilisation: nan,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := derive(tc.in)
			require.Equal(t, tc.minCalls, got.MinCalls, "min calls")
			requireRatio(t, tc.callsPerMin, got.CallsPerMin, "calls/min")
			require.Equal(t, tc.tLim, got.TLim, "T_lim")
			requireRatio(t, tc.elapsedOverTLim, got.ElapsedOverTLim, "elapsed/T_lim")
			requireRatio(t, tc.utilisation, got.Utilisation, "utilisation")
		})
	}
}

func requireRatio(t *testing.T, want float64, got ratio, what string) {
	t.Helper()
	if math.IsNaN(want) {
		require.False(t, got.defined(), "%s: want undefined, got %v", what, float64(got))
		return
	}
	require.InDelta(t, want, float64(got), 1e-9, what)
}

func TestRatioFormats(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(struct {
		Defined   ratio `json:"defined"`
		Undefined ratio `json:"undefined"`
	}{Defined: 1.234567, Undefined: ratio(math.NaN())})
	require.NoError(t, err)
	require.JSONEq(t, `{"defined": 1.2346, "undefined": null}`, string(b))
	require.Equal(t, "1.23", ratio(1.234567).String())
	require.Equal(t, "-", ratio(math.Inf(1)).String())
}

func TestTrafficOfIsCrmsyncsOwn(t *testing.T) {
	t.Parallel()
	st := crmsim.Stats{
		Total:       700,
		RateLimited: 40,
		Early:       3,
		ByEndpoint:  map[string]map[int]int{"list contacts": {200: 450, 429: 10}, "list companies": {200: 210, 429: 30}},
		Peak10s:     map[string]int{"token#1": 101},
		ByClient: map[string]crmsim.ClientStats{
			"crmsync":        {Calls: 460, RateLimited: 10, Early: 0},
			"bench-consumer": {Calls: 240, RateLimited: 30, Early: 3},
		},
	}
	got := trafficOf(st)
	require.Equal(t, 460, got.calls)
	require.Equal(t, 10, got.rateLimited)
	require.Zero(t, got.early, "the other consumer's early calls are its own")
	require.Equal(t, 101, got.peak)
	require.Equal(t, map[string]int{"list contacts": 460, "list companies": 240}, got.byEndpoint)
}

func TestDeltaCalls(t *testing.T) {
	t.Parallel()
	before := crmsim.Stats{Total: 10, ByEndpoint: map[string]map[int]int{"list contacts": {200: 10}}}
	after := crmsim.Stats{Total: 12, RateLimited: 0, ByEndpoint: map[string]map[int]int{
		"list contacts": {200: 10}, "search contacts": {200: 1}, "list_archived contacts": {200: 1},
	}}
	got := deltaCalls("contacts", before, after)
	require.Equal(t, 2, got.Calls)
	require.Equal(t, map[string]int{"search contacts": 1, "list_archived contacts": 1}, got.ByEndpoint)
	require.Equal(t, "contacts 2 (list_archived 1, search 1)", idleDeltaSummary([]streamCalls{got}))
}

func TestConsumerInterval(t *testing.T) {
	t.Parallel()
	require.Equal(t, 200*time.Millisecond, consumerInterval(100, 0.5))
	require.Equal(t, 100*time.Millisecond, consumerInterval(100, 1))
}

func TestRunName(t *testing.T) {
	t.Parallel()
	p := rowParams{scenario: "a", quota: 190, latency: 200 * time.Millisecond, workers: 3}
	require.Equal(t, "a-b190-lat200ms-w3", p.runName())
	p = rowParams{scenario: "p", latency: 200 * time.Millisecond, workers: 1, provider: "zoho"}
	require.Equal(t, "p-zoho-lat200ms-w1", p.runName())
	p.narrow = true
	require.Equal(t, "p-zoho-narrow-lat200ms-w1", p.runName())
}

func TestParseFlagsProviders(t *testing.T) {
	t.Parallel()
	opts, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"hubspot", "salesforce", "pipedrive", "zoho"}, opts.providers)
	require.Equal(t, []string{"wide", "narrow"}, opts.widths)
	opts, err = parseFlags([]string{"--providers", "hubspot, zoho"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []string{"hubspot", "zoho"}, opts.providers)
	_, err = parseFlags([]string{"--providers", "dynamics"}, io.Discard)
	require.ErrorContains(t, err, `"dynamics" is not one of`)
}

func TestSelectScenarios(t *testing.T) {
	t.Parallel()
	got, err := selectScenarios([]string{"d", "a"})
	require.NoError(t, err)
	require.Equal(t, "d", got[0].name)
	require.Equal(t, "a", got[1].name)
	_, err = selectScenarios([]string{"z"})
	require.ErrorContains(t, err, `unknown scenario "z"`)
}

func TestPauseOfFindsTheLongestGapAndTheCallsBeforeIt(t *testing.T) {
	t.Parallel()
	series := []crmsim.SecondCount{{Unix: 100, Requests: 10}, {Unix: 101, Requests: 10}, {Unix: 103, Requests: 5},
		{Unix: 150, Requests: 7}, {Unix: 151, Requests: 1}}
	d := pauseOf(series)
	require.Equal(t, 25, d.FirstDayCalls)
	require.InDelta(t, 46, d.PausedS, 0)
}

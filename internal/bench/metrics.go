package main

import (
	"cmp"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// pageSize is HubSpot's list page size: the fewest calls that can move N records is
// ceil(N/pageSize). Scenario (p) measures the other CRMs with their connectors' own.
const pageSize = 100

// quotaWindow is HubSpot's rolling quota window (B requests per 10 s).
const quotaWindow = 10 * time.Second

// measurement is what a run observed, from the simulator's counters and PostgreSQL.
type measurement struct {
	// Records is N, the rows synced into PostgreSQL.
	Records int
	// APICalls are crmsync's calls to the CRM.
	APICalls int
	// Elapsed is from the first workflow's start to the last one's completion.
	Elapsed time.Duration
	// Quota is B, the calls allowed per Window; 0 for a CRM with no short window
	// (Salesforce, Zoho), whose time and utilisation are then undefined.
	Quota int
	// PageSize is the list page; 0 means HubSpot's pageSize.
	PageSize int
	// Window is the quota's rolling window; 0 means HubSpot's quotaWindow.
	Window time.Duration
}

// metrics are the figures derived from a measurement.
type metrics struct {
	// MinCalls is ceil(N/pageSize), the fewest calls that can sync N records.
	MinCalls int
	// CallsPerMin is APICalls/MinCalls: 1 is no call wasted.
	CallsPerMin ratio
	// TLim is the least time the quota allows for APICalls calls: a window that starts
	// empty lets the first B calls go at once, then B more each window, so
	// floor((APICalls-1)/B) full windows.
	TLim time.Duration
	// ElapsedOverTLim is Elapsed/TLim: 1 is as fast as the quota allows. Undefined (NaN)
	// when every call fits in the first window (TLim = 0).
	ElapsedOverTLim ratio
	// Utilisation is the achieved call rate over the quota's average rate, (APICalls /
	// Elapsed) / (B / 10 s). Above 1 is possible for a run shorter than a few windows,
	// thanks to the first window's burst.
	Utilisation ratio
}

// derive computes the metrics of a measurement. Undefined ratios are NaN.
func derive(m measurement) metrics {
	var out metrics
	page, window := cmp.Or(m.PageSize, pageSize), cmp.Or(m.Window, quotaWindow)
	out.MinCalls = (m.Records + page - 1) / page
	out.CallsPerMin = divide(float64(m.APICalls), float64(out.MinCalls))
	if m.Quota > 0 && m.APICalls > 0 {
		out.TLim = time.Duration((m.APICalls-1)/m.Quota) * window
	}
	out.ElapsedOverTLim = divide(m.Elapsed.Seconds(), out.TLim.Seconds())
	if m.Elapsed > 0 {
		rate := float64(m.APICalls) / m.Elapsed.Seconds()
		out.Utilisation = divide(rate, float64(m.Quota)/window.Seconds())
	} else {
		out.Utilisation = ratio(math.NaN())
	}
	return out
}

// divide is a/b, or NaN when b is not positive.
func divide(a, b float64) ratio {
	if b <= 0 {
		return ratio(math.NaN())
	}
	return ratio(a / b)
}

// ratio is a dimensionless figure that may be undefined (NaN): null in JSON, "-" in the
// table.
type ratio float64

// defined reports whether the ratio has a value.
func (r ratio) defined() bool { return !math.IsNaN(float64(r)) && !math.IsInf(float64(r), 0) }

// String formats the ratio with two decimals.
func (r ratio) String() string {
	if !r.defined() {
		return "-"
	}
	return strconv.FormatFloat(float64(r), 'f', 2, 64)
}

// MarshalJSON writes the ratio rounded to four decimals, or null when undefined.
func (r ratio) MarshalJSON() ([]byte, error) {
	if !r.defined() {
		return []byte("null"), nil
	}
	return json.Marshal(math.Round(float64(r)*1e4) / 1e4)
}

package crmsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Fault kinds.
const (
	Fault500            = "500"              // HubSpot-style JSON 500
	Fault502HTML        = "502_html"         // an HTML error page from a proxy in front of the API
	Fault503            = "503"              // HubSpot-style JSON 503
	FaultTruncatedJSON  = "truncated_json"   // 200 with the first half of the real body
	FaultMalformedJSON  = "malformed_json"   // 200 with a body that is not valid JSON
	FaultReset          = "reset"            // the connection is closed mid-body
	Fault429TenSecondly = "429_ten_secondly" // a TEN_SECONDLY_ROLLING 429 (told wait: 1 s)
	Fault429Daily       = "429_daily"        // a DAILY 429 (told wait: until the daily reset)
	Fault401            = "401"              // INVALID_AUTHENTICATION, as for an expired token
	FaultLatency        = "latency"          // the normal answer, Fault.Latency later
)

// FaultKinds lists the accepted Fault.Kind values.
func FaultKinds() []string {
	return []string{Fault500, Fault502HTML, Fault503, FaultTruncatedJSON, FaultMalformedJSON,
		FaultReset, Fault429TenSecondly, Fault429Daily, Fault401, FaultLatency}
}

// Fault makes the next Count API requests matching Endpoint fail in a chosen way. Faults
// apply after authentication and counting, so a faulted request still uses quota; they
// take precedence over a real rate limit so tests get them deterministically.
type Fault struct {
	// Endpoint is a Stats endpoint key such as "list contacts"; "" matches any request.
	Endpoint string `json:"endpoint"`
	// Kind is one of the Fault* constants.
	Kind string `json:"kind"`
	// Count is how many matching requests the fault applies to; less than 1 means 1.
	Count int `json:"count"`
	// Latency is the delay for FaultLatency. In JSON it is a Go duration string ("250ms")
	// or integer nanoseconds.
	Latency time.Duration `json:"latency"`
}

// Validate reports whether f names a known kind and a sensible latency.
func (f Fault) Validate() error {
	if !slices.Contains(FaultKinds(), f.Kind) {
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	if f.Latency < 0 {
		return fmt.Errorf("fault latency must not be negative, got %s", f.Latency)
	}
	return nil
}

// UnmarshalJSON accepts the latency as a duration string as well as nanoseconds, since
// people type faults into curl.
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	var aux struct {
		plain
		Latency json.RawMessage `json:"latency"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = Fault(aux.plain)
	if len(aux.Latency) == 0 || string(aux.Latency) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(aux.Latency, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parsing fault latency: %w", err)
		}
		f.Latency = d
		return nil
	}
	var ns int64
	if err := json.Unmarshal(aux.Latency, &ns); err != nil {
		return fmt.Errorf("parsing fault latency: %w", err)
	}
	f.Latency = time.Duration(ns)
	return nil
}

// answers reports whether the fault replaces the normal answer; latency only delays it,
// and injected 429s are answered like real ones.
func (f Fault) answers() bool {
	switch f.Kind {
	case FaultLatency, Fault429TenSecondly, Fault429Daily:
		return false
	}
	return true
}

// InjectFault queues f for upcoming matching API requests. Faults are consumed in the order
// they were queued. A fault of an unknown kind answers 500 with a message naming the kind,
// so a typo in a test shows up instead of being silently ignored.
func (s *Sim) InjectFault(f Fault) {
	if f.Count < 1 {
		f.Count = 1
	}
	s.meter.mu.Lock()
	defer s.meter.mu.Unlock()
	s.meter.faults = append(s.meter.faults, f)
}

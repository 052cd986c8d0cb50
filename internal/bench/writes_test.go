package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crmsim"
)

func TestWriteBurstNamesEveryContactEquallyWithOneToThreeProperties(t *testing.T) {
	t.Parallel()
	emails := make([]string, 20)
	for i := range emails {
		emails[i] = fmt.Sprintf("c%d@example.com", i)
	}
	events := writeBurst(emails, 100)
	require.Len(t, events, 100)
	perContact := map[string]int{}
	for i, e := range events {
		require.Equal(t, i, e.n)
		perContact[e.email]++
		require.GreaterOrEqual(t, len(e.props), 1)
		require.LessOrEqual(t, len(e.props), 3)
		for k, v := range e.props {
			require.Contains(t, writeProperties, k)
			require.Equal(t, fmt.Sprintf("%s-e%d", k, i), v, "each event sets values of its own")
		}
	}
	require.Len(t, perContact, 20)
	for email, n := range perContact {
		require.Equal(t, 5, n, email)
	}
	require.Equal(t, events, writeBurst(emails, 100), "the burst is the same every run")
}

func TestLostRecordsComparesTheLatestValuePerProperty(t *testing.T) {
	t.Parallel()
	events := []writeEvent{
		{n: 0, email: "Ann@Example.com", props: map[string]string{"firstname": "a0", "city": "c0"}},
		{n: 1, email: "bob@example.com", props: map[string]string{"firstname": "b1"}},
		{n: 2, email: "ann@example.com", props: map[string]string{"firstname": "a2"}},
	}
	want := expectedValues(events)
	require.Equal(t, map[string]map[string]string{
		"ann@example.com": {"firstname": "a2", "city": "c0"},
		"bob@example.com": {"firstname": "b1"},
	}, want)
	rec := func(email string, props ...string) crmsim.Record {
		r := crmsim.Record{Properties: map[string]string{"email": email}}
		for i := 0; i < len(props); i += 2 {
			r.Properties[props[i]] = props[i+1]
		}
		return r
	}
	tests := []struct {
		name string
		crm  []crmsim.Record
		lost int
	}{
		{name: "every latest value held", lost: 0,
			crm: []crmsim.Record{rec("ANN@example.com", "firstname", "a2", "city", "c0"), rec("bob@example.com", "firstname", "b1")}},
		{name: "an older value overwrote a newer one", lost: 1,
			crm: []crmsim.Record{rec("ann@example.com", "firstname", "a0", "city", "c0"), rec("bob@example.com", "firstname", "b1")}},
		{name: "a record never written", lost: 1,
			crm: []crmsim.Record{rec("ann@example.com", "firstname", "a2", "city", "c0")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.lost, lostRecords(want, tc.crm))
		})
	}
}

func TestNaiveWriterRetriesAsHubSpotsNodeClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		replies []int  // statuses answered, in order
		policy  string // the 429s' policyName
		waits   []time.Duration
		calls   int
		err     string
	}{
		{name: "ten-secondly 429s wait 10 s, then 20 s", replies: []int{429, 429, 200}, policy: "TEN_SECONDLY_ROLLING",
			waits: []time.Duration{10 * time.Second, 20 * time.Second}, calls: 3},
		{name: "a 5xx waits 200 ms", replies: []int{503, 200}, waits: []time.Duration{200 * time.Millisecond}, calls: 2},
		{name: "a daily 429 is not retried", replies: []int{429}, policy: "DAILY", calls: 1, err: "gave up after 1 tries: 429"},
		{name: "a 400 is not retried", replies: []int{400}, calls: 1, err: "gave up after 1 tries: 400"},
		{name: "six tries at most", replies: []int{429, 429, 429, 429, 429, 429, 429}, policy: "TEN_SECONDLY_ROLLING",
			waits: []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second}, calls: 6,
			err: "gave up after 6 tries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			var mu sync.Mutex
			var seen []string // each call's path and number of inputs
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1)) - 1
				var body struct {
					Inputs []map[string]any `json:"inputs"`
				}
				_ = json.NewDecoder(r.Body).Decode(&body)
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%s %d", r.URL.Path, len(body.Inputs)))
				mu.Unlock()
				w.WriteHeader(tc.replies[n])
				if tc.replies[n] == http.StatusTooManyRequests {
					_ = json.NewEncoder(w).Encode(map[string]string{"policyName": tc.policy, "message": "limit"})
				}
			}))
			t.Cleanup(srv.Close)
			var waits []time.Duration
			c := naiveWriter{url: srv.URL, token: "t", http: srv.Client(), sleep: func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}}
			err := c.upsert(t.Context(), writeEvent{n: 3, email: "ann@example.com", props: map[string]string{"city": "x"}})
			if tc.err != "" {
				require.ErrorIs(t, err, errNaiveGaveUp)
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.waits, waits)
			require.Equal(t, tc.calls, int(calls.Load()))
			mu.Lock()
			defer mu.Unlock()
			for _, call := range seen {
				require.Equal(t, "/crm/v3/objects/contacts/batch/upsert 1", call, "one event per call")
			}
		})
	}
}

func TestWriteRowsLabelTheExtrapolation(t *testing.T) {
	t.Parallel()
	queue := writeRow("w-b100-lat0ms-w1", writeCounts{Client: "crmsync write queue", Events: 10000, Burst: 10000, Records: 2000,
		RecordWrites: 2400, Calls: 25, MinCalls: 20, TimeS: 2.9, BurstS: 2.9, Peak10s: 25, Quota: 100})
	naive := writeRow("w-naive-b100-lat0ms", writeCounts{Client: "one call per event", Events: 1000, Burst: 10000, Records: 815,
		RecordWrites: 1000, Calls: 1009, MinCalls: 9, TimeS: 90.2, BurstS: 901.6, Extrapolated: true, RateLimited: 9, Peak10s: 101, Quota: 100})
	require.Equal(t, strings.Count(writeTableHeader, "\t"), strings.Count(queue, "\t"), "one cell per column")
	require.Equal(t, strings.Count(writeTableHeader, "\t"), strings.Count(naive, "\t"), "one cell per column")
	require.True(t, strings.HasSuffix(queue, "\t2.9s measured"), queue)
	require.Contains(t, naive, "1000 of 10000")
	require.True(t, strings.HasSuffix(naive, "\t~902s for 10000, extrapolated from 1000 measured"), naive)
}

func TestBurstEmailsTakesEmailsNoOtherContactHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		contacts int
		n        int
	}{
		{name: "scenario w's dataset", contacts: writeSeeded, n: writeContacts},
		{name: "scenario x's backfill, which repeats a few emails", contacts: priorityRecords, n: priorityContacts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := simOptions(100, 0, tc.contacts, 10, 10)
			opts.Tokens = []string{"pat-test"}
			sim, err := crmsim.New(opts)
			require.NoError(t, err)
			t.Cleanup(sim.Close)
			emails, err := burstEmails(sim, tc.n)
			require.NoError(t, err)
			require.Len(t, emails, tc.n)
			seeded, err := sim.Snapshot(crmsim.Contacts)
			require.NoError(t, err)
			holders := map[string]int{}
			for _, rec := range seeded {
				holders[strings.ToLower(rec.Properties["email"])]++
			}
			for _, email := range emails {
				require.Equal(t, 1, holders[strings.ToLower(email)], "%s is held by one contact only", email)
			}
		})
	}
}

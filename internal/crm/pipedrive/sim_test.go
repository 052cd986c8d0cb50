package pipedrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/pipedrive"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// setup starts a simulator (generous limits unless opts sets them: these tests are mostly
// about data) and an API-token client for it.
func setup(t *testing.T, opts crmsim.Options) (*crmsim.Sim, *pipedrive.Client, *httptest.Server) {
	t.Helper()
	opts.Tokens = []string{"tok"}
	if opts.Pipedrive.BurstLimit == 0 {
		opts.Pipedrive.BurstLimit = 1_000_000
	}
	if opts.Pipedrive.OAuthBurstLimit == 0 {
		opts.Pipedrive.OAuthBurstLimit = 1_000_000
	}
	if opts.Pipedrive.DailyTokens == 0 {
		opts.Pipedrive.DailyTokens = 1_000_000_000
	}
	sim, err := crmsim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := pipedrive.New(pipedrive.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("tok"), DailyTokens: opts.Pipedrive.DailyTokens})
	require.NoError(t, err)
	return sim, c, srv
}

// clock is a settable clock for the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flatten renders a record's properties as SnapshotFor does: a string as itself, null as
// "", anything else as compact JSON.
func flatten(t *testing.T, props json.RawMessage) map[string]string {
	t.Helper()
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(props, &fields))
	out := make(map[string]string, len(fields))
	for k, raw := range fields {
		var s string
		switch {
		case string(raw) == "null":
		case json.Unmarshal(raw, &s) == nil:
		default:
			var b bytes.Buffer
			require.NoError(t, json.Compact(&b, raw))
			s = b.String()
		}
		out[k] = s
	}
	return out
}

// listAll reads every page of a listing.
func listAll(t *testing.T, c *pipedrive.Client, obj crm.Object, archived bool) ([]crm.Record, int) {
	t.Helper()
	var all []crm.Record
	after, pages := "", 0
	for {
		page, err := c.List(t.Context(), crm.ListRequest{Object: obj, After: after, Archived: archived})
		require.NoError(t, err)
		pages++
		all = append(all, page.Records...)
		if page.Next == "" {
			return all, pages
		}
		after = page.Next
	}
}

func TestPipedriveListEqualsSnapshot(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 7, Contacts: 1234, Companies: 300, Deals: 700})
	_, err := sim.Mutate(crmsim.MutationSpec{Archives: 30, Updates: 50})
	require.NoError(t, err)

	for _, obj := range crm.Objects {
		t.Run(string(obj), func(t *testing.T) {
			truth, err := sim.SnapshotFor(crmsim.ProviderPipedrive, string(obj))
			require.NoError(t, err)
			live, pages := listAll(t, c, obj, false)
			want := 0
			byID := map[string]crm.Record{}
			for _, r := range live {
				require.NotContains(t, byID, r.ID, "record %s listed twice", r.ID)
				byID[r.ID] = r
			}
			for _, tr := range truth {
				if tr.Archived {
					require.NotContains(t, byID, tr.ID, "deleted record %s listed as live", tr.ID)
					continue
				}
				want++
				got, ok := byID[tr.ID]
				require.True(t, ok, "record %s not listed", tr.ID)
				require.True(t, tr.UpdatedAt.Equal(got.UpdatedAt), "record %s updated %v, want %v", tr.ID, got.UpdatedAt, tr.UpdatedAt)
				require.True(t, tr.CreatedAt.Equal(got.CreatedAt))
				require.Zero(t, got.UpdatedAt.Nanosecond(), "whole seconds")
				require.False(t, got.Archived)
				require.Equal(t, tr.Properties, flatten(t, got.Properties), "record %s", tr.ID)
			}
			require.Len(t, byID, want)
			require.Equal(t, (want+499)/500, pages, "pages of 500")

			deleted, _ := listAll(t, c, obj, true)
			if obj != crm.Deals {
				require.Empty(t, deleted, "Pipedrive lists no deleted %s", obj)
				return
			}
			wantDeleted := map[string]crmsim.Record{}
			for _, tr := range truth {
				if tr.Archived {
					wantDeleted[tr.ID] = tr
				}
			}
			require.Len(t, deleted, len(wantDeleted))
			for _, r := range deleted {
				tr, ok := wantDeleted[r.ID]
				require.True(t, ok, "deal %s listed as deleted", r.ID)
				require.True(t, r.Archived)
				require.True(t, tr.ArchivedAt.Equal(r.ArchivedAt))
				require.Equal(t, tr.Properties, flatten(t, r.Properties))
				require.Equal(t, "deleted", tr.Properties["status"])
			}
		})
	}
	// The archived listing of persons and organizations made no call.
	st := sim.Stats()
	require.Zero(t, st.Calls("pipedrive list_deleted persons")+st.Calls("pipedrive list_deleted organizations"))
	require.Positive(t, st.Calls("pipedrive list_deleted deals"))
}

// scan reads changes from a cursor until caught up, counting how often each record came.
func scan(t *testing.T, c *pipedrive.Client, obj crm.Object, from crm.Cursor, maxCalls int) (map[string]int, int, crm.Cursor) {
	t.Helper()
	seen := map[string]int{}
	calls := 0
	for {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: obj, From: from})
		require.NoError(t, err)
		calls++
		require.LessOrEqual(t, calls, maxCalls, "the scan did not end within %d calls (cursor %s)", maxCalls, from)
		for _, r := range page.Records {
			seen[r.ID]++
		}
		require.GreaterOrEqual(t, page.Next.Compare(from), 0, "the cursor moved backwards from %s to %s", from, page.Next)
		from = page.Next
		if !page.More {
			return seen, calls, from
		}
	}
}

func TestPipedriveChangesFullScanReturnsEveryLiveRecord(t *testing.T) {
	t.Parallel()
	// The seed stamps import bursts of records with one instant: whole seconds make more.
	sim, c, _ := setup(t, crmsim.Options{Seed: 11, Contacts: 3000, Companies: 10, Deals: 10})
	seen, calls, _ := scan(t, c, crm.Contacts, crm.Cursor{}, 30)
	truth, err := sim.SnapshotFor(crmsim.ProviderPipedrive, crmsim.Contacts)
	require.NoError(t, err)
	for _, r := range truth {
		require.Equal(t, 1, seen[r.ID], "record %s returned %d times", r.ID, seen[r.ID])
	}
	require.Len(t, seen, len(truth))
	t.Logf("full scan: %d records in %d calls (minimum %d)", len(truth), calls, (len(truth)+499)/500)
}

func TestPipedriveChangesWalkTiesExactlyOnceAndResume(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 6, 1, 12, 0, 0, 250e6, time.UTC))
	sim, c, _ := setup(t, crmsim.Options{Seed: 5, Contacts: 4000, Companies: 10, Deals: 10, Now: clk.Now})
	start := clk.Now().Add(-time.Second)
	// 1,200 changes in one second: more than a page, with nothing but the id to page by.
	burst, err := sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 1200, SameTimestamp: true})
	require.NoError(t, err)
	want := map[string]bool{}
	for _, id := range burst.Updated {
		want[id] = true
	}
	// Then 70 new records a second for five seconds, so that pages end inside seconds.
	for range 50 {
		clk.Add(100 * time.Millisecond)
		res, err := sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Creates: 7})
		require.NoError(t, err)
		for _, id := range res.Created {
			want[id] = true
		}
	}

	// Read part of the changes, store the cursor as a workflow would, and resume from it.
	from := crm.Cursor{ModifiedAt: start}
	seen := map[string]int{}
	for range 3 {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from})
		require.NoError(t, err)
		require.True(t, page.More)
		for _, r := range page.Records {
			seen[r.ID]++
		}
		from = page.Next
	}
	require.Contains(t, from.Mode, "ties", "three pages in, the scan walks the burst by id")
	stored, err := json.Marshal(from)
	require.NoError(t, err)
	var resumed crm.Cursor
	require.NoError(t, json.Unmarshal(stored, &resumed))
	rest, calls, end := scan(t, c, crm.Contacts, resumed, 10)
	for id, n := range rest {
		seen[id] += n
	}
	for id := range want {
		require.Equal(t, 1, seen[id], "change of %s returned %d times", id, seen[id])
	}
	require.Len(t, seen, len(want))
	t.Logf("%d changes, 1,200 in one second, read in %d calls", len(want), calls+3)
	require.Empty(t, end.Mode, "the scan ends in normal mode")

	// The last second was still running when the scan ended, so the next poll reads it
	// again; once it is over, the cursor moves past it and a poll reads nothing.
	again, _, end := scan(t, c, crm.Contacts, end, 2)
	require.NotEmpty(t, again)
	clk.Add(2 * time.Second)
	_, _, end = scan(t, c, crm.Contacts, end, 2)
	nothing, calls, _ := scan(t, c, crm.Contacts, end, 2)
	require.Empty(t, nothing)
	require.Equal(t, 1, calls)
}

func TestPipedriveChangesLoseNothingWhileRecordsChangeMidScan(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, c, _ := setup(t, crmsim.Options{Seed: 9, Contacts: 4000, Companies: 10, Deals: 10, Now: clk.Now})
	truth, err := sim.SnapshotFor(crmsim.ProviderPipedrive, crmsim.Contacts)
	require.NoError(t, err)
	from := crm.Cursor{}
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		require.Less(t, calls, 100)
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from})
		require.NoError(t, err)
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		// Between pages, records the scan has passed move to the end, several per second.
		clk.Add(300 * time.Millisecond)
		_, err = sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 25})
		require.NoError(t, err)
		from = page.Next
		if !page.More {
			break
		}
	}
	for _, r := range truth {
		require.True(t, seen[r.ID], "record %s, live when the scan began, was never returned", r.ID)
	}
}

func TestPipedriveBatchRead(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 50, Companies: 5, Deals: 50})
	res, err := sim.Mutate(crmsim.MutationSpec{Object: crmsim.Deals, Archives: 3})
	require.NoError(t, err)
	truth, err := sim.SnapshotFor(crmsim.ProviderPipedrive, crmsim.Deals)
	require.NoError(t, err)
	var live []string
	for _, r := range truth {
		if !r.Archived {
			live = append(live, r.ID)
		}
	}
	ids := append([]string{live[0], "999999999", live[1]}, res.Archived...)
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids})
	require.NoError(t, err)
	require.Len(t, page.Records, 2, "missing and deleted ids are left out")

	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Archived: true})
	require.NoError(t, err)
	require.Len(t, page.Records, 3, "the deleted deals")
	for _, r := range page.Records {
		require.True(t, r.Archived)
		require.False(t, r.ArchivedAt.IsZero())
		require.Contains(t, res.Archived, r.ID)
	}

	before := sim.Stats().Total
	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"51"}, Archived: true})
	require.NoError(t, err)
	require.Empty(t, page.Records, "no deleted persons to read")
	require.Equal(t, before, sim.Stats().Total, "and no call to find that out")

	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: make([]string, 101)})
	require.ErrorContains(t, err, "at most 100")
	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: []string{"12,13"}})
	require.ErrorContains(t, err, "not a Pipedrive id")
}

func TestPipedriveReferenceData(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Companies: 5, Deals: 5, Owners: 130})
	page, err := c.Owners(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, page.Owners, 130)
	require.Empty(t, page.Next)
	for _, o := range page.Owners {
		require.NotEmpty(t, o.ID)
		require.NotEmpty(t, o.Email)
		require.NotEmpty(t, o.FirstName)
		require.False(t, o.UpdatedAt.IsZero())
	}

	pipes, rl, err := c.Pipelines(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.True(t, rl.WindowKnown)
	require.Len(t, pipes, 2)
	require.Equal(t, "Sales Pipeline", pipes[0].Label)
	require.Len(t, pipes[0].Stages, 7)
	require.Len(t, pipes[1].Stages, 5)
	_, _, err = c.Pipelines(t.Context(), crm.Contacts)
	require.Error(t, err)

	for _, obj := range crm.Objects {
		props, _, err := c.Properties(t.Context(), obj)
		require.NoError(t, err)
		names := map[string]string{}
		for _, p := range props {
			names[p.Name] = p.Type
		}
		require.Contains(t, names, "update_time")
		custom := 0
		for n := range names {
			if len(n) == 40 {
				custom++
			}
		}
		require.Positive(t, custom, "custom fields have 40-hex-digit codes")
	}
}

func TestPipedriveRateLimitHeaders(t *testing.T) {
	t.Parallel()
	_, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Pipedrive: crmsim.PipedriveOptions{BurstLimit: 20, DailyTokens: 30000}})
	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
	rl := page.RateLimit
	require.True(t, rl.WindowKnown)
	require.Equal(t, 20, rl.Max)
	require.Equal(t, 19, rl.Remaining)
	require.Equal(t, 2*time.Second, rl.Interval)
	require.True(t, rl.DailyKnown)
	require.Equal(t, 30000, rl.DailyMax)
	require.Equal(t, 30000-20, rl.DailyRemaining, "a list call costs 20 tokens")
}

func TestPipedriveBurstLimit(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("retry-after %v", retryAfter), func(t *testing.T) {
			t.Parallel()
			clk := newClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
			sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Now: clk.Now,
				Pipedrive: crmsim.PipedriveOptions{BurstLimit: 3, RetryAfter: retryAfter}})
			for range 3 {
				clk.Add(100 * time.Millisecond)
				_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
				require.NoError(t, err)
			}
			_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
			var ae *crm.APIError
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, crm.KindRateLimited, ae.Kind)
			require.Equal(t, crm.PolicyWindow, ae.Policy)
			// The first call slides out 1.8 s from now: x-ratelimit-reset and Retry-After
			// say it in whole seconds.
			require.Equal(t, 2*time.Second, ae.RetryAfter)
			require.True(t, ae.RateLimit.WindowKnown)
			require.Zero(t, ae.RateLimit.Remaining)
			require.Equal(t, "Request over limit", ae.Message)

			// Calling again before the told wait is early; after it, the call goes through.
			_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
			require.Error(t, err)
			require.Equal(t, 1, sim.Stats().Early)
			clk.Add(ae.RetryAfter)
			_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
			require.NoError(t, err)
			st := sim.Stats()
			require.Equal(t, 1, st.Early)
			require.Equal(t, 2, st.RateLimited)
			require.Equal(t, 6, st.Calls("pipedrive list persons"))
		})
	}
}

func TestPipedriveDailyBudget(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 6, 1, 23, 59, 30, 0, time.UTC))
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Now: clk.Now,
		Pipedrive: crmsim.PipedriveOptions{DailyTokens: 40}})
	for range 2 {
		_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
		require.NoError(t, err)
	}
	_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	var ae *crm.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, crm.KindRateLimited, ae.Kind)
	require.Equal(t, crm.PolicyDaily, ae.Policy)
	require.Equal(t, 30*time.Second, ae.RetryAfter, "until midnight UTC by the server's clock")
	require.True(t, ae.RateLimit.DailyKnown)
	require.Zero(t, ae.RateLimit.DailyRemaining)

	clk.Add(30 * time.Second)
	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err, "the budget is back after midnight")
	require.Equal(t, 20, page.RateLimit.DailyRemaining)
	require.Zero(t, sim.Stats().Early)
}

// refreshingTokens is an OAuth token source that uses Pipedrive's refresh grant.
type refreshingTokens struct {
	mu       sync.Mutex
	endpoint string
	refresh  string
	cur      string
}

func (r *refreshingTokens) Token(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != "" {
		return r.cur, nil
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.refresh}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("client-id", "client-secret")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		APIDomain    string `json:"api_domain"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("refresh grant: HTTP %d: %s", resp.StatusCode, body.Error)
	}
	r.cur = body.AccessToken
	return r.cur, nil
}

func (r *refreshingTokens) Expired(tok string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok == r.cur {
		r.cur = ""
	}
	return true
}

func TestPipedriveOAuthExpiredAccessToken(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, _, srv := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Now: clk.Now, AccessTokenTTL: time.Minute})
	src := &refreshingTokens{endpoint: srv.URL + "/oauth/token", refresh: "tok"}
	c, err := pipedrive.New(pipedrive.Options{BaseURL: srv.URL, Tokens: src, OAuth: true})
	require.NoError(t, err)

	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
	require.Equal(t, 1_000_000, page.RateLimit.Max, "OAuth apps have their own burst limit")
	clk.Add(2 * time.Minute)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	var ae *crm.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, crm.KindTokenExpired, ae.Kind)
	require.Equal(t, http.StatusUnauthorized, ae.Status)
	require.True(t, ae.Retryable())
	require.NotContains(t, err.Error(), "simat-", "no token in errors")
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err, "the next call has a fresh token")
	require.Equal(t, 2, sim.RefreshGrants())

	bad := &refreshingTokens{endpoint: srv.URL + "/oauth/token", refresh: "nope"}
	_, err = bad.Token(t.Context())
	require.ErrorContains(t, err, "HTTP 400: Invalid grant: refresh token is invalid")

	// A static API token the CRM rejects cannot be replaced.
	static, err := pipedrive.New(pipedrive.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("wrong-secret")})
	require.NoError(t, err)
	_, err = static.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, crm.KindUnauthorized, ae.Kind)
	require.False(t, ae.Retryable())
	require.NotContains(t, err.Error(), "wrong-secret")
}

func TestPipedriveSendsTheTokenInAHeader(t *testing.T) {
	t.Parallel()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true,"data":[],"additional_data":{"next_cursor":null}}`))
	}))
	t.Cleanup(srv.Close)
	c, err := pipedrive.New(pipedrive.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("api-secret")})
	require.NoError(t, err)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Deals, After: "abc"})
	require.NoError(t, err)
	require.Equal(t, "api-secret", got.Header.Get("x-api-token"))
	require.Empty(t, got.Header.Get("Authorization"))
	require.NotContains(t, got.URL.RawQuery, "api-secret")
	require.Equal(t, "/api/v2/deals", got.URL.Path)
	require.Equal(t, "abc", got.URL.Query().Get("cursor"))
	require.Equal(t, "500", got.URL.Query().Get("limit"))

	// A transport failure names the endpoint, not the URL with its query.
	srv.Close()
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Deals, After: "cursor-secret"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "cursor-secret")
	require.Contains(t, err.Error(), "GET /api/v2/deals")
}

func TestBatchReadRefusesAnIDProperty(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 1, Contacts: 5})
	_, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"a@example.com"}, IDProperty: "email"})
	require.ErrorContains(t, err, `by record id only, not by "email"`)
	require.Zero(t, sim.Stats().Total, "refused before any call")
}

package zoho_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/zoho"
	"github.com/crmsync/crmsync/internal/crmsim"
)

const dealsLayout = "4150868500000000102" // the simulator's Deals layout (see TestZohoReferenceData)

// setup starts a simulator with generous Zoho limits (these tests are about data, not
// quota) and a client for it.
func setup(t *testing.T, opts crmsim.Options) (*crmsim.Sim, *zoho.Client, string) {
	t.Helper()
	opts.Tokens = []string{"tok"}
	if opts.Zoho.DailyCredits == 0 {
		opts.Zoho.DailyCredits = 10_000_000
	}
	if opts.Zoho.Concurrency == 0 {
		opts.Zoho.Concurrency = 1000
	}
	sim, err := crmsim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := zoho.New(zoho.Options{BaseURL: srv.URL, Tokens: crm.StaticToken("tok"), DealsLayoutID: dealsLayout})
	require.NoError(t, err)
	return sim, c, srv.URL
}

func propertyNames(t *testing.T, c *zoho.Client, obj crm.Object) []string {
	t.Helper()
	props, _, err := c.Properties(t.Context(), obj)
	require.NoError(t, err)
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	return names
}

// flat renders stored properties by SnapshotFor's rule.
func flat(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch {
		case string(v) == "null":
			out[k] = ""
		case v[0] == '"':
			var s string
			require.NoError(t, json.Unmarshal(v, &s))
			out[k] = s
		default:
			out[k] = string(v)
		}
	}
	return out
}

// listAll lists every record with props through a crm.Reader, which reads a module wider
// than one request's 50 fields in several requests a page.
func listAll(t *testing.T, c *zoho.Client, obj crm.Object, archived bool, props []string) (map[string]crm.Record, int) {
	t.Helper()
	r, _ := countingReader(c, nil)
	seen := map[string]crm.Record{}
	after, pages := "", 0
	for {
		page, _, err := r.List(t.Context(), crm.ListRequest{Object: obj, After: after, Archived: archived, Properties: props})
		require.NoError(t, err)
		pages++
		for _, r := range page.Records {
			_, dup := seen[r.ID]
			require.False(t, dup, "record %s listed twice", r.ID)
			seen[r.ID] = r
			require.Equal(t, archived, r.Archived)
		}
		if page.Next == "" {
			return seen, pages
		}
		after = page.Next
	}
}

func TestZohoListEqualsSnapshot(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 7, Contacts: 2345, Companies: 40, Deals: 60})
	_, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 30})
	require.NoError(t, err)

	for _, obj := range crm.Objects {
		props := propertyNames(t, c, obj)
		truth, err := sim.SnapshotFor(crmsim.ProviderZoho, string(obj))
		require.NoError(t, err)
		live, pages := listAll(t, c, obj, false, props)
		deleted, _ := listAll(t, c, obj, true, nil)
		wantLive, wantDeleted := 0, 0
		for _, r := range truth {
			if r.Archived {
				wantDeleted++
				got, ok := deleted[r.ID]
				require.True(t, ok, "deleted %s %s not listed", obj, r.ID)
				require.True(t, r.ArchivedAt.Equal(got.ArchivedAt))
				require.JSONEq(t, `{}`, string(got.Properties))
				continue
			}
			wantLive++
			got, ok := live[r.ID]
			require.True(t, ok, "%s %s not listed", obj, r.ID)
			require.True(t, r.UpdatedAt.Equal(got.UpdatedAt), "%s %s updated", obj, r.ID)
			require.True(t, r.CreatedAt.Equal(got.CreatedAt), "%s %s created", obj, r.ID)
			require.Equal(t, r.Properties, flat(t, got.Properties), "%s %s properties", obj, r.ID)
		}
		require.Len(t, live, wantLive)
		require.Len(t, deleted, wantDeleted)
		require.Equal(t, max(1, (wantLive+199)/200), pages, "%s: pages of 200", obj)
	}
}

// scan reads changes from a cursor until caught up, counting how often each record came.
func scan(t *testing.T, c *zoho.Client, obj crm.Object, from crm.Cursor, props []string, maxCalls int) (map[string]crm.Record, map[string]int, int, crm.Cursor) {
	t.Helper()
	seen, times := map[string]crm.Record{}, map[string]int{}
	for calls := 1; ; calls++ {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: obj, From: from, Properties: props})
		require.NoError(t, err)
		require.LessOrEqual(t, calls, maxCalls, "the scan did not end within %d calls (cursor %s)", maxCalls, from)
		for _, r := range page.Records {
			times[r.ID]++
			if old, ok := seen[r.ID]; !ok || !r.UpdatedAt.Before(old.UpdatedAt) {
				seen[r.ID] = r
			}
		}
		require.GreaterOrEqual(t, page.Next.Compare(from), 0, "the cursor moved backwards from %s to %s", from, page.Next)
		// The cursor survives being stored and read back, as the workflow does.
		b, err := json.Marshal(page.Next)
		require.NoError(t, err)
		from = crm.Cursor{}
		require.NoError(t, json.Unmarshal(b, &from))
		if !page.More {
			return seen, times, calls, from
		}
	}
}

func TestZohoChangesFullScanReturnsEveryLiveRecordOnce(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 11, Contacts: 3000, Companies: 10, Deals: 10})
	seen, times, calls, _ := scan(t, c, crm.Contacts, crm.Cursor{}, []string{"Email"}, 100)
	truth, err := sim.SnapshotFor(crmsim.ProviderZoho, "contacts")
	require.NoError(t, err)
	live := 0
	for _, r := range truth {
		if r.Archived {
			continue
		}
		live++
		got, ok := seen[r.ID]
		require.True(t, ok, "record %s missing from the scan", r.ID)
		require.True(t, r.UpdatedAt.Equal(got.UpdatedAt))
		require.Equal(t, 1, times[r.ID], "record %s returned %d times", r.ID, times[r.ID])
	}
	require.Len(t, seen, live)
	t.Logf("full scan: %d records in %d calls (minimum %d)", live, calls, (live+199)/200)
	require.LessOrEqual(t, calls, (live+199)/200+10)
}

func TestZohoChangesWalkASecondBeyondPageNumbers(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c, _ := setup(t, crmsim.Options{Seed: 5, Contacts: 3000, Companies: 10, Deals: 10, Now: clock.Now})
	start := clock.Now()
	clock.Add(time.Second)
	// 2,500 changes in one second: more than the 2,000 records page numbers reach, and no
	// timestamp to page by. The walk continues with page tokens.
	res, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 2500, SameTimestamp: true})
	require.NoError(t, err)
	clock.Add(time.Second)
	more, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 3})
	require.NoError(t, err)

	// Stop half-way, store the cursor, resume from it.
	from := crm.Cursor{ModifiedAt: start}
	times := map[string]int{}
	for range 5 {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from, Properties: []string{"Email"}})
		require.NoError(t, err)
		require.True(t, page.More)
		for _, r := range page.Records {
			times[r.ID]++
		}
		from = page.Next
	}
	require.NotEmpty(t, from.Mode, "half-way through the second, the scan walks it")
	seen, rest, calls, end := scan(t, c, crm.Contacts, from, []string{"Email"}, 20)
	for id, n := range rest {
		times[id] += n
	}
	for _, id := range zohoIDs(t, append(res.Updated, more.Updated...)) {
		require.Equal(t, 1, times[id], "change of %s returned %d times", id, times[id])
	}
	require.Len(t, times, 2500+len(more.Updated)-overlap(res.Updated, more.Updated))
	t.Logf("2,503 changes read in %d+5 calls (minimum 13)", calls)
	require.LessOrEqual(t, calls+5, 15)
	require.Empty(t, end.Mode, "the scan ends in normal mode")
	require.True(t, end.ModifiedAt.Equal(more.At.Truncate(time.Second)), "cursor ends at the last change: %s", end)
	_ = seen

	// Caught up: the next delta from the final cursor reads nothing new, in one call.
	again, _, calls, _ := scan(t, c, crm.Contacts, end, []string{"Email"}, 2)
	require.Empty(t, again)
	require.Equal(t, 1, calls)
}

// zohoIDs maps the simulator's contact ids to the Zoho dialect's.
func zohoIDs(t *testing.T, ids []string) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		zid, err := crmsim.ZohoID("contacts", id)
		require.NoError(t, err)
		out[i] = zid
	}
	return out
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		for _, y := range b {
			if x == y {
				n++
			}
		}
	}
	return n
}

func TestZohoChangesLoseNothingWhileRecordsChangeMidScan(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c, _ := setup(t, crmsim.Options{Seed: 9, Contacts: 3000, Companies: 10, Deals: 10, Now: clock.Now})
	start := clock.Now()
	clock.Add(time.Second)
	burst, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 1200, SameTimestamp: true})
	require.NoError(t, err)
	truth, err := sim.SnapshotFor(crmsim.ProviderZoho, "contacts")
	require.NoError(t, err)
	from := crm.Cursor{ModifiedAt: start}
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		require.Less(t, calls, 100)
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from, Properties: []string{"Email"}})
		require.NoError(t, err)
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		// Between pages, records of the burst being walked move to later seconds; with
		// offset paging this shifts unread ones past the offset and loses them.
		clock.Add(time.Second)
		_, err = sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 40})
		require.NoError(t, err)
		from = page.Next
		if !page.More {
			break
		}
	}
	for _, id := range zohoIDs(t, burst.Updated) {
		require.True(t, seen[id], "change of %s was never returned", id)
	}
	require.NotEmpty(t, truth)
}

func TestZohoBatchRead(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 50, Companies: 5, Deals: 20})
	res, err := sim.Mutate(crmsim.MutationSpec{Object: "deals", Archives: 2})
	require.NoError(t, err)
	truth, err := sim.SnapshotFor(crmsim.ProviderZoho, "deals")
	require.NoError(t, err)
	var live, gone []string
	for _, r := range truth {
		if r.Archived {
			gone = append(gone, r.ID)
		} else {
			live = append(live, r.ID)
		}
	}
	require.Len(t, gone, len(res.Archived))
	ids := []string{live[0], "4150868300099999999", live[1], gone[0]}
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Properties: []string{"Deal_Name", "Amount"}})
	require.NoError(t, err)
	require.Len(t, page.Records, 2, "missing and deleted ids are left out")
	require.Contains(t, flat(t, page.Records[0].Properties), "Deal_Name")

	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Archived: true})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.Equal(t, gone[0], page.Records[0].ID)
	require.True(t, page.Records[0].Archived)

	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: make([]string, 101)})
	require.ErrorContains(t, err, "at most 100")
}

func TestZohoReferenceData(t *testing.T) {
	t.Parallel()
	sim, c, base := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Companies: 5, Deals: 5, Owners: 230})
	owners, after, pages := map[string]bool{}, "", 0
	for {
		page, err := c.Owners(t.Context(), after)
		require.NoError(t, err)
		pages++
		for _, o := range page.Owners {
			require.NotEmpty(t, o.Email)
			owners[o.ID] = true
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	require.Len(t, owners, 230)
	require.Equal(t, 2, pages)

	layouts, _, err := c.Layouts(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.Equal(t, []zoho.Layout{{ID: dealsLayout, Name: "Standard", Status: "active"}}, layouts)
	pipes, _, err := c.Pipelines(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.Len(t, pipes, 2)
	require.Equal(t, "Sales Pipeline", pipes[0].ID)
	require.Equal(t, "Appointment Scheduled", pipes[0].Stages[0].ID)
	require.False(t, pipes[0].Stages[0].Closed)
	require.True(t, pipes[0].Stages[len(pipes[0].Stages)-1].Closed)

	require.Contains(t, propertyNames(t, c, crm.Contacts), "Last_Name")
	require.Contains(t, propertyNames(t, c, crm.Companies), "Account_Name")
	require.Contains(t, propertyNames(t, c, crm.Deals), "Stage")

	// Without a configured layout, the first Pipelines call looks it up, and later ones
	// do not.
	noLayout, err := zoho.New(zoho.Options{BaseURL: base, Tokens: crm.StaticToken("tok")})
	require.NoError(t, err)
	before := sim.Stats().Calls("zoho layouts")
	for range 2 {
		found, _, err := noLayout.Pipelines(t.Context(), crm.Deals)
		require.NoError(t, err)
		require.Equal(t, pipes, found)
	}
	require.Equal(t, 1, sim.Stats().Calls("zoho layouts")-before, "the layout is looked up once")
}

func TestZohoTooManyFieldsIsRefusedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5})
	props := make([]string, 49)
	for i := range props {
		props[i] = "Field_" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: props})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindInvalid, ae.Kind)
	require.Zero(t, sim.Stats().Total)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: props[:48]})
	require.NoError(t, err, "48 plus Modified_Time and Created_Time fit")
}

func TestZohoConcurrencyCapAnswers429(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Latency: 300 * time.Millisecond,
		Zoho: crmsim.ZohoOptions{Concurrency: 2}})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	limited := 0
	for err := range errs {
		if err == nil {
			continue
		}
		var ae *crm.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, crm.KindRateLimited, ae.Kind)
		require.Equal(t, "TOO_MANY_REQUESTS", ae.Category)
		require.Equal(t, crm.PolicyWindow, ae.Policy)
		require.Equal(t, 2*time.Second, ae.RetryAfter, "no Retry-After: the connector's concurrency wait")
		limited++
	}
	require.Equal(t, 2, limited)
	require.Equal(t, 2, sim.Stats().RateLimited)
	require.Zero(t, sim.Stats().Early, "no wait was told")
}

func TestZohoCreditsRunOut(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c, _ := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Now: clock.Now,
		Zoho: crmsim.ZohoOptions{DailyCredits: 3, CreditWindow: time.Hour, RetryAfter: true, RateLimitHeaders: true}})
	for i := range 3 {
		page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
		require.NoError(t, err)
		require.True(t, page.RateLimit.DailyKnown)
		require.Equal(t, 3, page.RateLimit.DailyMax)
		require.Equal(t, 2-i, page.RateLimit.DailyRemaining)
		require.False(t, page.RateLimit.WindowKnown)
		clock.Add(time.Minute)
	}
	_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindRateLimited, ae.Kind)
	require.Equal(t, "LIMIT_REACHED", ae.Category)
	require.Equal(t, crm.PolicyDaily, ae.Policy)
	require.Equal(t, 57*time.Minute, ae.RetryAfter, "the first credit comes back an hour after it was spent")
	require.True(t, ae.RateLimit.DailyKnown)
	require.Zero(t, ae.RateLimit.DailyRemaining)

	// Calling again before the told wait is early; after it, the credit is back.
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.Error(t, err)
	require.Equal(t, 1, sim.Stats().Early)
	clock.Add(57 * time.Minute)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
}

func TestZohoExpiredAccessToken(t *testing.T) {
	t.Parallel()
	clock := newClock()
	_, _, base := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Now: clock.Now, AccessTokenTTL: time.Hour})
	resp, err := http.PostForm(base+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {"tok"}, "client_id": {"id"}, "client_secret": {"secret"}})
	require.NoError(t, err)
	var grant struct {
		AccessToken string `json:"access_token"`
		APIDomain   string `json:"api_domain"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&grant))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, base, grant.APIDomain)
	require.Equal(t, 3600, grant.ExpiresIn)

	src := &expiringSource{tok: grant.AccessToken}
	c, err := zoho.New(zoho.Options{BaseURL: grant.APIDomain, Tokens: src})
	require.NoError(t, err)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(time.Hour), c.AccessTokenResetsAt(), "X-ACCESSTOKEN-RESET")

	clock.Add(time.Hour)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindTokenExpired, ae.Kind)
	require.Equal(t, "INVALID_TOKEN", ae.Category)
	require.Equal(t, []string{grant.AccessToken}, src.expired)
	require.NotContains(t, err.Error(), grant.AccessToken)

	// A static token that is rejected cannot be replaced: unauthorized.
	bad, err := zoho.New(zoho.Options{BaseURL: base, Tokens: crm.StaticToken("nope")})
	require.NoError(t, err)
	_, err = bad.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindUnauthorized, ae.Kind)

	// An unknown refresh token: HTTP 200 with Zoho's error field.
	resp, err = http.PostForm(base+"/oauth/v2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {"nope"}, "client_id": {"id"}, "client_secret": {"secret"}})
	require.NoError(t, err)
	var refused struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&refused))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "invalid_code", refused.Error)
}

// expiringSource hands out one token and records which tokens were reported expired.
type expiringSource struct {
	mu      sync.Mutex
	tok     string
	expired []string
}

func (s *expiringSource) Token(context.Context) (string, error) { return s.tok, nil }

func (s *expiringSource) Expired(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = append(s.expired, tok)
	return true
}

func TestZohoErrorsCarryNoQuery(t *testing.T) {
	t.Parallel()
	c, err := zoho.New(zoho.Options{BaseURL: "http://127.0.0.1:1", Tokens: crm.StaticToken("secret-token")})
	require.NoError(t, err)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: "t.SECRETISH"})
	require.Error(t, err)
	require.False(t, strings.Contains(err.Error(), "SECRETISH") || strings.Contains(err.Error(), "secret-token"), "%v", err)
	var ae *crm.APIError
	require.False(t, errors.As(err, &ae), "no response, no APIError")
}

// clock is a settable clock for the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

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

func TestBatchReadRefusesAnIDProperty(t *testing.T) {
	t.Parallel()
	sim, c, _ := setup(t, crmsim.Options{Seed: 1, Contacts: 5})
	_, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"a@example.com"}, IDProperty: "email"})
	require.ErrorContains(t, err, `by record id only, not by "email"`)
	require.Zero(t, sim.Stats().Total, "refused before any call")
}

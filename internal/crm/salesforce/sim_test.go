package salesforce_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/salesforce"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/oauth"
)

const simToken = "00Dsim!static-session-token"

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

type env struct {
	sim   *crmsim.Sim
	srv   *httptest.Server
	clock *clock
}

// setup starts a simulator on a fake clock with a generous allocation (these tests are
// about data unless they say otherwise) and a client with a static token.
func setup(t *testing.T, opts crmsim.Options, copts salesforce.Options) (*env, *salesforce.Client) {
	t.Helper()
	e := &env{clock: newClock()}
	opts.Tokens = []string{simToken}
	if opts.Now == nil {
		opts.Now = e.clock.Now
	}
	if opts.Salesforce.DailyLimit == 0 {
		opts.Salesforce.DailyLimit = 10_000_000
	}
	sim, err := crmsim.New(opts)
	require.NoError(t, err)
	e.sim = sim
	e.srv = httptest.NewServer(sim.Handler())
	t.Cleanup(e.srv.Close)
	copts.BaseURL = e.srv.URL
	if copts.Tokens == nil {
		copts.Tokens = crm.StaticToken(simToken)
	}
	c, err := salesforce.New(copts)
	require.NoError(t, err)
	return e, c
}

func fieldNames(t *testing.T, c *salesforce.Client, obj crm.Object) ([]string, []crm.Property) {
	t.Helper()
	props, _, err := c.Properties(t.Context(), obj)
	require.NoError(t, err)
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	return names, props
}

// propertyTexts renders stored Properties the way SnapshotFor does: a string as itself,
// other JSON as its text, null as "".
func propertyTexts(t *testing.T, raw json.RawMessage) map[string]string {
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

func listAll(t *testing.T, c *salesforce.Client, obj crm.Object, archived bool, props []string) ([]crm.Record, int) {
	t.Helper()
	var out []crm.Record
	after, pages := "", 0
	for {
		page, err := c.List(t.Context(), crm.ListRequest{Object: obj, After: after, Archived: archived, Properties: props})
		require.NoError(t, err)
		pages++
		out = append(out, page.Records...)
		if page.Next == "" {
			return out, pages
		}
		require.True(t, strings.HasPrefix(page.Next, "/services/data/v62.0/query/"), page.Next)
		after = page.Next
	}
}

func TestSalesforceListEqualsTheSnapshot(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 7, Contacts: 1234, Companies: 300, Deals: 400}, salesforce.Options{PageSize: 500})
	_, err := e.sim.Mutate(crmsim.MutationSpec{Archives: 30})
	require.NoError(t, err)

	for _, obj := range crm.Objects {
		names, _ := fieldNames(t, c, obj)
		truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, string(obj))
		require.NoError(t, err)
		for _, archived := range []bool{false, true} {
			got, pages := listAll(t, c, obj, archived, names)
			var want []crmsim.Record
			for _, r := range truth {
				if r.Archived == archived {
					want = append(want, r)
				}
			}
			require.Len(t, got, len(want), "%s archived=%v", obj, archived)
			require.Equal(t, max(1, (len(want)+499)/500), pages)
			for i, r := range got {
				w := want[i]
				require.Equal(t, w.ID, r.ID)
				require.Len(t, r.ID, 18)
				require.True(t, w.CreatedAt.Equal(r.CreatedAt), "%s created", r.ID)
				require.True(t, w.UpdatedAt.Equal(r.UpdatedAt), "%s updated", r.ID)
				require.Equal(t, archived, r.Archived)
				if archived {
					require.True(t, w.ArchivedAt.Equal(r.ArchivedAt), "%s deleted at", r.ID)
				}
				require.Equal(t, w.Properties, propertyTexts(t, r.Properties), "%s %s", obj, r.ID)
				require.NotContains(t, string(r.Properties), `"attributes"`)
				require.NotContains(t, string(r.Properties), `"Id"`)
			}
		}
	}
}

// scan reads changes from a cursor until caught up, checking that no record comes twice
// within the scan and the cursor never moves back.
func scan(t *testing.T, c *salesforce.Client, obj crm.Object, from crm.Cursor, props []string, maxCalls int) (map[string]crm.Record, int, crm.Cursor) {
	t.Helper()
	seen := map[string]crm.Record{}
	calls := 0
	for {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: obj, From: from, Properties: props})
		require.NoError(t, err)
		calls++
		require.LessOrEqual(t, calls, maxCalls, "the scan did not end within %d calls (cursor %s)", maxCalls, from)
		for _, r := range page.Records {
			_, dup := seen[r.ID]
			require.False(t, dup, "record %s returned twice", r.ID)
			seen[r.ID] = r
		}
		require.GreaterOrEqual(t, page.Next.Compare(from), 0, "the cursor moved backwards from %s to %s", from, page.Next)
		from = page.Next
		if !page.More {
			return seen, calls, from
		}
	}
}

func TestSalesforceChangesFullScanWithSecondTies(t *testing.T) {
	t.Parallel()
	// Whole-second stamps and the seeded import bursts give groups of records sharing one
	// SystemModstamp, which pages of 200 cut through.
	e, c := setup(t, crmsim.Options{Seed: 11, Contacts: 3000, Companies: 10, Deals: 10}, salesforce.Options{PageSize: 200})
	seen, calls, _ := scan(t, c, crm.Contacts, crm.Cursor{}, []string{"Email"}, 100)
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
	require.NoError(t, err)
	for _, r := range truth {
		got, ok := seen[r.ID]
		require.True(t, ok, "record %s missing from the scan", r.ID)
		require.True(t, r.UpdatedAt.Equal(got.UpdatedAt))
	}
	require.Len(t, seen, len(truth))
	require.LessOrEqual(t, calls, len(truth)/200+1)
}

func TestSalesforceChangesOfOneSecondAreReadOnceAndResume(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 5, Contacts: 2500, Companies: 10, Deals: 10}, salesforce.Options{PageSize: 200})
	e.clock.Add(time.Hour)
	start := crm.Cursor{ModifiedAt: e.clock.Now()}
	e.clock.Add(1500 * time.Millisecond)
	res, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 1000, SameTimestamp: true})
	require.NoError(t, err)
	e.clock.Add(300 * time.Millisecond)
	res2, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 100})
	require.NoError(t, err)
	require.Equal(t, res.At.Truncate(time.Second), res2.At.Truncate(time.Second), "both bursts share one second")

	// Read part of the burst, then resume from the stored cursor as a new sync would.
	from := start
	first := map[string]bool{}
	for range 3 {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from, Properties: []string{"Email"}})
		require.NoError(t, err)
		require.True(t, page.More)
		for _, r := range page.Records {
			first[r.ID] = true
		}
		from = page.Next
	}
	require.Len(t, first, 600)
	stored, err := json.Marshal(from)
	require.NoError(t, err)
	var resumed crm.Cursor
	require.NoError(t, json.Unmarshal(stored, &resumed))

	rest, calls, end := scan(t, c, crm.Contacts, resumed, []string{"Email"}, 10)
	for id := range rest {
		require.False(t, first[id], "record %s read again after resuming", id)
	}
	// The mutator names HubSpot ids; the Salesforce ids of the changed records are those
	// stamped in the bursts' second.
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
	require.NoError(t, err)
	changed := map[string]bool{}
	for _, r := range truth {
		if r.UpdatedAt.Equal(res.At.Truncate(time.Second)) {
			changed[r.ID] = true
		}
	}
	require.Len(t, changed, countDistinct(res.Updated, res2.Updated))
	for id := range changed {
		require.True(t, first[id] || rest[id].ID != "", "update of %s lost", id)
	}
	require.Len(t, rest, len(changed)-600)
	require.LessOrEqual(t, calls, (len(changed)-600)/200+1)
	require.True(t, end.ModifiedAt.Equal(res.At.Truncate(time.Second)), "the cursor ends at the burst's second: %s", end)

	again, calls, _ := scan(t, c, crm.Contacts, end, []string{"Email"}, 2)
	require.Empty(t, again)
	require.Equal(t, 1, calls)
}

func TestSalesforceChangesLoseNothingWhileRecordsChangeMidScan(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 9, Contacts: 3000, Companies: 10, Deals: 10}, salesforce.Options{PageSize: 200})
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Contacts)
	require.NoError(t, err)
	from := crm.Cursor{}
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		require.Less(t, calls, 200)
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from})
		require.NoError(t, err)
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		e.clock.Add(100 * time.Millisecond)
		_, err = e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Contacts, Updates: 25})
		require.NoError(t, err)
		from = page.Next
		if !page.More {
			break
		}
	}
	for _, r := range truth {
		if !r.Archived {
			require.True(t, seen[r.ID], "record %s, live when the scan began, was never returned", r.ID)
		}
	}
}

func TestSalesforceCountIsTheLiveRecords(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 3, Contacts: 50, Companies: 5, Deals: 30}, salesforce.Options{})
	_, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Deals, Archives: 4})
	require.NoError(t, err)
	n, rl, err := c.Count(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.Equal(t, 26, n)
	require.True(t, rl.DailyKnown)
	n, _, err = c.Count(t.Context(), crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, 50, n)
}

func TestSalesforceBatchRead(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 3, Contacts: 50, Companies: 5, Deals: 30}, salesforce.Options{})
	res, err := e.sim.Mutate(crmsim.MutationSpec{Object: crmsim.Deals, Archives: 2})
	require.NoError(t, err)
	require.Len(t, res.Archived, 2)
	truth, err := e.sim.SnapshotFor(crmsim.ProviderSalesforce, crmsim.Deals)
	require.NoError(t, err)
	var live, deleted []string
	for _, r := range truth {
		if r.Archived {
			deleted = append(deleted, r.ID)
		} else {
			live = append(live, r.ID)
		}
	}
	ids := []string{live[0], "006000000000000AAA", deleted[0], live[5]}
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Properties: []string{"Name", "Amount", "StageName"}})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
	require.Equal(t, live[0], page.Records[0].ID)
	require.Equal(t, live[5], page.Records[1].ID)
	require.True(t, page.RateLimit.DailyKnown)

	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Properties: []string{"Name"}, Archived: true})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.Equal(t, deleted[0], page.Records[0].ID)
	require.True(t, page.Records[0].Archived)
	require.False(t, page.Records[0].ArchivedAt.IsZero())

	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: make([]string, 2001)})
	require.ErrorContains(t, err, "at most 2000 per call")
	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: make([]string, 201), Archived: true})
	require.ErrorContains(t, err, "(200 deleted ones)")
	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: []string{"x') OR Id != ('"}})
	require.ErrorContains(t, err, "not a record id")
}

func TestSalesforceReferenceData(t *testing.T) {
	t.Parallel()
	_, c := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Companies: 5, Deals: 5, Owners: 450}, salesforce.Options{PageSize: 200})
	var owners []crm.Owner
	after, pages := "", 0
	for {
		page, err := c.Owners(t.Context(), after)
		require.NoError(t, err)
		pages++
		owners = append(owners, page.Owners...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	require.Len(t, owners, 450)
	require.Equal(t, 3, pages)
	require.True(t, strings.HasPrefix(owners[0].ID, "005"))
	require.NotEmpty(t, owners[0].Email)
	require.False(t, owners[0].UpdatedAt.IsZero())

	pipes, _, err := c.Pipelines(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.Len(t, pipes, 1)
	require.Len(t, pipes[0].Stages, 12)
	require.Equal(t, "Appointment Scheduled", pipes[0].Stages[0].ID)
	require.True(t, pipes[0].Stages[5].Closed, "Closed Won")
	_, _, err = c.Pipelines(t.Context(), crm.Contacts)
	require.Error(t, err)

	names, props := fieldNames(t, c, crm.Contacts)
	require.Contains(t, names, "SystemModstamp")
	require.Contains(t, names, "Lifecycle_Stage__c")
	for _, p := range props {
		if p.Name == "SystemModstamp" {
			require.Equal(t, "datetime", p.Type)
		}
	}
}

func TestSalesforceDailyAllocationExhaustedIsA403RateLimit(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 1, Contacts: 5, Companies: 1, Deals: 1, Salesforce: crmsim.SalesforceOptions{DailyLimit: 3}}, salesforce.Options{})
	u, rl, err := c.DailyUsage(t.Context())
	require.NoError(t, err)
	require.Equal(t, crm.DailyUsage{Used: 1, Limit: 3, ResetsAt: u.ResetsAt}, u)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), u.ResetsAt, time.Minute)
	require.Equal(t, crm.RateLimit{DailyKnown: true, DailyMax: 3, DailyRemaining: 2}, rl)
	for range 2 {
		_, _, err = c.Properties(t.Context(), crm.Contacts)
		require.NoError(t, err)
	}
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindRateLimited, ae.Kind)
	require.Equal(t, crm.PolicyDaily, ae.Policy)
	require.Equal(t, 403, ae.Status)
	require.Equal(t, "REQUEST_LIMIT_EXCEEDED", ae.Category)
	require.Zero(t, ae.RetryAfter, "Salesforce names no wait")
	require.Equal(t, crm.RateLimit{DailyKnown: true, DailyMax: 3, DailyRemaining: 0}, ae.RateLimit)
	require.True(t, ae.Retryable())
	require.Equal(t, 1, e.sim.Stats().RateLimited)

	// The window rolls: a day after the first call there is room again.
	e.clock.Add(24 * time.Hour)
	_, err = c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
	require.Zero(t, e.sim.Stats().Early)
}

func TestSalesforceConcurrentLimitIsNotTheDailyOne(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 1, Contacts: 5}, salesforce.Options{})
	e.sim.InjectFault(crmsim.Fault{Kind: crmsim.Fault429TenSecondly})
	_, _, err := c.Properties(t.Context(), crm.Contacts)
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindRateLimited, ae.Kind)
	require.Equal(t, salesforce.PolicyConcurrent, ae.Policy)
}

func TestSalesforceExpiredAccessTokenIsRefreshedOnce(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, crmsim.Options{Seed: 1, Contacts: 5, AccessTokenTTL: time.Hour}, salesforce.Options{})
	src, err := oauth.NewRefresher(oauth.Config{
		TokenURL: e.srv.URL + "/services/oauth2/token", ClientID: "3MVG9sim", ClientSecret: "client-secret-xyz", RefreshToken: simToken})
	require.NoError(t, err)
	c, err := salesforce.New(salesforce.Options{BaseURL: e.srv.URL, Tokens: src})
	require.NoError(t, err)
	_, _, err = c.Properties(t.Context(), crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, e.srv.URL, src.APIBaseURL())
	require.Equal(t, 1, e.sim.RefreshGrants())

	e.clock.Add(time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = c.Properties(t.Context(), crm.Contacts) })
	}
	wg.Wait()
	expired := 0
	for _, err := range errs {
		if err == nil {
			continue // it asked for a token after another caller's refresh
		}
		expired++
		var ae *crm.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, crm.KindTokenExpired, ae.Kind)
		require.Equal(t, "INVALID_SESSION_ID", ae.Category)
		require.True(t, ae.Retryable())
		require.NotContains(t, err.Error(), simToken)
	}
	require.Positive(t, expired, "the callers that sent the expired token were told so")
	for range 3 {
		_, _, err = c.Properties(t.Context(), crm.Contacts)
		require.NoError(t, err)
	}
	require.Equal(t, 2, e.sim.RefreshGrants(), "eight callers saw one expiry: one refresh")

	// A static token cannot be replaced, and a refused refresh token is permanent.
	static, err := salesforce.New(salesforce.Options{BaseURL: e.srv.URL, Tokens: crm.StaticToken("expired-session")})
	require.NoError(t, err)
	_, _, err = static.Properties(t.Context(), crm.Contacts)
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindUnauthorized, ae.Kind)

	bad, err := oauth.NewRefresher(oauth.Config{
		TokenURL: e.srv.URL + "/services/oauth2/token", ClientID: "3MVG9sim", ClientSecret: "client-secret-xyz", RefreshToken: "revoked-refresh-token"})
	require.NoError(t, err)
	_, err = bad.Token(t.Context())
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindUnauthorized, ae.Kind)
	require.Equal(t, "invalid_grant", ae.Category)
	require.NotContains(t, err.Error(), "revoked-refresh-token")
	require.False(t, bad.Expired("x"))
}

func TestSalesforceBulkQueryStoresWhatRESTStores(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 21, Contacts: 40, Companies: 60, Deals: 700}, salesforce.Options{})
	for _, obj := range []crm.Object{crm.Deals, crm.Companies, crm.Contacts} {
		names, props := fieldNames(t, c, obj)
		rest, _ := listAll(t, c, obj, false, names)
		byID := map[string]crm.Record{}
		for _, r := range rest {
			byID[r.ID] = r
		}

		job, _, err := c.StartQuery(t.Context(), obj, names)
		require.NoError(t, err)
		done, _, err := c.JobDone(t.Context(), job)
		require.NoError(t, err)
		require.False(t, done)
		e.clock.Add(crmsim.DefaultSalesforceBulkJobDelay)
		done, rl, err := c.JobDone(t.Context(), job)
		require.NoError(t, err)
		require.True(t, done)
		require.True(t, rl.DailyKnown)

		n, locator, pages := 0, "", 0
		for {
			next, _, err := c.Results(t.Context(), job, locator, 250, props, func(r crm.Record) error {
				want, ok := byID[r.ID]
				require.True(t, ok, "bulk record %s not listed", r.ID)
				require.Equal(t, string(want.Properties), string(r.Properties), "%s %s", obj, r.ID)
				require.True(t, want.UpdatedAt.Equal(r.UpdatedAt))
				require.True(t, want.CreatedAt.Equal(r.CreatedAt))
				n++
				return nil
			})
			require.NoError(t, err)
			pages++
			if next == "" {
				break
			}
			locator = next
		}
		require.Equal(t, len(rest), n, "%s", obj)
		require.Equal(t, max(1, (n+249)/250), pages)
	}

	// A callback's error stops the page and comes back.
	_, props := fieldNames(t, c, crm.Deals)
	job, _, err := c.StartQuery(t.Context(), crm.Deals, []string{"Name"})
	require.NoError(t, err)
	e.clock.Add(crmsim.DefaultSalesforceBulkJobDelay)
	stop := errors.New("stop")
	calls := 0
	_, _, err = c.Results(t.Context(), job, "", 0, props, func(crm.Record) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

func TestSalesforceContinuationTokensStayOnTheDataAPI(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 1, Contacts: 5}, salesforce.Options{})
	for _, tok := range []string{
		"https://evil.example/services/data/v62.0/query/01g-2000",
		"//evil.example/services/data/v62.0/query/01g-2000",
		"/services/data/v62.0/../../_sim/stats",
		"/services/data/v62.0/query/01g-2000?x=1",
		"/services/oauth2/token",
		"/services/data/v62.0/query/01g@evil.example",
	} {
		_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: tok})
		require.Error(t, err, tok)
		_, err = c.Owners(t.Context(), tok)
		require.Error(t, err, tok)
	}
	require.Zero(t, e.sim.Stats().Total, "no token was followed")

	_, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: "/services/data/v62.0/query/01g5g0000000999-2000"})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, crm.KindInvalid, ae.Kind)
	require.Equal(t, "INVALID_QUERY_LOCATOR", ae.Category)
}

func TestSalesforceNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tok := crm.StaticToken("x")
	for _, o := range []salesforce.Options{
		{BaseURL: "", Tokens: tok},
		{BaseURL: "ftp://x.my.salesforce.com", Tokens: tok},
		{BaseURL: "https://x.my.salesforce.com/services/data", Tokens: tok},
		{BaseURL: "https://x.my.salesforce.com"},
		{BaseURL: "https://x.my.salesforce.com", Tokens: tok, APIVersion: "62"},
		{BaseURL: "https://x.my.salesforce.com", Tokens: tok, PageSize: 5000},
	} {
		_, err := salesforce.New(o)
		require.Error(t, err, "%+v", o)
	}
	c, err := salesforce.New(salesforce.Options{BaseURL: "https://x.my.salesforce.com/", Tokens: tok})
	require.NoError(t, err)
	require.Equal(t, 2000, c.PageSize())
	require.Equal(t, 2000, c.BatchSize())
	require.Equal(t, "salesforce", c.Provider())
}

func countDistinct(lists ...[]string) int {
	seen := map[string]bool{}
	for _, l := range lists {
		for _, id := range l {
			seen[id] = true
		}
	}
	return len(seen)
}

func TestBatchReadRefusesAnIDProperty(t *testing.T) {
	t.Parallel()
	e, c := setup(t, crmsim.Options{Seed: 1, Contacts: 5}, salesforce.Options{})
	_, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"a@example.com"}, IDProperty: "email"})
	require.ErrorContains(t, err, `by record id only, not by "email"`)
	require.Zero(t, e.sim.Stats().Total, "refused before any call")
}

package hubspot_test

import (
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// setup starts a simulator with generous limits (these tests are about data, not quota)
// and a client for it.
func setup(t *testing.T, opts crmsim.Options) (*crmsim.Sim, *hubspot.Client) {
	t.Helper()
	opts.Tokens = []string{"tok"}
	if opts.TenSecondLimit == 0 {
		opts.TenSecondLimit = 1_000_000
	}
	if opts.SearchPerSecond == 0 {
		opts.SearchPerSecond = 1_000_000
	}
	opts.DailyLimit = 10_000_000
	sim, err := crmsim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: "tok"})
	require.NoError(t, err)
	return sim, c
}

func propertyNames(t *testing.T, c *hubspot.Client, obj crm.Object) []string {
	t.Helper()
	props, _, err := c.Properties(t.Context(), obj)
	require.NoError(t, err)
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	return names
}

func TestListWalksEveryRecordOnce(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 7, Contacts: 1234, Companies: 10, Deals: 10})
	_, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 30})
	require.NoError(t, err)

	for _, archived := range []bool{false, true} {
		seen := map[string]bool{}
		after, pages := "", 0
		for {
			page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: after, Archived: archived})
			require.NoError(t, err)
			pages++
			for _, r := range page.Records {
				require.False(t, seen[r.ID], "record %s listed twice", r.ID)
				seen[r.ID] = true
				require.Equal(t, archived, r.Archived)
				require.Equal(t, archived, !r.ArchivedAt.IsZero())
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		truth, err := sim.Snapshot("contacts")
		require.NoError(t, err)
		want := 0
		for _, r := range truth {
			if r.Archived == archived {
				want++
				require.True(t, seen[r.ID], "record %s (archived %v) not listed", r.ID, archived)
			}
		}
		require.Len(t, seen, want)
		require.Equal(t, (want+99)/100, pages, "pages of 100 (archived %v)", archived)
	}
}

func TestBatchReadSkipsMissingIDs(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 3, Contacts: 50, Companies: 5, Deals: 5})
	truth, err := sim.Snapshot("deals")
	require.NoError(t, err)
	ids := []string{truth[0].ID, "999999999", truth[1].ID}
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: ids, Properties: []string{"dealname"}})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)

	_, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: make([]string, 101)})
	require.ErrorContains(t, err, "at most 100")
}

func TestReferenceData(t *testing.T) {
	t.Parallel()
	_, c := setup(t, crmsim.Options{Seed: 3, Contacts: 5, Companies: 5, Deals: 5, Owners: 130})
	owners, after := 0, ""
	for {
		page, err := c.Owners(t.Context(), after)
		require.NoError(t, err)
		owners += len(page.Owners)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	require.Equal(t, 130, owners)
	pipes, _, err := c.Pipelines(t.Context(), crm.Deals)
	require.NoError(t, err)
	require.NotEmpty(t, pipes)
	require.NotEmpty(t, pipes[0].Stages)
	require.Contains(t, propertyNames(t, c, crm.Contacts), "lastmodifieddate")
	require.Contains(t, propertyNames(t, c, crm.Companies), "hs_lastmodifieddate")
}

// scan reads changes from a cursor until caught up, returning every record seen (the
// newest copy of each) and the number of calls.
func scan(t *testing.T, c *hubspot.Client, obj crm.Object, from crm.Cursor, props []string, maxCalls int) (map[string]crm.Record, int, crm.Cursor) {
	t.Helper()
	seen := map[string]crm.Record{}
	calls := 0
	for {
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: obj, From: from, Properties: props})
		require.NoError(t, err)
		calls++
		require.LessOrEqual(t, calls, maxCalls, "the scan did not end within %d calls (cursor %s)", maxCalls, from)
		for _, r := range page.Records {
			if old, ok := seen[r.ID]; !ok || !r.UpdatedAt.Before(old.UpdatedAt) {
				seen[r.ID] = r
			}
		}
		require.GreaterOrEqual(t, page.Next.Compare(from), 0, "the cursor moved backwards from %s to %s", from, page.Next)
		from = page.Next
		if !page.More {
			return seen, calls, from
		}
	}
}

func TestChangesFullScanReturnsEveryLiveRecord(t *testing.T) {
	t.Parallel()
	// The seeded data has groups of hundreds of records sharing one millisecond.
	sim, c := setup(t, crmsim.Options{Seed: 11, Contacts: 3000, Companies: 10, Deals: 10})
	props := propertyNames(t, c, crm.Contacts)
	seen, calls, _ := scan(t, c, crm.Contacts, crm.Cursor{}, props, 100)
	truth, err := sim.Snapshot("contacts")
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
	}
	require.Len(t, seen, live)
	t.Logf("full scan: %d records in %d calls (minimum %d)", live, calls, (live+199)/200)
	require.LessOrEqual(t, calls, (live+199)/200+5)
}

func TestChangesBurstBeyondTheSearchCapSharingOneMillisecond(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 5, Contacts: 12500, Companies: 10, Deals: 10})
	props := []string{"email"}
	start := time.Now().Add(-time.Second)
	res, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 12000, SameTimestamp: true})
	require.NoError(t, err)
	require.Len(t, res.Updated, 12000)

	// 12,000 changes in one millisecond: more than one query's 10,000-result cap, and no
	// timestamp to page by. The ties mode walks them by id.
	seen, calls, end := scan(t, c, crm.Contacts, crm.Cursor{ModifiedAt: start}, props, 80)
	for _, id := range res.Updated {
		r, ok := seen[id]
		require.True(t, ok, "update of %s lost", id)
		require.True(t, r.UpdatedAt.Equal(res.At), "record %s at %v, want %v", id, r.UpdatedAt, res.At)
	}
	t.Logf("12,000 equal-timestamp changes read in %d calls (minimum 60)", calls)
	require.LessOrEqual(t, calls, 64)
	require.True(t, end.ModifiedAt.Equal(res.At.Truncate(time.Millisecond)), "cursor ends at the burst: %s", end)
	require.Empty(t, end.Mode, "the scan ends in normal mode")

	// Caught up: the next delta from the final cursor reads nothing new, in one call.
	again, calls, _ := scan(t, c, crm.Contacts, end, props, 2)
	require.Empty(t, again)
	require.Equal(t, 1, calls)
}

func TestChangesBeyondTheSearchCapWithDistinctTimestamps(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c := setup(t, crmsim.Options{Seed: 6, Contacts: 100, Companies: 10, Deals: 10, Now: clock.Now})
	start := clock.Now()
	// 10,500 new records over 1,500 milliseconds, seven per millisecond, so that pages of
	// 200 end inside groups of equal timestamps.
	var created []string
	for range 1500 {
		clock.Add(time.Millisecond)
		res, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Creates: 7})
		require.NoError(t, err)
		created = append(created, res.Created...)
	}
	seen, calls, _ := scan(t, c, crm.Contacts, crm.Cursor{ModifiedAt: start}, []string{"email"}, 100)
	for _, id := range created {
		_, ok := seen[id]
		require.True(t, ok, "created record %s never returned", id)
	}
	t.Logf("%d changed records read in %d calls (minimum %d)", len(created), calls, (len(created)+199)/200)
	require.Len(t, seen, len(created))
	require.LessOrEqual(t, calls, (len(created)+199)/200+3)
}

func TestChangesLoseNothingWhileRecordsChangeMidScan(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 9, Contacts: 4000, Companies: 10, Deals: 10})
	truth, err := sim.Snapshot("contacts")
	require.NoError(t, err)
	from := crm.Cursor{}
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		require.Less(t, calls, 200)
		page, err := c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Contacts, From: from, Properties: []string{"email"}})
		require.NoError(t, err)
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		// Between pages, records the scan has already passed move to the end; with offset
		// paging this shifts unread records past the offset and loses them.
		_, err = sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 25})
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

func TestChangesHonourTheIndexLagWindow(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sim, c := setup(t, crmsim.Options{Seed: 2, Contacts: 200, Companies: 5, Deals: 5, SearchIndexLag: 2 * time.Second, Now: clock.Now})
	start := clock.Now()
	clock.Add(time.Second)
	res, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 10})
	require.NoError(t, err)
	clock.Add(time.Second)
	early, _, cursor := scan(t, c, crm.Contacts, crm.Cursor{ModifiedAt: start}, []string{"email"}, 3)
	require.Empty(t, early, "changes are not searchable before the index catches up")

	// Once the index has caught up, a scan from where the last one ended misses them (they
	// are older than its cursor); one that re-reads a lag window finds them.
	clock.Add(2 * time.Second)
	res2, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Updates: 1})
	require.NoError(t, err)
	clock.Add(3 * time.Second)
	seen, _, _ := scan(t, c, crm.Contacts, crm.Cursor{ModifiedAt: cursor.ModifiedAt.Add(-3 * time.Second)}, []string{"email"}, 3)
	for _, id := range append(res.Updated, res2.Updated...) {
		_, ok := seen[id]
		require.True(t, ok, "change of %s never returned", id)
	}
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

func TestListTokensAreRecognisedAndSeekable(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 12, Contacts: 2000, Companies: 10, Deals: 10})
	p1, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts})
	require.NoError(t, err)
	p2, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: p1.Next})
	require.NoError(t, err)
	codec := c.SeekCodec(p1.Next, p1.Records[len(p1.Records)-1].ID, p2.Records[0].ID)
	require.NotEmpty(t, codec, "the simulator's tokens (HubSpot's documented example format) are recognised")

	// A listing seeked to any id starts there: every record at or above it, nothing lost.
	truth, err := sim.Snapshot("contacts")
	require.NoError(t, err)
	lo := truth[777].ID
	tok, err := c.SeekToken(codec, lo)
	require.NoError(t, err)
	page, err := c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: tok})
	require.NoError(t, err)
	require.LessOrEqual(t, crm.CompareIDs(page.Records[0].ID, lo), 0, "the seeked page starts at or just before %s", lo)
	found := false
	for _, r := range page.Records {
		found = found || r.ID == lo
	}
	require.True(t, found, "record %s is on the seeked page", lo)

	// The largest id and how many there are: the bounds of the id ranges.
	id, total, _, err := c.LastID(t.Context(), crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, truth[len(truth)-1].ID, id)
	require.Equal(t, len(truth), total)
}

func TestSeekCodecRefusesTokensItCannotPlace(t *testing.T) {
	t.Parallel()
	c, err := hubspot.New(hubspot.Options{Token: "x"})
	require.NoError(t, err)
	tests := []struct {
		name, token, prev, first string
		want                     bool
	}{
		{name: "decimal id between the pages", token: "525", prev: "524", first: "525", want: true},
		{name: "documented base64 example", token: "NTI1Cg%3D%3D", prev: "520", first: "530", want: true},
		{name: "unescaped base64", token: "NTI1Cg==", prev: "525", first: "525", want: true},
		{name: "an id outside the pages", token: "9999", prev: "524", first: "525"},
		{name: "opaque token", token: "eyJvZmZzZXQiOjEwMH0", prev: "1", first: "1000"},
		{name: "no previous page", token: "525", prev: "", first: "525"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, c.SeekCodec(tc.token, tc.prev, tc.first) != "")
		})
	}
	for _, codec := range []string{"decimal", "base64nl", "base64nl-qesc", "base64", "base64-qesc"} {
		tok, err := c.SeekToken(codec, "526")
		require.NoError(t, err)
		again, err := c.SeekToken(c.SeekCodec(tok, "525", "525"), "526")
		require.NoError(t, err)
		require.Equal(t, tok, again, "SeekToken(%s) round-trips", codec)
	}
	_, err = c.SeekToken("opaque", "5")
	require.Error(t, err)
}

func TestDailyUsageSaysWhenTheDayResets(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	_, c := setup(t, crmsim.Options{Seed: 3, Contacts: 5, DayLength: time.Hour, Now: func() time.Time { return start }})
	_, _, err := c.Properties(t.Context(), crm.Contacts)
	require.NoError(t, err)
	u, rl, err := c.DailyUsage(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, u.Used, "the usage call counts itself and the call before it")
	require.Equal(t, 10_000_000, u.Limit)
	require.Equal(t, start.Add(time.Hour), u.ResetsAt)
	require.True(t, rl.DailyKnown)
}

func TestBatchReadOfArchivedRecordsReturnsTheirLastCopy(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 4, Contacts: 50, Companies: 5, Deals: 5})
	res, err := sim.Mutate(crmsim.MutationSpec{Object: "contacts", Archives: 3})
	require.NoError(t, err)
	live, err := sim.Snapshot("contacts")
	require.NoError(t, err)
	var liveID string
	for _, r := range live {
		if !r.Archived {
			liveID = r.ID
			break
		}
	}
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: append(slices.Clone(res.Archived), liveID), Archived: true})
	require.NoError(t, err)
	require.Len(t, page.Records, 3, "the live record is not among the archived ones")
	for _, r := range page.Records {
		require.True(t, r.Archived)
		require.False(t, r.ArchivedAt.IsZero())
		require.Contains(t, res.Archived, r.ID)
	}
	page, err = c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: res.Archived})
	require.NoError(t, err)
	require.Empty(t, page.Records, "archived records are not read as live")
}

package refdata_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/refdata"
	"github.com/crmsync/crmsync/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const integ = "acme"

// clock is the fake clock every cache of a test shares.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fetcher is the CRM side: it counts calls per kind, answers what the test set, and can hold
// every call at a gate so that a test sees what other callers do meanwhile.
type fetcher struct {
	mu        sync.Mutex
	calls     map[string]int
	owners    []crm.Owner
	pipelines []crm.Pipeline
	props     []crm.Property
	err       error
	gate      chan struct{}
	entered   chan struct{}
}

func newFetcher() *fetcher {
	return &fetcher{
		calls:     map[string]int{},
		owners:    owners("Ada"),
		pipelines: pipelines("Closed Won"),
		props:     []crm.Property{{Name: "email", Label: "Email", Type: "string"}},
		entered:   make(chan struct{}, 64),
	}
}

// hold makes every following call wait until the returned release is called (or the test
// ends).
func (f *fetcher) hold(t *testing.T) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gate := make(chan struct{})
	f.gate = gate
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

func (f *fetcher) set(fn func(f *fetcher)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fetcher) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[kind]
}

func (f *fetcher) enter(ctx context.Context, kind string) error {
	f.mu.Lock()
	f.calls[kind]++
	gate, err := f.gate, f.err
	f.mu.Unlock()
	f.entered <- struct{}{}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fetcher) FetchOwners(ctx context.Context, _ string) ([]crm.Owner, error) {
	if err := f.enter(ctx, refdata.KindOwners); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.owners), nil
}

func (f *fetcher) FetchPipelines(ctx context.Context, _ string, _ crm.Object) ([]crm.Pipeline, error) {
	if err := f.enter(ctx, refdata.KindPipelines); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pipelines), nil
}

func (f *fetcher) FetchProperties(ctx context.Context, _ string, _ crm.Object) ([]crm.Property, error) {
	if err := f.enter(ctx, refdata.KindProperties); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.props), nil
}

// owners is the owners fixture; first names the first owner, so that tests can tell one
// fetched copy from the next.
func owners(first string) []crm.Owner {
	return []crm.Owner{
		{ID: "1", FirstName: first, LastName: "Lovelace", Email: "ada@example.com"},
		{ID: "2", Email: "bob@example.com"},
		{ID: "3"},
	}
}

// pipelines is the deal pipelines fixture; won labels the default pipeline's won stage.
func pipelines(won string) []crm.Pipeline {
	return []crm.Pipeline{
		{ID: "default", Label: "Sales", Stages: []crm.Stage{
			{ID: "appointmentscheduled", Label: "Appointment Scheduled", DisplayOrder: 0},
			{ID: "closedwon", Label: won, DisplayOrder: 1, Closed: true},
		}},
		{ID: "77", Label: "Renewals", Stages: []crm.Stage{{ID: "101", Label: "Negotiation"}}},
	}
}

type env struct {
	url   string
	store *store.Store
	clock *clock
	fetch *fetcher
	cache *refdata.Cache
}

// setup gives a test its own schema, a store on it, a fake clock at t0, a fetcher and a
// cache with the default options.
func setup(t *testing.T) *env {
	t.Helper()
	url := pgtest.Schema(t)
	e := &env{url: url, store: openStore(t, url), clock: &clock{now: t0}, fetch: newFetcher()}
	e.cache = e.newCache(t, e.store, refdata.Options{})
	return e
}

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	return s
}

// newCache is another process's cache: no copies in memory, the same clock and CRM.
func (e *env) newCache(t *testing.T, s *store.Store, opts refdata.Options) *refdata.Cache {
	t.Helper()
	opts.Store, opts.Fetcher, opts.Now = s, e.fetch, e.clock.Now
	c, err := refdata.New(opts)
	require.NoError(t, err)
	return c
}

// firstOwner reads the owners through c and returns the first one's first name.
func firstOwner(t *testing.T, c *refdata.Cache) (string, refdata.Info) {
	t.Helper()
	var got []crm.Owner
	info, err := c.Get(t.Context(), integ, refdata.KindOwners, "", &got)
	require.NoError(t, err)
	require.Len(t, got, 3)
	return got[0].FirstName, info
}

func TestDefaultTTLs(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Hour, refdata.DefaultOwnersTTL)
	require.Equal(t, time.Hour, refdata.DefaultPipelinesTTL)
	require.Equal(t, 6*time.Hour, refdata.DefaultPropertiesTTL)
}

func TestFreshCopyMakesNoFetcherCall(t *testing.T) {
	t.Parallel()
	e := setup(t)

	name, info := firstOwner(t, e.cache)
	require.Equal(t, "Ada", name)
	require.Equal(t, refdata.Info{FetchedAt: t0, Refreshed: true}, info)
	require.Equal(t, 1, e.fetch.count(refdata.KindOwners))

	e.clock.Advance(59 * time.Minute)
	e.fetch.set(func(f *fetcher) { f.owners = owners("Changed") })
	name, info = firstOwner(t, e.cache)
	require.Equal(t, "Ada", name, "a fresh copy is served from the cache")
	require.Equal(t, refdata.Info{FetchedAt: t0}, info)

	// Another worker, nothing in memory: the copy in PostgreSQL is fresh too.
	other := e.newCache(t, openStore(t, e.url), refdata.Options{})
	name, info = firstOwner(t, other)
	require.Equal(t, "Ada", name)
	require.Equal(t, refdata.Info{FetchedAt: t0}, info)

	require.Equal(t, 1, e.fetch.count(refdata.KindOwners), "no fetcher call on a fresh copy")
	require.Equal(t, refdata.Stats{Hits: 1, Misses: 1, Refreshes: 1, FetcherCalls: 1}, e.cache.Stats())
	require.Equal(t, refdata.Stats{Hits: 1}, other.Stats())
}

func TestStaleCopyIsRefreshedOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	firstOwner(t, e.cache)

	e.fetch.set(func(f *fetcher) { f.owners = owners("Ava") })
	e.clock.Advance(time.Hour)
	name, info := firstOwner(t, e.cache)
	require.Equal(t, "Ava", name)
	require.Equal(t, refdata.Info{FetchedAt: t0.Add(time.Hour), Refreshed: true}, info)

	name, info = firstOwner(t, e.cache)
	require.Equal(t, "Ava", name)
	require.Equal(t, refdata.Info{FetchedAt: t0.Add(time.Hour)}, info)
	other := e.newCache(t, e.store, refdata.Options{})
	name, _ = firstOwner(t, other)
	require.Equal(t, "Ava", name, "the refreshed copy is shared through PostgreSQL")

	require.Equal(t, 2, e.fetch.count(refdata.KindOwners))
	require.Equal(t, refdata.Stats{Hits: 1, Misses: 2, Refreshes: 2, FetcherCalls: 2}, e.cache.Stats())
}

func TestTTLIsPerKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts refdata.Options
		kind string
		obj  crm.Object
		ttl  time.Duration
	}{
		{name: "owners default", kind: refdata.KindOwners, ttl: time.Hour},
		{name: "pipelines default", kind: refdata.KindPipelines, obj: crm.Deals, ttl: time.Hour},
		{name: "properties default", kind: refdata.KindProperties, obj: crm.Contacts, ttl: 6 * time.Hour},
		{name: "owners configured", opts: refdata.Options{OwnersTTL: 5 * time.Minute}, kind: refdata.KindOwners, ttl: 5 * time.Minute},
		{name: "properties configured", opts: refdata.Options{PropertiesTTL: 24 * time.Hour}, kind: refdata.KindProperties,
			obj: crm.Deals, ttl: 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			c := e.newCache(t, e.store, tc.opts)
			require.Equal(t, tc.ttl, c.TTL(tc.kind))
			get := func(c *refdata.Cache) refdata.Info {
				var out json.RawMessage
				info, err := c.Get(t.Context(), integ, tc.kind, tc.obj, &out)
				require.NoError(t, err)
				require.NotEmpty(t, out)
				return info
			}
			get(c)
			require.Equal(t, 1, e.fetch.count(tc.kind))

			e.clock.Advance(tc.ttl - time.Second)
			require.False(t, get(c).Refreshed, "fresh in memory just before the TTL")
			require.False(t, get(e.newCache(t, e.store, tc.opts)).Refreshed, "fresh in PostgreSQL just before the TTL")
			require.Equal(t, 1, e.fetch.count(tc.kind))

			e.clock.Advance(time.Second)
			info := get(c)
			require.True(t, info.Refreshed, "stale at the TTL")
			require.Equal(t, t0.Add(tc.ttl), info.FetchedAt)
			require.Equal(t, 2, e.fetch.count(tc.kind))
		})
	}
}

// result is what one concurrent look-up got.
type result struct {
	name string
	info refdata.Info
	err  error
}

// lookUps starts n look-ups of the owners, alternating between the caches.
func lookUps(t *testing.T, n int, caches ...*refdata.Cache) <-chan result {
	out := make(chan result, n)
	for i := range n {
		c := caches[i%len(caches)]
		go func() {
			var got []crm.Owner
			info, err := c.Get(t.Context(), integ, refdata.KindOwners, "", &got)
			r := result{info: info, err: err}
			if len(got) > 0 {
				r.name = got[0].FirstName
			}
			out <- r
		}()
	}
	return out
}

func receive(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("a look-up did not return")
		return result{}
	}
}

func waitEntered(t *testing.T, f *fetcher) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the fetcher was not called")
	}
}

func sumStats(caches ...*refdata.Cache) refdata.Stats {
	var s refdata.Stats
	for _, c := range caches {
		cs := c.Stats()
		s.Hits += cs.Hits
		s.Misses += cs.Misses
		s.StaleServed += cs.StaleServed
		s.Refreshes += cs.Refreshes
		s.FetcherCalls += cs.FetcherCalls
		s.FetchErrors += cs.FetchErrors
	}
	return s
}

// Two caches on two pools stand for two workers.
func TestStaleCopyHasOneRefresherAcrossWorkers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	firstOwner(t, e.cache)
	<-e.fetch.entered
	a := e.newCache(t, e.store, refdata.Options{})
	b := e.newCache(t, openStore(t, e.url), refdata.Options{})
	e.fetch.set(func(f *fetcher) { f.owners = owners("Ava") })
	e.clock.Advance(2 * time.Hour)
	release := e.fetch.hold(t)

	const n = 16
	results := lookUps(t, n, a, b)
	waitEntered(t, e.fetch)
	// While the one refresher is held inside the fetcher, every other look-up returns at
	// once with the stale copy.
	for range n - 1 {
		r := receive(t, results)
		require.NoError(t, r.err)
		require.Equal(t, "Ada", r.name)
		require.Equal(t, refdata.Info{FetchedAt: t0, Stale: true}, r.info)
	}
	refreshing, err := e.store.ReferenceRefreshing(t.Context(), store.ReferenceKey{Integration: integ, Kind: refdata.KindOwners})
	require.NoError(t, err)
	require.Equal(t, store.ReferenceRefresh{Holders: 1}, refreshing)
	release()
	r := receive(t, results)
	require.NoError(t, r.err)
	require.Equal(t, "Ava", r.name)
	require.Equal(t, refdata.Info{FetchedAt: t0.Add(2 * time.Hour), Refreshed: true}, r.info)

	require.Equal(t, 2, e.fetch.count(refdata.KindOwners), "one call to fill, exactly one to refresh")
	require.Equal(t, refdata.Stats{Misses: n, StaleServed: n - 1, Refreshes: 1, FetcherCalls: 1}, sumStats(a, b))

	// Once the stale copy's recheck is due, both workers read the refreshed copy.
	e.clock.Advance(refdata.DefaultRecheck)
	for _, c := range []*refdata.Cache{a, b} {
		name, info := firstOwner(t, c)
		require.Equal(t, "Ava", name)
		require.False(t, info.Stale)
	}
	require.Equal(t, 2, e.fetch.count(refdata.KindOwners))
}

func TestMissingCopyWaitsForTheOneRefresher(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.cache
	b := e.newCache(t, openStore(t, e.url), refdata.Options{})
	release := e.fetch.hold(t)

	const n = 8
	results := lookUps(t, n, a, b)
	waitEntered(t, e.fetch)
	// Nothing to serve: the others wait for the refresher inside PostgreSQL.
	k := store.ReferenceKey{Integration: integ, Kind: refdata.KindOwners}
	require.Eventually(t, func() bool {
		r, err := e.store.ReferenceRefreshing(t.Context(), k)
		return err == nil && r == store.ReferenceRefresh{Holders: 1, Waiters: n - 1}
	}, 20*time.Second, 5*time.Millisecond, "the other look-ups wait for the refresh")
	release()
	refreshed := 0
	for range n {
		r := receive(t, results)
		require.NoError(t, r.err)
		require.Equal(t, "Ada", r.name)
		require.Equal(t, t0, r.info.FetchedAt)
		require.False(t, r.info.Stale)
		if r.info.Refreshed {
			refreshed++
		}
	}
	require.Equal(t, 1, refreshed)
	require.Equal(t, 1, e.fetch.count(refdata.KindOwners), "the waiters use the refresher's copy")
	require.Equal(t, refdata.Stats{Misses: n, Refreshes: 1, FetcherCalls: 1}, sumStats(a, b))
}

func TestMissingCopyWaitIsBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.newCache(t, openStore(t, e.url), refdata.Options{Wait: 200 * time.Millisecond})
	release := e.fetch.hold(t)
	first := lookUps(t, 1, e.cache)
	waitEntered(t, e.fetch)

	var got []crm.Owner
	_, err := b.Get(t.Context(), integ, refdata.KindOwners, "", &got)
	require.ErrorIs(t, err, refdata.ErrBusy)
	require.Empty(t, got)

	release()
	r := receive(t, first)
	require.NoError(t, r.err)
	require.Equal(t, "Ada", r.name)
	require.Equal(t, 1, e.fetch.count(refdata.KindOwners))
}

var errCRMDown = errors.New("crm is down")

func TestFetchErrorKeepsTheStaleCopy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	firstOwner(t, e.cache)
	e.clock.Advance(2 * time.Hour)
	e.fetch.set(func(f *fetcher) { f.err = errCRMDown })

	name, info := firstOwner(t, e.cache)
	require.Equal(t, "Ada", name)
	require.True(t, info.Stale)
	require.False(t, info.Refreshed)
	require.Equal(t, t0, info.FetchedAt)
	require.ErrorIs(t, info.RefreshErr, errCRMDown)
	require.Equal(t, 2, e.fetch.count(refdata.KindOwners))

	// Within RetryAfter this process does not ask again, and keeps reporting why.
	e.clock.Advance(refdata.DefaultRetryAfter - time.Second)
	name, info = firstOwner(t, e.cache)
	require.Equal(t, "Ada", name)
	require.ErrorIs(t, info.RefreshErr, errCRMDown)
	require.Equal(t, 2, e.fetch.count(refdata.KindOwners))
	require.Equal(t, refdata.Stats{Misses: 3, StaleServed: 2, Refreshes: 1, FetcherCalls: 2, FetchErrors: 1}, e.cache.Stats())

	// The stored copy is untouched.
	ref, found, err := e.store.LoadReference(t.Context(), store.ReferenceKey{Integration: integ, Kind: refdata.KindOwners})
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, t0, ref.FetchedAt)

	// Once the CRM answers again, the next try after RetryAfter refreshes.
	e.fetch.set(func(f *fetcher) { f.err, f.owners = nil, owners("Ava") })
	e.clock.Advance(time.Second)
	name, info = firstOwner(t, e.cache)
	require.Equal(t, "Ava", name)
	require.True(t, info.Refreshed)
	require.NoError(t, info.RefreshErr)
	require.Equal(t, 3, e.fetch.count(refdata.KindOwners))
}

func TestFetchErrorWithNothingCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		kind    string
		obj     crm.Object
		set     func(f *fetcher)
		wantErr error
		wantMsg string
	}{
		{name: "fetcher error is returned as is", kind: refdata.KindPipelines, obj: crm.Deals,
			set: func(f *fetcher) { f.err = errCRMDown }, wantErr: errCRMDown},
		{name: "no properties is an error", kind: refdata.KindProperties, obj: crm.Contacts,
			set: func(f *fetcher) { f.props = nil }, wantMsg: "reading acme contacts properties: the CRM returned none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.fetch.set(tc.set)
			var out json.RawMessage
			_, err := e.cache.Get(t.Context(), integ, tc.kind, tc.obj, &out)
			if tc.wantErr != nil {
				require.Equal(t, tc.wantErr, err, "unwrapped, so that the activity's classification survives")
			} else {
				require.EqualError(t, err, tc.wantMsg)
			}
			require.Empty(t, out)
			_, found, err := e.store.LoadReference(t.Context(), store.ReferenceKey{Integration: integ, Kind: tc.kind, Object: tc.obj})
			require.NoError(t, err)
			require.False(t, found)
			require.Equal(t, refdata.Stats{Misses: 1, FetcherCalls: 1, FetchErrors: 1}, e.cache.Stats())
		})
	}
}

func TestUnknownKind(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var out json.RawMessage
	_, err := e.cache.Get(t.Context(), integ, "teams", "", &out)
	require.EqualError(t, err, `refdata: unknown kind of reference data "teams"`)
	require.Equal(t, refdata.Stats{}, e.cache.Stats())
}

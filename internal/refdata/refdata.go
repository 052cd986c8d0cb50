// Package refdata caches a CRM's reference data (owners, pipelines with their stages,
// property definitions) in PostgreSQL for every worker, each kind trusted for its own TTL,
// and resolves the owner and stage labels records refer to without calling the CRM while
// the cached copy is fresh.
//
// A stale or missing copy is refreshed by one caller at a time across the whole fleet,
// under a PostgreSQL advisory lock (store.RefreshReference); the other callers keep using
// the stale copy meanwhile, or, when nothing is cached yet, wait a bounded time for the
// refresher's copy. The cache never calls the CRM itself: it asks a Fetcher, which the
// activities implement with CRM calls under their quota accounting.
package refdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// The kinds of reference data the cache holds, as stored in reference_data.kind.
const (
	// KindOwners is the account's owners ([]crm.Owner). They belong to no object type: look
	// them up with object "".
	KindOwners = store.RefOwners
	// KindPipelines is an object type's pipelines with their stages ([]crm.Pipeline).
	KindPipelines = store.RefPipelines
	// KindProperties is an object type's property definitions ([]crm.Property).
	KindProperties = store.RefProperties
)

// Default TTLs: how long a fetched copy of each kind is used without asking the CRM again.
// Owners and pipelines change when people are hired or a sales process is edited, and a
// label an hour out of date is harmless; property definitions change rarely, and a refresh
// of each object type's list is a CRM call per object.
const (
	DefaultOwnersTTL     = time.Hour
	DefaultPipelinesTTL  = time.Hour
	DefaultPropertiesTTL = 6 * time.Hour
)

// Defaults of the other Options.
const (
	// DefaultWait bounds how long a look-up with nothing cached waits for another caller's
	// refresh: long enough for a paged owners fetch under a busy quota, short enough to stay
	// well inside an activity's timeout.
	DefaultWait = 30 * time.Second
	// DefaultRetryAfter is how long a process that failed to refresh a copy serves the stale
	// copy before it tries again, so that a failing CRM endpoint costs each worker one call
	// per interval rather than one per look-up.
	DefaultRetryAfter = time.Minute
	// DefaultRecheck is how long a process serves a stale copy from memory, while another
	// worker refreshes it, before reading PostgreSQL again for the refreshed one.
	DefaultRecheck = time.Second
)

// ErrBusy means nothing was cached and another caller's refresh did not finish within the
// wait. Nothing failed: a retry a little later finds the refreshed copy.
var ErrBusy = errors.New("reference data is being refreshed by another worker")

// Fetcher reads reference data from the CRM. The activities implement it, each method with
// its CRM calls made and accounted under the quota; the cache calls it only from the one
// caller that holds a copy's refresh lock. Its errors reach the caller of the look-up that
// found nothing cached unwrapped, with the classification the fetcher gave them.
type Fetcher interface {
	// FetchOwners reads every owner of the integration's account, all pages.
	FetchOwners(ctx context.Context, integration string) ([]crm.Owner, error)
	// FetchPipelines reads an object type's pipelines with their stages.
	FetchPipelines(ctx context.Context, integration string, obj crm.Object) ([]crm.Pipeline, error)
	// FetchProperties reads an object type's property definitions.
	FetchProperties(ctx context.Context, integration string, obj crm.Object) ([]crm.Property, error)
}

// Options configures New. Zero durations take their defaults.
type Options struct {
	Store   *store.Store
	Fetcher Fetcher
	Logger  *zap.Logger
	// Now is the clock that ages copies (default time.Now). Copies are stamped with it
	// when fetched, so workers need clocks agreeing to well within a TTL.
	Now func() time.Time

	OwnersTTL, PipelinesTTL, PropertiesTTL time.Duration
	// Wait, RetryAfter and Recheck: see DefaultWait, DefaultRetryAfter and DefaultRecheck.
	Wait, RetryAfter, Recheck time.Duration
}

// Cache is the fleet-wide reference data cache, as seen from one process. It is safe for
// concurrent use; build one per process and share it.
type Cache struct {
	store   *store.Store
	fetcher Fetcher
	log     *zap.Logger
	now     func() time.Time
	ttl     map[string]time.Duration
	wait    time.Duration
	retry   time.Duration
	recheck time.Duration

	mu sync.Mutex
	// held are this process's copies, used without reading PostgreSQL until their until.
	held map[store.ReferenceKey]heldCopy
	// failed is this process's last failed refresh of each key, until it succeeds.
	failed map[store.ReferenceKey]failure

	hits, misses, staleServed, refreshes, fetcherCalls, fetchErrors atomic.Int64
}

type heldCopy struct {
	ref   store.Reference
	until time.Time
}

type failure struct {
	at  time.Time
	err error
}

// New builds a cache.
func New(opts Options) (*Cache, error) {
	if opts.Store == nil {
		return nil, errors.New("refdata: a store is required")
	}
	if opts.Fetcher == nil {
		return nil, errors.New("refdata: a fetcher is required")
	}
	orDefault := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	c := &Cache{
		store:   opts.Store,
		fetcher: opts.Fetcher,
		log:     opts.Logger,
		now:     opts.Now,
		ttl: map[string]time.Duration{
			KindOwners:     orDefault(opts.OwnersTTL, DefaultOwnersTTL),
			KindPipelines:  orDefault(opts.PipelinesTTL, DefaultPipelinesTTL),
			KindProperties: orDefault(opts.PropertiesTTL, DefaultPropertiesTTL),
		},
		wait:    orDefault(opts.Wait, DefaultWait),
		retry:   orDefault(opts.RetryAfter, DefaultRetryAfter),
		recheck: orDefault(opts.Recheck, DefaultRecheck),
		held:    map[store.ReferenceKey]heldCopy{},
		failed:  map[store.ReferenceKey]failure{},
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// TTL is how long a copy of kind is trusted; 0 for a kind the cache does not hold.
func (c *Cache) TTL(kind string) time.Duration { return c.ttl[kind] }

// Info describes the copy a look-up answered with.
type Info struct {
	// FetchedAt is when the copy was fetched from the CRM.
	FetchedAt time.Time
	// Stale reports that the copy is older than its TTL: another caller was refreshing it,
	// or the refresh failed (RefreshErr).
	Stale bool
	// Refreshed reports that this look-up fetched the copy from the CRM.
	Refreshed bool
	// RefreshErr is why the stale copy could not be refreshed, by this look-up or by an
	// earlier one in this process less than RetryAfter ago.
	RefreshErr error
}

// Stats counts what the cache did, for benchmarks and metrics.
type Stats struct {
	// Hits counts look-ups answered with a fresh copy, from memory or from PostgreSQL.
	Hits int64
	// Misses counts look-ups that found no fresh copy (stale or missing).
	Misses int64
	// StaleServed counts misses answered with the stale copy.
	StaleServed int64
	// Refreshes counts copies this process fetched and stored.
	Refreshes int64
	// FetcherCalls counts calls to the Fetcher; FetchErrors those that failed.
	FetcherCalls, FetchErrors int64
}

// Stats returns the counters so far.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:         c.hits.Load(),
		Misses:       c.misses.Load(),
		StaleServed:  c.staleServed.Load(),
		Refreshes:    c.refreshes.Load(),
		FetcherCalls: c.fetcherCalls.Load(),
		FetchErrors:  c.fetchErrors.Load(),
	}
}

// Get decodes the integration's reference data of kind (KindOwners with obj "") into out.
// A fresh copy is served without calling the Fetcher. A stale or missing one is refreshed
// by this call if no other caller, in any worker, is refreshing it; otherwise a stale copy
// is served as it is (Info.Stale), and with nothing cached Get waits up to Options.Wait for
// the other caller's copy, then fails with ErrBusy. A failed refresh also serves the stale
// copy, reporting the failure in Info.RefreshErr; with nothing cached it returns the
// Fetcher's error.
func (c *Cache) Get(ctx context.Context, integration, kind string, obj crm.Object, out any) (Info, error) {
	data, info, err := c.load(ctx, integration, kind, obj)
	if err != nil {
		return Info{}, err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return Info{}, fmt.Errorf("decoding %s: %w", key(integration, kind, obj), err)
	}
	return info, nil
}

func key(integration, kind string, obj crm.Object) store.ReferenceKey {
	if kind == KindOwners {
		obj = ""
	}
	return store.ReferenceKey{Integration: integration, Kind: kind, Object: obj}
}

// load is Get without the decoding, so that the Resolver can keep what it decoded for as
// long as the copy is the same. The bytes are shared: callers must not modify them.
func (c *Cache) load(ctx context.Context, integration, kind string, obj crm.Object) (json.RawMessage, Info, error) {
	ttl, ok := c.ttl[kind]
	if !ok {
		return nil, Info{}, fmt.Errorf("refdata: unknown kind of reference data %q", kind)
	}
	k := key(integration, kind, obj)
	now := c.now()
	fresh := func(r store.Reference) bool { return now.Sub(r.FetchedAt) < ttl }

	c.mu.Lock()
	h, ok := c.held[k]
	f, failed := c.failed[k]
	c.mu.Unlock()
	if ok && now.Before(h.until) {
		if fresh(h.ref) {
			c.hits.Add(1)
			return h.ref.Data, Info{FetchedAt: h.ref.FetchedAt}, nil
		}
		c.misses.Add(1)
		c.staleServed.Add(1)
		return h.ref.Data, Info{FetchedAt: h.ref.FetchedAt, Stale: true, RefreshErr: f.err}, nil
	}

	stored, found, err := c.store.LoadReference(ctx, k)
	if err != nil {
		return nil, Info{}, err
	}
	if found && fresh(stored) {
		c.hits.Add(1)
		c.keep(k, stored, stored.FetchedAt.Add(ttl))
		return stored.Data, Info{FetchedAt: stored.FetchedAt}, nil
	}
	c.misses.Add(1)
	if found && failed && now.Sub(f.at) < c.retry {
		c.staleServed.Add(1)
		c.keep(k, stored, f.at.Add(c.retry))
		return stored.Data, Info{FetchedAt: stored.FetchedAt, Stale: true, RefreshErr: f.err}, nil
	}

	// A stale copy only tries the lock: whoever holds it is already refreshing, and the
	// stale copy serves meanwhile. With nothing to serve, wait for the holder's copy.
	wait := time.Duration(0)
	if !found {
		wait = c.wait
	}
	var fetchErr error
	fetched := false
	ref, ok, err := c.store.RefreshReference(ctx, k, wait, func(ctx context.Context, current store.Reference, found bool) (store.Reference, bool, error) {
		// The clock is read again: the lock may have been waited for.
		now := c.now()
		if found && now.Sub(current.FetchedAt) < ttl {
			// Refreshed by the caller that held the lock before us.
			return current, false, nil
		}
		data, err := c.fetch(ctx, k)
		if err != nil {
			fetchErr = err
			return store.Reference{}, false, err
		}
		fetched = true
		return store.Reference{Data: data, FetchedAt: now}, true, nil
	})
	switch {
	case errors.Is(err, store.ErrReferenceBusy) && found:
		c.staleServed.Add(1)
		c.keep(k, stored, now.Add(c.recheck))
		return stored.Data, Info{FetchedAt: stored.FetchedAt, Stale: true}, nil
	case errors.Is(err, store.ErrReferenceBusy):
		return nil, Info{}, fmt.Errorf("reading %s: waited %s: %w", k, wait, ErrBusy)
	case err != nil && ctx.Err() != nil:
		// The caller gave up: no failure of the CRM to remember or report.
		return nil, Info{}, err
	case err != nil && fetchErr != nil:
		c.mu.Lock()
		c.failed[k] = failure{at: now, err: fetchErr}
		c.mu.Unlock()
		if !found {
			return nil, Info{}, fetchErr
		}
		c.log.Warn("refreshing reference data failed; serving the stale copy",
			zap.String("integration", k.Integration), zap.String("kind", k.Kind), zap.String("object", string(k.Object)),
			zap.Time("fetched_at", stored.FetchedAt), zap.Error(fetchErr))
		c.staleServed.Add(1)
		c.keep(k, stored, now.Add(c.retry))
		return stored.Data, Info{FetchedAt: stored.FetchedAt, Stale: true, RefreshErr: fetchErr}, nil
	case err != nil:
		return nil, Info{}, err
	case !ok:
		// Unreachable: with nothing stored the refresh either stores a copy or fails.
		return nil, Info{}, fmt.Errorf("refreshing %s: nothing stored", k)
	}
	c.mu.Lock()
	delete(c.failed, k)
	c.mu.Unlock()
	if fetched {
		c.refreshes.Add(1)
	}
	c.keep(k, ref, ref.FetchedAt.Add(ttl))
	return ref.Data, Info{FetchedAt: ref.FetchedAt, Refreshed: fetched, Stale: !fresh(ref)}, nil
}

// keep remembers a copy in memory until until.
func (c *Cache) keep(k store.ReferenceKey, ref store.Reference, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held[k] = heldCopy{ref: ref, until: until}
}

// fetch asks the Fetcher for k and encodes the answer as it is stored: the crm types'
// JSON, which the views of migration 0005 read.
func (c *Cache) fetch(ctx context.Context, k store.ReferenceKey) (json.RawMessage, error) {
	c.fetcherCalls.Add(1)
	var v any
	var err error
	switch k.Kind {
	case KindOwners:
		var owners []crm.Owner
		owners, err = c.fetcher.FetchOwners(ctx, k.Integration)
		v = uniqueOwners(owners)
	case KindPipelines:
		var pipelines []crm.Pipeline
		pipelines, err = c.fetcher.FetchPipelines(ctx, k.Integration, k.Object)
		if pipelines == nil {
			pipelines = []crm.Pipeline{}
		}
		v = pipelines
	case KindProperties:
		var props []crm.Property
		props, err = c.fetcher.FetchProperties(ctx, k.Integration, k.Object)
		if err == nil && len(props) == 0 {
			// Every object has properties; an empty list would make syncs request none.
			err = fmt.Errorf("reading %s: the CRM returned none", k)
		}
		v = props
	}
	if err != nil {
		c.fetchErrors.Add(1)
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", k, err)
	}
	return b, nil
}

// uniqueOwners drops repeated ids, keeping the last copy: an owner added while the pages
// were read can shift a page boundary and appear twice.
func uniqueOwners(owners []crm.Owner) []crm.Owner {
	out := make([]crm.Owner, 0, len(owners))
	at := make(map[string]int, len(owners))
	for _, o := range owners {
		if i, dup := at[o.ID]; dup {
			out[i] = o
			continue
		}
		at[o.ID] = len(out)
		out = append(out, o)
	}
	return out
}

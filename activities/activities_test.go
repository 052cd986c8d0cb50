package activities_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
)

type world struct {
	sim   *crmsim.Sim
	store *store.Store
	acts  *activities.Activities
	ref   activities.StreamRef
}

func setup(t *testing.T, simOpts crmsim.Options, token string) *world {
	t.Helper()
	w, _ := newWorld(t, simOpts, token, nil)
	return w
}

// newWorld is a simulator, a store and the activities of one HubSpot integration "acme"
// reaching the simulator with token; edit, when set, changes the integration's config and
// the activities' options before they are built.
func newWorld(t *testing.T, simOpts crmsim.Options, token string, edit func(*config.Integration, *activities.Options)) (*world, *hubspot.Client) {
	t.Helper()
	simOpts.Tokens = []string{"good-token"}
	sim, err := crmsim.New(simOpts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	st, err := store.Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	conn, err := hubspot.New(hubspot.Options{BaseURL: srv.URL, Token: token})
	require.NoError(t, err)
	cfg := config.Integration{ID: "acme", Provider: "hubspot", Objects: crm.Objects, Delta: config.Delta{Lag: config.Duration(time.Minute)},
		Quota: config.Quota{RequestsPer10s: 1000, SearchPerSecond: 100, Daily: 1_000_000}}
	opts := activities.Options{Store: st, MaxSlotWait: time.Millisecond}
	if edit != nil {
		edit(&cfg, &opts)
	}
	opts.Integrations = []*activities.Integration{{Config: cfg, Connector: conn, Credential: "cred-" + token}}
	acts, err := activities.New(opts)
	require.NoError(t, err)
	return &world{sim: sim, store: st, acts: acts, ref: activities.StreamRef{Integration: "acme", Object: crm.Contacts}}, conn
}

// appError unwraps the Temporal application error an activity returned.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an application error, got %T: %v", err, err)
	return ae
}

func TestBackfillPageStoresThePageWithItsPosition(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 1, Contacts: 250, Companies: 5, Deals: 5}, "good-token")
	ctx := t.Context()
	_, err := w.acts.BeginBackfill(ctx, activities.BeginBackfillInput{StreamRef: w.ref})
	require.NoError(t, err)
	stale, err := w.acts.PropertiesStale(ctx, w.ref)
	require.NoError(t, err)
	require.True(t, stale, "no property list yet")
	props, err := w.acts.RefreshProperties(ctx, w.ref)
	require.NoError(t, err)
	require.Positive(t, props.Count)
	stale, err = w.acts.PropertiesStale(ctx, w.ref)
	require.NoError(t, err)
	require.False(t, stale)

	p1, err := w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref})
	require.NoError(t, err)
	require.Equal(t, 100, p1.Fetched)
	require.Equal(t, 100, p1.Written)
	require.NotEmpty(t, p1.Next)
	require.Equal(t, 100-3, p1.Remaining, "window quota left after the properties and owners calls and one list call")

	// The same page again (a retry after a crash) writes nothing new and keeps the position.
	again, err := w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref})
	require.NoError(t, err)
	require.Zero(t, again.Written)

	p2, err := w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref, Position: p1.Next})
	require.NoError(t, err)
	_, err = w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref, Position: p2.Next})
	require.NoError(t, err)

	// A late attempt of page 1 finds the stream elsewhere: it fails for good, writing nothing.
	_, err = w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref, Position: ""})
	ae := appError(t, err)
	require.Equal(t, activities.ErrTypeCursorConflict, ae.Type())
	require.True(t, ae.NonRetryable())

	counts, err := w.store.Count(ctx, "acme", crm.Contacts)
	require.NoError(t, err)
	require.EqualValues(t, 250, counts.Live)
}

func TestA429HoldsBackEveryCallOfTheCredential(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 2, Contacts: 500, Companies: 5, Deals: 5}, "good-token")
	ctx := t.Context()
	_, err := w.acts.BeginBackfill(ctx, activities.BeginBackfillInput{StreamRef: w.ref})
	require.NoError(t, err)
	_, err = w.acts.RefreshProperties(ctx, w.ref)
	require.NoError(t, err)
	w.sim.InjectFault(crmsim.Fault{Endpoint: "list contacts", Kind: crmsim.Fault429TenSecondly, Count: 1})

	_, err = w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref})
	ae := appError(t, err)
	require.Equal(t, activities.ErrTypeRateLimited, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Equal(t, 10*time.Second, ae.NextRetryDelay(), "wait the window HubSpot's headers give")

	// Every other call of the credential waits too, in any worker (the wait is in the shared
	// ledger), without reaching the CRM.
	calls := w.sim.Stats().Total
	_, err = w.acts.ArchivedPage(ctx, activities.ArchivedPageInput{StreamRef: w.ref})
	ae = appError(t, err)
	require.Equal(t, activities.ErrTypeRateLimited, ae.Type())
	require.Contains(t, ae.Error(), "429 TEN_SECONDLY_ROLLING")
	require.Greater(t, ae.NextRetryDelay(), 9*time.Second)
	require.Equal(t, calls, w.sim.Stats().Total, "a call reached the CRM before the told wait had passed")
	require.Zero(t, w.sim.Stats().Early)
}

func TestTheCRMsOwnAllowanceWinsOverTheConfig(t *testing.T) {
	t.Parallel()
	// The config says 1,000 per 10 s; the CRM's headers say 3.
	w := setup(t, crmsim.Options{Seed: 2, Contacts: 500, Companies: 5, Deals: 5, TenSecondLimit: 3}, "good-token")
	ctx := t.Context()
	_, err := w.acts.BeginBackfill(ctx, activities.BeginBackfillInput{StreamRef: w.ref})
	require.NoError(t, err)
	// Two calls: the properties, whose answer gives the CRM's allowance, and the owners.
	_, err = w.acts.RefreshProperties(ctx, w.ref)
	require.NoError(t, err)
	_, err = w.acts.BackfillPage(ctx, activities.BackfillPageInput{StreamRef: w.ref})
	ae := appError(t, err)
	require.Equal(t, activities.ErrTypeRateLimited, ae.Type())
	require.Contains(t, ae.Error(), "window is full")
	st := w.sim.Stats()
	require.Equal(t, 2, st.Total, "the third call would have been a 429: it was never sent")
	require.Zero(t, st.RateLimited)
}

func TestRejectedCredentialIsNotRetried(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 3, Contacts: 10, Companies: 5, Deals: 5}, "revoked-token")
	_, err := w.acts.RefreshProperties(t.Context(), w.ref)
	ae := appError(t, err)
	require.Equal(t, activities.ErrTypeUnauthorized, ae.Type())
	require.True(t, ae.NonRetryable())
	require.NotContains(t, ae.Error(), "revoked-token")
}

func TestUnknownIntegrationOrObject(t *testing.T) {
	t.Parallel()
	w := setup(t, crmsim.Options{Seed: 4, Contacts: 10, Companies: 5, Deals: 5}, "good-token")
	unknown := activities.StreamRef{Integration: "nobody", Object: crm.Contacts}

	// Regular activities run on the integration's own queue: a worker there without it is
	// misconfigured, and retrying cannot help.
	_, err := w.acts.BackfillPage(t.Context(), activities.BackfillPageInput{StreamRef: unknown})
	require.True(t, appError(t, err).NonRetryable())

	// Local activities run on any workflow worker, which may predate the integration.
	_, err = w.acts.BeginDelta(t.Context(), unknown)
	ae := appError(t, err)
	require.False(t, ae.NonRetryable())
	require.Contains(t, ae.Error(), "same config")
}

func TestFailuresAreClassifiedWhereTheyHappen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantType  string
		permanent bool
		delay     time.Duration // exact NextRetryDelay, or 0 for "some jittered backoff"
	}{
		{name: "401", err: &crm.APIError{Kind: crm.KindUnauthorized, Status: 401}, wantType: activities.ErrTypeUnauthorized, permanent: true},
		{name: "400", err: &crm.APIError{Kind: crm.KindInvalid, Status: 400}, wantType: activities.ErrTypeInvalidRequest, permanent: true},
		{name: "429 window", err: &crm.APIError{Kind: crm.KindRateLimited, Status: 429, Policy: crm.PolicyWindow, RetryAfter: 10 * time.Second},
			wantType: activities.ErrTypeRateLimited, delay: 10 * time.Second},
		{name: "429 with Retry-After", err: &crm.APIError{Kind: crm.KindRateLimited, Status: 429, RetryAfter: 1500 * time.Millisecond},
			wantType: activities.ErrTypeRateLimited, delay: 1500 * time.Millisecond},
		{name: "429 daily", err: &crm.APIError{Kind: crm.KindRateLimited, Status: 429, Policy: crm.PolicyDaily},
			wantType: activities.ErrTypeQuotaPause, permanent: true},
		{name: "503", err: &crm.APIError{Kind: crm.KindUnavailable, Status: 503}, wantType: activities.ErrTypeUnavailable},
		{name: "503 with Retry-After", err: &crm.APIError{Kind: crm.KindUnavailable, Status: 503, RetryAfter: 5 * time.Minute},
			wantType: activities.ErrTypeUnavailable, delay: 5 * time.Minute},
		{name: "truncated JSON", err: &crm.APIError{Kind: crm.KindBadResponse, Status: 200}, wantType: activities.ErrTypeUnavailable},
		{name: "timeout", err: fmt.Errorf("GET x: %w", context.DeadlineExceeded), wantType: activities.ErrTypeUnavailable},
		{name: "cursor moved", err: fmt.Errorf("writing: %w", store.ErrCursorMoved), wantType: activities.ErrTypeCursorConflict, permanent: true},
		{name: "PostgreSQL data error", err: &pgconn.PgError{Code: "22P02", Message: "invalid input"}, wantType: activities.ErrTypeDatabase, permanent: true},
		{name: "PostgreSQL shutting down", err: &pgconn.PgError{Code: "57P01", Message: "terminating connection"}, wantType: activities.ErrTypeDatabase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ae := appError(t, activities.Classify(t.Context(), "op", tc.err))
			require.Equal(t, tc.wantType, ae.Type())
			require.Equal(t, tc.permanent, ae.NonRetryable())
			switch {
			case tc.permanent:
			case tc.delay > 0:
				require.Equal(t, tc.delay, ae.NextRetryDelay())
			default:
				require.Positive(t, ae.NextRetryDelay())
				require.LessOrEqual(t, ae.NextRetryDelay(), 2*time.Minute+time.Millisecond, "full jitter under the cap")
			}
		})
	}
}

// clock is a settable clock shared by the simulator and the activities.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// The daily budget: once the CRM reports no more than the reserve left today, every call of
// the credential pauses until the day resets (which the CRM's usage report says), without
// another call reaching the CRM or a single 429, and calls go again once it has reset.
func TestDailyReservePausesCallsUntilTheDayResets(t *testing.T) {
	t.Parallel()
	w, clk, start := dailySetup(t, 5, 3000, 20)
	ctx := t.Context()
	_, err := w.acts.BeginBackfill(ctx, activities.BeginBackfillInput{StreamRef: w.ref})
	require.NoError(t, err)

	var pause activities.QuotaPause
	in := activities.BackfillPageInput{StreamRef: w.ref}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20, "never paused")
		r, err := w.acts.BackfillPage(ctx, in)
		if err != nil {
			ae := appError(t, err)
			require.Equal(t, activities.ErrTypeQuotaPause, ae.Type(), "%v", err)
			require.True(t, ae.NonRetryable(), "a pause is the workflow's to wait out, not a retry")
			var ok bool
			pause, ok = activities.PauseOf(err)
			require.True(t, ok)
			break
		}
		in.Position, in.PrevLastID = r.Next, r.LastID
	}
	require.True(t, pause.Until.Equal(start.Add(4*time.Hour+5*time.Second)), "paused until %s: the CRM's reset, and a few seconds for its clock", pause.Until)
	require.Contains(t, pause.Why, "daily budget")
	st := w.sim.Stats()
	// 15 calls leave the reserve of 5; the 16th asks when the day resets.
	require.Equal(t, 16, st.Total)
	require.Zero(t, st.RateLimited)

	// Paused: nothing reaches the CRM, from any activity of the credential.
	_, err = w.acts.ArchivedPage(ctx, activities.ArchivedPageInput{StreamRef: w.ref})
	require.Equal(t, activities.ErrTypeQuotaPause, appError(t, err).Type())
	clk.Set(pause.Until.Add(-2 * time.Minute))
	_, err = w.acts.BackfillPage(ctx, in)
	require.Equal(t, activities.ErrTypeQuotaPause, appError(t, err).Type())
	require.Equal(t, 16, w.sim.Stats().Total, "a call reached the CRM during the pause")

	// The day resets: calls go again.
	clk.Set(pause.Until.Add(time.Second))
	_, err = w.acts.BackfillPage(ctx, in)
	require.NoError(t, err)
	// The page's list GET, and the batch read of what a wide account's contacts do not fit
	// in its URI.
	require.Equal(t, 18, w.sim.Stats().Total)
	require.Zero(t, w.sim.Stats().RateLimited)
}

// dailySetup is a world whose simulator allows dailyLimit calls in a four-hour day and whose
// integration keeps a quarter of them for other apps, on a settable clock; the property
// list is loaded (one call).
func dailySetup(t *testing.T, seed int64, contacts, dailyLimit int) (*world, *clock, time.Time) {
	t.Helper()
	start := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	w := setup(t, crmsim.Options{Seed: seed, Contacts: contacts, Companies: 5, Deals: 5, DailyLimit: dailyLimit, DayLength: 4 * time.Hour, Now: clk.Now}, "good-token")
	old, ok := w.acts.Integration("acme")
	require.True(t, ok)
	cfg := old.Config
	reserve := config.Share(0.25)
	cfg.Quota.DailyReserve = &reserve
	acts, err := activities.New(activities.Options{Store: w.store, MaxSlotWait: time.Millisecond, Now: clk.Now,
		Integrations: []*activities.Integration{{Config: cfg, Connector: old.Connector, Credential: old.Credential}}})
	require.NoError(t, err)
	w.acts = acts
	_, err = w.acts.RefreshProperties(t.Context(), w.ref)
	require.NoError(t, err)
	return w, clk, start
}

// Calls in flight together all find the reserve reached: they decide one pause, until the
// CRM's reset, and none of them stretches it.
func TestCallsReachingTheReserveTogetherShareOnePause(t *testing.T) {
	t.Parallel()
	w, clk, start := dailySetup(t, 6, 300, 40)
	ctx := t.Context()
	for range 27 { // 12 left of 40, the reserve 10
		_, err := w.acts.ArchivedPage(ctx, activities.ArchivedPageInput{StreamRef: w.ref})
		require.NoError(t, err)
	}
	// 45 s before the reset: a pause that short is retried, not slept on a workflow timer.
	reset := start.Add(4*time.Hour + 5*time.Second)
	clk.Set(reset.Add(-45 * time.Second))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = w.acts.ArchivedPage(ctx, activities.ArchivedPageInput{StreamRef: w.ref}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			ae := appError(t, err)
			require.False(t, ae.NonRetryable(), "%v", err)
			require.LessOrEqual(t, ae.NextRetryDelay(), 45*time.Second, "%v", err)
		}
	}
	led, err := w.store.Ledger(ctx, "cred-good-token", "window")
	require.NoError(t, err)
	require.True(t, led.BlockedUntil.Equal(reset), "the ledger holds calls until %s, want %s", led.BlockedUntil, reset)
	require.Zero(t, w.sim.Stats().RateLimited)
	// starter status reads the CRM's daily count and the pause without the credential.
	daily, err := w.store.Daily(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, 40, daily.Max)
	require.GreaterOrEqual(t, daily.Used(), 1)
	require.True(t, daily.PausedUntil.Equal(reset), "status sees the pause until %s, want %s", daily.PausedUntil, reset)
	require.Contains(t, daily.PausedWhy, "daily budget")
}

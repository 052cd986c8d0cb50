package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

var ref = activities.StreamRef{Integration: "acme", Object: crm.Contacts}

func setup(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.RegisterWorkflow(Backfill)
	env.RegisterWorkflow(DeltaSync)
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
}

func page(fetched, written int) activities.PageResult {
	return activities.PageResult{Fetched: fetched, Written: written, Remaining: 90}
}

func oneRange(lanes int) activities.BeginBackfillResult {
	return activities.BeginBackfillResult{Partitions: []activities.Partition{{}}, Lanes: lanes, Seekable: true}
}

func TestBackfillListsLiveThenArchivedRecords(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, activities.BeginBackfillInput{StreamRef: ref}).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(true, nil).Once()
	// The lanes need only the property list; owners and pipelines are read beside them.
	env.OnActivity(a.RefreshPropertyList, mock.Anything, ref).Return(activities.RefreshPropertiesResult{Count: 12}, nil).Once()
	env.OnActivity(a.RefreshLabels, mock.Anything, ref).Return(nil).Once()
	env.OnActivity(a.BackfillPage, mock.Anything, activities.BackfillPageInput{StreamRef: ref}).
		Return(activities.BackfillPageResult{PageResult: page(100, 100), Next: "p2", FirstID: "1", LastID: "100"}, nil).Once()
	env.OnActivity(a.BackfillPage, mock.Anything, activities.BackfillPageInput{StreamRef: ref, Position: "p2", PrevLastID: "100"}).
		Return(activities.BackfillPageResult{PageResult: page(50, 40), Done: true, FirstID: "101", LastID: "150"}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, activities.ArchivedPageInput{StreamRef: ref, After: ""}).
		Return(activities.ArchivedPageResult{PageResult: page(100, 100), Next: "a2"}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, activities.ArchivedPageInput{StreamRef: ref, After: "a2"}).
		Return(activities.ArchivedPageResult{PageResult: page(3, 1)}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(4), res.Pages)
	require.Equal(t, int64(253), res.Fetched)
	require.Equal(t, int64(241), res.Written)
	require.Equal(t, int64(103), res.Deleted)
	require.Equal(t, phaseDone, res.Phase)

	v, err := env.QueryWorkflow(QueryProgress)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	require.Equal(t, int64(4), p.Pages)
	require.Equal(t, 90, p.Remaining)
	require.Equal(t, 1, p.RangesDone)
}

func TestBackfillOfALargeObjectReadsABulkExport(t *testing.T) {
	t.Parallel()
	env := setup(t)
	begin := oneRange(4)
	begin.Bulkable = true
	env.OnActivity(a.BeginBackfill, mock.Anything, activities.BeginBackfillInput{StreamRef: ref}).Return(begin, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil)
	env.OnActivity(a.BulkPlan, mock.Anything, ref).Return(activities.BulkPlanResult{Bulk: true, Records: 120_000}, nil).Once()
	env.OnActivity(a.BulkStart, mock.Anything, ref).Return("750job", nil).Once()
	job := activities.BulkJobInput{StreamRef: ref, JobID: "750job"}
	env.OnActivity(a.BulkPoll, mock.Anything, job).Return(false, nil).Twice()
	env.OnActivity(a.BulkPoll, mock.Anything, job).Return(true, nil).Once()
	env.OnActivity(a.BulkResults, mock.Anything, activities.BulkResultsInput{StreamRef: ref, JobID: "750job"}).
		Return(activities.BulkResultsResult{PageResult: page(100_000, 100_000), Next: "L2"}, nil).Once()
	env.OnActivity(a.BulkResults, mock.Anything, activities.BulkResultsInput{StreamRef: ref, JobID: "750job", Locator: "L2"}).
		Return(activities.BulkResultsResult{PageResult: page(20_000, 20_000)}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, activities.ArchivedPageInput{StreamRef: ref}).
		Return(activities.ArchivedPageResult{PageResult: page(7, 7)}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()
	var slept time.Duration
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { slept += d })

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(120_007), res.Fetched)
	require.Equal(t, bulkPollFirst+2*bulkPollFirst, slept, "the job is polled on a durable timer that backs off")
	env.AssertNotCalled(t, "BackfillPage", mock.Anything, mock.Anything)
}

func TestBackfillResumesFromTheStoredPosition(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).
		Return(activities.BeginBackfillResult{Partitions: []activities.Partition{{Position: "p7"}}, Lanes: 4, Resumed: true}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.BackfillPage, mock.Anything, activities.BackfillPageInput{StreamRef: ref, Position: "p7"}).
		Return(activities.BackfillPageResult{PageResult: page(10, 10), Done: true}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
}

func TestBackfillPassesRestart(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, activities.BeginBackfillInput{StreamRef: ref, Restart: true}).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil)
	env.OnActivity(a.BackfillPage, mock.Anything, mock.Anything).Return(activities.BackfillPageResult{Done: true}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()
	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts, Restart: true})
	require.NoError(t, env.GetWorkflowError())
}

func TestBackfillContinuesAsNewWithItsPosition(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil)
	env.OnActivity(a.BackfillPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BackfillPageInput) (activities.BackfillPageResult, error) {
			var n int
			_, _ = fmt.Sscanf(in.Position, "p%d", &n)
			return activities.BackfillPageResult{PageResult: page(100, 100), Next: fmt.Sprintf("p%d", n+1)}, nil
		}).Times(maxPagesPerRun)

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next BackfillInput
	require.NoError(t, converterDecode(can, &next))
	require.NotNil(t, next.State)
	require.Equal(t, fmt.Sprintf("p%d", maxPagesPerRun), next.State.Ranges[0].Position)
	require.Equal(t, phaseListing, next.State.Phase)
	require.Equal(t, int64(maxPagesPerRun), next.State.Progress.Pages)
	require.False(t, next.Restart, "a continued run never restarts")
}

func TestBackfillContinuedRunSkipsBegin(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, activities.ArchivedPageInput{StreamRef: ref, After: "a9"}).
		Return(activities.ArchivedPageResult{PageResult: page(5, 5)}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()
	st := &BackfillState{Phase: phaseArchived, ArchivedAfter: "a9", Ranges: []Range{{Done: true}}, Lanes: 1,
		Progress: Progress{Kind: "backfill", Pages: 700, Fetched: 70000}}
	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts, State: st})
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(701), res.Pages)
	require.Equal(t, int64(70005), res.Fetched)
}

// listing is a fake CRM listing of the given ids (ascending), 100 a page, whose tokens
// encode ids ("t<id>"), for driving the backfill's lanes through mocked activities.
type listing struct {
	ids    []int
	mu     sync.Mutex
	reads  map[int]int // id -> times read
	pages  int
	lasts  int
	splits int
	seekOK bool
	// firstPageOnly: only the listing's first page names its token format.
	firstPageOnly bool
	// withoutNearSplits runs the backfill as before versionNearSplits.
	withoutNearSplits bool
}

// denseIDs is 1..n.
func denseIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}

func (l *listing) page(_ context.Context, in activities.BackfillPageInput) (activities.BackfillPageResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pages++
	start := 0
	if in.Position != "" {
		_, _ = fmt.Sscanf(in.Position, "t%d", &start)
	}
	from := sort.SearchInts(l.ids, start)
	to := min(from+100, len(l.ids))
	if from == to {
		return activities.BackfillPageResult{Done: true}, nil
	}
	for _, id := range l.ids[from:to] {
		l.reads[id]++
	}
	first, last := l.ids[from], l.ids[to-1]
	res := activities.BackfillPageResult{PageResult: page(to-from, to-from), FirstID: strconv.Itoa(first), LastID: strconv.Itoa(last)}
	if to < len(l.ids) {
		res.Next = "t" + strconv.Itoa(last+1)
	}
	hi, _ := strconv.Atoi(in.Hi)
	res.Done = res.Next == "" || (in.Hi != "" && last+1 >= hi)
	if in.Position != "" && in.PrevLastID != "" && l.seekOK && !l.firstPageOnly {
		res.Codec = "t"
	}
	if in.Lo == "" && in.Position == "" && res.Next != "" && l.seekOK {
		res.Codec = "t"
	}
	return res, nil
}

func (l *listing) last(_ context.Context, _ activities.StreamRef) (activities.LastIDResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lasts++
	return activities.LastIDResult{ID: strconv.Itoa(l.ids[len(l.ids)-1]), Total: len(l.ids)}, nil
}

func (l *listing) split(_ context.Context, in activities.SplitRangeInput) (activities.SplitRangeResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := activities.SplitRangeResult{}
	for _, lo := range in.Los {
		l.splits++
		res.Positions = append(res.Positions, "t"+lo)
	}
	return res, nil
}

func runListing(t *testing.T, l *listing, lanes int) BackfillResult {
	t.Helper()
	env := setup(t)
	l.reads = map[int]int{}
	if l.withoutNearSplits {
		env.OnGetVersion(versionNearSplits, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).Return(oneRange(lanes), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.BackfillPage, mock.Anything, mock.Anything).Return(l.page)
	env.OnActivity(a.LastID, mock.Anything, mock.Anything).Return(l.last).Maybe()
	env.OnActivity(a.SplitRange, mock.Anything, mock.Anything).Return(l.split).Maybe()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()
	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	for _, id := range l.ids {
		require.Positive(t, l.reads[id], "id %d was never read", id)
	}
	return res
}

func TestBackfillSplitsARecognisedListingIntoRangesAndCoversEveryID(t *testing.T) {
	t.Parallel()
	l := &listing{ids: denseIDs(30_000), seekOK: true}
	res := runListing(t, l, 12)
	require.Equal(t, 1, l.lasts, "one search call bounds the listing")
	require.GreaterOrEqual(t, res.Ranges, 12, "a range per lane from the start")
	require.Equal(t, res.Ranges-1, l.splits, "every range but the first starts with a split")
	require.Equal(t, res.Ranges, res.RangesDone)
	// Each range boundary costs at most a page.
	require.LessOrEqual(t, l.pages, 300+res.Ranges, "pages read: %d for a 300-page listing", l.pages)
	t.Logf("30,000 ids in %d pages (minimum 300) over %d ranges", l.pages, res.Ranges)
}

func TestBackfillPlansAfterTheFirstPageWhenItNamesTheTokenFormat(t *testing.T) {
	t.Parallel()
	// The second page's token is not recognised: a backfill that waited for it would read
	// one chain. The first page's token decides.
	l := &listing{ids: denseIDs(30_000), seekOK: true, firstPageOnly: true}
	res := runListing(t, l, 12)
	require.GreaterOrEqual(t, res.Ranges, 12, "split from the first page's token format")
	require.Equal(t, res.Ranges, res.RangesDone)
	require.LessOrEqual(t, l.pages, 300+res.Ranges)
}

// clusteredIDs is n ids in five dense clusters, each a power of ten further out, the way
// the simulator (and many a CRM whose id scheme changed over the years) lays them out.
func clusteredIDs(n int) []int {
	ids := make([]int, 0, n)
	start := 1
	for range 5 {
		for i := range n / 5 {
			ids = append(ids, start+i)
		}
		start *= 100
		start += 100_000
	}
	return ids
}

func TestBackfillOfIDClustersSplitsNearWhereItHasRead(t *testing.T) {
	t.Parallel()
	before := &listing{ids: clusteredIDs(20_000), seekOK: true, withoutNearSplits: true}
	runListing(t, before, 48)
	near := &listing{ids: clusteredIDs(20_000), seekOK: true}
	res := runListing(t, near, 48)
	t.Logf("20,000 ids in five clusters, 48 lanes: %d pages with equal-width splits, %d splitting near (minimum 200; %d ranges)",
		before.pages, near.pages, res.Ranges)
	require.Less(t, near.pages, before.pages, "fewer pages spent on ranges that turn out empty")
	require.Equal(t, res.Ranges, res.RangesDone)
}

func TestBackfillOfClusteredIDsIsRebalancedByDensity(t *testing.T) {
	t.Parallel()
	// Half the ids are packed at the start of the id space, half spread thin over the
	// rest: equal-width ranges are unequal in work, and lanes out of work split the dense
	// one by what it has read so far.
	ids := denseIDs(10_000)
	for i := range 10_000 {
		ids = append(ids, 20_000+i*50)
	}
	l := &listing{ids: ids, seekOK: true}
	res := runListing(t, l, 8)
	require.Greater(t, res.Ranges, 8, "the dense range was split again")
	require.Equal(t, res.Ranges, res.RangesDone)
	require.LessOrEqual(t, l.pages, 200+res.Ranges, "pages read: %d for a 200-page listing", l.pages)
	t.Logf("20,000 clustered ids in %d pages (minimum 200) over %d ranges", l.pages, res.Ranges)
}

func TestBackfillOfAnUnrecognisedListingIsOneChain(t *testing.T) {
	t.Parallel()
	l := &listing{ids: denseIDs(2_000), seekOK: false}
	res := runListing(t, l, 6)
	require.Equal(t, 1, res.Ranges, "tokens it cannot place are never used to seek")
	require.Equal(t, 20, l.pages, "a single chain reads the minimum")
}

func TestBackfillStopsOnAPermanentError(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.BackfillPage, mock.Anything, mock.Anything).Return(activities.BackfillPageResult{},
		temporal.NewNonRetryableApplicationError("GET /crm/v3/objects/contacts: unauthorized (HTTP 401)", activities.ErrTypeUnauthorized, nil)).Once()

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr), "got %v", env.GetWorkflowError())
	require.Equal(t, activities.ErrTypeUnauthorized, appErr.Type())
}

func TestBackfillRetriesTransientErrorsAfterTheToldDelay(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	var attempts []time.Time
	env.OnActivity(a.BackfillPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.BackfillPageInput) (activities.BackfillPageResult, error) {
			attempts = append(attempts, env.Now())
			if len(attempts) == 1 {
				return activities.BackfillPageResult{}, temporal.NewApplicationErrorWithOptions("429", activities.ErrTypeRateLimited,
					temporal.ApplicationErrorOptions{NextRetryDelay: 10 * time.Second})
			}
			return activities.BackfillPageResult{Done: true}, nil
		}).Twice()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, attempts, 2)
	require.GreaterOrEqual(t, attempts[1].Sub(attempts[0]), 10*time.Second, "the retry waited as long as the CRM asked")
}

func TestInvalidInputFailsBeforeAnyActivity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(env *testsuite.TestWorkflowEnvironment)
		want string
	}{
		{name: "backfill without integration", run: func(env *testsuite.TestWorkflowEnvironment) {
			env.ExecuteWorkflow(Backfill, BackfillInput{Object: crm.Contacts})
		}, want: `"integration" is required`},
		{name: "backfill of an unknown object", run: func(env *testsuite.TestWorkflowEnvironment) {
			env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: "tickets"})
		}, want: `unknown object type "tickets"`},
		{name: "delta of an unknown object", run: func(env *testsuite.TestWorkflowEnvironment) {
			env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: "Contacts"})
		}, want: `unknown object type "Contacts"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := setup(t)
			tc.run(env)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(env.GetWorkflowError(), &appErr))
			require.True(t, appErr.NonRetryable())
			require.Contains(t, appErr.Error(), tc.want)
		})
	}
}

func deltaEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := setup(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: DeltaID("acme", crm.Contacts)})
	return env
}

// A failed attempt of a CRM call, retried by Temporal out of the workflow's sight, shows
// in the progress query: the activity reports it with a signal.
func TestProgressShowsTheLastFailedAttempt(t *testing.T) {
	t.Parallel()
	env := deltaEnv(t)
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	env.OnActivity(a.BeginDelta, mock.Anything, ref).Return(activities.BeginDeltaResult{From: crm.Cursor{ModifiedAt: t0}, BackfillDone: true}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.DeltaPage, mock.Anything, mock.Anything).After(time.Minute).
		Return(activities.DeltaPageResult{PageResult: page(5, 5), Next: crm.Cursor{ModifiedAt: t0.Add(time.Second)}}, nil).Once()
	env.OnActivity(a.FinishDelta, mock.Anything, mock.Anything).Return(nil).Once()
	failure := activities.AttemptFailure{Activity: "DeltaPage", Attempt: 3, Error: "reading changes of acme/contacts: unavailable (HTTP 503)", At: t0}
	var before, after Progress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryProgress)
		require.NoError(t, err)
		require.NoError(t, v.Get(&before))
		env.SignalWorkflow(activities.SignalAttemptFailed, failure)
	}, 10*time.Second)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryProgress)
		require.NoError(t, err)
		require.NoError(t, v.Get(&after))
	}, 20*time.Second)
	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	require.Nil(t, before.LastError)
	require.NotNil(t, after.LastError)
	require.Equal(t, failure, *after.LastError)
}

func TestDeltaReadsChangesThenArchived(t *testing.T) {
	t.Parallel()
	env := deltaEnv(t)
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	c1 := crm.Cursor{ModifiedAt: t0.Add(time.Minute), ID: "77"}
	c2 := crm.Cursor{ModifiedAt: t0.Add(2 * time.Minute), ID: "12"}
	env.OnActivity(a.BeginDelta, mock.Anything, ref).Return(activities.BeginDeltaResult{From: crm.Cursor{ModifiedAt: t0}, BackfillDone: true, DeletesDue: true}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.DeltaPage, mock.Anything, activities.DeltaPageInput{StreamRef: ref, From: crm.Cursor{ModifiedAt: t0}}).
		Return(activities.DeltaPageResult{PageResult: page(200, 150), Next: c1, More: true}, nil).Once()
	env.OnActivity(a.DeltaPage, mock.Anything, activities.DeltaPageInput{StreamRef: ref, From: c1}).
		Return(activities.DeltaPageResult{PageResult: page(20, 20), Next: c2}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, activities.ArchivedPageInput{StreamRef: ref}).
		Return(activities.ArchivedPageResult{PageResult: page(4, 2)}, nil).Once()
	env.OnActivity(a.FinishDelta, mock.Anything, activities.FinishDeltaInput{StreamRef: ref, DeletesRead: true}).Return(nil).Once()

	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res DeltaResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(3), res.Pages)
	require.Equal(t, int64(172), res.Written)
	require.Equal(t, int64(4), res.Deleted)
	require.Zero(t, res.Cursor.Compare(c2))
	require.False(t, res.BackfillStarted)
	require.Empty(t, res.Skipped)
}

func TestDeltaStartsTheBackfillOfANeverSyncedObjectAndCarriesOn(t *testing.T) {
	t.Parallel()
	env := deltaEnv(t)
	env.OnActivity(a.BeginDelta, mock.Anything, ref).Return(activities.BeginDeltaResult{BackfillDone: false, DeletesDue: true}, nil).Once()
	env.OnWorkflow(Backfill, mock.Anything, BackfillInput{Integration: "acme", Object: crm.Contacts}).
		Return(BackfillResult{}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.DeltaPage, mock.Anything, mock.Anything).Return(activities.DeltaPageResult{}, nil).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishDelta, mock.Anything, mock.Anything).Return(nil).Once()

	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res DeltaResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.BackfillStarted)
}

func TestDeltaSkipsTheDeletesWalkUntilItIsDue(t *testing.T) {
	t.Parallel()
	env := deltaEnv(t)
	env.OnActivity(a.BeginDelta, mock.Anything, ref).Return(activities.BeginDeltaResult{BackfillDone: true, DeletesDue: false}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil).Once()
	env.OnActivity(a.DeltaPage, mock.Anything, mock.Anything).Return(activities.DeltaPageResult{PageResult: page(0, 0)}, nil).Once()
	env.OnActivity(a.FinishDelta, mock.Anything, activities.FinishDeltaInput{StreamRef: ref}).Return(nil).Once()

	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res DeltaResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(1), res.Pages, "an idle delta is one call")
}

func TestScheduledDeltaRunsUnderTheStreamID(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: ScheduledDeltaID("acme", crm.Contacts) + "-2026-05-01T00:00:00Z"})
	want := DeltaResult{Progress: Progress{Kind: "delta", Pages: 9}}
	env.OnWorkflow(DeltaSync, mock.Anything, DeltaInput{Integration: "acme", Object: crm.Contacts}).Return(want, nil).Once()

	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	var res DeltaResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(9), res.Pages)
}

func TestDeltaFailsWhenTheCRMRejectsTheCredential(t *testing.T) {
	t.Parallel()
	env := deltaEnv(t)
	env.OnActivity(a.BeginDelta, mock.Anything, ref).Return(activities.BeginDeltaResult{BackfillDone: true}, nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(true, nil).Once()
	env.OnActivity(a.RefreshProperties, mock.Anything, ref).Return(activities.RefreshPropertiesResult{},
		temporal.NewNonRetryableApplicationError("unauthorized", activities.ErrTypeUnauthorized, nil)).Once()

	env.ExecuteWorkflow(DeltaSync, DeltaInput{Integration: "acme", Object: crm.Contacts})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	require.Equal(t, activities.ErrTypeUnauthorized, appErr.Type())
}

func TestIDsAndQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, "crmsync/acme/contacts/backfill", BackfillID("acme", crm.Contacts))
	require.Equal(t, "crmsync/acme/deals/delta", DeltaID("acme", crm.Deals))
	require.Equal(t, "crmsync/acme/deals/delta-schedule", ScheduleID("acme", crm.Deals))
	require.Equal(t, "crmsync/acme", APITaskQueue("acme"))
	require.Equal(t, "crmsync/acme/search", SearchTaskQueue("acme"))
	require.NotEqual(t, APITaskQueue("a"), APITaskQueue("b"), "one queue, and one quota, per integration")
}

// converterDecode reads the input a workflow continued as new with.
func converterDecode(can *workflow.ContinueAsNewError, out any) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, out)
}

// The daily pause: the activity reports that the credential's calls are paused for hours.
// The backfill waits on a durable timer (no retries that would burn calls), shows why and
// until when in its progress, and resumes by itself.
func TestBackfillWaitsOutADailyPauseAndResumes(t *testing.T) {
	t.Parallel()
	env := setup(t)
	start := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	until := start.Add(6 * time.Hour)
	why := "daily budget: 25000 of 250000 calls left today"
	env.OnActivity(a.BeginBackfill, mock.Anything, mock.Anything).Return(oneRange(1), nil).Once()
	env.OnActivity(a.PropertiesStale, mock.Anything, ref).Return(false, nil)
	env.OnActivity(a.BackfillPage, mock.Anything, activities.BackfillPageInput{StreamRef: ref}).
		Return(activities.BackfillPageResult{}, activities.PauseError("listing", activities.QuotaPause{Until: until, Why: why})).Once()
	var resumedAt time.Time
	env.OnActivity(a.BackfillPage, mock.Anything, activities.BackfillPageInput{StreamRef: ref}).
		Return(func(context.Context, activities.BackfillPageInput) (activities.BackfillPageResult, error) {
			resumedAt = env.Now()
			return activities.BackfillPageResult{PageResult: page(10, 10), Done: true}, nil
		}).Once()
	env.OnActivity(a.ArchivedPage, mock.Anything, mock.Anything).Return(activities.ArchivedPageResult{}, nil).Once()
	env.OnActivity(a.FinishBackfill, mock.Anything, ref).Return(nil).Once()

	var during Progress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryProgress)
		require.NoError(t, err)
		require.NoError(t, v.Get(&during))
	}, time.Hour)

	env.ExecuteWorkflow(Backfill, BackfillInput{Integration: "acme", Object: crm.Contacts})
	require.NoError(t, env.GetWorkflowError())
	require.NotNil(t, during.Waiting, "the progress says the backfill is waiting")
	require.Equal(t, why, during.Waiting.Why)
	require.True(t, during.Waiting.Until.Equal(until), "until %s, want %s", during.Waiting.Until, until)
	require.False(t, resumedAt.Before(until), "resumed at %s, before the pause ended at %s", resumedAt, until)
	var res BackfillResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Nil(t, res.Waiting)
	require.Equal(t, int64(10), res.Fetched)
}

// Near the end of a backfill (little left for the lanes), runs that recorded the endgame
// version split into small pieces; older runs keep their twenty-page minimum.
func TestSplitsGetFinerOnlyInTheEndgame(t *testing.T) {
	t.Parallel()
	st := &BackfillState{Lanes: 48, endgame: true}
	require.Equal(t, float64(minSplitRecords), splitThreshold(st, 48*endgameRecordsPerLane+1))
	require.Equal(t, float64(minEndgameRecords), splitThreshold(st, 48*endgameRecordsPerLane))
	st.endgame = false
	require.Equal(t, float64(minSplitRecords), splitThreshold(st, 100))
}

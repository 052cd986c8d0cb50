package workflows

import (
	"math"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// BackfillInput starts a backfill: `{"integration":"acme","object":"contacts"}`.
type BackfillInput struct {
	Integration string     `json:"integration"`
	Object      crm.Object `json:"object"`
	// Restart lists from the first page even if an earlier backfill stopped midway
	// (by default it resumes from its stored position).
	Restart bool `json:"restart,omitempty"`
	// State carries progress across continue-as-new; leave it out when starting.
	State *BackfillState `json:"state,omitempty"`
}

// BackfillState is everything a backfill needs to continue in a new run.
type BackfillState struct {
	// Phase is phaseListing (live records) or phaseArchived (deleted ones).
	Phase string `json:"phase"`
	// Ranges are the id ranges of the listing and how far each has been read.
	Ranges []Range `json:"ranges"`
	// Lanes is how many pages are read at once.
	Lanes int `json:"lanes"`
	// Codec is the listing token format, once two pages have confirmed it.
	Codec string `json:"codec,omitempty"`
	// Candidate and Votes track a token format seen but not yet confirmed.
	Candidate string `json:"candidate,omitempty"`
	Votes     int    `json:"votes,omitempty"`
	// Unseekable reports that the listing's tokens were not recognised: one chain only.
	Unseekable bool `json:"unseekable,omitempty"`
	// Seekable reports that the connector can start a listing at an id.
	Seekable bool `json:"seekable,omitempty"`
	// Planned reports that the listing has been split into ranges (or will not be).
	Planned bool `json:"planned,omitempty"`
	// MaxID is the largest id when the ranges were planned: it bounds the open-ended last
	// range for splitting.
	MaxID string `json:"max_id,omitempty"`
	// Bulk is the object's bulk export, when the backfill reads it that way.
	Bulk *BulkState `json:"bulk,omitempty"`
	// ArchivedAfter is the next archived page's token.
	ArchivedAfter string   `json:"archived_after"`
	Progress      Progress `json:"progress"`
	// Queues says where the CRM calls run.
	Queues activities.Queues `json:"queues"`

	// endgame: this run splits finely near the end (versionEndgameSplits).
	endgame bool
	// fastStart: this run starts its lanes as early as it safely can (versionFastStart).
	fastStart bool
	// nearSplits: this run splits only as far ahead as the density it has seen
	// (versionNearSplits).
	nearSplits bool
}

// BulkState is a backfill's bulk export job and how far its results have been read.
type BulkState struct {
	JobID   string `json:"job_id,omitempty"`
	Ready   bool   `json:"ready,omitempty"`
	Locator string `json:"locator,omitempty"`
	Pages   int64  `json:"pages,omitempty"`
}

// versionBulkExport marks backfills that may read their object with the CRM's bulk export
// (Salesforce Bulk API 2.0) above backfill.bulk_above records.
const versionBulkExport = "bulk-export"

// Polling a bulk export job: the first wait, doubled up to the last.
const (
	bulkPollFirst = 2 * time.Second
	bulkPollMax   = 30 * time.Second
)

// Range is one id range of the listing, [Lo, Hi) ("" = the start or the end), read by one
// chain of pages at a time.
type Range struct {
	Lo       string `json:"lo,omitempty"`
	Hi       string `json:"hi,omitempty"`
	Position string `json:"position,omitempty"`
	FirstID  string `json:"first_id,omitempty"`
	LastID   string `json:"last_id,omitempty"`
	Pages    int64  `json:"pages,omitempty"`
	Fetched  int64  `json:"fetched,omitempty"`
	Done     bool   `json:"done,omitempty"`

	// running: a lane reads it; splitting: a lane is splitting it.
	running, splitting bool
}

// BackfillResult summarises a finished backfill.
type BackfillResult struct {
	Progress
	FinishedAt time.Time `json:"finished_at"`
}

// votesToSeek is how many pages must show the same token format before the backfill
// trusts it enough to seek. One is enough because every seek is verified: a range's first
// page must start where the range does, or the backfill stops with a clear error.
const votesToSeek = 1

// minRangeRecords is the fewest records (estimated) a range is made for, when the listing
// is planned and when a lane out of work splits the range with the most left: every range
// boundary costs about one extra page, so ranges of twenty pages or more keep that under
// 5% of the minimum; an object too small for two such ranges is read as one chain.
const minRangeRecords = 2000

// minSplitRecords is the fewest records (estimated from the range's own density) each piece
// of a split range should hold: twenty pages, so that a boundary's extra page stays a
// twentieth of what it lets another lane read in parallel. Smaller pieces did not finish
// a 100,000-contact backfill measurably sooner (190 per 10 s, 200 ms a call: 500 records
// 55.4-56.0 s, 2,000 56.9 s) but cost up to twice the minimum calls on small objects,
// where the quota, not the lanes, is the bottleneck.
const minSplitRecords = 2000

// versionEndgameSplits marks runs that split ranges finely once little is left: when the
// records left fit in about one window of calls (endgameRecordsPerLane per lane), pieces
// of minEndgameRecords are allowed, so that the last window's calls go out over every lane
// instead of dribbling down a few long chains. An extra boundary page then costs nothing
// the quota would have used otherwise.
const versionEndgameSplits = "endgame-splits"

// versionFastStart marks runs whose lanes start sooner: the listing's first page already
// names the token format (its next-page token must encode an id above its last one; every
// seek made with it is still verified), and only the property list is read before the
// first page, the owners and pipelines beside the lanes. A rolling window replays its first
// seconds' pace in every later window, so each round trip saved at the start is saved again
// at the end.
const versionFastStart = "fast-start"

// versionNearSplits marks runs that trust a range's measured density only near where it
// was measured. Ids cluster (records created in bursts, imports, id schemes that changed
// over the years), and equal-width pieces of a range that has a gap ahead land in the gap:
// each costs a call that finds nothing. So a split's pieces hold at most
// nearPieceFactor x the split threshold at the density seen, and the last piece takes
// the rest of the range: a chain that starts at a gap's edge crosses the gap with its
// first page. The first plan does the same for an id space far sparser than the first
// page (a plan of fewer, wider ranges), leaving the rest to splits.
const versionNearSplits = "near-splits"

const (
	nearPieceFactor = 2
	// gappyRatio: an id space this many times sparser overall than on the first page
	// is taken to have gaps.
	gappyRatio = 4
	// gappyPlanDivisor: a gappy id space gets this many times fewer ranges at first.
	gappyPlanDivisor = 4
)

const (
	endgameRecordsPerLane = 200
	minEndgameRecords     = 300
)

// splitThreshold is the fewest records each piece of a split should hold, given the
// records all running ranges have left.
func splitThreshold(st *BackfillState, total float64) float64 {
	if st.endgame && total <= float64(st.Lanes*endgameRecordsPerLane) {
		return minEndgameRecords
	}
	return minSplitRecords
}

// Backfill lists every record of one object (live, then archived) into PostgreSQL. A page
// is one activity whose position is committed with its records, so a crash re-reads at
// most the page in flight, and a new Backfill of an unfinished object resumes where the
// last one stopped.
//
// One chain of pages waits a full round trip per page, which cannot fill the quota of a CRM
// that is not on the same machine. So once the first chain's page tokens are recognised as
// encoding record ids (and only then: CRMs call them opaque), the rest of the listing is
// split into id ranges read by up to Lanes chains at once; a lane that runs out of ranges
// splits the largest one left. The quota ledger, not the number of lanes, bounds the rate.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillResult, error) {
	if err := validateRef(in.Integration, in.Object); err != nil {
		return BackfillResult{}, err
	}
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	st := in.State
	if st == nil {
		st = &BackfillState{Phase: phaseStarting, Progress: Progress{
			Kind: "backfill", Phase: phaseStarting, Integration: in.Integration, Object: in.Object, Remaining: -1, StartedAt: workflow.Now(ctx),
		}}
	}
	p := &st.Progress
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) {
		return st.progress(), nil
	}); err != nil {
		return BackfillResult{}, err
	}
	watchAttempts(ctx, &st.Progress)

	if st.Phase == phaseStarting {
		var begin activities.BeginBackfillResult
		err := workflow.ExecuteLocalActivity(localContext(ctx), a.BeginBackfill,
			activities.BeginBackfillInput{StreamRef: ref, Restart: in.Restart}).Get(ctx, &begin)
		if err != nil {
			return BackfillResult{}, err
		}
		st.Lanes, st.Seekable, st.Queues = max(1, begin.Lanes), begin.Seekable, begin.Queues
		st.Ranges = nil
		for _, bp := range begin.Partitions {
			st.Ranges = append(st.Ranges, Range{Lo: bp.Lo, Hi: bp.Hi, Position: bp.Position, Done: bp.Done})
		}
		// A resumed backfill that had been split needs no new plan, nor does one that cannot seek.
		st.Planned = len(st.Ranges) > 1 || !st.Seekable || st.Lanes == 1
		st.Phase = phaseListing
		if begin.Bulkable && workflow.GetVersion(ctx, versionBulkExport, workflow.DefaultVersion, 1) == 1 {
			st.Phase = phaseBulkPlan
		}
		if begin.Resumed {
			workflow.GetLogger(ctx).Info("resuming backfill", "ranges", len(st.Ranges))
		}
	}
	if st.Phase == phaseBulkPlan {
		if err := refreshProperties(ctx, ref, st.Queues, p); err != nil {
			return BackfillResult{}, err
		}
		var plan activities.BulkPlanResult
		api := apiContext(ctx, apiQueue(ctx, in.Integration, st.Queues), st.Queues)
		if err := callCRM(ctx, api, p, a.BulkPlan, ref, &plan); err != nil {
			return BackfillResult{}, err
		}
		st.Phase = phaseListing
		if plan.Bulk {
			st.Phase, st.Bulk = phaseBulk, &BulkState{}
			workflow.GetLogger(ctx).Info("reading the object with a bulk export", "records", plan.Records)
		}
	}
	if st.Phase == phaseBulk {
		full, err := readBulk(ctx, ref, st)
		if err != nil {
			return BackfillResult{}, err
		}
		if full {
			return BackfillResult{}, continueBackfill(ctx, in, st)
		}
		st.Phase, p.Phase = phaseArchived, phaseArchived
	} else if st.Phase == phaseListing {
		// readRanges refreshes the property list itself, beside its planning.
		full, err := readRanges(ctx, ref, st)
		if err != nil {
			return BackfillResult{}, err
		}
		if full {
			return BackfillResult{}, continueBackfill(ctx, in, st)
		}
		st.Phase, p.Phase = phaseArchived, phaseArchived
	} else if err := refreshProperties(ctx, ref, st.Queues, p); err != nil {
		return BackfillResult{}, err
	}
	p.Phase = phaseArchived
	api := apiContext(ctx, apiQueue(ctx, in.Integration, st.Queues), st.Queues)
	for pages := 0; ; pages++ {
		if runIsFull(ctx, pages) {
			return BackfillResult{}, continueBackfill(ctx, in, st)
		}
		last, err := archivedPage(ctx, api, ref, &st.ArchivedAfter, p)
		if err != nil {
			return BackfillResult{}, err
		}
		if last {
			break
		}
	}
	if err := workflow.ExecuteLocalActivity(localContext(ctx), a.FinishBackfill, ref).Get(ctx, nil); err != nil {
		return BackfillResult{}, err
	}
	p.Phase = phaseDone
	return BackfillResult{Progress: st.progress(), FinishedAt: workflow.Now(ctx)}, nil
}

// readBulk runs the backfill's bulk export: starts the job, polls it on a durable timer
// until it is done (a wait costs no calls), then reads its results page by page, each
// page streamed into PostgreSQL by one activity. It returns full = true when this run's
// history is full and the state holds where to go on.
func readBulk(ctx workflow.Context, ref activities.StreamRef, st *BackfillState) (full bool, err error) {
	p := &st.Progress
	p.Phase = phaseBulk
	api := apiContext(ctx, apiQueue(ctx, ref.Integration, st.Queues), st.Queues)
	b := st.Bulk
	if b.JobID == "" {
		if err := refreshProperties(ctx, ref, st.Queues, p); err != nil {
			return false, err
		}
		if err := callCRM(ctx, api, p, a.BulkStart, ref, &b.JobID); err != nil {
			return false, err
		}
	}
	for wait := bulkPollFirst; !b.Ready; wait = min(2*wait, bulkPollMax) {
		if err := callCRM(ctx, api, p, a.BulkPoll, activities.BulkJobInput{StreamRef: ref, JobID: b.JobID}, &b.Ready); err != nil {
			return false, err
		}
		if !b.Ready {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return false, err
			}
		}
	}
	for pages := 0; ; pages++ {
		if runIsFull(ctx, pages) {
			return true, nil
		}
		var r activities.BulkResultsResult
		in := activities.BulkResultsInput{StreamRef: ref, JobID: b.JobID, Locator: b.Locator}
		if err := callCRM(ctx, api, p, a.BulkResults, in, &r); err != nil {
			return false, err
		}
		p.page(ctx, r.PageResult)
		b.Pages++
		if r.Next == "" {
			return false, nil
		}
		b.Locator = r.Next
	}
}

// progress is the backfill's Progress with its ranges counted.
func (st *BackfillState) progress() Progress {
	q := st.Progress
	q.Ranges, q.RangesDone, q.Lanes = len(st.Ranges), 0, st.Lanes
	for _, r := range st.Ranges {
		if r.Done {
			q.RangesDone++
		}
	}
	return q
}

func continueBackfill(ctx workflow.Context, in BackfillInput, st *BackfillState) error {
	return workflow.NewContinueAsNewError(ctx, Backfill, BackfillInput{Integration: in.Integration, Object: in.Object, State: st})
}

// readRanges reads every range with up to st.Lanes lanes. It returns full = true when this
// run's history is full: every lane has finished its page in flight and the state holds
// every range's position, ready to continue as new.
func readRanges(ctx workflow.Context, ref activities.StreamRef, st *BackfillState) (full bool, err error) {
	api := apiContext(ctx, apiQueue(ctx, ref.Integration, st.Queues), st.Queues)
	search := apiContext(ctx, searchQueue(ctx, ref.Integration, st.Queues), st.Queues)
	st.endgame = workflow.GetVersion(ctx, versionEndgameSplits, workflow.DefaultVersion, 1) == 1
	st.fastStart = workflow.GetVersion(ctx, versionFastStart, workflow.DefaultVersion, 1) == 1
	st.nearSplits = workflow.GetVersion(ctx, versionNearSplits, workflow.DefaultVersion, 1) == 1
	var (
		failure error
		stop    bool
		pages   int
		active  int
		idle    int
	)
	if !st.Planned {
		// The planner finds balanced boundaries while the property list is refreshed and the
		// first chain reads (and recognises the token format), so that every lane has work
		// within a second or two.
		active++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { active-- }()
			if err := planRanges(ctx, search, ref, st, &stop, &failure); err != nil && failure == nil {
				failure = err
			}
			// A run cut short before its plan was stored plans again after continuing.
			st.Planned = !stop || len(st.Ranges) > 1
		})
	}
	if st.fastStart {
		labels, err := refreshPropertyList(ctx, ref, st.Queues, &st.Progress)
		if err != nil {
			stop, failure = true, err
		} else if labels {
			active++
			workflow.Go(ctx, func(ctx workflow.Context) {
				defer func() { active-- }()
				api := apiContext(ctx, apiQueue(ctx, ref.Integration, st.Queues), st.Queues)
				if err := callCRM(ctx, api, &st.Progress, a.RefreshLabels, ref, nil); err != nil && failure == nil {
					failure = err
				}
			})
		}
	} else if err := refreshProperties(ctx, ref, st.Queues, &st.Progress); err != nil {
		stop, failure = true, err
	}
	st.Progress.Phase = phaseListing
	lane := func(ctx workflow.Context) {
		defer func() { active-- }()
		for !stop && failure == nil {
			i, err := pickRange(ctx, ref, st, idle)
			if err != nil {
				failure = err
				return
			}
			if i < 0 {
				if allRead(st) {
					return
				}
				idle++
				_ = workflow.Await(ctx, func() bool { return stop || failure != nil || canPick(st) || allRead(st) })
				idle--
				continue
			}
			st.Ranges[i].running = true
			for !stop && failure == nil && !st.Ranges[i].Done {
				if err := readPage(ctx, api, ref, st, i); err != nil {
					failure = err
					break
				}
				pages++
				stop = stop || runIsFull(ctx, pages)
			}
			st.Ranges[i].running = false
		}
	}
	for range st.Lanes {
		active++
		workflow.Go(ctx, lane)
	}
	if err := workflow.Await(ctx, func() bool { return active == 0 }); err != nil {
		return false, err
	}
	if failure != nil {
		return false, failure
	}
	return !allRead(st), nil
}

// allRead reports that every range is read.
func allRead(st *BackfillState) bool {
	for _, r := range st.Ranges {
		if !r.Done {
			return false
		}
	}
	return true
}

// readPage reads the next page of range i and folds its result into the state.
func readPage(ctx, api workflow.Context, ref activities.StreamRef, st *BackfillState, i int) error {
	r := st.Ranges[i]
	in := activities.BackfillPageInput{StreamRef: ref, Lo: r.Lo, Hi: r.Hi, Position: r.Position, PrevLastID: r.LastID}
	var res activities.BackfillPageResult
	if err := callCRM(ctx, api, &st.Progress, a.BackfillPage, in, &res); err != nil {
		return err
	}
	// The slice may have grown (a split) while the page was in flight: index afresh.
	rg := &st.Ranges[i]
	rg.Position = res.Next
	rg.Pages++
	rg.Fetched += int64(res.Fetched)
	if res.FirstID != "" && rg.FirstID == "" {
		rg.FirstID = res.FirstID
	}
	if res.LastID != "" {
		rg.LastID = res.LastID
	}
	// Hi may have moved down (a split) while the page was in flight.
	rg.Done = res.Done || (rg.Hi != "" && rg.LastID != "" && crm.CompareIDs(rg.LastID, rg.Hi) >= 0)
	st.Progress.page(ctx, res.PageResult)

	if st.fastStart && st.Codec == "" && !st.Unseekable && in.Lo == "" && in.Position == "" && res.Codec != "" {
		st.Candidate, st.Votes, st.Codec = res.Codec, votesToSeek, res.Codec
	}
	if st.Codec == "" && !st.Unseekable && in.Position != "" && in.PrevLastID != "" && res.FirstID != "" {
		switch res.Codec {
		case "":
			st.Unseekable = true
			workflow.GetLogger(ctx).Info("listing tokens do not encode ids: reading one chain")
		case st.Candidate:
			st.Votes++
		default:
			st.Candidate, st.Votes = res.Codec, 1
		}
		if st.Votes >= votesToSeek {
			st.Codec = st.Candidate
		}
	}
	return nil
}

// versionPlanByLastID marks backfills planned from one LastID call rather than by rank
// (planRangesByRank).
const versionPlanByLastID = "plan-by-last-id"

// planRanges splits the listing into up to st.Lanes ranges of equal id width (none holding
// fewer than minRangeRecords on average) as soon as the first chain has recognised the
// token format, so that every lane has work within a couple of round trips: a rolling
// window rewards a fast start, because every later window replays the first one's pace.
// One search call finds the largest id and the record count. Ids that cluster make some
// ranges longer than others; lanes that run out of work split those by their measured
// density (pickRange). A split is stored by the new ranges' first pages, together with
// the old range's new end, so a crash can never leave ids that no range covers.
func planRanges(ctx, search workflow.Context, ref activities.StreamRef, st *BackfillState, stop *bool, failure *error) error {
	if workflow.GetVersion(ctx, versionPlanByLastID, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return planRangesByRank(ctx, search, ref, st, stop, failure)
	}
	var last activities.LastIDResult
	if err := callCRM(ctx, search, &st.Progress, a.LastID, ref, &last); err != nil {
		return err
	}
	st.Progress.Total = int64(last.Total)
	ranges := min(st.Lanes, last.Total/minRangeRecords)
	if ranges < 2 || last.ID == "" {
		workflow.GetLogger(ctx).Info("the listing is read as one chain", "records", last.Total)
		return nil
	}
	st.MaxID = last.ID
	// Seeking needs the token format; the first chain learns it from its second page.
	if err := workflow.Await(ctx, func() bool {
		return *stop || *failure != nil || st.Codec != "" || st.Unseekable || st.Ranges[0].Done
	}); err != nil {
		return err
	}
	if st.Codec == "" || *stop || *failure != nil {
		return nil
	}
	for i, r := range st.Ranges {
		if r.Hi != "" || r.Done || r.splitting {
			continue
		}
		from, err1 := strconv.ParseUint(r.LastID, 10, 64)
		end, err2 := strconv.ParseUint(st.MaxID, 10, 64)
		if err1 != nil || err2 != nil || end <= from {
			return nil
		}
		if st.nearSplits {
			ranges = gappyPlan(r, from, end, last.Total, ranges)
		}
		width := (end - from) / uint64(ranges)
		if width == 0 || ranges < 2 {
			return nil
		}
		los := make([]string, 0, ranges-1)
		for k := 1; k < ranges; k++ {
			los = append(los, strconv.FormatUint(from+1+uint64(k)*width, 10))
		}
		_, err := splitRange(ctx, ref, st, i, los)
		return err
	}
	return nil
}

// splitRange splits range i at los (ascending, above what it has read) and returns the
// index of the first new range. The split is stored before the state changes: until then
// the old range still covers everything.
func splitRange(ctx workflow.Context, ref activities.StreamRef, st *BackfillState, i int, los []string) (int, error) {
	st.Ranges[i].splitting = true
	var res activities.SplitRangeResult
	err := workflow.ExecuteLocalActivity(localContext(ctx), a.SplitRange,
		activities.SplitRangeInput{StreamRef: ref, From: st.Ranges[i].Lo, Hi: st.Ranges[i].Hi, Los: los, Codec: st.Codec}).Get(ctx, &res)
	st.Ranges[i].splitting = false
	if err != nil {
		return -1, err
	}
	first := len(st.Ranges)
	hi := st.Ranges[i].Hi
	for k, lo := range los {
		r := Range{Lo: lo, Hi: hi, Position: res.Positions[k]}
		if k+1 < len(los) {
			r.Hi = los[k+1]
		}
		st.Ranges = append(st.Ranges, r)
	}
	st.Ranges[i].Hi = los[0]
	return first, nil
}

// canPick reports, without changing anything, whether pickRange would find work.
func canPick(st *BackfillState) bool {
	for _, r := range st.Ranges {
		if !r.Done && !r.running && !r.splitting {
			return true
		}
	}
	best, _ := splittable(st)
	return best >= 0
}

// splittable is the running range with the most records left (estimated from its own
// density) that is worth splitting, or -1, and the records all running ranges have left.
func splittable(st *BackfillState) (best int, total float64) {
	if !st.Planned || st.Codec == "" {
		return -1, 0
	}
	best, bestLeft := -1, 0.0
	for _, r := range st.Ranges {
		if left, ok := recordsLeft(r, st.MaxID); ok && r.running && !r.splitting {
			total += left
		}
	}
	threshold := splitThreshold(st, total)
	for i, r := range st.Ranges {
		left, ok := recordsLeft(r, st.MaxID)
		if !ok || !r.running || r.splitting {
			continue
		}
		if left >= 2*threshold && left > bestLeft {
			best, bestLeft = i, left
		}
	}
	return best, total
}

// pickRange chooses a range for a free lane: one nobody reads yet, else it splits the
// running range with the most left to read into as many equal ranges as its share of the
// idle lanes (so that lanes fill up in one step, not by halving again and again); -1 when
// there is nothing worth taking. idle counts the lanes waiting for work besides this one.
// Whenever canPick is true, it finds work (a lane waiting on canPick must not spin).
func pickRange(ctx workflow.Context, ref activities.StreamRef, st *BackfillState, idle int) (int, error) {
	for i, r := range st.Ranges {
		if !r.Done && !r.running && !r.splitting {
			return i, nil
		}
	}
	best, total := splittable(st)
	if best < 0 {
		return -1, nil
	}
	r := st.Ranges[best]
	left, _ := recordsLeft(r, st.MaxID)
	// The old range keeps the first piece; the others go to this lane and the idle ones.
	share := int(math.Ceil(float64(st.Lanes) * left / total))
	pieces := min(idle+2, max(share, 2), int(left/splitThreshold(st, total)))
	if pieces < 2 {
		return -1, nil
	}
	last, _ := strconv.ParseUint(r.LastID, 10, 64)
	hi := rangeEnd(r, st.MaxID)
	width := (hi - last) / uint64(pieces)
	if st.nearSplits {
		width = min(width, nearWidth(r, nearPieceFactor*splitThreshold(st, total)))
	}
	los := make([]string, 0, pieces-1)
	for k := 1; k < pieces; k++ {
		los = append(los, strconv.FormatUint(last+uint64(k)*width, 10))
	}
	return splitRange(ctx, ref, st, best, los)
}

// nearWidth is the id width that holds `records` at the density range r has shown (at
// least 1; the largest width when nothing has been measured).
func nearWidth(r Range, records float64) uint64 {
	first, e1 := strconv.ParseUint(r.FirstID, 10, 64)
	last, e2 := strconv.ParseUint(r.LastID, 10, 64)
	if e1 != nil || e2 != nil || last <= first || r.Fetched == 0 {
		return math.MaxUint64
	}
	density := float64(r.Fetched) / float64(last-first+1)
	return max(1, uint64(records/density))
}

// gappyPlan is the number of ranges a first plan makes: fewer when the whole id space
// (total records between from and end) is far sparser than the first chain's pages, since
// then most equal-width ranges would fall in gaps.
func gappyPlan(first Range, from, end uint64, total, ranges int) int {
	w := nearWidth(first, 1)
	if w == math.MaxUint64 || total <= 0 || end <= from {
		return ranges
	}
	overall := float64(end-from) / float64(total) // ids per record across the space
	if overall > gappyRatio*float64(w) {
		return max(2, ranges/gappyPlanDivisor)
	}
	return ranges
}

// rangeEnd is the id a range ends before, numerically: its Hi, or for the open-ended last
// range one past the largest id seen when planning (0 if unknown).
func rangeEnd(r Range, maxID string) uint64 {
	if r.Hi != "" {
		hi, _ := strconv.ParseUint(r.Hi, 10, 64)
		return hi
	}
	m, err := strconv.ParseUint(maxID, 10, 64)
	if err != nil {
		return 0
	}
	return m + 1
}

// recordsLeft estimates how many records a range has left to read, from its density so far;
// ok is false when that cannot be told (nothing read yet, no bound, not numeric).
func recordsLeft(r Range, maxID string) (left float64, ok bool) {
	first, e1 := strconv.ParseUint(r.FirstID, 10, 64)
	last, e2 := strconv.ParseUint(r.LastID, 10, 64)
	hi := rangeEnd(r, maxID)
	if e1 != nil || e2 != nil || r.Done || hi <= last+1 || last <= first || r.Fetched == 0 {
		return 0, false
	}
	density := float64(r.Fetched) / float64(last-first+1)
	return float64(hi-last-1) * density, true
}

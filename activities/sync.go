package activities

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
)

// BeginBackfillInput starts or resumes a backfill.
type BeginBackfillInput struct {
	StreamRef
	// Restart discards an unfinished backfill's progress and lists from the first page.
	Restart bool `json:"restart,omitempty"`
}

// Partition is one id range of a backfill: [Lo, Hi), "" meaning the start or the end of
// the listing.
type Partition struct {
	Lo string `json:"lo,omitempty"`
	Hi string `json:"hi,omitempty"`
	// Position is the token of the range's next page; "" with a non-empty Lo means the range
	// has not been read yet and starts with a seek.
	Position string `json:"position,omitempty"`
	Done     bool   `json:"done,omitempty"`
}

// BeginBackfillResult is where the backfill starts.
type BeginBackfillResult struct {
	// Resumed reports that an earlier, unfinished backfill is being continued.
	Resumed bool `json:"resumed"`
	// Partitions are the ranges to read (one, covering everything, for a new backfill).
	Partitions []Partition `json:"partitions"`
	// Lanes is how many pages the backfill may read at once.
	Lanes int `json:"lanes"`
	// Seekable reports that the connector can start a listing at an id (if it recognises
	// the CRM's page tokens), so splitting into ranges is worth planning.
	Seekable bool `json:"seekable"`
	// Queues says where the sync's CRM calls run.
	Queues Queues `json:"queues"`
	// Bulkable reports that a new backfill may read the object with the CRM's bulk export
	// (BulkPlan decides, from the record count).
	Bulkable bool `json:"bulkable,omitempty"`
}

// BeginBackfill prepares the backfill (PostgreSQL only; runs as a local activity). It also
// creates the delta cursor at the current time if the object has none, so that changes
// made while the backfill runs are caught by the next delta.
func (a *Activities) BeginBackfill(ctx context.Context, in BeginBackfillInput) (BeginBackfillResult, error) {
	integ, err := a.localIntegration(in.StreamRef)
	if err != nil {
		return BeginBackfillResult{}, err
	}
	start, err := a.store.BeginBackfill(ctx, in.Integration, in.Object, in.Restart, a.now())
	if err != nil {
		return BeginBackfillResult{}, classify(ctx, "beginning backfill", err)
	}
	_, seekable := integ.Connector.(crm.Seeker)
	res := BeginBackfillResult{Resumed: start.Resumed, Lanes: integ.Config.LanesFor(), Seekable: seekable, Queues: a.queues(integ)}
	if _, ok := integ.Connector.(crm.BulkReader); ok && integ.Config.Backfill.BulkAbove > 0 && !start.Resumed {
		res.Bulkable = true
	}
	pages := int64(0)
	for _, p := range start.Partitions {
		res.Partitions = append(res.Partitions, Partition{Lo: p.Lo, Hi: p.Hi, Position: p.Position, Done: p.Done})
		pages += p.Pages
	}
	a.logger(ctx, in.StreamRef).Info("backfill begins", zap.Bool("resumed", res.Resumed), zap.Int("ranges", len(res.Partitions)),
		zap.Int64("pages_done", pages), zap.Int("lanes", res.Lanes))
	return res, nil
}

// BackfillPageInput asks for one page of a range of the full listing.
type BackfillPageInput struct {
	StreamRef
	// Lo and Hi bound the range the page belongs to.
	Lo string `json:"lo,omitempty"`
	Hi string `json:"hi,omitempty"`
	// Position is the page's token, as returned with the range's previous page; "" for a
	// range's first page (a seek to Lo, or the start of the listing when Lo is "").
	Position string `json:"position"`
	// PrevLastID is the last id of the range's previous page, to recognise the token's
	// format by.
	PrevLastID string `json:"prev_last_id,omitempty"`
}

// PageResult counts one page.
type PageResult struct {
	// Fetched is the number of records the CRM returned.
	Fetched int `json:"fetched"`
	// Written is the number of rows inserted or changed (re-reads of unchanged records and
	// copies older than what is stored write nothing).
	Written int `json:"written"`
	// Remaining is the CRM's remaining window quota after the call, -1 when not reported.
	Remaining int `json:"remaining"`
}

// BackfillPageResult is where the range continues.
type BackfillPageResult struct {
	PageResult
	// Next is the following page's token; empty at the end of the listing.
	Next string `json:"next"`
	// Done reports that the range is read: the listing ended, or the page reached Hi.
	Done bool `json:"done"`
	// FirstID and LastID are the page's first and last record ids.
	FirstID string `json:"first_id,omitempty"`
	LastID  string `json:"last_id,omitempty"`
	// Codec is the token format this page's token was recognised in ("" if not).
	Codec string `json:"codec,omitempty"`
}

// BackfillPage reads one page of live records and stores it with its range's new position
// in one transaction: one CRM request, one commit.
func (a *Activities) BackfillPage(ctx context.Context, in BackfillPageInput) (BackfillPageResult, error) {
	integ, err := a.integration(in.StreamRef)
	if err != nil {
		return BackfillPageResult{}, err
	}
	// A range other than the first starts with a seek: its first page must begin at Lo.
	seeked := in.Lo != "" && in.PrevLastID == ""
	key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.PartitionStream(in.Lo)}
	page, res, err := a.listPage(ctx, in.StreamRef, in.Position, false, &key, in.Hi)
	if err != nil {
		return BackfillPageResult{}, err
	}
	out := BackfillPageResult{PageResult: pageResult(len(page.Records), res, page.RateLimit), Next: page.Next}
	if n := len(page.Records); n > 0 {
		out.FirstID, out.LastID = page.Records[0].ID, page.Records[n-1].ID
	}
	out.Done = res.State.Done()
	seeker, canSeek := integ.Connector.(crm.Seeker)
	switch {
	case canSeek && !seeked && in.Position != "" && in.PrevLastID != "" && out.FirstID != "":
		out.Codec = seeker.SeekCodec(in.Position, in.PrevLastID, out.FirstID)
	case canSeek && in.Lo == "" && in.Position == "" && out.Next != "" && out.LastID != "":
		// The listing's first page: its token for the next page must encode an id above its
		// last one. The next page's first id is not known yet, so any such id qualifies;
		// every seek made with the codec is verified all the same.
		out.Codec = seeker.SeekCodec(out.Next, out.LastID, strconv.FormatUint(math.MaxUint64, 10))
	}
	if seeked && out.FirstID != "" && crm.CompareIDs(out.FirstID, in.Lo) < 0 && !justBefore(out.FirstID, in.Lo) {
		// The CRM did not start where the token said: seeking does not work after all. The
		// page is stored (it is valid data), but the range cannot be trusted to be complete.
		return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: a listing seeked to id %s started at %s; set backfill.lanes: 1 for this integration", in.StreamRef, in.Lo, out.FirstID),
			ErrTypeInvalidRequest, nil)
	}
	return out, nil
}

// justBefore reports whether id is lo-1, the one record a seek may include before lo.
func justBefore(id, lo string) bool {
	i, err1 := strconv.ParseUint(id, 10, 64)
	l, err2 := strconv.ParseUint(lo, 10, 64)
	return err1 == nil && err2 == nil && i+1 == l
}

// listPage reads one page of the live or archived listing and stores it. A live page moves
// the backfill stream's position in the same transaction; the archived listing keeps its
// position in the workflow, so a page of it moves nothing.
func (a *Activities) listPage(ctx context.Context, ref StreamRef, after string, archived bool, key *store.StreamKey, hi string) (crm.Page, store.WriteResult, error) {
	op := "listing " + ref.String()
	if archived {
		op = "listing archived " + ref.String()
	}
	integ, err := a.integration(ref)
	if err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	props, err := a.propertyNames(ctx, integ, ref.Object)
	if err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	defer heartbeatWhile(ctx)()
	page, _, err := a.reader(integ, op).List(ctx, crm.ListRequest{Object: ref.Object, After: after, Archived: archived, Properties: props})
	if err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	w := store.PageWrite{Key: store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamBackfill}, Records: page.Records}
	if archived {
		for i := range page.Records {
			// The archived listing's records are archived by definition, whatever a field says.
			page.Records[i].Archived = true
		}
	} else {
		w.Key = *key
		done := page.Next == ""
		if n := len(page.Records); n > 0 && hi != "" && crm.CompareIDs(page.Records[n-1].ID, hi) >= 0 {
			done = true
		}
		w.Advance.Position = &store.PositionMove{From: after, To: page.Next, Done: done}
	}
	res, err := a.writePage(ctx, w)
	if err != nil {
		return crm.Page{}, store.WriteResult{}, classify(ctx, "storing the page of "+op, err)
	}
	return page, res, nil
}

func pageResult(fetched int, res store.WriteResult, rl crm.RateLimit) PageResult {
	pr := PageResult{Fetched: fetched, Written: res.Inserted + res.Updated, Remaining: -1}
	if rl.WindowKnown {
		pr.Remaining = rl.Remaining
	}
	return pr
}

// ArchivedPageInput asks for one page of archived (deleted) records.
type ArchivedPageInput struct {
	StreamRef
	// After is the page's token ("" = the first page).
	After string `json:"after"`
}

// ArchivedPageResult is where the archived listing continues.
type ArchivedPageResult struct {
	PageResult
	// Next is the following page's token; empty after the last page.
	Next string `json:"next"`
}

// ArchivedPage reads one page of archived records and marks them deleted. The CRM's search
// never returns archived records, so this listing is how deletes reach PostgreSQL when
// nothing pushes them. The "only if newer" guard keeps a record restored since from being
// marked deleted again.
func (a *Activities) ArchivedPage(ctx context.Context, in ArchivedPageInput) (ArchivedPageResult, error) {
	page, res, err := a.listPage(ctx, in.StreamRef, in.After, true, nil, "")
	if err != nil {
		return ArchivedPageResult{}, err
	}
	return ArchivedPageResult{PageResult: pageResult(len(page.Records), res, page.RateLimit), Next: page.Next}, nil
}

// BeginDeltaResult is where a delta sync starts.
type BeginDeltaResult struct {
	// From is the first page's cursor: the point up to which every change is known to be
	// stored. See BeginDelta.
	From crm.Cursor `json:"from"`
	// HighWater is the stored cursor itself.
	HighWater crm.Cursor `json:"high_water"`
	// BackfillDone reports that a backfill of the object has completed at least once.
	BackfillDone bool `json:"backfill_done"`
	// DeletesDue reports that this delta should also walk the deleted records: the last
	// walk is older than the integration's delta.deletes_every.
	DeletesDue bool `json:"deletes_due"`
	// Queues says where the sync's CRM calls run.
	Queues Queues `json:"queues"`
}

// BeginDelta prepares a delta sync (PostgreSQL only; runs as a local activity). A stream
// that has never synced gets its cursor at the current time: its history is the
// backfill's job.
//
// The CRM's search index trails its writes by up to the integration's lag, so a change can
// appear in search after the cursor has moved past its timestamp. A run that started at S
// saw every change older than S - lag, so everything up to min(cursor, S - lag) is
// complete, and the next run starts there: a stream that changed recently re-reads the
// window; an idle one starts at its cursor and costs one call.
func (a *Activities) BeginDelta(ctx context.Context, ref StreamRef) (BeginDeltaResult, error) {
	integ, err := a.localIntegration(ref)
	if err != nil {
		return BeginDeltaResult{}, err
	}
	prev, err := a.store.StartDeltaRun(ctx, store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamDelta}, a.now())
	if err != nil {
		return BeginDeltaResult{}, classify(ctx, "starting delta run", err)
	}
	bf, err := a.store.Stream(ctx, store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamBackfill})
	if err != nil {
		return BeginDeltaResult{}, classify(ctx, "reading backfill state", err)
	}
	del, err := a.store.Stream(ctx, store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamDeletes})
	if err != nil {
		return BeginDeltaResult{}, classify(ctx, "reading the last walk of deleted records", err)
	}
	due := del.CompletedAt.IsZero() || a.now().Sub(del.CompletedAt) >= integ.Config.Delta.DeletesEvery.D()
	return BeginDeltaResult{From: deltaStart(prev.Cursor, prev.StartedAt, integ.Config.Delta.Lag.D()), HighWater: prev.Cursor,
		BackfillDone: bf.Done(), DeletesDue: due, Queues: a.queues(integ)}, nil
}

// deltaStart is where a delta run begins: the stored cursor, unless the previous run
// started less than lag after it (then changes just before it may not have been
// searchable yet, and the scan re-reads from prevStart - lag).
func deltaStart(cursor crm.Cursor, prevStart time.Time, lag time.Duration) crm.Cursor {
	safe := prevStart.Add(-lag)
	if cursor.ModifiedAt.After(safe) {
		return crm.Cursor{ModifiedAt: safe}
	}
	return crm.Cursor{ModifiedAt: cursor.ModifiedAt, ID: cursor.ID}
}

// DeltaPageInput asks for one page of changes.
type DeltaPageInput struct {
	StreamRef
	// From is the page's cursor.
	From crm.Cursor `json:"from"`
}

// DeltaPageResult is where the change scan continues.
type DeltaPageResult struct {
	PageResult
	// Next is the following page's cursor.
	Next crm.Cursor `json:"next"`
	// More reports that further changes may follow; false means caught up.
	More bool `json:"more"`
}

// DeltaPage reads one page of changes and stores it, raising the stream's high-water mark
// in the same transaction (a re-read of the lag window never lowers it).
//
// Changes count against the search limit where the CRM reads them with its search endpoint
// (HubSpot), and against the window elsewhere (a filtered list or query).
func (a *Activities) DeltaPage(ctx context.Context, in DeltaPageInput) (DeltaPageResult, error) {
	integ, err := a.integration(in.StreamRef)
	if err != nil {
		return DeltaPageResult{}, err
	}
	props, err := a.propertyNames(ctx, integ, in.Object)
	if err != nil {
		return DeltaPageResult{}, err
	}
	defer heartbeatWhile(ctx)()
	page, _, err := a.reader(integ, "reading changes of "+in.String()).Changes(ctx, crm.ChangesRequest{Object: in.Object, From: in.From, Properties: props})
	if err != nil {
		return DeltaPageResult{}, err
	}
	key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamDelta}
	next := page.Next
	res, err := a.writePage(ctx, store.PageWrite{Key: key, Records: page.Records, Advance: store.Advance{Cursor: &next}})
	if err != nil {
		return DeltaPageResult{}, classify(ctx, "storing changes of "+in.String(), err)
	}
	switch now := a.now(); {
	case !page.More:
		a.metrics.SyncLag(in.Integration, string(in.Object), 0)
		a.metrics.CaughtUp(in.Integration, string(in.Object), now)
	case !next.ModifiedAt.IsZero():
		a.metrics.SyncLag(in.Integration, string(in.Object), now.Sub(next.ModifiedAt))
	}
	return DeltaPageResult{PageResult: pageResult(len(page.Records), res, page.RateLimit), Next: page.Next, More: page.More}, nil
}

// FinishDeltaInput says what a delta sync did.
type FinishDeltaInput struct {
	StreamRef
	// DeletesRead reports that the delta walked the deleted records.
	DeletesRead bool `json:"deletes_read,omitempty"`
}

// FinishDelta records that a delta sync caught up, and when it walked the deleted records
// (PostgreSQL only; a local activity).
func (a *Activities) FinishDelta(ctx context.Context, in FinishDeltaInput) error {
	if _, err := a.localIntegration(in.StreamRef); err != nil {
		return err
	}
	if in.DeletesRead {
		if err := a.store.MarkPassDone(ctx, store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamDeletes}); err != nil {
			return classify(ctx, "recording the walk of deleted records", err)
		}
	}
	err := a.store.MarkCompleted(ctx, store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamDelta})
	return classify(ctx, "finishing delta", err)
}

// RefreshPropertiesResult says what was loaded.
type RefreshPropertiesResult struct {
	// Count is the number of properties the object has.
	Count int `json:"count"`
}

// RefreshProperties brings the stream's reference data up to date through the fleet-wide
// cache: the object's property definitions (page activities then ask for exactly these),
// the account's owners, and for deals the pipelines and stages, from which owner and stage
// labels resolve without live calls (the records_labeled view). Each kind is refreshed
// only when its copy is older than its TTL, by one worker at a time, one CRM call a page.
// Owners and pipelines only serve labels: failing to read them (a token without the owners
// scope) is logged and leaves the last copy in use.
func (a *Activities) RefreshProperties(ctx context.Context, ref StreamRef) (RefreshPropertiesResult, error) {
	res, err := a.RefreshPropertyList(ctx, ref)
	if err != nil {
		return res, err
	}
	return res, a.RefreshLabels(ctx, ref)
}

// RefreshPropertyList is RefreshProperties without the owners and pipelines: all a listing
// needs before its first page, so that a backfill's lanes need not wait for the rest.
func (a *Activities) RefreshPropertyList(ctx context.Context, ref StreamRef) (RefreshPropertiesResult, error) {
	integ, err := a.integration(ref)
	if err != nil {
		return RefreshPropertiesResult{}, err
	}
	defer heartbeatWhile(ctx)()
	count := len(integ.Config.Properties[ref.Object])
	if count == 0 {
		props, _, err := a.refs.Properties(ctx, ref.Integration, ref.Object)
		if err != nil {
			return RefreshPropertiesResult{}, classify(ctx, "reading properties of "+ref.String(), err)
		}
		if len(props) == 0 {
			return RefreshPropertiesResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("reading properties of %s: the CRM returned none", ref), ErrTypeInvalidRequest, nil)
		}
		count = len(props)
		a.mu.Lock()
		delete(a.propsCache, propsKey{ref.Integration, ref.Object})
		a.mu.Unlock()
	}
	return RefreshPropertiesResult{Count: count}, nil
}

// RefreshLabels is the rest of RefreshProperties: the owners (and a deal stream's
// pipelines) that labels are resolved with. Failing to read them is logged, not returned.
func (a *Activities) RefreshLabels(ctx context.Context, ref StreamRef) error {
	if _, err := a.integration(ref); err != nil {
		return err
	}
	defer heartbeatWhile(ctx)()
	log := a.logger(ctx, ref)
	if _, info, err := a.refs.Owners(ctx, ref.Integration); err != nil || info.RefreshErr != nil {
		log.Warn("owners not refreshed; owner labels use the last copy", zap.Error(cmp.Or(err, info.RefreshErr)))
	}
	if ref.Object == crm.Deals {
		if _, info, err := a.refs.Pipelines(ctx, ref.Integration, ref.Object); err != nil || info.RefreshErr != nil {
			log.Warn("pipelines not refreshed; stage labels use the last copy", zap.Error(cmp.Or(err, info.RefreshErr)))
		}
	}
	return nil
}

// PropertiesStale reports whether the stream's reference data (property list, owners,
// deal pipelines) is missing or older than its TTL, so that the workflow refreshes it
// before reading pages (PostgreSQL only; a local activity). A property list pinned in the
// config is never stale.
func (a *Activities) PropertiesStale(ctx context.Context, ref StreamRef) (bool, error) {
	integ, err := a.localIntegration(ref)
	if err != nil {
		return false, err
	}
	keys := []store.ReferenceKey{{Kind: store.RefOwners}}
	if len(integ.Config.Properties[ref.Object]) == 0 {
		keys = append(keys, store.ReferenceKey{Kind: store.RefProperties, Object: ref.Object})
	}
	if ref.Object == crm.Deals {
		keys = append(keys, store.ReferenceKey{Kind: store.RefPipelines, Object: ref.Object})
	}
	for _, k := range keys {
		fetched, found, err := a.store.GetReference(ctx, integ.Config.ID, k.Kind, k.Object, nil)
		if err != nil {
			return false, classify(ctx, "reading reference data", err)
		}
		if !found || a.now().Sub(fetched) > a.refs.TTL(k.Kind) {
			return true, nil
		}
	}
	return false, nil
}

// propsCacheTTL bounds how long a worker uses its in-memory copy of a property list before
// re-reading PostgreSQL, where another worker may have refreshed it.
const propsCacheTTL = time.Minute

// propertyNames is the list of properties to request for obj: pinned by the config, or the
// CRM's full list as last refreshed.
func (a *Activities) propertyNames(ctx context.Context, integ *Integration, obj crm.Object) ([]string, error) {
	if pinned := integ.Config.Properties[obj]; len(pinned) > 0 {
		return pinned, nil
	}
	k := propsKey{integ.Config.ID, obj}
	a.mu.Lock()
	e, ok := a.propsCache[k]
	a.mu.Unlock()
	if ok && a.now().Sub(e.loaded) < propsCacheTTL {
		return e.names, nil
	}
	var props []crm.Property
	_, found, err := a.store.GetReference(ctx, integ.Config.ID, store.RefProperties, obj, &props)
	if err != nil {
		return nil, classify(ctx, "reading properties", err)
	}
	if !found {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the property list of %s/%s is not loaded (RefreshProperties runs first)", integ.Config.ID, obj), ErrTypeConfig, nil)
	}
	names := make([]string, 0, len(props))
	for _, p := range props {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	a.mu.Lock()
	a.propsCache[k] = propsEntry{names: names, loaded: a.now()}
	a.mu.Unlock()
	return names, nil
}

// LastIDResult bounds a listing for splitting into id ranges.
type LastIDResult struct {
	// ID is the largest live id ("" when there is none).
	ID string `json:"id"`
	// Total is how many live records there are.
	Total int `json:"total"`
}

// LastID reads the largest live id and the live record count (one search call), from which
// a backfill splits the listing into id ranges of equal width.
func (a *Activities) LastID(ctx context.Context, in StreamRef) (LastIDResult, error) {
	integ, err := a.integration(in)
	if err != nil {
		return LastIDResult{}, err
	}
	seeker, ok := integ.Connector.(crm.Seeker)
	if !ok {
		return LastIDResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the %s connector cannot read a listing by id range", in, integ.Connector.Provider()), ErrTypeConfig, nil)
	}
	var res LastIDResult
	err = a.crmCall(ctx, integ, ratelimit.KindSearch, "finding the last id of "+in.String(), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		res.ID, res.Total, rl, err = seeker.LastID(ctx, in.Object)
		return rl, err
	})
	return res, err
}

// NthIDInput asks for the id n places after another in id order.
type NthIDInput struct {
	StreamRef
	// After is the id to count from ("" = the start).
	After string `json:"after"`
	// N is how many ids to skip (below the connector's MaxNth).
	N int `json:"n"`
}

// NthIDResult is an id found by rank.
type NthIDResult struct {
	// ID is "" when fewer than N+1 ids follow After.
	ID string `json:"id"`
	// Total is how many ids follow After.
	Total int `json:"total"`
	// MaxNth bounds the next call's N.
	MaxNth int `json:"max_nth"`
}

// NthID reads the id N places after After (one search call). Backfills planned by crmsync
// before LastID picked their range boundaries by rank with it; it stays registered so that
// such a backfill, still planning when the worker is upgraded, can finish its plan.
func (a *Activities) NthID(ctx context.Context, in NthIDInput) (NthIDResult, error) {
	integ, err := a.integration(in.StreamRef)
	if err != nil {
		return NthIDResult{}, err
	}
	seeker, ok := integ.Connector.(crm.RankSeeker)
	if !ok {
		return NthIDResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the %s connector cannot find ids by rank", in.StreamRef, integ.Connector.Provider()), ErrTypeConfig, nil)
	}
	res := NthIDResult{MaxNth: seeker.MaxNth()}
	err = a.crmCall(ctx, integ, ratelimit.KindSearch, "finding a range boundary of "+in.String(), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		res.ID, res.Total, rl, err = seeker.NthID(ctx, in.Object, in.After, in.N)
		return rl, err
	})
	return res, err
}

// SplitRangeInput asks to split a backfill's range into more ranges.
type SplitRangeInput struct {
	StreamRef
	// From is the Lo of the range to split, Hi its end as the workflow knows it.
	From string `json:"from"`
	Hi   string `json:"hi"`
	// Los are the new ranges' first ids, ascending, all above what From has read.
	Los []string `json:"los"`
	// Codec is the recognised listing token format the new ranges start with.
	Codec string `json:"codec"`
}

// SplitRangeResult gives each new range its first page's token.
type SplitRangeResult struct {
	Positions []string `json:"positions"`
}

// SplitRange splits a backfill's range (PostgreSQL and the connector's token encoding only;
// a local activity). The new ranges are stored, each with the token that starts its
// listing, in one transaction with the old range ending where the first begins, so a crash
// can never leave ids that no range covers; a retried split changes nothing.
func (a *Activities) SplitRange(ctx context.Context, in SplitRangeInput) (SplitRangeResult, error) {
	integ, err := a.localIntegration(in.StreamRef)
	if err != nil {
		return SplitRangeResult{}, err
	}
	seeker, ok := integ.Connector.(crm.Seeker)
	if !ok {
		return SplitRangeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the %s connector cannot start a listing at an id", in.StreamRef, integ.Connector.Provider()), ErrTypeConfig, nil)
	}
	parts := make([]store.Partition, len(in.Los))
	res := SplitRangeResult{Positions: make([]string, len(in.Los))}
	for k, lo := range in.Los {
		tok, err := seeker.SeekToken(in.Codec, lo)
		if err != nil {
			return SplitRangeResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", in.StreamRef, err), ErrTypeConfig, nil)
		}
		parts[k], res.Positions[k] = store.Partition{Lo: lo, Position: tok}, tok
	}
	if err := a.store.SplitPartition(ctx, in.Integration, in.Object, in.From, in.Hi, parts); err != nil {
		return SplitRangeResult{}, classify(ctx, "splitting a backfill range", err)
	}
	return res, nil
}

// FinishBackfill records that every range of the backfill has been read (PostgreSQL only;
// a local activity): the object's backfill is complete.
func (a *Activities) FinishBackfill(ctx context.Context, ref StreamRef) error {
	if _, err := a.localIntegration(ref); err != nil {
		return err
	}
	if _, err := a.store.FinishBackfill(ctx, ref.Integration, ref.Object); err != nil {
		return classify(ctx, "finishing backfill", err)
	}
	// The backfill walked the deleted records too.
	err := a.store.MarkPassDone(ctx, store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamDeletes})
	return classify(ctx, "recording the walk of deleted records", err)
}

// changesKind is the ledger kind a connector's Changes calls count against.
func changesKind(in *Integration) string {
	if s, ok := in.Connector.(crm.ChangesBySearch); ok && s.ChangesBySearch() {
		return ratelimit.KindSearch
	}
	return ratelimit.KindWindow
}

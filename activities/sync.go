package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// BeginBackfillInput starts or resumes a backfill.
type BeginBackfillInput struct {
	StreamRef
	// Restart discards an unfinished backfill's position and lists from the first page.
	Restart bool `json:"restart,omitempty"`
}

// BeginBackfillResult is where the backfill starts.
type BeginBackfillResult struct {
	// Position is the next page's token ("" = the first page).
	Position string `json:"position"`
	// Resumed reports that an earlier, unfinished backfill is being continued.
	Resumed bool `json:"resumed"`
	// Pages and Records are what the backfill had already done.
	Pages   int64 `json:"pages"`
	Records int64 `json:"records"`
}

// BeginBackfill prepares the backfill stream (PostgreSQL only; runs as a local activity).
// It also creates the delta cursor at the current time if the stream has none, so that
// changes made while the backfill runs are caught by the next delta.
func (a *Activities) BeginBackfill(ctx context.Context, in BeginBackfillInput) (BeginBackfillResult, error) {
	if _, err := a.localIntegration(in.StreamRef); err != nil {
		return BeginBackfillResult{}, err
	}
	key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamBackfill}
	before, err := a.store.Stream(ctx, key)
	if err != nil {
		return BeginBackfillResult{}, classify(ctx, "reading backfill state", err)
	}
	st, err := a.store.BeginBackfill(ctx, key, in.Restart, a.now())
	if err != nil {
		return BeginBackfillResult{}, classify(ctx, "beginning backfill", err)
	}
	resumed := before.Exists && !before.Done() && !in.Restart
	a.logger(ctx, in.StreamRef).Info("backfill begins", zap.Bool("resumed", resumed), zap.Int64("pages_done", st.Pages))
	return BeginBackfillResult{Position: st.Position, Resumed: resumed, Pages: st.Pages, Records: st.Records}, nil
}

// BackfillPageInput asks for one page of the full listing.
type BackfillPageInput struct {
	StreamRef
	// Position is the page's token, as returned by the previous page or BeginBackfill.
	Position string `json:"position"`
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

// BackfillPageResult is where the listing continues.
type BackfillPageResult struct {
	PageResult
	// Next is the following page's token; empty with Done.
	Next string `json:"next"`
	// Done reports that this was the listing's last page.
	Done bool `json:"done"`
}

// BackfillPage reads one page of live records and stores it with the stream's new position
// in one transaction: one CRM request, one commit.
func (a *Activities) BackfillPage(ctx context.Context, in BackfillPageInput) (BackfillPageResult, error) {
	page, res, err := a.listPage(ctx, in.StreamRef, in.Position, false)
	if err != nil {
		return BackfillPageResult{}, err
	}
	return BackfillPageResult{PageResult: pageResult(len(page.Records), res, page.RateLimit), Next: page.Next, Done: page.Next == ""}, nil
}

// listPage reads one page of the live or archived listing and stores it. A live page moves
// the backfill stream's position in the same transaction; the archived listing keeps its
// position in the workflow, so a page of it moves nothing.
func (a *Activities) listPage(ctx context.Context, ref StreamRef, after string, archived bool) (crm.Page, store.WriteResult, error) {
	op := "listing " + ref.String()
	if archived {
		op = "listing archived " + ref.String()
	}
	integ, err := a.integration(ref)
	if err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	if err := a.gated(integ, windowCall, op); err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	props, err := a.propertyNames(ctx, integ, ref.Object)
	if err != nil {
		return crm.Page{}, store.WriteResult{}, err
	}
	defer heartbeatWhile(ctx)()
	page, err := integ.Connector.List(ctx, crm.ListRequest{Object: ref.Object, After: after, Archived: archived, Properties: props})
	if err != nil {
		a.observe(integ, err)
		return crm.Page{}, store.WriteResult{}, classify(ctx, op, err)
	}
	w := store.PageWrite{Key: store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamBackfill}, Records: page.Records}
	if archived {
		for i := range page.Records {
			// The archived listing's records are archived by definition, whatever a field says.
			page.Records[i].Archived = true
		}
	} else {
		w.Advance.Position = &store.PositionMove{From: after, To: page.Next, Done: page.Next == ""}
	}
	res, err := a.store.WritePage(ctx, w)
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
	page, res, err := a.listPage(ctx, in.StreamRef, in.After, true)
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
	return BeginDeltaResult{From: deltaStart(prev.Cursor, prev.StartedAt, integ.Config.Delta.Lag.D()), HighWater: prev.Cursor, BackfillDone: bf.Done()}, nil
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
func (a *Activities) DeltaPage(ctx context.Context, in DeltaPageInput) (DeltaPageResult, error) {
	integ, err := a.integration(in.StreamRef)
	if err != nil {
		return DeltaPageResult{}, err
	}
	if err := a.gated(integ, searchCall, "reading changes of "+in.String()); err != nil {
		return DeltaPageResult{}, err
	}
	props, err := a.propertyNames(ctx, integ, in.Object)
	if err != nil {
		return DeltaPageResult{}, err
	}
	defer heartbeatWhile(ctx)()
	page, err := integ.Connector.Changes(ctx, crm.ChangesRequest{Object: in.Object, From: in.From, Properties: props})
	if err != nil {
		a.observe(integ, err)
		return DeltaPageResult{}, classify(ctx, "reading changes of "+in.String(), err)
	}
	key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamDelta}
	next := page.Next
	res, err := a.store.WritePage(ctx, store.PageWrite{Key: key, Records: page.Records, Advance: store.Advance{Cursor: &next}})
	if err != nil {
		return DeltaPageResult{}, classify(ctx, "storing changes of "+in.String(), err)
	}
	return DeltaPageResult{PageResult: pageResult(len(page.Records), res, page.RateLimit), Next: page.Next, More: page.More}, nil
}

// FinishDelta records that a delta sync caught up (PostgreSQL only; a local activity).
func (a *Activities) FinishDelta(ctx context.Context, ref StreamRef) error {
	if _, err := a.localIntegration(ref); err != nil {
		return err
	}
	err := a.store.MarkCompleted(ctx, store.StreamKey{Integration: ref.Integration, Object: ref.Object, Stream: store.StreamDelta})
	return classify(ctx, "finishing delta", err)
}

// RefreshPropertiesResult says what was loaded.
type RefreshPropertiesResult struct {
	// Count is the number of properties the object has.
	Count int `json:"count"`
}

// RefreshProperties reads an object's property definitions from the CRM (one request) and
// stores them for every worker. Page activities then ask for exactly these properties.
func (a *Activities) RefreshProperties(ctx context.Context, ref StreamRef) (RefreshPropertiesResult, error) {
	integ, err := a.integration(ref)
	if err != nil {
		return RefreshPropertiesResult{}, err
	}
	if err := a.gated(integ, windowCall, "reading properties of "+ref.String()); err != nil {
		return RefreshPropertiesResult{}, err
	}
	props, _, err := integ.Connector.Properties(ctx, ref.Object)
	if err != nil {
		a.observe(integ, err)
		return RefreshPropertiesResult{}, classify(ctx, "reading properties of "+ref.String(), err)
	}
	if len(props) == 0 {
		return RefreshPropertiesResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("reading properties of %s: the CRM returned none", ref), ErrTypeInvalidRequest, nil)
	}
	if err := a.store.PutReference(ctx, ref.Integration, store.RefProperties, ref.Object, props); err != nil {
		return RefreshPropertiesResult{}, classify(ctx, "storing properties of "+ref.String(), err)
	}
	a.mu.Lock()
	delete(a.propsCache, propsKey{ref.Integration, ref.Object})
	a.mu.Unlock()
	return RefreshPropertiesResult{Count: len(props)}, nil
}

// PropertiesStale reports whether the object's stored property list is missing or older
// than the TTL, so that the workflow refreshes it before reading pages (PostgreSQL only; a
// local activity). A list pinned in the config is never stale.
func (a *Activities) PropertiesStale(ctx context.Context, ref StreamRef) (bool, error) {
	integ, err := a.localIntegration(ref)
	if err != nil {
		return false, err
	}
	if len(integ.Config.Properties[ref.Object]) > 0 {
		return false, nil
	}
	fetched, found, err := a.store.GetReference(ctx, integ.Config.ID, store.RefProperties, ref.Object, nil)
	if err != nil {
		return false, classify(ctx, "reading properties", err)
	}
	return !found || a.now().Sub(fetched) > a.propertiesTTL, nil
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

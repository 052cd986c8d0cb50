package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
)

// AssociationsPageInput asks for the associations of one page of stored records: those
// of From to records of To, for the live From records after After in id order.
type AssociationsPageInput struct {
	Integration string     `json:"integration"`
	From        crm.Object `json:"from"`
	To          crm.Object `json:"to"`
	// After is the previous page's Next ("" = the first page).
	After string `json:"after"`
}

// AssociationsPageResult counts one page and says where the next starts.
type AssociationsPageResult struct {
	// Next is the following page's After: this page's last record id.
	Next string `json:"next"`
	// Done reports that this page was the last.
	Done bool `json:"done"`
	// Records is how many records the page read the associations of.
	Records int `json:"records"`
	// Links is how many associations it stored (a link of two types counts twice).
	Links int `json:"links"`
	// Calls is how many CRM calls it made: one for the page, plus one for each further
	// page of the records whose associations did not fit (up to a batch of such records
	// per call).
	Calls int `json:"calls"`
	// Remaining is the CRM's remaining window quota after the last call, -1 when not
	// reported.
	Remaining int `json:"remaining"`
}

// associationsProgress is what a SyncAssociations attempt heartbeats once the page's first
// call is stored, so that a retry goes on with the records whose associations continue
// instead of reading the page, and spending its calls, again.
type associationsProgress struct {
	Input  AssociationsPageInput   `json:"input"`
	Result AssociationsPageResult  `json:"result"`
	More   []crm.AssociationCursor `json:"more,omitempty"`
}

// SyncAssociations reads the associations of one page of stored records with one batch
// call (the connector's AssociationBatchSize records), never one call per record, and
// replaces the page's stored associations with them in one transaction. Records whose
// associations do not fit one page are then read on together, a batch of them per call,
// each further page added to what is stored. The record ids come from PostgreSQL, so the
// object must be backfilled first; only counts and the next id reach the workflow.
func (a *Activities) SyncAssociations(ctx context.Context, in AssociationsPageInput) (AssociationsPageResult, error) {
	ref := StreamRef{Integration: in.Integration, Object: in.From}
	integ, err := a.integration(ref)
	if err != nil {
		return AssociationsPageResult{}, err
	}
	pair := crm.AssociationPair{From: in.From, To: in.To}
	if !pair.Supported() {
		return AssociationsPageResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: associations %s are not synced (want one of %v)", in.Integration, pair, crm.AssociationPairs), ErrTypeConfig, nil)
	}
	reader, ok := integ.Connector.(crm.AssociationReader)
	if !ok {
		return AssociationsPageResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the %s connector cannot read associations", in.Integration, integ.Connector.Provider()), ErrTypeConfig, nil)
	}
	op := fmt.Sprintf("reading %s associations of %s", pair, in.Integration)
	beat, stop := heartbeatProgress(ctx)
	defer stop()

	p, resumed := resumedAssociations(ctx, in)
	if !resumed {
		p, err = a.firstAssociationsPage(ctx, integ, reader, in, op)
		if err != nil {
			return AssociationsPageResult{}, err
		}
	}
	// At once, also when resumed: the periodic heartbeat must not erase the progress.
	beat(p)
	for len(p.More) > 0 {
		batch := p.More[:min(len(p.More), reader.AssociationBatchSize())]
		var page crm.AssociationPage
		err := a.crmCall(ctx, integ, ratelimit.KindWindow, op, func(ctx context.Context) (crm.RateLimit, error) {
			var err error
			page, err = reader.ContinueAssociations(ctx, in.From, in.To, batch)
			return page.RateLimit, err
		})
		if err != nil {
			return AssociationsPageResult{}, err
		}
		n, err := a.store.AddAssociations(ctx, in.Integration, in.From, in.To, page.Links)
		if err != nil {
			return AssociationsPageResult{}, classify(ctx, "storing "+op, err)
		}
		a.metrics.AssociationsWritten(in.Integration, string(in.From), string(in.To), n)
		p.Result.Calls++
		p.Result.Links += n
		p.Result.Remaining = remaining(page.RateLimit)
		// A new slice each round: the heartbeat may still be encoding the previous one.
		p.More = append(append([]crm.AssociationCursor(nil), page.More...), p.More[len(batch):]...)
		beat(p)
	}
	return p.Result, nil
}

// firstAssociationsPage reads the page's record ids, their first page of associations with
// one call, and replaces the page's stored associations with them.
func (a *Activities) firstAssociationsPage(ctx context.Context, integ *Integration, reader crm.AssociationReader, in AssociationsPageInput, op string) (associationsProgress, error) {
	size := reader.AssociationBatchSize()
	ids, err := a.store.RecordIDsAfter(ctx, in.Integration, in.From, in.After, size)
	if err != nil {
		return associationsProgress{}, classify(ctx, "listing the records for "+op, err)
	}
	p := associationsProgress{Input: in, Result: AssociationsPageResult{Next: in.After, Done: len(ids) < size, Records: len(ids), Remaining: -1}}
	span := store.AssociationSpan{Integration: in.Integration, From: in.From, To: in.To, After: in.After}
	if len(ids) > 0 {
		p.Result.Next = ids[len(ids)-1]
	}
	if !p.Result.Done {
		// The last page stays open-ended, so that records deleted after the last live one
		// lose their links too.
		span.Through = p.Result.Next
	}
	var page crm.AssociationPage
	if len(ids) > 0 {
		err = a.crmCall(ctx, integ, ratelimit.KindWindow, op, func(ctx context.Context) (crm.RateLimit, error) {
			var err error
			page, err = reader.BatchAssociations(ctx, in.From, in.To, ids)
			return page.RateLimit, err
		})
		if err != nil {
			return associationsProgress{}, err
		}
		p.Result.Calls, p.Result.Remaining = 1, remaining(page.RateLimit)
	}
	span.Links = page.Links
	if p.Result.Links, err = a.store.ReplaceAssociations(ctx, span); err != nil {
		return associationsProgress{}, classify(ctx, "storing "+op, err)
	}
	a.metrics.AssociationsWritten(in.Integration, string(in.From), string(in.To), p.Result.Links)
	p.More = page.More
	return p, nil
}

// resumedAssociations is the progress a previous attempt of the same page heartbeat, if
// any.
func resumedAssociations(ctx context.Context, in AssociationsPageInput) (associationsProgress, bool) {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return associationsProgress{}, false
	}
	var p associationsProgress
	if err := activity.GetHeartbeatDetails(ctx, &p); err != nil || p.Input != in {
		return associationsProgress{}, false
	}
	return p, true
}

func remaining(rl crm.RateLimit) int {
	if !rl.WindowKnown {
		return -1
	}
	return rl.Remaining
}

// heartbeatProgress is heartbeatWhile for an activity that resumes from its progress: it
// heartbeats the latest progress given to beat, at once and every two seconds, where
// heartbeatWhile's bare heartbeats would erase it.
func heartbeatProgress(ctx context.Context) (beat func(any), stop func()) {
	if !activity.IsActivity(ctx) {
		return func(any) {}, func() {}
	}
	var mu sync.Mutex
	var latest any
	send := func() {
		mu.Lock()
		defer mu.Unlock()
		if latest == nil {
			activity.RecordHeartbeat(ctx)
			return
		}
		activity.RecordHeartbeat(ctx, latest)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				send()
			}
		}
	})
	beat = func(details any) {
		mu.Lock()
		latest = details
		mu.Unlock()
		send()
	}
	return beat, func() {
		close(done)
		wg.Wait()
	}
}

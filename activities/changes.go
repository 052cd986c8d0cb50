package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// Change is one record the CRM reported changed (a webhook event): its id and whether it
// was deleted, never its data, which is read from the CRM when the change is applied.
type Change struct {
	ID         string    `json:"id"`
	Deleted    bool      `json:"deleted,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// EventID is the CRM's id of the event, for tracing a delivery.
	EventID int64 `json:"event_id,omitempty"`
}

// ApplyChangesInput is one batch of changed records of a stream, at most the connector's
// batch size of them changed (not deleted).
type ApplyChangesInput struct {
	StreamRef
	Changes []Change `json:"changes"`
}

// ApplyChangesResult counts what a batch did.
type ApplyChangesResult struct {
	PageResult
	// Calls is the CRM calls the batch made: one batch read for its changed records, one
	// for its deleted ones (their archived copies).
	Calls int `json:"calls"`
	// Deleted counts deleted records written (archived copies, soft deletes, tombstones).
	Deleted int `json:"deleted"`
	// Missing counts ids the CRM did not return in the state the event said (changed but
	// deleted since, or deleted and restored since, or purged): their later event, or the
	// reconciliation pass, settles them.
	Missing int `json:"missing"`
}

// ApplyChanges reads the records of a batch with one batch-read call for the changed ones
// and one for the deleted ones (the copies their deletion left, with the properties it
// changed), and upserts them with the "only if newer" guard: a webhook racing a delta or a
// backfill never writes an older copy over a newer one, in either order. A deleted record
// the CRM no longer returns (purged, or restored since) is soft-deleted as of its event,
// which again only a newer version undoes.
func (a *Activities) ApplyChanges(ctx context.Context, in ApplyChangesInput) (ApplyChangesResult, error) {
	integ, err := a.integration(in.StreamRef)
	if err != nil {
		return ApplyChangesResult{}, err
	}
	var reads, dels []string
	deletedAt := map[string]time.Time{}
	seen := make(map[string]bool, len(in.Changes))
	for _, c := range in.Changes {
		switch {
		case c.ID == "":
			return ApplyChangesResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("applying changes of %s: a change without an id", in.StreamRef), ErrTypeInvalidRequest, nil)
		case seen[c.ID]:
			return ApplyChangesResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("applying changes of %s: record %s twice in one batch", in.StreamRef, c.ID), ErrTypeInvalidRequest, nil)
		case c.Deleted:
			dels = append(dels, c.ID)
			deletedAt[c.ID] = c.OccurredAt
		default:
			reads = append(reads, c.ID)
		}
		seen[c.ID] = true
	}
	if n := integ.Connector.BatchSize(); len(reads) > n || len(dels) > n {
		return ApplyChangesResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("applying changes of %s: %d changed and %d deleted records in one batch, the CRM reads at most %d at once",
				in.StreamRef, len(reads), len(dels), n), ErrTypeInvalidRequest, nil)
	}
	out := ApplyChangesResult{PageResult: PageResult{Remaining: -1}}
	if len(reads)+len(dels) == 0 {
		return out, nil
	}
	props, err := a.propertyNames(ctx, integ, in.Object)
	if err != nil {
		return ApplyChangesResult{}, err
	}
	defer heartbeatWhile(ctx)()
	// Pushed changes are what users watch for: they go ahead of a backfill's pages.
	ctx = realtime(ctx)
	for _, group := range []struct {
		ids      []string
		archived bool
	}{{reads, false}, {dels, true}} {
		if len(group.ids) == 0 {
			continue
		}
		slices.SortFunc(group.ids, strings.Compare)
		op := "reading changed " + in.String()
		if group.archived {
			op = "reading deleted " + in.String()
		}
		page, calls, err := a.reader(integ, op).BatchRead(ctx, crm.BatchReadRequest{Object: in.Object, IDs: group.ids, Properties: props, Archived: group.archived})
		out.Calls += calls.Total()
		if err != nil {
			return ApplyChangesResult{}, err
		}
		key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamWebhook}
		res, err := a.writePage(ctx, store.PageWrite{Key: key, Records: page.Records})
		if err != nil {
			return ApplyChangesResult{}, classify(ctx, "storing "+op, err)
		}
		pr := pageResult(len(page.Records), res, page.RateLimit)
		out.Fetched += pr.Fetched
		out.Written += pr.Written
		out.Remaining = pr.Remaining
		out.Missing += len(group.ids) - len(page.Records)
		if !group.archived {
			continue
		}
		out.Deleted += res.Inserted + res.Updated
		returned := make(map[string]bool, len(page.Records))
		for _, r := range page.Records {
			returned[r.ID] = true
		}
		var gone []store.Deletion
		for _, id := range group.ids {
			if !returned[id] {
				gone = append(gone, store.Deletion{ID: id, At: deletedAt[id]})
			}
		}
		n, err := a.store.MarkDeleted(ctx, in.Integration, in.Object, gone)
		if err != nil {
			return ApplyChangesResult{}, classify(ctx, "applying deletions of "+in.String(), err)
		}
		a.metrics.RecordsWritten(in.Integration, string(in.Object), n)
		out.Deleted += n
	}
	return out, nil
}

// Route says which task queues a stream's CRM calls run on (a local activity: the choice
// is the worker's configuration, recorded in the workflow's history when it starts).
func (a *Activities) Route(_ context.Context, ref StreamRef) (Queues, error) {
	integ, err := a.localIntegration(ref)
	if err != nil {
		return Queues{}, err
	}
	return a.queues(integ), nil
}

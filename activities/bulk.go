package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
)

// bulkPageRecords is the most records one results page of a bulk export holds: each page
// is one API call, and its records are streamed to PostgreSQL bulkWriteBatch at a time,
// so the page's size costs no memory; but the whole page must arrive within the worker's
// HTTP timeout.
const bulkPageRecords = 10_000

// bulkWriteBatch is how many records of a results page go to PostgreSQL in one write.
const bulkWriteBatch = 1000

// BulkPlanResult says whether a backfill reads its object with a bulk export.
type BulkPlanResult struct {
	// Bulk: the object holds at least backfill.bulk_above records and the CRM exports.
	Bulk bool `json:"bulk"`
	// Records is the object's live record count, when it was read.
	Records int `json:"records"`
}

// BulkPlan decides whether a backfill uses the CRM's bulk export (Salesforce Bulk API
// 2.0): one count call, made only for a connector that can export and a config that allows it.
func (a *Activities) BulkPlan(ctx context.Context, ref StreamRef) (BulkPlanResult, error) {
	integ, err := a.integration(ref)
	if err != nil {
		return BulkPlanResult{}, err
	}
	bulk, ok := integ.Connector.(crm.BulkReader)
	threshold := integ.Config.Backfill.BulkAbove
	if !ok || threshold <= 0 {
		return BulkPlanResult{}, nil
	}
	var n int
	err = a.crmCall(ctx, integ, ratelimit.KindWindow, "counting "+ref.String(), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		n, rl, err = bulk.Count(ctx, ref.Object)
		return rl, err
	})
	if err != nil {
		return BulkPlanResult{}, err
	}
	return BulkPlanResult{Bulk: n >= threshold, Records: n}, nil
}

// BulkJobInput names a bulk export job of a stream.
type BulkJobInput struct {
	StreamRef
	JobID string `json:"job_id"`
}

// BulkStart starts the export of every live record of the stream's object, with its
// property list, and returns the job's id.
func (a *Activities) BulkStart(ctx context.Context, ref StreamRef) (string, error) {
	integ, bulk, err := a.bulkReader(ref)
	if err != nil {
		return "", err
	}
	props, err := a.propertyNames(ctx, integ, ref.Object)
	if err != nil {
		return "", err
	}
	var id string
	err = a.crmCall(ctx, integ, ratelimit.KindWindow, "starting the export of "+ref.String(), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		id, rl, err = bulk.StartQuery(ctx, ref.Object, props)
		return rl, err
	})
	return id, err
}

// BulkPoll reports whether an export job has completed. One call; the workflow waits
// between polls on a durable timer.
func (a *Activities) BulkPoll(ctx context.Context, in BulkJobInput) (bool, error) {
	integ, bulk, err := a.bulkReader(in.StreamRef)
	if err != nil {
		return false, err
	}
	var done bool
	err = a.crmCall(ctx, integ, ratelimit.KindWindow, "polling the export of "+in.String(), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		done, rl, err = bulk.JobDone(ctx, in.JobID)
		return rl, err
	})
	return done, err
}

// BulkResultsInput asks for one results page of an export job.
type BulkResultsInput struct {
	StreamRef
	JobID string `json:"job_id"`
	// Locator is the page's locator; "" for the first.
	Locator string `json:"locator,omitempty"`
}

// BulkResultsResult is where the results continue.
type BulkResultsResult struct {
	PageResult
	// Next is the following page's locator; "" after the last page.
	Next string `json:"next"`
}

// BulkResults reads one results page of an export job and streams it into PostgreSQL,
// bulkWriteBatch records per write, never holding the page in memory. A crash re-reads the
// page from its locator: the writes are "only if newer" upserts, so nothing doubles.
func (a *Activities) BulkResults(ctx context.Context, in BulkResultsInput) (BulkResultsResult, error) {
	integ, bulk, err := a.bulkReader(in.StreamRef)
	if err != nil {
		return BulkResultsResult{}, err
	}
	var fields []crm.Property
	if _, _, err := a.store.GetReference(ctx, integ.Config.ID, store.RefProperties, in.Object, &fields); err != nil {
		return BulkResultsResult{}, classify(ctx, "reading properties", err)
	}
	beat, stop := heartbeatProgress(ctx)
	defer stop()
	key := store.StreamKey{Integration: in.Integration, Object: in.Object, Stream: store.StreamBackfill}
	var (
		res   BulkResultsResult
		batch = make([]crm.Record, 0, bulkWriteBatch)
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		w, err := a.writePage(ctx, store.PageWrite{Key: key, Records: batch})
		if err != nil {
			return err
		}
		res.Fetched += len(batch)
		res.Written += w.Inserted + w.Updated
		batch = batch[:0]
		beat(res.Fetched)
		return nil
	}
	var writeErr error
	op := "reading the export of " + in.String()
	err = a.crmCall(ctx, integ, ratelimit.KindWindow, op, func(ctx context.Context) (crm.RateLimit, error) {
		next, rl, err := bulk.Results(ctx, in.JobID, in.Locator, bulkPageRecords, fields, func(r crm.Record) error {
			batch = append(batch, r)
			if len(batch) < bulkWriteBatch {
				return nil
			}
			if err := flush(); err != nil {
				writeErr = err
				return err
			}
			return nil
		})
		res.Next = next
		return rl, err
	})
	if writeErr != nil {
		return BulkResultsResult{}, classify(ctx, "storing the export of "+in.String(), writeErr)
	}
	if err != nil {
		return BulkResultsResult{}, err
	}
	if err := flush(); err != nil {
		return BulkResultsResult{}, classify(ctx, "storing the export of "+in.String(), err)
	}
	res.Remaining = -1
	return res, nil
}

func (a *Activities) bulkReader(ref StreamRef) (*Integration, crm.BulkReader, error) {
	integ, err := a.integration(ref)
	if err != nil {
		return nil, nil, err
	}
	bulk, ok := integ.Connector.(crm.BulkReader)
	if !ok {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: the %s connector has no bulk export", ref, integ.Config.Provider), ErrTypeConfig, nil)
	}
	return integ, bulk, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/workflows"
)

// Workflow timeouts.
const (
	// backfillTimeout is how long a run's backfills may take, all objects together.
	backfillTimeout = 10 * time.Minute
	// deltaTimeout is how long one delta sync may take.
	deltaTimeout = 2 * time.Minute
)

// backfill starts one Backfill per object on the run's task queue, waits for all of them
// and returns the time from the first start to the last completion.
func (r *rig) backfill(ctx context.Context, c client.Client, objects ...crm.Object) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, backfillTimeout)
	defer cancel()
	start := time.Now()
	var runs []client.WorkflowRun
	var firstRuns []string // Get follows continue-as-new and moves a run's id to the latest
	for _, obj := range objects {
		in := workflows.BackfillInput{Integration: r.integration, Object: obj}
		run, err := c.ExecuteWorkflow(ctx, r.workflowOptions(workflows.BackfillID(r.integration, obj)), workflows.Backfill, in)
		if err != nil {
			return 0, fmt.Errorf("starting the %s backfill: %w", obj, err)
		}
		runs = append(runs, run)
		firstRuns = append(firstRuns, run.GetRunID())
	}
	for i, run := range runs {
		var res workflows.BackfillResult
		if err := run.Get(ctx, &res); err != nil {
			return 0, errors.Join(fmt.Errorf("backfill of %s: %w", objects[i], err), terminate(c, runs, "backfill failed or timed out"))
		}
	}
	elapsed := time.Since(start)
	r.timelines = r.timelines[:0]
	for i, run := range runs {
		tl, err := readTimeline(ctx, c, run.GetID(), firstRuns[i])
		if err != nil {
			return 0, err
		}
		r.timelines = append(r.timelines, tl)
	}
	return elapsed, nil
}

// delta runs one DeltaSync of obj and waits for it.
func (r *rig) delta(ctx context.Context, c client.Client, obj crm.Object) (workflows.DeltaResult, error) {
	ctx, cancel := context.WithTimeout(ctx, deltaTimeout)
	defer cancel()
	in := workflows.DeltaInput{Integration: r.integration, Object: obj}
	run, err := c.ExecuteWorkflow(ctx, r.workflowOptions(workflows.DeltaID(r.integration, obj)), workflows.DeltaSync, in)
	if err != nil {
		return workflows.DeltaResult{}, fmt.Errorf("starting the %s delta: %w", obj, err)
	}
	var res workflows.DeltaResult
	if err := run.Get(ctx, &res); err != nil {
		return workflows.DeltaResult{}, errors.Join(fmt.Errorf("delta of %s: %w", obj, err), terminate(c, []client.WorkflowRun{run}, "delta failed or timed out"))
	}
	return res, nil
}

// workflowOptions starts a workflow on the run's own task queue. The ids are crmsync's
// own, so one stream never runs twice at once; a finished stream may run again.
func (r *rig) workflowOptions(id string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             r.taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

// terminate ends runs that are still going after a failure, so that a retrying activity
// does not outlive its run. Runs that already closed are left alone.
func terminate(c client.Client, runs []client.WorkflowRun, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	for _, run := range runs {
		desc, err := c.DescribeWorkflow(ctx, run.GetID(), "")
		if err != nil {
			errs = append(errs, fmt.Errorf("describing %s: %w", run.GetID(), err))
			continue
		}
		if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if err := c.TerminateWorkflow(ctx, run.GetID(), "", reason); err != nil {
			errs = append(errs, fmt.Errorf("terminating %s: %w", run.GetID(), err))
		}
	}
	return errors.Join(errs...)
}

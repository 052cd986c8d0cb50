package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/workflows"
)

// runAssociations starts (and with --wait, follows) the associations sync of every pair
// both of whose objects an integration syncs. Run it after a backfill: it reads the links
// of the records already in PostgreSQL.
func runAssociations(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("associations", out)
	integration := fs.String("integration", "", "integration id (default: every configured integration)")
	wait := fs.Bool("wait", false, "wait for completion and print the calls made")
	e, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	var runs []client.WorkflowRun
	labels := newLabeler(ctx, c, e.Temporal.Namespace, e.cfg, out)
	for _, in := range e.cfg.Integrations {
		if *integration != "" && in.ID != *integration {
			continue
		}
		for _, p := range crm.AssociationPairs {
			if !in.HasObject(p.From) || !in.HasObject(p.To) {
				continue
			}
			opts := client.StartWorkflowOptions{ID: workflows.AssociationsID(in.ID, p.From, p.To), TaskQueue: e.TaskQueue,
				WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}
			withVisibility(&opts, labels.of(workflows.KindAssociations, in.ID, p.From))
			run, err := c.ExecuteWorkflow(ctx, opts, workflows.SyncAssociations, workflows.AssociationsInput{Integration: in.ID, From: p.From, To: p.To})
			if err != nil {
				return fmt.Errorf("starting the %s associations of %s: %w", p, in.ID, err)
			}
			fmt.Fprintf(out, "%-28s associations %s started (workflow %s)\n", in.ID, p, run.GetID())
			runs = append(runs, run)
		}
	}
	if len(runs) == 0 {
		return errors.New("associations: no integration syncs both objects of a pair (contacts+companies, deals+companies, deals+contacts)")
	}
	if !*wait {
		return nil
	}
	for _, run := range runs {
		var res workflows.AssociationsResult
		if err := run.Get(ctx, &res); err != nil {
			return fmt.Errorf("%s: %w", run.GetID(), err)
		}
		fmt.Fprintf(out, "%-48s done: %d records, %d calls\n", run.GetID(), res.Fetched, res.Calls)
	}
	return nil
}

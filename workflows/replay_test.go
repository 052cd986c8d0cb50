package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
)

// recorded lists the histories in testdata, recorded from real runs by the end-to-end tests
// (CRMSYNC_RECORD_HISTORIES=$PWD/workflows/testdata go test ./internal/e2e -run TestBackfillThenMutate).
func recorded(t *testing.T) []struct {
	File       string `json:"file"`
	WorkflowID string `json:"workflow_id"`
} {
	t.Helper()
	b, err := os.ReadFile("testdata/histories.json")
	require.NoError(t, err)
	var m []struct {
		File       string `json:"file"`
		WorkflowID string `json:"workflow_id"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotEmpty(t, m)
	return m
}

func replay(t *testing.T, register func(worker.WorkflowReplayer), file, workflowID string) error {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	r := worker.NewWorkflowReplayer()
	register(r)
	// DeltaSync branches on its own workflow id, so the replay must run under the original.
	return r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: workflowID, RunID: "replay"},
	})
}

// Every change to a workflow must replay the histories of runs recorded before it.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	for _, h := range recorded(t) {
		t.Run(h.File, func(t *testing.T) {
			t.Parallel()
			err := replay(t, func(r worker.WorkflowReplayer) {
				r.RegisterWorkflow(Backfill)
				r.RegisterWorkflow(DeltaSync)
				r.RegisterWorkflow(PushedChanges)
				r.RegisterWorkflow(SyncAssociations)
				r.RegisterWorkflow(WriteQueue)
			}, h.File, h.WorkflowID)
			require.NoError(t, err)
		})
	}
}

// brokenBackfill is Backfill after a careless edit: it lists before preparing the stream.
// Deployed over running backfills, it would corrupt them; the replayer must refuse it.
func brokenBackfill(ctx workflow.Context, in BackfillInput) (BackfillResult, error) {
	ref := activities.StreamRef{Integration: in.Integration, Object: in.Object}
	var r activities.BackfillPageResult
	err := workflow.ExecuteActivity(apiContext(ctx, APITaskQueue(in.Integration), activities.Queues{}), a.BackfillPage,
		activities.BackfillPageInput{StreamRef: ref}).Get(ctx, &r)
	return BackfillResult{}, err
}

func TestReplayCatchesANonDeterministicChange(t *testing.T) {
	t.Parallel()
	for _, h := range recorded(t) {
		if h.File != "backfill-contacts.json" {
			continue
		}
		err := replay(t, func(r worker.WorkflowReplayer) {
			r.RegisterWorkflowWithOptions(brokenBackfill, workflow.RegisterOptions{Name: "Backfill"})
		}, h.File, h.WorkflowID)
		require.Error(t, err)
		// TMPRL1100 is the SDK's code for a non-determinism error.
		require.Contains(t, err.Error(), "TMPRL1100")
		return
	}
	t.Fatal("no recorded backfill history")
}

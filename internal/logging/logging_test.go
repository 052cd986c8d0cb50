package logging_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/crmsync/crmsync/internal/logging"
)

// The SDK's log lines use crmsync's field names, so one filter finds a workflow's lines
// whichever side wrote them.
func TestSDKLogsUseOurFieldNames(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	l := logging.Temporal(zap.New(core)).(log.WithLogger).With("Namespace", "default", "WorkflowID", "crmsync/acme/contacts/backfill")
	l.Info("workflow task done", "RunID", "r1", "Attempt", 2, "other", "kept")
	require.Equal(t, 1, logs.Len())
	got := logs.All()[0].ContextMap()
	b, _ := json.Marshal(got)
	t.Logf("%s", b)
	require.Equal(t, "crmsync/acme/contacts/backfill", got["workflow_id"])
	require.Equal(t, "r1", got["run_id"])
	require.EqualValues(t, 2, got["attempt"])
	require.Equal(t, "default", got["namespace"])
	require.Equal(t, "kept", got["other"])
	require.NotContains(t, got, "WorkflowID")
}

func TestNewRejectsAnUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := logging.New("xml", "")
	require.ErrorContains(t, err, "CRMSYNC_LOG_FORMAT")
	_, err = logging.New("json", "loud")
	require.ErrorContains(t, err, "CRMSYNC_LOG_LEVEL")
	l, err := logging.New("json", "debug")
	require.NoError(t, err)
	require.True(t, l.Core().Enabled(zap.DebugLevel))
}

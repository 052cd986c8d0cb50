package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
	"github.com/crmsync/crmsync/workflows"
)

// With CRMSYNC_PAYLOAD_KEYS set, every payload the worker and the starter write is
// encrypted: a client without the key sees ciphertext only, one with it (or the codec
// server, as the temporal CLI uses it) sees the ids and cursors.
func TestPayloadsAreEncryptedWithTheConfiguredKey(t *testing.T) {
	t.Parallel()
	keyValue := fmt.Sprintf("k2:%s,k1:%s", randomKey(t), randomKey(t))
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 61, Contacts: 400, Companies: 150},
		objects:        []crm.Object{crm.Contacts, crm.Companies},
		requestsPer10s: 190,
		payloadKeys:    keyValue,
	})
	h.startWorker()

	// The test's client (with the keys) starts and reads the backfill; the starter (with the
	// keys) queries progress and reads the delta's result.
	h.wait(2*time.Minute, h.start("backfill")...)
	h.requireGroundTruth(time.Time{})
	out := h.starter(2*time.Minute, "sync", "--wait", "--object", "contacts")
	require.Contains(t, out, "done:")
	out = h.starter(time.Minute, "status")
	require.Contains(t, out, h.integration+"/contacts")

	// The starter's schedules carry encrypted arguments, which the worker reads when one fires.
	h.starter(time.Minute, "schedule", "apply")
	out = h.starter(time.Minute, "schedule", "apply")
	require.Contains(t, out, "updated  "+workflows.ScheduleID(h.integration, crm.Contacts))
	sched := h.client.ScheduleClient().GetHandle(t.Context(), workflows.ScheduleID(h.integration, crm.Contacts))
	t.Cleanup(func() { _ = sched.Delete(context.WithoutCancel(t.Context())) })
	desc, err := sched.Describe(t.Context())
	require.NoError(t, err)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "action %T", desc.Schedule.Action)
	require.Len(t, action.Args, 1)
	arg, ok := action.Args[0].(*commonpb.Payload)
	require.True(t, ok, "arg %T", action.Args[0])
	require.Equal(t, payloadcrypt.EncodingEncrypted, string(arg.Metadata[converter.MetadataEncoding]))
	require.NoError(t, sched.Trigger(t.Context(), client.ScheduleTriggerOptions{}))
	var fired *client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		d, err := sched.Describe(t.Context())
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		fired = d.Info.RecentActions[0].StartWorkflowResult
		return fired != nil
	}, time.Minute, 100*time.Millisecond, "the schedule did not fire")
	h.wait(2*time.Minute, h.client.GetWorkflow(t.Context(), fired.WorkflowID, fired.FirstExecutionRunID))

	// A plain client reads the raw history: every payload sealed with the current key, no
	// integration id or object name in any of them, and the result does not decode.
	plainClient, err := client.Dial(client.Options{HostPort: devServer.FrontendHostPort(), Logger: quiet{}})
	require.NoError(t, err)
	t.Cleanup(plainClient.Close)
	id := workflows.BackfillID(h.integration, crm.Contacts)
	payloads := historyPayloads(t, plainClient, id)
	require.NotEmpty(t, payloads)
	for _, p := range payloads {
		require.Equal(t, payloadcrypt.EncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]), "payload of %s", p.String())
		require.Equal(t, "k2", string(p.Metadata[payloadcrypt.MetadataKeyID]))
		for _, plain := range []string{h.integration, "contacts", "companies"} {
			require.False(t, bytes.Contains(p.Data, []byte(plain)), "%q in a payload", plain)
		}
	}
	var res workflows.DeltaResult
	err = plainClient.GetWorkflow(t.Context(), id, "").Get(t.Context(), &res)
	require.ErrorContains(t, err, "encoding")

	// With the codec, the activity inputs read as the ids they are.
	keys, err := config.ParsePayloadKeys(keyValue)
	require.NoError(t, err)
	codec, err := payloadcrypt.NewCodec(keys...)
	require.NoError(t, err)
	decoded, err := codec.Decode(payloads)
	require.NoError(t, err)
	withIntegration := 0
	for _, p := range decoded {
		require.NotEqual(t, payloadcrypt.EncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]))
		if bytes.Contains(p.Data, []byte(`"`+h.integration+`"`)) {
			withIntegration++
		}
	}
	t.Logf("%d payloads in %s's history, all encrypted with k2; %d name the integration once decoded", len(payloads), id, withIntegration)
	require.Positive(t, withIntegration)

	// The codec server, behind a bearer token, lets the temporal CLI show the history.
	port, token := freePort(t), "codec-token-"+randomHex(8)
	h.startCodecServer(port, token)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	show := func(extra ...string) string {
		args := append([]string{"workflow", "show", "--address", devServer.FrontendHostPort(), "--namespace", "default",
			"--workflow-id", id, "--output", "json"}, extra...)
		out, err := exec.CommandContext(t.Context(), temporalBin, args...).CombinedOutput()
		require.NoError(t, err, "temporal %v:\n%s", args, out)
		return string(out)
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(payloadcrypt.EncodingEncrypted))
	out = show()
	require.Contains(t, out, encoded, "without the codec the CLI shows ciphertext")
	input, err := converter.GetDefaultDataConverter().ToPayload(workflows.BackfillInput{Integration: h.integration, Object: crm.Contacts})
	require.NoError(t, err)
	out = show("--codec-endpoint", endpoint, "--codec-auth", "Bearer "+token)
	require.NotContains(t, out, encoded, "through the codec server the CLI shows plain payloads")
	require.Contains(t, out, base64.StdEncoding.EncodeToString(input.Data), "the workflow's input, decoded")
	_, err = exec.CommandContext(t.Context(), temporalBin, "workflow", "show", "--address", devServer.FrontendHostPort(),
		"--workflow-id", id, "--output", "json", "--codec-endpoint", endpoint, "--codec-auth", "Bearer wrong").CombinedOutput()
	require.Error(t, err, "a wrong token is turned away")
}

// randomKey is a fresh 32-byte key in base64.
func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, payloadcrypt.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// historyPayloads are every payload in the latest run's history, as stored, except search
// attributes (indexed by the server, so never encrypted).
func historyPayloads(t *testing.T, c client.Client, workflowID string) []*commonpb.Payload {
	t.Helper()
	var hist historypb.History
	it := c.GetWorkflowHistory(t.Context(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	payloadName := (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()
	searchName := (&commonpb.SearchAttributes{}).ProtoReflect().Descriptor().FullName()
	var out []*commonpb.Payload
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		switch m.Descriptor().FullName() {
		case payloadName:
			out = append(out, proto.Clone(m.Interface()).(*commonpb.Payload))
			return
		case searchName:
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message())
					return true
				})
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(hist.ProtoReflect())
	return out
}

// startCodecServer runs `starter codec-server` requiring token, and waits until it answers.
func (h *harness) startCodecServer(port int, token string) {
	h.t.Helper()
	logPath := filepath.Join(h.t.TempDir(), "codec-server.log")
	logFile, err := os.Create(logPath)
	require.NoError(h.t, err)
	cmd := exec.Command(filepath.Join(binDir, "starter"), "codec-server", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(h.env(), "CRMSYNC_CODEC_AUTH_ENV=E2E_CODEC_TOKEN", "E2E_CODEC_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(h.t, cmd.Start())
	w := &workerProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(w.done)
	}()
	h.t.Cleanup(func() {
		w.kill()
		if h.t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				h.t.Logf("codec-server log:\n%s", tail(b, 3000))
			}
		}
	})
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, fmt.Sprintf("http://127.0.0.1:%d/decode", port), nil)
		require.NoError(h.t, err)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			require.FailNow(h.t, "the codec server did not answer within 30 s")
		case <-w.done:
			require.FailNow(h.t, "the codec server exited")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

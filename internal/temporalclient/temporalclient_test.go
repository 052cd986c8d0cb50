package temporalclient

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

func TestOptionsWithoutKeysKeepTheDefaults(t *testing.T) {
	t.Parallel()
	opts, err := options(config.Temporal{Address: "localhost:7233", Namespace: "default"}, zap.NewNop())
	require.NoError(t, err)
	require.Nil(t, opts.DataConverter)
	require.Nil(t, opts.FailureConverter)
	require.Nil(t, opts.MetricsHandler)
}

func TestOptionsWithMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	opts, err := options(config.Temporal{Address: "localhost:7233", Namespace: "default"}, zap.NewNop(), WithMetrics(m.Temporal()))
	require.NoError(t, err)
	require.NotNil(t, opts.MetricsHandler)
	opts.MetricsHandler.Counter("temporal_request").Inc(1)
	mfs, err := m.Gatherer().Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	require.Contains(t, names, "temporal_request_total")
}

func TestOptionsWithKeysEncrypt(t *testing.T) {
	t.Parallel()
	secret := make([]byte, payloadcrypt.KeySize)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	k, err := payloadcrypt.NewKey("k1", secret)
	require.NoError(t, err)
	opts, err := options(config.Temporal{Address: "localhost:7233", Namespace: "default", PayloadKeys: []payloadcrypt.Key{k}}, zap.NewNop())
	require.NoError(t, err)

	p, err := opts.DataConverter.ToPayload("acme/contacts")
	require.NoError(t, err)
	require.Equal(t, payloadcrypt.EncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]))
	require.NotContains(t, string(p.Data), "acme")
	var s string
	require.NoError(t, opts.DataConverter.FromPayload(p, &s))
	require.Equal(t, "acme/contacts", s)

	// Failure messages are sealed too, and come back whole.
	f := opts.FailureConverter.ErrorToFailure(temporal.NewApplicationError("HubSpot said: email jane@example.com is invalid", "BadRequest"))
	require.NotContains(t, f.GetMessage(), "jane@example.com")
	require.NotContains(t, string(f.GetEncodedAttributes().GetData()), "jane@example.com")
	back := opts.FailureConverter.FailureToError(f)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, back, &appErr)
	require.Contains(t, appErr.Error(), "jane@example.com")
}

// Package temporalclient connects to Temporal (a local dev server, a self-hosted cluster
// or Temporal Cloud) from the environment's settings, the same way for the worker and the
// starter CLI.
package temporalclient

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/logging"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

// Option adjusts the client Dial builds.
type Option func(*client.Options)

// WithMetrics sends the SDK's metrics (temporal_*: task latencies, pollers, requests) to h;
// without it the SDK records none.
func WithMetrics(h client.MetricsHandler) Option {
	return func(o *client.Options) { o.MetricsHandler = h }
}

// Dial connects and checks the connection, so a wrong address fails at start with a
// message that names it. With payload keys configured (CRMSYNC_PAYLOAD_KEYS), the client
// (and every worker built on it) encrypts the payloads it writes and decrypts those it reads.
func Dial(ctx context.Context, t config.Temporal, log *zap.Logger, with ...Option) (client.Client, error) {
	opts, err := options(t, log, with...)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s (namespace %s; TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE): %w",
			t.Address, t.Namespace, err)
	}
	return c, nil
}

// options are the client options for t.
func options(t config.Temporal, log *zap.Logger, with ...Option) (client.Options, error) {
	tlsCfg, err := t.TLSConfig()
	if err != nil {
		return client.Options{}, err
	}
	opts := client.Options{
		HostPort:          t.Address,
		Namespace:         t.Namespace,
		Logger:            logging.Temporal(log),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsCfg},
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	if len(t.PayloadKeys) > 0 {
		codec, err := payloadcrypt.NewCodec(t.PayloadKeys...)
		if err != nil {
			return client.Options{}, fmt.Errorf("%s: %w", config.PayloadKeysEnv, err)
		}
		opts.DataConverter = payloadcrypt.NewDataConverter(codec)
		// Failure messages and stack traces (an activity's error may quote a CRM's response)
		// go into the failure's encoded attributes, so they are encrypted too; the SDK, the
		// Web UI and the CLI decode them through the same codec.
		opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter:          opts.DataConverter,
			EncodeCommonAttributes: true,
		})
	}
	for _, o := range with {
		o(&opts)
	}
	return opts, nil
}

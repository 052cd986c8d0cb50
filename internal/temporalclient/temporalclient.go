// Package temporalclient connects to Temporal (a local dev server, a self-hosted cluster
// or Temporal Cloud) from the environment's settings, the same way for the worker and the
// starter CLI.
package temporalclient

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/logging"
)

// Dial connects and checks the connection, so a wrong address fails at start with a
// message that names it.
func Dial(ctx context.Context, t config.Temporal, log *zap.Logger) (client.Client, error) {
	tlsCfg, err := t.TLSConfig()
	if err != nil {
		return nil, err
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
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s (namespace %s; TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE): %w",
			t.Address, t.Namespace, err)
	}
	return c, nil
}

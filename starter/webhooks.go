package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/webhook"
	"github.com/crmsync/crmsync/workflows"
)

// WebhookPath is where the receiver takes HubSpot's deliveries.
const WebhookPath = "/webhooks/hubspot"

// webhookRetention is how long delivered event ids are remembered: HubSpot retries a failed
// delivery for about a day, so a week is far past any duplicate.
const webhookRetention = 7 * 24 * time.Hour

func runWebhooks(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("webhooks", out)
	listen := fs.String("listen", cmp.Or(os.Getenv("CRMSYNC_WEBHOOK_LISTEN"), ":8088"), "address to listen on ($CRMSYNC_WEBHOOK_LISTEN)")
	public := fs.String("public-url", os.Getenv("CRMSYNC_WEBHOOK_PUBLIC_URL"),
		"the receiver's address as the CRM calls it, e.g. https://sync.example.com ($CRMSYNC_WEBHOOK_PUBLIC_URL); it is part of what the CRM signs")
	e, c, err := fs.connect(ctx, args)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := store.Open(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	m := metrics.New()
	h, err := newWebhookHandler(e.cfg, os.Getenv, *public, st, &signaller{c: c, queue: e.TaskQueue, cfg: e.cfg,
		labels: newLabeler(ctx, c, e.Temporal.Namespace, e.cfg, nil)}, e.log, m)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	srv := webhookServer(h, m)
	go pruneWebhookEvents(ctx, st, e.log)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "webhook receiver listening on %s%s\n", ln.Addr(), WebhookPath)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}

// webhookServer serves the receiver at WebhookPath, its metrics at /metrics, and /healthz,
// with timeouts that keep a slow or stalled sender from holding a connection.
func webhookServer(h http.Handler, m *metrics.Metrics) *http.Server {
	mux := http.NewServeMux()
	mux.Handle(WebhookPath, h)
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
}

// newWebhookHandler builds the receiver for every integration with a webhooks section.
func newWebhookHandler(cfg *config.Config, getenv func(string) string, publicURL string, dedup webhook.Deduper, rec webhook.Recorder, log *zap.Logger, m *metrics.Metrics) (*webhook.Handler, error) {
	portals := map[int64]webhook.Portal{}
	for _, in := range cfg.Integrations {
		if in.Webhooks == nil {
			continue
		}
		secret, err := in.Webhooks.Secret(getenv)
		if err != nil {
			return nil, fmt.Errorf("integration %s: %w", in.ID, err)
		}
		objs := make([]string, len(in.Objects))
		for i, o := range in.Objects {
			objs[i] = string(o)
		}
		portals[in.Webhooks.PortalID] = webhook.Portal{Integration: in.ID, Secret: secret, Objects: objs}
	}
	if len(portals) == 0 {
		return nil, errors.New("webhooks: no integration has a webhooks section (portal_id, secret_env) in the config")
	}
	return webhook.New(webhook.Options{Portals: portals, PublicURL: publicURL, Dedup: dedup, Recorder: rec, Logger: log, Metrics: m})
}

// signaller records a delivery's changes durably in Temporal: signal-with-start of the
// stream's PushedChanges workflow, which batches them and reads them under the quota.
type signaller struct {
	c      client.Client
	queue  string
	cfg    *config.Config
	labels *labeler
}

// Record implements webhook.Recorder.
func (s *signaller) Record(ctx context.Context, b webhook.Batch) error {
	in, err := s.cfg.Integration(b.Integration)
	if err != nil {
		return err
	}
	obj, err := crm.ParseObject(b.Object)
	if err != nil {
		return err
	}
	changes := make([]activities.Change, len(b.Changes))
	for i, ch := range b.Changes {
		changes[i] = activities.Change{ID: ch.ID, Deleted: ch.Deleted, OccurredAt: ch.OccurredAt, EventID: ch.EventID}
	}
	flush := config.DefaultFlushAfter
	if in.Webhooks != nil && in.Webhooks.FlushAfter > 0 {
		flush = in.Webhooks.FlushAfter.D()
	}
	opts := client.StartWorkflowOptions{TaskQueue: s.queue}
	if s.labels != nil {
		withVisibility(&opts, s.labels.of(workflows.KindPushed, b.Integration, obj))
	}
	_, err = s.c.SignalWithStartWorkflow(ctx, workflows.PushedID(b.Integration, obj), workflows.SignalChanges, changes,
		opts, workflows.PushedChanges,
		workflows.PushedChangesInput{Integration: b.Integration, Object: obj, FlushAfter: flush.String()})
	if err != nil {
		return fmt.Errorf("recording %d changes of %s/%s in Temporal: %w", len(changes), b.Integration, b.Object, err)
	}
	return nil
}

// pruneWebhookEvents forgets delivered event ids past the retention, hourly.
func pruneWebhookEvents(ctx context.Context, st *store.Store, log *zap.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.PruneWebhookEvents(ctx, time.Now().Add(-webhookRetention)); err != nil && ctx.Err() == nil {
			log.Warn("pruning delivered webhook event ids", zap.Error(err))
		} else if n > 0 {
			log.Info("pruned delivered webhook event ids", zap.Int64("events", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

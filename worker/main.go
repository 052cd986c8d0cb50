// Command worker runs crmsync's Temporal workers: the workflow worker on the shared crmsync
// queue and, for each configured integration, activity workers on its rate-limited API and
// search queues. Run any number of them against one Temporal cluster and one PostgreSQL:
// the server holds each integration's quota across all of them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/logging"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/outbox"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/temporalclient"
	"github.com/crmsync/crmsync/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crmsync worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	log, err := logging.New(os.Getenv("CRMSYNC_LOG_FORMAT"), os.Getenv("CRMSYNC_LOG_LEVEL"))
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit

	env, err := config.LoadEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(env.ConfigPath)
	if err != nil {
		return err
	}

	// Credentials are read once, here; they live only in the connectors.
	// Enough idle connections for every lane of a backfill: a call that has to open a new
	// connection (and TLS session) reaches the CRM later than its quota slot.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	var integrations []*activities.Integration
	var missing []error
	for _, in := range cfg.Integrations {
		cred, err := provider.NewCredential(in, os.Getenv, httpClient)
		if err != nil {
			missing = append(missing, err)
			continue
		}
		conn, err := provider.New(in, cred.Tokens, httpClient)
		if err != nil {
			return err
		}
		integrations = append(integrations, &activities.Integration{Config: in, Connector: conn, Credential: cred.Key})
	}
	if err := errors.Join(missing...); err != nil {
		return err
	}

	st, err := store.Open(ctx, env.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	version, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	log.Info("database ready", zap.Int("schema_version", version), zap.Int("migrations_applied", applied))

	m := metrics.New()
	if env.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(ctx, env.MetricsAddr, m, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	c, err := temporalclient.Dial(ctx, env.Temporal, log, temporalclient.WithMetrics(m.Temporal()))
	if err != nil {
		return err
	}
	defer c.Close()

	acts, err := activities.New(activities.Options{Store: st, Integrations: integrations, Logger: log, Metrics: m,
		SharedQueues: env.SharedQueues, Signaler: c})
	if err != nil {
		return err
	}
	searchable := true
	if err := temporalclient.EnsureSearchAttributes(ctx, c, env.Temporal.Namespace); err != nil {
		// Syncs run without them; only filtering in the Web UI needs them.
		log.Warn("crmsync's search attributes are not registered; register them to filter syncs in the Web UI", zap.Error(err))
		searchable = false
	}
	stopOutbox, err := startOutbox(ctx, cfg, st, c, env.TaskQueue, searchable, log)
	if err != nil {
		return err
	}
	defer stopOutbox()

	workers := []worker.Worker{newWorkflowWorker(c, env.TaskQueue, acts)}
	var shared ratelimit.Rates
	for _, in := range cfg.Integrations {
		rates := ratelimit.ForQuota(in.Quota)
		shared.API += rates.API
		shared.Search += rates.Search
		if !env.SharedQueues {
			workers = append(workers,
				newActivityWorker(c, workflows.APITaskQueue(in.ID), rates.API, acts),
				newActivityWorker(c, workflows.SearchTaskQueue(in.ID), rates.Search, acts))
		}
		log.Info("integration ready", zap.String("integration", in.ID), zap.String("provider", in.Provider),
			zap.String("base_url", in.BaseURL), zap.Any("objects", in.Objects),
			zap.Float64("api_rate_per_s", rates.API), zap.Float64("search_rate_per_s", rates.Search))
	}
	if env.SharedQueues {
		// The shared queues' server-side rate is the fleet's total backstop; each credential's
		// exact quota is the ledger's, and a server with fairness enabled shares dispatch
		// between credentials (the fairness key) so one backlog never starves the others.
		workers = append(workers,
			newActivityWorker(c, workflows.SharedAPITaskQueue(env.TaskQueue), shared.API, acts),
			newActivityWorker(c, workflows.SharedSearchTaskQueue(env.TaskQueue), shared.Search, acts))
	}
	log.Info("integrations ready", zap.Int("integrations", len(cfg.Integrations)), zap.Bool("shared_task_queues", env.SharedQueues),
		zap.Int("activity_workers", len(workers)-1))
	for i, w := range workers {
		if err := w.Start(); err != nil {
			for _, started := range workers[:i] {
				started.Stop()
			}
			return fmt.Errorf("starting worker: %w", err)
		}
	}
	encryptedWith := "off"
	if len(env.Temporal.PayloadKeys) > 0 {
		encryptedWith = env.Temporal.PayloadKeys[0].ID()
	}
	log.Info("worker running", zap.String("temporal", env.Temporal.Address), zap.String("namespace", env.Temporal.Namespace),
		zap.String("task_queue", env.TaskQueue), zap.String("payload_encryption_key", encryptedWith),
		zap.Int("pid", os.Getpid()))
	<-ctx.Done()
	log.Info("stopping: finishing activities in flight")
	for _, w := range workers {
		w.Stop()
	}
	return nil
}

// serveMetrics serves GET /metrics (Prometheus) and /healthz on addr until ctx ends or
// stop is called. It listens before returning, so a taken port fails the start.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *zap.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics (CRMSYNC_METRICS_ADDR=%s; \"off\" disables): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("addr", ln.Addr().String()), zap.String("path", "/metrics"))
	return func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}, nil
}

// startOutbox registers the config's write targets (the outbox's trigger refuses writes
// to anything else) and runs the dispatcher that wakes each stream's WriteQueue workflow
// when writes are queued.
func startOutbox(ctx context.Context, cfg *config.Config, st *store.Store, c client.Client, queue string, searchable bool, log *zap.Logger) (stop func(), err error) {
	var targets []store.WriteTarget
	streams := map[string]bool{}
	providers := map[string]string{}
	for _, in := range cfg.Integrations {
		providers[in.ID] = in.Provider
		for obj, wo := range in.WriteTargets() {
			targets = append(targets, store.WriteTarget{Integration: in.ID, Object: string(obj), IDProperty: wo.IDProperty,
				MaxBytes: in.Writes.MaxRecordBytes})
			streams[in.ID+"/"+string(obj)] = true
		}
	}
	if err := st.SetWriteTargets(ctx, targets); err != nil {
		return nil, err
	}
	wake := func(ctx context.Context, integration, object string) error {
		obj := crm.Object(object)
		opts := client.StartWorkflowOptions{ID: workflows.WritesID(integration, obj), TaskQueue: queue}
		v := workflows.VisibilityOf(workflows.KindWrites, integration, providers[integration], obj)
		opts.Memo = v.Memo
		if searchable {
			opts.TypedSearchAttributes = v.SearchAttributes
		}
		_, err := c.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalWrites, nil, opts, workflows.WriteQueue,
			workflows.WriteQueueInput{Integration: integration, Object: obj})
		return err
	}
	d, err := outbox.New(outbox.Options{Pool: st.Pool(), Store: st, Wake: wake, Streams: streams, Logger: log})
	if err != nil {
		return nil, err
	}
	if len(streams) == 0 {
		return func() {}, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(runCtx)
	}()
	log.Info("write queue ready", zap.Int("streams", len(streams)))
	return func() {
		cancel()
		<-done
	}, nil
}

func newWorkflowWorker(c client.Client, queue string, acts *activities.Activities) worker.Worker {
	w := worker.New(c, queue, worker.Options{WorkerStopTimeout: 10 * time.Second})
	w.RegisterWorkflow(workflows.Backfill)
	w.RegisterWorkflow(workflows.DeltaSync)
	w.RegisterWorkflow(workflows.PushedChanges)
	w.RegisterWorkflow(workflows.SyncAssociations)
	w.RegisterWorkflow(workflows.WriteQueue)
	// The PostgreSQL-only steps run as local activities of the workflows.
	w.RegisterActivity(acts)
	return w
}

// newActivityWorker polls one of an integration's CRM queues. TaskQueueActivitiesPerSecond
// is enforced by the server for the whole queue, whatever the number of workers; every
// worker of the queue must agree on it (the latest poll's value wins). A backfill keeps
// dozens of pages in flight, and the SDK's two pollers per queue delayed their dispatch
// (schedule-to-start p90 224 ms at 190 per 10 s); eight brought it to 101 ms.
// activityPollers is how many long polls each worker keeps open on each CRM queue.
const activityPollers = 8

func newActivityWorker(c client.Client, queue string, rate float64, acts *activities.Activities) worker.Worker {
	w := worker.New(c, queue, worker.Options{
		TaskQueueActivitiesPerSecond:     rate,
		MaxConcurrentActivityTaskPollers: 8,
		WorkerStopTimeout:                10 * time.Second,
		DisableWorkflowWorker:            true,
	})
	w.RegisterActivity(acts)
	return w
}

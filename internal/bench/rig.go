package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/workflows"
)

// credentialEnv is the variable that hands the simulator's token to the workers.
const credentialEnv = "BENCH_CRM_TOKEN"

// cleanupTimeout bounds each teardown step, which runs even after the run's context ended.
const cleanupTimeout = 30 * time.Second

// rigSpec describes the world of one run.
type rigSpec struct {
	// run names the run in ids and file names: "a-b100-lat0ms-w1".
	run string
	// scenario is the scenario's name, part of the integration id.
	scenario string
	// sim configures the simulator; Tokens is filled in by the rig.
	sim crmsim.Options
	// quota is the integration's configured quota.
	quota config.Quota
	// objects are the integration's objects.
	objects []crm.Object
	// deltaLag is the config's delta.lag.
	deltaLag time.Duration
	// workers is how many worker processes to run.
	workers int
	// integrations is how many integrations the config lists (0 or 1: one); the others are
	// copies of the first under other ids, which nothing syncs (scenario f).
	integrations int
	// sharedQueues runs the workers with CRMSYNC_TASK_QUEUES=shared.
	sharedQueues bool
	// webhooks makes the simulator push its changes to a receiver (`starter webhooks`)
	// the rig runs beside the workers.
	webhooks bool
	// timeout bounds the whole run, setup included; 0 means runTimeout.
	timeout time.Duration
	// provider is the integration's CRM; empty for HubSpot. Salesforce and Zoho
	// authenticate by the OAuth refresh grant, with the rig's token as the refresh token.
	provider string
	// writes lets the integration take queued writes to contacts, named by email, and runs
	// the HTTP write intake (`starter intake`) beside the workers for one app.
	writes bool
}

// rig is one run's private world: a simulator on its own port, a fresh PostgreSQL schema,
// an integration id and task queue of its own, a config file, and the worker processes.
// Runs share only the Temporal dev server.
type rig struct {
	spec        rigSpec
	integration string
	token       string
	taskQueue   string
	// timelines are the last backfill's workflows' timelines, one per object.
	timelines []timeline

	sim    *crmsim.Sim
	simURL string
	// hookAddr and hookSecret are the receiver's address and the app secret signing the
	// simulator's deliveries.
	hookAddr, hookSecret string
	// intakeAddr and intakeToken are the write intake's address and the app's bearer token
	// (spec.writes).
	intakeAddr, intakeToken string
	schemaURL               string
	cfgPath                 string
	// integ is the integration as the workers load it, defaults applied.
	integ   config.Integration
	workers []*workerProc

	// teardown undoes setup, last step first.
	teardown []func(context.Context) error
}

// newRig sets up a run's world and starts its workers; on failure it undoes what it did.
func newRig(ctx context.Context, b *bench, spec rigSpec) (_ *rig, err error) {
	r := &rig{spec: spec, token: "pat-bench-" + randomHex(12)}
	r.integration = "bench-" + spec.scenario + "-" + randomHex(4)
	r.taskQueue = "crmsync-" + r.integration
	defer func() {
		if err != nil {
			err = errors.Join(err, r.close())
		}
	}()
	if spec.webhooks {
		if r.hookAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		r.hookSecret = "bench-app-secret-" + randomHex(8)
	}
	if spec.writes {
		if r.intakeAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		r.intakeToken = "bench-intake-" + randomHex(12)
	}
	if err := r.startSim(); err != nil {
		return nil, err
	}
	if err := r.createSchema(ctx, b.databaseURL); err != nil {
		return nil, err
	}
	if err := r.writeConfig(); err != nil {
		return nil, err
	}
	if err := r.startWorkers(ctx, b); err != nil {
		return nil, err
	}
	if spec.webhooks {
		if err := r.startReceiver(ctx, b); err != nil {
			return nil, err
		}
	}
	if spec.writes {
		if err := r.startIntake(ctx, b); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// webhookSecretEnv hands the app secret to the receiver.
const webhookSecretEnv = "BENCH_APP_SECRET"

// startReceiver runs `starter webhooks` on the rig's receiver address and waits until it
// answers.
func (r *rig) startReceiver(ctx context.Context, b *bench) error {
	return r.startServer(ctx, b, "webhook receiver", "receiver", r.hookAddr,
		[]string{"webhooks", "--listen", r.hookAddr}, webhookSecretEnv+"="+r.hookSecret)
}

// intakeTokenEnv hands the write intake's app token to the intake; writesApp is the app.
const (
	intakeTokenEnv = "BENCH_INTAKE_TOKEN"
	writesApp      = "bench-app"
)

// startIntake runs `starter intake` on the rig's intake address and waits until it answers.
func (r *rig) startIntake(ctx context.Context, b *bench) error {
	return r.startServer(ctx, b, "write intake", "intake", r.intakeAddr,
		[]string{"intake", "--listen", r.intakeAddr}, intakeTokenEnv+"="+r.intakeToken)
}

// startServer runs one of the starter's servers (args) on addr, with the workers'
// environment plus extraEnv, logging to <run>-<logName>.log, and waits until its /healthz
// answers.
func (r *rig) startServer(ctx context.Context, b *bench, what, logName, addr string, args []string, extraEnv ...string) error {
	logPath := filepath.Join(b.opts.outDir, r.spec.run+"-"+logName+".log")
	w, err := startProcess(b.starterBin, args, append(r.workerEnv(b), extraEnv...), logPath)
	if err != nil {
		return err
	}
	r.teardown = append(r.teardown, func(context.Context) error {
		stopWorkers([]*workerProc{w})
		return nil
	})
	deadline := time.Now().Add(workerReadyTimeout)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if w.exited() || time.Now().After(deadline) {
			return fmt.Errorf("the %s did not start (log: %s): %w", what, logPath, err)
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// freeAddr is a free port of 127.0.0.1.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("freeing port %s: %w", addr, err)
	}
	return addr, nil
}

// startSim starts the run's simulator on a free port of 127.0.0.1.
func (r *rig) startSim() error {
	opts := r.spec.sim
	opts.Tokens = []string{r.token}
	if r.hookAddr != "" {
		opts.WebhookURL, opts.WebhookSecret = "http://"+r.hookAddr+"/webhooks/hubspot", r.hookSecret
	}
	sim, url, stop, err := serveSim(opts)
	if err != nil {
		return err
	}
	r.sim, r.simURL = sim, url
	r.teardown = append(r.teardown, stop)
	return nil
}

// serveSim starts a simulator on a free port of 127.0.0.1 and returns it, its base URL and
// the function that stops it.
func serveSim(opts crmsim.Options) (*crmsim.Sim, string, func(context.Context) error, error) {
	sim, err := crmsim.New(opts)
	if err != nil {
		return nil, "", nil, fmt.Errorf("creating the simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sim.Close()
		return nil, "", nil, fmt.Errorf("listening for the simulator: %w", err)
	}
	srv := sim.NewServer(ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stop := func(ctx context.Context) error {
		sim.Close()
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("stopping the simulator: %w", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving the simulator: %w", err)
		}
		return nil
	}
	return sim, "http://" + ln.Addr().String(), stop, nil
}

// createSchema gives the run a fresh, migrated schema, dropped at teardown.
func (r *rig) createSchema(ctx context.Context, baseURL string) error {
	schema, schemaURL, err := createSchema(ctx, baseURL)
	if schema != "" {
		r.teardown = append(r.teardown, func(ctx context.Context) error { return dropSchema(ctx, baseURL, schema) })
	}
	if err != nil {
		return err
	}
	r.schemaURL = schemaURL
	return nil
}

// writeConfig writes the run's crmsync config into a temporary directory. It is built
// from config's own types and validated, so a format change breaks the build or the
// benchmark, not a worker's start.
func (r *rig) writeConfig() error {
	cfg := config.Config{Integrations: []config.Integration{{
		ID:       r.integration,
		Provider: cmp.Or(r.spec.provider, crmsim.ProviderHubSpot),
		BaseURL:  r.simURL,
		OAuth:    r.oauth(),
		Objects:  r.spec.objects,
		Quota:    r.spec.quota,
		Delta: config.Delta{
			Interval: config.Duration(time.Hour), // nothing is scheduled; deltas are started by hand
			Lag:      config.Duration(r.spec.deltaLag),
		},
	}}}
	if cfg.Integrations[0].OAuth == nil {
		cfg.Integrations[0].CredentialEnv = credentialEnv
	}
	if r.spec.webhooks {
		cfg.Integrations[0].Webhooks = &config.Webhooks{PortalID: crmsim.DefaultPortalID, SecretEnv: webhookSecretEnv, FlushAfter: config.Duration(pushFlushAfter)}
	}
	if r.spec.writes {
		cfg.Integrations[0].Writes = &config.Writes{Objects: map[crm.Object]config.WriteObject{crm.Contacts: {IDProperty: "email"}}}
		cfg.Intake = &config.Intake{Apps: []config.IntakeApp{{Name: writesApp, TokenEnv: intakeTokenEnv}}}
	}
	for k := 1; k < r.spec.integrations; k++ {
		in := cfg.Integrations[0]
		in.ID = fmt.Sprintf("%s-%d", r.integration, k)
		cfg.Integrations = append(cfg.Integrations, in)
	}
	doc, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding the config: %w", err)
	}
	loaded, err := config.Parse(strings.NewReader(string(doc)))
	if err != nil {
		return fmt.Errorf("the benchmark's config is invalid: %w", err)
	}
	r.integ = loaded.Integrations[0]
	dir, err := os.MkdirTemp("", "crmsync-bench-")
	if err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	r.teardown = append(r.teardown, func(context.Context) error { return os.RemoveAll(dir) })
	r.cfgPath = filepath.Join(dir, "crmsync.yaml")
	if err := os.WriteFile(r.cfgPath, doc, 0o600); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	return nil
}

// Salesforce's and Zoho's token endpoints, where the simulator serves the refresh grant.
var oauthTokenPaths = map[string]string{
	crmsim.ProviderSalesforce: "/services/oauth2/token",
	crmsim.ProviderZoho:       "/oauth/v2/token",
}

// The OAuth app's client id and secret; the simulator accepts any pair.
const (
	clientIDEnv     = "BENCH_CLIENT_ID"
	clientSecretEnv = "BENCH_CLIENT_SECRET"
)

// oauth is the integration's OAuth app for a CRM that needs one (Salesforce, Zoho); nil for
// the CRMs that take a static token (HubSpot's private-app token, Pipedrive's API token).
func (r *rig) oauth() *config.OAuth {
	path, ok := oauthTokenPaths[r.spec.provider]
	if !ok {
		return nil
	}
	return &config.OAuth{TokenURL: r.simURL + path, ClientIDEnv: clientIDEnv, ClientSecretEnv: clientSecretEnv, RefreshTokenEnv: credentialEnv}
}

// workerEnv is the environment the workers run with.
func (r *rig) workerEnv(b *bench) []string {
	return append(os.Environ(),
		"CRMSYNC_CONFIG="+r.cfgPath,
		"DATABASE_URL="+r.schemaURL,
		"TEMPORAL_ADDRESS="+b.temporal.FrontendHostPort(),
		"TEMPORAL_NAMESPACE=default",
		"CRMSYNC_TASK_QUEUE="+r.taskQueue,
		credentialEnv+"="+r.token,
		clientIDEnv+"=bench-client", clientSecretEnv+"=bench-client-secret",
		"CRMSYNC_LOG_FORMAT=json",
		"CRMSYNC_TASK_QUEUES="+map[bool]string{false: "per-integration", true: "shared"}[r.spec.sharedQueues],
		// The bench's own client does not encrypt; nor may the workers.
		config.PayloadKeysEnv+"=",
		// Several workers run on one machine; none serves metrics.
		"CRMSYNC_METRICS_ADDR=off",
	)
}

// lastIntegration is the id of the config's last integration, whose queues a worker
// starts polling last.
func (r *rig) lastIntegration() string {
	if r.spec.integrations > 1 {
		return fmt.Sprintf("%s-%d", r.integration, r.spec.integrations-1)
	}
	return r.integration
}

// startWorkers starts the run's workers and waits until all of them poll the workflow
// queue and the integration's API queue.
func (r *rig) startWorkers(ctx context.Context, b *bench) error {
	r.teardown = append(r.teardown, func(context.Context) error {
		stopWorkers(r.workers)
		return nil
	})
	env := r.workerEnv(b)
	for i := 1; i <= r.spec.workers; i++ {
		logPath := filepath.Join(b.opts.outDir, r.spec.run+"-worker-"+strconv.Itoa(i)+".log")
		w, err := startWorker(b.workerBin, env, logPath)
		if err != nil {
			return err
		}
		r.workers = append(r.workers, w)
	}
	queues := []queueWant{
		{name: r.taskQueue, kind: enumspb.TASK_QUEUE_TYPE_WORKFLOW},
		{name: workflows.APITaskQueue(r.lastIntegration()), kind: enumspb.TASK_QUEUE_TYPE_ACTIVITY},
	}
	if r.spec.sharedQueues {
		queues[1].name = workflows.SharedAPITaskQueue(r.taskQueue)
	}
	if r.spec.integrations > 1 {
		// Scenario f measures what polling so many queues costs, refused polls included:
		// a worker that has started its workflow worker is ready for it.
		queues = queues[:1]
	}
	return waitForPollers(ctx, b.client, queues, r.workers)
}

// close tears the run down, last step first, each step with its own timeout so that an
// ended run context still cleans up. It reports every step that failed.
func (r *rig) close() error {
	var errs []error
	for i := len(r.teardown) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		errs = append(errs, r.teardown[i](ctx))
		cancel()
	}
	r.teardown = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up run %s: %w", r.spec.run, err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

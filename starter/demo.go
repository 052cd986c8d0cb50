package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/groundtruth"
	"github.com/crmsync/crmsync/internal/logging"
	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
	"github.com/crmsync/crmsync/internal/ratelimit"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/webhook"
	"github.com/crmsync/crmsync/workflows"
)

// demoIntegration is the demo's integration id; demoTokenEnv holds the simulator's token
// for the worker, as a real deployment's token would be.
const (
	demoIntegration   = "demo"
	demoTokenEnv      = "CRMSYNC_DEMO_TOKEN"
	demoAppSecretEnv  = "CRMSYNC_DEMO_APP_SECRET"
	defaultDemoSchema = "crmsync_demo"
)

type demoFlags struct {
	provider          string
	dir               string
	temporalPort      int
	uiPort            int
	simAddr           string
	databaseURL       string
	schema            string
	deltaInterval     time.Duration
	deltaLag          time.Duration
	quota10s          int
	exitAfterBackfill bool
	webhookAddr       string
	metricsAddr       string
	intakeAddr        string
	writes            int
	sim               simFlags
}

func runDemo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var f demoFlags
	fs.StringVar(&f.provider, "provider", crmsim.ProviderHubSpot, "the CRM to sync from, simulated: "+strings.Join(config.Providers, ", "))
	fs.StringVar(&f.dir, "dir", ".demo", "working directory for logs, the config and Temporal's database")
	fs.IntVar(&f.temporalPort, "temporal-port", 7233, "Temporal dev server port")
	fs.IntVar(&f.uiPort, "ui-port", 8233, "Temporal Web UI port")
	fs.StringVar(&f.simAddr, "sim-addr", "127.0.0.1:8090", "simulator listen address")
	fs.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL server (default $DATABASE_URL or "+config.DefaultDatabaseURL+"); the demo uses its own schema (--schema)")
	fs.StringVar(&f.schema, "schema", defaultDemoSchema, "PostgreSQL schema the demo resets and syncs into")
	fs.DurationVar(&f.deltaInterval, "delta-interval", time.Minute, "how often the delta Schedules fire (webhooks bring changes sooner; the deltas reconcile)")
	fs.DurationVar(&f.deltaLag, "delta-lag", 10*time.Second, "how far back each delta re-reads")
	fs.IntVar(&f.quota10s, "quota", 100, "HubSpot: the simulated CRM's requests per 10 s (the demo's quota; the other providers' limits have their own flags)")
	fs.BoolVar(&f.exitAfterBackfill, "exit-after-backfill", false, "after the backfill and one delta, check the data and exit (non-zero on any mismatch or 429)")
	fs.StringVar(&f.webhookAddr, "webhook-addr", "127.0.0.1:8088", "HubSpot: where the demo's webhook receiver listens (the simulator pushes its changes there); empty: no webhooks")
	fs.StringVar(&f.intakeAddr, "intake-addr", "127.0.0.1:8089", "HubSpot: where the demo's write intake listens; empty: no writes")
	fs.IntVar(&f.writes, "writes", 2000, "HubSpot: write events the demo's application sends through the intake after the backfill (0: none)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", cmp.Or(os.Getenv("CRMSYNC_METRICS_ADDR"), config.DefaultMetricsAddr),
		"where the demo's worker serves /metrics ($CRMSYNC_METRICS_ADDR); off: nowhere")
	f.sim.register(fs, 20000, 5000, 10000)
	fs.Lookup("mutate-every").DefValue = "2s"
	f.sim.mutateEvery = 2 * time.Second
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkDemoProvider(f.provider); err != nil {
		return err
	}
	f.sim.limit10s = f.quota10s
	// The demo's worker inherits CRMSYNC_PAYLOAD_KEYS; its client must hold the same keys.
	payloadKeys, err := config.ParsePayloadKeys(os.Getenv(config.PayloadKeysEnv))
	if err != nil {
		return err
	}
	if f.provider != crmsim.ProviderHubSpot {
		f.webhookAddr = ""
		f.intakeAddr = ""
	}
	if f.writes <= 0 {
		f.intakeAddr = ""
	}
	d := &demo{flags: f, out: out, started: time.Now(), payloadKeys: payloadKeys}
	defer d.shutdown()
	return d.run(ctx)
}

// demo owns every process and server it starts, and stops them all on exit.
type demo struct {
	flags   demoFlags
	out     io.Writer
	started time.Time
	// payloadKeys are CRMSYNC_PAYLOAD_KEYS, which the demo's worker inherits.
	payloadKeys []payloadcrypt.Key

	sim    *crmsim.Sim
	store  *store.Store
	client client.Client
	cfg    *config.Config
	stops  []func()

	hooks *webhook.Handler
	// labels gives the workflows the demo starts their memo and search attributes.
	labels *labeler
	// pageSize is the connector's list page, for the backfill's minimum calls.
	pageSize int

	mu          sync.Mutex
	workerPID   int
	workerDeath int
}

// labeler checks the demo's namespace once for crmsync's search attributes.
func (d *demo) labeler(ctx context.Context) *labeler {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.labels == nil {
		d.labels = newLabeler(ctx, d.client, "default", d.cfg, d.out)
	}
	return d.labels
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%6s] %s\n", time.Since(d.started).Round(time.Second), fmt.Sprintf(format, args...))
}

func (d *demo) shutdown() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
}

func (d *demo) run(ctx context.Context) error {
	f := d.flags
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", f.dir, err)
	}
	temporalBin, err := findBinary("temporal", "TEMPORAL_CLI")
	if err != nil {
		return err
	}
	workerBin, err := findBinary("worker", "CRMSYNC_WORKER")
	if err != nil {
		return err
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", f.temporalPort), fmt.Sprintf("127.0.0.1:%d", f.uiPort), f.simAddr, f.webhookAddr, f.metricsAddr, f.intakeAddr} {
		if addr == "" || strings.EqualFold(addr, "off") {
			continue
		}
		if err := portFree(addr); err != nil {
			return err
		}
	}

	if !pgIdentifier.MatchString(f.schema) {
		return fmt.Errorf("--schema %q: want lower-case letters, digits and underscores", f.schema)
	}
	dbURL, err := prepareDemoDatabase(ctx, cmp.Or(f.databaseURL, os.Getenv("DATABASE_URL"), config.DefaultDatabaseURL), f.schema)
	if err != nil {
		return err
	}
	d.say("PostgreSQL ready: schema %s (fresh)", f.schema)

	if err := d.startTemporal(ctx, temporalBin); err != nil {
		return err
	}
	d.say("Temporal dev server ready: Web UI http://localhost:%d", f.uiPort)

	simOpts := f.sim.options()
	appSecret := ""
	if f.webhookAddr != "" {
		appSecret = "demo-app-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		simOpts.WebhookURL, simOpts.WebhookSecret = "http://"+f.webhookAddr+WebhookPath, appSecret
	}
	sim, err := crmsim.New(simOpts)
	if err != nil {
		return err
	}
	d.stops = append(d.stops, sim.Close)
	d.sim = sim
	simCtx, stopSim := context.WithCancel(context.Background())
	d.stops = append(d.stops, stopSim)
	srv, err := serveSim(simCtx, sim, f.simAddr)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(f.dir, "crmsync.yaml")
	if err := writeDemoConfig(cfgPath, srv.Addr, f); err != nil {
		return err
	}
	d.cfg, err = config.Load(cfgPath)
	if err != nil {
		return err
	}
	if d.pageSize, err = pageSize(d.cfg.Integrations[0]); err != nil {
		return err
	}
	d.say("%s simulator on http://%s: %d contacts, %d companies, %d deals; quota %s",
		f.provider, srv.Addr, f.sim.contacts, f.sim.companies, f.sim.deals, d.cfg.Integrations[0].Quota.String())
	if f.provider != crmsim.ProviderHubSpot {
		d.say(demoHubSpotOnly, f.provider)
	}
	log, err := logging.New("console", "warn")
	if err != nil {
		return err
	}
	e := &env{Env: config.Env{ConfigPath: cfgPath, DatabaseURL: dbURL, TaskQueue: config.DefaultTaskQueue, Temporal: config.Temporal{
		Address: fmt.Sprintf("127.0.0.1:%d", f.temporalPort), Namespace: config.DefaultNamespace, PayloadKeys: d.payloadKeys}}, cfg: d.cfg, log: log}
	d.client, err = e.dial(ctx)
	if err != nil {
		return err
	}
	d.stops = append(d.stops, d.client.Close)
	if len(d.payloadKeys) > 0 {
		d.say("payloads encrypted with key %s; to read them in the Web UI: starter codec-server --cors-origin http://localhost:%d",
			d.payloadKeys[0].ID(), f.uiPort)
	}

	workerEnv := append(os.Environ(), "CRMSYNC_CONFIG="+cfgPath, "DATABASE_URL="+dbURL, demoTokenEnv+"="+demoToken,
		demoClientIDEnv+"="+demoClientID, demoClientSecretEnv+"="+demoClientSecret,
		"TEMPORAL_ADDRESS="+e.Temporal.Address, "TEMPORAL_NAMESPACE="+e.Temporal.Namespace, "CRMSYNC_TASK_QUEUE="+e.TaskQueue,
		"CRMSYNC_LOG_FORMAT=json", "CRMSYNC_METRICS_ADDR="+f.metricsAddr)
	if err := d.superviseWorker(ctx, workerBin, workerEnv); err != nil {
		return err
	}
	d.store, err = store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	d.stops = append(d.stops, d.store.Close)
	if f.webhookAddr != "" {
		if err := d.serveWebhooks(ctx, e, appSecret); err != nil {
			return err
		}
		d.say("webhook receiver on http://%s%s: the simulator pushes every change there; the deltas reconcile", f.webhookAddr, WebhookPath)
	}

	var buf strings.Builder
	if err := applySchedules(ctx, d.client, e, true, &buf); err != nil {
		return err
	}
	d.say("delta Schedules applied: every %s per object", f.deltaInterval)
	if f.sim.mutateEvery > 0 {
		d.startMutator(simCtx)
	}

	streams, err := e.streams(demoIntegration, nil)
	if err != nil {
		return err
	}
	backfillStart := time.Now()
	for _, s := range streams {
		if _, _, err := startStream(ctx, d.client, config.DefaultTaskQueue, kindBackfill, s, true, d.labeler(ctx)); err != nil {
			return err
		}
	}
	d.say("backfills started for %s; kill the worker any time (kill -9 %d) to watch it resume", "contacts, companies and deals", d.pid())
	if err := d.watchBackfills(ctx, streams); err != nil {
		return err
	}
	backfillStats := sim.Stats()
	elapsed := time.Since(backfillStart)
	if err := d.summary(ctx, streams, backfillStats, elapsed); err != nil {
		return err
	}
	if f.provider == crmsim.ProviderHubSpot {
		if err := d.syncAssociations(ctx); err != nil {
			return err
		}
	}

	if f.exitAfterBackfill {
		if err := d.verify(ctx, streams); err != nil {
			return err
		}
		if f.intakeAddr != "" {
			return d.demoWrites(ctx)
		}
		return nil
	}
	if f.intakeAddr != "" {
		if err := d.demoWrites(ctx); err != nil {
			return err
		}
	}
	d.say("delta-syncing every %s until Ctrl-C; `starter status --config %s` in another terminal shows every stream", f.deltaInterval, cfgPath)
	return d.watchDeltas(ctx, streams)
}

// pgIdentifier is what the demo accepts as a schema name (it is spliced into DDL).
var pgIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// findBinary looks for a program in $envVar, next to this executable, in ./bin, then PATH.
func findBinary(name, envVar string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	var candidates []string
	if self, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(self), name))
	}
	candidates = append(candidates, filepath.Join("bin", name))
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("cannot find the %s program (looked in $%s, next to starter, in ./bin and on PATH); run `make build`", name, envVar)
}

func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is in use: stop whatever listens there, or pick other ports (starter demo -h): %w", addr, err)
	}
	return ln.Close()
}

// prepareDemoDatabase creates the database if it is missing and gives the demo a fresh
// schema in it; it returns a URL whose connections use that schema.
func prepareDemoDatabase(ctx context.Context, rawURL, schema string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "", errors.New("DATABASE_URL: want a postgres:// URL")
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if dbName == "" {
		dbName = "crmsync"
		u.Path = "/crmsync"
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return "", fmt.Errorf("connecting to PostgreSQL at %s: %w (is it running? set DATABASE_URL)", u.Host, err)
	}
	var exists bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, dbName).Scan(&exists)
	if err == nil && !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize())
	}
	conn.Close(ctx)
	if err != nil {
		return "", fmt.Errorf("creating database %s: %w", dbName, err)
	}
	conn, err = pgx.Connect(ctx, u.String())
	if err != nil {
		return "", fmt.Errorf("connecting to database %s: %w", dbName, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("resetting schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// startTemporal runs `temporal server start-dev` on a fresh SQLite file (so the demo's
// workflows survive a restart of the server too), with one partition per task queue so
// that a queue's rate limit is delivered as configured.
func (d *demo) startTemporal(ctx context.Context, bin string) error {
	f := d.flags
	db := filepath.Join(f.dir, "temporal.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the old %s: %w", db+suffix, err)
		}
	}
	logPath := filepath.Join(f.dir, "temporal.log")
	p, err := startProcess(bin, devServerArgs(f.temporalPort, f.uiPort, db), os.Environ(), logPath)
	if err != nil {
		return fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	d.stops = append(d.stops, func() { p.stop(10 * time.Second) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", f.temporalPort), Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Temporal dev server did not become ready within 60 s; see %s", logPath)
		}
		if p.exited() {
			return fmt.Errorf("the Temporal dev server exited; see %s: %w", logPath, p.err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// devServerArgs are the dev server's flags for the demo and the tests.
func devServerArgs(port, uiPort int, dbFile string) []string {
	args := []string{"server", "start-dev",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--ui-port", strconv.Itoa(uiPort),
		"--db-filename", dbFile,
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		"--log-level", "warn",
	}
	// crmsync's search attributes, so the Web UI can filter the demo's syncs at once.
	for _, name := range slices.Sorted(maps.Keys(workflows.SearchAttributeTypes())) {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	return args
}

// demoConfigHeaders tell, per provider, how to turn the demo's config into a real account's.
var demoConfigHeaders = map[string]string{
	crmsim.ProviderHubSpot: `# To sync a real HubSpot account instead, remove base_url and point credential_env at a
# variable holding a private app token.`,
	crmsim.ProviderSalesforce: `# To sync a real Salesforce org instead, set base_url to its instance URL
# (https://acme.my.salesforce.com), remove oauth.token_url (login.salesforce.com is the
# default) and set the three variables to a connected app's id and secret and a refresh token.`,
	crmsim.ProviderPipedrive: `# To sync a real Pipedrive company instead, remove base_url and point credential_env at a
# variable holding an API token (or use oauth, which gets four times the burst).`,
	crmsim.ProviderZoho: `# To sync a real Zoho CRM account instead, set base_url to its data centre's API domain
# (default https://www.zohoapis.com), oauth.token_url to its accounts server (default
# accounts.zoho.com) and the three variables to a Self Client's id and secret and a refresh token.`,
}

func writeDemoConfig(path, simAddr string, f demoFlags) error {
	doc := fmt.Sprintf(`# Written by starter demo: the local simulator stands in for %s.
%s
integrations:
  - id: %s
    provider: %s
    base_url: http://%s
    %s
    objects: [contacts, companies, deals]
    quota:%s
    delta:
      interval: %s
      lag: %s
      deletes_every: 0s   # walk deleted records every delta, so the demo shows deletes at once
`, f.provider, demoConfigHeaders[f.provider], demoIntegration, f.provider, simAddr, demoAuth(f.provider, simAddr),
		demoQuota(f.provider, f), f.deltaInterval, f.deltaLag)
	if f.webhookAddr != "" {
		doc += fmt.Sprintf(`    webhooks:             # the simulator pushes its changes to starter's receiver
      portal_id: %d
      secret_env: %s
      flush_after: 2s     # a changed record waits up to 2 s for others, so small changes share a call
`, crmsim.DefaultPortalID, demoAppSecretEnv)
	}
	if f.intakeAddr != "" {
		doc += fmt.Sprintf(`    writes:               # applications queue writes to contacts, by email; sent in batches under the quota
      objects: {contacts: {id_property: email}}
intake:
  apps: [{name: demo-app, token_env: %s}]
`, demoIntakeTokenEnv)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("writing the demo config: %w", err)
	}
	return nil
}

// superviseWorker runs the worker and restarts it whenever it dies, as systemd or
// Kubernetes would: the point of the demo is that a killed worker loses nothing.
func (d *demo) superviseWorker(ctx context.Context, bin string, env []string) error {
	logPath := filepath.Join(d.flags.dir, "worker.log")
	start := func() (*proc, error) {
		p, err := startProcess(bin, nil, env, logPath)
		if err != nil {
			return nil, fmt.Errorf("starting the worker: %w", err)
		}
		d.mu.Lock()
		d.workerPID = p.pid()
		d.mu.Unlock()
		return p, nil
	}
	current, err := start()
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	var cmu sync.Mutex
	supervisorDone := make(chan struct{})
	go func() {
		defer close(supervisorDone)
		for {
			cmu.Lock()
			p := current
			cmu.Unlock()
			select {
			case <-sctx.Done():
				return
			case <-p.done:
			}
			d.mu.Lock()
			d.workerDeath++
			d.mu.Unlock()
			d.say("worker (pid %d) exited: %v; restarting it in 2 s; the syncs resume where they stopped (log: %s)", p.pid(), p.err, logPath)
			select {
			case <-sctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			next, err := start()
			if err != nil {
				d.say("%v", err)
				return
			}
			cmu.Lock()
			current = next
			cmu.Unlock()
			d.say("worker restarted (pid %d)", next.pid())
		}
	}()
	d.stops = append(d.stops, func() {
		stop()
		<-supervisorDone
		cmu.Lock()
		p := current
		cmu.Unlock()
		p.stop(15 * time.Second)
	})
	return nil
}

func (d *demo) pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workerPID
}

// proc is a child process the demo started; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProcess starts a child in its own process group (so the terminal's Ctrl-C reaches
// the demo, which then stops children in order) that dies with the demo.
func startProcess(bin string, args, env []string, logPath string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the child to stop (SIGTERM) and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// watchBackfills prints progress every two seconds until every backfill has finished.
func (d *demo) watchBackfills(ctx context.Context, streams []stream) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	rates := ratelimit.ForQuota(d.cfg.Integrations[0].Quota)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		done := 0
		var parts []string
		for _, s := range streams {
			desc, err := d.client.DescribeWorkflow(ctx, workflows.BackfillID(s.integration, s.object), "")
			if err != nil {
				return fmt.Errorf("describing the %s backfill: %w", s.object, err)
			}
			status := desc.Status
			if status == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED || status == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
				return fmt.Errorf("the %s backfill %s; see the Web UI", s.object, strings.ToLower(status.String()))
			}
			counts, err := d.store.Count(ctx, s.integration, s.object)
			if err != nil {
				return err
			}
			total := d.crmCount(s.object)
			mark := ""
			if status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				done++
				mark = " done"
			}
			parts = append(parts, fmt.Sprintf("%s %s%s", s.object, bar(counts.Live+counts.Deleted, total), mark))
		}
		st := d.sim.Stats()
		queueRate := "none"
		if rates.API > 0 {
			queueRate = fmt.Sprintf("%.1f/s", rates.API)
		}
		d.say("%s | API calls %d (%.1f/s, queue rate %s) refused %d | worker pid %d",
			strings.Join(parts, "  "), st.Total, float64(st.Total)/time.Since(d.started).Seconds(), queueRate, st.RateLimited, d.pid())
		if done == len(streams) {
			return nil
		}
	}
}

// crmCount is the number of records (live and archived) the simulator holds.
func (d *demo) crmCount(obj crm.Object) int64 {
	recs, err := d.sim.SnapshotFor(d.flags.provider, string(obj))
	if err != nil {
		return 0
	}
	return int64(len(recs))
}

func bar(n, total int64) string {
	const width = 12
	if total <= 0 {
		total = 1
	}
	filled := min(int(n*width/total), width)
	return fmt.Sprintf("[%s%s] %6d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, total)
}

func (d *demo) summary(ctx context.Context, streams []stream, st crmsim.Stats, elapsed time.Duration) error {
	fmt.Fprintf(d.out, "\n=== crmsync demo (%s): backfill complete in %s ===\n\n", d.flags.provider, elapsed.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "OBJECT\tIN POSTGRES (live / deleted)\tIN THE CRM NOW\tPROPERTIES\tCALLS A PAGE\tLIST CALLS\tMINIMUM ceil(N/%d)\n", d.pageSize)
	var records, minimum int64
	var objects []crm.Object
	for _, s := range streams {
		c, err := d.store.Count(ctx, s.integration, s.object)
		if err != nil {
			return err
		}
		records += c.Live + c.Deleted
		least := (c.Live + int64(d.pageSize) - 1) / int64(d.pageSize)
		minimum += least
		objects = append(objects, s.object)
		calls := "-" // an endpoint shared by the objects (Salesforce's query_more): see the total
		if n, ok := ownListCalls(st, d.flags.provider, s.object); ok {
			calls = strconv.Itoa(n)
		}
		props, perPage := "-", "-"
		if plan, ok := d.pagePlan(ctx, s.object); ok {
			props, perPage = strconv.Itoa(plan.Properties), strconv.Itoa(plan.PerPage)
		}
		fmt.Fprintf(tw, "%s\t%d / %d\t%d\t%s\t%s\t%s\t%d\n", s.object, c.Live, c.Deleted, d.crmCount(s.object), props, perPage, calls, least)
	}
	fmt.Fprintf(tw, "all\t\t\t\t\t%d\t%d\n", listCalls(st, d.flags.provider, objects...), minimum)
	if err := tw.Flush(); err != nil {
		return err
	}
	q := d.cfg.Integrations[0].Quota
	fmt.Fprintf(d.out, "\nAPI calls used:      %d in all (%s)\n", st.Total, endpointSummary(st))
	fmt.Fprintf(d.out, "Refused calls:       %d (%s)\n", st.RateLimited, refusal(d.flags.provider))
	rate := fmt.Sprintf("Request rate:        %.2f calls/s achieved; quota %s", float64(st.Total)/elapsed.Seconds(), q.String())
	if d.flags.provider == crmsim.ProviderHubSpot {
		// The simulator measures the busiest rolling window of HubSpot's limit only.
		peak := 0
		for _, p := range st.Peak10s {
			peak = max(peak, p)
		}
		rate += fmt.Sprintf(" (%.0f/s); queue limit %.2f/s; busiest 10 s held %d calls", float64(d.flags.quota10s)/10, ratelimit.ForQuota(q).API, peak)
	}
	fmt.Fprintln(d.out, rate)
	fmt.Fprintf(d.out, "Records synced:      %d in %s (%.0f records/s)\n", records, elapsed.Round(100*time.Millisecond), float64(records)/elapsed.Seconds())
	if in := d.cfg.Integrations[0]; in.OAuth != nil {
		fmt.Fprintf(d.out, "OAuth:               %d access tokens issued by the refresh grant (each lasts %s)\n", d.sim.RefreshGrants(), d.flags.sim.accessTokenTTL)
	}
	if n := d.workerDeaths(); n > 0 {
		fmt.Fprintf(d.out, "Worker restarts:     %d (the backfills resumed each time)\n", n)
	}
	fmt.Fprintf(d.out, "Temporal Web UI:     http://localhost:%d/namespaces/default/workflows\n", d.flags.uiPort)
	fmt.Fprintf(d.out, "PostgreSQL:          psql '%s' -c 'SELECT object_type, count(*) FROM %s.records GROUP BY 1'\n\n",
		redactURL(cmp.Or(d.flags.databaseURL, os.Getenv("DATABASE_URL"), config.DefaultDatabaseURL)), d.flags.schema)
	return nil
}

// refusal names what a CRM answers a call over its limit with.
func refusal(provider string) string {
	if provider == crmsim.ProviderSalesforce {
		return "403 REQUEST_LIMIT_EXCEEDED"
	}
	return "429s"
}

func (d *demo) workerDeaths() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workerDeath
}

// endpointSummary adds up the calls per operation ("list", "query_more", "fields"), the
// provider's prefix and the object dropped, busiest first.
func endpointSummary(st crmsim.Stats) string {
	groups := map[string]int{}
	for key, byStatus := range st.ByEndpoint {
		words := strings.Fields(key)
		if len(words) > 1 && slices.Contains(crmsim.Providers(), words[0]) {
			words = words[1:]
		}
		if len(words) == 0 {
			continue
		}
		for _, n := range byStatus {
			groups[words[0]] += n
		}
	}
	ops := slices.Collect(maps.Keys(groups))
	slices.SortFunc(ops, func(a, b string) int { return cmp.Or(cmp.Compare(groups[b], groups[a]), cmp.Compare(a, b)) })
	var parts []string
	for _, op := range ops {
		if groups[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", op, groups[op]))
		}
	}
	return strings.Join(parts, ", ")
}

// redactURL drops a password from a database URL before printing it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(DATABASE_URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// verify runs one delta of every object and compares PostgreSQL with the simulator.
func (d *demo) verify(ctx context.Context, streams []stream) error {
	// Changes newer than the search index's lag are not searchable yet when the delta
	// reads: they are the next delta's.
	asOf := time.Now().Add(-d.flags.sim.indexLag - time.Second)
	var runs []client.WorkflowRun
	for _, s := range streams {
		run, _, err := startStream(ctx, d.client, config.DefaultTaskQueue, kindDelta, s, false, d.labeler(ctx))
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	for i, run := range runs {
		if err := run.Get(ctx, nil); err != nil {
			return fmt.Errorf("delta of %s: %w", streams[i], err)
		}
	}
	var bad []string
	for _, s := range streams {
		diff, err := groundtruth.CompareAs(ctx, d.sim, d.flags.provider, d.store, s.integration, s.object, asOf)
		if err != nil {
			return err
		}
		d.say("check %s: %s", s.object, diff)
		if diff.Mismatches() > 0 {
			bad = append(bad, string(s.object))
		}
	}
	if st := d.sim.Stats(); st.RateLimited > 0 || st.Early > 0 {
		bad = append(bad, fmt.Sprintf("%d refused calls (%s), %d early calls", st.RateLimited, refusal(d.flags.provider), st.Early))
	}
	if len(bad) > 0 {
		return fmt.Errorf("demo check failed: %s", strings.Join(bad, "; "))
	}
	d.say("PostgreSQL equals the CRM; no call refused%s", d.pushSummary(d.sim.Stats()))
	return nil
}

// watchDeltas reports each completed delta until Ctrl-C.
func (d *demo) watchDeltas(ctx context.Context, streams []stream) error {
	seen := map[string]time.Time{}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.say("stopping: worker, Temporal dev server, simulator")
			return nil
		case <-tick.C:
		}
		for _, s := range streams {
			st, err := d.store.Stream(ctx, store.StreamKey{Integration: s.integration, Object: s.object, Stream: store.StreamDelta})
			if err != nil {
				return err
			}
			key := s.String()
			if st.CompletedAt.IsZero() || !st.CompletedAt.After(seen[key]) {
				continue
			}
			seen[key] = st.CompletedAt
			// What changed after the delta's last search (the index lag before it, and the
			// archived pass after it) is the next delta's business.
			asOf := st.CompletedAt.Add(-d.flags.sim.indexLag - 2*time.Second)
			diff, err := groundtruth.CompareAs(ctx, d.sim, d.flags.provider, d.store, s.integration, s.object, asOf)
			if err != nil {
				return err
			}
			stats := d.sim.Stats()
			d.say("delta %-9s caught up (cursor %s); Postgres vs CRM: %d mismatches of %d; API calls %d, refused %d%s",
				s.object, st.Cursor, diff.Mismatches(), diff.Compared, stats.Total, stats.RateLimited, d.pushSummary(stats))
		}
	}
}

// quietLogger silences the SDK while polling for the dev server to come up.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// serveWebhooks runs the webhook receiver inside the demo, as `starter webhooks` would run
// beside a real worker.
func (d *demo) serveWebhooks(ctx context.Context, e *env, secret string) error {
	getenv := func(name string) string {
		if name == demoAppSecretEnv {
			return secret
		}
		return os.Getenv(name)
	}
	m := metrics.New()
	h, err := newWebhookHandler(d.cfg, getenv, "", d.store, &signaller{c: d.client, queue: e.TaskQueue, cfg: d.cfg,
		labels: d.labeler(ctx)}, e.log, m)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.flags.webhookAddr)
	if err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	srv := webhookServer(h, m)
	go func() { _ = srv.Serve(ln) }()
	d.stops = append(d.stops, func() { _ = srv.Close() })
	d.hooks = h
	return nil
}

// pushSummary describes what webhooks brought since the start, for the delta lines.
func (d *demo) pushSummary(st crmsim.Stats) string {
	if d.hooks == nil {
		return ""
	}
	hs := d.hooks.Stats()
	reads := 0
	for _, obj := range crm.Objects {
		reads += st.Calls("batch_read " + string(obj))
		// A page of a wide object's listing reads what its GET could not carry by batch
		// read too: those are not the webhooks'.
		if plan, ok := d.pagePlan(context.Background(), obj); ok {
			reads -= (st.Calls("list "+string(obj)) + st.Calls("list_archived "+string(obj))) * (plan.PerPage - 1)
		}
	}
	return fmt.Sprintf("; pushed: %d events accepted (%d duplicates) -> %d batch reads", hs.Accepted, hs.Duplicates, max(reads, 0))
}

// syncAssociations reads the links between the backfilled records, 1,000 records a call,
// and reports what each pair cost.
func (d *demo) syncAssociations(ctx context.Context) error {
	for _, p := range crm.AssociationPairs {
		opts := client.StartWorkflowOptions{ID: workflows.AssociationsID(demoIntegration, p.From, p.To), TaskQueue: config.DefaultTaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}
		run, err := d.client.ExecuteWorkflow(ctx, opts, workflows.SyncAssociations, workflows.AssociationsInput{Integration: demoIntegration, From: p.From, To: p.To})
		if err != nil {
			return fmt.Errorf("starting the %s associations: %w", p, err)
		}
		var res workflows.AssociationsResult
		if err := run.Get(ctx, &res); err != nil {
			return fmt.Errorf("associations %s: %w", p, err)
		}
		d.say("associations %-20s %6d records, %d links, %d calls (one per 1,000 records)", p, res.Fetched, res.Written, res.Calls)
	}
	return nil
}

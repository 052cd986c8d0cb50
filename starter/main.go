// Command starter is crmsync's command line: it starts backfills and delta syncs (and can
// wait for them with live progress), applies the delta Schedules from the config, shows the
// status of every stream, checks a deployment (doctor), runs the CRM simulator, and runs
// the whole demo.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/logging"
	"github.com/crmsync/crmsync/internal/temporalclient"
)

const usage = `crmsync starter: run and watch CRM syncs.

Usage: starter <command> [flags]

Commands:
  demo              run everything locally (Temporal dev server, simulator, worker), sync, watch
  backfill          start (or resume) a full backfill      [--integration ID] [--object O] [--restart] [--wait]
  sync              run a delta sync now                    [--integration ID] [--object O] [--wait]
  associations      sync the associations of the backfilled records  [--integration ID] [--wait]
  schedule apply    create or update the delta Schedules from the config; remove stale ones
  schedule delete   delete crmsync's delta Schedules        [--integration ID]
  status            every stream on one screen: state, last success, lag, records, calls today, waits  [--integration ID] [--watch [--every 2s]]
  doctor            check Temporal, PostgreSQL, each CRM's credential and quota, the schedules  [--integration ID]
  webhooks          receive the CRM's signed change notifications  [--listen :8088] [--public-url URL]
  intake            take applications' writes over HTTP into the write queue  [--listen :8089]
  writes dead       list the writes the CRM refused for good, with its words  [--integration ID] [--object O]
  writes replay     queue dead letters again once the data is fixed  --seq N[,N...] | --all
  sim               run the CRM simulator                   (starter sim -h for its flags)
  codec-server      decrypt payloads for the Web UI and the temporal CLI  [--listen 127.0.0.1:8081] [--cors-origin URL]

The config file is CRMSYNC_CONFIG (default crmsync.yaml) or --config; Temporal and
PostgreSQL settings come from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_* and DATABASE_URL; CRMSYNC_PAYLOAD_KEYS (id:base64-key,...) turns payload
encryption on. Run "starter <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, out)
	case "sim":
		return runSim(ctx, rest, out)
	case "backfill":
		return runStart(ctx, kindBackfill, rest, out)
	case "sync":
		return runStart(ctx, kindDelta, rest, out)
	case "schedule":
		if len(rest) == 0 {
			return errors.New("schedule: want a subcommand: apply or delete")
		}
		switch rest[0] {
		case "apply":
			return runScheduleApply(ctx, rest[1:], out)
		case "delete":
			return runScheduleDelete(ctx, rest[1:], out)
		default:
			return fmt.Errorf("schedule: unknown subcommand %q (want apply or delete)", rest[0])
		}
	case "status":
		return runStatus(ctx, rest, out)
	case "doctor":
		return runDoctor(ctx, rest, out)
	case "webhooks":
		return runWebhooks(ctx, rest, out)
	case "associations":
		return runAssociations(ctx, rest, out)
	case "codec-server":
		return runCodecServer(ctx, rest, out)
	case "intake":
		return runIntake(ctx, rest, out)
	case "writes":
		return runWrites(ctx, rest, out)
	default:
		return fmt.Errorf("unknown command %q; run starter -h", cmd)
	}
}

// env is what every command that talks to Temporal needs.
type env struct {
	config.Env
	cfg *config.Config
	log *zap.Logger
}

// common flags shared by the commands that read the config.
type commonFlags struct {
	configPath string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "config file (default $CRMSYNC_CONFIG or crmsync.yaml)")
}

func loadEnv(c commonFlags) (*env, error) {
	e, err := config.LoadEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if c.configPath != "" {
		e.ConfigPath = c.configPath
	}
	cfg, err := config.Load(e.ConfigPath)
	if err != nil {
		return nil, err
	}
	log, err := logging.New(os.Getenv("CRMSYNC_LOG_FORMAT"), cmp.Or(os.Getenv("CRMSYNC_LOG_LEVEL"), "warn"))
	if err != nil {
		return nil, err
	}
	return &env{Env: e, cfg: cfg, log: log}, nil
}

// command is a subcommand's flag set: the common flags plus its own.
type command struct {
	*flag.FlagSet
	common commonFlags
}

func newCommand(name string, out io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	c := &command{FlagSet: fs}
	c.common.register(fs)
	return c
}

// connect parses the command line, loads the environment and the config, and dials
// Temporal; callers close the client.
func (c *command) connect(ctx context.Context, args []string) (*env, client.Client, error) {
	if err := c.Parse(args); err != nil {
		return nil, nil, err
	}
	return connect(ctx, c.common)
}

// connect loads the environment and the config and dials Temporal; callers close the client.
func connect(ctx context.Context, c commonFlags) (*env, client.Client, error) {
	e, err := loadEnv(c)
	if err != nil {
		return nil, nil, err
	}
	tc, err := e.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	return e, tc, nil
}

func (e *env) dial(ctx context.Context) (client.Client, error) {
	return temporalclient.Dial(ctx, e.Temporal, e.log)
}

// streams resolves --integration and --object flags to the configured streams. With one
// integration configured, --integration may be left out.
func (e *env) streams(integration string, objects []string) ([]stream, error) {
	var ins []*config.Integration
	switch {
	case integration != "":
		in, err := e.cfg.Integration(integration)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	default:
		for i := range e.cfg.Integrations {
			ins = append(ins, &e.cfg.Integrations[i])
		}
	}
	var out []stream
	for _, in := range ins {
		for _, o := range in.Objects {
			if len(objects) > 0 && !slices.Contains(objects, string(o)) {
				continue
			}
			out = append(out, stream{integration: in.ID, object: o})
		}
	}
	for _, o := range objects {
		if _, err := crm.ParseObject(o); err != nil {
			return nil, fmt.Errorf("--object: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no configured stream matches --integration %q --object %s", integration, strings.Join(objects, ","))
	}
	return out, nil
}

type stream struct {
	integration string
	object      crm.Object
}

func (s stream) String() string { return s.integration + "/" + string(s.object) }

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

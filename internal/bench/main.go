// Command bench measures how close crmsync gets to a CRM's API quota, and what it costs in
// calls: it runs scenarios against the HubSpot simulator, a real Temporal dev server, real
// PostgreSQL and the real worker binary, and prints one table plus one JSON line per run.
//
// Run it with `make bench` (which builds bin/worker first), or
//
//	go run ./internal/bench [--scenarios a,b,c,d,e,f] [--records 50000] [--quick] [--out .bench]
//
// The soak (scenario s, half an hour by default) runs only when named:
//
//	go run ./internal/bench --scenarios s [--soak 30m]
//
// Scenario w (about 100 s, in the default list) measures the outbound write queue: 10,000
// write events for 2,000 distinct contacts, each setting 1-3 properties, queued in a burst
// by four applications (half by INSERTs into write_outbox in transactions of 100, half
// through the HTTP intake in requests of 100) while one worker drains them. It prints, in a
// table of its own, the batch upsert calls against ceil(2,000/100) = 20, the time from the
// first event queued to an outbox with nothing pending or sending, 429s, records whose CRM
// copy misses a property's latest queued value (lost), versions applied twice (duplicated)
// and the peak calls in 10 s against the quota; beside it, the same figures for a client
// that sends each event as its own call and retries 429s as HubSpot's Node client does
// (10 s per TEN_SECONDLY_ROLLING refusal). At 100 calls per 10 s that client would need
// about 1,000 s for the burst, so it sends the first 1,000 events only, to a simulator of
// its own, and its time for the whole burst is extrapolated from them (and labelled so).
//
// Scenario x (about 65 s, in the default list) measures where queued writes rank in the
// quota: a backfill of 50,000 contacts at 100 calls per 10 s with one worker, and 15 s into
// it, once the backfill has the whole window, a burst of 2,000 write events for 400
// contacts queued as scenario w queues its burst. Its row in the main table is the
// backfill's (its calls without the writes'; ELAPSED against T_LIM shows what the burst cost
// it, next to scenario a's row at --records 50000), with the burst's figures beside it:
// crmsync's calls in the 10 s before the burst, the batch upserts against ceil(400/100) = 4
// and when each batch settled, the drain time, the backfill's calls meanwhile. The write
// table gives the burst's row as for scenario w; the row fails on any lost, duplicated or
// dead-lettered write, any 429, or a peak above the quota.
//
// Every figure comes from the simulator's own counters and from PostgreSQL, never from
// crmsync's view of itself. The JSON lines (prefixed "BENCH ") also go to
// <out>/results.jsonl, and each run's requests per second to <out>/<run>-persecond.json,
// drawn after the table as <out>/<run>.png: calls per second against the quota line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crmsync/crmsync/internal/config"
)

// options are the command-line flags.
type options struct {
	scenarios []string
	records   int
	outDir    string
	// quotas and latencies are the backfill grid's rows (scenarios a and b).
	quotas    []int
	latencies []time.Duration
	// idleIntegrations are scenario f's numbers of integrations.
	idleIntegrations []int
	// providers are scenario p's CRMs, widths the account widths it runs them on.
	providers []string
	widths    []string
	// soak is how long scenario s mutates records after its backfill.
	soak time.Duration
}

// quickRecords is the backfill size of --quick, a smoke run of a few minutes.
const quickRecords = 5000

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run parses the flags, runs the chosen scenarios and reports them. It fails when any run
// failed, after reporting every run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	chosen, err := selectScenarios(opts.scenarios)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.outDir, 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	rep, err := newReporter(stdout, opts.outDir)
	if err != nil {
		return err
	}
	defer rep.close()

	b, err := newBench(ctx, opts, stderr)
	if err != nil {
		return err
	}
	defer b.close()

	var failed []string
	for _, sc := range chosen {
		b.progress("scenario %s: %s", sc.name, sc.about)
		for _, res := range sc.run(ctx, b) {
			if err := rep.add(res); err != nil {
				return err
			}
			if res.Error != "" {
				failed = append(failed, res.Run)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := rep.printTable(); err != nil {
		return err
	}
	charts, err := writeCharts(opts.outDir, rep.results)
	for _, c := range charts {
		fmt.Fprintf(stdout, "chart: %s\n", c)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d run(s) failed: %s (worker logs in %s)", len(failed), strings.Join(failed, ", "), opts.outDir)
	}
	return nil
}

// parseFlags reads the command line.
func parseFlags(args []string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		opts      options
		scenarios string
		quick     bool
		quotas    = "100,190"
		latencies = "0s,200ms"
		idle      = "10,100,1000"
		providers = strings.Join(defaultProviders, ",")
		widths    = widthWide + "," + widthNarrow
	)
	fs.StringVar(&scenarios, "scenarios", strings.Join(defaultScenarioNames(), ","), "comma-separated scenarios to run (s, the soak, runs only when named)")
	fs.IntVar(&opts.records, "records", 50000, "contacts in the backfill scenarios")
	fs.BoolVar(&quick, "quick", false, fmt.Sprintf("smoke run: %d records", quickRecords))
	fs.StringVar(&quotas, "quotas", quotas, "comma-separated quotas (calls per 10 s) of the backfill grid")
	fs.StringVar(&latencies, "latencies", latencies, "comma-separated CRM latencies of the backfill grid")
	fs.StringVar(&idle, "idle-integrations", idle, "comma-separated numbers of integrations for scenario f")
	fs.StringVar(&providers, "providers", providers, "comma-separated CRMs of scenario p ("+strings.Join(config.Providers, ", ")+")")
	fs.StringVar(&widths, "widths", widths, "comma-separated account widths of scenario p: wide (hundreds of properties, the default account), narrow (a dozen)")
	fs.DurationVar(&opts.soak, "soak", 30*time.Minute, "how long scenario s changes records and syncs them")
	fs.StringVar(&opts.outDir, "out", ".bench", "directory for results.jsonl, worker logs and per-second series")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if quick {
		opts.records = quickRecords
	}
	if opts.records <= 0 {
		return options{}, fmt.Errorf("--records must be positive, got %d", opts.records)
	}
	if opts.soak <= 0 {
		return options{}, fmt.Errorf("--soak must be a positive duration like 30m, got %s", opts.soak)
	}
	for q := range strings.SplitSeq(quotas, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(q))
		if err != nil || n < 2 {
			return options{}, fmt.Errorf("--quotas: %q is not a quota of at least 2 calls per 10 s", q)
		}
		opts.quotas = append(opts.quotas, n)
	}
	for l := range strings.SplitSeq(latencies, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(l))
		if err != nil || d < 0 {
			return options{}, fmt.Errorf("--latencies: %q is not a duration like 200ms", l)
		}
		opts.latencies = append(opts.latencies, d)
	}
	for v := range strings.SplitSeq(idle, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return options{}, fmt.Errorf("--idle-integrations: %q is not a number of integrations", v)
		}
		opts.idleIntegrations = append(opts.idleIntegrations, n)
	}
	for p := range strings.SplitSeq(providers, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(config.Providers, p) {
			return options{}, fmt.Errorf("--providers: %q is not one of %s", p, strings.Join(config.Providers, ", "))
		}
		opts.providers = append(opts.providers, p)
	}
	for w := range strings.SplitSeq(widths, ",") {
		w = strings.TrimSpace(w)
		if w != widthWide && w != widthNarrow {
			return options{}, fmt.Errorf("--widths: %q is neither %s nor %s", w, widthWide, widthNarrow)
		}
		opts.widths = append(opts.widths, w)
	}
	for s := range strings.SplitSeq(scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(opts.scenarios, s) {
			opts.scenarios = append(opts.scenarios, s)
		}
	}
	if len(opts.scenarios) == 0 {
		return options{}, errors.New("--scenarios names no scenario")
	}
	return opts, nil
}

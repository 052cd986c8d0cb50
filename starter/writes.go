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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/intake"
	"github.com/crmsync/crmsync/internal/store"
)

// runIntake serves the HTTP write intake: applications POST writes, which are queued in
// PostgreSQL's outbox and answered at once. It needs PostgreSQL only, never Temporal or
// the CRM, so it keeps taking writes while workers restart.
func runIntake(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("intake", out)
	listen := fs.String("listen", cmp.Or(os.Getenv("CRMSYNC_INTAKE_LISTEN"), ":8089"), "address to listen on ($CRMSYNC_INTAKE_LISTEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := loadEnv(fs.common)
	if err != nil {
		return err
	}
	// The config and the apps' tokens are checked before the database is touched.
	opts, err := intakeOptions(e.cfg, os.Getenv)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	opts.Queue = st
	h, err := intake.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "write intake listening on %s (POST /v1/writes/{integration}/{object})\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("intake: %w", err)
	}
	return nil
}

// intakeOptions are the intake's write targets and apps, from the config and the apps'
// tokens in the environment; the caller adds the queue.
func intakeOptions(cfg *config.Config, getenv func(string) string) (intake.Options, error) {
	targets := map[string]map[string]intake.Target{}
	for _, in := range cfg.Integrations {
		for obj, wo := range in.WriteTargets() {
			if targets[in.ID] == nil {
				targets[in.ID] = map[string]intake.Target{}
			}
			targets[in.ID][string(obj)] = intake.Target{IDProperty: wo.IDProperty, MaxBytes: in.Writes.MaxRecordBytes}
		}
	}
	if len(targets) == 0 {
		return intake.Options{}, errors.New("intake: no integration takes writes: add writes.objects to one in the config")
	}
	if cfg.Intake == nil || len(cfg.Intake.Apps) == 0 {
		return intake.Options{}, errors.New("intake: no application may write: add intake.apps (name, token_env) to the config")
	}
	var apps []intake.App
	var errs []error
	for _, a := range cfg.Intake.Apps {
		tok, err := a.Token(getenv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		apps = append(apps, intake.App{Name: a.Name, Token: tok, Integrations: a.Integrations})
	}
	if err := errors.Join(errs...); err != nil {
		return intake.Options{}, err
	}
	return intake.Options{Targets: targets, Apps: apps}, nil
}

// runWrites is `starter writes dead` and `starter writes replay`.
func runWrites(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("writes: want a subcommand: dead or replay")
	}
	sub, rest := args[0], args[1:]
	fs := newCommand("writes "+sub, out)
	integration := fs.String("integration", "", "only this integration's writes")
	object := fs.String("object", "", "only this object's writes")
	var limit *int
	var seqs *string
	var all *bool
	switch sub {
	case "dead":
		limit = fs.Int("limit", 50, "show at most this many (0: all)")
	case "replay":
		seqs = fs.String("seq", "", "the dead letters to replay, by seq (comma-separated)")
		all = fs.Bool("all", false, "replay every dead letter selected by --integration/--object")
	default:
		return fmt.Errorf("writes: unknown subcommand %q (want dead or replay)", sub)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	e, err := loadEnv(fs.common)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	f := store.DeadLetterFilter{Integration: *integration, Object: *object}
	if sub == "dead" {
		dead, err := st.DeadLetters(ctx, f, *limit)
		if err != nil {
			return err
		}
		return renderDeadLetters(out, dead, time.Now())
	}
	if *seqs == "" && !*all {
		return errors.New("writes replay: name the dead letters with --seq 12,13 or take them all with --all")
	}
	for s := range strings.SplitSeq(*seqs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("writes replay: --seq: %q is not a number", s)
		}
		f.Seqs = append(f.Seqs, n)
	}
	queued, err := st.ReplayDeadLetters(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "queued %d dead letters again; the workers send them with the next batch\n", len(queued))
	return nil
}

// renderDeadLetters lists dead letters with the CRM's words.
func renderDeadLetters(out io.Writer, dead []store.DeadLetter, now time.Time) error {
	if len(dead) == 0 {
		fmt.Fprintln(out, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTREAM\tRECORD\tAPP\tDEAD\tCRM SAID")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s/%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Integration, d.Object, abbreviate(d.RecordKey, 32), d.App,
			clock(d.DeadAt, now), abbreviate(d.Category+": "+d.Message, 80))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Fix the data (UPDATE write_dead_letters SET properties = ... WHERE seq = ..., or the CRM's settings),")
	fmt.Fprintln(tw, "then: starter writes replay --seq N[,N...] | --all")
	return tw.Flush()
}

// renderWriteQueues is status's write-queue section: each stream's queue, and the newest
// dead letters.
func renderWriteQueues(out io.Writer, queues []store.WriteQueueStats, dead []store.DeadLetter, now time.Time) error {
	if len(queues) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WRITE QUEUE\tPENDING\tSENDING\tSENT 24H\tDEAD\tOLDEST PENDING")
	for _, q := range queues {
		oldest := "-"
		if !q.OldestPending.IsZero() {
			oldest = shortDuration(now.Sub(q.OldestPending)) + " ago"
		}
		fmt.Fprintf(tw, "%s/%s\t%d\t%d\t%d\t%d\t%s\n", q.Integration, q.Object, q.Pending, q.Sending, q.Sent, q.Dead, oldest)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(dead) == 0 {
		return nil
	}
	fmt.Fprintln(out)
	return renderDeadLetters(out, dead, now)
}

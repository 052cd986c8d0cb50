package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
)

// defaultDatabaseURL is the PostgreSQL database the benchmarks create their schemas in
// unless DATABASE_URL names another.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// devServerStartTimeout bounds the Temporal dev server's start.
const devServerStartTimeout = 2 * time.Minute

// bench is what every scenario shares: one Temporal dev server and its client, the worker
// binary, the PostgreSQL server and the output directory. Everything else belongs to a run
// (see rig).
type bench struct {
	opts        options
	databaseURL string
	workerBin   string
	starterBin  string
	temporal    *testsuite.DevServer
	client      client.Client
	serverLog   *os.File
	progressOut io.Writer
	started     time.Time
}

// newBench finds the binaries and starts the Temporal dev server.
func newBench(ctx context.Context, opts options, progressOut io.Writer) (*bench, error) {
	b := &bench{opts: opts, progressOut: progressOut, started: time.Now()}
	b.databaseURL = os.Getenv("DATABASE_URL")
	if b.databaseURL == "" {
		b.databaseURL = defaultDatabaseURL
	}
	temporalBin, err := findProgram("temporal", os.Getenv("TEMPORAL_CLI"), "`make tools` installs bin/temporal")
	if err != nil {
		return nil, err
	}
	b.workerBin, err = findProgram("worker", os.Getenv("CRMSYNC_WORKER"), "`make build` builds bin/worker")
	if err != nil {
		return nil, err
	}
	b.starterBin, err = findProgram("starter", os.Getenv("CRMSYNC_STARTER"), "`make build` builds bin/starter")
	if err != nil {
		return nil, err
	}
	if err := b.startTemporal(ctx, temporalBin); err != nil {
		return nil, err
	}
	b.progress("Temporal dev server ready on %s (log: %s)", b.temporal.FrontendHostPort(), b.serverLog.Name())
	return b, nil
}

// startTemporal starts the dev server with one partition per task queue, so that a queue's
// rate limit is delivered as set, and the new matcher, which supports task priorities.
func (b *bench) startTemporal(ctx context.Context, bin string) error {
	logPath := filepath.Join(b.opts.outDir, "temporal.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating the Temporal log: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, devServerStartTimeout)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin,
		LogLevel:     "error",
		ExtraArgs: []string{
			"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
			"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
			"--dynamic-config-value", "matching.useNewMatcher=true",
		},
		ClientOptions: &client.Options{Logger: quietLogger{}},
		Stdout:        logFile,
		Stderr:        logFile,
	})
	if err != nil {
		logFile.Close()
		return fmt.Errorf("starting the Temporal dev server (%s; log: %s): %w", bin, logPath, err)
	}
	b.temporal, b.client, b.serverLog = srv, srv.Client(), logFile
	return nil
}

// close stops the dev server.
func (b *bench) close() {
	if b.temporal == nil {
		return
	}
	b.client.Close()
	if err := b.temporal.Stop(); err != nil {
		// An interrupted server exits with a signal status: that is how it stops.
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			b.progress("stopping the Temporal dev server: %v", err)
		}
	}
	b.serverLog.Close()
	b.temporal = nil
}

// progress reports what the benchmark is doing, on stderr, so stdout holds only results.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.progressOut, "[%6s] %s\n", time.Since(b.started).Round(time.Second), fmt.Sprintf(format, args...))
}

// findProgram returns the program named by fromEnv, else bin/<name>, else <name> on PATH,
// as an absolute path.
func findProgram(name, fromEnv, hint string) (string, error) {
	candidates := []string{filepath.Join("bin", name)}
	if fromEnv != "" {
		candidates = []string{fromEnv}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	if fromEnv == "" {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find the %s program (looked in %v and on PATH): %s", name, candidates, hint)
}

// quietLogger drops the Temporal SDK client's own log lines.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

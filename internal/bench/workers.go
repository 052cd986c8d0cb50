package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Worker process timings.
const (
	// workerStopGrace is how long a worker may take to stop after SIGTERM before SIGKILL.
	workerStopGrace = 10 * time.Second
	// workerReadyTimeout bounds the wait for the workers to poll their task queues.
	workerReadyTimeout = 3 * time.Minute
	// pollInterval is how often the benchmark re-checks something it waits for.
	pollInterval = 200 * time.Millisecond
)

// workerProc is one crmsync worker OS process; done closes when it has exited.
type workerProc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startWorker runs the worker binary with env, appending its output to logPath. The
// process gets its own process group, so a Ctrl-C reaches only the benchmark, which then
// stops its workers in order; and it is sent SIGTERM should the benchmark die first.
func startWorker(bin string, env []string, logPath string) (*workerProc, error) {
	return startProcess(bin, nil, env, logPath)
}

// startProcess runs one of crmsync's programs as startWorker runs the worker.
func startProcess(bin string, args, env []string, logPath string) (*workerProc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log of %s: %w", bin, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the worker %s: %w", bin, err)
	}
	w := &workerProc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		logFile.Close()
		close(w.done)
	}()
	return w, nil
}

// exited reports whether the process has exited.
func (w *workerProc) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// exitError is why an exited worker stopped; a clean exit is an error too while the
// benchmark still needs the worker.
func (w *workerProc) exitError() error {
	if w.err == nil {
		return errors.New("exit status 0")
	}
	return w.err
}

// stop sends SIGTERM, then SIGKILL if the worker is still running after workerStopGrace.
func (w *workerProc) stop() {
	if w.exited() {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(workerStopGrace):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

// stopWorkers stops every worker at once, so that n slow workers cost one grace period.
func stopWorkers(workers []*workerProc) {
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(w.stop)
	}
	wg.Wait()
}

// queueWant is a task queue and how many distinct workers must poll it.
type queueWant struct {
	name string
	kind enumspb.TaskQueueType
}

// waitForPollers waits until n distinct workers poll every queue, so that a measurement
// starts with the whole fleet up. It fails early when a worker exits.
func waitForPollers(ctx context.Context, c client.Client, queues []queueWant, workers []*workerProc) error {
	ctx, cancel := context.WithTimeout(ctx, workerReadyTimeout)
	defer cancel()
	for {
		for _, w := range workers {
			if w.exited() {
				return fmt.Errorf("worker exited while starting; see %s: %w", w.logPath, w.exitError())
			}
		}
		ready, err := queuesPolled(ctx, c, queues, len(workers))
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the %d worker(s) did not all poll their task queues within %s; see %s", len(workers), workerReadyTimeout, workers[0].logPath)
		case <-time.After(pollInterval):
		}
	}
}

// queuesPolled reports whether at least n distinct pollers poll each queue.
func queuesPolled(ctx context.Context, c client.Client, queues []queueWant, n int) (bool, error) {
	for _, q := range queues {
		resp, err := c.DescribeTaskQueue(ctx, q.name, q.kind)
		if err != nil {
			return false, fmt.Errorf("describing task queue %s: %w", q.name, err)
		}
		identities := map[string]bool{}
		for _, p := range resp.GetPollers() {
			identities[p.GetIdentity()] = true
		}
		if len(identities) < n {
			return false, nil
		}
	}
	return true, nil
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Scenario (f): what a worker costs when it has nothing to do, by number of integrations
// configured, with a task queue pair per integration and with the shared queues.
const (
	// idleSettle lets a worker finish starting before the measurement.
	idleSettle = 5 * time.Second
	// idleWindow is how long CPU time is measured over.
	idleWindow = 20 * time.Second
	// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times.
	clockTicks = 100
	// The SDK's pollers: ours per activity worker (worker/main.go activityPollers) and its
	// default for the workflow worker (MaxConcurrentWorkflowTaskPollers).
	activityPollers = 8
	workflowPollers = 2
)

// idleCounts is one row of scenario (f).
type idleCounts struct {
	Integrations int  `json:"integrations"`
	Shared       bool `json:"shared_queues"`
	// ActivityQueues is how many activity task queues each worker polls; LongPolls how many
	// polls it keeps open (its pollers, each always waiting on one).
	ActivityQueues int `json:"activity_queues"`
	LongPolls      int `json:"long_polls"`
	// WorkerCPU and ServerCPU are the share of one core the idle worker and the Temporal
	// dev server used over idleWindow; WorkerRSSMB the worker's resident memory.
	WorkerCPU   float64 `json:"worker_cpu"`
	ServerCPU   float64 `json:"server_cpu"`
	WorkerRSSMB float64 `json:"worker_rss_mb"`
	// StartS is how long the worker took to poll every queue.
	StartS float64 `json:"start_s"`
	// PollsRefused counts the worker's polls the server refused over the whole row (such
	// as "namespace concurrent poller limit exceeded").
	PollsRefused int `json:"polls_refused"`
}

// String formats the counts for the table.
func (c idleCounts) String() string {
	mode := "queue pair per integration"
	if c.Shared {
		mode = "shared queues"
	}
	return fmt.Sprintf("%d integrations, %s: %d activity queues, %d long polls, worker %.1f%% CPU %.0f MB, server %.1f%% CPU, ready in %.1fs, %d polls refused",
		c.Integrations, mode, c.ActivityQueues, c.LongPolls, 100*c.WorkerCPU, c.WorkerRSSMB, 100*c.ServerCPU, c.StartS, c.PollsRefused)
}

// runIdleCost measures an idle worker for each number of integrations, in both modes.
func (b *bench) runIdleCost(ctx context.Context) []result {
	var out []result
	for _, shared := range []bool{false, true} {
		for _, n := range b.opts.idleIntegrations {
			if ctx.Err() != nil {
				return out
			}
			out = append(out, b.idleRow(ctx, n, shared))
		}
	}
	return out
}

func (b *bench) idleRow(ctx context.Context, n int, shared bool) result {
	p := rowParams{scenario: "f", quota: 100, workers: 1}
	res := newResult(p)
	mode := "pair"
	if shared {
		mode = "shared"
	}
	res.Run = fmt.Sprintf("f-%d-%s", n, mode)
	spec := rigSpec{run: res.Run, scenario: "f", workers: 1, integrations: n, sharedQueues: shared,
		sim: simOptions(p.quota, 0, 10, 10, 10), quota: quota(p.quota), objects: []crm.Object{crm.Contacts}}
	began := time.Now()
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		c := idleCounts{Integrations: n, Shared: shared, StartS: roundTo(time.Since(began).Seconds(), 1)}
		c.ActivityQueues = 2 * n
		if shared {
			c.ActivityQueues = 2
		}
		c.LongPolls = c.ActivityQueues*activityPollers + workflowPollers
		if err := sleep(ctx, idleSettle); err != nil {
			return err
		}
		wpid := r.workers[0].cmd.Process.Pid
		spid, err := devServerPID(b.temporal.FrontendHostPort())
		if err != nil {
			return err
		}
		w0, s0, err := cpuTicksOf(wpid, spid)
		if err != nil {
			return err
		}
		if err := sleep(ctx, idleWindow); err != nil {
			return err
		}
		w1, s1, err := cpuTicksOf(wpid, spid)
		if err != nil {
			return err
		}
		secs := idleWindow.Seconds() * clockTicks
		c.WorkerCPU, c.ServerCPU = roundTo(float64(w1-w0)/secs, 3), roundTo(float64(s1-s0)/secs, 3)
		rss, err := rssMB(wpid)
		if err != nil {
			return err
		}
		c.WorkerRSSMB = roundTo(rss, 1)
		if c.PollsRefused, err = countLines(r.workers[0].logPath, "Failed to poll"); err != nil {
			return err
		}
		res.Idle = &c
		return nil
	})
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// countLines counts the lines of a file that contain s.
func countLines(path, s string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return bytes.Count(b, []byte(s)), nil
}

// cpuTicksOf reads two processes' CPU times.
func cpuTicksOf(a, b int) (ta, tb int64, err error) {
	if ta, err = cpuTicks(a); err == nil {
		tb, err = cpuTicks(b)
	}
	return ta, tb, err
}

// cpuTicks is a process's user plus system CPU time, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; the fields after it are plain.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("process %d: short /proc stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process %d: unreadable /proc stat", pid)
	}
	return utime + stime, nil
}

// rssMB is a process's resident memory in MB.
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("process %d: VmRSS %q", pid, v)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("process %d: no VmRSS", pid)
}

// devServerPID finds the Temporal dev server listening on hostPort by its command line.
func devServerPID(hostPort string) (int, error) {
	_, port, _ := strings.Cut(hostPort, ":")
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if !strings.Contains(string(b), "start-dev") {
			continue
		}
		for i, a := range args {
			if (a == "--port" || a == "-p") && i+1 < len(args) && args[i+1] == port {
				return strconv.Atoi(filepath.Base(filepath.Dir(d)))
			}
		}
	}
	return 0, fmt.Errorf("no Temporal dev server process on port %s", port)
}

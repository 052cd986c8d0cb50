package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/crmsim"
)

// jsonPrefix marks the result lines on stdout, for grep.
const jsonPrefix = "BENCH "

// reporter prints each result as a JSON line as soon as its run ends (to stdout and to
// results.jsonl, which holds this invocation's results only) and the table at the end.
type reporter struct {
	out     io.Writer
	jsonl   *os.File
	results []result
}

// newReporter truncates <outDir>/results.jsonl and reports into it and out.
func newReporter(out io.Writer, outDir string) (*reporter, error) {
	path := filepath.Join(outDir, "results.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	return &reporter{out: out, jsonl: f}, nil
}

// add reports one result.
func (rep *reporter) add(res result) error {
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encoding the result of %s: %w", res.Run, err)
	}
	rep.results = append(rep.results, res)
	fmt.Fprintf(rep.out, "%s%s\n", jsonPrefix, line)
	if _, err := rep.jsonl.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing %s: %w", rep.jsonl.Name(), err)
	}
	return nil
}

// close closes results.jsonl.
func (rep *reporter) close() { rep.jsonl.Close() }

// tableHeader names the table's columns.
const tableHeader = "RUN\tB/10s\tLATENCY\tWORKERS\tRECORDS\tAPI CALLS\tMIN\tCALLS/MIN\tELAPSED\tT_LIM\tELAPSED/T_LIM\tUTIL\t429s\tEARLY\tPEAK 10s/B\tOTHER CONSUMER\tIDLE DELTA CALLS\tDAILY BUDGET"

// printTable prints every result as one table.
func (rep *reporter) printTable() error {
	fmt.Fprintln(rep.out)
	tw := tabwriter.NewWriter(rep.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, tableHeader)
	for _, r := range rep.results {
		if r.Soak != nil && r.Soak.SoakS > 0 {
			// A soak that ran to its end shows its figures, with the invariants it broke.
			failed := ""
			if r.Error != "" {
				failed = "; FAILED: " + r.Error
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s; 429s %d, early %d, peak %d/%d%s\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers,
				r.Records, r.APICalls, r.Soak, r.RateLimited, r.Early, r.Peak10s, r.Quota, failed)
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\tFAILED: %s\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers, r.Error)
			continue
		}
		if r.Writes != nil && r.Priority == nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\tWRITES: %s (side by side in the write table)\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers, r.Writes.Client)
			continue
		}
		other, daily := "-", "-"
		if r.OtherConsumer != nil {
			other = r.OtherConsumer.String()
		}
		if r.Priority != nil {
			other = r.Priority.String() + " (write table)"
		}
		if r.Daily != nil {
			daily = r.Daily.String()
		}
		if r.Idle != nil {
			fmt.Fprintf(tw, "%s\t\t\t1\tIDLE: %s\n", r.Run, r.Idle)
			continue
		}
		if len(r.Associations) > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%.1fs\tASSOCIATIONS: %s; 429s %d, early %d, peak %d/%d\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers,
				r.Records, r.APICalls, r.MinCalls, r.CallsPerMin, r.ElapsedS, joinRows(r.Associations), r.RateLimited, r.Early, r.Peak10s, r.Quota)
			continue
		}
		if r.Reference != nil {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%.1fs\tREFERENCE: %s\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers,
				r.Records, r.APICalls, r.MinCalls, r.CallsPerMin, r.ElapsedS, r.Reference)
			continue
		}
		if r.Provider != nil {
			fmt.Fprintf(tw, "%s\t-\t%s\t%d\t%d\t%d\t%d\t%s\t%.1fs\t%s\t%s\t%s\t%d\t%d\tPROVIDER %s\n", r.Run, latency(r.LatencyMS), r.Workers,
				r.Records, r.APICalls, r.MinCalls, r.CallsPerMin, r.ElapsedS, tLim(r), r.ElapsedOverTLim, r.Utilisation, r.RateLimited, r.Early, r.Provider)
			continue
		}
		if len(r.Pushed) > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\tPUSHED BY WEBHOOK: %s; 429s %d, early %d, peak %d/%d\n", r.Run, r.Quota, latency(r.LatencyMS), r.Workers,
				joinRows(r.Pushed), r.RateLimited, r.Early, r.Peak10s, r.Quota)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%.1fs\t%.0fs\t%s\t%s\t%d\t%d\t%d/%d\t%s\t%s\t%s\n",
			r.Run, r.Quota, latency(r.LatencyMS), r.Workers, r.Records, r.APICalls, r.MinCalls, r.CallsPerMin,
			r.ElapsedS, r.TLimS, r.ElapsedOverTLim, r.Utilisation, r.RateLimited, r.Early, r.Peak10s, r.Quota,
			other, idleDeltaSummary(r.IdleDelta), daily)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the table: %w", err)
	}
	return rep.printWriteTable()
}

// printWriteTable prints scenarios (w) and (x)'s rows in columns of their own, one row per
// client, failed runs included when they got as far as measuring.
func (rep *reporter) printWriteTable() error {
	var rows []result
	for _, r := range rep.results {
		if r.Writes != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(rep.out)
	tw := tabwriter.NewWriter(rep.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, writeTableHeader)
	for _, r := range rows {
		line := writeRow(r.Run, *r.Writes)
		if r.Error != "" {
			line += "\tFAILED: " + r.Error
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the write table: %w", err)
	}
	return nil
}

// tLim formats a row's T_LIM, "-" when its CRM has no short window to bound the time.
func tLim(r result) string {
	if !r.ElapsedOverTLim.defined() && r.TLimS == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fs", r.TLimS)
}

// latency formats a latency in milliseconds.
func latency(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

// writePerSecond writes a run's requests per second to <outDir>/<run>-persecond.json, for
// charts.
func writePerSecond(outDir, run string, series []crmsim.SecondCount) error {
	path := filepath.Join(outDir, run+"-persecond.json")
	b, err := json.MarshalIndent(series, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the per-second series of %s: %w", run, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

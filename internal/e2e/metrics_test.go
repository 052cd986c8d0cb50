package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// TestWorkerServesMetrics runs a small backfill and one delta against a worker serving
// /metrics, and checks the scrape against the simulator's and PostgreSQL's own counts:
// list calls by endpoint, records written by object, the quota the CRM reported, the sync
// lag, and the SDK's temporal_* metrics.
func TestWorkerServesMetrics(t *testing.T) {
	t.Parallel()
	const quota = 100
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 31, Contacts: 450, Companies: 120, Deals: 230},
		requestsPer10s: quota,
		metrics:        true,
	})
	_, err := h.sim.Mutate(crmsim.MutationSpec{Archives: 5})
	require.NoError(t, err)
	h.startWorker()
	h.wait(3*time.Minute, h.start("backfill")...)
	h.wait(time.Minute, h.start("delta", crm.Contacts)...)

	raw, fams := h.scrapeMetrics()
	st := h.sim.Stats()
	mine := map[string]string{"integration": h.integration}
	for _, obj := range h.objects {
		endpoint := "GET /crm/v3/objects/" + string(obj)
		lists := st.Calls("list "+string(obj)) + st.Calls("list_archived "+string(obj))
		calls := sumMetric(fams, "crmsync_crm_calls_total", map[string]string{"integration": h.integration, "endpoint": endpoint})
		t.Logf("%s: %d list calls at the simulator, %v counted by the worker", obj, lists, calls)
		require.Equal(t, float64(lists), calls, "%s: crmsync_crm_calls_total for %s", obj, endpoint)

		c, err := h.store.Count(t.Context(), h.integration, obj)
		require.NoError(t, err)
		written := sumMetric(fams, "crmsync_records_written_total", map[string]string{"integration": h.integration, "object": string(obj)})
		t.Logf("%s: %d records in PostgreSQL (%d deleted), %v written by the worker", obj, c.Live+c.Deleted, c.Deleted, written)
		require.Equal(t, float64(c.Live+c.Deleted), written, "%s: crmsync_records_written_total", obj)
	}
	require.Equal(t, float64(st.Total), sumMetric(fams, "crmsync_crm_calls_total", mine), "every CRM call is counted")
	require.Equal(t, float64(quota), sumMetric(fams, "crmsync_quota_window_max", mine))
	require.Contains(t, fams, "crmsync_quota_window_remaining")
	require.Contains(t, fams, "crmsync_quota_daily_remaining")
	require.Equal(t, 0.0, sumMetric(fams, "crmsync_sync_lag_seconds", map[string]string{"integration": h.integration, "object": "contacts"}),
		"the delta caught up")
	caughtUp := sumMetric(fams, "crmsync_sync_caught_up_timestamp_seconds", map[string]string{"integration": h.integration, "object": "contacts"})
	require.InDelta(t, float64(time.Now().Unix()), caughtUp, 120)

	for _, name := range []string{"temporal_activity_schedule_to_start_latency_seconds", "temporal_activity_execution_latency_seconds",
		"temporal_workflow_task_execution_latency_seconds", "temporal_num_pollers", "temporal_request_total", "temporal_workflow_completed_total"} {
		require.Contains(t, fams, name, "the SDK's metrics are served")
	}
	// Every SDK metric the committed dashboard queries is one a real worker serves.
	dash, err := os.ReadFile("../../deploy/grafana/crmsync.json")
	require.NoError(t, err)
	var sdk int
	for _, name := range regexp.MustCompile(`\btemporal_[a-zA-Z0-9_]+`).FindAllString(string(dash), -1) {
		name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		require.Contains(t, fams, name, "the dashboard queries %s", name)
		sdk++
	}
	require.NotZero(t, sdk)

	var sample []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "crmsync_") || strings.HasPrefix(line, "temporal_workflow_completed_total") ||
			strings.HasPrefix(line, "temporal_num_pollers") ||
			(strings.HasPrefix(line, "temporal_activity_schedule_to_start_latency_seconds_") && !strings.Contains(line, "_bucket")) {
			sample = append(sample, line)
		}
	}
	t.Logf("scrape of %s/metrics (excerpt):\n%s", h.metricsAddr, strings.Join(sample, "\n"))
}

// scrapeMetrics fetches the worker's /metrics, waiting for it to listen, and parses it.
func (h *harness) scrapeMetrics() ([]byte, map[string]*dto.MetricFamily) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 30*time.Second)
	defer cancel()
	var raw []byte
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.metricsAddr+"/metrics", nil)
		require.NoError(h.t, err)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			raw, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(h.t, err)
			require.Equal(h.t, http.StatusOK, resp.StatusCode, string(raw))
			break
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("scraping %s: %v", h.metricsAddr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	require.NoError(h.t, err)
	return raw, fams
}

// sumMetric adds the values of the counter or gauge series of name whose labels include want.
func sumMetric(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	mf, ok := fams[name]
	if !ok {
		return 0
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return sum
}

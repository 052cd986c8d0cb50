package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/metrics"
)

// families gathers m into a map by name.
func families(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// labels renders a metric's labels as name=value pairs.
func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the value of the counter or gauge of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf, ok := fams[name]
	require.True(t, ok, "no family %s", name)
next:
	for _, m := range mf.GetMetric() {
		got := labels(m)
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s has no series with %v", name, want)
	return 0
}

func TestCRMCallLabels(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts", 200)
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts?after=123", 200)
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts", 429)
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts", 0)
	m.CRMCall("acme", "hubspot", "POST /crm/v3/objects/contacts/search", 503)
	fams := families(t, m)

	tests := []struct {
		name string
		want map[string]string
		n    float64
	}{
		{name: "ok, query dropped", want: map[string]string{"endpoint": "GET /crm/v3/objects/contacts", "status": "200", "class": "2xx"}, n: 2},
		{name: "429", want: map[string]string{"status": "429", "class": "4xx"}, n: 1},
		{name: "no response", want: map[string]string{"status": "network_error", "class": "error"}, n: 1},
		{name: "5xx", want: map[string]string{"endpoint": "POST /crm/v3/objects/contacts/search", "status": "503", "class": "5xx"}, n: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]string{"integration": "acme", "provider": "hubspot"}
			for k, v := range tc.want {
				want[k] = v
			}
			require.Equal(t, tc.n, find(t, fams, "crmsync_crm_calls_total", want))
		})
	}
	require.Len(t, fams["crmsync_crm_calls_total"].GetMetric(), 4)
}

func TestGaugesAndCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.QuotaWindow("acme", 97, 100)
	m.QuotaWindow("acme", 95, 100)
	m.QuotaDaily("acme", 249000, 250000)
	m.RecordsWritten("acme", "contacts", 100)
	m.RecordsWritten("acme", "contacts", 20)
	m.RecordsWritten("acme", "deals", 0)
	m.AssociationsWritten("acme", "contacts", "companies", 7)
	m.SyncLag("acme", "contacts", 90*time.Second)
	m.SyncLag("acme", "deals", -time.Second)
	m.CaughtUp("acme", "contacts", time.Unix(1700000000, 0))
	m.WebhookReceived(5)
	m.WebhookDeduplicated(2)
	m.WebhookRejected(metrics.RejectBadSignature)
	m.WebhookRejected(metrics.RejectBadSignature)
	fams := families(t, m)

	acme := map[string]string{"integration": "acme"}
	require.Equal(t, 95.0, find(t, fams, "crmsync_quota_window_remaining", acme))
	require.Equal(t, 100.0, find(t, fams, "crmsync_quota_window_max", acme))
	require.Equal(t, 249000.0, find(t, fams, "crmsync_quota_daily_remaining", acme))
	require.Equal(t, 250000.0, find(t, fams, "crmsync_quota_daily_max", acme))
	require.Equal(t, 120.0, find(t, fams, "crmsync_records_written_total", map[string]string{"object": "contacts"}))
	require.Len(t, fams["crmsync_records_written_total"].GetMetric(), 1, "a write of 0 records makes no series")
	require.Equal(t, 7.0, find(t, fams, "crmsync_associations_written_total", map[string]string{"from": "contacts", "to": "companies"}))
	require.Equal(t, 90.0, find(t, fams, "crmsync_sync_lag_seconds", map[string]string{"object": "contacts"}))
	require.Equal(t, 0.0, find(t, fams, "crmsync_sync_lag_seconds", map[string]string{"object": "deals"}))
	require.Equal(t, 1700000000.0, find(t, fams, "crmsync_sync_caught_up_timestamp_seconds", map[string]string{"object": "contacts"}))
	require.Equal(t, 5.0, find(t, fams, "crmsync_webhook_events_received_total", nil))
	require.Equal(t, 2.0, find(t, fams, "crmsync_webhook_events_deduplicated_total", nil))
	require.Equal(t, 2.0, find(t, fams, "crmsync_webhook_requests_rejected_total", map[string]string{"reason": "bad_signature"}))
}

// TestLabelsAreBounded: an endpoint template that (by a connector bug) held an id cannot
// grow the series without bound; nor can an unknown rejection reason.
func TestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	for i := range 1000 {
		m.CRMCall("acme", "hubspot", fmt.Sprintf("GET /crm/v3/objects/contacts/%d", i), 200)
		m.WebhookRejected(fmt.Sprintf("reason %d", i))
	}
	fams := families(t, m)
	require.LessOrEqual(t, len(fams["crmsync_crm_calls_total"].GetMetric()), 201)
	require.LessOrEqual(t, len(fams["crmsync_webhook_requests_rejected_total"].GetMetric()), 201)
	require.Equal(t, 800.0, find(t, fams, "crmsync_crm_calls_total", map[string]string{"endpoint": metrics.Other}))

	// Every crmsync label is one of a known, bounded set of names.
	allowed := map[string]bool{"integration": true, "provider": true, "endpoint": true, "status": true, "class": true, "object": true, "reason": true, "from": true, "to": true}
	for name, mf := range fams {
		if len(name) < 8 || name[:8] != "crmsync_" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for k := range labels(s) {
				require.True(t, allowed[k], "%s has label %s", name, k)
			}
		}
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.CRMCall("acme", "hubspot", "GET /x", 200)
	m.QuotaWindow("acme", 1, 2)
	m.QuotaDaily("acme", 1, 2)
	m.RecordsWritten("acme", "contacts", 1)
	m.AssociationsWritten("acme", "contacts", "companies", 1)
	m.SyncLag("acme", "contacts", time.Second)
	m.CaughtUp("acme", "contacts", time.Now())
	m.WebhookReceived(1)
	m.WebhookDeduplicated(1)
	m.WebhookRejected(metrics.RejectStale)
}

// TestTemporalHandler: the SDK's metrics, with tags that differ between uses of one name,
// gather without error, each family under the union of its label names.
func TestTemporalHandler(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	h := m.Temporal().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(1)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"poller_type": "activity_task"}).Gauge("temporal_num_pollers").Update(8)
	lat := h.WithTags(map[string]string{"activity_type": "ListPage"}).Timer("temporal_activity_schedule_to_start_latency")
	lat.Record(3 * time.Millisecond)
	lat.Record(2 * time.Second)
	fams := families(t, m)

	req := fams["temporal_request_total"]
	require.NotNil(t, req)
	require.Len(t, req.GetMetric(), 2)
	require.Equal(t, 2.0, find(t, fams, "temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}))
	require.Equal(t, 1.0, find(t, fams, "temporal_request_total", map[string]string{"namespace": "default", "operation": ""}))
	require.Equal(t, 8.0, find(t, fams, "temporal_num_pollers", map[string]string{"poller_type": "activity_task"}))

	hist := fams["temporal_activity_schedule_to_start_latency_seconds"]
	require.NotNil(t, hist)
	hm := hist.GetMetric()[0].GetHistogram()
	require.Equal(t, uint64(2), hm.GetSampleCount())
	require.InDelta(t, 2.003, hm.GetSampleSum(), 1e-9)
	for _, b := range hm.GetBucket() {
		if b.GetUpperBound() == 0.005 {
			require.Equal(t, uint64(1), b.GetCumulativeCount())
		}
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts", 200)
	m.Temporal().Counter("temporal_workflow_completed").Inc(1)
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `crmsync_crm_calls_total{class="2xx",endpoint="GET /crm/v3/objects/contacts",integration="acme",provider="hubspot",status="200"} 1`)
	require.Contains(t, string(body), "temporal_workflow_completed_total 1")
	require.Contains(t, string(body), "go_goroutines")
}

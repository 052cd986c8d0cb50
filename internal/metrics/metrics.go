// Package metrics owns crmsync's Prometheus registry: the worker's own metrics (CRM calls,
// quota remaining, records written, sync lag, webhook events), the Temporal SDK's metrics
// through a client.MetricsHandler, and the Go runtime's, served at /metrics. Callers use
// small typed methods; a nil *Metrics records nothing, so the dependency is optional.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
)

// Namespace prefixes every crmsync metric.
const Namespace = "crmsync"

// maxLabelValues bounds how many distinct values one free-form label (an endpoint, a
// rejection reason) takes in one process: past it, new values are counted as "other", so
// a connector bug that put an id into its endpoint template cannot grow the series
// without bound.
const maxLabelValues = 200

// Other is the value a bounded label takes once it has seen maxLabelValues values.
const Other = "other"

// Metrics is the worker's (or webhook receiver's) registry and its metrics. Build it once
// with New and pass it to whatever records.
type Metrics struct {
	reg *prometheus.Registry

	crmCalls        *prometheus.CounterVec
	windowRemaining *prometheus.GaugeVec
	windowMax       *prometheus.GaugeVec
	dailyRemaining  *prometheus.GaugeVec
	dailyMax        *prometheus.GaugeVec
	records         *prometheus.CounterVec
	associations    *prometheus.CounterVec
	syncLag         *prometheus.GaugeVec
	caughtUp        *prometheus.GaugeVec
	webhookReceived prometheus.Counter
	webhookDups     prometheus.Counter
	webhookRejected *prometheus.CounterVec
	writes          *prometheus.CounterVec

	endpoints *boundedValues
	reasons   *boundedValues

	sdk *sdkStore
}

// New builds a registry with crmsync's metrics, the Temporal SDK's and the Go runtime's
// and process's collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		crmCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "crm_calls_total",
			Help: "HTTP requests sent to a CRM, by integration, provider, endpoint template, status code (network_error when no response arrived) and status class."},
			[]string{"integration", "provider", "endpoint", "status", "class"}),
		windowRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "quota_window_remaining",
			Help: "Calls left in the CRM's rate-limit window, as its latest response said."}, []string{"integration"}),
		windowMax: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "quota_window_max",
			Help: "Calls the CRM allows per rate-limit window, as its latest response said."}, []string{"integration"}),
		dailyRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "quota_daily_remaining",
			Help: "Calls left of the CRM's daily allowance, as its latest response said."}, []string{"integration"}),
		dailyMax: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "quota_daily_max",
			Help: "The CRM's daily call allowance, as its latest response said."}, []string{"integration"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "records_written_total",
			Help: "CRM records written to PostgreSQL (upserts and deletes applied), by integration and object."},
			[]string{"integration", "object"}),
		associations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "associations_written_total",
			Help: "Association links between CRM records written to PostgreSQL, by integration and the objects linked."},
			[]string{"integration", "from", "to"}),
		syncLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "sync_lag_seconds",
			Help: "How far a stream's delta sync trailed the CRM at its latest page: 0 when the page caught up, else the age of the change cursor (now minus the modification time of the newest change written)."},
			[]string{"integration", "object"}),
		caughtUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "sync_caught_up_timestamp_seconds",
			Help: "Unix time of the latest delta page that reached the end of the CRM's changes; time() minus it is how stale PostgreSQL may be."},
			[]string{"integration", "object"}),
		webhookReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_events_received_total",
			Help: "Webhook events of authentic, well-formed deliveries."}),
		webhookDups: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_events_deduplicated_total",
			Help: "Webhook events dropped as already recorded (a redelivery) or repeated within a delivery."}),
		webhookRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_requests_rejected_total",
			Help: "Webhook deliveries refused, by reason (bad_signature, stale, too_large, malformed, unknown_portal, record_failed)."},
			[]string{"reason"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "queued_writes_total",
			Help: "Queued writes to the CRM settled by the write queue, by integration, object and outcome (sent, dead: refused for good and dead-lettered, retried: failed retryably and queued again, verified: found applied after their sender died)."},
			[]string{"integration", "object", "outcome"}),
		endpoints: newBoundedValues(maxLabelValues),
		reasons:   newBoundedValues(maxLabelValues),
		sdk:       newSDKStore(),
	}
	for _, c := range []prometheus.Collector{m.crmCalls, m.windowRemaining, m.windowMax, m.dailyRemaining, m.dailyMax,
		m.records, m.associations, m.syncLag, m.caughtUp, m.webhookReceived, m.webhookDups, m.webhookRejected, m.writes, m.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Gatherer is the registry, for tests and for serving it another way.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Temporal is the handler to give client.Options.MetricsHandler: the SDK's metrics
// (temporal_*) land in this registry.
func (m *Metrics) Temporal() client.MetricsHandler {
	return sdkHandler{store: m.sdk}
}

// CRMCall counts one HTTP request to a CRM. endpoint is the connector's template
// ("GET /crm/v3/objects/contacts"); anything after a '?' is dropped. status is the HTTP
// status, 0 when no response arrived.
func (m *Metrics) CRMCall(integration, provider, endpoint string, status int) {
	if m == nil {
		return
	}
	endpoint, _, _ = strings.Cut(endpoint, "?")
	code, class := statusLabels(status)
	m.crmCalls.WithLabelValues(integration, provider, m.endpoints.value(endpoint), code, class).Inc()
}

// statusLabels are the status and class labels of an HTTP status (0: no response).
func statusLabels(status int) (code, class string) {
	if status < 100 || status > 599 {
		return "network_error", "error"
	}
	return strconv.Itoa(status), strconv.Itoa(status/100) + "xx"
}

// QuotaWindow records what a response said of the CRM's rate-limit window.
func (m *Metrics) QuotaWindow(integration string, remaining, limit int) {
	if m == nil {
		return
	}
	m.windowRemaining.WithLabelValues(integration).Set(float64(remaining))
	m.windowMax.WithLabelValues(integration).Set(float64(limit))
}

// QuotaDaily records what a response said of the CRM's daily allowance.
func (m *Metrics) QuotaDaily(integration string, remaining, limit int) {
	if m == nil {
		return
	}
	m.dailyRemaining.WithLabelValues(integration).Set(float64(remaining))
	m.dailyMax.WithLabelValues(integration).Set(float64(limit))
}

// RecordsWritten counts n records of one object written to PostgreSQL.
func (m *Metrics) RecordsWritten(integration, object string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.records.WithLabelValues(integration, object).Add(float64(n))
}

// Write outcomes of QueuedWrites.
const (
	WriteSent     = "sent"
	WriteDead     = "dead"
	WriteRetried  = "retried"
	WriteVerified = "verified"
)

// QueuedWrites counts n queued writes of one object settled with an outcome (WriteSent...).
func (m *Metrics) QueuedWrites(integration, object, outcome string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.writes.WithLabelValues(integration, object, outcome).Add(float64(n))
}

// AssociationsWritten counts n association links from one object to another written to
// PostgreSQL.
func (m *Metrics) AssociationsWritten(integration, from, to string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.associations.WithLabelValues(integration, from, to).Add(float64(n))
}

// SyncLag sets how far a stream's delta sync trails its CRM as of its latest page: the
// age of its change cursor, or 0 when the page caught up. Negative lags (clock skew) are
// recorded as 0.
func (m *Metrics) SyncLag(integration, object string, lag time.Duration) {
	if m == nil {
		return
	}
	m.syncLag.WithLabelValues(integration, object).Set(max(lag, 0).Seconds())
}

// CaughtUp records that a stream's delta sync read every change up to at.
func (m *Metrics) CaughtUp(integration, object string, at time.Time) {
	if m == nil {
		return
	}
	m.caughtUp.WithLabelValues(integration, object).Set(float64(at.UnixNano()) / 1e9)
}

// WebhookReceived counts n events of an authentic, well-formed delivery.
func (m *Metrics) WebhookReceived(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.webhookReceived.Add(float64(n))
}

// WebhookDeduplicated counts n events dropped as already recorded.
func (m *Metrics) WebhookDeduplicated(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.webhookDups.Add(float64(n))
}

// Reasons a webhook delivery is rejected.
const (
	RejectBadSignature  = "bad_signature"
	RejectStale         = "stale"
	RejectTooLarge      = "too_large"
	RejectMalformed     = "malformed"
	RejectUnknownPortal = "unknown_portal"
	RejectRecordFailed  = "record_failed"
)

// WebhookRejected counts one delivery refused for reason (one of the Reject constants).
func (m *Metrics) WebhookRejected(reason string) {
	if m == nil {
		return
	}
	m.webhookRejected.WithLabelValues(m.reasons.value(reason)).Inc()
}

// boundedValues admits up to limit distinct values of a label, then maps new ones to Other.
type boundedValues struct {
	limit int
	mu    sync.Mutex
	seen  map[string]struct{}
}

func newBoundedValues(limit int) *boundedValues {
	return &boundedValues{limit: limit, seen: map[string]struct{}{}}
}

func (b *boundedValues) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.limit {
		return Other
	}
	b.seen[v] = struct{}{}
	return v
}

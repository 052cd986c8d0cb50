package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// The Temporal SDK names its metrics (temporal_request, temporal_activity_execution_latency,
// ...) and tags them freely: the same name may come with different tag keys. A
// prometheus.CounterVec wants its label names up front, so the SDK's metrics are kept here
// and exposed at scrape time, each family with the union of the label names its series
// used (absent ones empty, which Prometheus reads as absent). Counters get the _total
// suffix and timers become histograms in seconds (_seconds), by Prometheus's conventions.

// sdkBuckets are the timers' histogram bounds in seconds: from a fast poll's
// schedule-to-start to a long activity.
var sdkBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

type sdkKind int

const (
	sdkCounter sdkKind = iota
	sdkGauge
	sdkTimer
)

// sdkSeries is one metric with one set of tags.
type sdkSeries struct {
	labels map[string]string
	mu     sync.Mutex
	value  float64  // counter total or gauge value
	counts []uint64 // timer: observations per bucket (not cumulative)
	count  uint64
	sum    float64
}

type sdkFamily struct {
	kind   sdkKind
	series map[string]*sdkSeries // by tagsKey
}

// sdkStore holds every SDK metric; it is a prometheus.Collector that describes nothing
// (an unchecked collector), since its label names are known only at scrape time.
type sdkStore struct {
	mu       sync.Mutex
	families map[string]*sdkFamily // by exposed name
}

func newSDKStore() *sdkStore { return &sdkStore{families: map[string]*sdkFamily{}} }

// series finds or makes the series of name with tags.
func (s *sdkStore) series(kind sdkKind, name string, tags map[string]string, key string) *sdkSeries {
	name = sanitize(name)
	switch kind {
	case sdkCounter:
		if !strings.HasSuffix(name, "_total") {
			name += "_total"
		}
	case sdkTimer:
		name += "_seconds"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.families[name]
	if f == nil {
		f = &sdkFamily{kind: kind, series: map[string]*sdkSeries{}}
		s.families[name] = f
	}
	if f.kind != kind {
		// The SDK used one name as two kinds: keep the first, drop the other.
		return &sdkSeries{counts: make([]uint64, len(sdkBuckets)+1)}
	}
	sr := f.series[key]
	if sr == nil {
		sr = &sdkSeries{labels: tags}
		if kind == sdkTimer {
			sr.counts = make([]uint64, len(sdkBuckets)+1)
		}
		f.series[key] = sr
	}
	return sr
}

// Describe sends nothing: the store is an unchecked collector.
func (s *sdkStore) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series, each family with the union of its series' label names.
func (s *sdkStore) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, f := range s.families {
		keys := map[string]bool{}
		for _, sr := range f.series {
			for k := range sr.labels {
				keys[k] = true
			}
		}
		names := slices.Sorted(maps.Keys(keys))
		desc := prometheus.NewDesc(name, "Temporal SDK metric "+name+".", names, nil)
		for _, sr := range f.series {
			values := make([]string, len(names))
			for i, k := range names {
				values[i] = sr.labels[k]
			}
			sr.mu.Lock()
			var m prometheus.Metric
			var err error
			switch f.kind {
			case sdkCounter:
				m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, sr.value, values...)
			case sdkGauge:
				m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, sr.value, values...)
			case sdkTimer:
				buckets := make(map[float64]uint64, len(sdkBuckets))
				var cum uint64
				for i, b := range sdkBuckets {
					cum += sr.counts[i]
					buckets[b] = cum
				}
				m, err = prometheus.NewConstHistogram(desc, sr.count, sr.sum, buckets, values...)
			}
			sr.mu.Unlock()
			if err == nil {
				ch <- m
			}
		}
	}
}

// sdkHandler is the client.MetricsHandler over the store, with its tags.
type sdkHandler struct {
	store *sdkStore
	tags  map[string]string
	key   string
}

var _ client.MetricsHandler = sdkHandler{}

// WithTags returns a handler with tags added to (or replacing) the handler's.
func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return sdkHandler{store: h.store, tags: merged, key: tagsKey(merged)}
}

// Counter returns the counter name with the handler's tags.
func (h sdkHandler) Counter(name string) client.MetricsCounter {
	sr := h.store.series(sdkCounter, name, h.tags, h.key)
	return counterFunc(func(d int64) {
		sr.mu.Lock()
		sr.value += float64(d)
		sr.mu.Unlock()
	})
}

// Gauge returns the gauge name with the handler's tags.
func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	sr := h.store.series(sdkGauge, name, h.tags, h.key)
	return gaugeFunc(func(v float64) {
		sr.mu.Lock()
		sr.value = v
		sr.mu.Unlock()
	})
}

// Timer returns the timer name with the handler's tags, as a histogram in seconds.
func (h sdkHandler) Timer(name string) client.MetricsTimer {
	sr := h.store.series(sdkTimer, name, h.tags, h.key)
	return timerFunc(func(d time.Duration) {
		v := d.Seconds()
		i, _ := slices.BinarySearch(sdkBuckets, v)
		sr.mu.Lock()
		sr.counts[i]++
		sr.count++
		sr.sum += v
		sr.mu.Unlock()
	})
}

// tagsKey identifies a tag set: its pairs in key order.
func tagsKey(tags map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	return b.String()
}

// sanitize makes name a valid Prometheus metric or label name.
func sanitize(name string) string {
	ok := func(i int, r rune) bool {
		return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
	}
	var b strings.Builder
	for i, r := range name {
		if ok(i, r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// counterFunc, gaugeFunc and timerFunc are the SDK's metric interfaces as functions.
type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/metrics"
)

// dashboardPath is the committed Grafana dashboard.
const dashboardPath = "../../deploy/grafana/crmsync.json"

var metricName = regexp.MustCompile(`\b(?:crmsync|temporal)_[a-zA-Z0-9_]+`)

// dashboardMetrics returns the metric families the dashboard's queries name: histogram
// series (_bucket, _sum, _count) under their family's name.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(raw, &doc), "the dashboard is valid JSON")
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
					for _, name := range metricName.FindAllString(s, -1) {
						if strings.HasPrefix(name, "temporal_") {
							for _, suffix := range []string{"_bucket", "_sum", "_count"} {
								name = strings.TrimSuffix(name, suffix)
							}
						}
						seen[name] = true
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TestDashboardQueriesExistingMetrics: every crmsync_ metric the dashboard queries is one
// the registry serves once each recorder has run. (The temporal_ ones are checked against
// a real worker's scrape in internal/e2e.)
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.CRMCall("acme", "hubspot", "GET /crm/v3/objects/contacts", 200)
	m.QuotaWindow("acme", 1, 2)
	m.QuotaDaily("acme", 1, 2)
	m.RecordsWritten("acme", "contacts", 1)
	m.AssociationsWritten("acme", "contacts", "companies", 1)
	m.SyncLag("acme", "contacts", time.Second)
	m.CaughtUp("acme", "contacts", time.Now())
	m.WebhookReceived(1)
	m.WebhookDeduplicated(1)
	m.WebhookRejected(metrics.RejectStale)
	m.QueuedWrites("acme", "contacts", metrics.WriteSent, 1)
	fams := families(t, m)

	names := dashboardMetrics(t)
	require.NotEmpty(t, names)
	var sdk int
	for _, name := range names {
		if strings.HasPrefix(name, "temporal_") {
			sdk++
			continue
		}
		require.Contains(t, fams, name, "the dashboard queries %s, which the registry does not serve", name)
	}
	require.NotZero(t, sdk, "the dashboard has SDK panels")

	// And every crmsync_ family is on the dashboard.
	for name := range fams {
		if strings.HasPrefix(name, metrics.Namespace+"_") {
			require.Contains(t, names, name, "%s is on no panel", name)
		}
	}
}

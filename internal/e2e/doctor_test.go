package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/workflows"
)

// `starter doctor` against a real Temporal server, real PostgreSQL and the simulator, with
// one good integration (schedules applied) and one deliberately misconfigured: a token the
// CRM refuses, and no schedule. It reports every check, explains the 401 and the missing
// schedule with their fixes, never prints a token, and exits with status 1.
func TestDoctorFindsAMisconfiguredIntegration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		sim:            crmsim.Options{Seed: 71, Contacts: 20, Companies: 5, Deals: 5},
		objects:        []crm.Object{crm.Contacts},
		requestsPer10s: 100,
	})
	// --keep-stale: the dev server is shared, other tests' schedules are not ours to prune.
	h.starter(time.Minute, "schedule", "apply", "--keep-stale")
	t.Cleanup(func() {
		_ = h.client.ScheduleClient().GetHandle(context.WithoutCancel(t.Context()), workflows.ScheduleID(h.integration, crm.Contacts)).Delete(context.WithoutCancel(t.Context()))
	})

	bad := h.integration + "-bad"
	doc, err := os.ReadFile(h.cfgPath)
	require.NoError(t, err)
	doc = append(doc, []byte(`  - id: `+bad+`
    provider: hubspot
    base_url: `+h.simURL+`
    credential_env: E2E_BAD_TOKEN
    objects: [contacts]
    quota: {requests_per_10s: 100}
`)...)
	require.NoError(t, os.WriteFile(h.cfgPath, doc, 0o644))

	const badToken = "pat-revoked-0123456789abcdef"
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "starter"), "doctor")
	cmd.Env = append(h.env(), "E2E_BAD_TOKEN="+badToken)
	b, err := cmd.CombinedOutput()
	out := string(b)
	t.Logf("starter doctor:\n%s", out)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "starter doctor: %v", err)
	require.Equal(t, 1, exit.ExitCode())

	good := h.integration
	for _, want := range []string{
		"OK    config ",
		"OK    postgres ",
		"(current)",
		"OK    temporal ",
		"namespace default exists",
		"OK    " + good + ": credential",
		"OK    " + good + ": api",
		"OK    " + good + ": quota",
		"the CRM says 100 calls per 10s, as configured",
		"OK    " + good + ": schedule contacts",
		workflows.ScheduleID(good, crm.Contacts) + " every 1h0m0s",
		"OK    " + bad + ": credential",
		"FAIL  " + bad + ": api",
		"the CRM answered 401: the token was revoked, expired or is not this account's",
		"fix: set E2E_BAD_TOKEN to a valid token (it needs the scopes crm.objects.contacts.read",
		"FAIL  " + bad + ": schedule contacts",
		"no schedule " + workflows.ScheduleID(bad, crm.Contacts),
		"fix: run `starter schedule apply`",
		"failed",
		"starter: doctor: some checks failed",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, h.token)
	require.NotContains(t, out, badToken)
	require.Equal(t, 2, strings.Count(out, "FAIL  "), "exactly the bad integration's API and schedule fail")
}

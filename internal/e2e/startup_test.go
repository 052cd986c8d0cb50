package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A worker with a config it cannot run, or a credential missing from its environment,
// stops at start (exit status 1, before any CRM call or workflow) with a message that
// names the problem, and never prints a secret it was given.
func TestWorkerStopsAtStartWithAMessageThatNamesTheProblem(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end: runs the worker binary")
	}
	const secret = "pat-na1-0123456789-secret"
	for _, tc := range []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{
			name: "unknown provider",
			yaml: "integrations:\n  - {id: acme, provider: hubspott, credential_env: ACME_TOKEN, objects: [contacts]}\n",
			env:  []string{"ACME_TOKEN=" + secret},
			want: []string{"integrations[0].provider", `unknown provider "hubspott"`},
		},
		{
			name: "misspelt field",
			yaml: "integrations:\n  - {id: acme, provider: hubspot, credential_env: ACME_TOKEN, objects: [contacts], quota: {request_per_10s: 190}}\n",
			env:  []string{"ACME_TOKEN=" + secret},
			want: []string{"request_per_10s", "not found"},
		},
		{
			name: "token pasted into the config",
			yaml: "integrations:\n  - {id: acme, provider: hubspot, credential_env: " + secret + ", objects: [contacts]}\n",
			want: []string{"integrations[0].credential_env", "not an environment variable name"},
		},
		{
			name: "missing credential",
			yaml: "integrations:\n  - {id: acme, provider: hubspot, credential_env: ACME_TOKEN, objects: [contacts]}\n",
			want: []string{"integration acme", "ACME_TOKEN", "not set"},
		},
		{
			name: "missing OAuth secrets",
			yaml: "integrations:\n  - {id: zo, provider: zoho, objects: [deals], oauth: {client_id_env: ZO_ID, client_secret_env: ZO_SECRET, refresh_token_env: ZO_REFRESH}}\n",
			env:  []string{"ZO_ID=1000.ABC"},
			want: []string{"integration zo", "ZO_SECRET (oauth.client_secret_env)", "ZO_REFRESH (oauth.refresh_token_env)"},
		},
		{
			name: "salesforce without its instance",
			yaml: "integrations:\n  - {id: sf, provider: salesforce, credential_env: SF_TOKEN, objects: [contacts]}\n",
			env:  []string{"SF_TOKEN=" + secret},
			want: []string{"integrations[0].base_url", "instance URL"},
		},
		{
			name: "no config file",
			want: []string{"reading config", "no such file"},
		},
		{
			name: "database unreachable",
			yaml: "integrations:\n  - {id: acme, provider: hubspot, credential_env: ACME_TOKEN, objects: [contacts]}\n",
			env:  []string{"ACME_TOKEN=" + secret},
			want: []string{"connecting to PostgreSQL at 127.0.0.1:1/none"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "crmsync.yaml")
			if tc.yaml != "" {
				require.NoError(t, os.WriteFile(cfg, []byte(tc.yaml), 0o600))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, "worker"))
			// Nothing to reach: a worker that got as far as dialling would hang or fail
			// on something else than the problem under test.
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "CRMSYNC_CONFIG=" + cfg,
				"DATABASE_URL=postgres://nobody@127.0.0.1:1/none", "TEMPORAL_ADDRESS=127.0.0.1:1"}, tc.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the worker should stop: %s", out)
			require.Equal(t, 1, exit.ExitCode())
			for _, w := range tc.want {
				require.Contains(t, string(out), w)
			}
			require.NotContains(t, string(out), secret, "a secret was printed")
			require.NotContains(t, string(out), "1000.ABC")
			t.Logf("%s: %s", tc.name, strings.TrimSpace(string(out)))
		})
	}
}

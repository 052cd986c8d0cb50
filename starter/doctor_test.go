package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// spaces collapses the report's column padding, which depends on the longest name.
var spaces = regexp.MustCompile(` +`)

const doctorToken = "pat-doctor-0123456789"

// setupDoctorSim starts a simulator that knows doctorToken and allows tenSecond calls per
// 10 s, and returns its URL.
func setupDoctorSim(t *testing.T, tenSecond int) string {
	t.Helper()
	sim, err := crmsim.New(crmsim.Options{Seed: 7, Contacts: 10, Companies: 10, Deals: 10, Tokens: []string{doctorToken}, TenSecondLimit: tenSecond})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// closedURL is an address nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// The integration checks against the simulator: each misconfiguration is found, explained
// and given a fix, and no secret is ever printed.
func TestDoctorIntegrationChecks(t *testing.T) {
	t.Parallel()
	sim100, sim190 := setupDoctorSim(t, 100), setupDoctorSim(t, 190)
	tests := []struct {
		name string
		// integration is the YAML of the one integration, %s its base URL.
		integration string
		baseURL     string
		env         map[string]string
		// want are the lines (status, check name, words) expected, in order.
		want []string
		fail bool
	}{
		{
			name:        "good",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts, companies], quota: {requests_per_10s: 100}}",
			baseURL:     sim100,
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"OK acme: credential ACME_TOKEN is set",
				"OK acme: api " + sim100 + " answered in",
				"OK acme: quota the CRM says 100 calls per 10s, as configured",
				// Every contact property does not fit one list GET; every company property does.
				"OK acme: contacts width 669 properties defined by the account; a page of 100 records costs 2 calls (backfill), 1 call (delta): the properties are read in 2 groups merged by id",
				"OK acme: companies width 459 properties defined by the account; a page of 100 records costs 1 call (backfill), 1 call (delta)",
			},
		},
		{
			name:        "pinned properties",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts], properties: {contacts: [email, firstname]}}",
			baseURL:     sim100,
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"OK acme: contacts width 2 properties pinned in the config; a page of 100 records costs 1 call (backfill), 1 call (delta)",
			},
		},
		{
			name:        "wrong token",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts, deals], quota: {requests_per_10s: 100}}",
			baseURL:     sim100,
			env:         map[string]string{"ACME_TOKEN": "pat-revoked-9876543210"},
			want: []string{
				"OK acme: credential ACME_TOKEN is set",
				"FAIL acme: api the CRM answered 401: the token was revoked, expired or is not this account's",
				"fix: set ACME_TOKEN to a valid token (it needs the scopes crm.objects.contacts.read, crm.schemas.contacts.read, crm.objects.deals.read",
			},
			fail: true,
		},
		{
			name:        "unreachable base URL",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts]}",
			baseURL:     closedURL(t),
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"FAIL acme: api cannot reach http://127.0.0.1:",
				"fix: check integrations[0].base_url (leave it out for hubspot's own API), the network and any proxy",
			},
			fail: true,
		},
		{
			name:        "not the API root",
			integration: "{id: acme, provider: hubspot, base_url: %s/proxy, credential_env: ACME_TOKEN, objects: [contacts]}",
			baseURL:     sim100,
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"FAIL acme: api the CRM answered 404 for GET /crm/v3/properties/contacts: " + sim100 + "/proxy is not hubspot's API root",
				"fix: correct integrations[0].base_url",
			},
			fail: true,
		},
		{
			name:        "missing env var",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts]}",
			baseURL:     sim100,
			env:         map[string]string{},
			want: []string{
				"FAIL acme: credential integration acme: environment variable ACME_TOKEN (credential_env) is not set",
				"fix: set ACME_TOKEN",
			},
			fail: true,
		},
		{
			name:        "quota below the CRM's",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts], quota: {requests_per_10s: 100}}",
			baseURL:     sim190,
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"WARN acme: quota the CRM says 190 calls per 10s, the config 100 calls per 10s: syncs use 53% of what the CRM allows",
				"fix: set integrations[0].quota.requests_per_10s: 190 (unless other apps share this quota)",
			},
		},
		{
			name:        "quota above the CRM's",
			integration: "{id: acme, provider: hubspot, base_url: %s, credential_env: ACME_TOKEN, objects: [contacts], quota: {requests_per_10s: 190}}",
			baseURL:     sim100,
			env:         map[string]string{"ACME_TOKEN": doctorToken},
			want: []string{
				"FAIL acme: quota the CRM says 100 calls per 10s, the config 190 calls per 10s: syncs would run into 429s",
				"fix: set integrations[0].quota.requests_per_10s: 100",
			},
			fail: true,
		},
		{
			name: "oauth refresh refused",
			integration: "{id: sf, provider: salesforce, base_url: %[1]s, objects: [contacts], oauth: {token_url: %[1]s/services/oauth2/token, " +
				"client_id_env: SF_ID, client_secret_env: SF_SECRET, refresh_token_env: SF_REFRESH}}",
			baseURL: sim100,
			env:     map[string]string{"SF_ID": "client-id", "SF_SECRET": "client-secret-abc", "SF_REFRESH": "refresh-revoked-42"},
			want: []string{
				"FAIL sf: credential the token endpoint http://127.0.0.1:",
				"fix: the refresh token was revoked or expired, or the client id/secret are wrong: authorize the app again and set SF_REFRESH, SF_ID and SF_SECRET",
			},
			fail: true,
		},
		{
			name: "oauth works",
			integration: "{id: sf, provider: salesforce, base_url: %[1]s, objects: [contacts], oauth: {token_url: %[1]s/services/oauth2/token, " +
				"client_id_env: SF_ID, client_secret_env: SF_SECRET, refresh_token_env: SF_REFRESH}}",
			baseURL: sim100,
			env:     map[string]string{"SF_ID": "client-id", "SF_SECRET": "client-secret-abc", "SF_REFRESH": doctorToken},
			want: []string{
				"OK sf: credential the OAuth refresh token was exchanged for an access token at http://127.0.0.1:",
				"OK sf: api " + sim100 + " answered in",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := "integrations:\n  - " + fmt.Sprintf(tc.integration, tc.baseURL) + "\n"
			cfg, err := config.Parse(strings.NewReader(doc))
			require.NoError(t, err, doc)
			var out bytes.Buffer
			d := newDoctor(&out, func(k string) string { return tc.env[k] })
			d.checkIntegration(t.Context(), 0, cfg.Integrations[0], nil)
			err = d.verdict()
			got := out.String()
			t.Logf("doctor:\n%s", got)
			got = spaces.ReplaceAllString(got, " ")
			at := 0
			for _, w := range tc.want {
				w = spaces.ReplaceAllString(w, " ")
				i := strings.Index(got[at:], w)
				require.GreaterOrEqual(t, i, 0, "want %q after offset %d in:\n%s", w, at, got)
				at += i + len(w)
			}
			if tc.fail {
				require.ErrorIs(t, err, errDoctorFailed)
			} else {
				require.NoError(t, err)
			}
			for _, v := range tc.env {
				if strings.Contains(v, "secret") || strings.Contains(v, "pat-") || strings.Contains(v, "refresh") {
					require.NotContains(t, got, v, "a secret was printed")
				}
			}
		})
	}
}

// The doctor names a config file that does not load, and PostgreSQL and Temporal
// addresses where nothing listens, with their fixes, and fails.
func TestDoctorUnreachableServices(t *testing.T) {
	t.Parallel()
	closed := strings.TrimPrefix(closedURL(t), "http://")
	env := map[string]string{
		"CRMSYNC_CONFIG":   "/nonexistent/crmsync.yaml",
		"DATABASE_URL":     "postgres://crmsync:hunter2-secret@" + closed + "/crmsync?sslmode=disable&connect_timeout=2",
		"TEMPORAL_ADDRESS": closed,
	}
	var out bytes.Buffer
	d := newDoctor(&out, func(k string) string { return env[k] })
	d.run(t.Context(), "", "")
	require.ErrorIs(t, d.verdict(), errDoctorFailed)
	got := out.String()
	t.Logf("doctor:\n%s", got)
	got = spaces.ReplaceAllString(got, " ")
	require.Contains(t, got, "FAIL config reading config: open /nonexistent/crmsync.yaml")
	require.Contains(t, got, "fix: set CRMSYNC_CONFIG or --config")
	require.Contains(t, got, "FAIL postgres connecting to PostgreSQL")
	require.Contains(t, got, "fix: start PostgreSQL, or set DATABASE_URL")
	require.Contains(t, got, "FAIL temporal connecting to Temporal at "+closed)
	require.Contains(t, got, "fix: start the Temporal server")
	require.NotContains(t, got, "hunter2")
}

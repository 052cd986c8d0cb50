package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
)

const minimal = `
integrations:
  - id: acme
    provider: hubspot
    credential_env: ACME_TOKEN
    objects: [contacts, deals]
`

func TestParseAppliesDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(strings.NewReader(minimal))
	require.NoError(t, err)
	in := c.Integrations[0]
	require.Equal(t, "https://api.hubapi.com", in.BaseURL)
	require.Equal(t, []crm.Object{crm.Contacts, crm.Deals}, in.Objects)
	require.Equal(t, 100, in.Quota.RequestsPer10s)
	require.Equal(t, 250000, in.Quota.Daily)
	require.Equal(t, 5, in.Quota.SearchPerSecond)
	require.Equal(t, 25000, in.Quota.Reserve(in.Quota.Daily), "a tenth of the daily allowance is left to other apps")
	require.Equal(t, 5*time.Minute, in.Delta.Interval.D())
	require.Equal(t, 2*time.Minute, in.Delta.Lag.D())
	require.Equal(t, 15*time.Minute, in.Delta.DeletesEvery.D())
	require.True(t, in.HasObject(crm.Deals))
	require.False(t, in.HasObject(crm.Companies))
}

func TestEachProviderGetsItsDocumentedQuota(t *testing.T) {
	t.Parallel()
	doc := `
integrations:
  - {id: hs, provider: hubspot, credential_env: T, objects: [contacts]}
  - {id: sf, provider: salesforce, base_url: "https://acme.my.salesforce.com", credential_env: T, objects: [contacts]}
  - {id: pd, provider: pipedrive, credential_env: T, objects: [contacts]}
  - {id: pdo, provider: pipedrive, objects: [contacts], oauth: {client_id_env: A, client_secret_env: B, refresh_token_env: C}}
  - {id: zo, provider: zoho, objects: [contacts], oauth: {client_id_env: A, client_secret_env: B, refresh_token_env: C}}
  - {id: hs190, provider: hubspot, credential_env: T, objects: [contacts], quota: {requests_per_10s: 190}}
`
	c, err := config.Parse(strings.NewReader(doc))
	require.NoError(t, err)
	for _, tc := range []struct {
		id          string
		calls       int
		window      time.Duration
		concurrency int
		daily       int
	}{
		{"hs", 100, 10 * time.Second, 0, 250_000},
		{"sf", 0, 10 * time.Second, 0, 100_000},
		{"pd", 20, 2 * time.Second, 0, 30_000},
		{"pdo", 80, 2 * time.Second, 0, 30_000},
		{"zo", 0, 10 * time.Second, 10, 50_000},
		{"hs190", 190, 10 * time.Second, 0, 250_000},
	} {
		in, err := c.Integration(tc.id)
		require.NoError(t, err)
		require.Equal(t, tc.calls, in.Quota.WindowCalls(), tc.id)
		require.Equal(t, tc.window, in.Quota.WindowLength(), tc.id)
		require.Equal(t, tc.concurrency, in.Quota.Concurrency, tc.id)
		require.Equal(t, tc.daily, in.Quota.Daily, tc.id)
	}
	sf, _ := c.Integration("sf")
	require.Equal(t, "v62.0", sf.APIVersion)
	zo, _ := c.Integration("zo")
	require.Equal(t, "https://www.zohoapis.com", zo.BaseURL)
	require.Equal(t, "https://accounts.zoho.com/oauth/v2/token", zo.OAuth.TokenURL)
}

func TestOAuthSecretsNameEveryMissingVariable(t *testing.T) {
	t.Parallel()
	o := &config.OAuth{TokenURL: "https://x", ClientIDEnv: "CID", ClientSecretEnv: "CSEC", RefreshTokenEnv: "RTOK"}
	env := map[string]string{"CID": "id-1"}
	_, err := o.Secrets("acme", func(k string) string { return env[k] })
	require.ErrorContains(t, err, "CSEC (oauth.client_secret_env), RTOK (oauth.refresh_token_env)")
	require.NotContains(t, err.Error(), "id-1")
	env["CSEC"], env["RTOK"] = "s", "r"
	sec, err := o.Secrets("acme", func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, config.OAuthSecrets{TokenURL: "https://x", ClientID: "id-1", ClientSecret: "s", RefreshToken: "r"}, sec)
}

func TestDailyReserveIsAShareOrAPercentage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		want        int
	}{
		{name: "fraction", value: "0.2", want: 50000},
		{name: "percentage", value: "5%", want: 12500},
		{name: "none", value: "0", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse(strings.NewReader(minimal + "    quota: {daily_reserve: " + tc.value + "}\n"))
			require.NoError(t, err)
			require.Equal(t, tc.want, c.Integrations[0].Quota.Reserve(250000))
		})
	}
}

func TestDeletesEveryZeroMeansEveryDelta(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(strings.NewReader(minimal + "    delta: {deletes_every: 0s}\n"))
	require.NoError(t, err)
	require.Zero(t, c.Integrations[0].Delta.DeletesEvery.D())
}

func TestCommittedConfigFilesAreValid(t *testing.T) {
	t.Parallel()
	c, err := config.Load("../../crmsync.example.yaml")
	require.NoError(t, err)
	require.Len(t, c.Integrations, 1)
	require.Equal(t, "ACME_HUBSPOT_TOKEN", c.Integrations[0].CredentialEnv)
	require.Equal(t, "https://api.hubapi.com", c.Integrations[0].BaseURL, "the example reaches the real HubSpot")

	c, err = config.Load("../../deploy/crmsync.compose.yaml")
	require.NoError(t, err)
	require.Equal(t, "HUBSPOT_TOKEN", c.Integrations[0].CredentialEnv)
}

func TestParseErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "empty file", doc: "", want: []string{"integrations:", "at least one"}},
		{name: "no integrations", doc: "integrations: []", want: []string{"integrations: at least one integration"}},
		{name: "unknown field", doc: strings.Replace(minimal, "objects:", "object:", 1), want: []string{"field object not found"}},
		{name: "misspelt quota field", doc: minimal + "    quota: {requests_per_10sec: 5}\n", want: []string{"requests_per_10sec"}},
		{name: "bad id", doc: strings.Replace(minimal, "id: acme", "id: Acme_CRM", 1), want: []string{"integrations[0].id:", "lower-case"}},
		{name: "duplicate id", doc: minimal + strings.TrimPrefix(minimal, "\nintegrations:\n"), want: []string{"integrations[1].id:", "already used by integrations[0]"}},
		{name: "unknown provider", doc: strings.Replace(minimal, "hubspot", "hubspott", 1), want: []string{"integrations[0].provider:", "unknown provider"}},
		{name: "zoho without oauth", doc: strings.Replace(minimal, "hubspot", "zoho", 1), want: []string{"integrations[0].credential_env:", "set oauth"}},
		{name: "salesforce without instance", doc: strings.Replace(minimal, "hubspot", "salesforce", 1), want: []string{"integrations[0].base_url:", "instance URL"}},
		{name: "token and oauth", doc: minimal + "    oauth: {client_id_env: A, client_secret_env: B, refresh_token_env: C}\n", want: []string{"integrations[0].credential_env:", "not both"}},
		{name: "oauth secret pasted", doc: strings.Replace(minimal, "credential_env: ACME_TOKEN", "oauth: {client_id_env: A, client_secret_env: 'x-y-secret', refresh_token_env: C}", 1), want: []string{"integrations[0].oauth.client_secret_env:", "not an environment variable name", "x-y-…"}},
		{name: "oauth incomplete", doc: strings.Replace(minimal, "credential_env: ACME_TOKEN", "oauth: {client_id_env: A}", 1), want: []string{"integrations[0].oauth.client_secret_env: is required", "integrations[0].oauth.refresh_token_env: is required"}},
		{name: "negative concurrency", doc: minimal + "    quota: {concurrency: -1}\n", want: []string{"integrations[0].quota.concurrency:"}},
		{name: "missing credential_env", doc: strings.Replace(minimal, "credential_env: ACME_TOKEN", "", 1), want: []string{"integrations[0].credential_env: is required"}},
		{name: "token pasted in credential_env", doc: strings.Replace(minimal, "ACME_TOKEN", "pat-na1-11111111-2222", 1), want: []string{"integrations[0].credential_env:", "not an environment variable name", "pat-…"}},
		{name: "unknown object", doc: strings.Replace(minimal, "deals]", "tickets]", 1), want: []string{"integrations[0].objects[1]:", "tickets"}},
		{name: "duplicate object", doc: strings.Replace(minimal, "deals]", "contacts]", 1), want: []string{"integrations[0].objects[1]:", "twice"}},
		{name: "bad duration", doc: minimal + "    delta: {interval: five}\n", want: []string{"not a duration"}},
		{name: "interval too short", doc: minimal + "    delta: {interval: 1s}\n", want: []string{"integrations[0].delta.interval:", "too short"}},
		{name: "negative quota", doc: minimal + "    quota: {daily: -1}\n", want: []string{"integrations[0].quota.daily:"}},
		{name: "reserve of the whole day", doc: minimal + "    quota: {daily_reserve: 1}\n", want: []string{"integrations[0].quota.daily_reserve:", "below 1"}},
		{name: "reserve not a share", doc: minimal + "    quota: {daily_reserve: lots}\n", want: []string{"line 7", `"lots" is not a share`}},
		{name: "reserve over 100%", doc: minimal + "    quota: {daily_reserve: 120%}\n", want: []string{"integrations[0].quota.daily_reserve:", "got 1.2"}},
		{name: "negative deletes_every", doc: minimal + "    delta: {deletes_every: -1m}\n", want: []string{"integrations[0].delta.deletes_every:"}},
		{name: "bad base url", doc: minimal + "    base_url: api.hubapi.com\n", want: []string{"integrations[0].base_url:"}},
		{name: "webhooks without a portal", doc: minimal + "    webhooks: {secret_env: ACME_SECRET}\n", want: []string{"integrations[0].webhooks.portal_id: is required"}},
		{name: "webhook secret pasted", doc: minimal + "    webhooks: {portal_id: 62515, secret_env: 0f9a7c2e-1111-2222}\n", want: []string{"integrations[0].webhooks.secret_env:", "0f9a…"}},
		{name: "portal of two integrations", doc: minimal + "    webhooks: {portal_id: 7, secret_env: S}\n" + strings.Replace(strings.TrimPrefix(minimal, "\nintegrations:\n"), "acme", "other", 1) + "    webhooks: {portal_id: 7, secret_env: S}\n", want: []string{"integrations[1].webhooks.portal_id:", "already taken by integrations[0]"}},
		{name: "flush delay too long", doc: minimal + "    webhooks: {portal_id: 7, secret_env: S, flush_after: 5m}\n", want: []string{"integrations[0].webhooks.flush_after:"}},
		{name: "writes to nothing", doc: minimal + "    writes: {}\n", want: []string{"integrations[0].writes.objects: name at least one object"}},
		{name: "writes to an object not synced", doc: minimal + "    writes: {objects: {companies: {}}}\n", want: []string{"integrations[0].writes.objects.companies: is not one of this integration's objects"}},
		{name: "writes by a bad property", doc: minimal + "    writes: {objects: {contacts: {id_property: \"e mail\"}}}\n", want: []string{"integrations[0].writes.objects.contacts.id_property:"}},
		{name: "intake app without token", doc: minimal + "intake: {apps: [{name: shop}]}\n", want: []string{"intake.apps[0].token_env: is required"}},
		{name: "intake app token pasted", doc: minimal + "intake: {apps: [{name: shop, token_env: 8f0e-secret-token}]}\n", want: []string{"intake.apps[0].token_env:", "8f0e…"}},
		{name: "intake app for an unknown integration", doc: minimal + "intake: {apps: [{name: shop, token_env: SHOP_TOKEN, integrations: [nope]}]}\n", want: []string{`intake.apps[0].integrations[0]: "nope" is not a configured integration`}},
		{name: "properties for an object not synced", doc: minimal + "    properties: {companies: [name]}\n", want: []string{"integrations[0].properties.companies:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse(strings.NewReader(tc.doc))
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestCredentialComesFromTheNamedVariable(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(strings.NewReader(minimal))
	require.NoError(t, err)
	in := c.Integrations[0]
	env := map[string]string{"ACME_TOKEN": " secret-token \n"}
	tok, err := in.Credential(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "secret-token", tok)

	_, err = in.Credential(func(string) string { return "" })
	require.ErrorContains(t, err, "ACME_TOKEN")
}

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, e config.Env)
		wantErr string
	}{
		{name: "defaults", env: map[string]string{}, check: func(t *testing.T, e config.Env) {
			require.Equal(t, config.DefaultDatabaseURL, e.DatabaseURL)
			require.Equal(t, "localhost:7233", e.Temporal.Address)
			require.Equal(t, "default", e.Temporal.Namespace)
			require.False(t, e.Temporal.TLS)
			tc, err := e.Temporal.TLSConfig()
			require.NoError(t, err)
			require.Nil(t, tc)
		}},
		{name: "api key turns TLS on", env: map[string]string{"TEMPORAL_API_KEY": "k", "TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233"}, check: func(t *testing.T, e config.Env) {
			require.True(t, e.Temporal.TLS)
			tc, err := e.Temporal.TLSConfig()
			require.NoError(t, err)
			require.NotNil(t, tc)
		}},
		{name: "half a client cert", env: map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": "/x.pem"}, wantErr: "must be set together"},
		{name: "bad TLS flag", env: map[string]string{"TEMPORAL_TLS": "yes please"}, wantErr: "TEMPORAL_TLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := config.LoadEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, e)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := config.Load("does-not-exist.yaml")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestLanesAreSharedByTheObjects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		per10s  int
		objects []crm.Object
		lanes   int
		want    int
	}{
		{name: "one object, 190 per 10 s", per10s: 190, objects: []crm.Object{crm.Contacts}, want: 48},
		{name: "three objects share them", per10s: 100, objects: crm.Objects, want: 9},
		{name: "at most 64", per10s: 1000, objects: []crm.Object{crm.Contacts}, want: 64},
		{name: "at least one", per10s: 2, objects: crm.Objects, want: 1},
		{name: "configured", per10s: 100, objects: crm.Objects, lanes: 3, want: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := config.Integration{Objects: tc.objects, Quota: config.Quota{RequestsPer10s: tc.per10s}, Backfill: config.Backfill{Lanes: tc.lanes}}
			require.Equal(t, tc.want, in.LanesFor())
		})
	}
}

func TestWritesConfig(t *testing.T) {
	t.Parallel()
	c, err := config.Parse(strings.NewReader(minimal + "    writes: {objects: {contacts: {id_property: email}, deals: {}}}\n" +
		"intake: {apps: [{name: shop, token_env: SHOP_TOKEN}]}\n"))
	require.NoError(t, err)
	in := c.Integrations[0]
	require.Equal(t, config.DefaultMaxRecordBytes, in.Writes.MaxRecordBytes)
	require.Equal(t, map[crm.Object]config.WriteObject{crm.Contacts: {IDProperty: "email"}, crm.Deals: {}}, in.WriteTargets())
	_, err = c.Intake.Apps[0].Token(func(string) string { return "short" })
	require.ErrorContains(t, err, "shorter than 16 characters")
	tok, err := c.Intake.Apps[0].Token(func(k string) string { return map[string]string{"SHOP_TOKEN": " 0123456789abcdef0123 "}[k] })
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef0123", tok)
}

package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// The demo's config for every provider loads, authenticates as that CRM does (with the
// variables the demo sets for the worker), and asks for the quota the simulator enforces
// by default, which is the provider's documented default.
func TestDemoConfigForEveryProvider(t *testing.T) {
	t.Parallel()
	env := map[string]string{demoTokenEnv: demoToken, demoClientIDEnv: demoClientID, demoClientSecretEnv: demoClientSecret}
	tests := []struct {
		provider  string
		oauthPath string // "" for a static token
		quota     string
		pageSize  int
	}{
		{provider: crmsim.ProviderHubSpot, quota: "100 requests / 10s, 250000 a day", pageSize: 100},
		{provider: crmsim.ProviderSalesforce, oauthPath: "/services/oauth2/token", quota: "100000 a day", pageSize: 2000},
		{provider: crmsim.ProviderPipedrive, quota: "20 requests / 2s, 30000 a day", pageSize: 500},
		{provider: crmsim.ProviderZoho, oauthPath: "/oauth/v2/token", quota: "10 in flight, 50000 a day", pageSize: 200},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			f := demoFlags{provider: tc.provider, quota10s: 100, deltaInterval: time.Minute, deltaLag: 10 * time.Second}
			f.sim.daily, f.sim.searchRate = crmsim.DefaultDailyLimit, crmsim.DefaultSearchPerSecond
			f.sim.salesforce.DailyLimit = crmsim.DefaultSalesforceDailyLimit
			f.sim.pipedrive.BurstLimit, f.sim.pipedrive.BurstWindow = crmsim.DefaultPipedriveBurstLimit, crmsim.DefaultPipedriveBurstWindow
			f.sim.pipedrive.DailyTokens = crmsim.DefaultPipedriveDailyTokens
			f.sim.zoho.Concurrency, f.sim.zoho.DailyCredits = crmsim.DefaultZohoConcurrency, crmsim.DefaultZohoDailyCredits
			path := filepath.Join(t.TempDir(), "crmsync.yaml")
			require.NoError(t, writeDemoConfig(path, "127.0.0.1:8090", f))
			cfg, err := config.Load(path)
			require.NoError(t, err)
			in := cfg.Integrations[0]
			require.Equal(t, tc.provider, in.Provider)
			require.Equal(t, "http://127.0.0.1:8090", in.BaseURL)
			require.Equal(t, tc.quota, in.Quota.String())
			if tc.oauthPath == "" {
				require.Nil(t, in.OAuth)
				require.Equal(t, demoTokenEnv, in.CredentialEnv)
			} else {
				require.NotNil(t, in.OAuth)
				require.Equal(t, "http://127.0.0.1:8090"+tc.oauthPath, in.OAuth.TokenURL)
			}
			_, err = provider.NewCredential(in, func(k string) string { return env[k] }, nil)
			require.NoError(t, err, "the worker finds every variable the config names")
			size, err := pageSize(in)
			require.NoError(t, err)
			require.Equal(t, tc.pageSize, size)
		})
	}
}

func TestEndpointSummaryGroupsEveryDialectByOperation(t *testing.T) {
	t.Parallel()
	st := crmsim.Stats{ByEndpoint: map[string]map[int]int{
		"salesforce query Contact": {200: 3}, "salesforce query_more": {200: 9}, "salesforce token": {200: 1},
		"list contacts": {200: 2, 429: 1},
	}}
	require.Equal(t, "query_more 9, list 3, query 3, token 1", endpointSummary(st))
}

func TestCheckDemoProvider(t *testing.T) {
	t.Parallel()
	require.NoError(t, checkDemoProvider("zoho"))
	require.ErrorContains(t, checkDemoProvider("dynamics"), "want one of hubspot, salesforce, pipedrive, zoho")
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/crmsim"
)

// simFlags are the simulator's settings, shared by `starter sim` and `starter demo`.
type simFlags struct {
	seed                        int64
	contacts, companies, deals  int
	tokens                      listFlag
	limit10s, daily, searchRate int
	indexLag, latency           time.Duration
	retryAfter                  bool
	narrow                      bool
	uriLimit                    int
	mutateEvery                 time.Duration
	mutate                      crmsim.MutationSpec
	// accessTokenTTL and the dialects' limits apply to Salesforce, Pipedrive and Zoho; the
	// flags above are HubSpot's.
	accessTokenTTL time.Duration
	salesforce     crmsim.SalesforceOptions
	pipedrive      crmsim.PipedriveOptions
	zoho           crmsim.ZohoOptions
}

func (f *simFlags) register(fs *flag.FlagSet, defaultContacts, defaultCompanies, defaultDeals int) {
	fs.Int64Var(&f.seed, "seed", 1, "dataset seed (same seed, same data)")
	fs.IntVar(&f.contacts, "contacts", defaultContacts, "contacts to seed")
	fs.IntVar(&f.companies, "companies", defaultCompanies, "companies to seed")
	fs.IntVar(&f.deals, "deals", defaultDeals, "deals to seed")
	fs.Var(&f.tokens, "token", "accepted bearer token (repeatable; default demo-token)")
	fs.IntVar(&f.limit10s, "limit-10s", crmsim.DefaultTenSecondLimit, "HubSpot: requests allowed per token in a rolling 10 s window")
	fs.IntVar(&f.daily, "daily", crmsim.DefaultDailyLimit, "HubSpot: requests allowed per day")
	fs.IntVar(&f.searchRate, "search-per-second", crmsim.DefaultSearchPerSecond, "HubSpot: search requests allowed per second")
	fs.DurationVar(&f.indexLag, "index-lag", 2*time.Second, "HubSpot: how long a change takes to reach search results")
	fs.DurationVar(&f.latency, "latency", 0, "added to every API response (a real CRM is not on loopback)")
	fs.BoolVar(&f.retryAfter, "retry-after", false, "send Retry-After on 429s (HubSpot, Pipedrive and Zoho document none)")
	fs.BoolVar(&f.narrow, "narrow", false, "seed an account with only a dozen properties per object (by default it is as wide as a real one: hundreds, most empty)")
	fs.IntVar(&f.uriLimit, "uri-limit", crmsim.DefaultURILimit, "HubSpot: the longest request URI its front end passes (414 past it); real reports range from about 8,000 to 16,200")
	fs.DurationVar(&f.mutateEvery, "mutate-every", 0, "change records this often while running (0: never)")
	fs.IntVar(&f.mutate.Updates, "mutate-updates", 20, "records updated per mutation round")
	fs.IntVar(&f.mutate.Creates, "mutate-creates", 5, "records created per mutation round")
	fs.IntVar(&f.mutate.Archives, "mutate-archives", 2, "records archived per mutation round")
	fs.IntVar(&f.mutate.Restores, "mutate-restores", 0, "records restored per mutation round")
	f.registerDialects(fs)
}

// registerDialects adds the flags of the Salesforce, Pipedrive and Zoho dialects. Their
// defaults are each CRM's documented entry-level limits, the same that crmsync's config
// assumes when a quota is left out, so a default simulator and a default config agree.
func (f *simFlags) registerDialects(fs *flag.FlagSet) {
	fs.DurationVar(&f.accessTokenTTL, "access-token-ttl", time.Hour,
		"lifetime of the access tokens the OAuth refresh grant issues (Salesforce, Zoho, Pipedrive OAuth); shorten it to watch the worker refresh")
	fs.IntVar(&f.salesforce.DailyLimit, "salesforce-daily", crmsim.DefaultSalesforceDailyLimit,
		"Salesforce: API requests per rolling 24 h (Enterprise Edition's base allocation); over it, 403 REQUEST_LIMIT_EXCEEDED")
	fs.IntVar(&f.salesforce.ConcurrentLongRunning, "salesforce-long-running", crmsim.DefaultSalesforceConcurrentLongRunning,
		"Salesforce: requests lasting 20 s or more allowed in flight at once (production orgs; Developer Edition has 5)")
	fs.IntVar(&f.pipedrive.BurstLimit, "pipedrive-burst", crmsim.DefaultPipedriveBurstLimit,
		"Pipedrive: requests per API token per --pipedrive-window (Lite)")
	fs.IntVar(&f.pipedrive.OAuthBurstLimit, "pipedrive-oauth-burst", crmsim.DefaultPipedriveOAuthBurstLimit,
		"Pipedrive: the same for an OAuth app's access tokens")
	fs.DurationVar(&f.pipedrive.BurstWindow, "pipedrive-window", crmsim.DefaultPipedriveBurstWindow,
		"Pipedrive: the rolling window of the burst limits")
	fs.IntVar(&f.pipedrive.DailyTokens, "pipedrive-daily-tokens", crmsim.DefaultPipedriveDailyTokens,
		"Pipedrive: the company's daily token budget (30,000 x plan x seats); a list call costs 20")
	fs.IntVar(&f.zoho.Concurrency, "zoho-concurrency", crmsim.DefaultZohoConcurrency,
		"Zoho: requests one app may have in flight (Free 5, Standard 10, Professional 15, Enterprise 20, Ultimate 25)")
	fs.IntVar(&f.zoho.DailyCredits, "zoho-credits", crmsim.DefaultZohoDailyCredits,
		"Zoho: API credits per rolling 24 h (Standard's base allowance); a call spends one")
}

func (f *simFlags) options() crmsim.Options {
	tokens := []string(f.tokens)
	if len(tokens) == 0 {
		tokens = []string{demoToken}
	}
	pd, zo := f.pipedrive, f.zoho
	pd.RetryAfter, zo.RetryAfter = f.retryAfter, f.retryAfter
	return crmsim.Options{
		Seed: f.seed, Contacts: f.contacts, Companies: f.companies, Deals: f.deals, Tokens: tokens,
		TenSecondLimit: f.limit10s, DailyLimit: f.daily, SearchPerSecond: f.searchRate,
		SearchIndexLag: f.indexLag, Latency: f.latency, RetryAfter: f.retryAfter, Narrow: f.narrow, URILimit: f.uriLimit,
		AccessTokenTTL: f.accessTokenTTL, Salesforce: f.salesforce, Pipedrive: pd, Zoho: zo,
	}
}

// demoToken is the simulator's default token. It is not a secret: the simulator only
// listens on loopback.
const demoToken = "demo-token"

func runSim(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (every dialect is served on it)")
	hookURL := fs.String("webhook-url", "", "push every change, signed, to this webhook receiver (e.g. http://127.0.0.1:8088/webhooks/hubspot)")
	hookSecretEnv := fs.String("webhook-secret-env", "CRMSIM_WEBHOOK_SECRET", "environment variable holding the app secret that signs the webhooks")
	portal := fs.Int64("portal-id", crmsim.DefaultPortalID, "the account id (portalId) in the webhooks")
	var sf simFlags
	sf.register(fs, 20000, 5000, 10000)
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := sf.options()
	if *hookURL != "" {
		opts.WebhookURL, opts.WebhookSecret, opts.PortalID = *hookURL, os.Getenv(*hookSecretEnv), *portal
		if opts.WebhookSecret == "" {
			return fmt.Errorf("sim: --webhook-url needs the signing secret in $%s", *hookSecretEnv)
		}
	}
	sim, err := crmsim.New(opts)
	if err != nil {
		return err
	}
	defer sim.Close()
	srv, err := serveSim(ctx, sim, *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CRM simulator on http://%s (%d contacts, %d companies, %d deals), speaking HubSpot, Salesforce, Pipedrive and Zoho\n",
		srv.Addr, sf.contacts, sf.companies, sf.deals)
	printSimEndpoints(out, srv.Addr, opts.Tokens[0])
	if sf.mutateEvery > 0 {
		sim.StartMutator(ctx, sf.mutateEvery, sf.mutate)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// printSimEndpoints tells how to point each provider's integration at the simulator.
func printSimEndpoints(out io.Writer, addr, token string) {
	base := "http://" + addr
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  PROVIDER\tbase_url\tauth\n")
	fmt.Fprintf(tw, "  hubspot\t%s\tprivate-app token %s (credential_env)\n", base, token)
	fmt.Fprintf(tw, "  salesforce\t%s\toauth token_url %s/services/oauth2/token, refresh token %s, any client id and secret\n", base, base, token)
	fmt.Fprintf(tw, "  pipedrive\t%s\tAPI token %s (credential_env), or oauth token_url %s/oauth/token\n", base, token, base)
	fmt.Fprintf(tw, "  zoho\t%s\toauth token_url %s/oauth/v2/token, refresh token %s, any client id and secret\n", base, base, token)
	_ = tw.Flush()
	fmt.Fprintf(out, "  stats: %s/_sim/stats   ground truth: %s/_sim/snapshot?object=contacts\n", base, base)
}

// serveSim listens on addr and serves the simulator until ctx ends.
func serveSim(ctx context.Context, sim *crmsim.Sim, addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulator: listening on %s: %w", addr, err)
	}
	srv := sim.NewServer(ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("simulator stopped:", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return srv, nil
}

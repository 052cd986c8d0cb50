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
	mutateEvery                 time.Duration
	mutate                      crmsim.MutationSpec
}

func (f *simFlags) register(fs *flag.FlagSet, defaultContacts, defaultCompanies, defaultDeals int) {
	fs.Int64Var(&f.seed, "seed", 1, "dataset seed (same seed, same data)")
	fs.IntVar(&f.contacts, "contacts", defaultContacts, "contacts to seed")
	fs.IntVar(&f.companies, "companies", defaultCompanies, "companies to seed")
	fs.IntVar(&f.deals, "deals", defaultDeals, "deals to seed")
	fs.Var(&f.tokens, "token", "accepted bearer token (repeatable; default demo-token)")
	fs.IntVar(&f.limit10s, "limit-10s", crmsim.DefaultTenSecondLimit, "requests allowed per token in a rolling 10 s window")
	fs.IntVar(&f.daily, "daily", crmsim.DefaultDailyLimit, "requests allowed per day")
	fs.IntVar(&f.searchRate, "search-per-second", crmsim.DefaultSearchPerSecond, "search requests allowed per second")
	fs.DurationVar(&f.indexLag, "index-lag", 2*time.Second, "how long a change takes to reach search results")
	fs.DurationVar(&f.latency, "latency", 0, "added to every API response (a real CRM is not on loopback)")
	fs.BoolVar(&f.retryAfter, "retry-after", false, "send Retry-After on 429s (HubSpot does not document one)")
	fs.DurationVar(&f.mutateEvery, "mutate-every", 0, "change records this often while running (0: never)")
	fs.IntVar(&f.mutate.Updates, "mutate-updates", 20, "records updated per mutation round")
	fs.IntVar(&f.mutate.Creates, "mutate-creates", 5, "records created per mutation round")
	fs.IntVar(&f.mutate.Archives, "mutate-archives", 2, "records archived per mutation round")
	fs.IntVar(&f.mutate.Restores, "mutate-restores", 0, "records restored per mutation round")
}

func (f *simFlags) options() crmsim.Options {
	tokens := []string(f.tokens)
	if len(tokens) == 0 {
		tokens = []string{demoToken}
	}
	return crmsim.Options{
		Seed: f.seed, Contacts: f.contacts, Companies: f.companies, Deals: f.deals, Tokens: tokens,
		TenSecondLimit: f.limit10s, DailyLimit: f.daily, SearchPerSecond: f.searchRate,
		SearchIndexLag: f.indexLag, Latency: f.latency, RetryAfter: f.retryAfter,
	}
}

// demoToken is the simulator's default token. It is not a secret: the simulator only
// listens on loopback.
const demoToken = "demo-token"

func runSim(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
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
	fmt.Fprintf(out, "HubSpot simulator on http://%s (%d contacts, %d companies, %d deals)\n", srv.Addr, sf.contacts, sf.companies, sf.deals)
	fmt.Fprintf(out, "  base_url: http://%s   token: %s\n  stats: http://%s/_sim/stats   ground truth: http://%s/_sim/snapshot?object=contacts\n",
		srv.Addr, sf.options().Tokens[0], srv.Addr, srv.Addr)
	if sf.mutateEvery > 0 {
		sim.StartMutator(ctx, sf.mutateEvery, sf.mutate)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
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

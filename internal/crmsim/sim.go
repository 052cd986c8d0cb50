// Package crmsim is an in-memory HTTP simulator of HubSpot's CRM v3 API.
//
// No machine that runs crmsync's tests, benchmarks or demo can reach HubSpot, and the real
// API is too slow and too rate limited to exercise sync edge cases on demand. The simulator
// therefore speaks HubSpot's real paths, JSON shapes, headers, error bodies and rate limits
// (see docs section "1. HubSpot" of the shared CRM API reference), so the same connector code
// runs unchanged against either. On top of the API it offers what the real service cannot:
// a deterministic seeded dataset, a ground-truth snapshot to compare a sync against, a
// mutator that changes records while a sync runs, injected faults, and counters (including
// calls that ignored a rate-limit wait) for asserting on client behaviour. Batch create,
// update and upsert write into the same dataset as the mutator, and the sim counts how
// often each input (by objectWriteTraceId) was applied (WriteStats), so a writer can be
// checked to lose no input and apply none twice, also under injected per-input failures
// (WriteFaults).
//
// Admin routes under /_sim/ expose the same controls over HTTP for the demo; they need no
// token and are never counted or rate limited.
package crmsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Options configures a Sim. Zero values select HubSpot's Free/Starter limits and a dataset
// anchored at 2026-01-01T00:00:00Z.
type Options struct {
	// Seed makes the dataset deterministic: the same Seed, counts and Epoch give an
	// identical dataset, and the same sequence of Mutate calls gives identical changes.
	Seed int64
	// Contacts, Companies and Deals are how many records of each object to seed.
	Contacts, Companies, Deals int
	// Owners is how many owners to seed; default 25.
	Owners int
	// Narrow seeds an account whose objects have only the few core properties the
	// simulator's logic uses (a dozen or so each). By default the account is as wide as a
	// real one: hundreds of properties per object, most empty on most records (wide.go).
	// Tests that need small records set it; everything else runs on the wide default.
	Narrow bool
	// Epoch anchors the seeded timestamps: createdAt lies in [Epoch-3y, Epoch) and
	// updatedAt in [createdAt, Epoch). Default 2026-01-01T00:00:00Z.
	Epoch time.Time
	// Tokens are the accepted bearer tokens; each one is a separate HubSpot app with its
	// own ten-secondly bucket. At least one is required.
	Tokens []string
	// TenSecondLimit is the per-token limit in a rolling 10 s window; default 100.
	TenSecondLimit int
	// DailyLimit is the per-account limit per day, shared by all tokens; default 250000.
	DailyLimit int
	// SearchPerSecond is the per-account search limit in a rolling 1 s window; default 5.
	SearchPerSecond int
	// DayLength, when set, resets the daily counter every DayLength counted from the sim's
	// start, so tests can exercise the reset; default: at midnight UTC.
	DayLength time.Duration
	// SearchIndexLag delays a change's visibility to search, like HubSpot's eventually
	// consistent search index; default 0.
	SearchIndexLag time.Duration
	// Latency is added to every API (not admin) request before answering; default 0.
	Latency time.Duration
	// URILimit is the longest request URI (path and query) HubSpot's front end passes;
	// longer ones get its 414 page. Default DefaultURILimit; negative for none.
	URILimit int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up) to 429s. HubSpot does
	// not document one, so it is off by default.
	RetryAfter bool
	// AssociationPageSize is how many associated records one result of the v4 association
	// batch read holds before it pages; default 500. Tests lower it to exercise paging
	// without seeding hundreds of links per record.
	AssociationPageSize int
	// Now is the clock for rate limits, timestamps and the index lag; default time.Now.
	// Tests inject a fake clock so limits can be tested at their exact boundaries.
	Now func() time.Time

	// WebhookURL receives HubSpot-style webhooks for the changes Mutate makes; empty sends
	// none. It is signed exactly as given, so it must be the URL the receiver verifies.
	WebhookURL string
	// WebhookSecret is the app's client secret that signs each webhook POST; required with
	// WebhookURL, as HubSpot never sends unsigned webhooks.
	WebhookSecret string
	// PortalID is the account id in every event; default 62515, HubSpot's example portal.
	PortalID int64
	// AppID is the app id in every event; default 54321, HubSpot's example app.
	AppID int64
	// WebhookBatch is the most events one POST carries; default 100.
	WebhookBatch int
	// WebhookRetries is how many times a failed POST is retried before its events are
	// dropped; default 5, negative for none.
	WebhookRetries int
	// WebhookRetryBase is the first retry's delay, doubled on each further retry up to 30 s;
	// default 1 s. A 429 with a Retry-After header waits what the receiver asked instead.
	WebhookRetryBase time.Duration
	// WebhookClient posts the webhooks; default a client with a 5 s timeout.
	WebhookClient *http.Client

	// WriteFaults makes some inputs of the batch write endpoints fail retryably from the
	// start; SetWriteFaults and POST /_sim/write-faults change them later.
	WriteFaults WriteFaults

	// AccessTokenTTL is how long an access token issued by a dialect's OAuth refresh grant
	// lasts; default 1 h. Tests shorten it to make tokens expire mid-sync.
	AccessTokenTTL time.Duration
	// Salesforce, Pipedrive and Zoho configure those dialects' own limits.
	Salesforce SalesforceOptions
	Pipedrive  PipedriveOptions
	Zoho       ZohoOptions
}

// Defaults applied by New when the corresponding option is zero.
const (
	DefaultOwners          = 25
	DefaultTenSecondLimit  = 100
	DefaultDailyLimit      = 250000
	DefaultSearchPerSecond = 5
	// DefaultAssociationPageSize is HubSpot's page of associations per record (its v4
	// per-record endpoint documents "Limit 500 per call").
	DefaultAssociationPageSize = 500
	// DefaultURILimit is where HubSpot's front end refuses a request URI: a GET carrying
	// every property of a wide portal fails "just around 16.2k characters" (PostHog PR
	// #31617); the simulator refuses past 16,000 bytes so a client must stay clearly
	// below what was observed.
	DefaultURILimit = 16000
)

// defaultEpoch is a function rather than a variable so no caller can move it.
func defaultEpoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Sim is a running simulator. All methods are safe for concurrent use.
type Sim struct {
	opts    Options
	now     func() time.Time
	start   time.Time
	tokens  map[string]int // token -> index, for per-app state and "token#N" labels
	handler http.Handler

	// mu guards the dataset, the mutator's random source and the latest stamp. API reads
	// take it shared; the mutator takes it exclusively.
	mu        sync.RWMutex
	objects   [numObjects]*objectStore
	owners    []owner
	pipelines []pipeline
	cat       catalog
	rng       *rand.Rand
	lastStamp time.Time

	meter  *meter
	hooks  *webhookSender // nil when Options.WebhookURL is empty
	writes writeLedger    // guarded by mu, like the dataset it accounts for

	access accessTokens
	sf     *salesforceState
	pd     *pipedriveState
	zo     *zohoState
}

// New validates opts, applies defaults and seeds the dataset.
func New(opts Options) (*Sim, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("crmsim options: %w", err)
	}
	opts.applyDefaults()
	s := &Sim{
		opts:   opts,
		now:    opts.Now,
		tokens: make(map[string]int, len(opts.Tokens)),
	}
	s.start = s.now()
	for i, tok := range opts.Tokens {
		s.tokens[tok] = i
	}
	seed(s)
	s.writes = newWriteLedger(opts.WriteFaults)
	s.meter = newMeter(opts, s.start)
	s.sf, s.pd, s.zo = newSalesforceState(s), newPipedriveState(s), newZohoState(s)
	s.handler = s.routes()
	s.hooks = newWebhookSender(opts)
	return s, nil
}

func (o *Options) validate() error {
	var errs []error
	if len(o.Tokens) == 0 {
		errs = append(errs, errors.New("at least one token is required"))
	}
	seen := make(map[string]bool, len(o.Tokens))
	for i, tok := range o.Tokens {
		switch {
		case tok == "":
			errs = append(errs, fmt.Errorf("token %d is empty", i+1))
		case seen[tok]:
			errs = append(errs, fmt.Errorf("token %d is a duplicate", i+1))
		}
		seen[tok] = true
	}
	errs = append(errs, negatives(
		namedValue{"contacts", int64(o.Contacts)},
		namedValue{"companies", int64(o.Companies)},
		namedValue{"deals", int64(o.Deals)},
		namedValue{"owners", int64(o.Owners)},
		namedValue{"ten-second limit", int64(o.TenSecondLimit)},
		namedValue{"daily limit", int64(o.DailyLimit)},
		namedValue{"search per second", int64(o.SearchPerSecond)},
		namedValue{"day length", int64(o.DayLength)},
		namedValue{"search index lag", int64(o.SearchIndexLag)},
		namedValue{"latency", int64(o.Latency)},
		namedValue{"association page size", int64(o.AssociationPageSize)},
		namedValue{"portal id", o.PortalID},
		namedValue{"app id", o.AppID},
		namedValue{"webhook batch", int64(o.WebhookBatch)},
		namedValue{"webhook retry base", int64(o.WebhookRetryBase)},
		namedValue{"access token TTL", int64(o.AccessTokenTTL)},
	)...)
	if err := o.WriteFaults.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.validateWebhooks()...)
	errs = append(errs, o.Salesforce.validate()...)
	errs = append(errs, o.Pipedrive.validate()...)
	errs = append(errs, o.Zoho.validate()...)
	return errors.Join(errs...)
}

func (o *Options) applyDefaults() {
	if o.Owners == 0 {
		o.Owners = DefaultOwners
	}
	if o.Epoch.IsZero() {
		o.Epoch = defaultEpoch()
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Millisecond)
	if o.TenSecondLimit == 0 {
		o.TenSecondLimit = DefaultTenSecondLimit
	}
	if o.DailyLimit == 0 {
		o.DailyLimit = DefaultDailyLimit
	}
	if o.SearchPerSecond == 0 {
		o.SearchPerSecond = DefaultSearchPerSecond
	}
	if o.AssociationPageSize == 0 {
		o.AssociationPageSize = DefaultAssociationPageSize
	}
	if o.URILimit == 0 {
		o.URILimit = DefaultURILimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AccessTokenTTL == 0 {
		o.AccessTokenTTL = time.Hour
	}
	o.Tokens = append([]string(nil), o.Tokens...)
	o.applyWebhookDefaults()
	o.Salesforce.applyDefaults()
	o.Pipedrive.applyDefaults()
	o.Zoho.applyDefaults()
}

// Handler serves the HubSpot API routes and the /_sim/ admin routes.
func (s *Sim) Handler() http.Handler { return s.handler }

// NewServer returns an http.Server for Handler with timeouts, for commands that run the
// simulator as a standalone process. The write timeout leaves room for Options.Latency.
func (s *Sim) NewServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute + s.opts.Latency,
		IdleTimeout:       2 * time.Minute,
	}
}

// tokenLabel names a token in stats without revealing it.
func tokenLabel(i int) string { return fmt.Sprintf("token#%d", i+1) }

// namedValue is an option's name and value, for checks whose errors name the option.
type namedValue struct {
	name  string
	value int64
}

// negatives reports every option below zero.
func negatives(vs ...namedValue) []error {
	var errs []error
	for _, v := range vs {
		if v.value < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", v.name, v.value))
		}
	}
	return errs
}

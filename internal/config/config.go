// Package config loads crmsync's configuration: the integrations file (which CRMs, which
// objects, what quota) and the environment (Temporal connection, DATABASE_URL). Everything is
// validated at start with messages that name the offending field, so a typo stops the worker
// before it makes a single call instead of failing a sync hours later.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/crmsync/crmsync/internal/crm"
)

// Providers crmsync knows, and the base URL each uses unless configured otherwise.
var defaultBaseURLs = map[string]string{
	"hubspot":   "https://api.hubapi.com",
	"pipedrive": "https://api.pipedrive.com",
	"zoho":      "https://www.zohoapis.com",
	// Salesforce has none: every org has its own instance URL (https://acme.my.salesforce.com).
	"salesforce": "",
}

// defaultTokenURLs are the CRMs' OAuth token endpoints for the refresh-token grant.
var defaultTokenURLs = map[string]string{
	"hubspot":    "https://api.hubapi.com/oauth/v1/token",
	"salesforce": "https://login.salesforce.com/services/oauth2/token",
	"pipedrive":  "https://oauth.pipedrive.com/oauth/token",
	"zoho":       "https://accounts.zoho.com/oauth/v2/token",
}

// Providers are the CRMs crmsync has connectors for.
var Providers = []string{"hubspot", "salesforce", "pipedrive", "zoho"}

// Config is the whole configuration file.
type Config struct {
	// Integrations are the CRM accounts to sync; each runs on its own task queues.
	Integrations []Integration `yaml:"integrations"`
	// Intake lists the applications allowed to queue writes through the HTTP intake
	// (starter intake).
	Intake *Intake `yaml:"intake"`
}

// Intake configures the HTTP write intake.
type Intake struct {
	// Apps are the calling applications, each with its own bearer token.
	Apps []IntakeApp `yaml:"apps"`
}

// IntakeApp is one application that queues writes.
type IntakeApp struct {
	// Name identifies the application in the outbox (write_outbox.app) and in logs.
	Name string `yaml:"name"`
	// TokenEnv is the NAME of the environment variable holding the app's bearer token.
	TokenEnv string `yaml:"token_env"`
	// Integrations the app may write to; empty means all.
	Integrations []string `yaml:"integrations"`
}

// Token reads the app's bearer token from the environment.
func (a IntakeApp) Token(getenv func(string) string) (string, error) {
	t := strings.TrimSpace(getenv(a.TokenEnv))
	if t == "" {
		return "", fmt.Errorf("intake app %s: environment variable %s (token_env) is empty", a.Name, a.TokenEnv)
	}
	if len(t) < 16 {
		return "", fmt.Errorf("intake app %s: the token in %s is shorter than 16 characters; use a long random one", a.Name, a.TokenEnv)
	}
	return t, nil
}

// Writes configures an integration's outbound write queue.
type Writes struct {
	// Objects are the objects that take writes, each with how its records are named.
	Objects map[crm.Object]WriteObject `yaml:"objects"`
	// MaxRecordBytes is the largest properties document one write may carry
	// (default DefaultMaxRecordBytes).
	MaxRecordBytes int `yaml:"max_record_bytes"`
}

// WriteObject says how queued writes name an object's records.
type WriteObject struct {
	// IDProperty is the CRM's unique property that names a record besides its id ("email"
	// for HubSpot contacts): writes carrying it are upserts, coalesced by its value. Empty:
	// writes must carry the record's CRM id.
	IDProperty string `yaml:"id_property"`
}

// DefaultMaxRecordBytes bounds one write's properties: HubSpot takes a few hundred
// properties per record, a few kilobytes each at most in practice.
const DefaultMaxRecordBytes = 64 << 10

// Integration is one CRM account.
type Integration struct {
	// ID names the integration in workflow ids, task queues and the records table. Lower-case
	// letters, digits and dashes; it must not change once data is synced.
	ID string `yaml:"id"`
	// Provider is the CRM: hubspot, salesforce, pipedrive or zoho.
	Provider string `yaml:"provider"`
	// BaseURL overrides the CRM's API address: a sandbox, a proxy, or the simulator.
	// Salesforce needs it: the org's instance URL.
	BaseURL string `yaml:"base_url"`
	// APIVersion pins the CRM's API version where the URL carries one (Salesforce: v62.0).
	APIVersion string `yaml:"api_version"`
	// CredentialEnv is the NAME of the environment variable holding the access token (a
	// HubSpot private-app token, a Pipedrive API token, a Salesforce session). The token
	// itself never appears in the file. Leave it out when OAuth is set.
	CredentialEnv string `yaml:"credential_env"`
	// OAuth refreshes short-lived access tokens from a refresh token (Salesforce, Zoho,
	// Pipedrive OAuth apps).
	OAuth *OAuth `yaml:"oauth"`
	// Objects to sync: contacts, companies, deals.
	Objects []crm.Object `yaml:"objects"`
	// Quota is what the CRM allows this credential.
	Quota Quota `yaml:"quota"`
	// Delta configures the incremental syncs.
	Delta Delta `yaml:"delta"`
	// Backfill configures full loads.
	Backfill Backfill `yaml:"backfill"`
	// Properties pins the properties synced per object; by default every property the CRM
	// defines is synced.
	Properties map[crm.Object][]string `yaml:"properties"`
	// Webhooks, when set, lets the webhook receiver (starter webhooks) accept the CRM's
	// change notifications for this account.
	Webhooks *Webhooks `yaml:"webhooks"`
	// Writes, when set, lets applications queue writes to this account's objects.
	Writes *Writes `yaml:"writes"`
}

// OAuth names the environment variables of an OAuth app's refresh-token grant. Only the
// names are in the file; the worker reads the values at start and keeps them in memory.
type OAuth struct {
	// TokenURL is the CRM's token endpoint (defaults: Salesforce login.salesforce.com,
	// Zoho accounts.zoho.com, Pipedrive oauth.pipedrive.com). Zoho accounts outside the US
	// data centre and Salesforce sandboxes (test.salesforce.com) set their own.
	TokenURL string `yaml:"token_url"`
	// ClientIDEnv, ClientSecretEnv and RefreshTokenEnv name the variables holding the app's
	// client id and secret and the account's refresh token.
	ClientIDEnv     string `yaml:"client_id_env"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	RefreshTokenEnv string `yaml:"refresh_token_env"`
}

// SecretEnvs names the environment variables holding the integration's secrets: its
// token or OAuth values, and its webhook signing secret.
func (in *Integration) SecretEnvs() []string {
	var out []string
	if in.CredentialEnv != "" {
		out = append(out, in.CredentialEnv)
	}
	if o := in.OAuth; o != nil {
		out = append(out, o.ClientIDEnv, o.ClientSecretEnv, o.RefreshTokenEnv)
	}
	if w := in.Webhooks; w != nil {
		out = append(out, w.SecretEnv)
	}
	return out
}

// OAuthSecrets are an OAuth app's values, read from the environment.
type OAuthSecrets struct {
	TokenURL, ClientID, ClientSecret, RefreshToken string
}

// Secrets reads the OAuth values from their environment variables, naming every one that
// is missing.
func (o *OAuth) Secrets(id string, getenv func(string) string) (OAuthSecrets, error) {
	var missing []string
	read := func(name, field string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			missing = append(missing, fmt.Sprintf("%s (oauth.%s)", name, field))
		}
		return v
	}
	sec := OAuthSecrets{
		TokenURL:     o.TokenURL,
		ClientID:     read(o.ClientIDEnv, "client_id_env"),
		ClientSecret: read(o.ClientSecretEnv, "client_secret_env"),
		RefreshToken: read(o.RefreshTokenEnv, "refresh_token_env"),
	}
	if len(missing) > 0 {
		return OAuthSecrets{}, fmt.Errorf("integration %s: environment variables not set: %s", id, strings.Join(missing, ", "))
	}
	return sec, nil
}

// Webhooks configures an integration's pushed changes.
type Webhooks struct {
	// PortalID is the CRM account whose events belong to this integration (HubSpot: the
	// portalId in every event). Events of accounts no integration names are refused.
	PortalID int64 `yaml:"portal_id"`
	// SecretEnv is the NAME of the environment variable holding the secret that signs the
	// deliveries (HubSpot: the app's client secret).
	SecretEnv string `yaml:"secret_env"`
	// FlushAfter is how long the first changed record of a batch waits for up to 99 more
	// before they are read (default 2s).
	FlushAfter Duration `yaml:"flush_after"`
}

// DefaultFlushAfter is webhooks.flush_after's default.
const DefaultFlushAfter = 2 * time.Second

// Secret reads the webhook signing secret from its environment variable.
func (w *Webhooks) Secret(getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv(w.SecretEnv))
	if v == "" {
		return "", fmt.Errorf("environment variable %s (webhooks.secret_env) is empty or not set", w.SecretEnv)
	}
	return v, nil
}

// Quota is a credential's API allowance.
type Quota struct {
	// RequestsPer10s is the rolling ten-second limit (HubSpot: 100 on Free/Starter, 190 on
	// Professional/Enterprise, 250 with the API add-on). Normalised into RequestsPerWindow
	// and Window when the file is loaded.
	RequestsPer10s int `yaml:"requests_per_10s"`
	// RequestsPerWindow calls are allowed in any rolling Window (Pipedrive: 20 per 2s for
	// an API token on Lite, 80 per 2s for an OAuth app). Zero for a CRM with no short window
	// (Salesforce, Zoho), whose limits are the daily allowance and Concurrency.
	RequestsPerWindow int `yaml:"requests_per_window"`
	// Window is the rolling window's length (HubSpot 10s, Pipedrive 2s).
	Window Duration `yaml:"window"`
	// Concurrency is how many calls the CRM lets be in flight at once (Zoho: 5 Free, 10
	// Standard, 15 Professional, 20 Enterprise, 25 Ultimate); 0 for no such limit.
	Concurrency int `yaml:"concurrency"`
	// Daily is the daily allowance (HubSpot: 250,000 / 625,000 / 1,000,000).
	Daily int `yaml:"daily"`
	// SearchPerSecond is the search endpoint's own limit (HubSpot: 5).
	SearchPerSecond int `yaml:"search_per_second"`
	// DailyReserve is the share of the daily allowance left to other apps (HubSpot's daily
	// limit is shared by every app of the account): when the CRM reports no more than this
	// share remaining, syncs pause until the day resets. Default 0.1; 0 uses it all.
	DailyReserve *Share `yaml:"daily_reserve"`
}

// Reserve is how many of a daily allowance of `daily` calls are left to other apps.
func (q Quota) Reserve(daily int) int {
	if q.DailyReserve == nil {
		return 0
	}
	return int(math.Ceil(float64(daily) * float64(*q.DailyReserve)))
}

// Share is a fraction of a whole, written as 0.1 or "10%".
type Share float64

// UnmarshalYAML accepts a number or a percentage.
func (s *Share) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	scale := 1.0
	if p, ok := strings.CutSuffix(v, "%"); ok {
		v, scale = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a share (write 0.1 or 10%%)", n.Line, n.Value)
	}
	*s = Share(f / scale)
	return nil
}

// Delta configures incremental syncs.
type Delta struct {
	// Interval between delta syncs, run by a Temporal Schedule.
	Interval Duration `yaml:"interval"`
	// Lag is how far back each delta re-reads, because the CRM's search index trails its
	// writes: a change indexed late would otherwise fall behind the cursor and be lost.
	Lag Duration `yaml:"lag"`
	// DeletesEvery is how often a delta also walks the CRM's deleted (archived) records,
	// which HubSpot's search never returns: a walk costs a call per 100 deleted records,
	// so it runs at most this often ("0s": every delta). Webhooks bring deletes sooner.
	DeletesEvery *Duration `yaml:"deletes_every"`
}

// Backfill configures full loads.
type Backfill struct {
	// Lanes is how many pages of one object a backfill reads at once, each lane walking its
	// own id range (where the CRM's listing can start at an id). A single chain of pages
	// waits a full round trip per page and cannot fill the quota of a CRM that is not on the
	// same machine; 0 picks enough lanes for the quota.
	Lanes int `yaml:"lanes"`
	// BulkAbove is the record count from which a backfill reads the object with the CRM's
	// bulk export (Salesforce Bulk API 2.0: a handful of calls for any size, instead of one
	// per 2,000 records); default 50,000, -1 never.
	BulkAbove int `yaml:"bulk_above"`
}

// DefaultBulkAbove is backfill.bulk_above's default.
const DefaultBulkAbove = 50_000

// LanesFor is the number of lanes a backfill of one object uses: the configured number, or
// one per four calls of the window's allowance (up to 64), shared by the integration's
// objects, whose backfills run at the same time. A rolling window lets its whole allowance
// go at once; with a CRM a few hundred milliseconds away, that many lanes send a window's
// calls within a few seconds, so the backfill keeps pace with the window, not with the
// round trip. More lanes than that only split ranges that the quota, not the lanes, holds
// back, and every split costs a page (the demo's three objects with 25 lanes each listed
// 508 pages for a minimum of 353, in 54 s; sharing the lanes, 452 in 44 s).
func (in *Integration) LanesFor() int {
	if in.Backfill.Lanes > 0 {
		return in.Backfill.Lanes
	}
	// A CRM without a short window is bounded by its concurrency, or by the round trip.
	perTen := int(float64(in.Quota.WindowCalls()) * float64(10*time.Second) / float64(in.Quota.WindowLength()))
	if in.Quota.WindowCalls() == 0 {
		perTen = 4 * cmp.Or(in.Quota.Concurrency, 16)
	}
	lanes := min(64, max(1, (perTen+3)/4))
	return max(1, (lanes+len(in.Objects)-1)/max(1, len(in.Objects)))
}

// Duration is a time.Duration written as "90s", "5m" or "1h30m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration like \"5m\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"90s\" or \"5m\"", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in Go's notation.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults for fields left out.
const (
	DefaultRequestsPer10s  = 100
	DefaultWindow          = Duration(10 * time.Second)
	DefaultDaily           = 250_000
	DefaultSearchPerSecond = 5
	DefaultDeltaInterval   = Duration(5 * time.Minute)
	DefaultDeltaLag        = Duration(2 * time.Minute)
	DefaultDeletesEvery    = Duration(15 * time.Minute)
	DefaultDailyReserve    = 0.1
	minDeltaInterval       = 10 * time.Second
)

// DefaultSalesforceAPIVersion is the Salesforce REST API version used when none is pinned.
const DefaultSalesforceAPIVersion = "v62.0"

// providerQuotas are each CRM's documented entry-level allowance, used for what the file
// leaves out: HubSpot Free/Starter; Pipedrive Lite (API token; OAuth apps get four times the
// burst) with its daily token budget for one seat; Salesforce Enterprise's base rolling-24 h
// allocation; Zoho Standard's credits and concurrency.
var providerQuotas = map[string]Quota{
	"hubspot":    {RequestsPerWindow: 100, Window: Duration(10 * time.Second), Daily: 250_000, SearchPerSecond: 5},
	"pipedrive":  {RequestsPerWindow: 20, Window: Duration(2 * time.Second), Daily: 30_000, SearchPerSecond: 5},
	"salesforce": {Daily: 100_000, SearchPerSecond: 5},
	"zoho":       {Concurrency: 10, Daily: 50_000, SearchPerSecond: 5},
}

// applyDefaults fills what the file leaves out from the provider's documented allowance.
func (q *Quota) applyDefaults(provider string, oauth bool) {
	def, ok := providerQuotas[provider]
	if !ok {
		def = providerQuotas["hubspot"]
	}
	if provider == "pipedrive" && oauth {
		def.RequestsPerWindow *= 4
	}
	if q.RequestsPer10s > 0 && q.RequestsPerWindow == 0 {
		q.RequestsPerWindow, q.Window = q.RequestsPer10s, Duration(10*time.Second)
	}
	if q.RequestsPerWindow == 0 && q.Window == 0 {
		q.RequestsPerWindow, q.Window = def.RequestsPerWindow, def.Window
	}
	if q.RequestsPerWindow > 0 && q.Window == 0 {
		q.Window = DefaultWindow
	}
	if q.Window == Duration(10*time.Second) {
		q.RequestsPer10s = q.RequestsPerWindow
	}
	if q.Concurrency == 0 {
		q.Concurrency = def.Concurrency
	}
	if q.Daily == 0 {
		q.Daily = def.Daily
	}
	if q.SearchPerSecond == 0 {
		q.SearchPerSecond = def.SearchPerSecond
	}
}

// WindowCalls is how many calls the rolling window allows (0: the CRM has no short
// window). Quotas built in code rather than loaded may set only RequestsPer10s.
func (q Quota) WindowCalls() int {
	if q.RequestsPerWindow > 0 {
		return q.RequestsPerWindow
	}
	return q.RequestsPer10s
}

// String puts the quota in words for people: its window, calls in flight and daily
// allowance ("100 requests / 10s, 250000 a day").
func (q Quota) String() string {
	var parts []string
	if n := q.WindowCalls(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d requests / %s", n, q.WindowLength()))
	}
	if q.Concurrency > 0 {
		parts = append(parts, fmt.Sprintf("%d in flight", q.Concurrency))
	}
	if q.Daily > 0 {
		parts = append(parts, fmt.Sprintf("%d a day", q.Daily))
	}
	return strings.Join(parts, ", ")
}

// WindowLength is the rolling window's length.
func (q Quota) WindowLength() time.Duration {
	if q.Window > 0 {
		return q.Window.D()
	}
	return DefaultWindow.D()
}

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads and validates a configuration document. Unknown fields are errors: a
// misspelt quota would otherwise silently fall back to the default.
func Parse(r io.Reader) (*Config, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("integrations: the file is empty; at least one integration is required")
		}
		return nil, fmt.Errorf("parsing: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	for i := range c.Integrations {
		in := &c.Integrations[i]
		if in.BaseURL == "" {
			in.BaseURL = defaultBaseURLs[in.Provider]
		}
		in.Quota.applyDefaults(in.Provider, in.OAuth != nil)
		if in.OAuth != nil && in.OAuth.TokenURL == "" {
			in.OAuth.TokenURL = defaultTokenURLs[in.Provider]
		}
		if in.APIVersion == "" && in.Provider == "salesforce" {
			in.APIVersion = DefaultSalesforceAPIVersion
		}
		if in.Quota.DailyReserve == nil {
			r := Share(DefaultDailyReserve)
			in.Quota.DailyReserve = &r
		}
		if in.Delta.Interval == 0 {
			in.Delta.Interval = DefaultDeltaInterval
		}
		if in.Backfill.BulkAbove == 0 {
			in.Backfill.BulkAbove = DefaultBulkAbove
		}
		if in.Delta.Lag == 0 {
			in.Delta.Lag = DefaultDeltaLag
		}
		if in.Delta.DeletesEvery == nil {
			d := DefaultDeletesEvery
			in.Delta.DeletesEvery = &d
		}
		if in.Webhooks != nil && in.Webhooks.FlushAfter == 0 {
			in.Webhooks.FlushAfter = Duration(DefaultFlushAfter)
		}
		if in.Writes != nil && in.Writes.MaxRecordBytes == 0 {
			in.Writes.MaxRecordBytes = DefaultMaxRecordBytes
		}
	}
}

var (
	idPattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$`)
	envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks every field and reports all problems at once, each prefixed with the
// field's path (integrations[0].quota.daily: ...).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Integrations) == 0 {
		bad("integrations", "at least one integration is required")
	}
	seen := map[string]int{}
	portals := map[int64]int{}
	for i, in := range c.Integrations {
		p := fmt.Sprintf("integrations[%d]", i)
		switch {
		case in.ID == "":
			bad(p+".id", "is required")
		case !idPattern.MatchString(in.ID):
			bad(p+".id", "%q must be 1-48 lower-case letters, digits or dashes, not starting or ending with a dash", in.ID)
		default:
			if j, dup := seen[in.ID]; dup {
				bad(p+".id", "%q is already used by integrations[%d]", in.ID, j)
			}
			seen[in.ID] = i
		}
		switch {
		case in.Provider == "":
			bad(p+".provider", "is required (%s)", strings.Join(Providers, ", "))
		case !slices.Contains(Providers, in.Provider):
			bad(p+".provider", "unknown provider %q; supported: %s", in.Provider, strings.Join(Providers, ", "))
		case in.Provider == "salesforce" && in.BaseURL == "":
			bad(p+".base_url", "is required for salesforce: the org's instance URL, e.g. https://acme.my.salesforce.com")
		}
		if in.BaseURL != "" && !strings.HasPrefix(in.BaseURL, "https://") && !strings.HasPrefix(in.BaseURL, "http://") {
			bad(p+".base_url", "%q must start with https:// (or http:// for a local simulator)", in.BaseURL)
		}
		switch {
		case in.CredentialEnv == "" && in.OAuth == nil:
			bad(p+".credential_env", "is required (the name of the environment variable that holds the token), or set oauth")
		case in.CredentialEnv != "" && in.OAuth != nil:
			bad(p+".credential_env", "set either credential_env or oauth, not both")
		case in.CredentialEnv != "" && !envPattern.MatchString(in.CredentialEnv):
			bad(p+".credential_env", "%q is not an environment variable name (it should name the variable, not hold the token)", shorten(in.CredentialEnv))
		case in.OAuth != nil && in.Provider == "hubspot":
			bad(p+".oauth", "hubspot takes a private-app token: set credential_env instead")
		case in.CredentialEnv != "" && in.Provider == "zoho":
			bad(p+".credential_env", "zoho has no long-lived API tokens: set oauth (client_id_env, client_secret_env, refresh_token_env)")
		}
		if o := in.OAuth; o != nil {
			for _, f := range []struct{ name, value string }{
				{"client_id_env", o.ClientIDEnv}, {"client_secret_env", o.ClientSecretEnv}, {"refresh_token_env", o.RefreshTokenEnv},
			} {
				switch {
				case f.value == "":
					bad(p+".oauth."+f.name, "is required: the name of the environment variable that holds it")
				case !envPattern.MatchString(f.value):
					bad(p+".oauth."+f.name, "%q is not an environment variable name (it should name the variable, not hold the secret)", shorten(f.value))
				}
			}
			if !strings.HasPrefix(o.TokenURL, "https://") && !strings.HasPrefix(o.TokenURL, "http://") {
				bad(p+".oauth.token_url", "%q must start with https:// (or http:// for a local simulator)", o.TokenURL)
			}
		}
		if len(in.Objects) == 0 {
			bad(p+".objects", "at least one of contacts, companies, deals is required")
		}
		seenObj := map[crm.Object]bool{}
		for j, o := range in.Objects {
			if _, err := crm.ParseObject(string(o)); err != nil {
				bad(fmt.Sprintf("%s.objects[%d]", p, j), "%v", err)
			} else if seenObj[o] {
				bad(fmt.Sprintf("%s.objects[%d]", p, j), "%s is listed twice", o)
			}
			seenObj[o] = true
		}
		for o, props := range in.Properties {
			if !seenObj[o] {
				bad(fmt.Sprintf("%s.properties.%s", p, o), "is not one of this integration's objects")
			}
			if len(props) == 0 {
				bad(fmt.Sprintf("%s.properties.%s", p, o), "is empty; leave it out to sync every property")
			}
		}
		if in.Quota.RequestsPer10s < 0 {
			bad(p+".quota.requests_per_10s", "must be positive, got %d", in.Quota.RequestsPer10s)
		}
		if in.Quota.RequestsPerWindow < 0 {
			bad(p+".quota.requests_per_window", "must be positive, got %d", in.Quota.RequestsPerWindow)
		}
		if w := in.Quota.Window.D(); w < 0 || w > time.Hour {
			bad(p+".quota.window", "must be between 1s and 1h, got %s", w)
		}
		if in.Quota.Concurrency < 0 {
			bad(p+".quota.concurrency", "must be positive, got %d", in.Quota.Concurrency)
		}
		if in.Quota.Daily < 0 {
			bad(p+".quota.daily", "must be positive, got %d", in.Quota.Daily)
		}
		if r := in.Quota.DailyReserve; r != nil && (*r < 0 || *r >= 1 || math.IsNaN(float64(*r))) {
			bad(p+".quota.daily_reserve", "must be a share of the daily allowance from 0 to below 1 (0.1 = 10%%), got %v", *r)
		}
		if in.Quota.SearchPerSecond < 0 {
			bad(p+".quota.search_per_second", "must be positive, got %d", in.Quota.SearchPerSecond)
		}
		if d := in.Delta.Interval.D(); d < minDeltaInterval {
			bad(p+".delta.interval", "%s is too short; at least %s", d, minDeltaInterval)
		}
		if in.Delta.Lag < 0 {
			bad(p+".delta.lag", "must not be negative")
		}
		if in.Delta.DeletesEvery != nil && *in.Delta.DeletesEvery < 0 {
			bad(p+".delta.deletes_every", "must not be negative")
		}
		if in.Backfill.BulkAbove < -1 {
			bad(p+".backfill.bulk_above", "must be a record count, or -1 for never, got %d", in.Backfill.BulkAbove)
		}
		if in.Backfill.Lanes < 0 || in.Backfill.Lanes > 64 {
			bad(p+".backfill.lanes", "must be between 1 and 64 (or left out for automatic), got %d", in.Backfill.Lanes)
		}
		if w := in.Webhooks; w != nil {
			if w.PortalID <= 0 {
				bad(p+".webhooks.portal_id", "is required: the CRM account id whose events this integration takes")
			} else if j, dup := portals[w.PortalID]; dup {
				bad(p+".webhooks.portal_id", "%d is already taken by integrations[%d]", w.PortalID, j)
			} else {
				portals[w.PortalID] = i
			}
			switch {
			case w.SecretEnv == "":
				bad(p+".webhooks.secret_env", "is required: the name of the environment variable that holds the signing secret")
			case !envPattern.MatchString(w.SecretEnv):
				bad(p+".webhooks.secret_env", "%q is not an environment variable name (it should name the variable, not hold the secret)", shorten(w.SecretEnv))
			}
			if w.FlushAfter < 0 || w.FlushAfter.D() > time.Minute {
				bad(p+".webhooks.flush_after", "must be between 0s and 1m, got %s", w.FlushAfter.D())
			}
		}
		if w := in.Writes; w != nil {
			if in.Provider != "hubspot" {
				bad(p+".writes", "the write queue speaks HubSpot's batch endpoints only so far; %s is not supported", in.Provider)
			}
			if len(w.Objects) == 0 {
				bad(p+".writes.objects", "name at least one object that takes writes, e.g. contacts: {id_property: email}")
			}
			for o, wo := range w.Objects {
				if _, err := crm.ParseObject(string(o)); err != nil {
					bad(fmt.Sprintf("%s.writes.objects.%s", p, o), "%v", err)
				} else if !seenObj[o] {
					// Written records come back through the syncs: that is what keeps
					// PostgreSQL equal to the CRM after a write.
					bad(fmt.Sprintf("%s.writes.objects.%s", p, o), "is not one of this integration's objects; sync it too")
				}
				if wo.IDProperty != "" && !propertyPattern.MatchString(wo.IDProperty) {
					bad(fmt.Sprintf("%s.writes.objects.%s.id_property", p, o), "%q is not a property name", wo.IDProperty)
				}
			}
			if w.MaxRecordBytes < 0 || w.MaxRecordBytes > 1<<20 {
				bad(p+".writes.max_record_bytes", "must be between 1 and 1048576, got %d", w.MaxRecordBytes)
			}
		}
	}
	if c.Intake != nil {
		names := map[string]bool{}
		for i, app := range c.Intake.Apps {
			p := fmt.Sprintf("intake.apps[%d]", i)
			switch {
			case app.Name == "":
				bad(p+".name", "is required")
			case names[app.Name]:
				bad(p+".name", "%q is used twice", app.Name)
			}
			names[app.Name] = true
			switch {
			case app.TokenEnv == "":
				bad(p+".token_env", "is required: the name of the environment variable that holds the app's bearer token")
			case !envPattern.MatchString(app.TokenEnv):
				bad(p+".token_env", "%q is not an environment variable name (it should name the variable, not hold the token)", shorten(app.TokenEnv))
			}
			for j, id := range app.Integrations {
				if _, ok := seen[id]; !ok {
					bad(fmt.Sprintf("%s.integrations[%d]", p, j), "%q is not a configured integration", id)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// propertyPattern is a CRM property's internal name.
var propertyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// WriteTargets lists the (object, id property) pairs that take writes.
func (in *Integration) WriteTargets() map[crm.Object]WriteObject {
	if in.Writes == nil {
		return nil
	}
	return in.Writes.Objects
}

// shorten keeps a value that may be a pasted secret out of error messages.
func shorten(s string) string {
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return s
}

// Integration returns the integration with the given id.
func (c *Config) Integration(id string) (*Integration, error) {
	for i := range c.Integrations {
		if c.Integrations[i].ID == id {
			return &c.Integrations[i], nil
		}
	}
	ids := make([]string, len(c.Integrations))
	for i, in := range c.Integrations {
		ids[i] = in.ID
	}
	return nil, fmt.Errorf("no integration %q in the config (have: %s)", id, strings.Join(ids, ", "))
}

// HasObject reports whether the integration syncs obj.
func (in *Integration) HasObject(obj crm.Object) bool {
	for _, o := range in.Objects {
		if o == obj {
			return true
		}
	}
	return false
}

// Credential reads the integration's token from its environment variable.
func (in *Integration) Credential(getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv(in.CredentialEnv))
	if v == "" {
		return "", fmt.Errorf("integration %s: environment variable %s (credential_env) is not set", in.ID, in.CredentialEnv)
	}
	return v, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/provider"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/temporalclient"
	"github.com/crmsync/crmsync/workflows"
)

// doctorTimeout bounds each check that reaches a server, so an unreachable one is a FAIL
// in seconds rather than a hang.
const doctorTimeout = 10 * time.Second

// errDoctorFailed is the doctor's result when any check failed: exit status 1.
var errDoctorFailed = errors.New("doctor: some checks failed")

// status is a check's verdict.
type status int

const (
	statusOK status = iota
	statusWarn
	statusFail
)

func (s status) String() string {
	switch s {
	case statusWarn:
		return "WARN"
	case statusFail:
		return "FAIL"
	default:
		return "OK"
	}
}

// checkResult is one line of the doctor's report: what was checked, what was found and,
// for a problem, how to fix it.
type checkResult struct {
	Status status
	Name   string
	Found  string
	Fix    string
}

// doctor runs the checks and prints each as it completes. Every line goes through scrub,
// which blanks the values of the secrets the doctor read, so no message can quote one.
type doctor struct {
	out     io.Writer
	getenv  func(string) string
	hc      *http.Client
	log     *zap.Logger
	secrets []string
	results []checkResult
	// width is the check-name column's, wide enough for the longest integration id.
	width int
}

func runDoctor(ctx context.Context, args []string, out io.Writer) error {
	fs := newCommand("doctor", out)
	integration := fs.String("integration", "", "check only this integration (default: every one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := newDoctor(out, os.Getenv)
	d.run(ctx, fs.common.configPath, *integration)
	return d.verdict()
}

func newDoctor(out io.Writer, getenv func(string) string) *doctor {
	return &doctor{out: out, getenv: getenv, hc: &http.Client{Timeout: doctorTimeout}, log: zap.NewNop(), width: len("temporal")}
}

// run performs every check: the environment and config, PostgreSQL, Temporal, then each
// integration's credential, API, quota and schedules.
func (d *doctor) run(ctx context.Context, configPath, only string) {
	e, cfg := d.checkConfig(configPath)
	if e == nil {
		return
	}
	d.secret(e.Temporal.APIKey)
	d.checkPostgres(ctx, e.DatabaseURL)
	tc := d.checkTemporal(ctx, e.Temporal)
	if tc != nil {
		defer tc.Close()
	}
	if cfg == nil {
		return
	}
	for i := range cfg.Integrations {
		in := cfg.Integrations[i]
		if only != "" && in.ID != only {
			continue
		}
		d.checkIntegration(ctx, i, in, tc)
	}
	if only != "" {
		if _, err := cfg.Integration(only); err != nil {
			d.report(checkResult{Status: statusFail, Name: "--integration", Found: err.Error(), Fix: "name one of the config's integrations"})
		}
	}
}

// verdict prints the summary line and returns errDoctorFailed when a check failed.
func (d *doctor) verdict() error {
	var fails, warns int
	for _, r := range d.results {
		switch r.Status {
		case statusFail:
			fails++
		case statusWarn:
			warns++
		}
	}
	fmt.Fprintln(d.out)
	switch {
	case fails == 0 && warns == 0:
		fmt.Fprintf(d.out, "all %d checks passed\n", len(d.results))
	default:
		fmt.Fprintf(d.out, "%d checks: %d failed, %s\n", len(d.results), fails, plural(warns, "warning"))
	}
	if fails > 0 {
		return errDoctorFailed
	}
	return nil
}

// plural is "1 warning", "2 warnings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// secret registers a value that must never be printed.
func (d *doctor) secret(v string) {
	if v = strings.TrimSpace(v); len(v) >= 4 {
		d.secrets = append(d.secrets, v)
	}
}

func (d *doctor) scrub(s string) string {
	for _, v := range d.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// report prints one check.
func (d *doctor) report(r checkResult) {
	r.Found, r.Fix = d.scrub(r.Found), d.scrub(r.Fix)
	d.results = append(d.results, r)
	d.width = max(d.width, len(r.Name))
	fmt.Fprintf(d.out, "%-5s %-*s  %s\n", r.Status, d.width, r.Name, r.Found)
	if r.Fix != "" && r.Status != statusOK {
		fmt.Fprintf(d.out, "%-5s %-*s  fix: %s\n", "", d.width, "", r.Fix)
	}
}

func (d *doctor) checkConfig(path string) (*config.Env, *config.Config) {
	e, err := config.LoadEnv(d.getenv)
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: "environment", Found: err.Error(), Fix: "correct the variable named above"})
		return nil, nil
	}
	if path != "" {
		e.ConfigPath = path
	}
	cfg, err := config.Load(e.ConfigPath)
	if err != nil {
		fix := fmt.Sprintf("correct the fields named above in %s", e.ConfigPath)
		if errors.Is(err, os.ErrNotExist) {
			fix = "set CRMSYNC_CONFIG or --config to the config file (crmsync.example.yaml is a template)"
		}
		d.report(checkResult{Status: statusFail, Name: "config", Found: strings.ReplaceAll(err.Error(), "\n", "; "), Fix: fix})
		return &e, nil
	}
	ids := make([]string, len(cfg.Integrations))
	for i, in := range cfg.Integrations {
		ids[i] = in.ID
		d.width = max(d.width, len(in.ID+": schedule companies"))
	}
	d.report(checkResult{Status: statusOK, Name: "config", Found: fmt.Sprintf("%s: %d integration(s): %s", e.ConfigPath, len(ids), strings.Join(ids, ", "))})
	return &e, cfg
}

func (d *doctor) checkPostgres(ctx context.Context, url string) {
	where := "DATABASE_URL"
	if pc, err := pgconn.ParseConfig(url); err == nil {
		where = fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)
		d.secret(pc.Password)
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	st, err := store.Open(ctx, url)
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: "postgres", Found: err.Error(),
			Fix: "start PostgreSQL, or set DATABASE_URL to where it runs (postgres://user:password@host:5432/db)"})
		return
	}
	defer st.Close()
	have, err := st.SchemaVersion(ctx)
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: "postgres", Found: where + " reachable, but " + err.Error(),
			Fix: "grant the DATABASE_URL user access to the database (the worker creates its tables)"})
		return
	}
	want, err := store.LatestVersion()
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: "postgres", Found: err.Error()})
		return
	}
	switch {
	case have == want:
		d.report(checkResult{Status: statusOK, Name: "postgres", Found: fmt.Sprintf("%s reachable; schema version %d (current)", where, have)})
	case have == 0:
		d.report(checkResult{Status: statusWarn, Name: "postgres", Found: fmt.Sprintf("%s reachable; crmsync's tables do not exist yet (this build's schema is version %d)", where, want),
			Fix: "start the worker once: it applies the migrations at start"})
	case have < want:
		d.report(checkResult{Status: statusWarn, Name: "postgres", Found: fmt.Sprintf("%s reachable; schema version %d, this build's is %d", where, have, want),
			Fix: "start (or restart) the worker of this build: it applies the missing migrations at start"})
	default:
		d.report(checkResult{Status: statusFail, Name: "postgres", Found: fmt.Sprintf("%s reachable; schema version %d is newer than this build's %d", where, have, want),
			Fix: "run the crmsync version that migrated this database, or upgrade this one"})
	}
}

func (d *doctor) checkTemporal(ctx context.Context, t config.Temporal) client.Client {
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	c, err := temporalclient.Dial(ctx, t, d.log)
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: "temporal", Found: err.Error(),
			Fix: "start the Temporal server (temporal server start-dev), or set TEMPORAL_ADDRESS (and TEMPORAL_API_KEY / TEMPORAL_TLS_* for a secured server)"})
		return nil
	}
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.Namespace})
	var nf *serviceerror.NamespaceNotFound
	var nf2 *serviceerror.NotFound
	switch {
	case errors.As(err, &nf) || errors.As(err, &nf2):
		d.report(checkResult{Status: statusFail, Name: "temporal", Found: fmt.Sprintf("%s reachable, but namespace %s does not exist", t.Address, t.Namespace),
			Fix: fmt.Sprintf("create it (temporal operator namespace create --namespace %s) or set TEMPORAL_NAMESPACE", t.Namespace)})
		c.Close()
		return nil
	case err != nil:
		d.report(checkResult{Status: statusFail, Name: "temporal", Found: fmt.Sprintf("%s reachable, but describing namespace %s: %v", t.Address, t.Namespace, err),
			Fix: "check TEMPORAL_NAMESPACE and that the credentials may use it"})
		c.Close()
		return nil
	}
	d.report(checkResult{Status: statusOK, Name: "temporal", Found: fmt.Sprintf("%s reachable; namespace %s exists", t.Address, t.Namespace)})
	return c
}

// checkIntegration checks one integration: its secrets, one cheap authenticated call to
// its CRM, the quota that call reported, and its delta schedules (when Temporal is up).
func (d *doctor) checkIntegration(ctx context.Context, i int, in config.Integration, tc client.Client) {
	field := fmt.Sprintf("integrations[%d]", i)
	for _, name := range in.SecretEnvs() {
		d.secret(d.getenv(name))
	}
	conn := d.checkCredential(ctx, field, in)
	if conn != nil {
		d.checkAPI(ctx, field, in, conn)
	}
	if in.Webhooks != nil {
		if _, err := in.Webhooks.Secret(d.getenv); err != nil {
			d.report(checkResult{Status: statusFail, Name: in.ID + ": webhooks", Found: err.Error(),
				Fix: fmt.Sprintf("set %s to the app's signing secret, or remove %s.webhooks", in.Webhooks.SecretEnv, field)})
		} else {
			d.report(checkResult{Status: statusOK, Name: in.ID + ": webhooks", Found: in.Webhooks.SecretEnv + " is set"})
		}
	}
	if tc != nil {
		d.checkSchedules(ctx, in, tc)
	}
}

// checkCredential reads the integration's secrets and, for OAuth, exchanges the refresh
// token once; it returns the connector, or nil when the credential is unusable.
func (d *doctor) checkCredential(ctx context.Context, field string, in config.Integration) crm.Connector {
	name := in.ID + ": credential"
	cred, err := provider.NewCredential(in, d.getenv, d.hc)
	if err != nil {
		var missing []string
		for _, v := range in.SecretEnvs() {
			if (in.Webhooks == nil || v != in.Webhooks.SecretEnv) && strings.TrimSpace(d.getenv(v)) == "" {
				missing = append(missing, v)
			}
		}
		fix := "set " + strings.Join(missing, ", ")
		if len(missing) == 0 {
			fix = fmt.Sprintf("correct %s.oauth", field)
		}
		d.report(checkResult{Status: statusFail, Name: name, Found: err.Error(), Fix: fix})
		return nil
	}
	found := in.CredentialEnv + " is set"
	if in.OAuth != nil {
		tctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		_, err := cred.Tokens.Token(tctx)
		cancel()
		if err != nil {
			found, fix := explainOAuth(err, in)
			d.report(checkResult{Status: statusFail, Name: name, Found: found, Fix: fix})
			return nil
		}
		found = "the OAuth refresh token was exchanged for an access token at " + hostOf(in.OAuth.TokenURL)
	}
	conn, err := provider.New(in, cred.Tokens, d.hc)
	if err != nil {
		d.report(checkResult{Status: statusFail, Name: name, Found: err.Error(), Fix: fmt.Sprintf("correct %s", field)})
		return nil
	}
	d.report(checkResult{Status: statusOK, Name: name, Found: found})
	return conn
}

// explainOAuth says what a failed refresh-token exchange means.
func explainOAuth(err error, in config.Integration) (found, fix string) {
	var apiErr *crm.APIError
	if !errors.As(err, &apiErr) {
		return "refreshing the OAuth token: " + err.Error(), fmt.Sprintf("check oauth.token_url (%s) and the network", in.OAuth.TokenURL)
	}
	found = "the token endpoint " + hostOf(in.OAuth.TokenURL) + " refused the refresh: " + apiErr.Error()
	switch apiErr.Kind {
	case crm.KindUnauthorized, crm.KindInvalid:
		return found, fmt.Sprintf("the refresh token was revoked or expired, or the client id/secret are wrong: authorize the app again and set %s, %s and %s",
			in.OAuth.RefreshTokenEnv, in.OAuth.ClientIDEnv, in.OAuth.ClientSecretEnv)
	case crm.KindRateLimited:
		return found, fmt.Sprintf("the token endpoint limits refreshes: run the doctor again in %s", apiErr.RetryAfter)
	}
	if apiErr.Status == 0 {
		return "cannot reach the token endpoint: " + apiErr.Error(), fmt.Sprintf("check %s.oauth.token_url (now %s) and the network", in.ID, in.OAuth.TokenURL)
	}
	return found, "the token endpoint is failing; try again later"
}

// checkAPI makes one cheap authenticated call (the property definitions of the first
// object: one request, no records) and explains its answer; then compares the quota the
// CRM reported with the configured one.
func (d *doctor) checkAPI(ctx context.Context, field string, in config.Integration, conn crm.Connector) {
	name := in.ID + ": api"
	base := in.BaseURL
	if base == "" {
		base = "the " + in.Provider + " API"
	}
	obj := in.Objects[0]
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	start := time.Now()
	props, rl, err := conn.Properties(ctx, obj)
	took := time.Since(start).Round(time.Millisecond)
	if err == nil {
		d.report(checkResult{Status: statusOK, Name: name, Found: fmt.Sprintf("%s answered in %s: %d %s properties", base, took, len(props), obj)})
		d.checkQuota(in, field, rl)
		d.checkWidth(ctx, in, conn, obj, props)
		return
	}
	var apiErr *crm.APIError
	if !errors.As(err, &apiErr) {
		// No answer at all: the connection failed or timed out.
		apiErr = &crm.APIError{Kind: crm.KindUnavailable, Err: err}
	}
	r := explainAPI(apiErr, in, field, base)
	r.Name = name
	d.report(r)
	if apiErr.RateLimit.WindowKnown {
		d.checkQuota(in, field, apiErr.RateLimit)
	}
}

// checkWidth says, per object, how many properties the account defines (or the config
// pins) and how many calls a page of records costs with them: a wide account's records
// take more than one request per page where the CRM limits what one request names. It
// reads each other object's property list (one call each).
func (d *doctor) checkWidth(ctx context.Context, in config.Integration, conn crm.Connector, first crm.Object, firstProps []crm.Property) {
	for _, obj := range in.Objects {
		names := in.Properties[obj]
		source := "pinned in the config"
		if len(names) == 0 {
			props := firstProps
			if obj != first {
				var err error
				if props, _, err = conn.Properties(ctx, obj); err != nil {
					d.report(checkResult{Status: statusWarn, Name: in.ID + ": " + string(obj) + " width", Found: "reading the property list: " + err.Error()})
					continue
				}
			}
			for _, p := range props {
				names = append(names, p.Name)
			}
			source = "defined by the account"
		}
		list := crm.PlanPage(conn, crm.Shape{Op: crm.OpList, Object: obj}, names)
		changes := crm.PlanPage(conn, crm.Shape{Op: crm.OpChanges, Object: obj}, names)
		found := fmt.Sprintf("%d properties %s; a page of %d records costs %s (backfill), %s (delta)",
			len(names), source, list.PageSize, plural(list.PerPage, "call"), plural(changes.PerPage, "call"))
		if list.Groups > 1 {
			found += fmt.Sprintf(": the properties are read in %d groups merged by id", list.Groups)
		}
		d.report(checkResult{Status: statusOK, Name: in.ID + ": " + string(obj) + " width", Found: found})
	}
}

// explainAPI says what the CRM's answer to the cheap call means and how to fix it.
func explainAPI(e *crm.APIError, in config.Integration, field, base string) checkResult {
	credFix := "set " + in.CredentialEnv + " to a valid token"
	if in.OAuth != nil {
		credFix = "authorize the app again and set " + in.OAuth.RefreshTokenEnv
	}
	switch {
	case e.Status == 0:
		return checkResult{Status: statusFail, Found: fmt.Sprintf("cannot reach %s: %s", base, noAnswer(e)),
			Fix: fmt.Sprintf("check %s.base_url (leave it out for %s's own API), the network and any proxy", field, in.Provider)}
	case e.Status == http.StatusUnauthorized || (e.Kind == crm.KindUnauthorized && e.Status != http.StatusForbidden):
		return checkResult{Status: statusFail, Found: fmt.Sprintf("the CRM answered %d: the token was revoked, expired or is not this account's (%s)", e.Status, e.Error()),
			Fix: credFix + " (it needs " + scopes(in) + ")"}
	case e.Status == http.StatusForbidden:
		return checkResult{Status: statusFail, Found: fmt.Sprintf("the CRM answered 403: the token lacks a permission (%s)", e.Error()),
			Fix: "grant the token " + scopes(in)}
	case e.Status == http.StatusNotFound:
		return checkResult{Status: statusFail, Found: fmt.Sprintf("the CRM answered 404 for %s: %s is not %s's API root", e.Endpoint, base, in.Provider),
			Fix: fmt.Sprintf("correct %s.base_url (no path; leave it out for the CRM's default)%s", field, apiVersionHint(in))}
	case e.Kind == crm.KindRateLimited:
		wait := "it gave no wait"
		if e.RetryAfter > 0 {
			wait = "it asked to wait " + e.RetryAfter.String()
		}
		return checkResult{Status: statusWarn, Found: fmt.Sprintf("the CRM answered %d (%s): the quota is spent right now; %s", e.Status, e.Policy, wait),
			Fix: "nothing, if a sync is running; otherwise another app shares the quota: lower quota.daily_reserve's share or the other app's use"}
	case e.Kind == crm.KindUnavailable || e.Status >= 500:
		return checkResult{Status: statusWarn, Found: fmt.Sprintf("the CRM answered %d: it is failing on its side (%s)", e.Status, e.Error()),
			Fix: "try again later; check the CRM's status page"}
	default:
		return checkResult{Status: statusFail, Found: fmt.Sprintf("the CRM answered %d: %s", e.Status, e.Error()),
			Fix: fmt.Sprintf("check %s.base_url and %s.provider", field, field)}
	}
}

// noAnswer describes a call that got no response: the network error alone.
func noAnswer(e *crm.APIError) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Error()
}

// scopes names what the integration's credential must be allowed to read.
func scopes(in config.Integration) string {
	var s []string
	switch in.Provider {
	case "hubspot":
		for _, o := range in.Objects {
			s = append(s, "crm.objects."+string(o)+".read", "crm.schemas."+string(o)+".read")
		}
		s = append(s, "crm.objects.owners.read")
		return "the scopes " + strings.Join(s, ", ")
	case "zoho":
		for _, o := range in.Objects {
			s = append(s, "ZohoCRM.modules."+map[crm.Object]string{crm.Contacts: "contacts", crm.Companies: "accounts", crm.Deals: "deals"}[o]+".READ")
		}
		s = append(s, "ZohoCRM.settings.fields.READ", "ZohoCRM.users.READ")
		return "the scopes " + strings.Join(s, ", ")
	case "salesforce":
		return "the API Enabled permission and read access to Contact, Account and Opportunity"
	case "pipedrive":
		return "read access to persons, organizations and deals (OAuth scopes contacts:read, deals:read)"
	}
	return "read access to the synced objects"
}

func apiVersionHint(in config.Integration) string {
	if in.Provider == "salesforce" {
		return fmt.Sprintf("; the org's instance URL, and an api_version it offers (now %s)", in.APIVersion)
	}
	return ""
}

// checkQuota compares the rate limit the CRM reported with the configured quota.
func (d *doctor) checkQuota(in config.Integration, field string, rl crm.RateLimit) {
	name := in.ID + ": quota"
	cfgCalls, cfgWindow := in.Quota.WindowCalls(), in.Quota.WindowLength()
	configured := fmt.Sprintf("%d calls per %s", cfgCalls, cfgWindow)
	if !rl.WindowKnown {
		found := "the CRM reported no rate-limit window on this call"
		if cfgCalls > 0 {
			found += "; the config says " + configured
		}
		d.report(checkResult{Status: statusOK, Name: name, Found: found})
	} else {
		window := rl.Interval
		if window <= 0 {
			window = cfgWindow
		}
		crmSays := fmt.Sprintf("%d calls per %s", rl.Max, window)
		crmRate := float64(rl.Max) / window.Seconds()
		cfgRate := float64(cfgCalls) / cfgWindow.Seconds()
		set := fmt.Sprintf("set %s.quota.requests_per_window: %d and quota.window: %s", field, rl.Max, window)
		if window == 10*time.Second {
			set = fmt.Sprintf("set %s.quota.requests_per_10s: %d", field, rl.Max)
		}
		switch {
		case cfgCalls == 0:
			d.report(checkResult{Status: statusWarn, Name: name, Found: "the CRM says " + crmSays + "; the config sets no window",
				Fix: set})
		case cfgRate > crmRate*1.001:
			d.report(checkResult{Status: statusFail, Name: name, Found: fmt.Sprintf("the CRM says %s, the config %s: syncs would run into 429s", crmSays, configured),
				Fix: set})
		case cfgRate < crmRate*0.999:
			d.report(checkResult{Status: statusWarn, Name: name, Found: fmt.Sprintf("the CRM says %s, the config %s: syncs use %.0f%% of what the CRM allows", crmSays, configured, 100*cfgRate/crmRate),
				Fix: set + " (unless other apps share this quota)"})
		default:
			d.report(checkResult{Status: statusOK, Name: name, Found: fmt.Sprintf("the CRM says %s, as configured; %d left in this window", crmSays, rl.Remaining)})
		}
	}
	if rl.DailyKnown && rl.DailyMax > 0 && in.Quota.Daily > rl.DailyMax {
		d.report(checkResult{Status: statusWarn, Name: in.ID + ": daily quota", Found: fmt.Sprintf("the CRM allows %d calls a day, the config says %d", rl.DailyMax, in.Quota.Daily),
			Fix: fmt.Sprintf("set %s.quota.daily: %d", field, rl.DailyMax)})
	}
}

// checkSchedules checks that each object's delta schedule exists, runs and fires at the
// configured interval.
func (d *doctor) checkSchedules(ctx context.Context, in config.Integration, tc client.Client) {
	for _, obj := range in.Objects {
		id := workflows.ScheduleID(in.ID, obj)
		name := fmt.Sprintf("%s: schedule %s", in.ID, obj)
		sctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		desc, err := tc.ScheduleClient().GetHandle(sctx, id).Describe(sctx)
		cancel()
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			d.report(checkResult{Status: statusFail, Name: name, Found: "no schedule " + id + ": delta syncs of " + string(obj) + " never run",
				Fix: "run `starter schedule apply`"})
			continue
		case err != nil:
			d.report(checkResult{Status: statusFail, Name: name, Found: fmt.Sprintf("describing schedule %s: %v", id, err)})
			continue
		}
		var every time.Duration
		if desc.Schedule.Spec != nil && len(desc.Schedule.Spec.Intervals) > 0 {
			every = desc.Schedule.Spec.Intervals[0].Every
		}
		switch {
		case desc.Schedule.State != nil && desc.Schedule.State.Paused:
			note := ""
			if n := desc.Schedule.State.Note; n != "" {
				note = fmt.Sprintf(" (note: %q)", n)
			}
			d.report(checkResult{Status: statusWarn, Name: name, Found: id + " is paused" + note,
				Fix: fmt.Sprintf("unpause it: temporal schedule toggle --schedule-id %s --unpause", id)})
		case every != in.Delta.Interval.D():
			d.report(checkResult{Status: statusWarn, Name: name, Found: fmt.Sprintf("%s fires every %s, the config says %s", id, every, in.Delta.Interval.D()),
				Fix: "run `starter schedule apply`"})
		default:
			next := ""
			if n := desc.Info.NextActionTimes; len(n) > 0 {
				next = ", next in " + time.Until(n[0]).Round(time.Second).String()
			}
			d.report(checkResult{Status: statusOK, Name: name, Found: fmt.Sprintf("%s every %s%s", id, every, next)})
		}
	}
}

// hostOf is a URL's scheme and host, without path or query.
func hostOf(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// Package salesforce is crmsync's connector for Salesforce's REST API at a pinned version:
// SOQL query pages (nextRecordsUrl) for backfills, a (SystemModstamp, Id) keyset for deltas,
// queryAll for deleted records, sObject Collections for batch reads, the User and
// OpportunityStage queries and describe for reference data, the limits resource for the
// daily allocation, Bulk API 2.0 query jobs with streamed CSV results for large backfills,
// and the OAuth refresh-token grant for access tokens.
//
// Salesforce meters calls per org in a rolling 24-hour allocation and refuses calls past
// it with 403 REQUEST_LIMIT_EXCEEDED, not 429; the client reports that as
// crm.KindRateLimited with crm.PolicyDaily and the usage from the Sforce-Limit-Info header.
package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// DefaultAPIVersion is the REST API version the client pins unless told otherwise.
const DefaultAPIVersion = "v62.0"

// Page and batch sizes Salesforce allows.
const (
	// MaxPageSize is the largest query batch (Sforce-Query-Options: batchSize), and the
	// default; MinPageSize the smallest Salesforce honours.
	MaxPageSize = 2000
	MinPageSize = 200
	// retrieveLimit is the most ids one sObject Collections retrieve takes by POST: "The
	// request retrieves up to 2,000 records of the same object type" (REST API Developer
	// Guide, resources_composite_sobjects_collections_retrieve_post). By POST the ids and
	// the fields travel in the body, so no record's width can make the URI too long.
	retrieveLimit = 2000
	// archivedReadLimit is the most ids a read of deleted records takes: a queryAll on the
	// ids, which must come back in one batch, and 200 is the smallest batch Salesforce
	// sends.
	archivedReadLimit = MinPageSize
)

// queryURIBudget is the longest query GET the client sends; a longer SOQL statement (a wide
// object's every field) goes in the body of a Composite API request instead, which is one
// call all the same. Salesforce caps URI plus headers at 16,384 bytes (414 past it for the
// URI, 431 for both) and recommends keeping the URI under 2,000 characters (Salesforce
// Help article 000386264, which names the Composite subrequest as the way to send longer
// SOQL). A 414 or 431 halves the budget.
const queryURIBudget = 2000

// Options configures a Client.
type Options struct {
	// BaseURL is the org's instance URL (the token response's instance_url), e.g.
	// https://mydomain.my.salesforce.com; required, since every org has its own.
	BaseURL string
	// Tokens supplies the access token sent as a Bearer token (an oauth.Refresher, or a
	// crm.StaticToken for a session id that is refreshed elsewhere).
	Tokens crm.TokenSource
	// HTTPClient defaults to a client with a two-minute timeout: a SOQL page of 2,000 wide
	// records can take tens of seconds.
	HTTPClient *http.Client
	// UserAgent defaults to "crmsync".
	UserAgent string
	// APIVersion is the pinned REST API version, "v62.0" by default.
	APIVersion string
	// PageSize is the query batch size asked of Salesforce (200 to 2,000, default 2,000)
	// and the LIMIT of a delta page. Salesforce may return smaller batches.
	PageSize int
}

// Client is one Salesforce org reached through its REST API. It is safe for concurrent use.
type Client struct {
	baseURL   string
	tokens    crm.TokenSource
	http      *http.Client
	userAgent string
	version   string
	pageSize  int
	now       func() time.Time
	// queryBudget is the longest query GET sent (queryURIBudget, lowered by each 414 or
	// 431); longer queries go through the Composite API.
	queryBudget *crm.URIBudget
}

var (
	_ crm.Connector       = (*Client)(nil)
	_ crm.UsageReader     = (*Client)(nil)
	_ crm.BulkReader      = (*Client)(nil)
	_ crm.PropertyLimiter = (*Client)(nil)
)

// FitProperties says every property fits one request: a query too long for a GET goes in
// a Composite API body (up to SOQL's 100,000 characters), and a read by id sends its
// fields in a POST body. After a 414 or 431 the client sends the same request another way,
// so the reader may send it again as it was.
func (c *Client) FitProperties(_ crm.Shape, props []string) int { return len(props) }

var versionPattern = regexp.MustCompile(`^v[0-9]{2}\.[0-9]$`)

// New returns a Client; it makes no request.
func New(opts Options) (*Client, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	u, err := url.Parse(base)
	if base == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("salesforce instance URL %q: want an http:// or https:// URL with a host and no path", opts.BaseURL)
	}
	if opts.Tokens == nil {
		return nil, fmt.Errorf("salesforce: no token source")
	}
	version := opts.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	if !versionPattern.MatchString(version) {
		return nil, fmt.Errorf("salesforce API version %q: want the form v62.0", opts.APIVersion)
	}
	size := opts.PageSize
	if size == 0 {
		size = MaxPageSize
	}
	if size < MinPageSize || size > MaxPageSize {
		return nil, fmt.Errorf("salesforce page size %d: want %d to %d", opts.PageSize, MinPageSize, MaxPageSize)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "crmsync"
	}
	c := &Client{baseURL: base, tokens: opts.Tokens, http: hc, userAgent: ua, version: version,
		pageSize: size, now: time.Now, queryBudget: crm.NewURIBudget(queryURIBudget)}
	return c, nil
}

// Provider names the CRM.
func (c *Client) Provider() string { return "salesforce" }

// PageSize is the query batch size asked for; Salesforce may send smaller batches.
func (c *Client) PageSize() int { return c.pageSize }

// BatchSize is the sObject Collections retrieve's largest input.
func (c *Client) BatchSize() int { return retrieveLimit }

// SObject is the Salesforce object type crmsync reads for obj.
func SObject(obj crm.Object) (string, error) {
	switch obj {
	case crm.Contacts:
		return "Contact", nil
	case crm.Companies:
		return "Account", nil
	case crm.Deals:
		return "Opportunity", nil
	}
	return "", fmt.Errorf("salesforce: unsupported object type %q", obj)
}

func (c *Client) dataPath(resource string) string {
	return "/services/data/" + c.version + "/" + resource
}

// fieldName is what a field or object name may look like: letters, digits and
// underscores (custom fields end in __c). Anything else could change the SOQL's meaning.
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// selectList returns props plus the fields a read needs, each once (SOQL refuses a field
// selected twice, whatever its case).
func selectList(props []string, need ...string) ([]string, error) {
	out := make([]string, 0, len(props)+len(need))
	seen := map[string]bool{}
	for _, p := range append(append([]string{}, need...), props...) {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !fieldName.MatchString(p) {
			return nil, fmt.Errorf("salesforce: %q is not a field name", crm.Truncate(crm.Printable(p), 60))
		}
		if k := strings.ToLower(p); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// recordID is what a record id may look like in a SOQL literal or a URL.
var recordID = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

// quoteID renders a record id as a SOQL string literal.
func quoteID(id string) (string, error) {
	if !recordID.MatchString(id) {
		return "", fmt.Errorf("salesforce: %q is not a record id", crm.Truncate(crm.Printable(id), 40))
	}
	return "'" + id + "'", nil
}

// soqlTime renders an instant as a SOQL dateTime literal: unquoted ISO-8601 in UTC.
func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// queryResult is Salesforce's QueryResult.
type queryResult struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// continuation validates a continuation token (a nextRecordsUrl path) before following it,
// so that a token can never send the credential anywhere but the org's data API.
// locatorChar reports whether c can appear in a query locator's path.
func locatorChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '-' || c == '_'
}

func continuation(token string) error {
	if !strings.HasPrefix(token, "/services/data/v") || strings.Contains(token, "..") || strings.Contains(token, "//") {
		return fmt.Errorf("salesforce: continuation token is not a /services/data/ path")
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !locatorChar(c) {
			return fmt.Errorf("salesforce: continuation token holds a character a query locator path has not")
		}
	}
	return nil
}

// query runs one SOQL request: a new query (soql set) or the next page of one (token).
func (c *Client) query(ctx context.Context, all bool, soql, token string) (queryResult, string, crm.RateLimit, error) {
	resource := "query"
	if all {
		resource = "queryAll"
	}
	rq := request{method: http.MethodGet, header: map[string]string{"Sforce-Query-Options": "batchSize=" + strconv.Itoa(c.pageSize)}}
	if token == "" && len(soql) > maxSOQL {
		return queryResult{}, "GET " + c.dataPath(resource), crm.RateLimit{}, &crm.APIError{Kind: crm.KindInvalid,
			Endpoint: "GET " + c.dataPath(resource), Category: "QUERY_TOO_LONG",
			Message: fmt.Sprintf("the SOQL statement is %d characters, Salesforce takes at most %d: pin fewer properties with `properties:` in the config", len(soql), maxSOQL)}
	}
	var res queryResult
	var rl crm.RateLimit
	var err error
	switch path := c.dataPath(resource) + "?q=" + url.QueryEscape(soql); {
	case token != "":
		if err := continuation(token); err != nil {
			return queryResult{}, "", crm.RateLimit{}, err
		}
		rq.endpoint = "GET " + c.dataPath(resource) + "/{locator}"
		rq.path = token
		rl, err = c.doJSON(ctx, rq, &res)
	case len(path) > c.queryBudget.Bytes():
		res, rq.endpoint, rl, err = c.compositeQuery(ctx, resource, path, rq.header)
	default:
		rq.endpoint = "GET " + c.dataPath(resource)
		rq.path = path
		rl, err = c.doJSON(ctx, rq, &res)
	}
	if err != nil {
		return queryResult{}, rq.endpoint, rl, err
	}
	if !res.Done && res.NextRecordsURL == "" {
		return queryResult{}, rq.endpoint, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: rq.endpoint, RateLimit: rl,
			Message: "a query page that is not done has no nextRecordsUrl"}
	}
	if res.Done {
		res.NextRecordsURL = ""
	}
	if res.NextRecordsURL != "" {
		if res.NextRecordsURL == token {
			return queryResult{}, rq.endpoint, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: rq.endpoint, RateLimit: rl,
				Message: "nextRecordsUrl repeats the request's locator"}
		}
		if err := continuation(res.NextRecordsURL); err != nil {
			return queryResult{}, rq.endpoint, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: rq.endpoint, RateLimit: rl,
				Message: "nextRecordsUrl is not a query locator path"}
		}
	}
	return res, rq.endpoint, rl, nil
}

// Count reads the number of live records of obj: SELECT COUNT() FROM X, whose answer is
// totalSize alone.
func (c *Client) Count(ctx context.Context, obj crm.Object) (int, crm.RateLimit, error) {
	so, err := SObject(obj)
	if err != nil {
		return 0, crm.RateLimit{}, err
	}
	res, _, rl, err := c.query(ctx, false, "SELECT COUNT() FROM "+so, "")
	if err != nil {
		return 0, rl, err
	}
	return res.TotalSize, rl, nil
}

// List reads one page of every live record ordered by Id (SOQL query), or of every
// deleted one (queryAll ... WHERE IsDeleted = TRUE). Next is the nextRecordsUrl path; a
// query locator lives 15 minutes after its last use, so a listing is read without long
// pauses.
func (c *Client) List(ctx context.Context, req crm.ListRequest) (crm.Page, error) {
	so, err := SObject(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	soql := ""
	if req.After == "" {
		need := []string{fieldID, fieldCreated, fieldModstamp}
		if req.Archived {
			need = append(need, fieldIsDeleted)
		}
		fields, err := selectList(req.Properties, need...)
		if err != nil {
			return crm.Page{}, err
		}
		soql = "SELECT " + strings.Join(fields, ", ") + " FROM " + so
		if req.Archived {
			soql += " WHERE IsDeleted = TRUE"
		}
		soql += " ORDER BY Id"
	}
	res, endpoint, rl, err := c.query(ctx, req.Archived, soql, req.After)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := recordsFromJSON(endpoint, res.Records, req.Archived)
	if err != nil {
		return crm.Page{RateLimit: rl}, withRateLimit(err, rl)
	}
	return crm.Page{Records: recs, Next: res.NextRecordsURL, RateLimit: rl}, nil
}

// withRateLimit attaches the response's rate-limit signals to a parse error.
func withRateLimit(err error, rl crm.RateLimit) error {
	var ae *crm.APIError
	if errors.As(err, &ae) {
		ae.RateLimit = rl
	}
	return err
}

// BatchRead reads up to 2,000 records by id (200 deleted ones). Live records come from the
// sObject Collections retrieve by POST, which answers null for ids that are not live
// records (those are left out); deleted ones from a queryAll on the ids.
func (c *Client) BatchRead(ctx context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	so, err := SObject(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	endpoint := "POST " + c.dataPath("composite/sobjects/"+so)
	if req.IDProperty != "" {
		// Only HubSpot's batch read takes an idProperty; reading by anything but the CRM's
		// id here would silently return nothing.
		return crm.Page{}, fmt.Errorf("%s: Salesforce reads by record id only, not by %q", endpoint, req.IDProperty)
	}
	if len(req.IDs) == 0 {
		return crm.Page{}, nil
	}
	if len(req.IDs) > retrieveLimit || (req.Archived && len(req.IDs) > archivedReadLimit) {
		return crm.Page{}, fmt.Errorf("%s: %d ids, at most %d per call (%d deleted ones)", endpoint, len(req.IDs), retrieveLimit, archivedReadLimit)
	}
	need := []string{fieldID, fieldCreated, fieldModstamp}
	if req.Archived {
		need = append(need, fieldIsDeleted)
	}
	fields, err := selectList(req.Properties, need...)
	if err != nil {
		return crm.Page{}, err
	}
	quoted := make([]string, len(req.IDs))
	for i, id := range req.IDs {
		if quoted[i], err = quoteID(id); err != nil {
			return crm.Page{}, err
		}
	}
	if req.Archived {
		soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + so + " WHERE Id IN (" +
			strings.Join(quoted, ", ") + ") AND IsDeleted = TRUE ORDER BY Id"
		res, endpoint, rl, err := c.query(ctx, true, soql, "")
		if err != nil {
			return crm.Page{RateLimit: rl}, err
		}
		if res.NextRecordsURL != "" {
			// 200 ids fit the smallest batch Salesforce sends; more pages mean a wrong answer.
			return crm.Page{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
				Message: "a query on at most 200 ids was not done in one page"}
		}
		recs, err := recordsFromJSON(endpoint, res.Records, true)
		if err != nil {
			return crm.Page{RateLimit: rl}, withRateLimit(err, rl)
		}
		return crm.Page{Records: recs, RateLimit: rl}, nil
	}
	var raws []json.RawMessage
	rl, err := c.doJSON(ctx, request{method: http.MethodPost, endpoint: endpoint, path: c.dataPath("composite/sobjects/" + so),
		body: map[string][]string{"ids": req.IDs, "fields": fields}}, &raws)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	live := raws[:0]
	for _, r := range raws {
		if s := strings.TrimSpace(string(r)); s != "null" && s != "" {
			live = append(live, r)
		}
	}
	recs, err := recordsFromJSON(endpoint, live, false)
	if err != nil {
		return crm.Page{RateLimit: rl}, withRateLimit(err, rl)
	}
	return crm.Page{Records: recs, RateLimit: rl}, nil
}

// Owners reads one page of Users (SOQL on User, ordered by Id); after is the previous
// page's nextRecordsUrl. Inactive users are owners too (records keep them), marked
// Archived.
func (c *Client) Owners(ctx context.Context, after string) (crm.OwnerPage, error) {
	soql := "SELECT Id, FirstName, LastName, Email, IsActive, LastModifiedDate FROM User ORDER BY Id"
	if after != "" {
		soql = ""
	}
	res, endpoint, rl, err := c.query(ctx, false, soql, after)
	if err != nil {
		return crm.OwnerPage{RateLimit: rl}, err
	}
	out := make([]crm.Owner, 0, len(res.Records))
	for i, raw := range res.Records {
		var u struct {
			ID               string `json:"Id"`
			FirstName        string `json:"FirstName"`
			LastName         string `json:"LastName"`
			Email            string `json:"Email"`
			IsActive         *bool  `json:"IsActive"`
			LastModifiedDate string `json:"LastModifiedDate"`
		}
		if err := json.Unmarshal(raw, &u); err != nil || u.ID == "" {
			return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
				Category: "MALFORMED_OWNER", Message: fmt.Sprintf("user %d has no Id", i)}
		}
		o := crm.Owner{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			Archived: u.IsActive != nil && !*u.IsActive}
		if u.LastModifiedDate != "" {
			if o.UpdatedAt, err = ParseTime(u.LastModifiedDate); err != nil {
				return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
					Category: "MALFORMED_OWNER", Message: fmt.Sprintf("user %s LastModifiedDate: %v", crm.Truncate(crm.Printable(u.ID), 40), err)}
			}
		}
		out = append(out, o)
	}
	return crm.OwnerPage{Owners: out, Next: res.NextRecordsURL, RateLimit: rl}, nil
}

// StagePipelineID is the id of the one pipeline a Salesforce org has: the values of
// Opportunity.StageName.
const StagePipelineID = "StageName"

// Pipelines reads the Opportunity stages (SOQL on OpportunityStage) as one pipeline whose
// stage ids are the StageName values (MasterLabel). Field names beyond MasterLabel,
// IsClosed and IsWon (IsActive, SortOrder) are UNCONFIRMED against a live org.
func (c *Client) Pipelines(ctx context.Context, obj crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	if obj != crm.Deals {
		return nil, crm.RateLimit{}, fmt.Errorf("salesforce: %s have no pipelines", obj)
	}
	soql := "SELECT Id, MasterLabel, IsActive, IsClosed, IsWon, SortOrder FROM OpportunityStage ORDER BY SortOrder"
	res, endpoint, rl, err := c.query(ctx, false, soql, "")
	if err != nil {
		return nil, rl, err
	}
	if res.NextRecordsURL != "" {
		return nil, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
			Message: "the stage list did not fit one page"}
	}
	p := crm.Pipeline{ID: StagePipelineID, Label: "Opportunity Stages"}
	for i, raw := range res.Records {
		var st struct {
			MasterLabel string          `json:"MasterLabel"`
			IsClosed    bool            `json:"IsClosed"`
			SortOrder   json.RawMessage `json:"SortOrder"`
		}
		if err := json.Unmarshal(raw, &st); err != nil || st.MasterLabel == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
				Category: "MALFORMED_PIPELINE", Message: fmt.Sprintf("stage %d has no MasterLabel", i)}
		}
		order := i
		if n, err := strconv.ParseFloat(string(st.SortOrder), 64); err == nil && n >= 0 && n < 1e6 {
			order = int(n)
		}
		p.Stages = append(p.Stages, crm.Stage{ID: st.MasterLabel, Label: st.MasterLabel, DisplayOrder: order, Closed: st.IsClosed})
	}
	return []crm.Pipeline{p}, rl, nil
}

// Properties reads the object's fields from GET sobjects/{type}/describe. Compound fields
// (address, location) and base64 fields are left out: the Bulk API cannot select them,
// and an address's parts are fields of their own.
func (c *Client) Properties(ctx context.Context, obj crm.Object) ([]crm.Property, crm.RateLimit, error) {
	so, err := SObject(obj)
	if err != nil {
		return nil, crm.RateLimit{}, err
	}
	endpoint := "GET " + c.dataPath("sobjects/"+so+"/describe")
	var resp struct {
		Fields []crm.Property `json:"fields"`
	}
	rl, err := c.doJSON(ctx, request{method: http.MethodGet, endpoint: endpoint, path: c.dataPath("sobjects/" + so + "/describe")}, &resp)
	if err != nil {
		return nil, rl, err
	}
	out := make([]crm.Property, 0, len(resp.Fields))
	for i, f := range resp.Fields {
		if f.Name == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
				Category: "MALFORMED_PROPERTY", Message: fmt.Sprintf("field %d has no name", i)}
		}
		switch strings.ToLower(f.Type) {
		case "address", "location", "base64":
			continue
		}
		out = append(out, f)
	}
	return out, rl, nil
}

// DailyUsage reads GET limits/: the org's DailyApiRequests. The allocation is a rolling
// 24-hour window with no reset instant, so ResetsAt is now plus 24 hours: by then every
// call counted now has left the window, which makes it the latest moment the whole
// allocation is back and never too early. Room for some calls usually returns sooner, as
// the oldest calls age out.
func (c *Client) DailyUsage(ctx context.Context) (crm.DailyUsage, crm.RateLimit, error) {
	endpoint := "GET " + c.dataPath("limits")
	var resp map[string]json.RawMessage
	rl, err := c.doJSON(ctx, request{method: http.MethodGet, endpoint: endpoint, path: c.dataPath("limits")}, &resp)
	if err != nil {
		return crm.DailyUsage{}, rl, err
	}
	var daily struct {
		Max       *int `json:"Max"`
		Remaining *int `json:"Remaining"`
	}
	if raw, ok := resp["DailyApiRequests"]; !ok || json.Unmarshal(raw, &daily) != nil || daily.Max == nil || daily.Remaining == nil ||
		*daily.Max < 0 || *daily.Remaining < 0 {
		return crm.DailyUsage{}, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
			Category: "MALFORMED_USAGE", Message: "no DailyApiRequests with Max and Remaining"}
	}
	return crm.DailyUsage{Used: max(0, *daily.Max-*daily.Remaining), Limit: *daily.Max, ResetsAt: c.now().Add(24 * time.Hour)}, rl, nil
}

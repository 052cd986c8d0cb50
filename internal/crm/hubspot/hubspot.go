// Package hubspot is crmsync's connector for HubSpot's CRM v3 API: list pages for
// backfills, the search endpoint for deltas (with a (modified, id) keyset that survives
// equal timestamps and the 10,000-result cap), batch reads, archived listings, the owners,
// pipelines and properties reference data, and the v4 API's batch reads of associations.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// DefaultBaseURL is HubSpot's API host.
const DefaultBaseURL = "https://api.hubapi.com"

// Page sizes HubSpot allows.
const (
	listLimit   = 100
	searchLimit = 200
	batchLimit  = 100
	ownersLimit = 100
)

// modeTies is the Changes cursor mode that walks one timestamp in id order: entered when a
// whole search page shares one modification instant, so the timestamp alone cannot move the
// cursor forward.
const modeTies = "ties"

// Options configures a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL; point it at the simulator or a proxy.
	BaseURL string
	// Token is a private-app or OAuth access token, sent as a Bearer token.
	Token string
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// UserAgent defaults to "crmsync".
	UserAgent string
}

// Client is a HubSpot account reached through its API. It is safe for concurrent use.
type Client struct {
	baseURL   string
	basePath  string // the path part of baseURL, which every request URI starts with
	token     string
	http      *http.Client
	userAgent string
	// uriBudget is the longest request URI a list GET is planned with (listURIBudget,
	// lowered by each 414 the front end answers).
	uriBudget *crm.URIBudget
}

var (
	_ crm.Connector       = (*Client)(nil)
	_ crm.PropertyLimiter = (*Client)(nil)
)

// listURIBudget is the longest request URI a list GET is planned with. A GET naming every
// property of a wide portal is refused with a 414 "just around 16.2k characters" (PostHog
// PR #31617); Airbyte's HubSpot source keeps the properties parameter under 15,000 for the
// same reason. Other reports saw the wall near 8 KB (dlt-hub/verified-sources #311,
// airweave-ai/airweave #1064), which is why a 414 lowers the budget rather than ending the
// sync: crmsync must be right whichever front end it meets.
const listURIBudget = 15000

// ChangesBySearch reports that Changes uses the search endpoint, whose own limit (5 a
// second per account) is outside the ten-second window.
func (c *Client) ChangesBySearch() bool { return true }

// New returns a Client; it makes no request.
func New(opts Options) (*Client, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("hubspot base URL %q: want an http:// or https:// URL", opts.BaseURL)
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("hubspot token is empty")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "crmsync"
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("hubspot base URL %q: %w", opts.BaseURL, err)
	}
	return &Client{baseURL: base, basePath: u.EscapedPath(), token: opts.Token, http: hc, userAgent: ua,
		uriBudget: crm.NewURIBudget(listURIBudget)}, nil
}

// FitProperties says how many of props one request can name. Search and batch reads carry
// them in a JSON body, which HubSpot documents no limit for; a list GET carries them in
// its URI, which must stay within the budget.
func (c *Client) FitProperties(s crm.Shape, props []string) int {
	if s.Op != crm.OpList {
		return len(props)
	}
	op, err := objectPath(s.Object)
	if err != nil {
		return len(props) // List will refuse the object itself
	}
	n := len(c.basePath) + len("/crm/v3/objects/"+op+"?") + len(listQuery(s.After, s.Archived)) + len("&properties=")
	budget := c.uriBudget.Bytes()
	for i, p := range props {
		n += len(url.QueryEscape(p))
		if i > 0 {
			n++ // the comma
		}
		if n > budget {
			return i
		}
	}
	return len(props)
}

// listQuery is a list GET's query without its properties.
func listQuery(after string, archived bool) string {
	q := url.Values{"limit": {strconv.Itoa(listLimit)}}
	if after != "" {
		q.Set("after", after)
	}
	if archived {
		q.Set("archived", "true")
	}
	return q.Encode()
}

// propertiesParam renders the properties parameter: names separated by plain commas,
// which a query may hold unescaped (RFC 3986 sub-delims), so each costs one byte of the
// URI, not three.
func propertiesParam(props []string) string {
	var b strings.Builder
	b.WriteString("properties=")
	for i, p := range props {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(p))
	}
	return b.String()
}

// Provider names the CRM.
func (c *Client) Provider() string { return "hubspot" }

// PageSize is the list endpoint's largest page.
func (c *Client) PageSize() int { return listLimit }

// BatchSize is the batch-read endpoint's largest input.
func (c *Client) BatchSize() int { return batchLimit }

// SearchPageSize is the search endpoint's largest page.
func (c *Client) SearchPageSize() int { return searchLimit }

// ModifiedProperty is the property HubSpot keeps each object's last modification in:
// contacts predate the hs_ prefix.
func ModifiedProperty(obj crm.Object) string {
	if obj == crm.Contacts {
		return "lastmodifieddate"
	}
	return "hs_lastmodifieddate"
}

func objectPath(obj crm.Object) (string, error) {
	switch obj {
	case crm.Contacts, crm.Companies, crm.Deals:
		return string(obj), nil
	default:
		return "", fmt.Errorf("hubspot: unsupported object type %q", obj)
	}
}

// object is HubSpot's SimplePublicObject.
type object struct {
	ID         flexID          `json:"id"`
	Properties json.RawMessage `json:"properties"`
	CreatedAt  *time.Time      `json:"createdAt"`
	UpdatedAt  *time.Time      `json:"updatedAt"`
	Archived   bool            `json:"archived"`
	ArchivedAt *time.Time      `json:"archivedAt"`
}

// flexID accepts an id sent as a JSON string or number: HubSpot documents strings, but a
// number must not silently become the empty id.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("record id %s is neither a string nor a number", crm.Truncate(string(b), 40))
	}
	*f = flexID(n.String())
	return nil
}

type paging struct {
	Next *struct {
		After string `json:"after"`
	} `json:"next"`
}

func (p *paging) after() string {
	if p == nil || p.Next == nil {
		return ""
	}
	return p.Next.After
}

type listResponse struct {
	Results []object `json:"results"`
	Paging  *paging  `json:"paging"`
}

// toRecords validates and converts a page. A record without an id or modification time
// cannot be stored or ordered; it fails the whole page rather than being dropped silently.
func toRecords(endpoint string, objs []object) ([]crm.Record, error) {
	out := make([]crm.Record, 0, len(objs))
	for i, o := range objs {
		if o.ID == "" {
			return nil, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
				Message: fmt.Sprintf("result %d has no id", i)}
		}
		if o.UpdatedAt == nil || o.UpdatedAt.IsZero() {
			return nil, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
				Message: fmt.Sprintf("record %s has no updatedAt", o.ID)}
		}
		props := o.Properties
		if len(bytes.TrimSpace(props)) == 0 || bytes.Equal(bytes.TrimSpace(props), []byte("null")) {
			props = json.RawMessage(`{}`)
		} else if bytes.TrimSpace(props)[0] != '{' {
			return nil, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
				Message: fmt.Sprintf("record %s has properties that are not a JSON object", o.ID)}
		}
		r := crm.Record{ID: string(o.ID), UpdatedAt: o.UpdatedAt.UTC(), Archived: o.Archived, Properties: props}
		if o.CreatedAt != nil {
			r.CreatedAt = o.CreatedAt.UTC()
		}
		if o.ArchivedAt != nil {
			r.ArchivedAt = o.ArchivedAt.UTC()
		}
		out = append(out, r)
	}
	return out, nil
}

// List reads one page of GET /crm/v3/objects/{object}.
func (c *Client) List(ctx context.Context, req crm.ListRequest) (crm.Page, error) {
	op, err := objectPath(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	endpoint := "GET /crm/v3/objects/" + op
	path := "/crm/v3/objects/" + op + "?" + listQuery(req.After, req.Archived)
	if len(req.Properties) > 0 {
		path += "&" + propertiesParam(req.Properties)
	}
	var resp listResponse
	_, rl, err := c.do(ctx, http.MethodGet, endpoint, path, nil, nil, &resp)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Results)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	next := resp.Paging.after()
	if next != "" && next == req.After {
		// A cursor that does not move would make the caller read this page forever.
		return crm.Page{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: "paging.next.after repeats the request's after"}
	}
	return crm.Page{Records: recs, Next: next, RateLimit: rl}, nil
}

// BatchRead reads up to 100 records by id with POST /crm/v3/objects/{object}/batch/read,
// or by a unique property's values (req.IDProperty, "email") sent as HubSpot's idProperty.
// HubSpot answers 207 when some ids are missing; those are left out.
func (c *Client) BatchRead(ctx context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	op, err := objectPath(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	endpoint := "POST /crm/v3/objects/" + op + "/batch/read"
	if len(req.IDs) == 0 {
		return crm.Page{}, nil
	}
	if len(req.IDs) > batchLimit {
		return crm.Page{}, fmt.Errorf("%s: %d ids, at most %d per call", endpoint, len(req.IDs), batchLimit)
	}
	type input struct {
		ID string `json:"id"`
	}
	body := struct {
		Properties []string `json:"properties"`
		IDProperty string   `json:"idProperty,omitempty"`
		Inputs     []input  `json:"inputs"`
	}{Properties: req.Properties, IDProperty: req.IDProperty, Inputs: make([]input, len(req.IDs))}
	if body.Properties == nil {
		body.Properties = []string{}
	}
	for i, id := range req.IDs {
		body.Inputs[i] = input{ID: id}
	}
	var resp struct {
		Status  string   `json:"status"`
		Results []object `json:"results"`
		Errors  []struct {
			Category string `json:"category"`
			Message  string `json:"message"`
		} `json:"errors"`
	}
	_, rl, err := c.do(ctx, http.MethodPost, endpoint, "/crm/v3/objects/"+op+"/batch/read",
		map[string]string{"archived": strconv.FormatBool(req.Archived)}, body, &resp, http.StatusOK, http.StatusMultiStatus)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	for _, e := range resp.Errors {
		if e.Category != "OBJECT_NOT_FOUND" {
			return crm.Page{RateLimit: rl}, &crm.APIError{Kind: crm.KindUnavailable, Status: http.StatusMultiStatus,
				Endpoint: endpoint, Category: e.Category, Message: crm.Truncate(e.Message, 300)}
		}
	}
	recs, err := toRecords(endpoint, resp.Results)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	if req.Archived {
		for i := range recs {
			// Asked for archived copies: archived whatever a field says.
			recs[i].Archived = true
		}
	}
	return crm.Page{Records: recs, RateLimit: rl}, nil
}

// Owners reads one page of GET /crm/v3/owners.
func (c *Client) Owners(ctx context.Context, after string) (crm.OwnerPage, error) {
	const endpoint = "GET /crm/v3/owners"
	q := map[string]string{"limit": strconv.Itoa(ownersLimit)}
	if after != "" {
		q["after"] = after
	}
	var resp struct {
		Results []crm.Owner `json:"results"`
		Paging  *paging     `json:"paging"`
	}
	_, rl, err := c.do(ctx, http.MethodGet, endpoint, "/crm/v3/owners", q, nil, &resp)
	if err != nil {
		return crm.OwnerPage{RateLimit: rl}, err
	}
	for i, o := range resp.Results {
		if o.ID == "" {
			return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_OWNER",
				Message: fmt.Sprintf("result %d has no id", i)}
		}
	}
	next := resp.Paging.after()
	if next != "" && next == after {
		// A cursor that does not move would make the caller read this page forever.
		return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: "paging.next.after repeats the request's after"}
	}
	return crm.OwnerPage{Owners: resp.Results, Next: next, RateLimit: rl}, nil
}

// Pipelines reads GET /crm/v3/pipelines/{object}; HubSpot has deal pipelines (and ticket
// pipelines, which crmsync does not sync).
func (c *Client) Pipelines(ctx context.Context, obj crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	if obj != crm.Deals {
		return nil, crm.RateLimit{}, fmt.Errorf("hubspot: %s have no pipelines", obj)
	}
	const endpoint = "GET /crm/v3/pipelines/deals"
	var resp struct {
		Results []struct {
			ID       string `json:"id"`
			Label    string `json:"label"`
			Archived bool   `json:"archived"`
			Stages   []struct {
				ID           string            `json:"id"`
				Label        string            `json:"label"`
				DisplayOrder int               `json:"displayOrder"`
				Metadata     map[string]string `json:"metadata"`
			} `json:"stages"`
		} `json:"results"`
	}
	_, rl, err := c.do(ctx, http.MethodGet, endpoint, "/crm/v3/pipelines/deals", nil, nil, &resp)
	if err != nil {
		return nil, rl, err
	}
	malformed := func(msg string) ([]crm.Pipeline, crm.RateLimit, error) {
		return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_PIPELINE", Message: msg}
	}
	out := make([]crm.Pipeline, 0, len(resp.Results))
	for i, p := range resp.Results {
		if p.ID == "" {
			return malformed(fmt.Sprintf("result %d has no id", i))
		}
		cp := crm.Pipeline{ID: p.ID, Label: p.Label, Archived: p.Archived}
		for j, s := range p.Stages {
			if s.ID == "" {
				return malformed(fmt.Sprintf("pipeline %s stage %d has no id", p.ID, j))
			}
			cp.Stages = append(cp.Stages, crm.Stage{ID: s.ID, Label: s.Label, DisplayOrder: s.DisplayOrder,
				Closed: s.Metadata["isClosed"] == "true"})
		}
		out = append(out, cp)
	}
	return out, rl, nil
}

// Properties reads GET /crm/v3/properties/{object}.
func (c *Client) Properties(ctx context.Context, obj crm.Object) ([]crm.Property, crm.RateLimit, error) {
	op, err := objectPath(obj)
	if err != nil {
		return nil, crm.RateLimit{}, err
	}
	endpoint := "GET /crm/v3/properties/" + op
	var resp struct {
		Results []crm.Property `json:"results"`
	}
	_, rl, err := c.do(ctx, http.MethodGet, endpoint, "/crm/v3/properties/"+op, nil, nil, &resp)
	if err != nil {
		return nil, rl, err
	}
	for i, p := range resp.Results {
		if p.Name == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_PROPERTY",
				Message: fmt.Sprintf("result %d has no name", i)}
		}
	}
	return resp.Results, rl, nil
}

// DailyUsage reads GET /account-info/v3/api-usage/daily/private-apps: the account's calls
// today, its allowance and when it resets (midnight in the account's time zone).
func (c *Client) DailyUsage(ctx context.Context) (crm.DailyUsage, crm.RateLimit, error) {
	const endpoint = "GET /account-info/v3/api-usage/daily/private-apps"
	var resp struct {
		Results []struct {
			Name         string `json:"name"`
			UsageLimit   int    `json:"usageLimit"`
			CurrentUsage int    `json:"currentUsage"`
			ResetsAt     string `json:"resetsAt"`
		} `json:"results"`
	}
	_, rl, err := c.do(ctx, http.MethodGet, endpoint, "/account-info/v3/api-usage/daily/private-apps", nil, nil, &resp)
	if err != nil {
		return crm.DailyUsage{}, rl, err
	}
	for _, r := range resp.Results {
		if r.Name != "private-apps-api-calls-daily" {
			continue
		}
		at, err := time.Parse(time.RFC3339, r.ResetsAt)
		if err != nil {
			return crm.DailyUsage{}, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_USAGE",
				Message: fmt.Sprintf("resetsAt %q is not a time", r.ResetsAt)}
		}
		return crm.DailyUsage{Used: r.CurrentUsage, Limit: r.UsageLimit, ResetsAt: at}, rl, nil
	}
	return crm.DailyUsage{}, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_USAGE",
		Message: "no private-apps-api-calls-daily result"}
}

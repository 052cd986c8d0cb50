// Package zoho is crmsync's connector for Zoho CRM's v8 API: Get Records pages for
// backfills (sorted by id, continued with page_token), Get Records with If-Modified-Since
// for deltas (with a (Modified_Time, id) cursor that walks records sharing one second),
// the recycle bin for deletes, reads by ids, and the users, fields and pipeline metadata.
// Zoho authenticates with "Authorization: Zoho-oauthtoken <access token>" and limits an
// account by API credits per rolling day and by how many calls an app has in flight.
package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// DefaultBaseURL is Zoho's API domain for US accounts; other data centres use
// https://www.zohoapis.eu, .in, .com.au, .jp, .com.cn (the api_domain of the token grant).
const DefaultBaseURL = "https://www.zohoapis.com"

// Limits Zoho documents for Get Records.
const (
	perPage = 200 // records per page, default and maximum
	// maxPageNumber is how far page numbers reach ("page (1-10)"); beyond, only page_token.
	maxPageNumber = 10
	// MaxFields is how many field API names one Get Records call may name.
	MaxFields = 50
	// batchLimit is how many ids one Get Records call may name (its data holds at most 100).
	batchLimit = 100
)

// Fields every read asks for: the cursor orders by Modified_Time, and CreatedAt comes from
// Created_Time.
const (
	fieldModified = "Modified_Time"
	fieldCreated  = "Created_Time"
)

// Options configures a Client.
type Options struct {
	// BaseURL is the account's API domain; default DefaultBaseURL. Point it at the
	// simulator or a proxy.
	BaseURL string
	// Tokens supplies the OAuth access token of each request and hears which ones Zoho
	// rejected. Required.
	Tokens crm.TokenSource
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// UserAgent defaults to "crmsync".
	UserAgent string
	// DealsLayoutID is the Deals layout whose pipelines Pipelines reads: Zoho's pipeline
	// API requires one. Layouts lists them; without it Pipelines fails without a call.
	DealsLayoutID string
}

// Client is a Zoho CRM account reached through its API. It is safe for concurrent use.
type Client struct {
	baseURL   string
	tokens    crm.TokenSource
	http      *http.Client
	userAgent string
	layoutID  string
	// foundLayout is the Deals layout looked up when Options.DealsLayoutID is empty.
	foundLayout atomic.Value
	tokenReset  atomic.Int64 // unix nanoseconds of the last X-ACCESSTOKEN-RESET; 0 when none
}

var (
	_ crm.Connector       = (*Client)(nil)
	_ crm.PropertyLimiter = (*Client)(nil)
)

// New returns a Client; it makes no request.
func New(opts Options) (*Client, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("zoho base URL %q: want an http:// or https:// URL without credentials or query", opts.BaseURL)
	}
	if opts.Tokens == nil {
		return nil, fmt.Errorf("zoho: no token source")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "crmsync"
	}
	return &Client{baseURL: base, tokens: opts.Tokens, http: hc, userAgent: ua, layoutID: opts.DealsLayoutID}, nil
}

// Provider names the CRM.
func (c *Client) Provider() string { return "zoho" }

// PageSize is Get Records' largest page.
func (c *Client) PageSize() int { return perPage }

// BatchSize is how many ids one read by ids may name.
func (c *Client) BatchSize() int { return batchLimit }

// AccessTokenResetsAt is the last X-ACCESSTOKEN-RESET Zoho sent (when the access token in
// use stops working), or the zero time when it sent none.
func (c *Client) AccessTokenResetsAt() time.Time {
	if n := c.tokenReset.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// Module is Zoho's API name for an object type: Contacts, Accounts or Deals.
func Module(obj crm.Object) (string, error) {
	switch obj {
	case crm.Contacts:
		return "Contacts", nil
	case crm.Companies:
		return "Accounts", nil
	case crm.Deals:
		return "Deals", nil
	}
	return "", fmt.Errorf("zoho: unsupported object type %q", obj)
}

// defaultFields are asked for when a request names none, since Zoho requires fields.
func defaultFields(obj crm.Object) []string {
	switch obj {
	case crm.Contacts:
		return []string{"First_Name", "Last_Name", "Email", "Phone", "Account_Name", "Owner"}
	case crm.Companies:
		return []string{"Account_Name", "Website", "Industry", "Phone", "Owner"}
	}
	return []string{"Deal_Name", "Amount", "Stage", "Pipeline", "Closing_Date", "Account_Name", "Contact_Name", "Owner"}
}

// FitProperties says how many of props one request can name: Get Records takes at most 50
// field names ("you can include a maximum of 50 field API names", Get Records docs), two
// of which are the ones every read needs. Reads of deleted records name no fields.
// crm.Reader reads a wider object's records in groups of fields merged by id.
func (c *Client) FitProperties(s crm.Shape, props []string) int {
	if s.Archived {
		return len(props)
	}
	n := 2 // Modified_Time and Created_Time
	seen := map[string]bool{fieldModified: true, fieldCreated: true, "id": true, "": true}
	for i, p := range props {
		p = strings.TrimSpace(p)
		if seen[p] {
			continue
		}
		seen[p] = true
		if n++; n > MaxFields {
			return i
		}
	}
	return len(props)
}

// fieldsParam builds the mandatory fields parameter: the requested names plus the ones
// the connector needs, without duplicates or "id" (always returned). Zoho takes at most
// 50 names and every method makes one call, so more is refused before any request
// (crm.Reader splits wider reads by FitProperties): silently dropping fields would store
// records without them.
func fieldsParam(endpoint string, obj crm.Object, props []string) (string, error) {
	if len(props) == 0 {
		props = defaultFields(obj)
	}
	out := []string{fieldModified, fieldCreated}
	for _, p := range props {
		p = strings.TrimSpace(p)
		if p != "" && p != "id" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) > MaxFields {
		return "", &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "TOO_MANY_FIELDS",
			Message: fmt.Sprintf("%d fields requested (with %s and %s), Zoho returns at most %d per call: pin at most %d properties for %s",
				len(out), fieldModified, fieldCreated, MaxFields, MaxFields-2, obj)}
	}
	return strings.Join(out, ","), nil
}

// info is Get Records' paging information.
type info struct {
	MoreRecords   bool    `json:"more_records"`
	NextPageToken *string `json:"next_page_token"`
	Page          int     `json:"page"`
}

type recordsResponse struct {
	Data []map[string]json.RawMessage `json:"data"`
	Info *info                        `json:"info"`
}

func (i *info) more() bool { return i != nil && i.MoreRecords }

func (i *info) token() string {
	if i == nil || i.NextPageToken == nil {
		return ""
	}
	return *i.NextPageToken
}

func malformed(endpoint, msg string) *crm.APIError {
	return &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD", Message: msg}
}

// toRecords validates and converts a page. A record without an id or Modified_Time cannot
// be stored or ordered; it fails the whole page rather than being dropped silently.
// Properties keep every field as sent except the id and Zoho's "$" metadata keys.
func toRecords(endpoint string, data []map[string]json.RawMessage) ([]crm.Record, error) {
	out := make([]crm.Record, 0, len(data))
	for i, d := range data {
		id, err := flexID(d["id"])
		if err != nil || id == "" {
			return nil, malformed(endpoint, fmt.Sprintf("record %d has no id", i))
		}
		mod, err := timeField(d[fieldModified])
		if err != nil || mod.IsZero() {
			return nil, malformed(endpoint, fmt.Sprintf("record %s has no %s", crm.Truncate(id, 40), fieldModified))
		}
		r := crm.Record{ID: id, UpdatedAt: mod}
		if created, err := timeField(d[fieldCreated]); err == nil {
			r.CreatedAt = created
		}
		props := make(map[string]json.RawMessage, len(d))
		for k, v := range d {
			if k != "id" && !strings.HasPrefix(k, "$") {
				props[k] = v
			}
		}
		if r.Properties, err = json.Marshal(props); err != nil {
			return nil, malformed(endpoint, fmt.Sprintf("record %s: %v", crm.Truncate(id, 40), err))
		}
		out = append(out, r)
	}
	return out, nil
}

// flexID reads an id sent as a JSON string or number: Zoho documents strings, but a
// number must not silently become the empty id.
func flexID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("id %s is neither a string nor a number", crm.Truncate(string(raw), 40))
	}
	return n.String(), nil
}

// timeField reads a date-time field ("2026-01-01T00:00:00+05:30"); null or absent is the
// zero time.
func timeField(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	return ParseTime(s)
}

// ParseTime reads a Zoho date-time: ISO-8601 with an offset.
func ParseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not ISO-8601 with an offset", crm.Truncate(v, 40))
	}
	return t.UTC(), nil
}

// List tokens. Zoho continues a listing with page numbers up to page 10 and with the
// opaque next_page_token beyond; the connector continues with the token whenever Zoho
// sends one (it names a position rather than an offset, so the listing does not shift
// when records are deleted between pages), and with the next page number otherwise.
// Callers see one opaque string: "t.<page_token>" or "p.<page>".
func parseListToken(after string) (page int, token string, err error) {
	switch {
	case after == "":
		return 1, "", nil
	case strings.HasPrefix(after, "t.") && len(after) > 2:
		return 0, after[2:], nil
	case strings.HasPrefix(after, "p."):
		n, err := strconv.Atoi(after[2:])
		if err == nil && n >= 1 {
			return n, "", nil
		}
	}
	return 0, "", fmt.Errorf("zoho: listing token %q is not one this connector issued", crm.Truncate(after, 40))
}

// nextListToken is the continuation after a page read at page (0 with a token).
func nextListToken(endpoint string, in *info, page int) (string, error) {
	if !in.more() {
		return "", nil
	}
	if t := in.token(); t != "" {
		return "t." + t, nil
	}
	if page >= 1 && page < maxPageNumber {
		return "p." + strconv.Itoa(page+1), nil
	}
	return "", &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
		Message: "more_records without a next_page_token past the pages numbers reach"}
}

// List reads one page of GET /crm/v8/{module} sorted by id, or of the recycle bin.
func (c *Client) List(ctx context.Context, req crm.ListRequest) (crm.Page, error) {
	mod, err := Module(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	if req.Archived {
		return c.listDeleted(ctx, mod, req.After)
	}
	endpoint := "GET /crm/v8/" + mod
	fields, err := fieldsParam(endpoint, req.Object, req.Properties)
	if err != nil {
		return crm.Page{}, err
	}
	page, token, err := parseListToken(req.After)
	if err != nil {
		return crm.Page{}, err
	}
	q := url.Values{"fields": {fields}, "sort_by": {"id"}, "sort_order": {"asc"}, "per_page": {strconv.Itoa(perPage)}}
	if token != "" {
		q.Set("page_token", token)
	} else {
		q.Set("page", strconv.Itoa(page))
	}
	var resp recordsResponse
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/"+mod, q, nil, &resp)
	if err != nil || status != http.StatusOK {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	next, err := nextListToken(endpoint, resp.Info, page)
	if err == nil && next != "" && next == req.After {
		err = &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, Message: "next_page_token repeats the request's"}
	}
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	return crm.Page{Records: recs, Next: next, RateLimit: rl}, nil
}

// deletedRecord is the OAS Deleted_Record.
type deletedRecord struct {
	ID          json.RawMessage `json:"id"`
	DeletedTime string          `json:"deleted_time"`
}

type deletedResponse struct {
	Data []deletedRecord `json:"data"`
	Info *info           `json:"info"`
}

// readDeleted reads one page of GET /crm/v8/{module}/deleted?type=all: ids and deletion
// times, no fields.
func (c *Client) readDeleted(ctx context.Context, mod string, page int) ([]crm.Record, *info, crm.RateLimit, error) {
	endpoint := "GET /crm/v8/" + mod + "/deleted"
	q := url.Values{"type": {"all"}, "page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
	var resp deletedResponse
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/"+mod+"/deleted", q, nil, &resp)
	if err != nil || status != http.StatusOK {
		return nil, nil, rl, err
	}
	out := make([]crm.Record, 0, len(resp.Data))
	for i, d := range resp.Data {
		id, err := flexID(d.ID)
		if err != nil || id == "" {
			return nil, nil, rl, malformed(endpoint, fmt.Sprintf("deleted record %d has no id", i))
		}
		at, err := ParseTime(d.DeletedTime)
		if err != nil || at.IsZero() {
			return nil, nil, rl, malformed(endpoint, fmt.Sprintf("deleted record %s has no deleted_time", crm.Truncate(id, 40)))
		}
		out = append(out, crm.Record{ID: id, UpdatedAt: at, Archived: true, ArchivedAt: at, Properties: json.RawMessage(`{}`)})
	}
	return out, resp.Info, rl, nil
}

// listDeleted pages through the recycle bin by page number.
func (c *Client) listDeleted(ctx context.Context, mod, after string) (crm.Page, error) {
	page, token, err := parseListToken(after)
	if err != nil || token != "" {
		return crm.Page{}, fmt.Errorf("zoho: deleted-records token %q is not one this connector issued", crm.Truncate(after, 40))
	}
	recs, in, rl, err := c.readDeleted(ctx, mod, page)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	p := crm.Page{Records: recs, RateLimit: rl}
	if in.more() {
		p.Next = "p." + strconv.Itoa(page+1)
	}
	return p, nil
}

// BatchRead reads up to 100 live records with GET /crm/v8/{module}?ids=...; ids Zoho does
// not have are left out. Deleted records cannot be read by id: with Archived it reads the
// first page of the recycle bin (the most recent deletions, which is where records a
// webhook just reported deleted are) and keeps the requested ids found there.
func (c *Client) BatchRead(ctx context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	mod, err := Module(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	endpoint := "GET /crm/v8/" + mod
	if req.IDProperty != "" {
		// Only HubSpot's batch read takes an idProperty; reading by anything but the CRM's
		// id here would silently return nothing.
		return crm.Page{}, fmt.Errorf("%s: Zoho reads by record id only, not by %q", endpoint, req.IDProperty)
	}
	if len(req.IDs) == 0 {
		return crm.Page{}, nil
	}
	if len(req.IDs) > batchLimit {
		return crm.Page{}, fmt.Errorf("%s: %d ids, at most %d per call", endpoint, len(req.IDs), batchLimit)
	}
	if req.Archived {
		recs, _, rl, err := c.readDeleted(ctx, mod, 1)
		if err != nil {
			return crm.Page{RateLimit: rl}, err
		}
		kept := recs[:0]
		for _, r := range recs {
			if slices.Contains(req.IDs, r.ID) {
				kept = append(kept, r)
			}
		}
		return crm.Page{Records: kept, RateLimit: rl}, nil
	}
	fields, err := fieldsParam(endpoint, req.Object, req.Properties)
	if err != nil {
		return crm.Page{}, err
	}
	q := url.Values{"ids": {strings.Join(req.IDs, ",")}, "fields": {fields}}
	var resp recordsResponse
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/"+mod, q, nil, &resp)
	if err != nil || status != http.StatusOK {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	return crm.Page{Records: recs, RateLimit: rl}, nil
}

// Owners reads one page of GET /crm/v8/users?type=AllUsers; after is the page number.
func (c *Client) Owners(ctx context.Context, after string) (crm.OwnerPage, error) {
	const endpoint = "GET /crm/v8/users"
	page := 1
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 1 {
			return crm.OwnerPage{}, fmt.Errorf("zoho: owners token %q is not one this connector issued", crm.Truncate(after, 40))
		}
		page = n
	}
	q := url.Values{"type": {"AllUsers"}, "page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
	var resp struct {
		Users []struct {
			ID           json.RawMessage `json:"id"`
			Email        string          `json:"email"`
			FirstName    string          `json:"first_name"`
			LastName     string          `json:"last_name"`
			Status       string          `json:"status"`
			ModifiedTime string          `json:"Modified_Time"`
		} `json:"users"`
		Info *info `json:"info"`
	}
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/users", q, nil, &resp)
	if err != nil || status != http.StatusOK {
		return crm.OwnerPage{RateLimit: rl}, err
	}
	out := make([]crm.Owner, 0, len(resp.Users))
	for i, u := range resp.Users {
		id, err := flexID(u.ID)
		if err != nil || id == "" {
			return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint,
				Category: "MALFORMED_OWNER", Message: fmt.Sprintf("user %d has no id", i)}
		}
		o := crm.Owner{ID: id, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			Archived: u.Status != "" && u.Status != "active"}
		if t, err := ParseTime(u.ModifiedTime); err == nil {
			o.UpdatedAt = t
		}
		out = append(out, o)
	}
	p := crm.OwnerPage{Owners: out, RateLimit: rl}
	if resp.Info.more() {
		p.Next = strconv.Itoa(page + 1)
	}
	return p, nil
}

// Layout is one layout of a module.
type Layout struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// dealsLayout is the Deals layout whose pipelines Pipelines reads: Options.DealsLayoutID,
// else the first active layout, looked up once per client. That first Pipelines call makes
// two requests, an exception to the one-request rule that a layout id in the config avoids.
func (c *Client) dealsLayout(ctx context.Context) (string, crm.RateLimit, error) {
	if id := c.layoutID; id != "" {
		return id, crm.RateLimit{}, nil
	}
	if id, ok := c.foundLayout.Load().(string); ok && id != "" {
		return id, crm.RateLimit{}, nil
	}
	layouts, rl, err := c.Layouts(ctx, crm.Deals)
	if err != nil {
		return "", rl, err
	}
	for _, l := range layouts {
		if l.ID != "" && (l.Status == "" || strings.EqualFold(l.Status, "active")) {
			c.foundLayout.Store(l.ID)
			return l.ID, rl, nil
		}
	}
	return "", rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: "GET /crm/v8/settings/layouts", Category: "NO_LAYOUT",
		Message: "Zoho has no active Deals layout, whose pipelines are read"}
}

// Layouts reads GET /crm/v8/settings/layouts?module=...: the Deals layouts are where
// Options.DealsLayoutID comes from.
func (c *Client) Layouts(ctx context.Context, obj crm.Object) ([]Layout, crm.RateLimit, error) {
	mod, err := Module(obj)
	if err != nil {
		return nil, crm.RateLimit{}, err
	}
	const endpoint = "GET /crm/v8/settings/layouts"
	var resp struct {
		Layouts []struct {
			ID     json.RawMessage `json:"id"`
			Name   string          `json:"name"`
			Status string          `json:"status"`
		} `json:"layouts"`
	}
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/settings/layouts", url.Values{"module": {mod}}, nil, &resp)
	if err != nil || status != http.StatusOK {
		return nil, rl, err
	}
	out := make([]Layout, 0, len(resp.Layouts))
	for i, l := range resp.Layouts {
		id, err := flexID(l.ID)
		if err != nil || id == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_LAYOUT",
				Message: fmt.Sprintf("layout %d has no id", i)}
		}
		out = append(out, Layout{ID: id, Name: l.Name, Status: l.Status})
	}
	return out, rl, nil
}

// Pipelines reads GET /crm/v8/settings/pipeline?layout_id=Options.DealsLayoutID. Records
// name their pipeline and stage by actual_value (stage ids are shared across pipelines),
// so that is what Pipeline.ID and Stage.ID hold; a stage is closed unless its
// forecast_type is "Open".
func (c *Client) Pipelines(ctx context.Context, obj crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	const endpoint = "GET /crm/v8/settings/pipeline"
	if obj != crm.Deals {
		return nil, crm.RateLimit{}, fmt.Errorf("zoho: %s have no pipelines", obj)
	}
	layoutID, rl, err := c.dealsLayout(ctx)
	if err != nil {
		return nil, rl, err
	}
	var resp struct {
		Pipeline []struct {
			DisplayValue string `json:"display_value"`
			ActualValue  string `json:"actual_value"`
			Maps         []struct {
				DisplayValue   string `json:"display_value"`
				ActualValue    string `json:"actual_value"`
				SequenceNumber int    `json:"sequence_number"`
				ForecastType   string `json:"forecast_type"`
			} `json:"maps"`
		} `json:"pipeline"`
	}
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/settings/pipeline", url.Values{"layout_id": {layoutID}}, nil, &resp)
	if err != nil || status != http.StatusOK {
		return nil, rl, err
	}
	bad := func(msg string) ([]crm.Pipeline, crm.RateLimit, error) {
		return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_PIPELINE", Message: msg}
	}
	out := make([]crm.Pipeline, 0, len(resp.Pipeline))
	for i, p := range resp.Pipeline {
		id := p.ActualValue
		if id == "" {
			id = p.DisplayValue
		}
		if id == "" {
			return bad(fmt.Sprintf("pipeline %d has no value", i))
		}
		cp := crm.Pipeline{ID: id, Label: p.DisplayValue}
		for j, m := range p.Maps {
			sid := m.ActualValue
			if sid == "" {
				sid = m.DisplayValue
			}
			if sid == "" {
				return bad(fmt.Sprintf("pipeline %s stage %d has no value", crm.Truncate(id, 40), j))
			}
			cp.Stages = append(cp.Stages, crm.Stage{ID: sid, Label: m.DisplayValue, DisplayOrder: m.SequenceNumber,
				Closed: m.ForecastType != "" && m.ForecastType != "Open"})
		}
		slices.SortStableFunc(cp.Stages, func(a, b crm.Stage) int { return a.DisplayOrder - b.DisplayOrder })
		out = append(out, cp)
	}
	return out, rl, nil
}

// Properties reads GET /crm/v8/settings/fields?module=...: Name is the field's api_name,
// Type its data_type.
func (c *Client) Properties(ctx context.Context, obj crm.Object) ([]crm.Property, crm.RateLimit, error) {
	mod, err := Module(obj)
	if err != nil {
		return nil, crm.RateLimit{}, err
	}
	const endpoint = "GET /crm/v8/settings/fields"
	var resp struct {
		Fields []struct {
			APIName    string `json:"api_name"`
			FieldLabel string `json:"field_label"`
			DataType   string `json:"data_type"`
		} `json:"fields"`
	}
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/settings/fields", url.Values{"module": {mod}}, nil, &resp)
	if err != nil || status != http.StatusOK {
		return nil, rl, err
	}
	out := make([]crm.Property, 0, len(resp.Fields))
	for i, f := range resp.Fields {
		if f.APIName == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_PROPERTY",
				Message: fmt.Sprintf("field %d has no api_name", i)}
		}
		out = append(out, crm.Property{Name: f.APIName, Label: f.FieldLabel, Type: f.DataType})
	}
	return out, rl, nil
}

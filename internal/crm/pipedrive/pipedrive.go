// Package pipedrive is crmsync's connector for Pipedrive's API: the v2 list endpoints
// (persons, organizations, deals) with cursor paging for backfills, updated_since deltas
// with a (modified, id) cursor that survives Pipedrive's whole-second timestamps, batch
// reads through the ids filter, deleted deals through status=deleted, and the users,
// pipelines, stages and fields reference data. It authenticates with an API token in the
// x-api-token header or an OAuth access token as a Bearer token.
package pipedrive

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

// DefaultBaseURL is Pipedrive's API host for API tokens. OAuth apps use the api_domain the
// token response names (the company's own host).
const DefaultBaseURL = "https://api.pipedrive.com"

// Page sizes Pipedrive allows (reference 3.2: limit at most 500, ids at most 100).
const (
	listLimit  = 500
	batchLimit = 100
)

// Options configures a Client.
type Options struct {
	// BaseURL defaults to DefaultBaseURL; with OAuth it is the token response's api_domain.
	// The client appends /api/v2/... and /v1/... to it.
	BaseURL string
	// Tokens supplies the credential: a crm.StaticToken holding the API token, or, with
	// OAuth, a source that refreshes the access token.
	Tokens crm.TokenSource
	// OAuth sends the token as "Authorization: Bearer" (an OAuth access token) instead of
	// the x-api-token header (an API token).
	OAuth bool
	// DailyTokens is the company's daily token budget (30,000 x plan multiplier x seats,
	// plus top-ups: reference 3.5), reported as RateLimit.DailyMax. No header says it;
	// zero reports the larger of 0 and what is left.
	DailyTokens int
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// UserAgent defaults to "crmsync".
	UserAgent string
}

// Client is a Pipedrive company reached through its API. It is safe for concurrent use.
type Client struct {
	baseURL     string
	tokens      crm.TokenSource
	oauth       bool
	dailyTokens int
	http        *http.Client
	userAgent   string
}

var _ crm.Connector = (*Client)(nil)

// New returns a Client; it makes no request.
func New(opts Options) (*Client, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("pipedrive base URL %q: want an http:// or https:// URL with a host and no query", opts.BaseURL)
	}
	if opts.Tokens == nil {
		return nil, fmt.Errorf("pipedrive: no token source")
	}
	if opts.DailyTokens < 0 {
		return nil, fmt.Errorf("pipedrive daily tokens must not be negative, got %d", opts.DailyTokens)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "crmsync"
	}
	return &Client{baseURL: base, tokens: opts.Tokens, oauth: opts.OAuth, dailyTokens: opts.DailyTokens, http: hc, userAgent: ua}, nil
}

// Provider names the CRM.
func (c *Client) Provider() string { return "pipedrive" }

// PageSize is the list endpoints' largest page.
func (c *Client) PageSize() int { return listLimit }

// BatchSize is the most ids one ids filter takes.
func (c *Client) BatchSize() int { return batchLimit }

// Entity is Pipedrive's name for an object type: crm.Contacts are persons, crm.Companies
// organizations.
func Entity(obj crm.Object) (string, error) {
	switch obj {
	case crm.Contacts:
		return "persons", nil
	case crm.Companies:
		return "organizations", nil
	case crm.Deals:
		return "deals", nil
	default:
		return "", fmt.Errorf("pipedrive: unsupported object type %q", obj)
	}
}

// listResponse is the v2 list envelope: {"success": true, "data": [...],
// "additional_data": {"next_cursor": "..." | null}}.
type listResponse struct {
	Data           []json.RawMessage `json:"data"`
	AdditionalData *struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"additional_data"`
}

func (r *listResponse) next() string {
	if r.AdditionalData == nil || r.AdditionalData.NextCursor == nil {
		return ""
	}
	return *r.AdditionalData.NextCursor
}

// malformed is the error for a page the CRM sent that cannot be stored as records.
func malformed(endpoint, format string, args ...any) *crm.APIError {
	return &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
		Message: fmt.Sprintf(format, args...)}
}

// toRecords validates and converts a page. A record without an id or update_time cannot
// be stored or ordered; it fails the whole page rather than being dropped silently.
// Properties are every field but the id, values as sent. Pipedrive reports no deletion
// time, so a deleted record's ArchivedAt is its update_time (deleting updates it:
// UNCONFIRMED).
func toRecords(endpoint string, data []json.RawMessage) ([]crm.Record, error) {
	out := make([]crm.Record, 0, len(data))
	for i, raw := range data {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, malformed(endpoint, "item %d is not a JSON object", i)
		}
		id, ok := parseID(fields["id"])
		if !ok {
			return nil, malformed(endpoint, "item %d has no integer id", i)
		}
		updated, err := fieldTime(fields, "update_time")
		if err != nil || updated.IsZero() {
			return nil, malformed(endpoint, "record %s has no update_time", id)
		}
		created, err := fieldTime(fields, "add_time")
		if err != nil {
			return nil, malformed(endpoint, "record %s: %v", id, err)
		}
		r := crm.Record{ID: id, CreatedAt: created, UpdatedAt: updated}
		var deleted bool
		var status string
		_ = json.Unmarshal(fields["is_deleted"], &deleted) // absent or not a bool: not deleted
		_ = json.Unmarshal(fields["status"], &status)
		if deleted || status == "deleted" {
			r.Archived, r.ArchivedAt = true, updated
		}
		delete(fields, "id")
		props, err := json.Marshal(fields)
		if err != nil {
			return nil, malformed(endpoint, "record %s fields: %v", id, err)
		}
		r.Properties = props
		out = append(out, r)
	}
	return out, nil
}

// parseID reads an id sent as a JSON integer (as Pipedrive does) or a string of digits.
func parseID(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		raw = []byte(s)
	}
	s := string(raw)
	if s == "" || len(s) > 20 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// fieldTime reads a timestamp field; absent or null is the zero time.
func fieldTime(fields map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := fields[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("%s is not a string", name)
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// ParseTime reads a Pipedrive timestamp: RFC 3339 as v2 sends it ("2026-01-14T18:16:56Z"),
// or v1's "2006-01-02 15:04:05" in UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS", crm.Truncate(crm.Printable(s), 40))
}

// List reads one page of GET /api/v2/{persons,organizations,deals} in id order. Deleted
// deals are listed with status=deleted (reference 3.2: deleted up to 30 days ago). Pipedrive
// has no listing of deleted persons or organizations (reference 3.3, UNCONFIRMED): their
// deletions arrive by webhook, so the archived listing of those is empty and costs no call.
// ListRequest.Properties is not sent: v2 returns every standard and custom field unless
// custom_fields names at most 15.
func (c *Client) List(ctx context.Context, req crm.ListRequest) (crm.Page, error) {
	entity, err := Entity(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	if req.Archived && req.Object != crm.Deals {
		return crm.Page{}, nil
	}
	endpoint := "GET /api/v2/" + entity
	q := url.Values{"limit": {strconv.Itoa(listLimit)}, "sort_by": {"id"}, "sort_direction": {"asc"}}
	if req.After != "" {
		q.Set("cursor", req.After)
	}
	if req.Archived {
		q.Set("status", "deleted")
	}
	var resp listResponse
	rl, err := c.do(ctx, endpoint, "/api/v2/"+entity, q, &resp)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	next := resp.next()
	if next != "" && next == req.After {
		// A cursor that does not move would make the caller read this page forever.
		return crm.Page{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: "additional_data.next_cursor repeats the request's cursor"}
	}
	return crm.Page{Records: keepArchived(recs, req.Archived), Next: next, RateLimit: rl}, nil
}

// keepArchived keeps the records whose deletion state is the one asked for: the filters
// say which records come back, but "will be included" (reference 3.2, status=deleted) does
// not promise that nothing else does.
func keepArchived(recs []crm.Record, archived bool) []crm.Record {
	out := recs[:0]
	for _, r := range recs {
		if r.Archived == archived {
			out = append(out, r)
		}
	}
	return out
}

// BatchRead reads up to 100 records by id with the list endpoint's ids filter (v2 has no
// batch endpoint: reference 3.4). Archived copies exist only for deals (status=deleted);
// for persons and organizations it returns none without a call, so the caller takes the
// ids as gone.
func (c *Client) BatchRead(ctx context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	entity, err := Entity(req.Object)
	if err != nil {
		return crm.Page{}, err
	}
	endpoint := "GET /api/v2/" + entity
	if req.IDProperty != "" {
		// Only HubSpot's batch read takes an idProperty; reading by anything but the CRM's
		// id here would silently return nothing.
		return crm.Page{}, fmt.Errorf("%s: Pipedrive reads by record id only, not by %q", endpoint, req.IDProperty)
	}
	if len(req.IDs) == 0 || (req.Archived && req.Object != crm.Deals) {
		return crm.Page{}, nil
	}
	if len(req.IDs) > batchLimit {
		return crm.Page{}, fmt.Errorf("%s: %d ids, at most %d per call", endpoint, len(req.IDs), batchLimit)
	}
	for _, id := range req.IDs {
		if _, ok := parseID(json.RawMessage(id)); !ok {
			return crm.Page{}, fmt.Errorf("%s: id %q is not a Pipedrive id (an integer)", endpoint, crm.Truncate(crm.Printable(id), 40))
		}
	}
	q := url.Values{"ids": {strings.Join(req.IDs, ",")}, "limit": {strconv.Itoa(listLimit)}}
	if req.Archived {
		q.Set("status", "deleted")
	}
	var resp listResponse
	rl, err := c.do(ctx, endpoint, "/api/v2/"+entity, q, &resp)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.Page{RateLimit: rl}, err
	}
	// Only the ids asked for: a filter the server ignored must not store strangers.
	asked := make(map[string]bool, len(req.IDs))
	for _, id := range req.IDs {
		asked[strings.TrimLeft(id, "0")] = true
	}
	out := recs[:0]
	for _, r := range keepArchived(recs, req.Archived) {
		if asked[strings.TrimLeft(r.ID, "0")] {
			out = append(out, r)
		}
	}
	return crm.Page{Records: out, RateLimit: rl}, nil
}

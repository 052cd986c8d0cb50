package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/internal/crm"
)

// ownersLimit is the page of users asked for; /v1/users pages with start and limit, like
// every v1 list (reference 3.2).
const ownersLimit = 500

// user is a v1 User: the owner that records name in owner_id.
type user struct {
	ID         json.RawMessage `json:"id"`
	Name       string          `json:"name"`
	Email      string          `json:"email"`
	ActiveFlag *bool           `json:"active_flag"`
	Modified   string          `json:"modified"`
}

// v1Pagination is v1's additional_data.pagination.
type v1Pagination struct {
	Start                 int  `json:"start"`
	Limit                 int  `json:"limit"`
	MoreItemsInCollection bool `json:"more_items_in_collection"`
	NextStart             *int `json:"next_start"`
}

// Owners reads one page of GET /v1/users (v2 has no users list in the reference). Pipedrive
// users have one name; it is split at the first space into FirstName and LastName.
// Deactivated users (active_flag false) are Archived.
func (c *Client) Owners(ctx context.Context, after string) (crm.OwnerPage, error) {
	const endpoint = "GET /v1/users"
	start := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 {
			return crm.OwnerPage{}, fmt.Errorf("%s: page token %q is not a start offset", endpoint, crm.Truncate(crm.Printable(after), 40))
		}
		start = n
	}
	q := url.Values{"limit": {strconv.Itoa(ownersLimit)}}
	if start > 0 {
		q.Set("start", strconv.Itoa(start))
	}
	var resp struct {
		Data           []user `json:"data"`
		AdditionalData *struct {
			Pagination *v1Pagination `json:"pagination"`
		} `json:"additional_data"`
	}
	rl, err := c.do(ctx, endpoint, "/v1/users", q, &resp)
	if err != nil {
		return crm.OwnerPage{RateLimit: rl}, err
	}
	owners := make([]crm.Owner, 0, len(resp.Data))
	for i, u := range resp.Data {
		id, ok := parseID(u.ID)
		if !ok {
			return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_USER",
				Message: fmt.Sprintf("user %d has no integer id", i)}
		}
		first, last, _ := strings.Cut(strings.TrimSpace(u.Name), " ")
		o := crm.Owner{ID: id, Email: u.Email, FirstName: first, LastName: strings.TrimSpace(last),
			Archived: u.ActiveFlag != nil && !*u.ActiveFlag}
		if t, err := ParseTime(u.Modified); err == nil {
			o.UpdatedAt = t
		}
		owners = append(owners, o)
	}
	next := ""
	if ad := resp.AdditionalData; ad != nil && ad.Pagination != nil && ad.Pagination.MoreItemsInCollection {
		p := ad.Pagination
		n := start + len(resp.Data)
		if p.NextStart != nil {
			n = *p.NextStart
		}
		if n <= start {
			// A start that does not move would make the caller read this page forever.
			return crm.OwnerPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
				Message: fmt.Sprintf("pagination.next_start %d does not move past start %d", n, start)}
		}
		next = strconv.Itoa(n)
	}
	return crm.OwnerPage{Owners: owners, Next: next, RateLimit: rl}, nil
}

// pipelineItem and stageItem are the v2 Pipeline and Stage shapes.
type pipelineItem struct {
	ID        json.RawMessage `json:"id"`
	Name      string          `json:"name"`
	OrderNr   int             `json:"order_nr"`
	IsDeleted bool            `json:"is_deleted"`
}

type stageItem struct {
	ID         json.RawMessage `json:"id"`
	Name       string          `json:"name"`
	OrderNr    int             `json:"order_nr"`
	IsDeleted  bool            `json:"is_deleted"`
	PipelineID json.RawMessage `json:"pipeline_id"`
}

// Pipelines reads the deal pipelines with GET /api/v2/pipelines and their stages with
// GET /api/v2/stages. It is the one method that makes two requests: Pipedrive has no
// endpoint that returns pipelines with their stages. Each fits one page of 500. Pipedrive
// stages are never closed: won and lost are a deal's status, not a stage, so Closed is
// always false. Deleted stages are left out; deleted pipelines are Archived.
func (c *Client) Pipelines(ctx context.Context, obj crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	if obj != crm.Deals {
		return nil, crm.RateLimit{}, fmt.Errorf("pipedrive: %s have no pipelines", obj)
	}
	var pipes []pipelineItem
	rl, err := c.onePage(ctx, "GET /api/v2/pipelines", "/api/v2/pipelines", &pipes)
	if err != nil {
		return nil, rl, err
	}
	var stages []stageItem
	rl, err = c.onePage(ctx, "GET /api/v2/stages", "/api/v2/stages", &stages)
	if err != nil {
		return nil, rl, err
	}
	bad := func(endpoint, format string, args ...any) ([]crm.Pipeline, crm.RateLimit, error) {
		return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_PIPELINE",
			Message: fmt.Sprintf(format, args...)}
	}
	out := make([]crm.Pipeline, 0, len(pipes))
	index := make(map[string]int, len(pipes))
	for i, p := range pipes {
		id, ok := parseID(p.ID)
		if !ok {
			return bad("GET /api/v2/pipelines", "pipeline %d has no integer id", i)
		}
		index[id] = len(out)
		out = append(out, crm.Pipeline{ID: id, Label: p.Name, Archived: p.IsDeleted, Stages: []crm.Stage{}})
	}
	for i, s := range stages {
		id, ok := parseID(s.ID)
		if !ok {
			return bad("GET /api/v2/stages", "stage %d has no integer id", i)
		}
		pid, ok := parseID(s.PipelineID)
		if !ok {
			return bad("GET /api/v2/stages", "stage %s has no integer pipeline_id", id)
		}
		if s.IsDeleted {
			continue
		}
		k, ok := index[pid]
		if !ok {
			// A stage of a pipeline the listing did not return (made in between): the next
			// refresh has both.
			continue
		}
		out[k].Stages = append(out[k].Stages, crm.Stage{ID: id, Label: s.Name, DisplayOrder: s.OrderNr})
	}
	return out, rl, nil
}

// fieldItem is the v2 field definition (GET /api/v2/personFields and the like).
type fieldItem struct {
	FieldCode string `json:"field_code"`
	FieldName string `json:"field_name"`
	FieldType string `json:"field_type"`
}

// Properties reads GET /api/v2/{personFields,organizationFields,dealFields}: Name is the
// field_code (the key in records, a 40-hex-digit hash for custom fields, which records
// hold under custom_fields), Label the field_name, Type the field_type.
func (c *Client) Properties(ctx context.Context, obj crm.Object) ([]crm.Property, crm.RateLimit, error) {
	var path string
	switch obj {
	case crm.Contacts:
		path = "/api/v2/personFields"
	case crm.Companies:
		path = "/api/v2/organizationFields"
	case crm.Deals:
		path = "/api/v2/dealFields"
	default:
		return nil, crm.RateLimit{}, fmt.Errorf("pipedrive: unsupported object type %q", obj)
	}
	endpoint := "GET " + path
	var fields []fieldItem
	rl, err := c.onePage(ctx, endpoint, path, &fields)
	if err != nil {
		return nil, rl, err
	}
	out := make([]crm.Property, 0, len(fields))
	for i, f := range fields {
		if f.FieldCode == "" {
			return nil, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_FIELD",
				Message: fmt.Sprintf("field %d has no field_code", i)}
		}
		out = append(out, crm.Property{Name: f.FieldCode, Label: f.FieldName, Type: f.FieldType})
	}
	return out, rl, nil
}

// onePage reads a v2 reference listing that must fit one page of 500: reference data is
// cached whole, and a part of it would pass for all of it.
func (c *Client) onePage(ctx context.Context, endpoint, path string, data any) (crm.RateLimit, error) {
	var resp struct {
		Data           json.RawMessage `json:"data"`
		AdditionalData *struct {
			NextCursor *string `json:"next_cursor"`
		} `json:"additional_data"`
	}
	rl, err := c.do(ctx, endpoint, path, url.Values{"limit": {strconv.Itoa(listLimit)}}, &resp)
	if err != nil {
		return rl, err
	}
	if ad := resp.AdditionalData; ad != nil && ad.NextCursor != nil && *ad.NextCursor != "" {
		return rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "TOO_MANY_ITEMS",
			Message: fmt.Sprintf("more than %d items; crmsync reads reference data in one page", listLimit)}
	}
	if len(resp.Data) == 0 || string(resp.Data) == "null" {
		return rl, nil
	}
	if err := json.Unmarshal(resp.Data, data); err != nil {
		return rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, Message: "unexpected data", RateLimit: rl, Err: err}
	}
	return rl, nil
}

package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Delta reads use the search endpoint as a keyset scan. Each page is a fresh query anchored
// at the cursor, never an `after` offset into an older query, because:
//   - an offset skips a record whenever an earlier one is modified mid-scan (it moves to the
//     end and everything shifts left past the offset);
//   - offsets stop at 10,000 results per query, and re-anchoring on every page means the cap
//     is never reached;
//   - HubSpot honours one sort only and does not promise an order among equal timestamps, so
//     the cursor only ever moves past timestamps it has seen completely.
//
// Normal mode asks for (modified = T and id > I) or (modified > T), sorted by modified.
// A full page guarantees that every matching record older than the page's last timestamp
// is in the page, so the cursor moves to the newest (modified, id) strictly before that
// timestamp. A full page whose records all share one timestamp cannot move the cursor that
// way; the scan then switches to ties mode, which walks that single timestamp in id order
// (modified = T and id > I, sorted by hs_object_id) with no limit on the group's size, and
// returns to normal mode after the group's last page.

type filter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        string `json:"value,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type sort struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchRequest struct {
	FilterGroups []filterGroup `json:"filterGroups"`
	Sorts        []sort        `json:"sorts"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after"`
}

type searchResponse struct {
	Total   int      `json:"total"`
	Results []object `json:"results"`
	Paging  *paging  `json:"paging"`
}

const idProperty = "hs_object_id"

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// searchQuery builds the request for a cursor.
func searchQuery(obj crm.Object, from crm.Cursor, props []string) searchRequest {
	mod := ModifiedProperty(obj)
	req := searchRequest{Limit: searchLimit, After: "0", Properties: withProps(props, mod, idProperty)}
	t := millis(from.ModifiedAt)
	switch {
	case from.Mode == modeTies:
		fs := []filter{{PropertyName: mod, Operator: "EQ", Value: t}}
		if from.ID != "" {
			fs = append(fs, filter{PropertyName: idProperty, Operator: "GT", Value: from.ID})
		}
		req.FilterGroups = []filterGroup{{Filters: fs}}
		req.Sorts = []sort{{PropertyName: idProperty, Direction: "ASCENDING"}}
	case from.ID == "":
		req.FilterGroups = []filterGroup{{Filters: []filter{{PropertyName: mod, Operator: "GTE", Value: t}}}}
		req.Sorts = []sort{{PropertyName: mod, Direction: "ASCENDING"}}
	default:
		req.FilterGroups = []filterGroup{
			{Filters: []filter{
				{PropertyName: mod, Operator: "EQ", Value: t},
				{PropertyName: idProperty, Operator: "GT", Value: from.ID},
			}},
			{Filters: []filter{{PropertyName: mod, Operator: "GT", Value: t}}},
		}
		req.Sorts = []sort{{PropertyName: mod, Direction: "ASCENDING"}}
	}
	return req
}

// withProps returns props plus the properties the cursor needs, without duplicates.
func withProps(props []string, need ...string) []string {
	out := make([]string, 0, len(props)+len(need))
	out = append(out, props...)
	for _, n := range need {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Changes reads one page of records modified at or after req.From with
// POST /crm/v3/objects/{object}/search.
func (c *Client) Changes(ctx context.Context, req crm.ChangesRequest) (crm.ChangePage, error) {
	op, err := objectPath(req.Object)
	if err != nil {
		return crm.ChangePage{}, err
	}
	endpoint := "POST /crm/v3/objects/" + op + "/search"
	from := req.From
	from.ModifiedAt = from.ModifiedAt.Truncate(time.Millisecond)
	body := searchQuery(req.Object, from, req.Properties)
	var resp searchResponse
	_, rl, err := c.do(ctx, http.MethodPost, endpoint, "/crm/v3/objects/"+op+"/search", nil, body, &resp)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Results)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	keys, err := cursorKeys(endpoint, req.Object, recs)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	// Every result must lie after the cursor (and, in ties mode, at the cursor's timestamp);
	// one that does not (a search index that disagrees with its own filter) is still stored,
	// but must not steer the cursor.
	after := keys[:0]
	for _, k := range keys {
		if k.Compare(from) > 0 && (from.Mode != modeTies || k.ModifiedAt.Equal(from.ModifiedAt)) {
			after = append(after, k)
		}
	}
	// A page is a prefix of the ordered result set; when more may follow, only what the
	// prefix proves complete moves the cursor.
	partial := len(recs) >= searchLimit || resp.Paging.after() != ""
	if partial && len(after) == 0 {
		return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: fmt.Sprintf("search page holds no record after the cursor %s", from)}
	}
	next, more := advance(from, after, partial)
	return crm.ChangePage{Records: recs, Next: next, More: more, RateLimit: rl}, nil
}

// cursorKeys reads each record's position from the same property the query filters and
// sorts on, so the cursor and the query can never disagree (updatedAt is the fallback).
func cursorKeys(endpoint string, obj crm.Object, recs []crm.Record) ([]crm.Cursor, error) {
	mod := ModifiedProperty(obj)
	keys := make([]crm.Cursor, len(recs))
	for i, r := range recs {
		t := r.UpdatedAt
		var props map[string]*string
		if err := json.Unmarshal(r.Properties, &props); err != nil {
			return nil, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
				Message: fmt.Sprintf("record %s properties: %v", r.ID, err)}
		}
		if v := props[mod]; v != nil && *v != "" {
			pt, err := ParseTime(*v)
			if err != nil {
				return nil, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
					Message: fmt.Sprintf("record %s %s: %v", r.ID, mod, err)}
			}
			t = pt
		}
		keys[i] = crm.Cursor{ModifiedAt: t.Truncate(time.Millisecond), ID: r.ID}
	}
	return keys, nil
}

// advance computes the cursor after a page (see the comment at the top of this file).
func advance(from crm.Cursor, keys []crm.Cursor, full bool) (crm.Cursor, bool) {
	maxKey := func(ks []crm.Cursor) (crm.Cursor, bool) {
		var best crm.Cursor
		found := false
		for _, k := range ks {
			if !found || k.Compare(best) > 0 {
				best, found = k, true
			}
		}
		return best, found
	}
	if from.Mode == modeTies {
		next := crm.Cursor{ModifiedAt: from.ModifiedAt, ID: from.ID}
		if best, ok := maxKey(keys); ok {
			next.ID = best.ID
		}
		if full {
			next.Mode = modeTies
		}
		// Whether or not the group is done, newer timestamps may follow it.
		return next, true
	}
	if !full {
		next := crm.Cursor{ModifiedAt: from.ModifiedAt, ID: from.ID}
		if best, ok := maxKey(keys); ok && best.Compare(next) > 0 {
			next = best
		}
		return next, false
	}
	last, _ := maxKey(keys)
	var before []crm.Cursor
	for _, k := range keys {
		if k.ModifiedAt.Before(last.ModifiedAt) {
			before = append(before, k)
		}
	}
	if best, ok := maxKey(before); ok {
		return best, true
	}
	// The whole page shares one timestamp: walk it by id.
	next := crm.Cursor{ModifiedAt: last.ModifiedAt, Mode: modeTies}
	if last.ModifiedAt.Equal(from.ModifiedAt) {
		next.ID = from.ID
	}
	return next, true
}

// ParseTime reads a HubSpot date-time property value: ISO-8601 (what v3 returns for
// date-times) or epoch milliseconds (what date properties and older endpoints use).
func ParseTime(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is neither ISO-8601 nor epoch milliseconds", crm.Truncate(v, 40))
	}
	return t.UTC(), nil
}

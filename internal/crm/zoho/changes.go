package zoho

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Delta reads use Get Records with the If-Modified-Since header, sorted by Modified_Time
// ascending. Zoho stamps records at whole seconds and offers no filter on the id, so a
// (Modified_Time, id) keyset cannot be sent; the cursor is kept client-side instead:
//
//   - Each scan anchors a query at the cursor's second: If-Modified-Since is that second
//     minus one, so every record at the cursor's second is included whether Zoho reads
//     the header as "after" (as documented) or "at or after". Records at or before the
//     cursor are dropped client-side.
//   - A page is a prefix of the ordered result. When more follow and the page spans
//     several seconds, every record before the page's last second is complete in it: those
//     are returned, and the cursor moves to (last second, no id), so the next query starts
//     at that second and returns its records whole.
//   - A full page that is all one second (more than 200 records modified in one second, as
//     bulk imports and workflows do) cannot move the cursor that way. The scan then walks
//     the same query on with next_page_token (page numbers when no token comes), with the
//     query and the token held in the cursor's Mode ("walk <If-Modified-Since unix>
//     <t:token|p:page>"). Page tokens reach past the 2,000 records page numbers stop at,
//     up to Zoho's 100,000 per chain, so a second with up to 100,000 changes is walked
//     whole; the walk returns to anchored queries as soon as a page spans two seconds.
//     Zoho documents its tokens as opaque: the walk is loss-free while records change
//     between pages if a token is a position, not an offset (the simulator's are;
//     UNCONFIRMED for Zoho).
//   - Caught up (no more records), the cursor is the newest (second, id) returned, so the
//     next scan drops what it has already returned at that second.
//
// 304 Not Modified (nothing changed since the header's time) is an empty, caught-up page.

const modeWalk = "walk"

// walkState is a walk's query anchor and continuation, kept in Cursor.Mode.
type walkState struct {
	ims   time.Time
	token string // next_page_token, or "" with page
	page  int
}

func (w walkState) String() string {
	cont := "t:" + w.token
	if w.token == "" {
		cont = "p:" + strconv.Itoa(w.page)
	}
	return fmt.Sprintf("%s %d %s", modeWalk, w.ims.Unix(), cont)
}

func parseWalk(mode string) (walkState, error) {
	f := strings.SplitN(mode, " ", 3)
	if len(f) != 3 || f[0] != modeWalk {
		return walkState{}, fmt.Errorf("zoho: cursor mode %q is not one this connector issued", crm.Truncate(mode, 60))
	}
	secs, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return walkState{}, fmt.Errorf("zoho: cursor mode %q is not one this connector issued", crm.Truncate(mode, 60))
	}
	w := walkState{ims: time.Unix(secs, 0).UTC()}
	switch {
	case strings.HasPrefix(f[2], "t:") && len(f[2]) > 2:
		w.token = f[2][2:]
	case strings.HasPrefix(f[2], "p:"):
		if w.page, err = strconv.Atoi(f[2][2:]); err != nil || w.page < 2 || w.page > maxPageNumber {
			return walkState{}, fmt.Errorf("zoho: cursor mode %q is not one this connector issued", crm.Truncate(mode, 60))
		}
	default:
		return walkState{}, fmt.Errorf("zoho: cursor mode %q is not one this connector issued", crm.Truncate(mode, 60))
	}
	return w, nil
}

// Changes reads one page of records modified at or after req.From with
// GET /crm/v8/{module} and If-Modified-Since.
func (c *Client) Changes(ctx context.Context, req crm.ChangesRequest) (crm.ChangePage, error) {
	mod, err := Module(req.Object)
	if err != nil {
		return crm.ChangePage{}, err
	}
	endpoint := "GET /crm/v8/" + mod + " (If-Modified-Since)"
	fields, err := fieldsParam(endpoint, req.Object, req.Properties)
	if err != nil {
		return crm.ChangePage{}, err
	}
	from := req.From
	from.ModifiedAt = from.ModifiedAt.UTC()
	w := walkState{ims: from.ModifiedAt.Truncate(time.Second).Add(-time.Second), page: 1}
	if from.Mode != "" {
		if w, err = parseWalk(from.Mode); err != nil {
			return crm.ChangePage{}, err
		}
	}
	q := url.Values{"fields": {fields}, "sort_by": {"Modified_Time"}, "sort_order": {"asc"}, "per_page": {strconv.Itoa(perPage)}}
	if w.token != "" {
		q.Set("page_token", w.token)
	} else {
		q.Set("page", strconv.Itoa(w.page))
	}
	h := http.Header{"If-Modified-Since": {w.ims.Format(time.RFC3339)}}
	var resp recordsResponse
	status, rl, err := c.do(ctx, endpoint, "/crm/v8/"+mod, q, h, &resp)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	caughtUp := crm.ChangePage{Next: crm.Cursor{ModifiedAt: from.ModifiedAt, ID: from.ID}, RateLimit: rl}
	if status != http.StatusOK {
		return caughtUp, nil // 304: nothing modified since; 204: nothing at all
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	// Only records after the cursor count; one before it (a server that reads the header
	// differently, or a record already returned at the cursor's second) is dropped.
	after := recs[:0]
	var last time.Time
	for _, r := range recs {
		if (crm.Cursor{ModifiedAt: r.UpdatedAt, ID: r.ID}).Compare(from) > 0 {
			after = append(after, r)
			if r.UpdatedAt.After(last) {
				last = r.UpdatedAt
			}
		}
	}
	if !resp.Info.more() {
		next := caughtUp.Next
		for _, r := range after {
			if k := (crm.Cursor{ModifiedAt: r.UpdatedAt, ID: r.ID}); k.Compare(next) > 0 {
				next = k
			}
		}
		return crm.ChangePage{Records: after, Next: next, RateLimit: rl}, nil
	}
	// More follow. Records before the page's last second are complete in it.
	var done []crm.Record
	for _, r := range after {
		if r.UpdatedAt.Before(last) {
			done = append(done, r)
		}
	}
	if len(done) > 0 {
		return crm.ChangePage{Records: done, Next: crm.Cursor{ModifiedAt: last}, More: true, RateLimit: rl}, nil
	}
	// The page is one second (or holds nothing new): walk the query on.
	next := walkState{ims: w.ims, token: resp.Info.token()}
	switch next.token {
	case "":
		cur := max(w.page, resp.Info.Page, 1)
		if cur >= maxPageNumber {
			return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
				Message: "more_records without a next_page_token past the pages numbers reach"}
		}
		next.page = cur + 1
	case w.token:
		return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: "next_page_token repeats the request's"}
	}
	cur := crm.Cursor{ModifiedAt: from.ModifiedAt, ID: from.ID, Mode: next.String()}
	if last.After(from.ModifiedAt) {
		cur.ModifiedAt, cur.ID = last, ""
	}
	return crm.ChangePage{Records: after, Next: cur, More: true, RateLimit: rl}, nil
}

package pipedrive

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

// Delta reads use the v2 list endpoints' updated_since filter sorted by update_time
// (reference 3.3). Pipedrive's timestamps have whole-second precision, so a bulk edit gives
// hundreds of records one update_time, and the order among them is not documented. Each
// page is therefore a fresh query anchored at the cursor's second, never a next_cursor into
// an older query, and the cursor only moves past seconds it has seen completely:
//
//   - Normal mode asks for updated_since = the cursor's second, sort_by=update_time, and
//     drops what the cursor already covers: (second, id) at or before it.
//   - A full page (next_cursor set) proves complete every second before its last one. The
//     page returns the records of those seconds only, and the cursor moves to (last second,
//     no id): the last second's records come again, whole, on the next page.
//   - A full page whose records all share one second cannot move the cursor that way. The
//     scan then switches to ties mode for that second: updated_since = S and updated_until =
//     S+1s (exclusive), sort_by=id, following next_cursor, which the cursor carries in its
//     Mode ("ties:<next_cursor>") because v2 has no "id greater than" filter. Records with
//     ids at or below the cursor's id are dropped. After the second's last page the cursor
//     moves to (S+1s, no id), back in normal mode.
//   - A page that is not full is the end of the changes: the cursor moves to its newest
//     (second, id). When that second is still running by the server's clock (its Date
//     header), a record changed later in the same second could have a smaller id and be
//     missed, so the cursor stays before the second and the next poll reads it again.
//
// Pipedrive documents next_cursor as opaque; that one stays valid between calls minutes
// apart is UNCONFIRMED.

// modeTies is the Mode prefix of a cursor walking one second by id.
const modeTies = "ties"

// second renders a cursor instant as updated_since wants it: RFC 3339 in whole seconds.
func second(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// parseMode splits a cursor mode into ties mode and the next_cursor to continue with.
func parseMode(mode string) (ties bool, next string, err error) {
	switch {
	case mode == "":
		return false, "", nil
	case mode == modeTies:
		return true, "", nil
	case strings.HasPrefix(mode, modeTies+":") && len(mode) > len(modeTies)+1:
		return true, mode[len(modeTies)+1:], nil
	}
	return false, "", fmt.Errorf("pipedrive: unknown cursor mode %q", crm.Truncate(crm.Printable(mode), 40))
}

// Changes reads one page of records modified at or after req.From with
// GET /api/v2/{persons,organizations,deals}?updated_since=... (see the comment at the top
// of this file). Deleted records are not among them: deleted deals come from List with
// Archived, deleted persons and organizations only by webhook.
func (c *Client) Changes(ctx context.Context, req crm.ChangesRequest) (crm.ChangePage, error) {
	entity, err := Entity(req.Object)
	if err != nil {
		return crm.ChangePage{}, err
	}
	endpoint := "GET /api/v2/" + entity
	from := req.From
	from.ModifiedAt = from.ModifiedAt.UTC().Truncate(time.Second)
	ties, cursor, err := parseMode(from.Mode)
	if err != nil {
		return crm.ChangePage{}, err
	}
	q := url.Values{"limit": {strconv.Itoa(listLimit)}, "updated_since": {second(from.ModifiedAt)}, "sort_direction": {"asc"}}
	if ties {
		q.Set("sort_by", "id")
		q.Set("updated_until", second(from.ModifiedAt.Add(time.Second)))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
	} else {
		q.Set("sort_by", "update_time")
	}
	var resp listResponse
	rl, date, err := c.doDated(ctx, endpoint, "/api/v2/"+entity, q, &resp)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	recs, err := toRecords(endpoint, resp.Data)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	next := resp.next()
	if ties {
		return tiesPage(endpoint, from, cursor, recs, next, rl)
	}
	return normalPage(endpoint, from, recs, next != "" || len(resp.Data) >= listLimit, date, rl)
}

// key is a record's position in cursor order, at Pipedrive's precision.
func key(r crm.Record) crm.Cursor {
	return crm.Cursor{ModifiedAt: r.UpdatedAt.Truncate(time.Second), ID: r.ID}
}

// tiesPage handles a page of one second in id order.
func tiesPage(endpoint string, from crm.Cursor, cursor string, recs []crm.Record, next string, rl crm.RateLimit) (crm.ChangePage, error) {
	if next != "" && next == cursor {
		return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
			Message: "additional_data.next_cursor repeats the request's cursor"}
	}
	out := recs[:0]
	lastID := from.ID
	for _, r := range recs {
		k := key(r)
		// Only the second asked for, after the cursor's id: anything else is a filter the
		// server did not apply, or a record already returned.
		if !k.ModifiedAt.Equal(from.ModifiedAt) || k.Compare(from) <= 0 {
			continue
		}
		out = append(out, r)
		if crm.CompareIDs(r.ID, lastID) > 0 {
			lastID = r.ID
		}
	}
	page := crm.ChangePage{Records: out, More: true, RateLimit: rl}
	if next != "" {
		page.Next = crm.Cursor{ModifiedAt: from.ModifiedAt, ID: lastID, Mode: modeTies + ":" + next}
	} else {
		// The whole second is done; newer seconds may follow it.
		page.Next = crm.Cursor{ModifiedAt: from.ModifiedAt.Add(time.Second)}
	}
	return page, nil
}

// normalPage handles a page sorted by update_time.
func normalPage(endpoint string, from crm.Cursor, recs []crm.Record, full bool, date time.Time, rl crm.RateLimit) (crm.ChangePage, error) {
	after := make([]crm.Record, 0, len(recs))
	var last time.Time
	var newest crm.Cursor
	for _, r := range recs {
		k := key(r)
		if k.Compare(from) <= 0 {
			continue // returned by an earlier page
		}
		after = append(after, r)
		if k.ModifiedAt.After(last) {
			last = k.ModifiedAt
		}
		if k.Compare(newest) > 0 {
			newest = k
		}
	}
	if !full {
		next := from
		if len(after) > 0 && newest.Compare(from) > 0 {
			next = newest
			if !date.IsZero() && !next.ModifiedAt.Before(date.UTC().Truncate(time.Second)) {
				// The second is still running: stay before it (never behind the request).
				if held := (crm.Cursor{ModifiedAt: next.ModifiedAt}); held.Compare(from) > 0 {
					next = held
				} else {
					next = from
				}
			}
		}
		return crm.ChangePage{Records: after, Next: next, More: false, RateLimit: rl}, nil
	}
	if len(after) == 0 {
		for _, r := range recs {
			if !key(r).ModifiedAt.Equal(from.ModifiedAt) {
				return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
					Message: fmt.Sprintf("a full page holds no record after the cursor %s", from)}
			}
		}
		// A full page of the cursor's own second, all returned before: walk it by id.
		return crm.ChangePage{Next: crm.Cursor{ModifiedAt: from.ModifiedAt, ID: from.ID, Mode: modeTies}, More: true, RateLimit: rl}, nil
	}
	done := after[:0]
	for _, r := range after {
		if key(r).ModifiedAt.Before(last) {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		// The page is one second: walk it by id, from the cursor's id if it is that second.
		next := crm.Cursor{ModifiedAt: last, Mode: modeTies}
		if last.Equal(from.ModifiedAt) {
			next.ID = from.ID
		}
		return crm.ChangePage{Next: next, More: true, RateLimit: rl}, nil
	}
	// Every second before the last is complete; the last comes again, whole.
	return crm.ChangePage{Records: done, Next: crm.Cursor{ModifiedAt: last}, More: true, RateLimit: rl}, nil
}

// doDated is do that also returns the server's clock from the Date header (zero when
// absent or unreadable).
func (c *Client) doDated(ctx context.Context, endpoint, path string, query url.Values, out any) (crm.RateLimit, time.Time, error) {
	var date time.Time
	rl, err := c.send(ctx, endpoint, path, query, out, func(h http.Header) {
		if t, err := http.ParseTime(h.Get("Date")); err == nil {
			date = t.UTC()
		}
	})
	return rl, date, err
}

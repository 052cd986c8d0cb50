package salesforce

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Delta reads are a keyset scan over (SystemModstamp, Id), one fresh query per page:
//
//	SELECT ... FROM Contact
//	WHERE SystemModstamp > T OR (SystemModstamp = T AND Id > 'I')
//	ORDER BY SystemModstamp, Id LIMIT n
//
// (WHERE SystemModstamp >= T for a cursor with no id, no WHERE for the zero cursor).
// SystemModstamp has whole-second precision, so many records share one stamp; ordering by
// the pair makes the order total, and the LIMIT makes each page an exact prefix of it.
// The cursor therefore moves to the page's last (SystemModstamp, Id) and never needs a
// mode for ties: a full page proves every record up to its last key was returned, however
// many share a second. Each page is a new query rather than a nextRecordsUrl, so a stored
// cursor resumes at any time (locators expire after 15 minutes), a record modified
// mid-scan moves past the cursor instead of shifting an offset, and the LIMIT keeps a page
// from holding a locator open. Should Salesforce cut a batch short (done false), the
// records it did send are still a prefix of the order, and the cursor moves to the last.
//
// Salesforce stamps SystemModstamp when a transaction starts, so a record can commit
// after a scan has passed its stamp; callers re-read a short window behind the cursor.

// Changes reads one page of live records modified at or after req.From. Deleted records
// are not among them (SOQL query skips them); List with Archived reads those.
func (c *Client) Changes(ctx context.Context, req crm.ChangesRequest) (crm.ChangePage, error) {
	so, err := SObject(req.Object)
	if err != nil {
		return crm.ChangePage{}, err
	}
	fields, err := selectList(req.Properties, fieldID, fieldCreated, fieldModstamp)
	if err != nil {
		return crm.ChangePage{}, err
	}
	// The cursor's position as Salesforce can express it: a stamp with a fraction of a
	// second comes from elsewhere, and everything in that second may be at or after it.
	from := crm.Cursor{ModifiedAt: req.From.ModifiedAt.UTC(), ID: req.From.ID}
	if !from.ModifiedAt.Equal(from.ModifiedAt.Truncate(time.Second)) {
		from = crm.Cursor{ModifiedAt: from.ModifiedAt.Truncate(time.Second)}
	}
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + so
	t := soqlTime(from.ModifiedAt)
	switch {
	case from.ID != "":
		id, err := quoteID(from.ID)
		if err != nil {
			return crm.ChangePage{}, err
		}
		soql += " WHERE SystemModstamp > " + t + " OR (SystemModstamp = " + t + " AND Id > " + id + ")"
	case !from.ModifiedAt.IsZero():
		soql += " WHERE SystemModstamp >= " + t
	}
	soql += fmt.Sprintf(" ORDER BY SystemModstamp, Id LIMIT %d", c.pageSize)

	res, endpoint, rl, err := c.query(ctx, false, soql, "")
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, err
	}
	recs, err := recordsFromJSON(endpoint, res.Records, false)
	if err != nil {
		return crm.ChangePage{RateLimit: rl}, withRateLimit(err, rl)
	}
	// The next cursor is the newest key that lies after the cursor. A record that does not
	// (an answer that disagrees with its own filter) is still stored, but must not steer
	// the cursor, and a cursor never moves back.
	next := req.From
	advanced := false
	for _, r := range recs {
		k := crm.Cursor{ModifiedAt: r.UpdatedAt, ID: r.ID}
		if k.Compare(from) > 0 && k.Compare(next) > 0 {
			next, advanced = k, true
		}
	}
	next.Mode = ""
	more := len(recs) >= c.pageSize || res.NextRecordsURL != ""
	if more && !advanced {
		return crm.ChangePage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
			Message: fmt.Sprintf("a full page holds no record after the cursor %s", req.From)}
	}
	return crm.ChangePage{Records: recs, Next: next, More: more, RateLimit: rl}, nil
}

// Package crm defines what crmsync needs from a CRM, independent of which CRM it is:
// the Connector interface that every provider (HubSpot, Salesforce, Pipedrive, Zoho CRM)
// implements, the records and pages it returns, the (modified, id) change cursor, the
// rate-limit signals read from each response, and the typed errors that let callers decide
// whether a failure is worth retrying.
package crm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Object is a provider-neutral object type. Connectors map it to their own names
// (HubSpot "contacts", Salesforce "Contact", Zoho "Contacts", ...).
type Object string

// The object types crmsync syncs.
const (
	Contacts  Object = "contacts"
	Companies Object = "companies"
	Deals     Object = "deals"
)

// Objects lists every supported object type in a stable order.
var Objects = []Object{Contacts, Companies, Deals}

// ParseObject validates an object type name as written in config files and CLI flags.
func ParseObject(s string) (Object, error) {
	for _, o := range Objects {
		if string(o) == s {
			return o, nil
		}
	}
	return "", fmt.Errorf("unknown object type %q (want one of contacts, companies, deals)", s)
}

// Record is one CRM record as the CRM sent it. Properties stay raw JSON so that a page
// travels from the HTTP response to PostgreSQL's JSONB column without being decoded into
// maps and encoded again.
type Record struct {
	ID         string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Archived   bool
	ArchivedAt time.Time // zero while the record is live
	Properties json.RawMessage
}

// Page is one response's worth of records.
type Page struct {
	Records []Record
	// Next is the opaque token for the following page; empty when this was the last page.
	Next string
	// RateLimit is what the response's headers said about the quota.
	RateLimit RateLimit
}

// ChangePage is one page of a delta read.
type ChangePage struct {
	Records []Record
	// Next is where the following read starts. Every record at or before Next (in cursor
	// order) that matched the query has been returned by this or an earlier page.
	Next Cursor
	// More reports that the CRM may hold further changes after Next; false means caught up.
	More bool
	// RateLimit is what the response's headers said about the quota (often nothing: HubSpot
	// search responses carry no rate-limit headers).
	RateLimit RateLimit
}

// Cursor is a position in the stream of changes, ordered by (ModifiedAt, ID). Ordering by
// the pair, not the timestamp alone, is what lets a reader resume inside a group of records
// that share one timestamp without losing or endlessly replaying any of them.
type Cursor struct {
	// ModifiedAt is the modification instant, at the CRM's precision.
	ModifiedAt time.Time `json:"modified_at"`
	// ID is the last record id done at ModifiedAt; empty means none at ModifiedAt yet.
	ID string `json:"id,omitempty"`
	// Mode is connector-private state about how to continue (for example, HubSpot's
	// "ties" mode that walks one timestamp by id). Empty is the normal mode.
	Mode string `json:"mode,omitempty"`
}

// Compare orders two cursors by (ModifiedAt, ID); Mode does not take part.
func (c Cursor) Compare(o Cursor) int {
	if c.ModifiedAt.Before(o.ModifiedAt) {
		return -1
	}
	if c.ModifiedAt.After(o.ModifiedAt) {
		return 1
	}
	return CompareIDs(c.ID, o.ID)
}

// String renders the cursor for logs and progress output.
func (c Cursor) String() string {
	s := c.ModifiedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	if c.ID != "" {
		s += "/" + c.ID
	}
	if c.Mode != "" {
		s += " (" + c.Mode + ")"
	}
	return s
}

// CompareIDs orders CRM ids. Numeric ids (HubSpot, Pipedrive, Zoho) compare as numbers, so
// "99" < "100"; anything else compares as text. The empty id sorts before every other.
func CompareIDs(a, b string) int {
	if a == b {
		return 0
	}
	if isDigits(a) && isDigits(b) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RateLimit is a snapshot of the quota as reported by one response. Fields the CRM did not
// send are zero, with Known saying which groups were present.
type RateLimit struct {
	// WindowKnown reports that the window fields were present.
	WindowKnown bool
	// Max is the number of calls allowed per Interval.
	Max int
	// Remaining is the number of calls left in the current window after this call.
	Remaining int
	// Interval is the window length (HubSpot: 10 s).
	Interval time.Duration

	// DailyKnown reports that the daily fields were present.
	DailyKnown bool
	// DailyMax is the daily allowance; DailyRemaining what is left of it today.
	DailyMax, DailyRemaining int
}

// OwnerPage is one page of CRM users that records refer to as owners.
type OwnerPage struct {
	Owners    []Owner
	Next      string
	RateLimit RateLimit
}

// Owner is a CRM user that can own records.
type Owner struct {
	ID        string    `json:"id"`
	Email     string    `json:"email,omitempty"`
	FirstName string    `json:"firstName,omitempty"`
	LastName  string    `json:"lastName,omitempty"`
	Archived  bool      `json:"archived"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Pipeline is a sales pipeline with its ordered stages.
type Pipeline struct {
	ID       string  `json:"id"`
	Label    string  `json:"label"`
	Archived bool    `json:"archived"`
	Stages   []Stage `json:"stages"`
}

// Stage is one step of a pipeline.
type Stage struct {
	ID           string `json:"id"`
	Label        string `json:"label"`
	DisplayOrder int    `json:"displayOrder"`
	Closed       bool   `json:"closed"`
}

// Property describes one field of an object type.
type Property struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// ListRequest asks for one page of a full listing.
type ListRequest struct {
	Object Object
	// After is the token from the previous page; empty for the first page.
	After string
	// Archived lists deleted (archived) records instead of live ones.
	Archived bool
	// Properties names the fields to return. Every CRM crmsync supports makes the caller name
	// them (HubSpot returns a small default set otherwise, Zoho refuses).
	Properties []string
}

// ChangesRequest asks for one page of records modified at or after a cursor.
type ChangesRequest struct {
	Object     Object
	From       Cursor
	Properties []string
}

// BatchReadRequest asks for records by id.
type BatchReadRequest struct {
	Object     Object
	IDs        []string
	Properties []string
	// Archived reads deleted (archived) records instead of live ones: the copy a deletion
	// left, with the properties it changed.
	Archived bool
	// IDProperty names the unique property IDs hold (HubSpot: "email"); empty for CRM ids.
	// Only Writer connectors accept it; the others refuse a non-empty one.
	IDProperty string
}

// Connector is one CRM account reached through its API. Every method makes exactly one HTTP
// request (so that callers can account for the quota call by call) and returns the CRM's
// rate-limit signals with its result. Errors are *APIError where the CRM answered, so callers
// can classify them with errors.As.
type Connector interface {
	// Provider names the CRM ("hubspot", ...).
	Provider() string
	// PageSize is the number of records a full List page holds.
	PageSize() int
	// List reads one page of all live records (or of deleted ones) in the CRM's stable
	// listing order.
	List(ctx context.Context, req ListRequest) (Page, error)
	// Changes reads one page of records modified at or after the cursor, in cursor order.
	Changes(ctx context.Context, req ChangesRequest) (ChangePage, error)
	// BatchRead reads the given records by id, at most BatchSize ids per call. Ids the CRM
	// no longer has are left out of the result.
	BatchRead(ctx context.Context, req BatchReadRequest) (Page, error)
	// BatchSize is the largest number of ids BatchRead accepts.
	BatchSize() int
	// Owners reads one page of owners.
	Owners(ctx context.Context, after string) (OwnerPage, error)
	// Pipelines reads the pipelines (with stages) of an object type.
	Pipelines(ctx context.Context, obj Object) ([]Pipeline, RateLimit, error)
	// Properties reads the property definitions of an object type.
	Properties(ctx context.Context, obj Object) ([]Property, RateLimit, error)
}

// ChangesBySearch is a Connector whose Changes calls go to a search endpoint with a limit of
// its own (HubSpot: a few a second, outside the ten-second window), rather than counting
// against the window like every other call.
type ChangesBySearch interface {
	ChangesBySearch() bool
}

// BulkReader is a Connector that can read a whole object as one bulk export job
// (Salesforce Bulk API 2.0 query), which costs a handful of calls however many records it
// returns. A backfill counts the object, and above a configured size starts a job, polls
// it until done (on a durable timer, not in a loop of calls), then reads its results page
// by page. Every method makes exactly one HTTP request; job ids and locators are small
// strings a workflow can keep; a results page may be read again with its locator.
type BulkReader interface {
	// Count reads how many live records obj has.
	Count(ctx context.Context, obj Object) (int, RateLimit, error)
	// StartQuery creates a job exporting props of every live record of obj.
	StartQuery(ctx context.Context, obj Object, props []string) (jobID string, rl RateLimit, err error)
	// JobDone reports whether the job has completed; a job that failed or was aborted is
	// a *APIError of kind KindInvalid.
	JobDone(ctx context.Context, jobID string) (done bool, rl RateLimit, err error)
	// Results streams one page of the job's results (from locator, "" for the first) to
	// each, one record at a time, without holding the page in memory, and returns the
	// next page's locator ("" after the last). fields are the object's field definitions,
	// which say how to type the export's text cells.
	Results(ctx context.Context, jobID, locator string, maxRecords int, fields []Property, each func(Record) error) (next string, rl RateLimit, err error)
}

// Seeker is a Connector whose full listing can start at a given record id, which lets a
// backfill read disjoint id ranges in parallel. CRMs document their page tokens as opaque,
// so a Seeker only seeks with a token format it has recognised on real pages (SeekCodec),
// and a listing whose tokens it does not recognise is read as one chain.
type Seeker interface {
	// SeekCodec names the format of a listing token, recognised from one page: the token the
	// page was requested with, the last id of the page before it, and the first id of the
	// page itself. It returns "" when the token does not encode an id between the two.
	SeekCodec(token, prevLastID, firstID string) string
	// SeekToken makes a token, in a recognised format, for a listing that returns every
	// record with an id at or above lo (it may also return the record just before lo).
	SeekToken(codec, lo string) (string, error)
	// LastID reads, with one call, the largest live id and how many live records there are:
	// the bounds a backfill splits into id ranges. The id is "" when there are none.
	LastID(ctx context.Context, obj Object) (id string, total int, rl RateLimit, err error)
}

// RankSeeker finds ids by rank. Backfills planned before LastID existed split their listing
// at ids found this way; it is kept for them.
type RankSeeker interface {
	// NthID reads, with one call, the id that comes n places after `after` in id order among
	// live records (n = 0: the first id after it; "" after: from the start) and how many ids
	// come after `after` in all. n is below MaxNth. The id is "" when fewer than n+1 follow.
	NthID(ctx context.Context, obj Object, after string, n int) (id string, total int, rl RateLimit, err error)
	// MaxNth bounds NthID's n (HubSpot's search pages stop at 10,000 results).
	MaxNth() int
}

// DailyUsage is a credential's daily allowance as the CRM accounts it.
type DailyUsage struct {
	// Used and Limit count today's calls and the day's allowance.
	Used, Limit int
	// ResetsAt is when the allowance starts again (HubSpot: midnight in the account's
	// time zone, which only the CRM knows).
	ResetsAt time.Time
}

// UsageReader is a Connector that can report its daily usage, which says when a spent daily
// allowance comes back.
type UsageReader interface {
	DailyUsage(ctx context.Context) (DailyUsage, RateLimit, error)
}

package crm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// Real accounts are wide: hundreds of properties per object (HubSpot's own defaults plus
// each company's), and a sync that wants every one of them must name them all. Some
// requests cannot carry that many: HubSpot's list is a GET whose URI its front end refuses
// past about 16 KB (PostHog PR #31617), Zoho's Get Records takes at most 50 fields. For
// such a connector one page takes several requests: the page request with the properties
// that fit, then reads by id (BatchRead, which carries properties in a body or in groups)
// for the rest, merged by id. Reader does that, and sees to it that the pieces of a record
// are one version of it.

// Op names the kind of request a read is.
type Op int

// The reads a Reader makes.
const (
	// OpList is Connector.List.
	OpList Op = iota + 1
	// OpChanges is Connector.Changes.
	OpChanges
	// OpBatchRead is Connector.BatchRead.
	OpBatchRead
)

// String names the op for logs.
func (o Op) String() string {
	switch o {
	case OpList:
		return "list"
	case OpChanges:
		return "changes"
	case OpBatchRead:
		return "batch read"
	}
	return "unknown op"
}

// Shape is what a request names besides its properties: what decides how many
// properties it can still carry.
type Shape struct {
	Op     Op
	Object Object
	// After is a List request's page token.
	After string
	// IDs are a BatchRead's ids.
	IDs []string
	// Archived asks for deleted records.
	Archived bool
	// IDProperty is a BatchRead's unique property.
	IDProperty string
}

// PropertyLimiter is a Connector whose single requests can carry only some of a wide
// object's properties. A Connector without it sends any number in one request, or none
// (Pipedrive's v2 lists return every field unasked).
type PropertyLimiter interface {
	// FitProperties says how many of props, taken from the first, one request shaped like
	// s can carry (all of them when the request sends no property names). It is 0 when
	// not even one fits beside what s names (its ids, say); the caller then sends fewer
	// ids. A connector that was refused a request as too long (IsTooLong) plans smaller
	// requests from then on, so asking again after such a refusal gives a smaller answer.
	FitProperties(s Shape, props []string) int
}

// IsTooLong reports whether err is a CRM's refusal of a request for its size alone: 414
// (URI too long) or 431 (URI and headers too long, Salesforce). Such a request is split,
// never retried as it was.
func IsTooLong(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusRequestURITooLong || ae.Status == http.StatusRequestHeaderFieldsTooLarge)
}

// URIBudget is the longest request URI a connector plans its requests with. A refusal for
// length lowers it to half the refused URI's length, so a front end stricter than the
// documented limit costs a refusal or two, once per worker; it is never raised again. It
// is safe for concurrent use.
type URIBudget struct{ n atomic.Int64 }

// NewURIBudget starts a budget at n bytes.
func NewURIBudget(n int) *URIBudget {
	b := &URIBudget{}
	b.n.Store(int64(n))
	return b
}

// Bytes is the budget now.
func (b *URIBudget) Bytes() int { return int(b.n.Load()) }

// Refused lowers the budget after a request whose URI was n bytes long was refused for
// its length.
func (b *URIBudget) Refused(n int) {
	for {
		cur := b.n.Load()
		next := min(cur, int64(n/2))
		if next >= cur || b.n.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Send makes one connector request under the quota: it calls do once (or not at all, with
// the error that says why), and returns do's error. op says which pool the call draws on.
type Send func(ctx context.Context, op Op, do func(ctx context.Context) (RateLimit, error)) error

// Reader reads pages and records with every requested property from a Connector, in as
// many requests as the connector needs (PropertyLimiter), each one through Send. Each
// record it returns is one version of the record: when the pieces of a record disagree on
// its modification time (it changed between two requests) or a piece lacks it, the record
// is read again, whole, by id.
type Reader struct {
	Conn Connector
	Send Send
}

// maxRereads bounds how often records that keep changing while their pieces are read are
// read again before the read fails, retryably: a record rewritten between every two
// requests is rare, and the next attempt will likely find it quieter.
const maxRereads = 3

// maxReplans bounds how often a read is planned smaller after refusals for length; each
// refusal at least halves what the connector sends.
const maxReplans = 8

// Calls counts the requests a read made, by what they were for.
type Calls struct {
	// Page is 1 for the page request (List, Changes), 0 for a read by id.
	Page int
	// Fill counts the reads by id that brought what the first request could not carry.
	Fill int
	// Reread counts the reads by id of records that moved between pieces.
	Reread int
	// Refused counts requests refused for their length (and then sent in smaller pieces).
	Refused int
}

// Total is every request the read made.
func (c Calls) Total() int { return c.Page + c.Fill + c.Reread + c.Refused }

// List reads one page of the listing with every property in req.Properties.
func (r Reader) List(ctx context.Context, req ListRequest) (Page, Calls, error) {
	var calls Calls
	var page Page
	n, err := r.carry(ctx, Shape{Op: OpList, Object: req.Object, After: req.After, Archived: req.Archived}, req.Properties, &calls,
		func(ctx context.Context, props []string) (RateLimit, error) {
			sub := req
			sub.Properties = props
			var err error
			page, err = r.Conn.List(ctx, sub)
			return page.RateLimit, err
		})
	if err != nil {
		return Page{RateLimit: page.RateLimit}, calls, err
	}
	recs, err := r.complete(ctx, BatchReadRequest{Object: req.Object, Archived: req.Archived}, page.Records, req.Properties, n, &calls)
	page.Records = recs
	return page, calls, err
}

// Changes reads one page of changes with every property in req.Properties.
func (r Reader) Changes(ctx context.Context, req ChangesRequest) (ChangePage, Calls, error) {
	var calls Calls
	var page ChangePage
	n, err := r.carry(ctx, Shape{Op: OpChanges, Object: req.Object}, req.Properties, &calls,
		func(ctx context.Context, props []string) (RateLimit, error) {
			sub := req
			sub.Properties = props
			var err error
			page, err = r.Conn.Changes(ctx, sub)
			return page.RateLimit, err
		})
	if err != nil {
		return ChangePage{RateLimit: page.RateLimit}, calls, err
	}
	recs, err := r.complete(ctx, BatchReadRequest{Object: req.Object}, page.Records, req.Properties, n, &calls)
	page.Records = recs
	return page, calls, err
}

// BatchRead reads records by id with every property in req.Properties, in chunks of at
// most Conn.BatchSize() ids, and returns them in id order. Ids the CRM does not have are
// left out.
func (r Reader) BatchRead(ctx context.Context, req BatchReadRequest) (Page, Calls, error) {
	var calls Calls
	a := newAssembly(nil)
	rl, err := r.fill(ctx, a, req, req.Properties, true, &calls.Fill, &calls)
	if err != nil {
		return Page{RateLimit: rl}, calls, err
	}
	if err := r.settle(ctx, a, req, &calls); err != nil {
		return Page{RateLimit: rl}, calls, err
	}
	recs, err := a.records()
	// Chunks of ids are read together, so records arrive in no particular order: id order.
	slices.SortFunc(recs, func(x, y Record) int { return CompareIDs(x.ID, y.ID) })
	return Page{Records: recs, RateLimit: rl}, calls, err
}

// carry sends the page request with as many of props as it can carry, planned smaller
// after each refusal for length, and returns how many it carried.
func (r Reader) carry(ctx context.Context, s Shape, props []string, calls *Calls, do func(context.Context, []string) (RateLimit, error)) (int, error) {
	lim, limited := r.Conn.(PropertyLimiter)
	n := len(props)
	resent := false
	for replan := 0; ; replan++ {
		if limited {
			n = min(n, lim.FitProperties(s, props))
		}
		if limited && n == 0 && len(props) > 0 {
			return 0, fmt.Errorf("%s %s: the request cannot carry even one property: pin the properties to sync with `properties:` in the config", s.Op, s.Object)
		}
		err := r.Send(ctx, s.Op, func(ctx context.Context) (RateLimit, error) { return do(ctx, props[:n]) })
		if err == nil {
			calls.Page++
			return n, nil
		}
		if !limited || !IsTooLong(err) {
			return n, err
		}
		calls.Refused++
		switch next := lim.FitProperties(s, props); {
		case replan >= maxReplans:
		case next < n:
			continue // planned smaller
		case !resent:
			// The connector fits as many as before, but may send them another way now
			// (Salesforce: in a Composite API body): once more as planned.
			resent = true
			continue
		}
		return n, fmt.Errorf("%s %s: %w; the request is too long even with %d of %d properties: pin the properties to sync with `properties:` in the config",
			s.Op, s.Object, err, n, len(props))
	}
}

// complete brings the properties of all that the page request did not carry (all[n:])
// into recs by id, and returns them, each one version of its record, in their order.
func (r Reader) complete(ctx context.Context, base BatchReadRequest, recs []Record, all []string, n int, calls *Calls) ([]Record, error) {
	if n >= len(all) || len(recs) == 0 {
		return recs, nil
	}
	a := newAssembly(recs)
	base.IDs = a.order
	if _, err := r.fill(ctx, a, base, all[n:], false, &calls.Fill, calls); err != nil {
		return nil, err
	}
	base.Properties = all
	if err := r.settle(ctx, a, base, calls); err != nil {
		return nil, err
	}
	return a.records()
}

// fill reads props of the records of base.IDs, group after group of properties as the
// connector can carry them and chunk after chunk of ids, and merges each piece into a.
// With first, the first group's pieces introduce the records (a read by id with nothing
// read before); otherwise a only takes pieces of records it holds. count is the counter
// the reads go to. The reads of the groups after the first depend on nothing but the ids,
// so they go out together (at most maxParallelReads at once): a CRM 200 ms away costs a
// wide page one round trip for them, not one per group.
func (r Reader) fill(ctx context.Context, a *assembly, base BatchReadRequest, props []string, first bool, count *int, calls *Calls) (RateLimit, error) {
	lim, limited := r.Conn.(PropertyLimiter)
	var last RateLimit
	size := max(1, r.Conn.BatchSize())
	refusals := 0
	ids := base.IDs
	for len(props) > 0 || first {
		if !first {
			ids = a.live(ids)
		}
		if len(ids) == 0 {
			return last, nil
		}
		// The groups one request each can carry with a chunk of size ids. A first read plans
		// its first group alone: the others read only the records it found.
		shape := Shape{Op: OpBatchRead, Object: base.Object, IDs: ids[:min(size, len(ids))], Archived: base.Archived, IDProperty: base.IDProperty}
		var groups [][]string
		planned := 0
		for rest := props; len(rest) > 0 || (first && len(groups) == 0); {
			n := len(rest)
			if limited && n > 0 {
				n = lim.FitProperties(shape, rest)
			}
			if n == 0 && len(rest) > 0 {
				break // not even one more property fits beside this many ids
			}
			groups, planned, rest = append(groups, rest[:n]), planned+n, rest[n:]
			if first {
				break
			}
		}
		if len(groups) == 0 {
			if size == 1 {
				return last, fmt.Errorf("reading %s by id: the request cannot carry even one property with one id", base.Object)
			}
			size = (size + 1) / 2
			continue
		}
		rl, err := r.readGroups(ctx, a, base, ids, groups, size, first, count)
		if rl.WindowKnown || rl.DailyKnown {
			last = rl
		}
		if err != nil && limited && IsTooLong(err) && refusals < maxReplans {
			refusals++
			calls.Refused++
			if lim.FitProperties(shape, props) >= len(groups[0]) {
				if size == 1 {
					return last, fmt.Errorf("reading %s by id: %w; too long even with one id and %d properties: pin the properties to sync with `properties:` in the config", base.Object, err, len(groups[0]))
				}
				size = (size + 1) / 2 // the ids, not the properties, made it too long
			}
			continue // the same properties, planned again; pieces read so far stay
		}
		if err != nil {
			return last, err
		}
		props = props[planned:]
		if first {
			// The records found are known by their CRM ids from now on, whatever the
			// first read named them by.
			first, base.IDProperty = false, ""
		}
	}
	return last, nil
}

// maxParallelReads bounds the reads by id one page sends at once; the quota ledger (and a
// CRM's own limit on calls in flight, quota.concurrency) still paces each one.
const maxParallelReads = 8

// readGroups reads each group for ids, in chunks of size, and merges the pieces into a; the
// reads go out together, at most maxParallelReads at once. It returns the last rate-limit
// signals and the first error, a refusal for length before any other.
func (r Reader) readGroups(ctx context.Context, a *assembly, base BatchReadRequest, ids []string, groups [][]string, size int, first bool, count *int) (RateLimit, error) {
	type read struct {
		ids, props []string
	}
	var reads []read
	for _, g := range groups {
		for chunk := range slices.Chunk(ids, size) {
			reads = append(reads, read{chunk, g})
		}
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		last     RateLimit
		firstErr error
		slots    = make(chan struct{}, maxParallelReads)
	)
	for _, rd := range reads {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			sub := base
			sub.IDs, sub.Properties = rd.ids, rd.props
			var page Page
			err := r.Send(ctx, OpBatchRead, func(ctx context.Context) (RateLimit, error) {
				var err error
				page, err = r.Conn.BatchRead(ctx, sub)
				return page.RateLimit, err
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil || (IsTooLong(err) && !IsTooLong(firstErr)) {
					firstErr = err
				}
				return
			}
			*count++
			last = page.RateLimit
			a.merge(rd.ids, page.Records, first)
		})
	}
	wg.Wait()
	return last, firstErr
}

// settle reads again, whole and by id, the records of a that moved between pieces, until
// every record is one version (records gone meanwhile are dropped), at most maxRereads
// times. base names the object, the properties and how records are identified.
func (r Reader) settle(ctx context.Context, a *assembly, base BatchReadRequest, calls *Calls) error {
	for round := 0; len(a.moved) > 0; round++ {
		ids := a.movedIDs()
		if round >= maxRereads {
			return &APIError{Kind: KindUnavailable, Endpoint: "reading " + string(base.Object),
				Message: fmt.Sprintf("%d records changed between the requests that read them, %d times in a row (e.g. %s); the next attempt reads them again",
					len(ids), maxRereads, ids[0])}
		}
		again := base
		again.IDs, again.IDProperty = ids, ""
		b := newAssembly(nil)
		if _, err := r.fill(ctx, b, again, base.Properties, true, &calls.Reread, calls); err != nil {
			return err
		}
		a.replace(ids, b)
	}
	return nil
}

// assembly is records being put together from pieces read by separate requests.
type assembly struct {
	order []string           // ids, in the order the records first arrived
	recs  map[string]*Record // the version each record's first piece had
	// props holds merged properties, for records that have had more than one piece.
	props map[string]map[string]json.RawMessage
	moved map[string]bool // pieces disagreed, or one lacked the record
	gone  map[string]bool // read again and not found: deleted (or restored) meanwhile
}

func newAssembly(recs []Record) *assembly {
	a := &assembly{recs: make(map[string]*Record, len(recs)), props: map[string]map[string]json.RawMessage{},
		moved: map[string]bool{}, gone: map[string]bool{}}
	for i := range recs {
		a.introduce(recs[i])
	}
	return a
}

func (a *assembly) introduce(rec Record) {
	if _, dup := a.recs[rec.ID]; dup {
		return
	}
	a.order = append(a.order, rec.ID)
	a.recs[rec.ID] = &rec
}

// live is the ids of records a holds that neither moved nor are gone: the ones worth
// reading more pieces of.
func (a *assembly) live(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := a.recs[id]; ok && !a.moved[id] && !a.gone[id] {
			out = append(out, id)
		}
	}
	return out
}

// merge takes one read's records of ids. A first piece introduces records; a later piece
// of a record is merged when it has the version of the first, and otherwise (or when the
// read lacks the record) marks it moved.
func (a *assembly) merge(ids []string, got []Record, first bool) {
	seen := make(map[string]bool, len(got))
	for _, rec := range got {
		if seen[rec.ID] {
			continue
		}
		seen[rec.ID] = true
		have, ok := a.recs[rec.ID]
		switch {
		case first && !ok:
			a.introduce(rec)
		case !ok || a.moved[rec.ID]:
			// A record nobody asked for is not ours to store.
		case !sameVersion(*have, rec):
			a.moved[rec.ID] = true
		default:
			if err := a.add(have, rec.Properties); err != nil {
				a.moved[rec.ID] = true
			}
		}
	}
	if first {
		return
	}
	for _, id := range ids {
		if _, ok := a.recs[id]; ok && !seen[id] {
			a.moved[id] = true // gone from this read since the first piece: read it again
		}
	}
}

// add merges props into rec's properties.
func (a *assembly) add(rec *Record, props json.RawMessage) error {
	m, ok := a.props[rec.ID]
	if !ok {
		m = map[string]json.RawMessage{}
		if len(rec.Properties) > 0 {
			if err := json.Unmarshal(rec.Properties, &m); err != nil {
				return err
			}
		}
		a.props[rec.ID] = m
	}
	if len(props) == 0 {
		return nil
	}
	var more map[string]json.RawMessage
	if err := json.Unmarshal(props, &more); err != nil {
		return err
	}
	for k, v := range more {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return nil
}

// movedIDs lists the moved records' ids in id order.
func (a *assembly) movedIDs() []string {
	ids := make([]string, 0, len(a.moved))
	for id := range a.moved {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, CompareIDs)
	return ids
}

// replace takes the records ids from b, which read them again: one version each where b
// got them whole, gone where b did not find them, still moved where b's pieces disagreed.
func (a *assembly) replace(ids []string, b *assembly) {
	for _, id := range ids {
		rec, ok := b.recs[id]
		switch {
		case !ok:
			a.gone[id] = true
			delete(a.moved, id)
		case b.moved[id]:
		default:
			a.recs[id] = rec
			if m, ok := b.props[id]; ok {
				a.props[id] = m
			} else {
				delete(a.props, id)
			}
			delete(a.moved, id)
		}
	}
}

// records is the assembled records in their order, gone ones left out.
func (a *assembly) records() ([]Record, error) {
	out := make([]Record, 0, len(a.order))
	for _, id := range a.order {
		if a.gone[id] {
			continue
		}
		rec := *a.recs[id]
		if m, ok := a.props[id]; ok {
			b, err := encodeProps(m)
			if err != nil {
				return nil, fmt.Errorf("merging the properties of %s: %w", id, err)
			}
			rec.Properties = b
		}
		out = append(out, rec)
	}
	return out, nil
}

// sameVersion reports whether two pieces of a record come from one version of it.
func sameVersion(a, b Record) bool {
	return a.UpdatedAt.Equal(b.UpdatedAt) && a.Archived == b.Archived && a.ArchivedAt.Equal(b.ArchivedAt)
}

// Plan is how one page of an object is read with a given property list, as planned
// before any refusal for length.
type Plan struct {
	// Properties is how many properties a record is read with.
	Properties int
	// Groups is how many groups of properties a page's records are read in: 1 when the
	// page request carries them all.
	Groups int
	// PageSize is how many records a full page holds, PerPage how many requests reading
	// it takes: the page request, then the reads by id of each further group (in chunks of
	// BatchSize ids).
	PageSize, PerPage int
}

// PlanPage plans the reading of one full page of s.Op (OpList or OpChanges) with props.
func PlanPage(c Connector, s Shape, props []string) Plan {
	p := Plan{Properties: len(props), Groups: 1, PageSize: c.PageSize(), PerPage: 1}
	lim, ok := c.(PropertyLimiter)
	if !ok || len(props) == 0 {
		return p
	}
	rest := props[min(len(props), lim.FitProperties(s, props)):]
	chunk := max(1, min(c.BatchSize(), p.PageSize))
	ids := make([]string, chunk)
	for len(rest) > 0 {
		n := lim.FitProperties(Shape{Op: OpBatchRead, Object: s.Object, IDs: ids, Archived: s.Archived}, rest)
		if n <= 0 {
			break // not readable as planned; Reader splits the ids further
		}
		rest = rest[n:]
		p.Groups++
		p.PerPage += (p.PageSize + chunk - 1) / chunk
	}
	return p
}

// encodeProps writes merged properties as a JSON object. Its values are raw JSON the
// decoder already checked, so they are copied as they are, in no particular order: a
// wide record has hundreds, and json.Marshal would sort the keys and check every value
// again (PostgreSQL's jsonb keeps its own order anyway).
func encodeProps(m map[string]json.RawMessage) (json.RawMessage, error) {
	size := 2
	for k, v := range m {
		size += len(k) + len(v) + 4
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		if plainKey(k) {
			b = append(b, '"')
			b = append(b, k...)
			b = append(b, '"')
		} else {
			q, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			b = append(b, q...)
		}
		b = append(b, ':')
		if len(v) == 0 {
			v = json.RawMessage("null")
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// plainKey reports whether k needs no escaping in a JSON string.
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

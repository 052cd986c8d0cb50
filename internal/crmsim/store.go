package crmsim

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Record is the ground truth for one CRM record, as Snapshot and the admin snapshot route
// return it. An empty property value is what the API sends as JSON null.
type Record struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Archived   bool      `json:"archived"`
	ArchivedAt time.Time `json:"archivedAt,omitzero"`
	// Properties holds every core property of the object, empty strings included, and
	// every wide one (wide.go) that holds a value: an absent property is empty.
	Properties map[string]string `json:"properties"`
	// Associations maps a target object ("companies") to associated ids, ascending.
	// Archiving a record does not remove its associations.
	Associations map[string][]string `json:"associations,omitempty"`
}

// state is one immutable version of a record. Updates replace the whole state, so a search
// running under the index lag can keep reading an older version.
//
// A real account's objects have hundreds of properties, most of them empty on most
// records (wide.go). Holding them all densely would take gigabytes for a demo-sized
// account, so a state holds its core properties (the few the simulator's own logic reads
// and writes) densely and the rest sparsely: a value drawn from the record's seed, unless
// a write or a change since has set it (wide).
type state struct {
	at         time.Time // when this version was written, by the sim clock; zero when seeded
	createdAt  time.Time
	updatedAt  time.Time
	archivedAt time.Time
	archived   bool
	typ        *objectType
	vals       []string       // the core properties, indexed like objectType.props[:typ.ncore]
	wide       map[int]string // wide properties set since seeding, by index in objectType.props
	seed       uint64         // draws the seeded values of the wide properties
}

// newState is an empty version of a record of type t whose wide properties are drawn from
// seed.
func newState(t *objectType, seed uint64) *state {
	return &state{typ: t, vals: make([]string, t.ncore), seed: seed}
}

func (st *state) clone() *state {
	c := *st
	c.vals = slices.Clone(st.vals)
	if st.wide != nil {
		c.wide = make(map[int]string, len(st.wide))
		for k, v := range st.wide {
			c.wide[k] = v
		}
	}
	return &c
}

// get is property i's value; "" is empty (JSON null).
func (st *state) get(i int) string {
	if i < len(st.vals) {
		return st.vals[i]
	}
	if v, ok := st.wide[i]; ok {
		return v
	}
	return st.typ.seededWide(st.seed, i)
}

// put sets property i's value; "" empties it.
func (st *state) put(i int, v string) {
	if i < len(st.vals) {
		st.vals[i] = v
		return
	}
	if st.wide == nil {
		st.wide = make(map[int]string, 4)
	}
	st.wide[i] = v
}

// changed calls fn with each property whose value differs between prev and st, in index
// order.
func (st *state) changed(prev *state, fn func(i int, v string)) {
	for i, v := range st.vals {
		if v != prev.vals[i] {
			fn(i, v)
		}
	}
	var wide []int
	for i := range st.wide {
		wide = append(wide, i)
	}
	for i := range prev.wide {
		if _, ok := st.wide[i]; !ok {
			wide = append(wide, i)
		}
	}
	slices.Sort(wide)
	for _, i := range wide {
		if v := st.get(i); v != prev.get(i) {
			fn(i, v)
		}
	}
}

// entry is one record with its version history and associations.
type entry struct {
	id    int64
	sid   string
	tie   uint64 // orders records with equal sort values in search: stable, but not by id
	cur   *state
	hist  []*state // older versions still needed by a lagging search index, oldest first
	assoc [numObjects][]string
}

// objectStore holds one object's records, sorted by numeric id, which is also insertion
// order because new records always take a higher id.
type objectStore struct {
	typ      *objectType
	entries  []*entry
	byID     map[int64]int // id -> index in entries
	archived []int         // indices of archived entries, ascending
	lastID   int64
	// uniq maps each of typ.unique's properties from a lower-cased value to the records
	// holding it, so lookups by email stay fast on large datasets. It is nil until the
	// seeded values are filled in; from then on add and the batch writes keep it current
	// (the mutator never changes a unique value).
	uniq []map[string][]*entry
}

func newObjectStore(t *objectType, n int) *objectStore {
	return &objectStore{typ: t, entries: make([]*entry, 0, n), byID: make(map[int64]int, n)}
}

func (o *objectStore) add(e *entry) {
	o.byID[e.id] = len(o.entries)
	o.entries = append(o.entries, e)
	o.lastID = e.id
	if o.uniq != nil {
		o.indexUnique(e, e.cur)
	}
}

// buildUnique indexes every record's unique values; seeding calls it once values are set.
func (o *objectStore) buildUnique() {
	o.uniq = make([]map[string][]*entry, len(o.typ.unique))
	for k := range o.uniq {
		o.uniq[k] = make(map[string][]*entry)
	}
	for _, e := range o.entries {
		o.indexUnique(e, e.cur)
	}
}

// indexUnique adds e under st's unique values.
func (o *objectStore) indexUnique(e *entry, st *state) {
	for k, i := range o.typ.unique {
		if v := st.get(i); v != "" {
			key := strings.ToLower(v)
			o.uniq[k][key] = append(o.uniq[k][key], e)
		}
	}
}

// unindexUnique removes e from under st's unique values.
func (o *objectStore) unindexUnique(e *entry, st *state) {
	for k, i := range o.typ.unique {
		if v := st.get(i); v != "" {
			key := strings.ToLower(v)
			list := slices.DeleteFunc(o.uniq[k][key], func(x *entry) bool { return x == e })
			if len(list) == 0 {
				delete(o.uniq[k], key)
			} else {
				o.uniq[k][key] = list
			}
		}
	}
}

// uniqueSlot is the position of property index prop in typ.unique, or -1.
func (o *objectStore) uniqueSlot(prop int) int {
	return slices.Index(o.typ.unique, prop)
}

// holders lists the records whose unique property prop holds value (any case), in the
// order they took it.
func (o *objectStore) holders(prop int, value string) []*entry {
	k := o.uniqueSlot(prop)
	if k < 0 || value == "" {
		return nil
	}
	return o.uniq[k][strings.ToLower(value)]
}

func (o *objectStore) lookup(id string) (*entry, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, false
	}
	i, ok := o.byID[n]
	if !ok {
		return nil, false
	}
	return o.entries[i], true
}

func (o *objectStore) live() int { return len(o.entries) - len(o.archived) }

func (o *objectStore) markArchived(e *entry, archived bool) {
	i := o.byID[e.id]
	pos, found := slices.BinarySearch(o.archived, i)
	switch {
	case archived && !found:
		o.archived = slices.Insert(o.archived, pos, i)
	case !archived && found:
		o.archived = slices.Delete(o.archived, pos, pos+1)
	}
}

// page returns up to limit records with id >= from, either live or archived ones, and the
// id the next page starts at (0 when this is the last page). It costs O(log n + limit) plus
// any records of the other kind it has to step over.
func (o *objectStore) page(from int64, limit int, archived bool) ([]*entry, int64) {
	out := make([]*entry, 0, min(limit, 100))
	if archived {
		start := sort.Search(len(o.archived), func(k int) bool { return o.entries[o.archived[k]].id >= from })
		k := start
		for ; k < len(o.archived) && len(out) < limit; k++ {
			out = append(out, o.entries[o.archived[k]])
		}
		if k < len(o.archived) {
			return out, o.entries[o.archived[k]].id
		}
		return out, 0
	}
	i := sort.Search(len(o.entries), func(k int) bool { return o.entries[k].id >= from })
	for ; i < len(o.entries) && len(out) < limit; i++ {
		if !o.entries[i].cur.archived {
			out = append(out, o.entries[i])
		}
	}
	for ; i < len(o.entries); i++ {
		if !o.entries[i].cur.archived {
			return out, o.entries[i].id
		}
	}
	return out, 0
}

// commit makes next the record's current version. With an index lag it keeps the versions
// a lagging search may still see, and drops the ones no search can reach any more.
func (s *Sim) commit(e *entry, next *state, now time.Time) {
	next.at = now
	if lag := s.opts.SearchIndexLag; lag > 0 {
		e.hist = append(e.hist, e.cur)
		cutoff := now.Add(-lag)
		keep := 0
		for k, h := range e.hist {
			if !h.at.After(cutoff) {
				keep = k // newest version a search at the cutoff still needs
			}
		}
		e.hist = e.hist[keep:]
	}
	e.cur = next
}

// visible is the version of e that search sees at cutoff (now minus the index lag), or
// nil when the record did not exist yet.
func visible(e *entry, cutoff time.Time) *state {
	if !e.cur.at.After(cutoff) {
		return e.cur
	}
	for k := len(e.hist) - 1; k >= 0; k-- {
		if !e.hist[k].at.After(cutoff) {
			return e.hist[k]
		}
	}
	return nil
}

func (o *objectStore) record(e *entry) Record {
	st := e.cur
	r := Record{
		ID:         e.sid,
		CreatedAt:  st.createdAt,
		UpdatedAt:  st.updatedAt,
		Archived:   st.archived,
		ArchivedAt: st.archivedAt,
		Properties: make(map[string]string, len(st.vals)),
	}
	for i, v := range st.vals {
		r.Properties[o.typ.props[i].Name] = v
	}
	for i := len(st.vals); i < len(o.typ.props); i++ {
		if v := st.get(i); v != "" {
			r.Properties[o.typ.props[i].Name] = v
		}
	}
	for k, ids := range e.assoc {
		if len(ids) == 0 {
			continue
		}
		if r.Associations == nil {
			r.Associations = make(map[string][]string)
		}
		r.Associations[objectName(objectKind(k))] = sortedIDs(ids)
	}
	return r
}

func objectName(k objectKind) string {
	return [numObjects]string{Contacts, Companies, Deals}[k]
}

// sortedIDs copies ids in numeric order.
func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.SortFunc(out, compareIDs)
	return out
}

// compareIDs orders numeric id strings by value: shorter means smaller.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Snapshot returns the ground truth for object ("contacts", "companies" or "deals"):
// every record, archived ones included, sorted by numeric id.
func (s *Sim) Snapshot(object string) ([]Record, error) {
	k, ok := kindByName(object)
	if !ok {
		return nil, fmt.Errorf("snapshot: unknown object %q", object)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.objects[k]
	out := make([]Record, len(o.entries))
	for i, e := range o.entries {
		out[i] = o.record(e)
	}
	return out, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(isoMillis)
}

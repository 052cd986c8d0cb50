package crmsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The batch write endpoints, named as in their paths (shared CRM API reference, 1.4).
const (
	writeCreate = "create"
	writeUpdate = "update"
	writeUpsert = "upsert"
)

// DefaultWriteFaultCategory is the category of an injected write failure: HubSpot's
// category for a failure on its side, which a retry of the same input may get past.
const DefaultWriteFaultCategory = "INTERNAL_ERROR"

// WriteFaults makes some inputs of the batch write endpoints (create, update, upsert) fail
// one by one in their batch's 207, as an input HubSpot could not write this time does,
// while the other inputs are written. A failed input is not applied. The choice is
// deterministic: it counts write inputs in the order they arrive, from when the faults
// were set. The zero value injects none.
type WriteFaults struct {
	// Every fails every Every-th input (7: the 7th, 14th, ...). Zero with Count > 0 fails
	// each of the next Count inputs.
	Every int `json:"every"`
	// Count stops injecting after this many failures; zero means no limit (with Every).
	Count int `json:"count"`
	// Category is the failed inputs' error category; default DefaultWriteFaultCategory.
	Category string `json:"category"`
}

// Validate reports negative counts.
func (f WriteFaults) Validate() error {
	return errors.Join(negatives(namedValue{"write faults every", int64(f.Every)}, namedValue{"write faults count", int64(f.Count)})...)
}

func (f WriteFaults) active() bool { return f.Every > 0 || f.Count > 0 }

// SetWriteFaults replaces the write faults in force and restarts their count of inputs.
func (s *Sim) SetWriteFaults(f WriteFaults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write faults: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes.setFaults(f)
	return nil
}

// WriteStats is the bookkeeping of the batch write endpoints since New or the last
// ResetWriteStats, for checking that a writer loses no input and applies none twice: every
// input sent with an objectWriteTraceId should be applied exactly once.
type WriteStats struct {
	// Applied counts inputs written; Created and Updated split them.
	Applied int `json:"applied"`
	Created int `json:"created"`
	Updated int `json:"updated"`
	// Untraced counts applied inputs sent without an objectWriteTraceId.
	Untraced int `json:"untraced"`
	// TraceIDs counts distinct trace ids applied at least once.
	TraceIDs int `json:"traceIds"`
	// Failed counts inputs refused in a 207 (invalid values, missing records, conflicts,
	// injected faults); InjectedFaults counts the injected ones among them.
	Failed         int `json:"failed"`
	InjectedFaults int `json:"injectedFaults"`
	// Duplicates counts trace ids applied more than once; DuplicateTraceIDs lists the
	// first maxDuplicateList of them, in the order they were applied a second time.
	Duplicates        int      `json:"duplicates"`
	DuplicateTraceIDs []string `json:"duplicateTraceIds"`
}

// maxDuplicateList bounds WriteStats.DuplicateTraceIDs so a badly broken writer does not
// make the admin answer huge; the count is always exact.
const maxDuplicateList = 1000

// WriteStats returns the write bookkeeping.
func (s *Sim) WriteStats() WriteStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.writes.stats
	st.TraceIDs = len(s.writes.applied)
	st.DuplicateTraceIDs = slices.Clone(s.writes.dupList)
	if st.DuplicateTraceIDs == nil {
		st.DuplicateTraceIDs = []string{}
	}
	return st
}

// AppliedCount is how many times an input with this objectWriteTraceId was written.
func (s *Sim) AppliedCount(traceID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.writes.applied[traceID]
}

// ResetWriteStats zeroes the write bookkeeping. The write faults in force stay.
func (s *Sim) ResetWriteStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes.stats = WriteStats{}
	s.writes.applied = map[string]int{}
	s.writes.dupList = nil
}

// writeLedger is the write bookkeeping and fault state; s.mu guards it.
type writeLedger struct {
	stats    WriteStats
	applied  map[string]int // trace id -> times applied
	dupList  []string
	faults   WriteFaults
	seen     int // inputs counted since the faults were set
	injected int // failures injected since the faults were set
}

func newWriteLedger(f WriteFaults) writeLedger {
	w := writeLedger{applied: map[string]int{}}
	w.setFaults(f)
	return w
}

func (w *writeLedger) setFaults(f WriteFaults) {
	if f.Category == "" {
		f.Category = DefaultWriteFaultCategory
	}
	w.faults, w.seen, w.injected = f, 0, 0
}

// takeFault counts one input and reports whether it is to fail.
func (w *writeLedger) takeFault() bool {
	f := w.faults
	if !f.active() {
		return false
	}
	w.seen++
	if f.Count > 0 && w.injected >= f.Count {
		return false
	}
	if f.Every > 0 && w.seen%f.Every != 0 {
		return false
	}
	w.injected++
	w.stats.InjectedFaults++
	return true
}

func (w *writeLedger) record(trace string, created bool) {
	w.stats.Applied++
	if created {
		w.stats.Created++
	} else {
		w.stats.Updated++
	}
	if trace == "" {
		w.stats.Untraced++
		return
	}
	w.applied[trace]++
	if w.applied[trace] == 2 {
		w.stats.Duplicates++
		if len(w.dupList) < maxDuplicateList {
			w.dupList = append(w.dupList, trace)
		}
	}
}

// writeRequest is the body of batch create, update and upsert: the spec's
// BatchInputSimplePublicObjectInputForCreate, BatchInputSimplePublicObjectBatchInput and
// BatchInputSimplePublicObjectBatchInputUpsert.
type writeRequest struct {
	Inputs []struct {
		ID                 json.RawMessage            `json:"id"`
		IDProperty         string                     `json:"idProperty"`
		ObjectWriteTraceID string                     `json:"objectWriteTraceId"`
		Properties         map[string]json.RawMessage `json:"properties"`
		// Associations are accepted on create, as HubSpot does, but not applied.
		Associations json.RawMessage `json:"associations"`
	} `json:"inputs"`
}

// writtenObject is one result of a batch write: SimplePublicObject, or
// SimplePublicUpsertObject with "new", plus the input's objectWriteTraceId.
type writtenObject struct {
	apiObject
	New                *bool  `json:"new,omitempty"`
	ObjectWriteTraceID string `json:"objectWriteTraceId,omitempty"`
}

type writeResponse struct {
	Status      string          `json:"status"`
	Results     []writtenObject `json:"results"`
	NumErrors   int             `json:"numErrors,omitempty"`
	Errors      []standardError `json:"errors,omitempty"`
	StartedAt   string          `json:"startedAt"`
	CompletedAt string          `json:"completedAt"`
}

// writeInput is one decoded input.
type writeInput struct {
	trace      string
	id         string
	idProperty string
	names      []string // property names, sorted
	vals       map[string]string
}

// itemError is why one input was not written.
type itemError struct {
	injected bool // by WriteFaults, not by the input's content
	category string
	message  string
	details  []json.RawMessage // StandardError.errors
}

// plannedWrite is what one input will do, decided before anything is applied.
type plannedWrite struct {
	in     writeInput
	target *entry // the record to update; nil to create one
	err    *itemError
}

// serveBatchWrite answers POST /crm/v3/objects/{object}/batch/{create,update,upsert}.
func serveBatchWrite(op string) func(*Sim, *call) reply {
	return func(s *Sim, c *call) reply { return s.serveBatchWrite(c, op) }
}

func (s *Sim) serveBatchWrite(c *call, op string) reply {
	o := c.route.obj
	var body writeRequest
	if err := decodeBody(c.r, &body); err != nil {
		return badRequest(c, err.Error())
	}
	if len(body.Inputs) > batchMaxInputs {
		return badRequest(c, fmt.Sprintf("Too many inputs: %d. The maximum is %d.", len(body.Inputs), batchMaxInputs))
	}
	inputs := make([]writeInput, len(body.Inputs))
	seen := make(map[string]bool, len(body.Inputs))
	var dup []string
	for i, raw := range body.Inputs {
		in := writeInput{trace: raw.ObjectWriteTraceID, idProperty: raw.IDProperty, vals: make(map[string]string, len(raw.Properties))}
		for name, v := range raw.Properties {
			in.vals[name], _ = rawString(v) // null clears the property
			in.names = append(in.names, name)
		}
		slices.Sort(in.names)
		if op != writeCreate {
			id, ok := rawString(raw.ID)
			if !ok || id == "" {
				return badRequest(c, fmt.Sprintf("inputs[%d].id is required", i))
			}
			in.id = id
			if rep, bad := s.checkIDProperty(c, o, op, in.idProperty); bad {
				return rep
			}
			key := id
			if in.idProperty != "" {
				key = strings.ToLower(id)
			}
			if seen[key] {
				dup = append(dup, id)
			}
			seen[key] = true
		}
		inputs[i] = in
	}
	if len(dup) > 0 {
		return badRequest(c, fmt.Sprintf("Duplicate IDs found in batch input: [%s]. IDs must be unique", strings.Join(dup, ", ")))
	}

	s.mu.Lock()
	plans := s.planWrites(o, op, inputs)
	for _, p := range plans {
		if p.err != nil && p.in.trace == "" && op == writeCreate {
			// HubSpot answers a create batch input by input only when each input carries
			// an objectWriteTraceId (its error-handling guide); otherwise the batch fails.
			s.mu.Unlock()
			status := http.StatusBadRequest
			if p.err.injected {
				status = http.StatusInternalServerError
			}
			return errorReply(status, c.corr, p.err.category, p.err.message)
		}
	}
	resp := writeResponse{Status: "COMPLETE", Results: []writtenObject{}, StartedAt: formatTime(c.now)}
	m := mutation{s: s, g: gen{rng: s.rng, cat: &s.cat, sim: s}, now: s.now()}
	var failed []plannedWrite
	for _, p := range plans {
		if p.err != nil {
			s.writes.stats.Failed++
			failed = append(failed, p)
			continue
		}
		resp.Results = append(resp.Results, s.applyWrite(&m, o, op, p))
	}
	// Queued while s.mu is still held, so webhooks leave in the order the changes were made.
	s.hooks.enqueue(m.events)
	s.mu.Unlock()

	resp.CompletedAt = formatTime(s.now())
	if len(failed) == 0 {
		if op == writeCreate {
			return jsonReply(http.StatusCreated, resp)
		}
		return jsonReply(http.StatusOK, resp)
	}
	resp.Errors = groupWriteErrors(failed)
	resp.NumErrors = len(resp.Errors)
	return jsonReply(http.StatusMultiStatus, resp)
}

// checkIDProperty refuses an idProperty that is not one of the object's unique properties,
// as HubSpot does for the whole batch. Upsert needs one; update takes the CRM id without.
// hs_object_id is refused too: HubSpot calls it non-unique and wants the record id in "id"
// with no idProperty.
func (s *Sim) checkIDProperty(c *call, o *objectStore, op, idProperty string) (reply, bool) {
	if idProperty == "" {
		if op == writeUpsert {
			return badRequest(c, "idProperty is required to upsert: name a unique property such as email"), true
		}
		return reply{}, false
	}
	if i, ok := o.typ.index[idProperty]; ok && o.uniqueSlot(i) >= 0 {
		return reply{}, false
	}
	port := s.opts.PortalID
	return badRequest(c, fmt.Sprintf("Unable to perform update/upsert by non-unique %s property %s in portal ID %d",
		o.typ.typeID(), idProperty, port)), true
}

// planWrites decides each input's outcome in order, so that inputs of one batch see each
// other: two creates claiming one email conflict just as two separate calls would.
func (s *Sim) planWrites(o *objectStore, op string, inputs []writeInput) []plannedWrite {
	plans := make([]plannedWrite, len(inputs))
	// claimed maps a unique property slot and lower-cased value to the input that takes it.
	claimed := make(map[string]int)
	for n, in := range inputs {
		plans[n] = s.planWrite(o, op, in, claimed, n)
	}
	return plans
}

// planWrite decides one input's outcome; see planWrites.
func (s *Sim) planWrite(o *objectStore, op string, in writeInput, claimed map[string]int, n int) plannedWrite {
	p := plannedWrite{in: in}
	fail := func(e *itemError) plannedWrite {
		p.err = e
		return p
	}
	if s.writes.takeFault() {
		return fail(&itemError{injected: true, category: s.writes.faults.Category,
			message: "Unable to write this object right now; try again (injected by crmsim)"})
	}
	if op != writeCreate {
		e, ok := o.findBy(in.idProperty, in.id, false)
		switch {
		case ok && !e.cur.archived:
			p.target = e
		case op == writeUpdate:
			return fail(&itemError{category: "OBJECT_NOT_FOUND",
				message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", o.typ.upper)})
		}
	}
	if _, given := in.vals[in.idProperty]; op == writeUpsert && p.target == nil && !given {
		// A record the upsert creates holds the id as its idProperty value, so the id is
		// validated as one (an existing record keeps its value as stored).
		p.in.vals = withValue(in.vals, in.idProperty, in.id)
		p.in.names = append(slices.Clone(in.names), in.idProperty)
		slices.Sort(p.in.names)
	}
	if e := validateProps(o.typ, p.in); e != nil {
		return fail(e)
	}
	if e := uniqueConflict(o, p, claimed, n); e != nil {
		return fail(e)
	}
	return p
}

// withValue returns a copy of m with k set to v.
func withValue(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// uniqueConflict refuses an input whose unique value (email) another live record holds,
// or an earlier input of the batch claimed, and otherwise claims it: HubSpot keeps one
// contact per email and answers a create that would duplicate one with CONFLICT.
func uniqueConflict(o *objectStore, p plannedWrite, claimed map[string]int, n int) *itemError {
	for slot, i := range o.typ.unique {
		name := o.typ.props[i].Name
		v, set := p.in.vals[name]
		if !set || v == "" {
			continue
		}
		key := strconv.Itoa(slot) + "\x00" + strings.ToLower(v)
		if _, taken := claimed[key]; taken {
			return &itemError{category: "CONFLICT",
				message: fmt.Sprintf("%s already exists: another input of this batch has %s %s", titleCase(o.typ.singular), name, v)}
		}
		for _, h := range o.holders(i, v) {
			if h != p.target && !h.cur.archived {
				return &itemError{category: "CONFLICT",
					message: fmt.Sprintf("%s already exists. Existing ID: %s", titleCase(o.typ.singular), h.sid)}
			}
		}
		claimed[key] = n
	}
	return nil
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// propertyError is one element of the JSON list in HubSpot's "Property values were not
// valid: [...]" message, in HubSpot's field order.
type propertyError struct {
	IsValid bool   `json:"isValid"`
	Message string `json:"message"`
	Error   string `json:"error"`
	Name    string `json:"name"`
}

// errorDetail is StandardError's ErrorDetail.
type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code"`
	Context map[string][]string `json:"context"`
}

// validateProps checks an input's properties against the schema the way HubSpot does
// before writing: every property must exist and be writable, an email must be an address,
// and an enumeration's value must be one of its options. Empty values clear a property
// and are always valid.
func validateProps(t *objectType, in writeInput) *itemError {
	var bad []propertyError
	for _, name := range in.names {
		v := in.vals[name]
		i, ok := t.index[name]
		switch {
		case !ok:
			bad = append(bad, propertyError{Message: fmt.Sprintf("Property %q does not exist", name), Error: "PROPERTY_DOESNT_EXIST", Name: name})
		case t.props[i].ModificationMetadata.ReadOnlyValue:
			bad = append(bad, propertyError{Message: fmt.Sprintf("%s is a read only property; its value cannot be set.", name),
				Error: "READ_ONLY_VALUE", Name: name})
		case v == "":
		case name == "email" && !validEmail(v):
			bad = append(bad, propertyError{Message: fmt.Sprintf("Email address %s is invalid", v), Error: "INVALID_EMAIL", Name: name})
		case t.props[i].Type == typeEnumeration && len(t.props[i].Options) > 0 && !hasOption(t.props[i].Options, v):
			values := make([]string, len(t.props[i].Options))
			for k, opt := range t.props[i].Options {
				values[k] = opt.Value
			}
			bad = append(bad, propertyError{Message: fmt.Sprintf("%s was not one of the allowed options: [%s]", v, strings.Join(values, ", ")),
				Error: "INVALID_OPTION", Name: name})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	list, _ := json.Marshal(bad) // strings and bools only
	e := &itemError{category: "VALIDATION_ERROR", message: "Property values were not valid: " + string(list)}
	for _, b := range bad {
		d, _ := json.Marshal(errorDetail{Message: b.Message, Code: b.Error, Context: map[string][]string{"propertyName": {b.Name}}})
		e.details = append(e.details, d)
	}
	return e
}

// validEmail is the sim's notion of an address: exactly one '@' with text on both sides.
func validEmail(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@")
}

func hasOption(opts []propertyOption, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// applyWrite makes one planned input's change, through the same commit path, stamps and
// webhooks as the mutator, and returns its result.
func (s *Sim) applyWrite(m *mutation, o *objectStore, op string, p plannedWrite) writtenObject {
	at := m.stamp()
	var e *entry
	created := p.target == nil
	if created {
		id := o.lastID + 1
		e = &entry{id: id, sid: strconv.FormatInt(id, 10), tie: tieHash(s.opts.Seed, id)}
		// A record created through the API holds what was written and nothing else: no
		// seeded wide values (seed 0).
		st := newState(o.typ, 0)
		st.createdAt, st.updatedAt, st.at = at, at, m.now
		st.put(o.typ.index[propCreateDate], formatTime(at))
		st.put(o.typ.index[o.typ.modProp], formatTime(at))
		st.put(o.typ.index[propObjectID], e.sid)
		for name, v := range p.in.vals {
			st.put(o.typ.index[name], v)
		}
		e.cur = st
		o.add(e) // indexes the unique values
		m.emit(o, e, hookCreation, at)
	} else {
		e = p.target
		prev := e.cur
		next := prev.clone()
		for name, v := range p.in.vals {
			next.put(o.typ.index[name], v)
		}
		o.unindexUnique(e, prev)
		m.touch(o, e, next, at)
		o.indexUnique(e, next)
		m.emitPropertyChanges(o, e, prev, next)
	}
	s.writes.record(p.in.trace, created)

	props := slices.Clone(o.typ.core)
	for _, name := range p.in.names {
		props = append(props, o.typ.index[name])
	}
	slices.Sort(props)
	res := writtenObject{apiObject: render(o, e, e.cur, slices.Compact(props), nil), ObjectWriteTraceID: p.in.trace}
	if op == writeUpsert {
		res.New = &created
	}
	return res
}

// groupWriteErrors turns failed inputs into StandardErrors, one per distinct category and
// message, naming the inputs in context: by objectWriteTraceId where they carried one, by
// id otherwise (HubSpot's batch read names missing records the same way).
func groupWriteErrors(failed []plannedWrite) []standardError {
	var out []standardError
	index := map[[2]string]int{}
	for _, p := range failed {
		key := [2]string{p.err.category, p.err.message}
		k, ok := index[key]
		if !ok {
			k = len(out)
			index[key] = k
			details := p.err.details
			if details == nil {
				details = []json.RawMessage{}
			}
			out = append(out, standardError{Status: "error", Category: p.err.category, Message: p.err.message,
				Errors: details, Context: map[string][]string{}, Links: map[string]string{}})
		}
		switch {
		case p.in.trace != "":
			out[k].Context["objectWriteTraceId"] = append(out[k].Context["objectWriteTraceId"], p.in.trace)
		case p.in.id != "":
			out[k].Context["ids"] = append(out[k].Context["ids"], p.in.id)
		}
	}
	return out
}

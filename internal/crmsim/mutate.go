package crmsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// MutationSpec asks for a batch of changes, as users and integrations make them while a
// sync runs.
type MutationSpec struct {
	// Object is "contacts", "companies" or "deals"; "" applies the counts to each of the three.
	Object string `json:"object"`
	// Updates, Creates, Archives and Restores are how many records to change each way.
	// Picks are limited to what exists: restoring 5 with 2 archived restores 2.
	Updates  int `json:"updates"`
	Creates  int `json:"creates"`
	Archives int `json:"archives"`
	Restores int `json:"restores"`
	// SameTimestamp gives every change of the call one identical millisecond, like a bulk
	// import or a workflow touching thousands of records at once.
	SameTimestamp bool `json:"sameTimestamp"`
}

// Changes lists the ids one Mutate call changed in one object.
type Changes struct {
	Updated  []string `json:"updated"`
	Created  []string `json:"created"`
	Archived []string `json:"archived"`
	Restored []string `json:"restored"`
}

// MutationResult reports what Mutate changed.
type MutationResult struct {
	// Updated, Created, Archived and Restored list the changed ids. When the spec named no
	// object they concatenate all three objects' ids, which may collide: use ByObject.
	Updated  []string `json:"updated"`
	Created  []string `json:"created"`
	Archived []string `json:"archived"`
	Restored []string `json:"restored"`
	// ByObject splits the changes per object.
	ByObject map[string]Changes `json:"byObject"`
	// At is the timestamp of the last change (of every change, with SameTimestamp).
	At time.Time `json:"at"`
}

func (spec MutationSpec) validate() ([]objectKind, error) {
	var errs []error
	for _, v := range []struct {
		name string
		n    int
	}{{"updates", spec.Updates}, {"creates", spec.Creates}, {"archives", spec.Archives}, {"restores", spec.Restores}} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %d", v.name, v.n))
		}
	}
	kinds := []objectKind{contactsKind, companiesKind, dealsKind}
	if spec.Object != "" {
		k, ok := kindByName(spec.Object)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown object %q", spec.Object))
		}
		kinds = []objectKind{k}
	}
	return kinds, errors.Join(errs...)
}

// Mutate applies spec at the clock's current time. Which records change is pseudo-random
// but determined by the seed and the sequence of calls.
func (s *Sim) Mutate(spec MutationSpec) (MutationResult, error) {
	kinds, err := spec.validate()
	if err != nil {
		return MutationResult{}, fmt.Errorf("mutate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := mutation{s: s, g: gen{rng: s.rng, cat: &s.cat, sim: s}, now: s.now(), same: spec.SameTimestamp}
	if m.same {
		m.shared = s.stamp(m.now)
	}
	res := MutationResult{ByObject: make(map[string]Changes, len(kinds))}
	for _, k := range kinds {
		var ch Changes
		o := s.objects[k]
		for _, e := range m.pickLive(o, spec.Updates) {
			m.update(o, e)
			ch.Updated = append(ch.Updated, e.sid)
		}
		for range spec.Creates {
			ch.Created = append(ch.Created, m.create(o).sid)
		}
		for _, e := range m.pickLive(o, spec.Archives) {
			m.setArchived(o, e, true)
			ch.Archived = append(ch.Archived, e.sid)
		}
		for _, e := range m.pickArchived(o, spec.Restores) {
			m.setArchived(o, e, false)
			ch.Restored = append(ch.Restored, e.sid)
		}
		res.ByObject[o.typ.name] = ch
		res.Updated = append(res.Updated, ch.Updated...)
		res.Created = append(res.Created, ch.Created...)
		res.Archived = append(res.Archived, ch.Archived...)
		res.Restored = append(res.Restored, ch.Restored...)
	}
	res.At = m.last
	if m.same {
		res.At = m.shared
	}
	// Queued while s.mu is still held, so webhooks leave in the order the changes were made.
	s.hooks.enqueue(m.events)
	return res, nil
}

// stamp turns a clock reading into a record timestamp: millisecond precision and never
// earlier than any timestamp already handed out, even if the clock steps back.
func (s *Sim) stamp(now time.Time) time.Time {
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(s.lastStamp) {
		t = s.lastStamp
	}
	s.lastStamp = t
	return t
}

// mutation is the working state of one Mutate call; s.mu is held throughout.
type mutation struct {
	s      *Sim
	g      gen
	now    time.Time
	same   bool
	shared time.Time
	last   time.Time
	events []webhookEvent // webhooks for this call's changes, in the order they were made
}

func (m *mutation) stamp() time.Time {
	if m.same {
		return m.shared
	}
	m.last = m.s.stamp(m.s.now())
	return m.last
}

// pickLive chooses up to n distinct live records. Sparse picks probe at random; dense ones
// shuffle the live set, so both a handful and 12,000 updates stay fast.
func (m *mutation) pickLive(o *objectStore, n int) []*entry {
	live := o.live()
	n = min(n, live)
	if n <= 0 {
		return nil
	}
	rng := m.g.rng
	out := make([]*entry, 0, n)
	if n*3 <= live {
		seen := make(map[int]bool, n)
		for len(out) < n {
			i := rng.IntN(len(o.entries))
			if seen[i] || o.entries[i].cur.archived {
				continue
			}
			seen[i] = true
			out = append(out, o.entries[i])
		}
		return out
	}
	pool := make([]*entry, 0, live)
	for _, e := range o.entries {
		if !e.cur.archived {
			pool = append(pool, e)
		}
	}
	return partialShuffle(rng, pool, n)
}

func (m *mutation) pickArchived(o *objectStore, n int) []*entry {
	n = min(n, len(o.archived))
	if n <= 0 {
		return nil
	}
	pool := make([]*entry, len(o.archived))
	for i, idx := range o.archived {
		pool[i] = o.entries[idx]
	}
	return partialShuffle(m.g.rng, pool, n)
}

func partialShuffle(rng *rand.Rand, pool []*entry, n int) []*entry {
	for i := range n {
		j := i + rng.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	return pool[:n]
}

// touch writes the new version of e with updatedAt and the modified-date property set.
func (m *mutation) touch(o *objectStore, e *entry, next *state, at time.Time) {
	next.updatedAt = at
	next.put(o.typ.index[o.typ.modProp], formatTime(at))
	m.s.commit(e, next, m.now)
}

func (m *mutation) update(o *objectStore, e *entry) {
	prev := e.cur
	next := e.cur.clone()
	at := m.stamp()
	rng := m.g.rng
	props := o.typ.mutable
	perm := rng.Perm(len(props))
	for _, p := range perm[:1+rng.IntN(3)] {
		name := props[p]
		i := o.typ.index[name]
		old := next.get(i)
		for try := 0; try < 4 && next.get(i) == old; try++ {
			next.put(i, m.g.propValue(o.typ, name, next))
		}
		if name == "dealstage" && m.s.pipelineOf(next.get(o.typ.index["pipeline"])).stageClosed(next.get(i)) {
			next.put(o.typ.index["closedate"], formatTime(at))
		}
	}
	if nw := len(o.typ.wide); nw > 0 && rng.IntN(2) == 0 {
		// Half the edits also touch one of the many other properties (an e-mail opened, a
		// score recomputed, a custom field filled in), so a sync that reads only some
		// properties falls behind visibly.
		next.setWide(rng.Uint64(), o.typ.ncore+rng.IntN(nw))
	}
	m.touch(o, e, next, at)
	m.emitPropertyChanges(o, e, prev, next)
}

func (s *Sim) pipelineOf(id string) pipeline {
	for _, p := range s.pipelines {
		if p.ID == id {
			return p
		}
	}
	return s.pipelines[0]
}

// create adds a record with the next id (sometimes skipping a few, as HubSpot's ids do)
// and associations like the seeded ones.
func (m *mutation) create(o *objectStore) *entry {
	s := m.s
	rng := m.g.rng
	id := o.lastID + 1
	if rng.IntN(10) == 0 {
		id += 1 + rng.Int64N(20)
	}
	at := m.stamp()
	e := &entry{id: id, sid: strconv.FormatInt(id, 10), tie: tieHash(s.opts.Seed, id)}
	e.cur = newState(o.typ, wideSeed(s.opts.Seed, o.typ.kind, id))
	e.cur.createdAt, e.cur.updatedAt, e.cur.at = at, at, m.now
	// A record created within the index lag must not show in search at all: it has no
	// older version, and its first version is stamped now.
	fillSeeded(m.g, s, o, e)
	o.add(e)
	m.emit(o, e, hookCreation, at)
	return e
}

func (m *mutation) setArchived(o *objectStore, e *entry, archived bool) {
	next := e.cur.clone()
	at := m.stamp()
	next.archived = archived
	next.archivedAt = time.Time{}
	if archived {
		next.archivedAt = at
	}
	m.touch(o, e, next, at)
	o.markArchived(e, archived)
	if archived {
		m.emit(o, e, hookDeletion, at)
	} else {
		m.emit(o, e, hookRestore, at)
	}
}

// StartMutator applies spec every interval until ctx is done, so records change while a
// sync runs. It returns at once; an invalid spec or a non-positive interval makes it do
// nothing (call Mutate once first to see the error).
func (s *Sim) StartMutator(ctx context.Context, every time.Duration, spec MutationSpec) {
	if every <= 0 {
		return
	}
	if _, err := spec.validate(); err != nil {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil {
					// select picks at random among ready cases: a tick that raced the
					// cancellation must not mutate.
					return
				}
				_, _ = s.Mutate(spec) // validated above; Mutate cannot fail otherwise
			}
		}
	}()
}

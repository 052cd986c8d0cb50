// Package groundtruth compares what crmsync stored in PostgreSQL with the simulator's own
// copy of the CRM, record by record, for the end-to-end tests, the demo and the benchmark.
package groundtruth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/store"
)

// Diff counts how PostgreSQL differs from the CRM for one object.
type Diff struct {
	// Compared is the number of CRM records checked (live and archived).
	Compared int
	// Live and Archived split Compared.
	Live, Archived int
	// Missing: in the CRM, not in PostgreSQL.
	Missing int
	// Extra: in PostgreSQL, not in the CRM.
	Extra int
	// Stale: stored with an older modification time than the CRM's.
	Stale int
	// Content: same modification time, different properties or timestamps.
	Content int
	// Deleted: deleted in one and live in the other.
	Deleted int
	// Skipped: changed in the CRM after the cut-off, so not expected in PostgreSQL yet.
	Skipped int
	// Examples describes the first few mismatches.
	Examples []string
}

// Mismatches is the total number of records that differ.
func (d Diff) Mismatches() int { return d.Missing + d.Extra + d.Stale + d.Content + d.Deleted }

// String summarises the diff in one line.
func (d Diff) String() string {
	s := fmt.Sprintf("compared %d (live %d, archived %d): %d mismatches", d.Compared, d.Live, d.Archived, d.Mismatches())
	if d.Mismatches() > 0 {
		s += fmt.Sprintf(" (missing %d, extra %d, stale %d, content %d, deleted %d; e.g. %s)",
			d.Missing, d.Extra, d.Stale, d.Content, d.Deleted, strings.Join(d.Examples, "; "))
	}
	if d.Skipped > 0 {
		s += fmt.Sprintf(", %d changed after the cut-off not compared", d.Skipped)
	}
	return s
}

// Compare checks every record of obj. With a non-zero asOf, CRM records changed after it
// (which a sync that started reading at asOf cannot be expected to hold yet) are skipped,
// along with PostgreSQL rows that no CRM record older than asOf explains.
func Compare(ctx context.Context, sim *crmsim.Sim, st *store.Store, integration string, obj crm.Object, asOf time.Time) (Diff, error) {
	return CompareAs(ctx, sim, crmsim.ProviderHubSpot, st, integration, obj, asOf)
}

// CompareAs is Compare for an integration with provider's CRM: the simulator's records as
// that CRM's API renders them (its ids, field names and timestamp precision).
func CompareAs(ctx context.Context, sim *crmsim.Sim, provider string, st *store.Store, integration string, obj crm.Object, asOf time.Time) (Diff, error) {
	truth, err := sim.SnapshotFor(provider, string(obj))
	if err != nil {
		return Diff{}, fmt.Errorf("reading ground truth of %s: %w", obj, err)
	}
	rows, err := st.Records(ctx, integration, obj)
	if err != nil {
		return Diff{}, err
	}
	stored := make(map[string]store.StoredRecord, len(rows))
	for _, r := range rows {
		stored[r.ID] = r
	}
	var d Diff
	note := func(format string, args ...any) {
		if len(d.Examples) < 5 {
			d.Examples = append(d.Examples, fmt.Sprintf(format, args...))
		}
	}
	for _, t := range truth {
		version := t.UpdatedAt
		if t.ArchivedAt.After(version) {
			version = t.ArchivedAt
		}
		got, ok := stored[t.ID]
		delete(stored, t.ID)
		if !asOf.IsZero() && version.After(asOf) {
			d.Skipped++
			continue
		}
		d.Compared++
		if t.Archived {
			d.Archived++
		} else {
			d.Live++
		}
		switch {
		case !ok:
			d.Missing++
			note("%s %s missing", obj, t.ID)
		case got.ModifiedAt.Before(t.UpdatedAt):
			d.Stale++
			note("%s %s stored at %s, CRM at %s", obj, t.ID, got.ModifiedAt.Format(time.RFC3339Nano), t.UpdatedAt.Format(time.RFC3339Nano))
		case t.Archived != !got.DeletedAt.IsZero():
			d.Deleted++
			note("%s %s archived in CRM %v, deleted in PostgreSQL %v", obj, t.ID, t.Archived, !got.DeletedAt.IsZero())
		case !got.ModifiedAt.Equal(t.UpdatedAt) || (!t.CreatedAt.IsZero() && !got.CreatedAt.Equal(t.CreatedAt)):
			// A CRM whose deleted listing holds only ids and deletion times (Zoho) shows no
			// creation time or fields for a deleted record: what was stored before stays.
			d.Content++
			note("%s %s timestamps differ: stored modified %s created %s, CRM %s and %s", obj, t.ID,
				got.ModifiedAt.Format(time.RFC3339Nano), got.CreatedAt.Format(time.RFC3339Nano),
				t.UpdatedAt.Format(time.RFC3339Nano), t.CreatedAt.Format(time.RFC3339Nano))
		case t.Archived && len(t.Properties) == 0:
		default:
			if diff := propertyDiff(t.Properties, got.Properties); diff != "" {
				d.Content++
				note("%s %s property %s", obj, t.ID, diff)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(stored)) {
		if !asOf.IsZero() && stored[id].ModifiedAt.After(asOf) {
			continue
		}
		d.Extra++
		note("%s %s only in PostgreSQL", obj, id)
	}
	return d, nil
}

// propertyDiff names the first property that differs; an absent or null value equals "",
// and a value that is not a string (a number, an object) is compared as its compact JSON.
func propertyDiff(want map[string]string, raw json.RawMessage) string {
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		return "JSON: " + err.Error()
	}
	val := func(k string) string {
		v := got[k]
		var s string
		switch {
		case len(v) == 0 || string(v) == "null":
			return ""
		case json.Unmarshal(v, &s) == nil:
			return s
		}
		var b bytes.Buffer
		if json.Compact(&b, v) != nil {
			return string(v)
		}
		return b.String()
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !sameValue(want[k], val(k)) {
			return fmt.Sprintf("%s = %q, CRM has %q", k, val(k), want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok && val(k) != "" {
			return fmt.Sprintf("%s = %q, not in the CRM", k, val(k))
		}
	}
	return ""
}

// sameValue compares two property values as text, or, when both are JSON objects or
// arrays, as JSON: PostgreSQL's jsonb keeps an object's keys in its own order, not the CRM's.
func sameValue(want, got string) bool {
	if want == got {
		return true
	}
	canon := func(s string) (string, bool) {
		if s == "" || (s[0] != '{' && s[0] != '[') {
			return "", false
		}
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return "", false
		}
		b, err := json.Marshal(v)
		return string(b), err == nil
	}
	w, ok1 := canon(want)
	g, ok2 := canon(got)
	if ok1 && ok2 && w != g {
		// A lookup ({"id": ..., "name": ...}, Zoho) shows the related record's current
		// name, which the CRM changes without touching the record that points to it: the id
		// is what the record holds.
		var wl, gl struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal([]byte(w), &wl) == nil && json.Unmarshal([]byte(g), &gl) == nil && len(wl.ID) > 0 {
			return string(wl.ID) == string(gl.ID)
		}
	}
	return ok1 && ok2 && w == g
}

package crmsim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The hand-written properties encoder says what encoding/json would, for the values real
// data holds: quotes, backslashes, control and HTML characters, non-ASCII, invalid UTF-8.
func TestRenderedPropsEncodeAsEncodingJSONDoes(t *testing.T) {
	t.Parallel()
	values := []string{"", "plain", `quo"te`, `back\\slash`, "tab\there\nnew\rline\x01\x1f", "<a href='x'>&amp;</a>",
		"Zürich 東京 😀", "bad \xff utf8 \xc3", "line\u2028sep\u2029", "\x7f del"}
	typ := &objectType{index: map[string]int{}, ncore: len(values)}
	st := &state{typ: typ, vals: make([]string, len(values))}
	want := map[string]*string{}
	var idx []int
	for i, v := range values {
		name := "p" + string(rune('a'+i))
		typ.props = append(typ.props, propertyDef{Name: name})
		st.vals[i] = v
		idx = append(idx, i)
		if v != "" {
			want[name] = &values[i]
		} else {
			want[name] = nil
		}
	}
	got, err := json.Marshal(renderedProps{typ: typ, st: st, props: idx})
	require.NoError(t, err)
	exp, err := json.Marshal(want)
	require.NoError(t, err)
	require.JSONEq(t, string(exp), string(got))
	require.Equal(t, string(exp), string(got), "byte for byte, keys in order")
}

// The hand-written list, search and batch read bodies are what encoding/json writes for
// the same responses, byte for byte.
func TestHandWrittenBodiesEqualEncodingJSON(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Seed: 3, Contacts: 30, Companies: 5, Deals: 5, Tokens: []string{"t"}})
	require.NoError(t, err)
	o := s.objects[contactsKind]
	all := make([]int, len(o.typ.props))
	for i := range all {
		all[i] = i
	}
	var objs []apiObject
	for i, e := range o.entries {
		assoc := []objectKind(nil)
		if i%2 == 0 {
			assoc = []objectKind{companiesKind}
		}
		obj := render(o, e, e.cur, all, assoc)
		if i == 3 {
			obj.ArchivedAt, obj.Archived = "2025-01-01T00:00:00.000Z", true
		}
		objs = append(objs, obj)
	}
	same := func(v any, body []byte) {
		t.Helper()
		want, err := json.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(body))
	}
	same(listResponse{Results: objs}, listResponse{Results: objs}.body())
	same(listResponse{Results: objs, Paging: newPaging("NTI1Cg==")}, listResponse{Results: objs, Paging: newPaging("NTI1Cg==")}.body())
	same(listResponse{Results: []apiObject{}}, listResponse{Results: []apiObject{}}.body())
	same(searchResponse{Total: 99, Results: objs, Paging: newPaging("200")}, searchResponse{Total: 99, Results: objs, Paging: newPaging("200")}.body())
	br := batchResponse{Status: "COMPLETE", Results: objs[:4], StartedAt: "a", CompletedAt: "b"}
	same(br, br.body())
	br.NumErrors, br.Errors = 1, []standardError{{Status: "error", Category: "OBJECT_NOT_FOUND", Message: "m",
		Errors: []json.RawMessage{}, Context: map[string][]string{"ids": {"1"}}, Links: map[string]string{}}}
	same(br, br.body())
}

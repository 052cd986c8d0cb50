package crmsim

import (
	"encoding/json"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// zohoFieldMeta is the part of a fields API item the tests check.
type zohoFieldMeta struct {
	APIName        string `json:"api_name"`
	DataType       string `json:"data_type"`
	JSONType       string `json:"json_type"`
	ID             string `json:"id"`
	CustomField    bool   `json:"custom_field"`
	PickListValues []struct {
		ActualValue string `json:"actual_value"`
	} `json:"pick_list_values"`
}

func (h *harness) zohoFields(t *testing.T, module string) []zohoFieldMeta {
	t.Helper()
	r := h.zohoGet(t, "/crm/v8/settings/fields?module="+module, zohoAuth, nil)
	require.Equal(t, 200, r.status, "body: %s", r.body)
	var out struct {
		Fields []zohoFieldMeta `json:"fields"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	return out.Fields
}

// zohoRecords reads one Get Records response's data, keyed by id.
func (h *harness) zohoRecords(t *testing.T, path string, header map[string]string) map[string]map[string]json.RawMessage {
	t.Helper()
	r := h.zohoGet(t, path, zohoAuth, header)
	require.Equal(t, 200, r.status, "%s: %s", path, r.body)
	var out struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	byID := make(map[string]map[string]json.RawMessage, len(out.Data))
	for _, d := range out.Data {
		var id string
		require.NoError(t, json.Unmarshal(d["id"], &id))
		byID[id] = d
	}
	return byID
}

// zohoReadAll reads every live record of module with every one of fields, 50 fields a
// request, merging the pieces by id.
func (h *harness) zohoReadAll(t *testing.T, module string, fields []string, header map[string]string) map[string]map[string]json.RawMessage {
	t.Helper()
	all := map[string]map[string]json.RawMessage{}
	for group := range slices.Chunk(fields, zohoMaxFields) {
		q := url.Values{"fields": {strings.Join(group, ",")}, "sort_by": {"id"}, "sort_order": {"asc"}, "per_page": {"200"}}
		for id, rec := range h.zohoRecords(t, "/crm/v8/"+module+"?"+q.Encode(), header) {
			if all[id] == nil {
				all[id] = map[string]json.RawMessage{}
			}
			maps.Copy(all[id], rec)
		}
	}
	return all
}

var zohoAPINamePattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$`)

func TestZohoWideModulesHaveRealisticFields(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 4, Contacts: 5, Companies: 5, Deals: 5})
	types := map[string]bool{}
	ids := map[string]bool{}
	for _, module := range []string{"Contacts", "Accounts", "Deals"} {
		fields := h.zohoFields(t, module)
		require.GreaterOrEqual(t, len(fields), 120, "%s: a realistic Zoho module has well over 50 fields", module)
		names, custom := map[string]bool{}, 0
		for _, f := range fields {
			require.Regexp(t, zohoAPINamePattern, f.APIName)
			require.False(t, names[strings.ToLower(f.APIName)], "%s.%s is not unique", module, f.APIName)
			names[strings.ToLower(f.APIName)] = true
			require.False(t, ids[f.ID], "field id %s is not unique", f.ID)
			ids[f.ID] = true
			types[f.DataType] = true
			if f.CustomField {
				custom++
			}
			switch f.DataType {
			case "picklist", "multiselectpicklist":
				require.NotEmpty(t, f.PickListValues, "%s.%s", module, f.APIName)
			}
		}
		require.GreaterOrEqual(t, custom, zohoWideCustom, "%s: custom fields", module)
		require.True(t, names["created_time"] && names["modified_time"], module)
	}
	for _, dt := range []string{"text", "textarea", "phone", "integer", "double", "currency", "datetime", "date",
		"picklist", "multiselectpicklist", "boolean"} {
		require.True(t, types[dt], "no field is a %s", dt)
	}

	// A narrow account keeps only the core fields.
	narrow := setup(t, Options{Seed: 4, Contacts: 5, Companies: 5, Deals: 5, Narrow: true})
	require.Len(t, narrow.zohoFields(t, "Contacts"), 14)
	require.Len(t, narrow.zohoFields(t, "Accounts"), 11)
	require.Len(t, narrow.zohoFields(t, "Deals"), 12)
}

// requireZohoValue checks that a record's value of field f is what its data_type says.
func requireZohoValue(t *testing.T, f zohoFieldMeta, v json.RawMessage, where string) {
	t.Helper()
	if f.DataType == "boolean" {
		require.Contains(t, []string{"true", "false"}, string(v), "%s: a checkbox is never empty", where)
		return
	}
	if string(v) == "null" {
		return
	}
	var allowed []string
	for _, p := range f.PickListValues {
		allowed = append(allowed, p.ActualValue)
	}
	var s string
	switch f.DataType {
	case "integer":
		_, err := strconv.ParseInt(string(v), 10, 64)
		require.NoError(t, err, "%s: %s", where, v)
	case "double", "currency":
		_, err := strconv.ParseFloat(string(v), 64)
		require.NoError(t, err, "%s: %s", where, v)
	case "multiselectpicklist":
		var vals []string
		require.NoError(t, json.Unmarshal(v, &vals), "%s: %s", where, v)
		require.NotEmpty(t, vals, where)
		for _, x := range vals {
			require.Contains(t, allowed, x, where)
		}
	case "ownerlookup", "lookup":
		require.Equal(t, byte('{'), v[0], where)
	default:
		require.NoError(t, json.Unmarshal(v, &s), "%s: %s is not a string", where, v)
		require.NotEmpty(t, s, "%s: empty is null", where)
	}
	switch f.DataType {
	case "datetime":
		_, err := time.Parse(zohoTimeLayout, s)
		require.NoError(t, err, where)
		require.True(t, strings.HasSuffix(s, "+00:00"), "%s: %s has an offset", where, s)
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err, where)
	case "picklist":
		if len(allowed) > 0 {
			require.Contains(t, allowed, s, where)
		}
	}
}

func TestZohoWideRecordsAgreeWithMetadataAndSnapshot(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 8, Contacts: 180, Companies: 60, Deals: 90})
	// Changes give some records values set since seeding, in wide fields too.
	h.clock.Advance(time.Hour)
	since := h.clock.Now()
	h.clock.Advance(time.Second)
	res, err := h.sim.Mutate(MutationSpec{Updates: 40, Creates: 3, Archives: 2})
	require.NoError(t, err)
	filled := map[string]bool{} // data types seen with a value
	for _, tc := range []struct{ object, module string }{
		{"contacts", "Contacts"}, {"companies", "Accounts"}, {"deals", "Deals"},
	} {
		meta := h.zohoFields(t, tc.module)
		names := make([]string, len(meta))
		for i, f := range meta {
			names[i] = f.APIName
		}
		listed := h.zohoReadAll(t, tc.module, names, nil)
		snap, err := h.sim.SnapshotFor(ProviderZoho, tc.object)
		require.NoError(t, err)
		live := 0
		for _, r := range snap {
			got, ok := listed[r.ID]
			if r.Archived {
				require.False(t, ok, "deleted %s listed", r.ID)
				continue
			}
			live++
			require.True(t, ok, "%s %s not listed", tc.module, r.ID)
			require.Len(t, got, len(meta)+1, "every field and the id")
			rendered := map[string]string{}
			for _, f := range meta {
				v, ok := got[f.APIName]
				require.True(t, ok, "%s %s lacks %s", tc.module, r.ID, f.APIName)
				requireZohoValue(t, f, v, tc.module+" "+r.ID+" "+f.APIName)
				rendered[f.APIName] = snapshotValue(v)
				if string(v) != "null" && string(v) != "false" {
					filled[f.DataType] = true
				}
			}
			require.Equal(t, rendered, r.Properties, "%s %s: the snapshot is what the API renders", tc.module, r.ID)
		}
		require.Len(t, listed, live)

		// Reads by ids and the changes path render the same values.
		var changedIDs []string
		for _, id := range res.ByObject[tc.object].Updated {
			zid, err := ZohoID(tc.object, id)
			require.NoError(t, err)
			changedIDs = append(changedIDs, zid)
		}
		changed := h.zohoReadAll(t, tc.module, names, map[string]string{"If-Modified-Since": since.Format(time.RFC3339)})
		for _, id := range changedIDs {
			if _, ok := listed[id]; ok { // not archived since
				require.Equal(t, listed[id], changed[id], "changes path, %s", id)
			}
		}
		for group := range slices.Chunk(names, zohoMaxFields) {
			q := url.Values{"fields": {strings.Join(group, ",")}, "ids": {strings.Join(changedIDs, ",")}}
			for id, rec := range h.zohoRecords(t, "/crm/v8/"+tc.module+"?"+q.Encode(), nil) {
				for k, v := range rec {
					require.Equal(t, string(listed[id][k]), string(v), "by ids, %s %s", id, k)
				}
			}
		}
	}
	for _, dt := range []string{"text", "textarea", "phone", "integer", "double", "currency", "datetime", "date",
		"picklist", "multiselectpicklist", "boolean"} {
		require.True(t, filled[dt], "no record holds a %s value", dt)
	}
}

func TestZohoFieldAndIDLimits(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 5, Contacts: 150, Companies: 5, Deals: 5})
	meta := h.zohoFields(t, "Contacts")
	names := make([]string, len(meta))
	for i, f := range meta {
		names[i] = f.APIName
	}
	require.Greater(t, len(names), 101)
	snap, err := h.sim.SnapshotFor(ProviderZoho, "contacts")
	require.NoError(t, err)
	ids := make([]string, 101)
	for i := range ids {
		ids[i] = snap[i].ID
	}
	list := func(fields []string) string {
		return "/crm/v8/Contacts?" + url.Values{"fields": {strings.Join(fields, ",")}, "sort_by": {"id"}, "sort_order": {"asc"}}.Encode()
	}
	byIDs := func(fields, ids []string) string {
		return "/crm/v8/Contacts?" + url.Values{"fields": {strings.Join(fields, ",")}, "ids": {strings.Join(ids, ",")}}.Encode()
	}
	tests := []struct {
		name    string
		path    string
		refused string // param_name of the refused limit, "" when answered
		limit   float64
		records int
	}{
		{name: "list, 50 fields", path: list(names[:50]), records: 150},
		{name: "list, 51 fields", path: list(names[:51]), refused: "fields", limit: 50},
		{name: "ids, 50 fields", path: byIDs(names[:50], ids[:3]), records: 3},
		{name: "ids, 51 fields", path: byIDs(names[:51], ids[:3]), refused: "fields", limit: 50},
		{name: "100 ids", path: byIDs(names[:50], ids[:100]), records: 100},
		{name: "101 ids", path: byIDs(names[:50], ids), refused: "ids", limit: 100},
		// Every name counts, known or not.
		{name: "51 names, one unknown", path: list(append(slices.Clone(names[:50]), "Nope")), refused: "fields", limit: 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.zohoGet(t, tc.path, zohoAuth, nil)
			if tc.refused == "" {
				require.Equal(t, 200, r.status, "body: %s", r.body)
				require.Equal(t, tc.records, len(r.json(t)["data"].([]any)))
				return
			}
			body := requireZohoError(t, r, 400, "LIMIT_EXCEEDED")
			require.Equal(t, map[string]any{"limit": tc.limit, "param_name": tc.refused}, body["details"])
			require.NotEmpty(t, body["message"])
		})
	}
}

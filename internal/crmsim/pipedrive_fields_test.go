package crmsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pdFieldsOf reads an entity's field metadata, as the connector does.
func (h *harness) pdFieldsOf(t *testing.T, entity string) []pdFieldDef {
	t.Helper()
	path := map[string]string{"persons": "personFields", "organizations": "organizationFields", "deals": "dealFields"}[entity]
	p := decodePDPage(t, h.pdGet(t, "/api/v2/"+path+"?limit=500", testToken))
	require.Nil(t, p.AdditionalData.NextCursor, "the fields fit one page")
	defs := make([]pdFieldDef, len(p.Data))
	for i, raw := range p.Data {
		require.NoError(t, json.Unmarshal(raw, &defs[i]))
	}
	return defs
}

// pdListAll pages through a v2 listing (query without limit and cursor) and returns its items.
func (h *harness) pdListAll(t *testing.T, entity, query string) []map[string]json.RawMessage {
	t.Helper()
	var items []map[string]json.RawMessage
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100)
		path := "/api/v2/" + entity + "?limit=500"
		if query != "" {
			path += "&" + query
		}
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		p := decodePDPage(t, h.pdGet(t, path, testToken))
		for _, raw := range p.Data {
			var item map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &item))
			items = append(items, item)
		}
		if p.AdditionalData.NextCursor == nil {
			return items
		}
		cursor = *p.AdditionalData.NextCursor
	}
}

// customFieldsOf decodes an item's custom_fields.
func customFieldsOf(t *testing.T, item map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var cf map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(item["custom_fields"], &cf))
	require.NotNil(t, cf, "custom_fields is an object: %s", item["custom_fields"])
	return cf
}

var (
	pdKeyPattern  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	pdDatePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)
)

var pdEntities = []string{"persons", "organizations", "deals"}

// pdSetup is setup with limits that data tests do not reach.
func pdSetup(t *testing.T, opts Options) *harness {
	t.Helper()
	opts.Pipedrive = PipedriveOptions{BurstLimit: 1_000_000, DailyTokens: 1_000_000_000}
	return setup(t, opts)
}

func TestPipedriveCustomFieldsMetadataAgreesWithRecords(t *testing.T) {
	t.Parallel()
	h := pdSetup(t, Options{Seed: 21, Contacts: 600, Companies: 300, Deals: 600})
	mutate(t, h.sim, MutationSpec{Updates: 200, Archives: 20})
	optionIDs := map[int64]bool{} // option ids are the account's: unique across entities
	for _, entity := range pdEntities {
		defs := h.pdFieldsOf(t, entity)
		fields := map[string]pdFieldDef{}
		options := map[string]map[int64]string{}
		types := map[string]int{}
		for _, d := range defs {
			require.NotContains(t, fields, d.FieldCode, "%s field %s listed twice", entity, d.FieldCode)
			if !d.IsCustomField {
				continue
			}
			fields[d.FieldCode] = d
			types[d.FieldType]++
			require.Regexp(t, pdKeyPattern, d.FieldCode, "custom field keys are 40 lower-case hex digits")
			require.NotEmpty(t, d.FieldName)
			require.Contains(t, []string{pdVarchar, pdText, pdPhone, pdAddressField, pdDouble, pdMonetary, pdDate, pdEnum, pdSet}, d.FieldType)
			if d.FieldType != pdEnum && d.FieldType != pdSet {
				require.JSONEq(t, "null", string(d.Options), "%s field %s (%s) has no options", entity, d.FieldName, d.FieldType)
				continue
			}
			var opts []pdOption
			require.NoError(t, json.Unmarshal(d.Options, &opts))
			require.NotEmpty(t, opts, "%s field %s (%s) has options", entity, d.FieldName, d.FieldType)
			options[d.FieldCode] = map[int64]string{}
			for _, o := range opts {
				require.Positive(t, o.ID)
				require.NotEmpty(t, o.Label)
				require.False(t, optionIDs[o.ID], "option id %d used twice", o.ID)
				optionIDs[o.ID] = true
				options[d.FieldCode][o.ID] = o.Label
			}
		}
		require.GreaterOrEqual(t, len(fields), 50, "%s: a real account's width of custom fields", entity)
		for _, typ := range []string{pdVarchar, pdText, pdDate, pdEnum, pdSet} {
			require.Positive(t, types[typ], "%s have %s fields", entity, typ)
		}
		t.Logf("%s: %d custom fields %v", entity, len(fields), types)

		query := ""
		if entity == "deals" {
			query = "status=deleted" // the deleted ones, then the live ones below
		}
		items := h.pdListAll(t, entity, query)
		if entity == "deals" {
			require.NotEmpty(t, items)
			items = append(items, h.pdListAll(t, entity, "")...)
		}
		filled := map[string]int{}
		for _, item := range items {
			cf := customFieldsOf(t, item)
			require.Len(t, cf, len(fields), "%s %s: every custom field, and no other", entity, item["id"])
			for key, raw := range cf {
				d, ok := fields[key]
				require.True(t, ok, "%s %s: custom field %s is in the metadata", entity, item["id"], key)
				if string(raw) == "null" {
					continue
				}
				filled[d.FieldType]++
				requirePDValueShape(t, d, options[key], raw)
			}
		}
		for typ := range types {
			require.Positive(t, filled[typ], "%s: some %s field holds a value", entity, typ)
		}
	}
}

// requirePDValueShape checks a non-null custom field value against the migration guide's
// shape for its field type.
func requirePDValueShape(t *testing.T, d pdFieldDef, options map[int64]string, raw json.RawMessage) {
	t.Helper()
	msg := "field %s (%s): %s"
	switch d.FieldType {
	case pdVarchar, pdText, pdPhone:
		var s string
		require.NoError(t, json.Unmarshal(raw, &s), msg, d.FieldName, d.FieldType, raw)
	case pdDouble:
		var n float64
		require.NoError(t, json.Unmarshal(raw, &n), msg, d.FieldName, d.FieldType, raw)
	case pdMonetary:
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &m), msg, d.FieldName, d.FieldType, raw)
		require.Len(t, m, 2, msg, d.FieldName, d.FieldType, raw)
		var n float64
		require.NoError(t, json.Unmarshal(m["value"], &n), msg, d.FieldName, d.FieldType, raw)
		require.JSONEq(t, `"USD"`, string(m["currency"]))
	case pdDate:
		var s string
		require.NoError(t, json.Unmarshal(raw, &s), msg, d.FieldName, d.FieldType, raw)
		require.Regexp(t, pdDatePattern, s, msg, d.FieldName, d.FieldType, raw)
	case pdEnum:
		var id int64
		require.NoError(t, json.Unmarshal(raw, &id), msg, d.FieldName, d.FieldType, raw)
		require.Contains(t, options, id, msg, d.FieldName, d.FieldType, raw)
	case pdSet:
		var ids []int64
		require.NoError(t, json.Unmarshal(raw, &ids), msg, d.FieldName, d.FieldType, raw)
		require.NotEmpty(t, ids, msg, d.FieldName, d.FieldType, raw)
		for _, id := range ids {
			require.Contains(t, options, id, msg, d.FieldName, d.FieldType, raw)
		}
	case pdAddressField:
		var m map[string]*string
		require.NoError(t, json.Unmarshal(raw, &m), msg, d.FieldName, d.FieldType, raw)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		require.ElementsMatch(t, []string{"value", "route", "street_number", "subpremise", "locality", "sublocality",
			"admin_area_level_1", "admin_area_level_2", "country", "postal_code", "formatted_address"}, keys)
		require.NotNil(t, m["value"], msg, d.FieldName, d.FieldType, raw)
		require.NotEmpty(t, *m["value"], msg, d.FieldName, d.FieldType, raw)
	default:
		t.Fatalf("field %s has an unexpected type %s", d.FieldName, d.FieldType)
	}
}

func TestPipedriveCustomFieldTypesFollowTheSeededTypes(t *testing.T) {
	t.Parallel()
	h := pdSetup(t, Options{Seed: 1, Contacts: 5, Companies: 5, Deals: 5})
	for k := range numObjects {
		typ := h.sim.objects[k].typ
		for _, c := range h.sim.pd.fields[k].custom {
			p := typ.props[c.prop]
			require.Equal(t, pdFieldKey(typ.name, p.Name), c.code, "keys are stable: sha1 of object and property")
			if c.prop < typ.ncore {
				continue
			}
			want := map[string]string{typeNumber: pdDouble, typeDatetime: pdDate, "date": pdDate, typeEnumeration: pdEnum,
				"bool": pdEnum, "string": pdVarchar}[p.Type]
			switch {
			case p.Type == typeNumber && pdMoneyName(p.Name):
				want = pdMonetary
			case p.FieldType == "checkbox":
				want = pdSet
			case p.Name == "address":
				want = pdAddressField
			case p.Type == "string" && (p.FieldType == "textarea" || p.FieldType == "html"):
				want = pdText
			case p.Type == "string" && p.FieldType == "phonenumber":
				want = pdPhone
			}
			require.Equal(t, want, c.typ, "%s.%s (%s, %s)", typ.name, p.Name, p.Type, p.FieldType)
			if p.Type == "bool" {
				require.Equal(t, []string{"Yes", "No"}, []string{c.options[0].Label, c.options[1].Label},
					"Pipedrive has no boolean custom field: a single option of Yes and No")
				require.Len(t, c.options, 2)
			}
		}
	}
	// Names like amounts are money; other numbers are not.
	for name, money := range map[string]bool{"hs_arr": true, "amount_in_home_currency": true, "hs_deal_registration_mrr": true,
		"hs_closed_amount": true, "hs_exchange_rate": false, "days_to_close": false, "hs_deal_score": false, "hs_carrier": false} {
		require.Equal(t, money, pdMoneyName(name), name)
	}
}

func TestPipedriveCustomFieldValues(t *testing.T) {
	t.Parallel()
	enum := pdCustom{typ: pdEnum, optID: map[string]int64{"true": 7, "false": 8}}
	set := pdCustom{typ: pdSet, optID: map[string]int64{"a": 1, "b": 2, "c": 3}}
	tests := []struct {
		name  string
		field pdCustom
		in    string
		want  string // the value's JSON
	}{
		{name: "empty is null", field: pdCustom{typ: pdDouble}, in: "", want: `null`},
		{name: "text", field: pdCustom{typ: pdVarchar}, in: "São Paulo", want: `"São Paulo"`},
		{name: "double", field: pdCustom{typ: pdDouble}, in: "12.50", want: `12.50`},
		{name: "double not a number stays text", field: pdCustom{typ: pdDouble}, in: "12 kg", want: `"12 kg"`},
		{name: "double NaN stays text", field: pdCustom{typ: pdDouble}, in: "NaN", want: `"NaN"`},
		{name: "monetary", field: pdCustom{typ: pdMonetary}, in: "500", want: `{"value":500,"currency":"USD"}`},
		{name: "datetime to date", field: pdCustom{typ: pdDate}, in: "2024-03-05T23:59:59.999Z", want: `"2024-03-05"`},
		{name: "date", field: pdCustom{typ: pdDate}, in: "2024-01-01", want: `"2024-01-01"`},
		{name: "bool true", field: enum, in: "true", want: `7`},
		{name: "bool false", field: enum, in: "false", want: `8`},
		{name: "enum not an option stays text", field: enum, in: "maybe", want: `"maybe"`},
		{name: "set", field: set, in: "a;c", want: `[1,3]`},
		{name: "set of one", field: set, in: "b", want: `[2]`},
		{name: "set with a stranger stays text", field: set, in: "a;z", want: `"a;z"`},
		{name: "address", field: pdCustom{typ: pdAddressField}, in: "Main St 1, Boston", want: `{"value":"Main St 1, Boston",` +
			`"route":null,"street_number":null,"subpremise":null,"locality":null,"sublocality":null,"admin_area_level_1":null,` +
			`"admin_area_level_2":null,"country":null,"postal_code":null,"formatted_address":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.field.value(tc.in))
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(b))
		})
	}
}

func TestPipedriveSnapshotHasTheCustomFieldsTheAPIRenders(t *testing.T) {
	t.Parallel()
	h := pdSetup(t, Options{Seed: 22, Contacts: 700, Companies: 200, Deals: 500})
	mutate(t, h.sim, MutationSpec{Updates: 300, Archives: 30, Creates: 10})
	for _, entity := range pdEntities {
		object := objectName(pipedriveEntities[entity])
		truth, err := h.sim.SnapshotFor(ProviderPipedrive, object)
		require.NoError(t, err)
		byID := map[string]Record{}
		for _, r := range truth {
			byID[r.ID] = r
		}
		queries := []string{""}
		if entity == "deals" {
			queries = append(queries, "status=deleted")
		}
		seen := 0
		for _, q := range queries {
			for _, item := range h.pdListAll(t, entity, q) {
				id := string(item["id"])
				tr, ok := byID[id]
				require.True(t, ok, "%s %s is in the snapshot", entity, id)
				seen++
				require.Equal(t, snapshotValue(item["custom_fields"]), tr.Properties["custom_fields"], "%s %s", entity, id)
				require.Len(t, customFieldsOf(t, item), len(h.sim.pd.fields[pipedriveEntities[entity]].custom))
			}
		}
		live := len(liveIDs(truth))
		if entity == "deals" {
			live = len(truth)
		}
		require.Equal(t, live, seen, "%s: every record the API lists", entity)

		// A read by ids renders the same.
		ids := liveIDs(truth)[:100]
		p := decodePDPage(t, h.pdGet(t, "/api/v2/"+entity+"?limit=500&ids="+strings.Join(ids, ","), testToken))
		require.Len(t, p.Data, 100)
		for _, raw := range p.Data {
			var item map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &item))
			require.Equal(t, snapshotValue(item["custom_fields"]), byID[string(item["id"])].Properties["custom_fields"])
		}
	}
}

func TestPipedriveCustomFieldsParameter(t *testing.T) {
	t.Parallel()
	h := pdSetup(t, Options{Seed: 23, Contacts: 50, Companies: 20, Deals: 40})
	mutate(t, h.sim, MutationSpec{Object: Deals, Archives: 3})
	for _, entity := range pdEntities {
		var keys []string
		for _, d := range h.pdFieldsOf(t, entity) {
			if d.IsCustomField {
				keys = append(keys, d.FieldCode)
			}
		}
		require.Greater(t, len(keys), pdMaxCustomFieldKeys+1)
		all := map[string]map[string]json.RawMessage{}
		for _, item := range h.pdListAll(t, entity, "") {
			all[string(item["id"])] = customFieldsOf(t, item)
		}
		tests := []struct {
			name string
			keys []string
			want []string // the keys each record's custom_fields holds
		}{
			{name: "one", keys: keys[:1], want: keys[:1]},
			{name: "fifteen, the most allowed", keys: keys[:15], want: keys[:15]},
			{name: "unknown keys are ignored", keys: []string{keys[3], strings.Repeat("0", 40), "name"}, want: keys[3:4]},
			{name: "spaces and empty entries", keys: []string{" " + keys[4], "", keys[5] + " "}, want: keys[4:6]},
		}
		for _, tc := range tests {
			q := "custom_fields=" + url.QueryEscape(strings.Join(tc.keys, ","))
			items := h.pdListAll(t, entity, q)
			require.Len(t, items, len(all), "%s %s", entity, tc.name)
			for _, item := range items {
				cf := customFieldsOf(t, item)
				got := make([]string, 0, len(cf))
				for k, v := range cf {
					got = append(got, k)
					require.Equal(t, all[string(item["id"])][k], v, "%s %s: the same values", entity, tc.name)
				}
				require.ElementsMatch(t, tc.want, got, "%s %s", entity, tc.name)
				require.Contains(t, item, "update_time", "standard fields are unaffected")
			}
		}
		// Sixteen keys are one too many, whatever else the request says.
		for _, q := range []string{"", "&ids=1,2", "&sort_by=update_time"} {
			r := h.pdGet(t, "/api/v2/"+entity+"?custom_fields="+strings.Join(keys[:16], ",")+q, testToken)
			requirePDError(t, r, http.StatusBadRequest, "custom_fields: a maximum of 15 keys is allowed, got 16")
			require.Equal(t, float64(http.StatusBadRequest), r.json(t)["errorCode"])
		}
	}
	// Deleted deals and reads by id take it too.
	deals := snapshot(t, h.sim, Deals)
	var deleted []string
	for _, r := range deals {
		if r.Archived {
			deleted = append(deleted, r.ID)
		}
	}
	require.Len(t, deleted, 3)
	key := pdFieldKey("deals", "hs_arr")
	p := decodePDPage(t, h.pdGet(t, "/api/v2/deals?status=deleted&custom_fields="+key+"&ids="+strings.Join(deleted, ","), testToken))
	require.Len(t, p.Data, 3)
	for _, raw := range p.Data {
		var item map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &item))
		cf := customFieldsOf(t, item)
		require.Len(t, cf, 1)
		require.Contains(t, cf, key)
	}
}

func TestPipedriveNarrowAccountHasOnlyTheCoreCustomFields(t *testing.T) {
	t.Parallel()
	h := pdSetup(t, Options{Seed: 1, Contacts: 5, Companies: 5, Deals: 5, Narrow: true})
	for _, entity := range pdEntities {
		k := pipedriveEntities[entity]
		var custom []string
		for _, d := range h.pdFieldsOf(t, entity) {
			if d.IsCustomField {
				custom = append(custom, d.FieldName)
			}
		}
		require.Len(t, custom, len(pipedriveCustomProps[k]), entity)
		for _, item := range h.pdListAll(t, entity, "") {
			require.Len(t, customFieldsOf(t, item), len(pipedriveCustomProps[k]))
		}
	}
}

// Keys and option ids do not depend on the seed or the size of the account.
func TestPipedriveCustomFieldsAreTheSameInEveryAccount(t *testing.T) {
	t.Parallel()
	a := pdSetup(t, Options{Seed: 1, Contacts: 5, Companies: 5, Deals: 5})
	b := pdSetup(t, Options{Seed: 99, Contacts: 50, Companies: 5, Deals: 5})
	for _, entity := range pdEntities {
		require.Equal(t, a.pdFieldsOf(t, entity), b.pdFieldsOf(t, entity), entity)
	}
}

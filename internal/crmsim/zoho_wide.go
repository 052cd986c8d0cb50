package crmsim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Wide modules. A real Zoho CRM module has well over the 50 fields one Get Records call
// may name ("Note that you can include a maximum of 50 field API names in this
// parameter", https://www.zoho.com/crm/developer/docs/api/v8/get-records.html): Zoho's own
// standard fields plus the custom fields an account and its integrations add. So the
// dialect renders a deterministic share of the dataset's wide properties (wide.go) as
// fields of Contacts, Accounts and Deals: the first zohoWideStandard properties the
// catalog marks as provider-defined and the first zohoWideCustom account-created ones, in
// catalog order, after the core fields. With Options.Narrow there are none.
const (
	zohoWideStandard = 100
	zohoWideCustom   = 40
)

// zohoAPIName is the Zoho-style API name of a wide property: its words in Title_Case
// joined by "_", without HubSpot's "hs_" prefix ("hs_analytics_num_visits" ->
// "Analytics_Num_Visits"). Zoho derives a custom field's API name from its label the same
// way, and custom fields look like standard ones in the API (no suffix such as
// Salesforce's "__c").
func zohoAPIName(name string) string {
	words := strings.FieldsFunc(strings.TrimPrefix(name, "hs_"), func(r rune) bool { return r == '_' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	if len(words) == 0 || words[0][0] < 'A' || words[0][0] > 'Z' {
		// An API name starts with a letter.
		words = append([]string{"Field"}, words...)
	}
	return strings.Join(words, "_")
}

// zohoWideFields renders t's chosen wide properties as Zoho fields. taken holds the
// module's API names so far, lower-cased; a wide name that would clash with one (a
// HubSpot "hs_pipeline" next to Deals' Pipeline, say) gets a number appended, the
// dialect's own rule (Zoho refuses a second field with an existing label).
func zohoWideFields(t *objectType, taken map[string]bool) []zohoField {
	var out []zohoField
	std, custom := 0, 0
	for j, w := range t.wide {
		switch {
		case w.custom && custom < zohoWideCustom:
			custom++
		case !w.custom && std < zohoWideStandard:
			std++
		default:
			continue
		}
		api := zohoAPIName(w.name)
		for n := 1; taken[strings.ToLower(api)]; n++ {
			api = zohoAPIName(w.name) + strconv.Itoa(n)
		}
		taken[strings.ToLower(api)] = true
		out = append(out, zohoWideField(w, t.ncore+j, api))
	}
	return out
}

// zohoWideField maps one wide property (index i of its object) to a Zoho field of the
// data_type Zoho would give it. The data_type/json_type pairs and value shapes follow
// Zoho's "Kaizen #1 - Fields in CRM #API" table (text and textarea: string; phone: string;
// picklist: string; multiselectpicklist: jsonarray, e.g. ["Analytics","Big data"]; date:
// "yyyy-MM-dd"; datetime: ISO 8601 with an offset), and its fields API
// (GET /crm/v8/settings/fields):
//
//	string: text, textarea (multi-line), phone; a JSON string
//	number: currency (amounts, revenue) and double (probabilities) with json_type double,
//	  integer otherwise; a JSON number
//	datetime: datetime, "2024-01-02T03:04:05+00:00" at whole seconds, as Modified_Time
//	date: date, "2024-01-02"
//	enumeration: picklist (a JSON string, the option's actual_value), or for a multiple
//	  checkbox multiselectpicklist (a JSON array of strings)
//	bool: boolean, a Zoho checkbox: JSON true or false
//
// An empty value is null, except a checkbox's, which is false.
func zohoWideField(w wideProp, i int, api string) zohoField {
	f := zohoField{api: api, label: w.label, custom: w.custom, readOnly: w.field == "calculation_equation"}
	switch w.typ {
	case typeNumber:
		f.dataType, f.jsonType = zohoNumberType(w.name), "double"
		if f.dataType == "integer" {
			f.jsonType = "integer"
		}
		f.value = zWideNumber(i)
	case typeDatetime:
		f.dataType, f.jsonType, f.value = "datetime", "string", zWideDatetime(i)
	case "date":
		f.dataType, f.jsonType, f.value = "date", "string", zWideDate(i)
	case "bool":
		f.dataType, f.jsonType, f.value = "boolean", "boolean", zWideBool(i)
	case typeEnumeration:
		f.dataType, f.jsonType, f.value = "picklist", "string", zWideText(i)
		if w.field == "checkbox" {
			f.dataType, f.jsonType, f.value = "multiselectpicklist", "jsonarray", zWideMulti(i)
		}
		f.options = make([]zohoPickListVal, len(w.options))
		for k, o := range w.options {
			f.options[k] = zohoPickListVal{DisplayValue: wideLabel(o), ActualValue: o}
		}
	default:
		f.dataType, f.jsonType, f.value = "text", "string", zWideText(i)
		switch w.field {
		case "textarea":
			f.dataType = "textarea"
		case "phonenumber":
			f.dataType = "phone"
		}
	}
	return f
}

// zohoNumberType is the data_type of a numeric wide property, by the same name rules
// wideNumber draws its values by: money is currency, a probability a double.
func zohoNumberType(name string) string {
	switch {
	case strings.Contains(name, "probability"):
		return "double"
	case strings.Contains(name, "score"), strings.Contains(name, "percent"):
		return "integer"
	}
	for _, money := range []string{"amount", "revenue", "value", "arr", "mrr", "acv", "tcv", "raised"} {
		if strings.Contains(name, money) {
			return "currency"
		}
	}
	return "integer"
}

func zWideText(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		if s := v.st.get(i); s != "" {
			return zohoJSON(s)
		}
		return jsonNull
	}
}

// zWideNumber sends the value as a JSON number; one that is not a number is null.
func zWideNumber(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		s := strings.TrimSpace(v.st.get(i))
		if _, err := strconv.ParseFloat(s, 64); err != nil || !json.Valid([]byte(s)) {
			return jsonNull
		}
		return json.RawMessage(s)
	}
}

// zohoWideTime reads a wide date or date-time value: ISO-8601 as the dataset keeps it, a
// bare date, or epoch milliseconds (as HubSpot accepts them in writes).
func zohoWideTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

func zWideDatetime(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		if t, ok := zohoWideTime(v.st.get(i)); ok {
			return zohoJSON(formatZohoTime(t))
		}
		return jsonNull
	}
}

func zWideDate(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		if t, ok := zohoWideTime(v.st.get(i)); ok {
			return zohoJSON(t.Format(time.DateOnly))
		}
		return jsonNull
	}
}

// zWideBool is a checkbox: true only for "true"; empty is false, as Zoho has no empty
// checkbox.
func zWideBool(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		if strings.EqualFold(strings.TrimSpace(v.st.get(i)), "true") {
			return json.RawMessage("true")
		}
		return json.RawMessage("false")
	}
}

// zWideMulti sends a multiple checkbox's ";"-separated options as a JSON array.
func zWideMulti(i int) func(zohoView) json.RawMessage {
	return func(v zohoView) json.RawMessage {
		var vals []string
		for o := range strings.SplitSeq(v.st.get(i), ";") {
			if o = strings.TrimSpace(o); o != "" {
				vals = append(vals, o)
			}
		}
		if len(vals) == 0 {
			return jsonNull
		}
		return zohoJSON(vals)
	}
}

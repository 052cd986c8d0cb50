package crmsim

import (
	"strconv"
	"strings"
	"time"
)

// The Salesforce dialect renders the dataset's wide properties (wide.go) as custom fields of
// Contact, Account and Opportunity, as a company that syncs HubSpot into Salesforce ends up
// with: one custom field a property, named from the HubSpot name (sfWideName), typed as
// Salesforce types it (sfWideType), and holding the same values in Salesforce's rendering.
//
// Salesforce caps custom fields per object by edition: "Enterprise Edition 500", Unlimited
// and Performance 800 (Salesforce Help, "Custom Fields Allowed Per Object",
// custom_field_allocations.htm). The simulated org is Enterprise Edition, as its daily
// allocation is (DefaultSalesforceDailyLimit), so each object holds at most 500 custom fields
// in all: the dialect's own (Lifecycle_Stage__c, Lead_Status__c, Priority__c) and the first
// wide properties of the object up to that count.

// sfMaxCustomFields is Enterprise Edition's custom fields per object.
const sfMaxCustomFields = 500

// sfMaxFieldName is the longest custom field name, without its "__c" suffix (Salesforce's
// Field Name is "up to 40 characters").
const sfMaxFieldName = 40

// sfWideName derives a custom field's API name from a HubSpot property name: a leading "hs_"
// dropped, the words Title_Cased and joined by "_", at most 40 characters, "__c" appended.
// Salesforce field names begin with a letter, hold no "__" and do not end in "_", so empty
// words are dropped, a name beginning with a digit gets an "X" before it and a truncated
// name loses its trailing underscores. taken holds the object's lower-cased field names: a
// name already taken gets a numeric suffix (_2, _3, ...) within the 40 characters.
func sfWideName(hubspot string, taken map[string]bool) string {
	words := strings.FieldsFunc(strings.TrimPrefix(hubspot, "hs_"), func(r rune) bool { return r == '_' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	base := strings.Join(words, "_")
	if base == "" || base[0] < 'A' || base[0] > 'Z' {
		base = "X" + base
	}
	fit := func(s string, room int) string {
		if len(s) > room {
			s = strings.TrimRight(s[:room], "_")
		}
		return s
	}
	name := fit(base, sfMaxFieldName) + "__c"
	for n := 2; taken[strings.ToLower(name)]; n++ {
		suffix := "_" + strconv.Itoa(n)
		name = fit(base, sfMaxFieldName-len(suffix)) + suffix + "__c"
	}
	taken[strings.ToLower(name)] = true
	return name
}

// sfWideType is the Salesforce field type of a wide property: text is "string" (Text, up to
// 255 characters) unless it is multi-line ("textarea": Long Text Area, and the Rich Text Area
// an html property becomes, which describe also reports as textarea); numbers are "double";
// a multiple checkbox is a "multipicklist" (its values ";"-joined, as Salesforce joins
// them); a single checkbox is a "boolean".
func sfWideType(w wideProp) string {
	switch w.typ {
	case typeNumber:
		return "double"
	case typeDatetime:
		return "datetime"
	case "date":
		return "date"
	case typeEnumeration:
		if w.field == "checkbox" {
			return "multipicklist"
		}
		return "picklist"
	case "bool":
		return "boolean"
	}
	if w.field == "textarea" || w.field == "html" {
		return "textarea"
	}
	return "string"
}

// Describe lengths of the wide fields' text types: Long Text Area's default 32,768
// characters, and a multi-select picklist's 4,099.
const (
	sfLongTextLength      = 32768
	sfMultiPicklistLength = 4099
)

// sfWideFields returns the custom fields of t's wide properties, at most room of them, named
// clear of the names in taken (which it extends).
func sfWideFields(t *objectType, room int, taken map[string]bool) []sfField {
	n := min(max(room, 0), len(t.wide))
	out := make([]sfField, 0, n)
	for j, w := range t.wide[:n] {
		i := t.ncore + j
		f := sfField{name: sfWideName(w.name, taken), label: w.label, typ: sfWideType(w), custom: true}
		switch f.typ {
		case "double":
			f.get = func(r sfRow) sfValue { return sfNum(r.st.get(i)) }
		case "datetime":
			f.get = func(r sfRow) sfValue { return sfISOTime(r.st.get(i)) }
		case "date":
			f.get = func(r sfRow) sfValue { return sfDate(r.st.get(i)) }
		case "boolean":
			// A Salesforce checkbox is never null: an empty one is false.
			f.get = func(r sfRow) sfValue { return sfBoolValue(r.st.get(i) == "true") }
			f.notNillable = true
		default:
			f.get = func(r sfRow) sfValue { return sfStr(r.st.get(i)) }
		}
		switch f.typ {
		case "textarea":
			// Long text areas can be neither filtered nor sorted in SOQL.
			f.length, f.unfilterable = sfLongTextLength, true
		case "multipicklist":
			f.length = sfMultiPicklistLength
		}
		for _, o := range w.options {
			f.picklist = append(f.picklist, o)
			f.picklistLabels = append(f.picklistLabels, wideLabel(o))
		}
		out = append(out, f)
	}
	return out
}

// sfISOTime reads a stored ISO-8601 instant ("2024-01-02T03:04:05.678Z") as a Salesforce
// dateTime, which the REST API renders in whole seconds like every other dateTime.
func sfISOTime(v string) sfValue {
	if v == "" {
		return sfValue{null: true}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return sfValue{null: true}
	}
	return sfTime(t)
}

// sfDate reads a stored date ("2024-01-02", or the date part of an instant).
func sfDate(v string) sfValue {
	if len(v) < len(time.DateOnly) {
		return sfValue{null: true}
	}
	if _, err := time.Parse(time.DateOnly, v[:len(time.DateOnly)]); err != nil {
		return sfValue{null: true}
	}
	return sfValue{text: v[:len(time.DateOnly)]}
}

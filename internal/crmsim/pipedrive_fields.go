package crmsim

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pipedrive's custom fields. A real Pipedrive company has dozens of them per entity, and the
// v2 list endpoints return every one by default, "nested in custom_fields" and keyed by
// "randomly generated 40-character hashes" (Pipedrive's "API v2 migration guide";
// pipedrive/client-nodejs v32.2.1 src/versions/v2/models/organization-item.ts, deal.ts,
// add-person-request.ts). The `custom_fields` query parameter narrows that to the keys it
// names: "Optional comma separated string array of custom fields keys to include ... A
// maximum of 15 keys is allowed." (persons-api.ts, organizations-api.ts, deals-api.ts).
//
// The dialect's custom fields are the few seeded core properties the mapping in
// pipedrive_render.go names (pipedriveCustomProps) plus the first pdWideCustom of the
// object's wide properties (wide.go) and, after them, the first of each seeded type (and of
// multiple checkboxes) that they lack, so that each entity has every kind of field: 60 and
// more per entity. Keys are the SHA-1 of "crmsim pipedrive <object> <property>" in
// lower-case hex, so they are stable across runs and seeds. Types and value shapes follow
// the migration guide:
//
//	seeded type (HubSpot field type)     field_type  value in custom_fields
//	string (text, calculated)            varchar     "text"
//	string (textarea, html)              text        "text"
//	string (phonenumber)                 phone       "+49 030 1234"
//	string named "address"               address     {"value": "...", "route": null, ... "formatted_address": null}
//	number                               double      12.5
//	number named like an amount          monetary    {"value": 500, "currency": "USD"}
//	datetime, date                       date        "2024-01-01"
//	enumeration (select, radio)          enum        option id, 123
//	enumeration (checkbox: multi-select) set         option ids, [123, 456]
//	bool                                 enum        option id of "Yes" or "No"
//
// Pipedrive has no boolean custom field type, so a boolean is a single-option field with the
// two options Yes and No. Options get numeric ids from 1, counted across persons,
// organizations and deals in that order, as they are in the field metadata endpoints'
// options ([{id, label}]). An empty value is null: whether Pipedrive sends null or leaves an
// empty custom field out is UNCONFIRMED. The sim geocodes nothing, so an address holds its
// value and null components (Pipedrive fills route, locality and the rest when it can
// geocode the value: UNCONFIRMED which of them it sends otherwise). A value that does not
// fit the field's type (a HubSpot-dialect write can put any text in a number) is rendered
// as the text it is rather than dropped.

// pdWideCustom is how many of an object's wide properties, in catalog order, are custom
// fields (besides one of each kind they lack).
const pdWideCustom = 60

// pdMaxCustomFieldKeys is the most keys the custom_fields query parameter takes.
const pdMaxCustomFieldKeys = 15

// Pipedrive field types of the custom fields the dialect renders.
const (
	pdVarchar      = "varchar"
	pdText         = "text"
	pdPhone        = "phone"
	pdAddressField = "address"
	pdDouble       = "double"
	pdMonetary     = "monetary"
	pdDate         = "date"
	pdEnum         = "enum"
	pdSet          = "set"
)

// pdCurrency is the currency of every monetary custom field's values, the account's (and
// every deal's) currency.
const pdCurrency = "USD"

// pdOption is an option of an enum or set field.
type pdOption struct {
	ID    int64  `json:"id"`
	Label string `json:"label"`
}

// pdCustom is one seeded property rendered as a Pipedrive custom field.
type pdCustom struct {
	prop    int    // index in the object type's props
	code    string // the field's key: 40 lower-case hex digits
	typ     string // Pipedrive field_type
	options []pdOption
	optID   map[string]int64 // option id by seeded value, for enum and set fields
}

// pdFieldDef is the v2 field definition.
type pdFieldDef struct {
	FieldCode               string          `json:"field_code"`
	FieldName               string          `json:"field_name"`
	FieldType               string          `json:"field_type"`
	Options                 json.RawMessage `json:"options"`
	Subfields               json.RawMessage `json:"subfields"`
	IsCustomField           bool            `json:"is_custom_field"`
	IsOptionalResponseField bool            `json:"is_optional_response_field"`
}

// pdFieldMap is an object's custom fields and its field definitions.
type pdFieldMap struct {
	custom []pdCustom
	defs   []pdFieldDef
}

// pipedriveStandardFields are the standard fields each object renders, with their types.
var pipedriveStandardFields = [numObjects][][2]string{
	contactsKind: {{"id", "int"}, {"name", "varchar"}, {"first_name", "varchar"}, {"last_name", "varchar"},
		{"owner_id", "user"}, {"org_id", "org"}, {"add_time", "date"}, {"update_time", "date"},
		{"emails", "varchar"}, {"phones", "phone"}, {"is_deleted", "boolean"}, {"visible_to", "visible_to"},
		{"label_ids", "set"}, {"picture_id", "picture"}},
	companiesKind: {{"id", "int"}, {"name", "varchar"}, {"owner_id", "user"}, {"add_time", "date"},
		{"update_time", "date"}, {"is_deleted", "boolean"}, {"visible_to", "visible_to"}, {"address", "address"},
		{"label_ids", "set"}},
	dealsKind: {{"id", "int"}, {"title", "varchar"}, {"owner_id", "user"}, {"person_id", "people"},
		{"org_id", "org"}, {"pipeline_id", "double"}, {"stage_id", "stage"}, {"value", "monetary"},
		{"currency", "varchar"}, {"add_time", "date"}, {"update_time", "date"}, {"stage_change_time", "date"},
		{"is_deleted", "boolean"}, {"is_archived", "boolean"}, {"status", "status"}, {"probability", "double"},
		{"lost_reason", "varchar"}, {"visible_to", "visible_to"}, {"close_time", "date"}, {"won_time", "date"},
		{"lost_time", "date"}, {"expected_close_date", "date"}, {"label_ids", "set"}},
}

// pipedriveCustomProps are the seeded core properties rendered as custom fields: text, or
// double for numbers.
var pipedriveCustomProps = [numObjects][]string{
	contactsKind:  {"jobtitle", "lifecyclestage", "hs_lead_status", "city", "zip", "country"},
	companiesKind: {"domain", "industry", "phone", "numberofemployees", "annualrevenue"},
	dealsKind:     {"dealtype", "hs_priority"},
}

// pipedriveFields lists t's standard and custom fields. Option ids are numbered on from
// *nextOption, which it advances.
func pipedriveFields(t *objectType, nextOption *int64) pdFieldMap {
	var m pdFieldMap
	for _, f := range pipedriveStandardFields[t.kind] {
		m.defs = append(m.defs, pdFieldDef{FieldCode: f[0], FieldName: pdLabel(f[0]), FieldType: f[1],
			Options: json.RawMessage("null"), Subfields: json.RawMessage("null")})
	}
	var props []int
	for _, name := range pipedriveCustomProps[t.kind] {
		props = append(props, t.index[name])
	}
	seen := map[string]bool{}
	for j, w := range t.wide {
		kind := w.typ
		if w.field == "checkbox" {
			kind = "multi"
		}
		if j < pdWideCustom || !seen[kind] {
			props = append(props, t.ncore+j)
		}
		seen[kind] = true
	}
	for _, i := range props {
		c := pdCustom{prop: i, code: pdFieldKey(t.name, t.props[i].Name), typ: pdCustomType(t, i)}
		options := json.RawMessage("null")
		if c.typ == pdEnum || c.typ == pdSet {
			c.optID = make(map[string]int64, len(t.props[i].Options))
			for _, o := range t.props[i].Options {
				c.options = append(c.options, pdOption{ID: *nextOption, Label: o.Label})
				c.optID[o.Value] = *nextOption
				*nextOption++
			}
			options, _ = json.Marshal(c.options) // numbers and strings only
		}
		m.custom = append(m.custom, c)
		m.defs = append(m.defs, pdFieldDef{FieldCode: c.code, FieldName: t.props[i].Label, FieldType: c.typ,
			Options: options, Subfields: json.RawMessage("null"), IsCustomField: true})
	}
	return m
}

// pdFieldKey is a custom field's key: 40 lower-case hex digits, as Pipedrive's are.
func pdFieldKey(object, prop string) string {
	sum := sha1.Sum([]byte("crmsim pipedrive " + object + " " + prop))
	return hex.EncodeToString(sum[:])
}

// pdCustomType is the Pipedrive field type of property i of t.
func pdCustomType(t *objectType, i int) string {
	p := t.props[i]
	if i < t.ncore {
		if p.Type == typeNumber {
			return pdDouble
		}
		return pdVarchar
	}
	switch p.Type {
	case typeNumber:
		if pdMoneyName(p.Name) {
			return pdMonetary
		}
		return pdDouble
	case typeDatetime, "date":
		return pdDate
	case typeEnumeration:
		if p.FieldType == "checkbox" {
			return pdSet
		}
		return pdEnum
	case "bool":
		// Pipedrive has no boolean custom field: a single option field of Yes and No.
		return pdEnum
	}
	switch {
	case p.Name == "address":
		return pdAddressField
	case p.FieldType == "textarea" || p.FieldType == "html":
		return pdText
	case p.FieldType == "phonenumber":
		return pdPhone
	}
	return pdVarchar
}

// pdMoneyName reports a number property named like an amount of money (amount, revenue,
// ARR, MRR, ACV, TCV), which Pipedrive keeps as a monetary field.
func pdMoneyName(name string) bool {
	for _, part := range strings.Split(name, "_") {
		if slices.Contains([]string{"amount", "revenue", "annualrevenue", "arr", "mrr", "acv", "tcv"}, part) {
			return true
		}
	}
	return false
}

// pdMoney is a monetary field's value.
type pdMoney struct {
	Value    any    `json:"value"`
	Currency string `json:"currency"`
}

// pdAddressValue is an address field's value (the migration guide's list of its keys).
type pdAddressValue struct {
	Value            string  `json:"value"`
	Route            *string `json:"route"`
	StreetNumber     *string `json:"street_number"`
	Subpremise       *string `json:"subpremise"`
	Locality         *string `json:"locality"`
	Sublocality      *string `json:"sublocality"`
	AdminAreaLevel1  *string `json:"admin_area_level_1"`
	AdminAreaLevel2  *string `json:"admin_area_level_2"`
	Country          *string `json:"country"`
	PostalCode       *string `json:"postal_code"`
	FormattedAddress *string `json:"formatted_address"`
}

// value renders a seeded value v of the field in custom_fields: nil when empty.
func (c pdCustom) value(v string) any {
	if v == "" {
		return nil
	}
	switch c.typ {
	case pdDouble:
		return pdNumber(v)
	case pdMonetary:
		return pdMoney{Value: pdNumber(v), Currency: pdCurrency}
	case pdDate:
		for _, layout := range []string{isoMillis, time.RFC3339Nano} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC().Format(time.DateOnly)
			}
		}
		return v
	case pdEnum:
		if id, ok := c.optID[v]; ok {
			return id
		}
		return v
	case pdSet:
		parts := strings.Split(v, ";")
		ids := make([]int64, 0, len(parts))
		for _, p := range parts {
			id, ok := c.optID[p]
			if !ok {
				return v
			}
			ids = append(ids, id)
		}
		return ids
	case pdAddressField:
		return pdAddressValue{Value: v}
	}
	return v
}

// pdNumber is v as a JSON number, or as the text it is when it is not one.
func pdNumber(v string) any {
	if v != "" && (v[0] == '-' || '0' <= v[0] && v[0] <= '9') && strings.TrimSpace(v) == v && json.Valid([]byte(v)) {
		return json.Number(v)
	}
	return v
}

// pdLabel makes a field code readable: "first_name" -> "First name".
func pdLabel(code string) string {
	s := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// parsePDCustomFields reads the custom_fields query parameter: nil when absent (every
// custom field), else the keys it names, at most pdMaxCustomFieldKeys. Keys that name no
// field are ignored (what Pipedrive does with them is UNCONFIRMED).
func parsePDCustomFields(v string) (map[string]bool, error) {
	if v == "" {
		return nil, nil
	}
	keys := map[string]bool{}
	n := 0
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys[k] = true
			n++
		}
	}
	if n > pdMaxCustomFieldKeys {
		// UNCONFIRMED wording: the SDK states the limit, not the error.
		return nil, fmt.Errorf("custom_fields: a maximum of %d keys is allowed, got %d", pdMaxCustomFieldKeys, n)
	}
	return keys, nil
}

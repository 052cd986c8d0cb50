package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
)

// Records reach crmsync by two paths, the REST API's JSON and the Bulk API's CSV, and both
// must store the same Properties for the same record. So Properties is always built the
// same way: a JSON object with keys in sorted order, each value written canonically
// (strings re-encoded without HTML escaping, objects and arrays compacted, numbers, booleans
// and null as sent). Values are what Salesforce sent; only their spelling is normalised.

// TimeLayout is how the REST API renders a dateTime ("2026-01-01T00:00:00.000+0000").
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Fields every read selects: the record's identity and cursor position.
const (
	fieldID        = "Id"
	fieldCreated   = "CreatedDate"
	fieldModstamp  = "SystemModstamp"
	fieldIsDeleted = "IsDeleted"
	fieldAttrs     = "attributes"
)

// ParseTime reads a Salesforce dateTime: the REST form with a numeric zone, or ISO-8601
// with Z (the Bulk API's CSV, SOQL literals).
func ParseTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not an ISO-8601 date-time", crm.Truncate(crm.Printable(v), 40))
}

// encodeString writes s as a JSON string without HTML escaping.
func encodeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// canonicalValue rewrites one JSON value in the canonical spelling.
func canonicalValue(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty value")
	}
	var buf bytes.Buffer
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		encodeString(&buf, s)
	case '{', '[':
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
	default:
		if !json.Valid(raw) {
			return nil, fmt.Errorf("invalid JSON value")
		}
		buf.Write(raw)
	}
	return buf.Bytes(), nil
}

// buildProperties writes fields as a JSON object with sorted keys.
func buildProperties(fields map[string]json.RawMessage) json.RawMessage {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		encodeString(&buf, k)
		buf.WriteByte(':')
		buf.Write(fields[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// jsonString reads a JSON string value; null and absent are "".
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func malformedRecord(endpoint, format string, args ...any) *crm.APIError {
	return &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD",
		Message: fmt.Sprintf(format, args...)}
}

// recordFromJSON converts one REST record. archived marks records read from a deleted
// listing (queryAll ... WHERE IsDeleted = TRUE) whatever their IsDeleted says.
func recordFromJSON(endpoint string, raw json.RawMessage, archived bool) (crm.Record, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return crm.Record{}, malformedRecord(endpoint, "a record is not a JSON object")
	}
	id, ok := jsonString(fields[fieldID])
	if !ok || id == "" {
		return crm.Record{}, malformedRecord(endpoint, "a record has no Id")
	}
	id = crm.Truncate(crm.Printable(id), 40)
	mod, ok := jsonString(fields[fieldModstamp])
	if !ok || mod == "" {
		return crm.Record{}, malformedRecord(endpoint, "record %s has no SystemModstamp", id)
	}
	r := crm.Record{ID: id}
	var err error
	if r.UpdatedAt, err = ParseTime(mod); err != nil {
		return crm.Record{}, malformedRecord(endpoint, "record %s SystemModstamp: %v", id, err)
	}
	if created, ok := jsonString(fields[fieldCreated]); ok && created != "" {
		if r.CreatedAt, err = ParseTime(created); err != nil {
			return crm.Record{}, malformedRecord(endpoint, "record %s CreatedDate: %v", id, err)
		}
	}
	if archived || string(bytes.TrimSpace(fields[fieldIsDeleted])) == "true" {
		r.Archived, r.ArchivedAt = true, r.UpdatedAt
	}
	delete(fields, fieldID)
	delete(fields, fieldAttrs)
	for k, v := range fields {
		if fields[k], err = canonicalValue(v); err != nil {
			return crm.Record{}, malformedRecord(endpoint, "record %s field %s: %v", id, crm.Truncate(crm.Printable(k), 60), err)
		}
	}
	r.Properties = buildProperties(fields)
	return r, nil
}

// recordsFromJSON converts a page of records; a record without an id or SystemModstamp
// cannot be stored or ordered, so it fails the page rather than being dropped.
func recordsFromJSON(endpoint string, raws []json.RawMessage, archived bool) ([]crm.Record, error) {
	out := make([]crm.Record, 0, len(raws))
	for _, raw := range raws {
		r, err := recordFromJSON(endpoint, raw, archived)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// valueKind is how a CSV cell becomes a JSON value: by the field's describe type.
type valueKind int

const (
	kindText valueKind = iota
	kindNumber
	kindBool
	kindDateTime
)

func kindOfType(typ string) valueKind {
	switch strings.ToLower(typ) {
	case "int", "double", "currency", "percent", "long":
		return kindNumber
	case "boolean":
		return kindBool
	case "datetime":
		return kindDateTime
	}
	return kindText
}

// csvValue converts a Bulk API CSV cell to the JSON value the REST API sends for it:
// empty is null (Salesforce stores empty text as null), numbers and booleans unquoted,
// dateTimes in the REST rendering (the CSV writes them with Z). A cell that does not parse
// as its type stays a string, so nothing is lost.
func csvValue(k valueKind, cell string) json.RawMessage {
	if cell == "" {
		return json.RawMessage("null")
	}
	switch k {
	case kindNumber:
		if isJSONNumber(cell) {
			return json.RawMessage(cell)
		}
	case kindBool:
		if cell == "true" || cell == "false" {
			return json.RawMessage(cell)
		}
	case kindDateTime:
		if t, err := ParseTime(cell); err == nil {
			cell = t.Format(TimeLayout)
		}
	}
	var buf bytes.Buffer
	encodeString(&buf, cell)
	return buf.Bytes()
}

// isJSONNumber reports whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

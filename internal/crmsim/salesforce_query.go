package crmsim

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Query batch sizes (Sforce-Query-Options: batchSize=N): "The default is 2,000; the
// minimum is 200, and the maximum is 2,000."
const (
	sfBatchDefault = 2000
	sfBatchMin     = 200
	// sfRetrieveMax and sfRetrievePostMax are the most ids an sObject Collections retrieve
	// takes by GET and by POST.
	sfRetrieveMax     = 200
	sfRetrievePostMax = 2000
)

// sfCursor is an open query locator: the rows the query matched when it ran, so later
// pages return what the query saw.
type sfCursor struct {
	obj    *sfObject
	fields []int
	rows   []sfRow
	batch  int
	used   time.Time
}

// sfBatchSize reads the Sforce-Query-Options header; out-of-range sizes are clamped, as
// Salesforce treats the size as a hint.
func sfBatchSize(r *http.Request) int {
	for _, part := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "batchSize") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return sfBatchDefault
		}
		return min(max(n, sfBatchMin), sfBatchDefault)
	}
	return sfBatchDefault
}

func soqlReply(err *soqlError) reply {
	return sfErrorReply(http.StatusBadRequest, err.code, err.msg)
}

func (s *Sim) sfServeQuery(c *sfCall, all bool) reply {
	q := c.r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		return sfErrorReply(http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
	}
	parsed, perr := parseSOQL(s.sf.schema, q)
	if perr != nil {
		return soqlReply(perr)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if parsed.count {
		return jsonReply(http.StatusOK, map[string]any{"totalSize": len(parsed.run(s.sfRows(parsed.obj, all))), "done": true, "records": []any{}})
	}
	cur := &sfCursor{obj: parsed.obj, fields: parsed.fields, rows: parsed.run(s.sfRows(parsed.obj, all)),
		batch: sfBatchSize(c.r), used: c.now}
	locator := ""
	if len(cur.rows) > cur.batch {
		locator = s.sf.openCursor(cur, c.now)
	}
	return s.sfQueryPage(c, cur, locator, 0)
}

// openCursor stores a locator, dropping expired ones and, past sfMaxLocators, the least
// recently used.
func (st *salesforceState) openCursor(cur *sfCursor, now time.Time) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var oldest string
	for id, c := range st.cursors {
		if now.Sub(c.used) > sfLocatorTTL {
			delete(st.cursors, id)
			continue
		}
		if oldest == "" || c.used.Before(st.cursors[oldest].used) {
			oldest = id
		}
	}
	if len(st.cursors) >= sfMaxLocators && oldest != "" {
		delete(st.cursors, oldest)
	}
	st.seq++
	id := "01g" + sfIDPod + sfBase62(int64(st.seq), sfIDWidth)
	st.cursors[id] = cur
	return id
}

func (st *salesforceState) cursor(id string, now time.Time) (*sfCursor, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	c, ok := st.cursors[id]
	if !ok || now.Sub(c.used) > sfLocatorTTL {
		delete(st.cursors, id)
		return nil, false
	}
	c.used = now
	return c, true
}

func (s *Sim) sfServeQueryMore(c *sfCall) reply {
	id, off, ok := strings.Cut(c.seg[1], "-")
	n, err := strconv.Atoi(off)
	invalid := sfErrorReply(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
	if !ok || err != nil || n <= 0 {
		return invalid
	}
	cur, ok := s.sf.cursor(id, c.now)
	if !ok || n >= len(cur.rows) {
		return invalid
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sfQueryPage(c, cur, id, n)
}

// sfQueryPage renders rows[off:off+batch] of a query as Salesforce's QueryResult.
func (s *Sim) sfQueryPage(c *sfCall, cur *sfCursor, locator string, off int) reply {
	end := min(off+cur.batch, len(cur.rows))
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"totalSize":%d,"done":%t,`, len(cur.rows), end == len(cur.rows))
	if end < len(cur.rows) {
		fmt.Fprintf(&b, `"nextRecordsUrl":"/services/data/%s/query/%s-%d",`, c.version, locator, end)
	}
	b.WriteString(`"records":[`)
	for i, r := range cur.rows[off:end] {
		if i > 0 {
			b.WriteByte(',')
		}
		sfRenderRecord(&b, cur.obj, cur.fields, r, c.version)
	}
	b.WriteString("]}")
	return reply{status: http.StatusOK, contentType: contentTypeJSON, body: b.Bytes()}
}

// sfRenderRecord writes one record as the REST API does: attributes first, then the
// selected fields in the order selected.
func sfRenderRecord(b *bytes.Buffer, o *sfObject, fields []int, r sfRow, version string) {
	id := o.fields[0].get(r).text
	fmt.Fprintf(b, `{"attributes":{"type":%q,"url":"/services/data/%s/sobjects/%s/%s"}`, o.name, version, o.name, id)
	for _, i := range fields {
		f := &o.fields[i]
		b.WriteString(`,"`)
		b.WriteString(f.name)
		b.WriteString(`":`)
		sfWriteJSONValue(b, f.kind, f.get(r))
	}
	b.WriteByte('}')
}

func sfWriteJSONValue(b *bytes.Buffer, k sfKind, v sfValue) {
	switch {
	case v.null:
		b.WriteString("null")
	case k == sfKNumber:
		b.WriteString(v.text)
	case k == sfKBool:
		b.WriteString(strconv.FormatBool(v.b))
	case k == sfKDateTime:
		b.WriteString(`"` + v.t.Format(sfTimeLayout) + `"`)
	default:
		b.Write(appendJSONString(b.AvailableBuffer(), v.text))
	}
}

// sfServeRetrieve is the sObject Collections retrieve by GET: up to 200 ids in the query
// string.
func (s *Sim) sfServeRetrieve(c *sfCall) reply {
	q := c.r.URL.Query()
	return s.sfRetrieve(c, splitList(q.Get("ids")), splitList(q.Get("fields")), sfRetrieveMax)
}

// sfServeRetrievePost is the sObject Collections retrieve by POST, the ids and fields in
// the body: "The request retrieves up to 2,000 records of the same object type" (REST API
// Developer Guide, resources_composite_sobjects_collections_retrieve_post; the GET form
// fits "approximately 800 IDs before the URL length causes the HTTP 414 error").
func (s *Sim) sfServeRetrievePost(c *sfCall) reply {
	var body struct {
		IDs    []string `json:"ids"`
		Fields []string `json:"fields"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return sfErrorReply(http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
	}
	return s.sfRetrieve(c, body.IDs, body.Fields, sfRetrievePostMax)
}

// sfRetrieve answers a retrieve of up to most ids: an array in the order asked with null
// for every id that is not a live record ("If you don't have access to an object, or if a
// passed ID is invalid, the array returns null for that object"), and 400 for a field the
// object lacks ("If you specify an invalid field name ... HTTP 400 Bad Request is
// returned").
func (s *Sim) sfRetrieve(c *sfCall, ids, names []string, most int) reply {
	o, ok := s.sf.schema.objects[strings.ToLower(c.seg[2])]
	if !ok || !o.isRecord() {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	switch {
	case len(ids) == 0:
		return sfErrorReply(http.StatusBadRequest, "INVALID_FIELD", "ids parameter is required")
	case len(names) == 0:
		return sfErrorReply(http.StatusBadRequest, "INVALID_FIELD", "fields parameter is required")
	case len(ids) > most:
		// UNCONFIRMED errorCode and message; the limits (200 by GET, 2,000 by POST) are
		// documented.
		return sfErrorReply(http.StatusBadRequest, "LIMIT_EXCEEDED", fmt.Sprintf("Maximum number of ids is %d", most))
	}
	var fields []int
	for _, n := range names {
		i, ok := o.field(n)
		if !ok {
			return sfErrorReply(http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", n, o.name))
		}
		fields = append(fields, i)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var b bytes.Buffer
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		e, ok := s.sfLookup(o, id)
		if !ok || e.cur.archived {
			b.WriteString("null")
			continue
		}
		sfRenderRecord(&b, o, fields, sfRow{e: e, st: e.cur}, c.version)
	}
	b.WriteByte(']')
	return reply{status: http.StatusOK, contentType: contentTypeJSON, body: b.Bytes()}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sfDescribeField is the part of DescribeSObjectResult.fields a sync reads.
type sfDescribeField struct {
	Name           string            `json:"name"`
	Label          string            `json:"label"`
	Type           string            `json:"type"`
	SoapType       string            `json:"soapType"`
	Length         int               `json:"length"`
	Nillable       bool              `json:"nillable"`
	Custom         bool              `json:"custom"`
	Calculated     bool              `json:"calculated"`
	Createable     bool              `json:"createable"`
	Updateable     bool              `json:"updateable"`
	Filterable     bool              `json:"filterable"`
	Sortable       bool              `json:"sortable"`
	ReferenceTo    []string          `json:"referenceTo"`
	PicklistValues []sfPicklistValue `json:"picklistValues"`
}

type sfPicklistValue struct {
	Active       bool    `json:"active"`
	DefaultValue bool    `json:"defaultValue"`
	Label        string  `json:"label"`
	ValidFor     *string `json:"validFor"`
	Value        string  `json:"value"`
}

func (s *Sim) sfServeDescribe(c *sfCall) reply {
	o, ok := s.sf.schema.objects[strings.ToLower(c.seg[1])]
	if !ok {
		return sfNotFound()
	}
	fields := make([]sfDescribeField, len(o.fields))
	for i, f := range o.fields {
		system := f.name == "Id" || f.name == "IsDeleted" || f.name == "CreatedDate" ||
			f.name == "LastModifiedDate" || f.name == "SystemModstamp" || f.name == "Name" && o.prefix == sfPrefixContact
		df := sfDescribeField{
			Name: f.name, Label: f.label, Type: f.typ, SoapType: sfSoapType(f.typ),
			Nillable: !system && !f.notNillable, Custom: f.custom, Createable: !system, Updateable: !system,
			Filterable: !f.unfilterable, Sortable: !f.unfilterable, ReferenceTo: []string{}, PicklistValues: []sfPicklistValue{},
		}
		switch {
		case f.length > 0:
			df.Length = f.length
		case f.kind == sfKString:
			df.Length = 255
		case f.kind == sfKID:
			df.Length = 18
		}
		if f.referenceTo != "" {
			df.ReferenceTo = []string{f.referenceTo}
		}
		for j, v := range f.picklist {
			label := v
			if j < len(f.picklistLabels) {
				label = f.picklistLabels[j]
			}
			df.PicklistValues = append(df.PicklistValues, sfPicklistValue{Active: true, Label: label, Value: v})
		}
		fields[i] = df
	}
	base := "/services/data/" + c.version + "/sobjects/" + o.name
	return jsonReply(http.StatusOK, map[string]any{
		"name": o.name, "label": o.label, "keyPrefix": o.prefix, "custom": false,
		"queryable": true, "retrieveable": true, "createable": o.isRecord(), "updateable": o.isRecord(),
		"deletable": o.isRecord(), "replicateable": true,
		"fields": fields,
		"urls":   map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
	})
}

func sfSoapType(typ string) string {
	switch typ {
	case "id", "reference":
		return "tns:ID"
	case "boolean":
		return "xsd:boolean"
	case "int":
		return "xsd:int"
	case "double", "currency", "percent":
		return "xsd:double"
	case "date":
		return "xsd:date"
	case "datetime":
		return "xsd:dateTime"
	}
	return "xsd:string"
}

// sfServeDeleted is getDeleted: the ids and deletion times of records deleted in
// [start, end], seconds ignored as Salesforce ignores them.
func (s *Sim) sfServeDeleted(c *sfCall) reply {
	o, ok := s.sf.schema.objects[strings.ToLower(c.seg[1])]
	if !ok || !o.isRecord() {
		return sfNotFound()
	}
	q := c.r.URL.Query()
	start, ok1 := parseSOQLDateTime(q.Get("start"))
	end, ok2 := parseSOQLDateTime(q.Get("end"))
	if !ok1 || !ok2 || end.Before(start) {
		return sfErrorReply(http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate and endDate must be ISO-8601 date-times, with startDate before endDate")
	}
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	type deleted struct {
		ID          string `json:"id"`
		DeletedDate string `json:"deletedDate"`
	}
	out := []deleted{}
	s.mu.RLock()
	store := s.objects[o.kind]
	for _, i := range store.archived {
		e := store.entries[i]
		at := e.cur.archivedAt.UTC().Truncate(time.Second)
		if !at.Before(start) && !at.After(end) {
			out = append(out, deleted{ID: sfID(o.prefix, e.id), DeletedDate: at.Format(sfTimeLayout)})
		}
	}
	s.mu.RUnlock()
	// The sim keeps every deletion, so the earliest date available is the epoch of the data.
	return jsonReply(http.StatusOK, map[string]any{
		"deletedRecords":        out,
		"earliestDateAvailable": s.opts.Epoch.AddDate(-3, 0, 0).Format(sfTimeLayout),
		"latestDateCovered":     end.Format(sfTimeLayout),
	})
}

type sfLimitValue struct {
	Max       int `json:"Max"`
	Remaining int `json:"Remaining"`
}

func (s *Sim) sfServeLimits(c *sfCall) reply {
	used, limit := s.sf.usage(c.now)
	jobs := s.sf.jobsToday(c.now)
	return jsonReply(http.StatusOK, map[string]sfLimitValue{
		"DailyApiRequests":              {Max: limit, Remaining: max(0, limit-used)},
		"DailyBulkV2QueryJobs":          {Max: 10000, Remaining: max(0, 10000-jobs)},
		"DailyBulkV2QueryFileStorageMB": {Max: 976562, Remaining: 976562},
	})
}

// sfVersions are the API versions the dialect answers to (the versions list shows the
// newest few).
var sfVersions = []struct{ label, version string }{
	{"Spring '24", "60.0"}, {"Summer '24", "61.0"}, {"Winter '25", "62.0"}, {"Spring '25", "63.0"},
	{"Summer '25", "64.0"}, {"Winter '26", "65.0"}, {"Spring '26", "66.0"},
}

func (s *Sim) sfServeVersions() reply {
	out := make([]map[string]string, len(sfVersions))
	for i, v := range sfVersions {
		out[i] = map[string]string{"label": v.label, "url": "/services/data/v" + v.version, "version": v.version}
	}
	return jsonReply(http.StatusOK, out)
}

package crmsim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bulk API 2.0 query jobs. A job takes its rows when it is created (so its results are
// the data as of then), stays InProgress for SalesforceOptions.BulkJobDelay, and then
// serves its results as CSV pages addressed by locators.

// sfBulkDefaultMaxRecords is the page a results call returns when maxRecords is absent
// (Salesforce picks a size from the result's bytes; the sim picks a fixed one).
const sfBulkDefaultMaxRecords = 10000

// sfBulkMinVersion is the first API version with Bulk API 2.0 query.
const sfBulkMinVersion = 47.0

type sfJob struct {
	id        string
	operation string
	obj       *sfObject
	fields    []int
	rows      []sfRow
	created   time.Time
	version   string
}

func (st *salesforceState) addJob(j *sfJob) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.jobs) >= sfMaxJobs {
		var oldest *sfJob
		for _, o := range st.jobs {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		delete(st.jobs, oldest.id)
	}
	st.seq++
	j.id = "750" + sfIDPod + sfBase62(int64(st.seq), sfIDWidth)
	st.jobs[j.id] = j
}

func (st *salesforceState) job(id string) (*sfJob, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	j, ok := st.jobs[id]
	return j, ok
}

// jobsToday counts the jobs created in the last 24 hours that the sim still holds.
func (st *salesforceState) jobsToday(now time.Time) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, j := range st.jobs {
		if now.Sub(j.created) < sfWindow {
			n++
		}
	}
	return n
}

func (j *sfJob) state(now time.Time, delay time.Duration) string {
	if now.Sub(j.created) < delay {
		return "InProgress"
	}
	return "JobComplete"
}

func (s *Sim) sfJobInfo(j *sfJob, state string, now time.Time) map[string]any {
	v, _ := sfVersion(j.version)
	info := map[string]any{
		"id": j.id, "operation": j.operation, "object": j.obj.name,
		"createdById": sfID(sfPrefixUser, 1), "createdDate": j.created.UTC().Format(sfTimeLayout),
		"systemModstamp": now.UTC().Format(sfTimeLayout), "state": state,
		"concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": v,
		"lineEnding": "LF", "columnDelimiter": "COMMA",
	}
	if state == "JobComplete" || state == "InProgress" {
		info["jobType"] = "V2Query"
		info["retries"] = 0
		info["totalProcessingTime"] = 0
		info["numberRecordsProcessed"] = 0
		if state == "JobComplete" {
			info["numberRecordsProcessed"] = len(j.rows)
		}
	}
	return info
}

func (s *Sim) sfServeBulkCreate(c *sfCall) reply {
	if v, _ := sfVersion(c.version); v < sfBulkMinVersion {
		return sfNotFound()
	}
	var body struct {
		Operation       string `json:"operation"`
		Query           string `json:"query"`
		ContentType     string `json:"contentType"`
		ColumnDelimiter string `json:"columnDelimiter"`
		LineEnding      string `json:"lineEnding"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return sfErrorReply(http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
	}
	switch {
	case body.Operation != "query" && body.Operation != "queryAll":
		return sfErrorReply(http.StatusBadRequest, "INVALIDJOB", fmt.Sprintf("Invalid operation: %q", body.Operation))
	case body.ContentType != "" && body.ContentType != "CSV",
		body.ColumnDelimiter != "" && body.ColumnDelimiter != "COMMA",
		body.LineEnding != "" && body.LineEnding != "LF":
		return sfErrorReply(http.StatusBadRequest, "INVALIDJOB", "the simulator writes CSV with COMMA delimiters and LF line endings only")
	}
	parsed, perr := parseSOQL(s.sf.schema, body.Query)
	if perr != nil {
		return soqlReply(perr)
	}
	j := &sfJob{operation: body.Operation, obj: parsed.obj, fields: parsed.fields, created: c.now, version: c.version}
	s.mu.RLock()
	j.rows = parsed.run(s.sfRows(parsed.obj, body.Operation == "queryAll"))
	s.mu.RUnlock()
	s.sf.addJob(j)
	return jsonReply(http.StatusOK, s.sfJobInfo(j, "UploadComplete", c.now))
}

func (s *Sim) sfServeBulkStatus(c *sfCall) reply {
	j, ok := s.sf.job(c.seg[2])
	if !ok {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	return jsonReply(http.StatusOK, s.sfJobInfo(j, j.state(c.now, s.sf.opts.BulkJobDelay), c.now))
}

func (s *Sim) sfServeBulkResults(c *sfCall) reply {
	j, ok := s.sf.job(c.seg[2])
	if !ok {
		return sfErrorReply(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	if j.state(c.now, s.sf.opts.BulkJobDelay) != "JobComplete" {
		return sfErrorReply(http.StatusPreconditionFailed, "JOB_NOT_COMPLETE", "Job is not complete")
	}
	q := c.r.URL.Query()
	from := 0
	if loc := q.Get("locator"); loc != "" && loc != "null" {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(loc, "="))
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 || n > len(j.rows) {
			// UNCONFIRMED errorCode.
			return sfErrorReply(http.StatusBadRequest, "INVALID_LOCATOR", "Invalid locator: "+loc)
		}
		from = n
	}
	limit := sfBulkDefaultMaxRecords
	if v := q.Get("maxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return sfErrorReply(http.StatusBadRequest, "INVALIDJOB", "maxRecords must be a positive integer")
		}
		limit = n
	}
	end := min(from+limit, len(j.rows))
	var b bytes.Buffer
	for i, f := range j.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCSVField(&b, j.obj.fields[f].name)
	}
	b.WriteByte('\n')
	s.mu.RLock()
	for _, r := range j.rows[from:end] {
		for i, f := range j.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			fd := &j.obj.fields[f]
			writeCSVField(&b, sfCSVText(fd.kind, fd.get(r)))
		}
		b.WriteByte('\n')
	}
	s.mu.RUnlock()
	next := "null"
	if end < len(j.rows) {
		next = base64.RawStdEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	c.header.Set("Sforce-Locator", next)
	c.header.Set("Sforce-NumberOfRecords", strconv.Itoa(end-from))
	return reply{status: http.StatusOK, contentType: "text/csv", body: b.Bytes()}
}

// sfCSVText is a value as a Bulk API result CSV holds it: empty for null, dateTimes in
// the bulk layout, everything else as its JSON text without quotes.
func sfCSVText(k sfKind, v sfValue) string {
	switch {
	case v.null:
		return ""
	case k == sfKDateTime:
		return v.t.Format(sfBulkTimeLayout)
	case k == sfKBool:
		return strconv.FormatBool(v.b)
	}
	return v.text
}

// writeCSVField writes a field quoted, as Bulk API results quote every field.
func writeCSVField(b *bytes.Buffer, v string) {
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(v, `"`, `""`))
	b.WriteByte('"')
}

package salesforce

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/internal/crm"
)

// jobIDPattern is what a job id may look like in a path.
var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{15,18}$`)

func checkJobID(id string) error {
	if !jobIDPattern.MatchString(id) {
		return fmt.Errorf("salesforce: %q is not a bulk job id", crm.Truncate(crm.Printable(id), 40))
	}
	return nil
}

// jobInfo is the part of a Bulk API 2.0 job a client reads.
type jobInfo struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	ErrorMessage string `json:"errorMessage"`
}

// StartQuery creates a Bulk API 2.0 query job: POST jobs/query.
func (c *Client) StartQuery(ctx context.Context, obj crm.Object, props []string) (string, crm.RateLimit, error) {
	so, err := SObject(obj)
	if err != nil {
		return "", crm.RateLimit{}, err
	}
	fields, err := selectList(props, fieldID, fieldCreated, fieldModstamp)
	if err != nil {
		return "", crm.RateLimit{}, err
	}
	endpoint := "POST " + c.dataPath("jobs/query")
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + so
	if len(soql) > maxSOQL {
		// The statement travels in the body, but SOQL's own limit applies, and one export
		// cannot be split by field: say what to configure before spending a call.
		return "", crm.RateLimit{}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "QUERY_TOO_LONG",
			Message: fmt.Sprintf("selecting all %d fields of %s is a %d-character SOQL statement, Salesforce takes at most %d: pin fewer properties with `properties:` in the config",
				len(fields), so, len(soql), maxSOQL)}
	}
	body := map[string]string{
		"operation": "query", "query": soql,
		"contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF",
	}
	var job jobInfo
	rl, err := c.doJSON(ctx, request{method: http.MethodPost, endpoint: endpoint, path: c.dataPath("jobs/query"), body: body}, &job)
	if err != nil {
		return "", rl, err
	}
	if checkJobID(job.ID) != nil {
		return "", rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
			Message: "the created job has no usable id"}
	}
	return job.ID, rl, nil
}

// JobDone reads GET jobs/query/{id}.
func (c *Client) JobDone(ctx context.Context, jobID string) (bool, crm.RateLimit, error) {
	if err := checkJobID(jobID); err != nil {
		return false, crm.RateLimit{}, err
	}
	endpoint := "GET " + c.dataPath("jobs/query/{id}")
	var job jobInfo
	rl, err := c.doJSON(ctx, request{method: http.MethodGet, endpoint: endpoint, path: c.dataPath("jobs/query/" + jobID)}, &job)
	if err != nil {
		return false, rl, err
	}
	switch job.State {
	case "JobComplete":
		return true, rl, nil
	case "UploadComplete", "InProgress", "Open":
		return false, rl, nil
	case "Failed", "Aborted":
		return false, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, RateLimit: rl,
			Category: "JOB_" + strings.ToUpper(job.State), Message: crm.Truncate(crm.Printable(job.ErrorMessage), 500)}
	}
	return false, rl, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint, RateLimit: rl,
		Message: fmt.Sprintf("unknown job state %q", crm.Truncate(crm.Printable(job.State), 40))}
}

// Results reads GET jobs/query/{id}/results?locator=&maxRecords= and streams its CSV.
func (c *Client) Results(ctx context.Context, jobID, locator string, maxRecords int, fields []crm.Property, each func(crm.Record) error) (string, crm.RateLimit, error) {
	if err := checkJobID(jobID); err != nil {
		return "", crm.RateLimit{}, err
	}
	endpoint := "GET " + c.dataPath("jobs/query/{id}/results")
	q := url.Values{}
	if maxRecords > 0 {
		q.Set("maxRecords", strconv.Itoa(maxRecords))
	}
	if locator != "" {
		q.Set("locator", locator)
	}
	path := c.dataPath("jobs/query/" + jobID + "/results")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, rl, err := c.send(ctx, request{method: http.MethodGet, endpoint: endpoint, path: path, accept: "text/csv"})
	if err != nil {
		return "", rl, err
	}
	defer resp.Body.Close()
	bad := func(msg string, cause error) (string, crm.RateLimit, error) {
		return "", rl, &crm.APIError{Kind: crm.KindBadResponse, Status: resp.StatusCode, Endpoint: endpoint,
			RateLimit: rl, Message: msg, Err: cause}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return bad("expected CSV, got "+crm.DescribeBody(resp.Header.Get("Content-Type"), head), nil)
	}
	next := strings.TrimSpace(resp.Header.Get("Sforce-Locator"))
	if next == "null" {
		next = ""
	}
	if next != "" && next == locator {
		return bad("Sforce-Locator repeats the request's locator", nil)
	}

	kinds := make(map[string]valueKind, len(fields))
	names := make(map[string]string, len(fields))
	for _, f := range fields {
		kinds[strings.ToLower(f.Name)] = kindOfType(f.Type)
		names[strings.ToLower(f.Name)] = f.Name
	}
	r := csv.NewReader(resp.Body)
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		// No records at all: Salesforce sends an empty body.
		return next, rl, nil
	}
	if err != nil {
		return bad("reading the CSV header", err)
	}
	cols := make([]string, len(header))
	colKinds := make([]valueKind, len(header))
	idCol, createdCol, modCol, deletedCol := -1, -1, -1, -1
	for i, h := range header {
		// Field names as describe spells them, as the REST API's JSON keys are.
		cols[i] = h
		if n, ok := names[strings.ToLower(h)]; ok {
			cols[i] = n
		}
		colKinds[i] = kinds[strings.ToLower(h)]
		switch {
		case strings.EqualFold(h, fieldID):
			idCol = i
		case strings.EqualFold(h, fieldCreated):
			createdCol, cols[i], colKinds[i] = i, fieldCreated, kindDateTime
		case strings.EqualFold(h, fieldModstamp):
			modCol, cols[i], colKinds[i] = i, fieldModstamp, kindDateTime
		case strings.EqualFold(h, fieldIsDeleted):
			deletedCol, cols[i], colKinds[i] = i, fieldIsDeleted, kindBool
		}
	}
	if idCol < 0 || modCol < 0 {
		return bad("the CSV header has no Id or SystemModstamp column", nil)
	}
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return next, rl, nil
		}
		if err != nil {
			return bad(fmt.Sprintf("reading CSV row %d", row), err)
		}
		out := crm.Record{ID: rec[idCol]}
		if !recordID.MatchString(out.ID) {
			return "", rl, malformedRecord(endpoint, "CSV row %d has no Id", row)
		}
		if out.UpdatedAt, err = ParseTime(rec[modCol]); err != nil {
			return "", rl, malformedRecord(endpoint, "record %s SystemModstamp: %v", out.ID, err)
		}
		if createdCol >= 0 && rec[createdCol] != "" {
			if out.CreatedAt, err = ParseTime(rec[createdCol]); err != nil {
				return "", rl, malformedRecord(endpoint, "record %s CreatedDate: %v", out.ID, err)
			}
		}
		if deletedCol >= 0 && rec[deletedCol] == "true" {
			out.Archived, out.ArchivedAt = true, out.UpdatedAt
		}
		props := make(map[string]json.RawMessage, len(cols)-1)
		for i, col := range cols {
			if i != idCol {
				props[col] = csvValue(colKinds[i], rec[i])
			}
		}
		out.Properties = buildProperties(props)
		if err := each(out); err != nil {
			return "", rl, fmt.Errorf("%s: %w", endpoint, err)
		}
	}
}

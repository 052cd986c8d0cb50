package pipedrive_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/crmtest"
	"github.com/crmsync/crmsync/internal/crm/pipedrive"
)

// The fuzz targets drive the real client (request building, send, per-endpoint decoding)
// against one httptest server per target whose handler answers every request with the
// fuzzed status, content type, headers and body. Each input is (status, content type,
// headers, body); headers is "limit|remaining|reset|dailyTokens|retryAfter|date", each
// field optional, so the corpus stays readable.

const fuzzToken = "api-token-fuzz-secret-0123456789"

// fuzzResponse is one seed answer: (status, content type, headers, body).
type fuzzResponse struct {
	status      int
	contentType string
	headers     string
	body        string
}

// fuzzServer is one server per fuzz target; the mutex keeps the race detector content.
type fuzzServer struct {
	*crmtest.Server
	c *pipedrive.Client
}

var fuzzHeaders = []string{
	"x-ratelimit-limit",
	"x-ratelimit-remaining",
	"x-ratelimit-reset",
	"x-daily-ratelimit-token-remaining",
	"Retry-After",
	"Date",
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	fs := &fuzzServer{Server: crmtest.NewServer(f, fuzzHeaders...)}
	c, err := pipedrive.New(pipedrive.Options{BaseURL: fs.URL, Tokens: crm.StaticToken(fuzzToken), DailyTokens: 30000,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	require.NoError(f, err)
	fs.c = c
	return fs
}

// Seeds every target shares: Pipedrive's error bodies and what stands in front of it.
var errorSeeds = []fuzzResponse{
	{401, "application/json", "", `{"success":false,"error":"unauthorized access","errorCode":401,"error_info":"Please check developers.pipedrive.com for more information about Pipedrive API."}`},
	{403, "application/json", "", `{"success":false,"error":"You do not have permissions","errorCode":403}`},
	{403, "text/html", "||||60|", "<html><head><title>Attention Required! | Cloudflare</title></head></html>"},
	{400, "application/json", "", `{"success":false,"error":"limit must be an integer from 1 to 500","errorCode":400}`},
	{404, "application/json", "", `{"success":false,"error":"Unknown method .","errorCode":"404"}`},
	{429, "application/json", "20|0|2|29000||", `{"success":false,"error":"Request over limit","errorCode":429}`},
	{429, "application/json", "20|0|2|29000|3|", `{"success":false,"error":"Request over limit","errorCode":429}`},
	{429, "application/json", "20|15|1|0||Mon, 01 Jun 2026 23:59:30 GMT", `{"success":false,"error":"Daily API token budget exceeded","errorCode":429}`},
	{429, "application/json", "|||||Wed, 21 Oct 2015 07:28:00 GMT", `{"success":false,"error":"daily limit"}`},
	{429, "application/json", "||||1e300|", `{"success":false}`},
	{429, "application/json", "||99999999999999||Wed, 21 Oct 2015 07:28:00 GMT|Wed, 21 Oct 2015 07:28:00 GMT", `{"success":null,"error":null,"errorCode":{}}`},
	{502, "text/html", "", "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"},
	{503, "text/html; charset=utf-8", "", "<HTML><TITLE>\xff\xfe unterminated"},
	{500, "", "", ""},
	{200, "text/html", "", "<html><title>Maintenance</title></html>"},
	{200, "application/json", "", ""},
	{200, "application/json", "", "null"},
	{200, "application/json", "", `{"success":false,"error":"odd"}`},
	{200, "application/json", "", `{"success":true,"data":null,"additional_data":null}`},
	{200, "application/json", "", `{"success":true,"data":{"id":1}}`},
	{200, "application/problem+json", "99999999999999999999|-1|x|1e3|-5|", `{"success":true,"data":[]}`},
	{200, "application/json;charset=utf-8", " 20 | 19 | 2 | 29980 ||\u202e", `{"success":true,"data":[],"additional_data":{"next_cursor":null}}`},
}

func addSeeds(f *testing.F, bodies ...string) {
	f.Helper()
	for _, s := range errorSeeds {
		f.Add(s.status, s.contentType, s.headers, s.body)
	}
	for _, b := range bodies {
		f.Add(200, "application/json", "20|19|2|29980||Mon, 01 Jun 2026 12:00:00 GMT", b)
		f.Add(200, "application/json", "", b[:len(b)/2])
	}
}

// checkRateLimit holds for every result, error or not.
func checkRateLimit(t *testing.T, rl crm.RateLimit) {
	t.Helper()
	if rl.WindowKnown {
		require.GreaterOrEqual(t, rl.Max, 0)
		require.GreaterOrEqual(t, rl.Remaining, 0)
		require.Equal(t, 2*time.Second, rl.Interval)
	} else {
		require.Zero(t, rl.Max)
		require.Zero(t, rl.Remaining)
	}
	if rl.DailyKnown {
		require.GreaterOrEqual(t, rl.DailyRemaining, 0)
		require.GreaterOrEqual(t, rl.DailyMax, rl.DailyRemaining)
	}
}

// checkErr holds for every error: a response always becomes a *crm.APIError classified by
// its status, and no error carries the credential.
func checkErr(t *testing.T, status int, contentType, headers, body string, err error) {
	t.Helper()
	if !strings.Contains(body+headers+contentType, fuzzToken) {
		require.NotContains(t, err.Error(), fuzzToken, "errors never carry the credential")
	}
	var ae *crm.APIError
	if !errors.As(err, &ae) {
		// Only a response the transport cannot read (a header with control bytes, say) is
		// not an APIError: the transport's error, wrapped with the endpoint.
		require.Contains(t, err.Error(), "transport connection broken", "want *crm.APIError, got %T %v", err, err)
		return
	}
	require.GreaterOrEqual(t, ae.RetryAfter, time.Duration(0), "headers %q", headers)
	require.LessOrEqual(t, ae.RetryAfter, 24*time.Hour, "headers %q", headers)
	checkRateLimit(t, ae.RateLimit)
	if status >= 200 && status < 300 {
		require.Contains(t, []crm.Kind{crm.KindBadResponse, crm.KindInvalid}, ae.Kind, "%v", err)
		return
	}
	require.Equal(t, status, ae.Status)
	switch {
	case status == http.StatusTooManyRequests:
		require.Equal(t, crm.KindRateLimited, ae.Kind)
		require.Contains(t, []string{crm.PolicyWindow, crm.PolicyDaily}, ae.Policy)
	case status == http.StatusUnauthorized:
		require.Equal(t, crm.KindUnauthorized, ae.Kind, "a static token cannot be refreshed")
		require.False(t, ae.Retryable())
	case status == http.StatusForbidden:
		require.Contains(t, []crm.Kind{crm.KindUnauthorized, crm.KindRateLimited}, ae.Kind)
	case status >= 500:
		require.Equal(t, crm.KindUnavailable, ae.Kind)
		require.True(t, ae.Retryable())
	case status >= 400 && status != http.StatusRequestTimeout && status != http.StatusLocked:
		require.Equal(t, crm.KindInvalid, ae.Kind)
	}
}

// checkRecords holds for every successful page of records.
func checkRecords(t *testing.T, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		require.NotEmpty(t, r.ID)
		require.False(t, r.UpdatedAt.IsZero(), "record %s", r.ID)
		require.Equal(t, time.UTC, r.UpdatedAt.Location())
		require.Equal(t, r.Archived, !r.ArchivedAt.IsZero())
		require.Equal(t, byte('{'), strings.TrimSpace(string(r.Properties))[0], "properties of %s are an object", r.ID)
		require.NotContains(t, string(r.Properties), `"id":`, "the id is not a property")
	}
}

const listBody = `{"success":true,"data":[
	{"id":101,"name":"Ada Lovelace","first_name":"Ada","last_name":"Lovelace","owner_id":6166861,"org_id":301,
	 "add_time":"2025-01-01T00:00:00Z","update_time":"2026-01-02T03:04:05Z","emails":[{"value":"ada@example.com","primary":true,"label":"work"}],
	 "phones":[],"is_deleted":false,"visible_to":3,"label_ids":[],"custom_fields":{"dcf558aac1ae4e8c4f849ba5e668430d8df9be12":null}},
	{"id":"102","update_time":"2026-01-02 03:04:05","is_deleted":true},
	{"id":103,"update_time":"2026-01-02T03:04:06Z","status":"deleted","value":1e3}],
	"additional_data":{"next_cursor":"eyJmaWVsZCI6ImlkIiwiaWQiOjEwM30"}}`

func FuzzList(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		listBody,
		`{"success":true,"data":[],"additional_data":{"next_cursor":"cur-1"}}`,
		`{"success":true,"data":[{"id":-5,"update_time":"2026-01-01T00:00:00Z"}]}`,
		`{"success":true,"data":[{"id":5}]}`,
		`{"success":true,"data":[{"id":5.5,"update_time":"2026-01-01T00:00:00Z"}]}`,
		`{"success":true,"data":[{"id":5,"update_time":"0001-01-01T00:00:00Z"}],"additional_data":{"next_cursor":null}}`,
		`{"success":true,"data":[{"id":5,"update_time":"2026-01-01T00:00:00Z","add_time":7}]}`,
		`{"success":true,"data":[{"id":99999999999999999999999,"update_time":"2026-01-01T00:00:00Z"}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		const after = "cur-1"
		for _, req := range []crm.ListRequest{{Object: crm.Contacts, After: after}, {Object: crm.Deals, After: after, Archived: true}} {
			page, err := fs.c.List(t.Context(), req)
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, contentType, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			for _, r := range page.Records {
				require.Equal(t, req.Archived, r.Archived)
			}
			require.NotEqual(t, after, page.Next, "a cursor that does not move")
		}
	})
}

func FuzzBatchRead(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		listBody,
		`{"success":true,"data":[{"id":101,"update_time":"2026-01-02T03:04:05Z"},{"id":7,"update_time":"2026-01-02T03:04:05Z"}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, archived := range []bool{false, true} {
			page, err := fs.c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Deals, IDs: []string{"101", "102", "103"}, Archived: archived})
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, contentType, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			require.Empty(t, page.Next, "a batch read has no next page")
			for _, r := range page.Records {
				require.Contains(t, []string{"101", "102", "103"}, r.ID, "only the ids asked for")
				require.Equal(t, archived, r.Archived)
			}
		}
	})
}

func FuzzChanges(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"success":true,"data":[
			{"id":7,"update_time":"2026-01-02T03:04:05Z"},{"id":8,"update_time":"2026-01-02T03:04:06Z"},{"id":3,"update_time":"2026-01-02T03:04:06Z"}],
			"additional_data":{"next_cursor":"c2"}}`,
		`{"success":true,"data":[{"id":3,"update_time":"2026-01-02T03:04:05Z"},{"id":9,"update_time":"2026-01-02T03:04:05Z"}],"additional_data":{"next_cursor":"c2"}}`,
		`{"success":true,"data":[{"id":3,"update_time":"2024-01-01T00:00:00Z"}],"additional_data":{"next_cursor":"x"}}`,
		`{"success":true,"data":[{"id":3,"update_time":"2026-01-02T03:04:07.999Z"}]}`,
		`{"success":true,"data":[{"id":3,"update_time":"yesterday"}]}`,
		`{"success":true,"data":[{"id":3,"update_time":null}]}`,
		`{"success":true,"data":[{"id":3,"update_time":5}]}`,
	)
	f.Add(200, "application/json", "||||| Mon, 02 Jan 2026 03:04:06 GMT", `{"success":true,"data":[{"id":6,"update_time":"2026-01-02T03:04:06Z"}]}`)
	// The cursors the fuzzed page answers: normal ones and ones walking a second by id.
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cursors := []crm.Cursor{{ModifiedAt: from, ID: "5"}, {ModifiedAt: from}, {ModifiedAt: from, ID: "5", Mode: "ties"},
		{ModifiedAt: from, ID: "5", Mode: "ties:c1"}, {ModifiedAt: from.Add(678 * time.Millisecond)}}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, cur := range cursors {
			page, err := fs.c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Deals, From: cur})
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, contentType, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			start := cur
			start.ModifiedAt = start.ModifiedAt.Truncate(time.Second)
			require.GreaterOrEqual(t, page.Next.Compare(start), 0, "cursor %v went back from %v", page.Next, cur)
			require.True(t, page.Next.Mode == "" || page.Next.Mode == "ties" || strings.HasPrefix(page.Next.Mode, "ties:"), "mode %q", page.Next.Mode)
			for _, r := range page.Records {
				k := crm.Cursor{ModifiedAt: r.UpdatedAt.Truncate(time.Second), ID: r.ID}
				require.Positive(t, k.Compare(start), "record %s at or before the cursor", r.ID)
				if page.More {
					require.LessOrEqual(t, k.Compare(page.Next), 0, "record %s after the next cursor %v of a partial page", r.ID, page.Next)
				}
			}
			if page.More && page.Next.Mode == cur.Mode && page.Next.Compare(start) == 0 {
				t.Fatalf("a page with more to come left the cursor %v where it was", cur)
			}
		}
	})
}

func FuzzOwners(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"success":true,"data":[{"id":6166861,"name":"Ada Lovelace","email":"ada@example.com","active_flag":true,
			"created":"2019-12-25 13:01:35","modified":"2023-08-22 13:40:26","is_you":true}],
			"additional_data":{"pagination":{"start":500,"limit":500,"more_items_in_collection":true,"next_start":1000}}}`,
		`{"success":true,"data":[{"id":1,"name":"","active_flag":false}],"additional_data":{"pagination":{"more_items_in_collection":true,"next_start":3}}}`,
		`{"success":true,"data":[{"id":""}]}`,
		`{"success":true,"data":[{"id":7,"modified":7}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		page, err := fs.c.Owners(t.Context(), "500")
		checkRateLimit(t, page.RateLimit)
		if err != nil {
			checkErr(t, status, contentType, headers, body, err)
			require.Empty(t, page.Owners)
			return
		}
		for _, o := range page.Owners {
			require.NotEmpty(t, o.ID)
		}
		require.NotEqual(t, "500", page.Next, "a start that does not move")
	})
}

func FuzzPipelines(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"success":true,"data":[{"id":1,"name":"Sales Pipeline","order_nr":0,"is_deleted":false,"pipeline_id":1,
			"deal_probability":20,"add_time":"2020-02-11T13:30:00Z","update_time":"2023-06-19T08:05:41Z"}],"additional_data":{"next_cursor":null}}`,
		`{"success":true,"data":[{"id":1,"name":"x","order_nr":99999999999999999999,"pipeline_id":1}]}`,
		`{"success":true,"data":[{"id":1,"pipeline_id":null}]}`,
		`{"success":true,"data":[{"id":2,"pipeline_id":2,"is_deleted":true}],"additional_data":{"next_cursor":"more"}}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		ps, rl, err := fs.c.Pipelines(t.Context(), crm.Deals)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, contentType, headers, body, err)
			require.Empty(t, ps)
			return
		}
		for _, p := range ps {
			require.NotEmpty(t, p.ID)
			for _, s := range p.Stages {
				require.NotEmpty(t, s.ID, "a stage of pipeline %s", p.ID)
				require.False(t, s.Closed)
			}
		}
	})
}

func FuzzProperties(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"success":true,"data":[{"field_name":"Name","field_code":"name","field_type":"varchar","options":null,"subfields":null,
			"is_custom_field":false,"is_optional_response_field":false}],"additional_data":{"next_cursor":null}}`,
		`{"success":true,"data":[{"field_code":"dcf558aac1ae4e8c4f849ba5e668430d8df9be12","field_name":"Job title","field_type":"varchar","is_custom_field":true},{"field_code":""}]}`,
		`{"success":true,"data":[{"field_code":5}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		props, rl, err := fs.c.Properties(t.Context(), crm.Contacts)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, contentType, headers, body, err)
			require.Empty(t, props)
			return
		}
		for _, p := range props {
			require.NotEmpty(t, p.Name)
		}
	})
}

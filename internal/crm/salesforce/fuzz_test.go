package salesforce_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/crmtest"
	"github.com/crmsync/crmsync/internal/crm/salesforce"
)

// The fuzz targets drive the real client (request building, send, per-endpoint decoding)
// against one httptest server per target that answers every request with the fuzzed
// status, content type, headers and body. headers is "limitInfo|retryAfter|locator|count"
// (Sforce-Limit-Info, Retry-After, Sforce-Locator, Sforce-NumberOfRecords), each optional.

const fuzzSecret = "00DfuzzSECRET!AQ4AQ-session-0123456789"

// fuzzResponse is one seed answer: (status, content type, headers, body).
type fuzzResponse struct {
	status      int
	contentType string
	headers     string
	body        string
}

type fuzzServer struct {
	*crmtest.Server
	c *salesforce.Client
}

var fuzzHeaderNames = []string{"Sforce-Limit-Info", "Retry-After", "Sforce-Locator", "Sforce-NumberOfRecords"}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	fs := &fuzzServer{Server: crmtest.NewServer(f, fuzzHeaderNames...)}
	c, err := salesforce.New(salesforce.Options{BaseURL: fs.URL, Tokens: expiringToken(fuzzSecret),
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, PageSize: 200})
	require.NoError(f, err)
	fs.c = c
	return fs
}

// expiringToken is a token source whose token can always be replaced, so 401s become
// KindTokenExpired.
type expiringToken string

func (t expiringToken) Token(context.Context) (string, error) { return string(t), nil }

func (t expiringToken) Expired(string) bool { return true }

// errorSeeds are error answers from Salesforce and from what stands in front of it.
var errorSeeds = []fuzzResponse{
	{401, "application/json;charset=UTF-8", "", `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`},
	{403, "application/json;charset=UTF-8", "api-usage=100000/100000", `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`},
	{403, "application/json;charset=UTF-8", "api-usage=5/100000", `[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED","fields":[]}]`},
	{403, "application/json", "", `[{"message":"The REST API is not enabled for this Organization.","errorCode":"API_DISABLED_FOR_ORG"}]`},
	{400, "application/json", "api-usage=7/15000", `[{"message":"\nSELECT Id FROM Contact WHERE\n ^\nERROR at Row:1:Column:30\nunexpected token: <EOF>","errorCode":"MALFORMED_QUERY"}]`},
	{400, "application/json", "", `[{"message":"No such column 'Foo' on entity 'Contact'.","errorCode":"INVALID_FIELD","fields":["Foo"]}]`},
	{400, "application/json", "", `[{"errorCode":"INVALID_QUERY_LOCATOR","message":"invalid query locator"}]`},
	{400, "application/json", "", `{"error":"invalid_grant","error_description":"expired access/refresh token"}`},
	{404, "application/json", "", `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`},
	{412, "application/json", "", `[{"errorCode":"JOB_NOT_COMPLETE","message":"Job is not complete"}]`},
	{429, "application/json", "|30|", `[]`},
	{500, "application/json", "", `[{"message":"An unexpected error occurred.","errorCode":"UNKNOWN_EXCEPTION"}]`},
	{503, "text/html", "|1e300|", "<html><head><title>503 Service Unavailable</title></head></html>"},
	{502, "text/html", "|Wed, 21 Oct 2015 07:28:00 GMT|", "<html>\x80\xff<TITLE>Bad Gateway</TITLE></html>"},
	{500, "", "", ""},
	{200, "text/html", "", "<html><title>Maintenance</title></html>"},
	{200, "application/json", "", ""},
	{200, "application/json", "", "null"},
	{200, "application/json", "api-usage=-1/abc", `[null]`},
	{200, "application/json", "api-usage=99999999999999999999/1; api-bursts=1/750", `{}`},
	{200, "application/json", " api-usage = 10018 / 100000 , api-usage=1/2", `{"done":true,"records":[]}`},
}

func addSeeds(f *testing.F, okStatus int, contentType string, bodies ...string) {
	f.Helper()
	for _, s := range errorSeeds {
		f.Add(s.status, s.contentType, s.headers, s.body)
	}
	for _, b := range bodies {
		f.Add(okStatus, contentType, "api-usage=10018/100000", b)
		f.Add(okStatus, contentType, "", b[:len(b)/2])
	}
}

func checkRateLimit(t *testing.T, rl crm.RateLimit) {
	t.Helper()
	require.False(t, rl.WindowKnown, "Salesforce has no short window")
	if rl.DailyKnown {
		require.GreaterOrEqual(t, rl.DailyMax, 0)
		require.GreaterOrEqual(t, rl.DailyRemaining, 0)
		require.LessOrEqual(t, rl.DailyRemaining, rl.DailyMax)
	}
}

// checkErr holds for every error: a response becomes a *crm.APIError classified by its
// status, and no error carries the credential or the request's SOQL.
func checkErr(t *testing.T, status int, headers, body string, err error) {
	t.Helper()
	if !strings.Contains(body+headers, fuzzSecret) {
		require.NotContains(t, err.Error(), fuzzSecret, "errors never carry the credential")
	}
	if !strings.Contains(body, "SELECT") {
		require.NotContains(t, err.Error(), "SELECT", "errors never carry the query")
	}
	var ae *crm.APIError
	if !errors.As(err, &ae) {
		// Only a response the transport cannot read is not an APIError.
		require.Contains(t, err.Error(), "transport connection broken", "want *crm.APIError, got %T %v", err, err)
		return
	}
	require.GreaterOrEqual(t, ae.RetryAfter, time.Duration(0))
	checkRateLimit(t, ae.RateLimit)
	if status >= 200 && status < 300 {
		require.Contains(t, []crm.Kind{crm.KindBadResponse, crm.KindInvalid}, ae.Kind, "%v", err)
		return
	}
	require.Equal(t, status, ae.Status)
	switch {
	case status == http.StatusUnauthorized:
		require.Equal(t, crm.KindTokenExpired, ae.Kind)
	case status == http.StatusForbidden:
		require.Contains(t, []crm.Kind{crm.KindRateLimited, crm.KindUnauthorized}, ae.Kind)
		if ae.Kind == crm.KindRateLimited {
			require.Equal(t, "REQUEST_LIMIT_EXCEEDED", ae.Category)
			require.Contains(t, []string{crm.PolicyDaily, salesforce.PolicyConcurrent}, ae.Policy)
		}
	case status == http.StatusTooManyRequests:
		require.Equal(t, crm.KindRateLimited, ae.Kind)
	case status >= 500:
		require.Equal(t, crm.KindUnavailable, ae.Kind)
		require.True(t, ae.Retryable())
	}
}

func checkRecords(t *testing.T, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		require.NotEmpty(t, r.ID)
		require.False(t, r.UpdatedAt.IsZero(), "record %s", r.ID)
		require.Equal(t, time.UTC, r.UpdatedAt.Location())
		var props map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(r.Properties, &props), "properties of %s", r.ID)
		require.NotNil(t, props)
		require.NotContains(t, props, "attributes")
		require.NotContains(t, props, "Id")
		require.Equal(t, r.Archived, !r.ArchivedAt.IsZero())
	}
}

func checkNext(t *testing.T, next, after string) {
	t.Helper()
	if next != "" {
		require.True(t, strings.HasPrefix(next, "/services/data/v"), "next %q", next)
		require.NotContains(t, next, "..")
		require.NotEqual(t, after, next, "a cursor that does not move")
	}
}

const queryBody = `{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gRO0000016PIAYA2-200","records":[
	{"attributes":{"type":"Contact","url":"/services/data/v62.0/sobjects/Contact/0035g00000AbCdEAAV"},"Id":"0035g00000AbCdEAAV",
	 "CreatedDate":"2025-01-01T00:00:00.000+0000","SystemModstamp":"2026-01-02T03:04:05.000+0000","Email":"a\u003cb@example.com",
	 "NumberOfEmployees":12,"AnnualRevenue":1.5e6,"IsDeleted":false,"MailingAddress":{"city":"Paris","country":null},"Name":null},
	{"attributes":{"type":"Contact"},"Id":"0035g00000AbCdFAAV","SystemModstamp":"2026-01-02T03:04:05Z","IsDeleted":true}]}`

func FuzzList(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json;charset=UTF-8",
		queryBody,
		`{"totalSize":0,"done":true,"records":[]}`,
		`{"done":false,"records":[]}`,
		`{"done":false,"nextRecordsUrl":"https://evil.example/services/data/v62.0/query/x","records":[]}`,
		`{"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-200","records":[]}`,
		`{"done":true,"records":[{"Id":"0035g00000AbCdEAAV","SystemModstamp":"yesterday"}]}`,
		`{"done":true,"records":[{"Id":5,"SystemModstamp":"2026-01-02T03:04:05.000+0000"}]}`,
		`{"done":true,"records":[{"Id":"0035g00000AbCdEAAV"}]}`,
		`{"done":true,"records":["x",null]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, req := range []crm.ListRequest{
			{Object: crm.Contacts, Properties: []string{"Email", "email", "NumberOfEmployees"}},
			{Object: crm.Contacts, Archived: true, After: "/services/data/v62.0/query/01g-200"},
		} {
			page, err := fs.c.List(t.Context(), req)
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			checkNext(t, page.Next, req.After)
			for _, r := range page.Records {
				require.True(t, r.Archived || !req.Archived, "a deleted listing holds deleted records")
			}
		}
	})
}

func FuzzChanges(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		queryBody,
		`{"done":true,"records":[{"Id":"0035g00000AbCdEAAV","SystemModstamp":"2020-01-02T03:04:05.000+0000"}]}`,
		`{"done":true,"records":[{"Id":"0035g00000AbCdEAAV","SystemModstamp":"2026-01-02T03:04:05.000+0000"},
			{"Id":"0035g00000AbCd0AAV","SystemModstamp":"2026-01-02T03:04:05.000+0000"}]}`,
		`{"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-200","records":[{"Id":"0035g00000AbCdEAAV","SystemModstamp":"2026-01-02T03:04:04.000+0000"}]}`,
	)
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cursors := []crm.Cursor{{}, {ModifiedAt: from}, {ModifiedAt: from, ID: "0035g00000AbCd9AAV"},
		{ModifiedAt: from.Add(123 * time.Millisecond), ID: "0035g00000AbCd9AAV", Mode: "ties"}}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, cur := range cursors {
			page, err := fs.c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Deals, From: cur, Properties: []string{"Amount"}})
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			require.GreaterOrEqual(t, page.Next.Compare(cur), 0, "cursor %v went back from %v", page.Next, cur)
			require.Empty(t, page.Next.Mode)
			if page.More {
				require.Positive(t, page.Next.Compare(cur), "a page with more after it moves the cursor")
			}
		}
	})
}

func FuzzBatchRead(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`[{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/0015g00000AbCdEAAV"},"Id":"0015g00000AbCdEAAV",
			"Name":"Acme","SystemModstamp":"2026-01-02T03:04:05.000+0000"},null]`,
		`[null,null]`,
		`[{"Id":"0015g00000AbCdEAAV"}]`,
		`[{"errorCode":"INVALID_ID_FIELD","message":"invalid id"}]`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, archived := range []bool{false, true} {
			page, err := fs.c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Companies,
				IDs: []string{"0015g00000AbCdEAAV", "0015g00000AbCdFAAV"}, Properties: []string{"Name"}, Archived: archived})
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			require.Empty(t, page.Next)
			if archived {
				for _, r := range page.Records {
					require.True(t, r.Archived)
				}
			}
		}
	})
}

func FuzzOwners(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`{"totalSize":2,"done":true,"records":[{"attributes":{"type":"User"},"Id":"0055g00000AbCdEAAV","FirstName":"Ada","LastName":"Lovelace",
			"Email":"ada@example.com","IsActive":true,"LastModifiedDate":"2023-08-22T13:40:26.000+0000"},
			{"Id":"0055g00000AbCdFAAV","IsActive":false,"LastModifiedDate":null}]}`,
		`{"done":true,"records":[{"Id":""}]}`,
		`{"done":true,"records":[{"Id":"005x","LastModifiedDate":"soon"}]}`,
		`{"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-200","records":[]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, after := range []string{"", "/services/data/v62.0/query/01g-200"} {
			page, err := fs.c.Owners(t.Context(), after)
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Owners)
				continue
			}
			for _, o := range page.Owners {
				require.NotEmpty(t, o.ID)
			}
			checkNext(t, page.Next, after)
		}
	})
}

func FuzzPipelines(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`{"totalSize":2,"done":true,"records":[{"attributes":{"type":"OpportunityStage"},"Id":"01J5g000000AbCdEAA","MasterLabel":"Prospecting",
			"IsActive":true,"IsClosed":false,"IsWon":false,"SortOrder":1},{"MasterLabel":"Closed Won","IsClosed":true,"SortOrder":1e30}]}`,
		`{"done":true,"records":[{"MasterLabel":""}]}`,
		`{"done":true,"records":[{"MasterLabel":"x","IsClosed":"yes"}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		ps, rl, err := fs.c.Pipelines(t.Context(), crm.Deals)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, ps)
			return
		}
		require.Len(t, ps, 1)
		for _, s := range ps[0].Stages {
			require.NotEmpty(t, s.ID)
			require.GreaterOrEqual(t, s.DisplayOrder, 0)
		}
	})
}

func FuzzProperties(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`{"name":"Contact","fields":[{"name":"Id","label":"Contact ID","type":"id","length":18},
			{"name":"MailingAddress","label":"Mailing Address","type":"address"},{"name":"Email","label":"Email","type":"email","picklistValues":[]}]}`,
		`{"fields":[{"name":"","type":5}]}`,
		`{"fields":null}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		props, rl, err := fs.c.Properties(t.Context(), crm.Contacts)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, props)
			return
		}
		for _, p := range props {
			require.NotEmpty(t, p.Name)
			require.NotEqual(t, "address", p.Type)
		}
	})
}

func FuzzDailyUsage(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`{"ConcurrentAsyncGetReportInstances":{"Max":200,"Remaining":200},"DailyApiRequests":{"Max":100000,"Remaining":89982,"Ant Migration Tool":{"Max":0,"Remaining":0}}}`,
		`{"DailyApiRequests":{"Max":-1,"Remaining":5}}`,
		`{"DailyApiRequests":{"Max":15000}}`,
		`{"DailyApiRequests":{"Max":10,"Remaining":50}}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		u, rl, err := fs.c.DailyUsage(t.Context())
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			return
		}
		require.GreaterOrEqual(t, u.Used, 0)
		require.GreaterOrEqual(t, u.Limit, 0)
		require.False(t, u.ResetsAt.IsZero())
	})
}

func FuzzBulkJob(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200, "application/json",
		`{"id":"7505g00000AbCdEAAV","operation":"query","object":"Account","state":"UploadComplete","contentType":"CSV","apiVersion":62.0}`,
		`{"id":"7505g00000AbCdEAAV","state":"JobComplete","numberRecordsProcessed":5}`,
		`{"id":"7505g00000AbCdEAAV","state":"Failed","errorMessage":"INVALID_FIELD: No such column"}`,
		`{"id":"7505g00000AbCdEAAV","state":"Aborted"}`,
		`{"id":"../../x","state":"Sleeping"}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		id, rl, err := fs.c.StartQuery(t.Context(), crm.Companies, []string{"Name"})
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
		} else {
			require.Regexp(t, `^[A-Za-z0-9]+$`, id)
		}
		_, rl, err = fs.c.JobDone(t.Context(), "7505g00000AbCdEAAV")
		checkRateLimit(t, rl)
		if err != nil {
			var ae *crm.APIError
			if errors.As(err, &ae) && ae.Kind == crm.KindInvalid && strings.HasPrefix(ae.Category, "JOB_") {
				require.False(t, ae.Retryable(), "a failed job never completes")
				return
			}
			checkErr(t, status, headers, body, err)
		}
	})
}

func FuzzBulkResults(f *testing.F) {
	fs := newFuzzServer(f)
	for _, s := range errorSeeds {
		f.Add(s.status, s.contentType, s.headers, s.body)
	}
	for _, b := range []string{
		"\"Id\",\"Name\",\"Amount\",\"IsWon\",\"SystemModstamp\",\"CreatedDate\"\n" +
			"\"0065g00000AbCdEAAV\",\"Acme \"\"big\"\" deal\",\"1234.5\",\"true\",\"2026-01-02T03:04:05.000Z\",\"\"\n" +
			"\"0065g00000AbCdFAAV\",\"\",\"n/a\",\"maybe\",\"2026-01-02T03:04:05.000+0000\",\"2025-01-01T00:00:00.000Z\"\n",
		"\"Id\",\"SystemModstamp\"\n\"0065g00000AbCdEAAV\"\n",
		"\"Name\"\n\"x\"\n",
		"",
		"\"Id\",\"SystemModstamp\",\"IsDeleted\"\n\"0065g00000AbCdEAAV\",\"2026-01-02T03:04:05.000Z\",\"true\"\n\"bad\"\"quote",
	} {
		f.Add(200, "text/csv", "api-usage=3/100000||MTAwMDA|2", b)
		f.Add(200, "text/csv; charset=UTF-8", "||null|", b)
		f.Add(200, "text/csv", "||loc-1|", b)
	}
	props := []crm.Property{{Name: "Amount", Type: "currency"}, {Name: "IsWon", Type: "boolean"}, {Name: "Name", Type: "string"}}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		n := 0
		next, rl, err := fs.c.Results(t.Context(), "7505g00000AbCdEAAV", "loc-1", 100, props, func(r crm.Record) error {
			checkRecords(t, []crm.Record{r})
			n++
			return nil
		})
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			return
		}
		require.NotEqual(t, "loc-1", next)
		require.NotEqual(t, "null", next)
	})
}

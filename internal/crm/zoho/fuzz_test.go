package zoho_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/crmtest"
	"github.com/crmsync/crmsync/internal/crm/zoho"
)

// The fuzz targets drive the real client (request building, c.do, per-endpoint decoding)
// against one httptest server per target whose handler answers with the fuzzed status,
// content type, headers and body. Each input is (status, content type, headers, body);
// headers is "dayLimit|dayRemaining|limit|remaining|reset|retryAfter|accessTokenReset",
// each field optional, so the corpus stays readable.

const fuzzToken = "1000.fuzz-secret-0123456789abcdef"

// fuzzResponse is one seed answer: (status, content type, headers, body).
type fuzzResponse struct {
	status      int
	contentType string
	headers     string
	body        string
}

type fuzzServer struct {
	*crmtest.Server
	c *zoho.Client
}

var fuzzHeaders = []string{
	"X-RATELIMIT-DAY-LIMIT",
	"X-RATELIMIT-DAY-REMAINING",
	"X-RATELIMIT-LIMIT",
	"X-RATELIMIT-REMAINING",
	"X-RATELIMIT-RESET",
	"Retry-After",
	"X-ACCESSTOKEN-RESET",
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	fs := &fuzzServer{Server: crmtest.NewServer(f, fuzzHeaders...)}
	c, err := zoho.New(zoho.Options{BaseURL: fs.URL, Tokens: crm.StaticToken(fuzzToken), DealsLayoutID: "4150868500000000102",
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	require.NoError(f, err)
	fs.c = c
	return fs
}

// errorSeeds are answers every endpoint can get: Zoho's errors and what stands in front.
var errorSeeds = []fuzzResponse{
	{401, "application/json", "", `{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}`},
	{401, "application/json", "", `{"code":"OAUTH_SCOPE_MISMATCH","details":{},"message":"invalid oauth scope to access this URL","status":"error"}`},
	{403, "application/json", "", `{"code":"NO_PERMISSION","details":{"permissions":["Crm_Implied_View_Contacts"]},"message":"permission denied","status":"error"}`},
	{400, "application/json", "", `{"code":"REQUIRED_PARAM_MISSING","details":{"param_name":"fields"},"message":"One of the expected parameter is missing","status":"error"}`},
	{400, "application/json", "", `{"code":"TOKEN_BOUND_DATA_MISMATCH","details":{"param_name":"page_token"},"message":"x","status":"error"}`},
	{429, "application/json", "", `{"code":"TOO_MANY_REQUESTS","details":{},"message":"The number of concurrent requests exceeds the limit","status":"error"}`},
	{429, "application/json", "50000|0|||||", `{"code":"LIMIT_REACHED","details":{},"message":"API calls limit reached","status":"error"}`},
	{429, "application/json", "||||1767225600000|3|", `{"code":"LIMIT_EXCEEDED","details":{},"message":"x","status":"error"}`},
	{429, "application/json", "|||||Wed, 21 Oct 2015 07:28:00 GMT|", `{"code":"TOO_MANY_REQUESTS"}`},
	{429, "application/json", "||||99999999999999999999|1e300|", `{"code":null,"message":null}`},
	{429, "text/plain", "||||-5|+Inf|", `Too Many Requests`},
	{502, "text/html", "", "<html><head><title>502 Bad Gateway</title></head><body>proxy</body></html>"},
	{503, "text/html; charset=utf-8", "", "<HTML><TITLE>\xff\xfe unterminated"},
	{500, "application/json", "", `{"code":"INTERNAL_ERROR","details":{},"message":"Internal Server Error","status":"error"}`},
	{500, "", "", ""},
	{204, "", "", ""},
	{304, "", "", ""},
	{200, "text/html", "", "<html><title>Maintenance</title></html>"},
	{200, "application/json", "", ""},
	{200, "application/json", "", "null"},
	{200, "application/json;charset=UTF-8", "50000|49000|||||2026-01-01T01:00:00+00:00", `{"data":null,"info":null}`},
	{200, "application/json", "-1|x|99999999999999999999|-5|||yesterday", `{"data":[],"info":{"more_records":true}}`},
}

func addSeeds(f *testing.F, bodies ...string) {
	f.Helper()
	for _, s := range errorSeeds {
		f.Add(s.status, s.contentType, s.headers, s.body)
	}
	for _, b := range bodies {
		f.Add(200, "application/json;charset=UTF-8", "50000|49990||||", b)
		f.Add(200, "application/json", "", b[:len(b)/2])
	}
}

func checkRateLimit(t *testing.T, rl crm.RateLimit) {
	t.Helper()
	require.False(t, rl.WindowKnown, "Zoho has no short window")
	if rl.DailyKnown {
		require.GreaterOrEqual(t, rl.DailyMax, 0)
		require.GreaterOrEqual(t, rl.DailyRemaining, 0)
	}
}

// checkErr holds for every error: a response always becomes a *crm.APIError classified by
// its status, and no error carries the credential.
func checkErr(t *testing.T, status int, headers, body string, err error) {
	t.Helper()
	if !strings.Contains(body+headers, fuzzToken) {
		require.NotContains(t, err.Error(), fuzzToken, "errors never carry the credential")
	}
	require.NotContains(t, err.Error(), "per_page=", "errors never carry the query")
	var ae *crm.APIError
	if !errors.As(err, &ae) {
		require.Contains(t, err.Error(), "transport connection broken", "want *crm.APIError, got %T %v", err, err)
		return
	}
	require.GreaterOrEqual(t, ae.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, ae.RetryAfter, 24*time.Hour)
	checkRateLimit(t, ae.RateLimit)
	if status == http.StatusOK || status == http.StatusNoContent || status == http.StatusNotModified {
		require.Contains(t, []crm.Kind{crm.KindBadResponse, crm.KindInvalid}, ae.Kind, "%v", err)
		return
	}
	require.Equal(t, status, ae.Status)
	switch {
	case status == http.StatusTooManyRequests:
		require.Equal(t, crm.KindRateLimited, ae.Kind)
		require.Contains(t, []string{crm.PolicyWindow, crm.PolicyDaily}, ae.Policy)
		if f := strings.Split(headers, "|"); len(f) < 6 || strings.TrimSpace(f[5]) == "" {
			require.Positive(t, ae.RetryAfter, "a 429 without Retry-After still gets a wait")
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		require.Equal(t, crm.KindUnauthorized, ae.Kind, "a static token cannot be refreshed")
		require.False(t, ae.Retryable())
	case status >= 500:
		require.Equal(t, crm.KindUnavailable, ae.Kind)
	}
}

func checkRecords(t *testing.T, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		require.NotEmpty(t, r.ID)
		require.False(t, r.UpdatedAt.IsZero(), "record %s", r.ID)
		require.Equal(t, time.UTC, r.UpdatedAt.Location())
		require.Equal(t, byte('{'), strings.TrimSpace(string(r.Properties))[0], "properties of %s are an object", r.ID)
		var props map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(r.Properties, &props))
		require.NotContains(t, props, "id", "the id is not a property")
	}
}

const listBody = `{"data":[{"Owner":{"name":"Patricia Boyle","id":"4150868000000225013","email":"p@example.com"},
	"Email":"a@example.com","$currency_symbol":"$","Amount":1234.5,"Modified_Time":"2026-01-02T03:04:05+05:30",
	"Created_Time":"2025-01-01T00:00:00+00:00","id":"4150868100000000051"},
	{"id":4150868100000000052,"Modified_Time":"2026-01-02T03:04:06+00:00","Created_Time":null,"Last_Name":null}],
	"info":{"per_page":200,"next_page_token":"c8582e7bf1f3c2a5","count":2,"sort_by":"id","page":1,
	"previous_page_token":null,"page_token_expiry":"2026-01-03T03:04:05+00:00","sort_order":"asc","call":false,"email":false,"more_records":true}}`

func FuzzList(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		listBody,
		`{"data":[],"info":{"more_records":true,"next_page_token":"same","page":10}}`,
		`{"data":[{"id":"5","Modified_Time":"2026-01-01 00:00:00"}],"info":{"more_records":false}}`,
		`{"data":[{"id":"5"}],"info":{"more_records":false}}`,
		`{"data":[{"id":{"x":1},"Modified_Time":"2026-01-01T00:00:00Z"}]}`,
		`{"data":[{"id":"","Modified_Time":"2026-01-01T00:00:00Z"}]}`,
		`{"data":[{"id":"1e400","Modified_Time":"2026-01-01T00:00:00Z","\u0000":"\ud800"}],"info":{"more_records":true,"page":3}}`,
	)
	f.Add(200, "application/json", "", `{"data":[{"deleted_by":{"name":"A","id":"1"},"id":"4150868100000000051","display_name":"x","type":"recycle",
		"created_by":{"name":"A","id":"1"},"deleted_time":"2026-01-02T03:04:05+00:00"}],"info":{"per_page":200,"count":1,"page":1,"more_records":true}}`)
	f.Add(200, "application/json", "", `{"data":[{"id":"7","deleted_time":null}]}`)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, req := range []crm.ListRequest{
			{Object: crm.Contacts, After: "t.same"},
			{Object: crm.Companies, After: "p.10", Properties: []string{"Account_Name"}},
			{Object: crm.Deals, Archived: true, After: "p.3"},
		} {
			page, err := fs.c.List(t.Context(), req)
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			require.NotEqual(t, req.After, page.Next, "a token that does not move")
			for _, r := range page.Records {
				require.Equal(t, req.Archived, r.Archived)
			}
		}
	})
}

func FuzzBatchRead(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, listBody,
		`{"data":[{"id":"4150868100000000099","display_name":"gone","deleted_time":"2026-01-02T03:04:05+00:00"}],"info":{"more_records":false}}`)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		ids := []string{"4150868100000000051", "4150868100000000099"}
		for _, archived := range []bool{false, true} {
			page, err := fs.c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: ids, Archived: archived})
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
					require.Contains(t, ids, r.ID, "only the requested deleted records")
				}
			}
		}
	})
}

func FuzzChanges(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		listBody,
		`{"data":[{"id":"3","Modified_Time":"2026-01-02T03:04:05+00:00"},{"id":"2","Modified_Time":"2026-01-02T03:04:05+00:00"}],
			"info":{"more_records":true,"next_page_token":"tok-2"}}`,
		`{"data":[{"id":"3","Modified_Time":"2024-01-01T00:00:00+00:00"}],"info":{"more_records":true}}`,
		`{"data":[{"id":"3","Modified_Time":"2026-01-02T03:04:05+00:00"}],"info":{"more_records":true,"page":10}}`,
		`{"data":[{"id":"3","Modified_Time":"9999-12-31T23:59:59+14:00"},{"id":"4","Modified_Time":"0001-01-01T00:00:00-12:00"}],"info":{"more_records":false}}`,
		`{"data":[{"id":"3","Modified_Time":5}],"info":{"more_records":false}}`,
	)
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cursors := []crm.Cursor{
		{ModifiedAt: from, ID: "5"},
		{ModifiedAt: from, Mode: "walk 1767323044 t:tok-1"},
		{ModifiedAt: from, ID: "2", Mode: "walk 1767323044 p:4"},
		{ModifiedAt: from.Add(123 * time.Millisecond)},
		{},
	}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, cur := range cursors {
			page, err := fs.c.Changes(t.Context(), crm.ChangesRequest{Object: crm.Deals, From: cur})
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err)
				require.Empty(t, page.Records)
				continue
			}
			checkRecords(t, page.Records)
			require.GreaterOrEqual(t, page.Next.Compare(cur), 0, "cursor %v went back from %v", page.Next, cur)
			for _, r := range page.Records {
				require.Positive(t, (crm.Cursor{ModifiedAt: r.UpdatedAt, ID: r.ID}).Compare(cur), "record %s is after the cursor", r.ID)
			}
			if page.Next.Mode != "" {
				require.True(t, page.More, "a walk is never caught up")
				require.True(t, strings.HasPrefix(page.Next.Mode, "walk "))
				require.NotEqual(t, cur.Mode, page.Next.Mode, "a walk that does not move")
			}
		}
	})
}

func FuzzOwners(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"users":[{"id":"4150868000000225013","first_name":"Patricia","last_name":"Boyle","full_name":"Patricia Boyle",
			"email":"p@example.com","status":"active","Modified_Time":"2026-01-02T03:04:05+05:30"},
			{"id":4150868000000225014,"status":"deleted","Modified_Time":null}],"info":{"per_page":200,"count":2,"page":1,"more_records":true}}`,
		`{"users":[{"id":""}]}`,
		`{"users":[{"id":[1]}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		page, err := fs.c.Owners(t.Context(), "2")
		checkRateLimit(t, page.RateLimit)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, page.Owners)
			return
		}
		for _, o := range page.Owners {
			require.NotEmpty(t, o.ID)
		}
		require.NotEqual(t, "2", page.Next)
	})
}

func FuzzPipelines(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"pipeline":[{"display_value":"Standard (JackFer)","default":true,"maps":[{"display_value":"Qualification","sequence_number":1,
			"forecast_category":{"name":"Pipeline","id":"2766660000000007092"},"actual_value":"Qualification","id":"2766660000000007104","forecast_type":"Open"},
			{"display_value":"Closed Won","sequence_number":6,"forecast_category":{"name":"Closed","id":"2766660000000007094"},
			"actual_value":"Closed Won","id":"2766660000000007116","forecast_type":"Closed Won"}],"actual_value":"Standard (JackFer)","id":"2766660000055809075"}]}`,
		`{"pipeline":[{"display_value":"","actual_value":"","maps":[]}]}`,
		`{"pipeline":[{"display_value":"p","maps":[{"sequence_number":99999999999}]}]}`,
		`{"pipeline":[{"actual_value":"p","maps":null}]}`,
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
		for _, p := range ps {
			require.NotEmpty(t, p.ID)
			for _, s := range p.Stages {
				require.NotEmpty(t, s.ID)
			}
		}
	})
}

func FuzzProperties(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f,
		`{"fields":[{"api_name":"First_Name","field_label":"First Name","data_type":"text","json_type":"string","id":"4832675000000000557"}]}`,
		`{"fields":[{"api_name":"","data_type":5}]}`,
		`{"layouts":[{"id":"4150868500000000102","name":"Standard","status":"active"},{"id":null}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		props, rl, err := fs.c.Properties(t.Context(), crm.Contacts)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, props)
		}
		for _, p := range props {
			require.NotEmpty(t, p.Name)
		}
		layouts, rl, err := fs.c.Layouts(t.Context(), crm.Deals)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, layouts)
		}
		for _, l := range layouts {
			require.NotEmpty(t, l.ID)
		}
	})
}

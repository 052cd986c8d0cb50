package hubspot_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/crmtest"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
)

// The fuzz targets drive the real client (request building, c.do, per-endpoint decoding)
// against one httptest server per target whose handler answers with the fuzzed status,
// content type, headers and body. Each input is (status, content type, headers, body);
// headers is "max|remaining|intervalMs|daily|dailyRemaining|retryAfter|correlationId",
// each field optional, so the corpus stays readable.

const fuzzToken = "pat-na1-fuzz-secret-0123456789"

// fuzzResponse is what the shared server answers next.
// fuzzResponse is one seed answer: (status, content type, headers, body).
type fuzzResponse struct {
	status      int
	contentType string
	headers     string
	body        string
}

// fuzzServer is one server per fuzz target; the fuzz function runs its inputs one after
// another, and the mutex keeps the race detector content if it ever does not.
type fuzzServer struct {
	*crmtest.Server
	c *hubspot.Client
}

var rateLimitHeaders = []string{
	"X-HubSpot-RateLimit-Max",
	"X-HubSpot-RateLimit-Remaining",
	"X-HubSpot-RateLimit-Interval-Milliseconds",
	"X-HubSpot-RateLimit-Daily",
	"X-HubSpot-RateLimit-Daily-Remaining",
	"Retry-After",
	"X-HubSpot-Correlation-Id",
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	fs := &fuzzServer{Server: crmtest.NewServer(f, rateLimitHeaders...)}
	c, err := hubspot.New(hubspot.Options{BaseURL: fs.URL, Token: fuzzToken,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	require.NoError(f, err)
	fs.c = c
	return fs
}

// Seeds every target shares: error bodies from HubSpot and from what stands in front of it.
var errorSeeds = []fuzzResponse{
	{401, "application/json", "", `{"status":"error","message":"Authentication credentials not found.","correlationId":"c-1","category":"INVALID_AUTHENTICATION"}`},
	{403, "application/json", "", `{"status":"error","message":"This app hasn't been granted all required scopes","category":"MISSING_SCOPES"}`},
	{400, "application/json", "", `{"message":"Invalid input","correlationId":"aeb5f871","category":"VALIDATION_ERROR","links":{}}`},
	{429, "application/json", "100|0|10000|||", `{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":"c","policyName":"TEN_SECONDLY_ROLLING","requestId":"r"}`},
	{429, "application/json", "|||||3|", `{"status":"error","message":"x","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}`},
	{429, "application/json", "|||||Wed, 21 Oct 2015 07:28:00 GMT|", `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}`},
	{429, "application/json", "|||||1e300|", `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT"}`},
	{429, "application/json", "|||||+Inf|", `{"message":null,"policyName":null}`},
	{502, "text/html", "", "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"},
	{503, "text/html; charset=utf-8", "", "<HTML><TITLE>\xff\xfe unterminated"},
	{502, "text/html", "", "<html>\x80\xff<TITLE>Bad Gateway</TITLE></html>"},
	{502, "text/html", "", "<html>\u0130\u0130\u0130<title>Bad \u0130 Gateway</title></html>"},
	{423, "application/json", "", `{"message":"locked"}`},
	{477, "application/json", "|||||60|corr", `{"message":"portal migration in progress"}`},
	{500, "", "", ""},
	{200, "text/html", "", "<html><title>Maintenance</title></html>"},
	{200, "application/json", "", ""},
	{200, "application/json", "", "null"},
	{200, "application/json", "", `{"results":null,"paging":null}`},
	{200, "application/json", "", `{"results":[{"id":"1","properties":{"a":"b"},"updatedAt":"2026-01-01T00:00`},
	{200, "application/problem+json", "99999999999999999999|-1|9223372036854775807|1e3|0x10|-5|", `{"results":[]}`},
	{200, "application/json", "100|99|10000000000000|250000|249000||", `{"results":[]}`},
	{200, "application/json;charset=utf-8", " 100 | 97 | 10000 | 250000 | 249000 ||\u202e", `{"results":[],"total":-1}`},
	{200, "application/json", "", `{"results":[{"id":"\u0000\ud800","properties":{"😀":"\u2028"},"updatedAt":"2026-01-01T00:00:00Z"}]}`},
	{200, "application/json", "", `{"results":[{"id":1e400,"properties":{},"updatedAt":"2026-01-01T00:00:00Z"}]}`},
	{200, "application/json", "", `{"results":[{"id":{"x":1},"properties":{},"updatedAt":"2026-01-01T00:00:00Z"}]}`},
}

func addSeeds(f *testing.F, okStatus int, bodies ...string) {
	f.Helper()
	for _, s := range errorSeeds {
		f.Add(s.status, s.contentType, s.headers, s.body)
	}
	for _, b := range bodies {
		f.Add(okStatus, "application/json;charset=utf-8", "100|97|10000|250000|249000||c-9", b)
		f.Add(okStatus, "application/json", "", b[:len(b)/2])
	}
}

// checkRateLimit holds for every result, error or not.
func checkRateLimit(t *testing.T, rl crm.RateLimit) {
	t.Helper()
	if rl.WindowKnown {
		require.GreaterOrEqual(t, rl.Max, 0)
		require.GreaterOrEqual(t, rl.Remaining, 0)
		require.Positive(t, rl.Interval, "a known window has a positive interval")
	} else {
		require.Zero(t, rl.Max)
		require.Zero(t, rl.Remaining)
	}
	if rl.DailyKnown {
		require.GreaterOrEqual(t, rl.DailyMax, 0)
		require.GreaterOrEqual(t, rl.DailyRemaining, 0)
	}
}

// checkErr holds for every error: a response always becomes a *crm.APIError classified by
// its status, and no error carries the credential.
func checkErr(t *testing.T, status int, headers, body string, err error, accepted ...int) {
	t.Helper()
	if !strings.Contains(body+headers, fuzzToken) {
		require.NotContains(t, err.Error(), fuzzToken, "errors never carry the credential")
	}
	var ae *crm.APIError
	if !errors.As(err, &ae) {
		// Only a response the transport cannot read (a header line with control bytes, say)
		// is not an APIError: the transport's error, wrapped with the endpoint.
		require.Contains(t, err.Error(), "transport connection broken", "want *crm.APIError, got %T %v", err, err)
		return
	}
	require.GreaterOrEqual(t, ae.RetryAfter, time.Duration(0), "Retry-After %q", headers)
	checkRateLimit(t, ae.RateLimit)
	ok := status >= 200 && status < 300
	if len(accepted) > 0 {
		ok = false
		for _, s := range accepted {
			ok = ok || s == status
		}
	}
	if ok {
		require.Contains(t, []crm.Kind{crm.KindBadResponse, crm.KindInvalid, crm.KindUnavailable}, ae.Kind, "%v", err)
		return
	}
	require.Equal(t, status, ae.Status)
	switch {
	case status == http.StatusTooManyRequests:
		require.Equal(t, crm.KindRateLimited, ae.Kind)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		require.Equal(t, crm.KindUnauthorized, ae.Kind)
		require.False(t, ae.Retryable())
	case status >= 500:
		require.Equal(t, crm.KindUnavailable, ae.Kind)
		require.True(t, ae.Retryable())
	}
}

// checkRecords holds for every successful page of records.
func checkRecords(t *testing.T, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		require.NotEmpty(t, r.ID)
		require.False(t, r.UpdatedAt.IsZero(), "record %s", r.ID)
		require.Equal(t, time.UTC, r.UpdatedAt.Location())
		require.NotEmpty(t, r.Properties)
		require.Equal(t, byte('{'), strings.TrimSpace(string(r.Properties))[0], "properties of %s are an object", r.ID)
	}
}

const listBody = `{"results":[{"id":"101","properties":{"email":"a@example.com","lastmodifieddate":"2026-01-02T03:04:05.678Z"},
	"createdAt":"2025-01-01T00:00:00.000Z","updatedAt":"2026-01-02T03:04:05.678Z","archived":false},
	{"id":102,"properties":null,"updatedAt":"2026-01-02T03:04:05Z","archivedAt":"2026-01-03T00:00:00Z","archived":true}],
	"paging":{"next":{"after":"MTAyCg%3D%3D","link":"?after=MTAyCg%3D%3D"}}}`

func FuzzList(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		listBody,
		`{"results":[],"paging":{"next":{"after":"MTAxCg%3D%3D"}}}`,
		`{"results":[{"id":"5","properties":"x","updatedAt":"2026-01-01T00:00:00Z"}]}`,
		`{"results":[{"id":"5","properties":{}}]}`,
		`{"results":[{"id":"5","properties":{},"updatedAt":"0001-01-01T00:00:00Z"}],"paging":{"next":null}}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		const after = "MTAxCg%3D%3D"
		page, err := fs.c.List(t.Context(), crm.ListRequest{Object: crm.Contacts, After: after})
		checkRateLimit(t, page.RateLimit)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, page.Records)
			return
		}
		checkRecords(t, page.Records)
		require.NotEqual(t, after, page.Next, "a cursor that does not move")
	})
}

func FuzzBatchRead(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"status":"COMPLETE","results":[{"id":"101","properties":{"name":"Acme"},"updatedAt":"2026-01-02T03:04:05.678Z","archived":false}],
			"startedAt":"2026-01-02T03:04:05Z","completedAt":"2026-01-02T03:04:06Z"}`,
	)
	for _, b := range []string{
		`{"status":"COMPLETE","results":[{"id":"101","properties":{},"updatedAt":"2026-01-02T03:04:05.678Z"}],
			"numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"Could not get some COMPANY objects, they may be deleted or not exist. Check that ids are valid.","context":{"ids":["999"]}}]}`,
		`{"status":"COMPLETE","results":[],"errors":[{"category":"INTERNAL_ERROR","message":null}]}`,
		`{"status":"COMPLETE","results":[],"errors":[null,{}]}`,
	} {
		f.Add(207, "application/json", "", b)
	}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		page, err := fs.c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Companies, IDs: []string{"101", "999"}, Archived: true})
		checkRateLimit(t, page.RateLimit)
		if err != nil {
			checkErr(t, status, headers, body, err, http.StatusOK, http.StatusMultiStatus)
			require.Empty(t, page.Records)
			return
		}
		checkRecords(t, page.Records)
		require.Empty(t, page.Next, "a batch read has no next page")
		for _, r := range page.Records {
			require.True(t, r.Archived, "asked for archived copies")
		}
	})
}

func FuzzChanges(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"total":2,"results":[
			{"id":"7","properties":{"hs_lastmodifieddate":"2026-01-02T03:04:05.678Z","hs_object_id":"7"},"updatedAt":"2026-01-02T03:04:05.678Z"},
			{"id":"8","properties":{"hs_lastmodifieddate":"1767323046000","hs_object_id":"8"},"updatedAt":"2026-01-02T03:04:06Z"}],
			"paging":{"next":{"after":"2"}}}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":"2026-01-02T03:04:05.678Z"},"updatedAt":"2026-01-02T03:04:05.678Z"}]}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":"2024-01-01T00:00:00Z"},"updatedAt":"2024-01-01T00:00:00Z"}],"paging":{"next":{"after":"1"}}}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":"yesterday"},"updatedAt":"2026-01-02T03:04:05Z"}]}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":"99999999999999999"},"updatedAt":"2026-01-02T03:04:05Z"}]}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":null},"updatedAt":"2026-01-02T03:04:05Z"}]}`,
		`{"total":1,"results":[{"id":"3","properties":{"hs_lastmodifieddate":5},"updatedAt":"2026-01-02T03:04:05Z"}]}`,
	)
	// The cursors the fuzzed page answers: a normal one and one walking a timestamp by id.
	from := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	cursors := []crm.Cursor{{ModifiedAt: from, ID: "5"}, {ModifiedAt: from, ID: "5", Mode: "ties"}, {ModifiedAt: from}}
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
			require.Contains(t, []string{"", "ties"}, page.Next.Mode)
		}
		// The one-result searches of the seeker share the endpoint and response shape.
		_, _, rl, err := fs.c.LastID(t.Context(), crm.Deals)
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
		}
	})
}

func FuzzOwners(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"results":[{"id":"41629779","email":"owner@example.com","firstName":"Ada","lastName":"Lovelace","userId":9586504,
			"createdAt":"2019-12-25T13:01:35.228Z","updatedAt":"2023-08-22T13:40:26.790Z","archived":false,"teams":[{"id":"1","name":"x","primary":true}]}],
			"paging":{"next":{"after":"41629780"}}}`,
		`{"results":[{"id":"1","updatedAt":null}],"paging":{"next":{"after":"owners-1"}}}`,
		`{"results":[{"id":""}]}`,
		`{"results":[{"id":7}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		const after = "owners-1"
		page, err := fs.c.Owners(t.Context(), after)
		checkRateLimit(t, page.RateLimit)
		if err != nil {
			checkErr(t, status, headers, body, err)
			require.Empty(t, page.Owners)
			return
		}
		for _, o := range page.Owners {
			require.NotEmpty(t, o.ID)
		}
		require.NotEqual(t, after, page.Next, "a cursor that does not move")
	})
}

func FuzzPipelines(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"results":[{"id":"default","label":"Sales Pipeline","displayOrder":0,"archived":false,
			"stages":[{"id":"appointmentscheduled","label":"Appointment Scheduled","displayOrder":0,"metadata":{"isClosed":"false","probability":"0.2"}},
			{"id":"closedwon","label":"Closed Won","displayOrder":5,"metadata":{"isClosed":"true","probability":"1.0"}}]}]}`,
		`{"results":[{"id":"p","stages":[{"id":"s","displayOrder":99999999999999999999,"metadata":null}]}]}`,
		`{"results":[{"id":"p","stages":[{"id":"s","metadata":{"isClosed":true}}]}]}`,
		`{"results":[{"id":"","stages":null}]}`,
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
				require.NotEmpty(t, s.ID, "a stage of pipeline %s", p.ID)
			}
		}
	})
}

func FuzzProperties(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"results":[{"name":"email","label":"Email","type":"string","fieldType":"text","groupName":"contactinformation",
			"options":[],"calculated":false,"hasUniqueValue":false,"hidden":false,"modificationMetadata":{"archivable":true}}]}`,
		`{"results":[{"name":"lastmodifieddate","label":"Last Modified Date","type":"datetime"},{"name":"","type":5}]}`,
		`{"results":[{"name":""}]}`,
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
		}
	})
}

func FuzzDailyUsage(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"results":[{"name":"private-apps-api-calls-daily","usageLimit":250000,"currentUsage":1234,"collectedAt":"2026-01-02T03:04:05.678Z","fetchStatus":"SUCCESS","resetsAt":"2026-01-03T05:00:00Z"}]}`,
		`{"results":[{"name":"private-apps-api-calls-daily","usageLimit":-1,"currentUsage":-5,"resetsAt":"tomorrow"}]}`,
		`{"results":[{"name":"other"}]}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		u, rl, err := fs.c.DailyUsage(t.Context())
		checkRateLimit(t, rl)
		if err != nil {
			checkErr(t, status, headers, body, err)
			return
		}
		require.False(t, u.ResetsAt.IsZero())
	})
}

func FuzzAssociations(f *testing.F) {
	fs := newFuzzServer(f)
	addSeeds(f, 200,
		`{"status":"COMPLETE","results":[{"from":{"id":"101"},"to":[{"toObjectId":201,"associationTypes":[
			{"category":"HUBSPOT_DEFINED","typeId":279,"label":null},{"category":"HUBSPOT_DEFINED","typeId":1,"label":"Primary"}]}],
			"paging":{"next":{"after":"MjAxCg%3D%3D","link":null}}}],"startedAt":"2026-01-02T03:04:05Z","completedAt":"2026-01-02T03:04:05Z"}`,
		`{"status":"COMPLETE","results":[{"from":{"id":102},"to":[{"toObjectId":"","associationTypes":[]}]}]}`,
		`{"status":"COMPLETE","results":[{"from":{"id":"103"},"to":[{"toObjectId":1,"associationTypes":[{"typeId":1e30}]}]}]}`,
		`{"status":"COMPLETE","results":[{"from":{"id":"102"},"to":[],"paging":{"next":{"after":"cur-102"}}}]}`,
	)
	f.Add(207, "application/json", "", `{"status":"COMPLETE","results":[],"numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND",
		"subCategory":"crm.associations.NO_ASSOCIATIONS_FOUND","message":"No contact is associated with company 103.","context":{"fromObjectId":["103"]}}]}`)
	f.Add(207, "application/json", "", `{"status":"COMPLETE","results":[],"errors":[{"category":"RATE_LIMITS","message":"x"}]}`)
	asked := []crm.AssociationCursor{{FromID: "101", After: "first"}, {FromID: "102", After: "cur-102"}, {FromID: "103", After: "x"}}
	f.Fuzz(func(t *testing.T, status int, contentType, headers, body string) {
		status = fs.Serve(status, contentType, headers, body)
		for _, cont := range []bool{false, true} {
			var page crm.AssociationPage
			var err error
			if cont {
				page, err = fs.c.ContinueAssociations(t.Context(), crm.Companies, crm.Contacts, asked)
			} else {
				page, err = fs.c.BatchAssociations(t.Context(), crm.Companies, crm.Contacts, []string{"101", "102", "103"})
			}
			checkRateLimit(t, page.RateLimit)
			if err != nil {
				checkErr(t, status, headers, body, err, http.StatusOK, http.StatusMultiStatus)
				require.Empty(t, page.Links)
				require.Empty(t, page.More)
				continue
			}
			requested := map[string]string{"101": "", "102": "", "103": ""}
			if cont {
				for _, a := range asked {
					requested[a.FromID] = a.After
				}
			}
			for _, l := range page.Links {
				require.Contains(t, requested, l.FromID)
				require.NotEmpty(t, l.ToID)
			}
			for _, m := range page.More {
				require.Contains(t, requested, m.FromID)
				require.NotEmpty(t, m.After)
				require.NotEqual(t, requested[m.FromID], m.After, "a cursor that does not move")
			}
		}
	})
}

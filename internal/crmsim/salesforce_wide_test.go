package crmsim

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sfFieldNames lists an sObject's fields in describe order, as describe returns them.
func sfFieldNames(t *testing.T, h *harness, sobject string) ([]string, []sfDescribeField) {
	t.Helper()
	r := h.get(t, sfData+"/sobjects/"+sobject+"/describe")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var d struct {
		Fields []sfDescribeField `json:"fields"`
	}
	require.NoError(t, json.Unmarshal(r.body, &d))
	names := make([]string, len(d.Fields))
	for i, f := range d.Fields {
		names[i] = f.Name
	}
	return names, d.Fields
}

// sfText is a JSON value as SnapshotFor renders it.
func sfText(raw json.RawMessage) string { return snapshotValue(raw) }

// sfComposite posts a composite request and decodes its answer.
type sfCompositeAnswer struct {
	CompositeResponse []struct {
		Body           json.RawMessage   `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

func sfSub(method, u, ref string, headers map[string]string) map[string]any {
	sub := map[string]any{"method": method, "url": u, "referenceId": ref}
	if headers != nil {
		sub["httpHeaders"] = headers
	}
	return sub
}

func sfComposite(t *testing.T, h *harness, allOrNone bool, subs ...map[string]any) (response, sfCompositeAnswer) {
	t.Helper()
	r := h.post(t, sfData+"/composite", map[string]any{"allOrNone": allOrNone, "compositeRequest": subs})
	var a sfCompositeAnswer
	if r.status == http.StatusOK {
		require.NoError(t, json.Unmarshal(r.body, &a), "%s", r.body)
		require.Len(t, a.CompositeResponse, len(subs))
	}
	return r, a
}

func TestSalesforceWideFieldNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hubspot string
		taken   []string
		want    string
	}{
		{hubspot: "hs_email_last_open_date", want: "Email_Last_Open_Date__c"},
		{hubspot: "salesforcecontactid", want: "Salesforcecontactid__c"},
		{hubspot: "hs_v2_date_entered_lead", want: "V2_Date_Entered_Lead__c"},
		{hubspot: "hs_2nd_touch", want: "X2nd_Touch__c"},
		{hubspot: "odd__double_underscore_", want: "Odd_Double_Underscore__c"},
		{hubspot: "lead_status", taken: []string{"lead_status__c"}, want: "Lead_Status_2__c"},
		// 40 characters at most before __c, cut where no underscore is left at the end.
		{hubspot: "hs_analytics_source_data_1_timestamp_earliest_value_9b2f1fa1", want: "Analytics_Source_Data_1_Timestamp_Earlie__c"},
		{hubspot: "hs_analytics_source_data_1_timestamp_earliest_value_9b2f1fa1",
			taken: []string{"analytics_source_data_1_timestamp_earlie__c"}, want: "Analytics_Source_Data_1_Timestamp_Earl_2__c"},
		{hubspot: "hs_time_in_lead_abcdefghijklmnopqrstuvwxyz_more", want: "Time_In_Lead_Abcdefghijklmnopqrstuvwxyz__c"},
	} {
		taken := map[string]bool{}
		for _, n := range tc.taken {
			taken[n] = true
		}
		got := sfWideName(tc.hubspot, taken)
		require.Equal(t, tc.want, got, tc.hubspot)
		require.LessOrEqual(t, len(strings.TrimSuffix(got, "__c")), sfMaxFieldName)
		require.True(t, taken[strings.ToLower(got)], "the name is taken from now on")
	}
}

func TestSalesforceWideDescribe(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Companies: 5, Deals: 5})
	types := map[string]int{}
	// The dialect's own custom fields (Lifecycle_Stage__c, Lead_Status__c, Priority__c).
	own := map[string]int{"Contact": 2, "Account": 0, "Opportunity": 1}
	for _, so := range []string{"Contact", "Account", "Opportunity"} {
		names, fields := sfFieldNames(t, h, so)
		o := h.sim.sf.schema.objects[strings.ToLower(so)]
		typ := h.sim.objects[o.kind].typ
		custom, seen := 0, map[string]bool{}
		for _, f := range fields {
			require.False(t, seen[strings.ToLower(f.Name)], "%s.%s twice", so, f.Name)
			seen[strings.ToLower(f.Name)] = true
			if !f.Custom {
				continue
			}
			custom++
			require.Regexp(t, `^[A-Z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$`, f.Name)
			require.LessOrEqual(t, len(f.Name), sfMaxFieldName+len("__c"))
			types[f.Type]++
			switch f.Type {
			case "boolean":
				require.False(t, f.Nillable, "%s.%s: a checkbox is never null", so, f.Name)
			case "textarea":
				require.Equal(t, sfLongTextLength, f.Length)
				require.False(t, f.Filterable)
			case "picklist", "multipicklist":
				require.NotEmpty(t, f.PicklistValues, "%s.%s", so, f.Name)
			}
		}
		// Enterprise Edition allows 500 custom fields an object: the wide properties fill
		// what the dialect's own custom fields leave.
		require.Equal(t, min(sfMaxCustomFields, own[so]+len(typ.wide)), custom, so)
		get := sfData + "/query?q=" + url.QueryEscape("SELECT "+strings.Join(names, ", ")+" FROM "+so)
		t.Logf("%s: %d fields, %d custom; a GET selecting every field is %d bytes", so, len(fields), custom, len(get))
	}
	contact, fields := sfFieldNames(t, h, "Contact")
	require.GreaterOrEqual(t, len(contact), 300)
	// A long text area can be selected, but neither filtered nor sorted on.
	for _, f := range fields {
		if f.Type != "textarea" {
			continue
		}
		r := sfQuery(t, h, "query", "SELECT Id, "+f.Name+" FROM Contact")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = sfQuery(t, h, "query", "SELECT Id FROM Contact WHERE "+f.Name+" = 'x'")
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Contains(t, string(r.body), "INVALID_FIELD")
		r = sfQuery(t, h, "query", "SELECT Id FROM Contact ORDER BY "+f.Name)
		require.Equal(t, http.StatusBadRequest, r.status)
		break
	}
	require.Contains(t, contact, "Email_Last_Open_Date__c")
	for _, typ := range []string{"string", "textarea", "double", "datetime", "date", "picklist", "multipicklist", "boolean"} {
		require.Positive(t, types[typ], "no wide field of type %s", typ)
	}
}

func TestSalesforceNarrowAccountHasOnlyTheCoreFields(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Companies: 5, Deals: 5, Narrow: true})
	for so, want := range map[string][]string{
		"Contact": {"Id", "IsDeleted", "AccountId", "LastName", "FirstName", "Name", "MailingCity", "MailingPostalCode",
			"MailingCountry", "Phone", "Email", "Title", "Lifecycle_Stage__c", "Lead_Status__c", "OwnerId",
			"CreatedDate", "LastModifiedDate", "SystemModstamp"},
		"Account": {"Id", "IsDeleted", "Name", "Website", "Industry", "Phone", "BillingCity", "BillingCountry",
			"NumberOfEmployees", "AnnualRevenue", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
		"Opportunity": {"Id", "IsDeleted", "AccountId", "Name", "Amount", "StageName", "Probability", "CloseDate",
			"Type", "IsClosed", "IsWon", "Priority__c", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"},
	} {
		names, _ := sfFieldNames(t, h, so)
		require.Equal(t, want, names, so)
	}
}

// TestSalesforceWideRenderingsAgree reads every field of every record by SOQL (pages of a
// query locator), by sObject Collections retrieve, by Bulk API 2.0 and from the snapshot,
// after changes that set wide values, and requires the four to agree.
func TestSalesforceWideRenderingsAgree(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 12, Contacts: 260, Companies: 60, Deals: 80})
	h.clock.Advance(time.Hour)
	for _, obj := range []string{Contacts, Companies, Deals} {
		mutate(t, h.sim, MutationSpec{Object: obj, Updates: 40, Archives: 3})
	}
	for _, obj := range []string{Contacts, Companies, Deals} {
		k, _ := kindByName(obj)
		so := h.sim.sf.schema.byKind[k].name
		names, fields := sfFieldNames(t, h, so)
		kinds := map[string]string{}
		for _, f := range fields {
			kinds[f.Name] = f.Type
		}
		truth, err := h.sim.SnapshotFor(ProviderSalesforce, obj)
		require.NoError(t, err)
		byID := map[string]Record{}
		for _, r := range truth {
			byID[r.ID] = r
		}

		// SOQL, through Composite (the GET may be too long) and then the locator's pages.
		soql := "SELECT " + strings.Join(names, ", ") + " FROM " + so
		_, a := sfComposite(t, h, false, sfSub(http.MethodGet, sfData+"/queryAll?q="+url.QueryEscape(soql), "all",
			map[string]string{"Sforce-Query-Options": "batchSize=200"}))
		require.Equal(t, http.StatusOK, a.CompositeResponse[0].HTTPStatusCode, "%s", a.CompositeResponse[0].Body)
		var q sfQueryResult
		require.NoError(t, json.Unmarshal(a.CompositeResponse[0].Body, &q))
		rest := map[string]map[string]json.RawMessage{}
		var live []string
		valued := map[string]int{} // non-null wide values by type
		joined := false            // a multi-select value of two options
		for {
			for _, rec := range q.Records {
				id := sfString(t, rec["Id"])
				rest[id] = rec
				want, ok := byID[id]
				require.True(t, ok, id)
				if !want.Archived {
					live = append(live, id)
				}
				require.Len(t, rec, len(names)+1, "every field and the attributes")
				for _, n := range names[1:] {
					raw := rec[n]
					require.Equal(t, want.Properties[n], sfText(raw), "%s %s.%s", obj, id, n)
					if strings.HasSuffix(n, "__c") && string(raw) != "null" && string(raw) != "false" {
						valued[kinds[n]]++
						joined = joined || kinds[n] == "multipicklist" && strings.Contains(string(raw), ";")
					}
					switch kinds[n] {
					case "boolean":
						require.Contains(t, []string{"true", "false"}, string(raw), "%s.%s", id, n)
					case "double":
						if string(raw) != "null" {
							require.NotEqual(t, byte('"'), raw[0], "%s.%s is a JSON number", id, n)
						}
					case "datetime":
						if string(raw) != "null" {
							require.Regexp(t, `^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000"$`, string(raw))
						}
					case "date":
						if string(raw) != "null" {
							require.Regexp(t, `^"\d{4}-\d\d-\d\d"$`, string(raw))
						}
					}
				}
			}
			if q.Done {
				break
			}
			q = decodeQuery(t, h.get(t, q.NextRecordsURL))
		}
		require.Len(t, rest, len(truth))
		for _, typ := range []string{"string", "textarea", "double", "datetime", "date", "picklist", "multipicklist", "boolean"} {
			require.Positive(t, valued[typ], "%s: no %s field holds a value", obj, typ)
		}
		require.True(t, joined, "%s: no multi-select holds two options", obj)

		// sObject Collections retrieve by POST: the same JSON, null for the deleted.
		ids := append([]string{}, live[:min(len(live), 150)]...)
		r := h.post(t, sfData+"/composite/sobjects/"+so, map[string][]string{"ids": ids, "fields": names})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var got []map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(r.body, &got))
		require.Len(t, got, len(ids))
		for i, rec := range got {
			require.Equal(t, rest[ids[i]], rec, "%s %s", obj, ids[i])
		}

		// Bulk API 2.0: the CSV holds the same values, dateTimes in its own layout.
		r = h.post(t, sfData+"/jobs/query", map[string]string{"operation": "queryAll", "query": soql})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		job := r.json(t)["id"].(string)
		h.clock.Advance(DefaultSalesforceBulkJobDelay)
		r = h.get(t, sfData+"/jobs/query/"+job+"/results")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, names, rows[0])
		require.Len(t, rows, len(truth)+1)
		for _, row := range rows[1:] {
			want := byID[row[0]]
			for c, n := range names[1:] {
				cell := row[c+1]
				if kinds[n] == "datetime" && cell != "" {
					at, err := time.Parse(sfBulkTimeLayout, cell)
					require.NoError(t, err)
					cell = at.Format(sfTimeLayout)
				}
				require.Equal(t, want.Properties[n], cell, "%s %s.%s", obj, row[0], n)
			}
		}
	}
}

// rawSF sends a request exactly as written (a request line, the given header lines and no
// others) and returns the status and body, so a test controls every byte the limit counts.
func rawSF(t *testing.T, h *harness, method, uri string, headers ...string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	req := method + " " + uri + " HTTP/1.1\r\n" + strings.Join(headers, "") + "\r\n"
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

func TestSalesforceURIAndHeaderLimit(t *testing.T) {
	t.Parallel()
	const limit = 3000
	h := setup(t, Options{Seed: 1, Contacts: 5, Companies: 1, Deals: 1, Salesforce: SalesforceOptions{URILimit: limit}})
	host := "Host: sim\r\n"
	auth := "Authorization: Bearer " + testToken + "\r\n"
	pad := "X-Pad: " + strings.Repeat("x", 40) + "\r\n"
	// uri builds a query URI of n bytes whose SOQL is valid: spaces pad the statement.
	uri := func(n int) string {
		u := sfData + "/query?q=SELECT+Id+FROM+Contact"
		return u + strings.Repeat("+", n-len(u))
	}
	// The limit counts the URI and every header line: Host, Authorization, X-Pad.
	headers := len(host) + len(auth)
	for _, tc := range []struct {
		name    string
		uri     int
		lines   []string
		status  int
		heading string
	}{
		{name: "URI and headers at the limit", uri: limit - headers, lines: []string{host, auth}, status: http.StatusOK},
		{name: "with one more header, at the limit", uri: limit - headers - len(pad), lines: []string{host, auth, pad}, status: http.StatusOK},
		{name: "one byte over", uri: limit - headers - len(pad) + 1, lines: []string{host, auth, pad},
			status: http.StatusRequestHeaderFieldsTooLarge, heading: "<h2>HTTP ERROR 431 Request Header Fields Too Large</h2>"},
		{name: "URI at the limit, headers over", uri: limit, lines: []string{host, auth},
			status: http.StatusRequestHeaderFieldsTooLarge, heading: "<h2>HTTP ERROR 431 Request Header Fields Too Large</h2>"},
		{name: "URI one byte over", uri: limit + 1, lines: []string{host, auth},
			status: http.StatusRequestURITooLong, heading: "<h2>HTTP ERROR 414 URI Too Long</h2>"},
	} {
		status, hdr, body := rawSF(t, h, http.MethodGet, uri(tc.uri), tc.lines...)
		require.Equal(t, tc.status, status, "%s: %s", tc.name, body)
		if tc.status == http.StatusOK {
			require.NotEmpty(t, hdr.Get("Sforce-Limit-Info"), tc.name)
			continue
		}
		require.Empty(t, hdr.Get("Sforce-Limit-Info"), "%s: the front end answers, not the API", tc.name)
		require.True(t, strings.HasPrefix(hdr.Get("Content-Type"), "text/html"), tc.name)
		code := strconv.Itoa(tc.status)
		require.Contains(t, body, "<title>Error "+code+" ", tc.name)
		require.Contains(t, body, tc.heading, tc.name)
		require.NotContains(t, body, "SELECT", "%s: the page does not echo the query", tc.name)
	}
	// Refused requests use none of the allocation; they are counted in the stats.
	r := h.get(t, sfData+"/limits")
	require.Equal(t, "api-usage=3/100000", r.header.Get("Sforce-Limit-Info"), "the two queries that fitted, and this call")
	st := h.sim.Stats()
	require.Equal(t, 2, st.ByEndpoint["salesforce query Contact"][http.StatusRequestHeaderFieldsTooLarge])
	require.Equal(t, 1, st.ByEndpoint["salesforce query Contact"][http.StatusRequestURITooLong])

	// The token endpoint and unauthenticated requests meet the same front end.
	status, _, _ := rawSF(t, h, http.MethodPost, "/services/oauth2/token?x="+strings.Repeat("a", limit), host)
	require.Equal(t, http.StatusRequestURITooLong, status)
	status, _, _ = rawSF(t, h, http.MethodGet, uri(limit+1), host)
	require.Equal(t, http.StatusRequestURITooLong, status)

	// The default is 16,384 bytes, and a negative limit is none.
	def := setup(t, Options{Seed: 1, Contacts: 1, Companies: 1, Deals: 1})
	require.Equal(t, DefaultSalesforceURILimit, def.sim.sf.opts.URILimit)
	status, _, _ = rawSF(t, def, http.MethodGet, uri(16384), host, auth)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, status)
	status, _, _ = rawSF(t, def, http.MethodGet, uri(16385), host, auth)
	require.Equal(t, http.StatusRequestURITooLong, status)
	status, _, _ = rawSF(t, def, http.MethodGet, uri(16384-headers), host, auth)
	require.Equal(t, http.StatusOK, status)
	none := setup(t, Options{Seed: 1, Contacts: 1, Companies: 1, Deals: 1, Salesforce: SalesforceOptions{URILimit: -1}})
	status, _, _ = rawSF(t, none, http.MethodGet, uri(40000), host, auth)
	require.Equal(t, http.StatusOK, status)
}

func TestSalesforceSOQLLengthLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Companies: 1, Deals: 1})
	pad := func(n int) string {
		q := "SELECT Id FROM Contact "
		return q + strings.Repeat(" ", n-len(q))
	}
	_, a := sfComposite(t, h, false,
		sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape(pad(sfMaxSOQL)), "fits", nil),
		sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape(pad(sfMaxSOQL+1)), "over", nil))
	require.Equal(t, http.StatusOK, a.CompositeResponse[0].HTTPStatusCode, "%s", a.CompositeResponse[0].Body)
	require.Equal(t, http.StatusBadRequest, a.CompositeResponse[1].HTTPStatusCode)
	require.JSONEq(t, `[{"message":"SOQL statements can not be longer than 100000 characters.","errorCode":"MALFORMED_QUERY"}]`,
		string(a.CompositeResponse[1].Body))
	// Characters, not bytes: 100,000 of them in more bytes still fit.
	multi := "SELECT Id FROM Contact WHERE Email = '" + strings.Repeat("é", sfMaxSOQL-40) + "'"
	require.LessOrEqual(t, len([]rune(multi)), sfMaxSOQL)
	_, a = sfComposite(t, h, false, sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape(multi), "wide", nil))
	require.Equal(t, http.StatusOK, a.CompositeResponse[0].HTTPStatusCode, "%s", a.CompositeResponse[0].Body)
	// The Bulk API takes the statement in its body, under the same limit.
	r := h.post(t, sfData+"/jobs/query", map[string]string{"operation": "query", "query": pad(sfMaxSOQL + 1)})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "MALFORMED_QUERY")
}

func TestSalesforceCompositeAnswersAndCountsOneCall(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 3, Contacts: 450, Companies: 5, Deals: 5, Salesforce: SalesforceOptions{URILimit: 3000}})
	mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 2})
	names, _ := sfFieldNames(t, h, "Contact")
	every := sfData + "/query?q=" + url.QueryEscape("SELECT "+strings.Join(names, ", ")+" FROM Contact ORDER BY Id")
	require.Greater(t, len(every), 3000, "too long for a GET here")
	require.Equal(t, http.StatusRequestURITooLong, h.get(t, every).status)

	before := h.sim.Stats()
	r, a := sfComposite(t, h, false,
		sfSub(http.MethodGet, every, "page", map[string]string{"Sforce-Query-Options": "batchSize=200"}),
		sfSub(http.MethodGet, sfData+"/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = TRUE"), "deleted", nil),
		sfSub(http.MethodGet, sfData+"/sobjects/Contact/describe", "describe", nil),
		sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape("SELECT Nope FROM Contact"), "bad", nil),
		sfSub(http.MethodGet, sfData+"/nowhere", "unknown", nil),
		sfSub(http.MethodPost, sfData+"/jobs/query", "bulk", nil),
		sfSub(http.MethodGet, sfData+"/limits", "limits", nil),
	)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "api-usage=2/100000", r.header.Get("Sforce-Limit-Info"), "the describe and this request: one call")
	after := h.sim.Stats()
	require.Equal(t, before.Total+1, after.Total)
	require.Equal(t, 1, after.Calls("salesforce composite"), "subrequests of several kinds")

	type want struct {
		ref    string
		status int
		code   string
	}
	for i, w := range []want{
		{"page", 200, ""}, {"deleted", 200, ""}, {"describe", 200, ""}, {"bad", 400, "INVALID_FIELD"},
		{"unknown", 404, "NOT_FOUND"}, {"bulk", 400, "INVALID_INPUT"}, {"limits", 400, "INVALID_INPUT"},
	} {
		sub := a.CompositeResponse[i]
		require.Equal(t, w.ref, sub.ReferenceID)
		require.Equal(t, w.status, sub.HTTPStatusCode, "%s: %s", w.ref, sub.Body)
		require.NotNil(t, sub.HTTPHeaders)
		if w.code != "" {
			var errs []sfError
			require.NoError(t, json.Unmarshal(sub.Body, &errs), "%s", sub.Body)
			require.Equal(t, w.code, errs[0].ErrorCode, w.ref)
		}
	}
	var page sfQueryResult
	require.NoError(t, json.Unmarshal(a.CompositeResponse[0].Body, &page))
	require.Len(t, page.Records, 200, "the subrequest's Sforce-Query-Options was honoured")
	require.Equal(t, 448, page.TotalSize)
	require.Len(t, page.Records[0], len(names)+1)
	var deleted sfQueryResult
	require.NoError(t, json.Unmarshal(a.CompositeResponse[1].Body, &deleted))
	require.Equal(t, 2, deleted.TotalSize)

	// The locator's pages are short GETs, or subrequests too.
	_, a = sfComposite(t, h, false, sfSub(http.MethodGet, page.NextRecordsURL, "more", nil))
	require.Equal(t, http.StatusOK, a.CompositeResponse[0].HTTPStatusCode, "%s", a.CompositeResponse[0].Body)
	var more sfQueryResult
	require.NoError(t, json.Unmarshal(a.CompositeResponse[0].Body, &more))
	require.Equal(t, 1, h.sim.Calls("salesforce composite query_more"), "subrequests of one kind name it")
	require.Len(t, more.Records, 200)
	require.NotEqual(t, page.Records[0]["Id"], more.Records[0]["Id"])
	last := decodeQuery(t, h.get(t, more.NextRecordsURL))
	require.True(t, last.Done)
	require.Len(t, last.Records, 48)

	// allOrNone: one failure fails every other subrequest with 400.
	_, a = sfComposite(t, h, true,
		sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape("SELECT Id FROM Contact LIMIT 1"), "ok", nil),
		sfSub(http.MethodGet, sfData+"/query?q="+url.QueryEscape("SELECT Nope FROM Contact"), "bad", nil))
	require.Equal(t, http.StatusBadRequest, a.CompositeResponse[0].HTTPStatusCode)
	require.Contains(t, string(a.CompositeResponse[0].Body), "PROCESSING_HALTED")
	require.Equal(t, http.StatusBadRequest, a.CompositeResponse[1].HTTPStatusCode)
	require.Contains(t, string(a.CompositeResponse[1].Body), "INVALID_FIELD")

	// Requests refused whole.
	many := make([]map[string]any, sfCompositeMax+1)
	for i := range many {
		many[i] = sfSub(http.MethodGet, sfData+"/sobjects/Contact/describe", fmt.Sprintf("d%d", i), nil)
	}
	queries := make([]map[string]any, sfCompositeMaxQueries+1)
	for i := range queries {
		queries[i] = sfSub(http.MethodGet, sfData+"/query?q=SELECT+Id+FROM+Contact+LIMIT+1", fmt.Sprintf("q%d", i), nil)
	}
	for _, tc := range []struct {
		name string
		subs []map[string]any
	}{
		{name: "26 subrequests", subs: many},
		{name: "6 queries", subs: queries},
		{name: "none", subs: []map[string]any{}},
		{name: "an Authorization header", subs: []map[string]any{sfSub(http.MethodGet, sfData+"/limits", "a", map[string]string{"Authorization": "Bearer x"})}},
		{name: "a bad referenceId", subs: []map[string]any{sfSub(http.MethodGet, sfData+"/limits", "a-b", nil)}},
		{name: "a repeated referenceId", subs: []map[string]any{sfSub(http.MethodGet, sfData+"/limits", "a", nil), sfSub(http.MethodGet, sfData+"/limits", "a", nil)}},
		{name: "a bad method", subs: []map[string]any{sfSub("get", sfData+"/limits", "a", nil)}},
	} {
		r, _ := sfComposite(t, h, false, tc.subs...)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tc.name, r.body)
		var errs []sfError
		require.NoError(t, json.Unmarshal(r.body, &errs), "%s: %s", tc.name, r.body)
		require.NotEmpty(t, errs[0].ErrorCode, tc.name)
	}
	_, a = sfComposite(t, h, false, many[:sfCompositeMax]...)
	require.Equal(t, http.StatusOK, a.CompositeResponse[sfCompositeMax-1].HTTPStatusCode)
}

func TestSalesforceRetrieveByPost(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 2, Contacts: 2100, Companies: 5, Deals: 5})
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 1})
	require.Len(t, res.Archived, 1)
	truth, err := h.sim.SnapshotFor(ProviderSalesforce, Contacts)
	require.NoError(t, err)
	var live []string
	deleted := ""
	for _, r := range truth {
		if r.Archived {
			deleted = r.ID
		} else {
			live = append(live, r.ID)
		}
	}
	missing := sfID(sfPrefixContact, 999_999)
	ids := []string{live[7], deleted, missing, "not-an-id", live[3], live[7]}
	path := sfData + "/composite/sobjects/Contact"
	r := h.post(t, path, map[string][]string{"ids": ids, "fields": {"Id", "Email", "Email_Last_Open_Date__c"}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Len(t, got, len(ids), "one element an id, in their order")
	require.Equal(t, live[7], sfString(t, got[0]["Id"]))
	require.Nil(t, got[1], "deleted")
	require.Nil(t, got[2], "not found")
	require.Nil(t, got[3], "not an id")
	require.Equal(t, live[3], sfString(t, got[4]["Id"]))
	require.Equal(t, got[0], got[5])
	require.Contains(t, got[0], "Email_Last_Open_Date__c")

	r = h.post(t, path, map[string][]string{"ids": live[:sfRetrievePostMax], "fields": {"Id"}})
	require.Equal(t, http.StatusOK, r.status)
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Len(t, got, sfRetrievePostMax)
	for _, tc := range []struct {
		name string
		body map[string][]string
	}{
		{name: "2,001 ids", body: map[string][]string{"ids": live[:sfRetrievePostMax+1], "fields": {"Id"}}},
		{name: "an unknown field", body: map[string][]string{"ids": live[:1], "fields": {"Id", "Nope__c"}}},
		{name: "no ids", body: map[string][]string{"fields": {"Id"}}},
		{name: "no fields", body: map[string][]string{"ids": live[:1]}},
	} {
		r = h.post(t, path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tc.name, r.body)
	}
	require.Equal(t, http.StatusNotFound, h.post(t, sfData+"/composite/sobjects/User", map[string][]string{"ids": live[:1], "fields": {"Id"}}).status)

	// The GET form keeps its 200 ids.
	r = h.get(t, path+"?ids="+strings.Join(live[:200], ",")+"&fields=Id")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = h.get(t, path+"?ids="+strings.Join(live[:201], ",")+"&fields=Id")
	require.Equal(t, http.StatusBadRequest, r.status)
}

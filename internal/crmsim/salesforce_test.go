package crmsim

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const sfData = "/services/data/v62.0"

// sfQueryResult decodes a QueryResult.
type sfQueryResult struct {
	TotalSize      int                          `json:"totalSize"`
	Done           bool                         `json:"done"`
	NextRecordsURL string                       `json:"nextRecordsUrl"`
	Records        []map[string]json.RawMessage `json:"records"`
}

func sfQuery(t *testing.T, h *harness, resource, soql string) response {
	t.Helper()
	return h.get(t, sfData+"/"+resource+"?q="+url.QueryEscape(soql))
}

func decodeQuery(t *testing.T, r response) sfQueryResult {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var q sfQueryResult
	require.NoError(t, json.Unmarshal(r.body, &q))
	return q
}

func sfString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(raw, &s), "%s", raw)
	return s
}

func TestSalesforceIDsSortLikeTheirNumbers(t *testing.T) {
	t.Parallel()
	nums := []int64{0, 1, 9, 10, 61, 62, 99, 100, 3843, 3844, 1_000_000, 7_000_000_123, 812723471}
	for i, a := range nums {
		id := sfID(sfPrefixContact, a)
		require.Len(t, id, 18)
		back, ok := sfParseID(sfPrefixContact, id)
		require.True(t, ok, id)
		require.Equal(t, a, back)
		back, ok = sfParseID(sfPrefixContact, id[:15])
		require.True(t, ok)
		require.Equal(t, a, back)
		_, ok = sfParseID(sfPrefixAccount, id)
		require.False(t, ok, "another object's prefix")
		for _, b := range nums[i+1:] {
			other := sfID(sfPrefixContact, b)
			require.Equal(t, a < b, id < other, "%d %s vs %d %s", a, id, b, other)
		}
	}
	id := sfID(sfPrefixContact, 12345)
	_, ok := sfParseID(sfPrefixContact, id[:15]+"AAB")
	require.False(t, ok, "a wrong checksum")
}

func TestSalesforceQueryPagesThroughEveryLiveRecord(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 4, Contacts: 950, Companies: 20, Deals: 10})
	mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 7})
	truth, err := h.sim.SnapshotFor(ProviderSalesforce, Contacts)
	require.NoError(t, err)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
		h.srv.URL+sfData+"/query?q="+url.QueryEscape("SELECT Id, Email, SystemModstamp FROM Contact ORDER BY Id"), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Sforce-Query-Options", "batchSize=300")
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Regexp(t, `^api-usage=1/100000$`, resp.Header.Get("Sforce-Limit-Info"))
	var q sfQueryResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&q))

	var ids []string
	pages := 1
	for {
		for _, r := range q.Records {
			require.Contains(t, string(r["attributes"]), `"type":"Contact"`)
			ids = append(ids, sfString(t, r["Id"]))
			require.Regexp(t, `^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000"$`, string(r["SystemModstamp"]))
		}
		if q.Done {
			break
		}
		require.True(t, strings.HasPrefix(q.NextRecordsURL, sfData+"/query/01g"), q.NextRecordsURL)
		q = decodeQuery(t, h.get(t, q.NextRecordsURL))
		pages++
	}
	require.Equal(t, 4, pages, "950-7 records in pages of 300")
	var want []string
	for _, r := range truth {
		if !r.Archived {
			want = append(want, r.ID)
		}
	}
	require.Equal(t, want, ids)
	require.Equal(t, 4, h.sim.Calls("salesforce query Contact")+h.sim.Calls("salesforce query_more"))
}

func TestSalesforceKeysetQueryHandlesEqualStamps(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 5, Contacts: 500, Companies: 5, Deals: 5})
	h.clock.Advance(time.Hour)
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 120, SameTimestamp: true})
	at := res.At.Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	var got []string
	cursorID := ""
	for range 10 {
		where := "SystemModstamp >= " + at
		if cursorID != "" {
			where = "SystemModstamp > " + at + " OR (SystemModstamp = " + at + " AND Id > '" + cursorID + "')"
		}
		q := decodeQuery(t, sfQuery(t, h, "query", "SELECT Id FROM Contact WHERE "+where+" ORDER BY SystemModstamp, Id LIMIT 50"))
		require.True(t, q.Done)
		for _, r := range q.Records {
			got = append(got, sfString(t, r["Id"]))
		}
		if len(q.Records) < 50 {
			break
		}
		cursorID = got[len(got)-1]
	}
	require.Len(t, got, 120)
	for i := 1; i < len(got); i++ {
		require.Less(t, got[i-1], got[i])
	}

	// A quoted dateTime is refused as Salesforce refuses it.
	r := sfQuery(t, h, "query", "SELECT Id FROM Contact WHERE SystemModstamp > '"+at+"'")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), `"errorCode":"INVALID_FIELD"`)
	r = sfQuery(t, h, "query", "SELECT Id, Nope FROM Contact")
	require.Contains(t, string(r.body), "No such column 'Nope'")
	r = sfQuery(t, h, "query", "SELECT Id, id FROM Contact")
	require.Contains(t, string(r.body), "duplicate field selected")
}

func TestSalesforceSnapshotMatchesTheAPI(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 8, Contacts: 30, Companies: 10, Deals: 40})
	for _, obj := range []string{Contacts, Companies, Deals} {
		truth, err := h.sim.SnapshotFor(ProviderSalesforce, obj)
		require.NoError(t, err)
		o := h.sim.sf.schema.byKind[func() objectKind { k, _ := kindByName(obj); return k }()]
		var names []string
		for _, f := range o.fields {
			names = append(names, f.name)
		}
		q := decodeQuery(t, sfQuery(t, h, "queryAll", "SELECT "+strings.Join(names, ", ")+" FROM "+o.name))
		require.Len(t, q.Records, len(truth))
		for i, r := range q.Records {
			require.Equal(t, truth[i].ID, sfString(t, r["Id"]))
			for _, n := range names[1:] {
				raw := r[n]
				want := truth[i].Properties[n]
				var s string
				switch {
				case string(raw) == "null":
					s = ""
				case raw[0] == '"':
					s = sfString(t, raw)
				default:
					s = string(raw)
				}
				require.Equal(t, want, s, "%s %s.%s", obj, truth[i].ID, n)
			}
		}
	}
	deals, err := h.sim.SnapshotFor(ProviderSalesforce, Deals)
	require.NoError(t, err)
	require.Regexp(t, `^006`, deals[0].ID)
	require.NotEmpty(t, deals[0].Properties["StageName"])
}

func TestSalesforceRetrieveLeavesNullForMissingIDs(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 2, Contacts: 20, Companies: 5, Deals: 5})
	res := mutate(t, h.sim, MutationSpec{Object: Companies, Archives: 1})
	truth, err := h.sim.SnapshotFor(ProviderSalesforce, Companies)
	require.NoError(t, err)
	var live, deleted string
	for _, r := range truth {
		if r.Archived {
			deleted = r.ID
		} else if live == "" {
			live = r.ID
		}
	}
	require.NotEmpty(t, res.Archived)
	r := h.get(t, sfData+"/composite/sobjects/Account?ids="+live+","+deleted+",001000000000000AAA&fields=Id,Name,NumberOfEmployees")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var out []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Len(t, out, 3)
	require.Equal(t, live, sfString(t, out[0]["Id"]))
	require.Nil(t, out[1])
	require.Nil(t, out[2])
}

func TestSalesforceDailyAllocationIsRollingAndA403(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 5, Companies: 1, Deals: 1, Tokens: []string{testToken, "other"},
		Salesforce: SalesforceOptions{DailyLimit: 3}})
	for i := range 3 {
		r := h.get(t, sfData+"/limits")
		require.Equal(t, http.StatusOK, r.status)
		h.clock.Advance(time.Hour)
		require.Equal(t, "api-usage="+strconv.Itoa(i+1)+"/3", r.header.Get("Sforce-Limit-Info"))
	}
	r := h.call(t, http.MethodGet, sfData+"/limits", "other", nil)
	require.Equal(t, http.StatusForbidden, r.status, "the allocation is the org's, shared by its tokens")
	require.JSONEq(t, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, string(r.body))
	require.Equal(t, "api-usage=3/3", r.header.Get("Sforce-Limit-Info"))
	st := h.sim.Stats()
	require.Equal(t, 1, st.RateLimited)
	require.Zero(t, st.Early)

	// Room comes back when the first call leaves the rolling window: 21 h from now.
	h.clock.Advance(20 * time.Hour)
	r = h.call(t, http.MethodGet, sfData+"/limits", "other", nil)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, 1, h.sim.Stats().Early, "a call before the allocation has room again is early")
	h.clock.Advance(time.Hour)
	r = h.call(t, http.MethodGet, sfData+"/limits", "other", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var limits map[string]sfLimitValue
	require.NoError(t, json.Unmarshal(r.body, &limits))
	require.Equal(t, sfLimitValue{Max: 3, Remaining: 0}, limits["DailyApiRequests"])
}

func TestSalesforceAccessTokensExpire(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 3, AccessTokenTTL: time.Minute})
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {testToken}, "client_id": {"cid"}, "client_secret": {"sec"}}
	resp, err := h.client.PostForm(h.srv.URL+"/services/oauth2/token", form)
	require.NoError(t, err)
	var tok map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, h.srv.URL, tok["instance_url"])
	require.Equal(t, "Bearer", tok["token_type"])
	require.NotContains(t, tok, "expires_in")

	r := h.call(t, http.MethodGet, sfData+"/limits", tok["access_token"], nil)
	require.Equal(t, http.StatusOK, r.status)
	h.clock.Advance(time.Minute)
	r = h.call(t, http.MethodGet, sfData+"/limits", tok["access_token"], nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, string(r.body))

	form.Set("refresh_token", "nope")
	resp, err = h.client.PostForm(h.srv.URL+"/services/oauth2/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestSalesforceBulkQueryJob(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 3, Contacts: 10, Companies: 5, Deals: 25})
	r := h.post(t, sfData+"/jobs/query", map[string]string{"operation": "query", "query": "SELECT Id, Name, Amount, IsWon, CloseDate, SystemModstamp FROM Opportunity"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	job := r.json(t)
	require.Equal(t, "UploadComplete", job["state"])
	id := job["id"].(string)

	r = h.get(t, sfData+"/jobs/query/"+id+"/results")
	require.Equal(t, http.StatusPreconditionFailed, r.status)
	require.Equal(t, "InProgress", h.get(t, sfData+"/jobs/query/"+id).json(t)["state"])
	h.clock.Advance(DefaultSalesforceBulkJobDelay)
	require.Equal(t, "JobComplete", h.get(t, sfData+"/jobs/query/"+id).json(t)["state"])

	var rows [][]string
	locator := ""
	for {
		path := sfData + "/jobs/query/" + id + "/results?maxRecords=10"
		if locator != "" {
			path += "&locator=" + locator
		}
		r = h.get(t, path)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, []string{"Id", "Name", "Amount", "IsWon", "CloseDate", "SystemModstamp"}, recs[0])
		require.Equal(t, r.header.Get("Sforce-NumberOfRecords"), strconv.Itoa(len(recs)-1))
		rows = append(rows, recs[1:]...)
		locator = r.header.Get("Sforce-Locator")
		if locator == "null" {
			break
		}
	}
	require.Len(t, rows, 25)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$`, rows[0][5])
	require.Contains(t, []string{"true", "false"}, rows[0][3])
}

func TestSalesforceConcurrentLongRunningLimit(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 1, Contacts: 1, Latency: sfLongRunning, Salesforce: SalesforceOptions{ConcurrentLongRunning: 3}})
	now := h.clock.Now()
	// Admission alone, without the 20 s sleep: three slots, then the limit.
	var held []sfAdmission
	for range 3 {
		adm := h.sim.sfAdmit(0, "salesforce limits", "test", now)
		require.Equal(t, sfLimitNone, adm.limit)
		require.True(t, adm.long)
		held = append(held, adm)
	}
	adm := h.sim.sfAdmit(0, "salesforce limits", "test", now)
	require.Equal(t, sfLimitConcurrent, adm.limit)
	require.Equal(t, 3, adm.used, "a refused call does not use the allocation")
	h.sim.sf.release()
	adm = h.sim.sfAdmit(0, "salesforce limits", "test", now)
	require.Equal(t, sfLimitNone, adm.limit)
	require.Len(t, held, 3)
}

func TestSalesforceGetDeletedAndFaults(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 6, Contacts: 40, Companies: 3, Deals: 3})
	h.clock.Advance(time.Hour)
	res := mutate(t, h.sim, MutationSpec{Object: Contacts, Archives: 4})
	start := h.clock.Now().Add(-time.Minute).Format("2006-01-02T15:04:05Z")
	end := h.clock.Now().Add(time.Minute).Format("2006-01-02T15:04:05Z")
	r := h.get(t, sfData+"/sobjects/Contact/deleted/?start="+start+"&end="+end)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var del struct {
		DeletedRecords []struct {
			ID          string `json:"id"`
			DeletedDate string `json:"deletedDate"`
		} `json:"deletedRecords"`
		LatestDateCovered string `json:"latestDateCovered"`
	}
	require.NoError(t, json.Unmarshal(r.body, &del))
	require.Len(t, del.DeletedRecords, len(res.Archived))
	require.Regexp(t, `^003`, del.DeletedRecords[0].ID)

	h.sim.InjectFault(Fault{Endpoint: "salesforce describe Contact", Kind: Fault502HTML})
	r = h.get(t, sfData+"/sobjects/Contact/describe")
	require.Equal(t, http.StatusBadGateway, r.status)
	h.sim.InjectFault(Fault{Endpoint: "salesforce describe Contact", Kind: FaultTruncatedJSON})
	r = h.get(t, sfData+"/sobjects/Contact/describe")
	require.Equal(t, http.StatusOK, r.status)
	require.False(t, json.Valid(r.body))
	h.sim.InjectFault(Fault{Kind: Fault429Daily})
	r = h.get(t, sfData+"/sobjects/Contact/describe")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, string(r.body), "REQUEST_LIMIT_EXCEEDED")

	st := h.sim.Stats()
	require.Equal(t, 3, st.Calls("salesforce describe Contact"))
	require.Equal(t, 1, st.Calls("salesforce deleted Contact"))
	require.Equal(t, 1, st.RateLimited)
	require.Equal(t, 4, st.Total)
	r = h.get(t, sfData+"/sobjects/Contact/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	r = h.get(t, "/services/data/v99.0/limits")
	require.Equal(t, http.StatusNotFound, r.status)
	r = h.call(t, http.MethodGet, "/services/data/", "", nil)
	require.Equal(t, http.StatusOK, r.status, "the versions list needs no session")
	require.Empty(t, r.header.Get("Sforce-Limit-Info"))
}

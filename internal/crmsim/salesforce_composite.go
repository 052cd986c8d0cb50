package crmsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// The Composite API (POST /services/data/vNN.N/composite) "executes a series of REST API
// requests in a single call ... The entire series of requests counts as a single call toward
// your API limits" (REST API Developer Guide, resources_composite_composite_post). It is how
// a client sends SOQL too long for a query string: the subrequest's url travels in the JSON
// body, past the front end's URI limit (salesforce_edge.go), while the SOQL statement limit
// still applies. The request is admitted, counted and answered Sforce-Limit-Info like any
// other; its subrequests are served by the handlers the dialect serves them with directly.
// Its stats key carries its subrequests' key when they share one (sfCompositeKey).
//
// The sim serves the subrequests of the resources it reads: query and queryAll (?q=, and
// their query locators, honouring an Sforce-Query-Options httpHeader), describe, getDeleted,
// and the sObject Collections retrieve (GET, or POST with its body): Composite supports "All
// sObject resources", Query, QueryAll and sObject Collections. Any other subrequest answers
// a subrequest error: 404 NOT_FOUND for a path the dialect does not serve, 400 for one it
// serves but Composite does not (limits, Bulk API jobs, a nested composite), and 400 for a
// reference (@{ref.field}), which the sim does not resolve.

// Composite limits: "You can have up to 25 subrequests in a single call. Up to 5 of these
// subrequests can be sObject Collections or query operations, including Query and QueryAll
// requests" (resources_composite_composite_post).
const (
	sfCompositeMax        = 25
	sfCompositeMaxQueries = 5
)

// sfMaxBody is the most of a request body the dialect reads, as decodeBody does.
const sfMaxBody = 1 << 20

// sfReferenceID is what a referenceId may hold: "The referenceId can only contain letters,
// numbers, and underscores" (resources_composite_subrequest_result).
var sfReferenceID = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// sfSubrequest is one element of compositeRequest.
type sfSubrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
	Body        json.RawMessage   `json:"body"`
}

// sfSubResult is one element of compositeResponse.
type sfSubResult struct {
	body   []byte
	status int
	ref    string
}

func (s *Sim) sfServeComposite(c *sfCall) reply {
	var in struct {
		AllOrNone        bool           `json:"allOrNone"`
		CompositeRequest []sfSubrequest `json:"compositeRequest"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return sfErrorReply(http.StatusBadRequest, "JSON_PARSER_ERROR", err.Error())
	}
	// The error codes and messages of a refused composite request are UNCONFIRMED; that it
	// is refused whole with a 400 is documented for headers a subrequest must not set
	// ("If you do, the top-level request fails and returns an HTTP 400 response").
	invalid := func(format string, args ...any) reply {
		return sfErrorReply(http.StatusBadRequest, "INVALID_INPUT", fmt.Sprintf(format, args...))
	}
	subs := in.CompositeRequest
	switch {
	case len(subs) == 0:
		return invalid("compositeRequest must hold at least one subrequest")
	case len(subs) > sfCompositeMax:
		return sfErrorReply(http.StatusBadRequest, "LIMIT_EXCEEDED",
			fmt.Sprintf("A composite request can have at most %d subrequests; this one has %d", sfCompositeMax, len(subs)))
	}
	refs := map[string]bool{}
	queries := 0
	for i, sub := range subs {
		switch sub.Method {
		case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete:
		default:
			return invalid("subrequest %d: method must be one of GET, POST, PATCH, DELETE, got %q", i, sub.Method)
		}
		switch {
		case sub.URL == "":
			return invalid("subrequest %d: url is required", i)
		case !sfReferenceID.MatchString(sub.ReferenceID):
			return invalid("subrequest %d: referenceId must be letters, digits and underscores, got %q", i, sub.ReferenceID)
		case refs[sub.ReferenceID]:
			return invalid("subrequest %d: duplicate referenceId %q", i, sub.ReferenceID)
		}
		refs[sub.ReferenceID] = true
		for k := range sub.HTTPHeaders {
			switch http.CanonicalHeaderKey(k) {
			case "Accept", "Authorization", "Content-Type":
				return invalid("subrequest %d: the %s header is inherited from the composite request and cannot be set", i, k)
			}
		}
		if sfCompositeQuery(sub.URL) {
			queries++
		}
	}
	if queries > sfCompositeMaxQueries {
		return sfErrorReply(http.StatusBadRequest, "LIMIT_EXCEEDED",
			fmt.Sprintf("A composite request can have at most %d query and sObject Collections subrequests; this one has %d", sfCompositeMaxQueries, queries))
	}

	results := make([]sfSubResult, len(subs))
	failed := false
	for i, sub := range subs {
		rep := s.sfServeSubrequest(c, sub)
		results[i] = sfSubResult{body: rep.body, status: rep.status, ref: sub.ReferenceID}
		failed = failed || rep.status >= 400
	}
	if in.AllOrNone && failed {
		// "If allOrNone is set to true in the composite request and a subrequest returns an
		// error, all other subrequests return the 400 HTTP status code." Their body is
		// UNCONFIRMED.
		halted := sfErrorReply(http.StatusBadRequest, "PROCESSING_HALTED",
			"The transaction was rolled back since another operation in the same transaction failed.")
		seen := false
		for i := range results {
			if results[i].status >= 400 && !seen {
				seen = true
				continue
			}
			results[i].body, results[i].status = halted.body, halted.status
		}
	}

	var b bytes.Buffer
	b.WriteString(`{"compositeResponse":[`)
	for i, r := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"body":`)
		if len(r.body) == 0 {
			b.WriteString("null")
		} else {
			b.Write(r.body)
		}
		ref, _ := json.Marshal(r.ref) // a string always encodes
		fmt.Fprintf(&b, `,"httpHeaders":{},"httpStatusCode":%d,"referenceId":%s}`, r.status, ref)
	}
	b.WriteString("]}")
	return reply{status: http.StatusOK, contentType: contentTypeJSON, body: b.Bytes()}
}

// sfCompositeKey is the stats key of a composite request: "salesforce composite" and, when
// every subrequest is served under one key, that key ("salesforce composite query Contact"),
// so the stats still tell one object's listing from another's, and a query from a queryAll.
// It reads the body ahead of the handler and puts it back.
func sfCompositeKey(r *http.Request) string {
	const key = "salesforce composite"
	if r.Body == nil {
		return key
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, sfMaxBody+1))
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var in struct {
		CompositeRequest []sfSubrequest `json:"compositeRequest"`
	}
	if err != nil || json.Unmarshal(raw, &in) != nil || len(in.CompositeRequest) == 0 {
		return key
	}
	sub := ""
	for _, sr := range in.CompositeRequest {
		k := key
		if r, err := http.NewRequest(sr.Method, sr.URL, nil); err == nil {
			if seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(seg) >= 4 && seg[0] == "services" && seg[1] == "data" {
				k = sfMatch(r, seg[3:]).key
			}
		}
		if sub != "" && k != sub {
			return key
		}
		sub = k
	}
	return key + " " + strings.TrimPrefix(sub, "salesforce ")
}

// sfCompositeQuery reports whether a subrequest url is a query operation or an sObject
// Collections one, of which a composite request holds at most five.
func sfCompositeQuery(u string) bool {
	path, _, _ := strings.Cut(u, "?")
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) < 4 || seg[0] != "services" || seg[1] != "data" {
		return false
	}
	switch seg[3] {
	case "query", "queryAll":
		return true
	case "composite":
		return len(seg) > 4 && seg[4] == "sobjects"
	}
	return false
}

// sfServeSubrequest serves one subrequest as the dialect serves the same request alone,
// but for the front end's limits, authentication and the allocation, which the composite
// request as a whole went through.
func (s *Sim) sfServeSubrequest(c *sfCall, sub sfSubrequest) reply {
	if strings.Contains(sub.URL, "@{") {
		return sfErrorReply(http.StatusBadRequest, "INVALID_INPUT", "crmsim: subrequest references (@{...}) are not supported")
	}
	path, _, _ := strings.Cut(sub.URL, "?")
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) < 4 || seg[0] != "services" || seg[1] != "data" {
		return sfNotFound()
	}
	if _, ok := sfVersion(seg[2]); !ok {
		return sfNotFound()
	}
	r, err := http.NewRequestWithContext(c.r.Context(), sub.Method, sub.URL, bytes.NewReader(sub.Body))
	if err != nil {
		return sfErrorReply(http.StatusBadRequest, "INVALID_INPUT", "subrequest url: "+err.Error())
	}
	r.RequestURI = sub.URL
	for k, v := range sub.HTTPHeaders {
		r.Header.Set(k, v)
	}
	if len(sub.Body) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	sc := &sfCall{r: r, now: c.now, version: seg[2], seg: seg[3:], header: http.Header{}}
	rt := sfMatch(r, sc.seg)
	switch {
	case rt.key == "salesforce unknown":
		return sfNotFound()
	case !sfCompositeServes(rt.key):
		return sfErrorReply(http.StatusBadRequest, "INVALID_INPUT",
			fmt.Sprintf("crmsim: %s %s is not served as a composite subrequest", sub.Method, path))
	}
	return rt.serve(s, sc)
}

// sfCompositeServes reports whether the sim serves a route, by its stats key, as a
// composite subrequest: the resources it reads and that Composite supports.
func sfCompositeServes(key string) bool {
	for _, p := range []string{"salesforce query ", "salesforce queryAll ", "salesforce retrieve ", "salesforce describe ", "salesforce deleted "} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return key == "salesforce query_more"
}

package crmsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	contentTypeJSON = "application/json;charset=utf-8"
	contentTypeHTML = "text/html; charset=utf-8"
)

// reply is a fully built API response. Handlers build replies instead of writing to the
// connection so that faults can truncate, corrupt or cut them after the fact.
type reply struct {
	status      int
	contentType string
	body        []byte
}

// call is one API request being served.
type call struct {
	r     *http.Request
	now   time.Time
	corr  string
	route route
}

// route is the outcome of matching a request path.
type route struct {
	key    string       // Stats endpoint key
	search bool         // exempt from the ten-secondly bucket, subject to the search limit
	obj    *objectStore // the object in the path, if any
	id     string       // the record id in the path, for single reads
	serve  func(s *Sim, c *call) reply
}

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	s.adminRoutes(mux)
	s.dialectRoutes(mux)
	mux.HandleFunc("/", s.serveAPI)
	return mux
}

// match resolves a request to its endpoint key and handler. Every path gets a route so
// that all API traffic, even to unknown paths, is counted.
func (s *Sim) match(r *http.Request) route {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	objRoute := func(op string, object string, fn func(*Sim, *call) reply) route {
		k, ok := kindByName(object)
		if !ok {
			return route{key: op + " invalid", serve: unknownObject(object)}
		}
		return route{key: op + " " + object, obj: s.objects[k], serve: fn}
	}
	switch {
	case len(seg) >= 4 && seg[0] == "crm" && seg[1] == "v3" && seg[2] == "objects":
		object := seg[3]
		switch {
		case len(seg) == 4 && get:
			if v, _ := strconv.ParseBool(r.URL.Query().Get("archived")); v {
				return objRoute("list_archived", object, (*Sim).serveList)
			}
			return objRoute("list", object, (*Sim).serveList)
		case len(seg) == 5 && seg[4] == "search" && post:
			rt := objRoute("search", object, (*Sim).serveSearch)
			rt.search = true
			return rt
		case len(seg) == 5 && get:
			rt := objRoute("get", object, (*Sim).serveGet)
			rt.id = seg[4]
			return rt
		case len(seg) == 6 && seg[4] == "batch" && seg[5] == "read" && post:
			return objRoute("batch_read", object, (*Sim).serveBatchRead)
		case len(seg) == 6 && seg[4] == "batch" && post &&
			(seg[5] == writeCreate || seg[5] == writeUpdate || seg[5] == writeUpsert):
			return objRoute("batch_"+seg[5], object, serveBatchWrite(seg[5]))
		}
	case len(seg) == 7 && seg[0] == "crm" && seg[1] == "v4" && seg[2] == "associations" && seg[5] == "batch" && seg[6] == "read" && post:
		return s.associationsRoute(seg[3], seg[4])
	case len(seg) == 3 && seg[0] == "crm" && seg[1] == "v3" && seg[2] == "owners" && get:
		return route{key: "owners", serve: (*Sim).serveOwners}
	case len(seg) == 4 && seg[0] == "crm" && seg[1] == "v3" && seg[2] == "pipelines" && get:
		if seg[3] != Deals {
			return route{key: "pipelines invalid", serve: unknownObject(seg[3])}
		}
		return route{key: "pipelines deals", serve: (*Sim).servePipelines}
	case len(seg) == 4 && seg[0] == "crm" && seg[1] == "v3" && seg[2] == "properties" && get:
		return objRoute("properties", seg[3], (*Sim).serveProperties)
	case strings.Join(seg, "/") == "account-info/v3/api-usage/daily/private-apps" && get:
		return route{key: "usage", serve: (*Sim).serveUsage}
	}
	return route{key: "unknown", serve: func(_ *Sim, c *call) reply {
		return errorReply(http.StatusNotFound, c.corr, "OBJECT_NOT_FOUND",
			fmt.Sprintf("No route for %s %s", c.r.Method, c.r.URL.Path))
	}}
}

func unknownObject(object string) func(*Sim, *call) reply {
	return func(_ *Sim, c *call) reply {
		return errorReply(http.StatusBadRequest, c.corr, "VALIDATION_ERROR",
			"Unable to infer object type from: "+object)
	}
}

// serveAPI runs every API request through the same steps HubSpot's edge does: count,
// authenticate, rate limit, then answer; and lets faults intervene after counting.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	client := clientName(r.Header.Get("User-Agent"))
	c := &call{r: r, now: arrived, corr: newUUID(), route: s.match(r)}
	if limit := s.opts.URILimit; limit > 0 && len(r.RequestURI) > limit {
		// HubSpot's front end refuses a long request URI before the API sees it: an HTML
		// page, no correlation id, no rate-limit headers, nothing counted against the
		// quota. A GET naming every property of a wide portal hits it "just around 16.2k
		// characters" (PostHog PR #31617; also dlt-hub/verified-sources #305 and #311,
		// airweave-ai/airweave #1064).
		sleep(r.Context(), s.opts.Latency)
		s.meter.finish(c.route.key, client, http.StatusRequestURITooLong, arrived)
		s.write(w, uriTooLong())
		return
	}
	w.Header().Set("X-HubSpot-Correlation-Id", c.corr)

	tok, ok := s.authenticate(r)
	if !ok {
		sleep(r.Context(), s.opts.Latency)
		rep := unauthorized(c.corr, r.Header.Get("Authorization") != "")
		s.meter.finish(c.route.key, client, rep.status, arrived)
		s.write(w, rep)
		return
	}

	adm := s.meter.admit(tok, c.route.search, c.route.key, client, arrived)
	delay := s.opts.Latency
	if adm.fault != nil && adm.fault.Kind == FaultLatency {
		delay += adm.fault.Latency
	}
	sleep(r.Context(), delay)
	if !c.route.search {
		setRateHeaders(w.Header(), adm.headers)
	}

	var rep reply
	switch {
	case adm.fault != nil && adm.fault.answers():
		rep = s.faultReply(c, adm)
	case adm.policy != policyNone:
		rep = s.rateLimited(w, c, adm)
		s.meter.tell(tok, client, adm)
	default:
		rep = c.route.serve(s, c)
	}
	if adm.fault != nil {
		switch adm.fault.Kind {
		case FaultTruncatedJSON:
			rep = reply{status: http.StatusOK, contentType: contentTypeJSON, body: rep.body[:len(rep.body)/2]}
		case FaultMalformedJSON:
			rep = reply{status: http.StatusOK, contentType: contentTypeJSON, body: malform(rep.body)}
		case FaultReset:
			// No status reaches the client, so the stats record 0.
			s.meter.finish(c.route.key, client, 0, arrived)
			reset(w, rep)
			return
		}
	}
	// Record before writing, so a client that has the response also sees it in Stats.
	s.meter.finish(c.route.key, client, rep.status, arrived)
	s.write(w, rep)
}

// uriTooLong is the page a CDN front end sends for a request URI over its limit.
func uriTooLong() reply {
	return reply{status: http.StatusRequestURITooLong, contentType: contentTypeHTML, body: []byte(
		"<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n" +
			"<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")}
}

// authenticate returns the index of the request's bearer token.
func (s *Sim) authenticate(r *http.Request) (int, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return 0, false
	}
	i, ok := s.tokens[strings.TrimSpace(tok)]
	return i, ok
}

func (s *Sim) write(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body) // the client may have gone; nothing to do about it
}

func setRateHeaders(h http.Header, rh rateHeaders) {
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(rh.max))
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(rh.remaining))
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(rh.daily))
	h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(rh.dailyRemaining))
	h.Set("X-HubSpot-RateLimit-Secondly", strconv.Itoa(rh.secondly))
	h.Set("X-HubSpot-RateLimit-Secondly-Remaining", strconv.Itoa(rh.secondlyRemaining))
}

// rateLimitBody is HubSpot's 429 body.
type rateLimitBody struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	ErrorType     string `json:"errorType"`
	CorrelationID string `json:"correlationId"`
	PolicyName    string `json:"policyName"`
	RequestID     string `json:"requestId"`
}

func (s *Sim) rateLimited(w http.ResponseWriter, c *call, adm admission) reply {
	if s.opts.RetryAfter {
		secs := int64(math.Ceil(adm.wait.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 0), 10))
	}
	return jsonReply(http.StatusTooManyRequests, rateLimitBody{
		Status: "error", Message: adm.policy.message(), ErrorType: "RATE_LIMIT",
		CorrelationID: c.corr, PolicyName: adm.policy.name(), RequestID: newUUID(),
	})
}

// apiError is HubSpot's error body (the spec's Error schema plus the "status" field the
// live API adds).
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	Context       map[string][]string `json:"context,omitempty"`
	Links         map[string]string   `json:"links,omitempty"`
}

func errorReply(status int, corr, category, message string) reply {
	return jsonReply(status, apiError{Status: "error", Message: message, CorrelationID: corr, Category: category})
}

func unauthorized(corr string, gotHeader bool) reply {
	msg := "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
	if gotHeader {
		msg = "The OAuth token used to make this call expired or is invalid."
	}
	return errorReply(http.StatusUnauthorized, corr, "INVALID_AUTHENTICATION", msg)
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value the sim encodes is built from strings and numbers; failing here is a
		// bug in the sim, reported the way HubSpot reports its own.
		b = []byte(`{"status":"error","message":"internal error encoding response","category":"INTERNAL_ERROR"}`)
		status = http.StatusInternalServerError
	}
	return reply{status: status, contentType: contentTypeJSON, body: b}
}

func (s *Sim) faultReply(c *call, adm admission) reply {
	switch adm.fault.Kind {
	case Fault500:
		return errorReply(http.StatusInternalServerError, c.corr, "INTERNAL_ERROR", "internal error")
	case Fault503:
		return errorReply(http.StatusServiceUnavailable, c.corr, "SERVICE_UNAVAILABLE", "Service Unavailable")
	case Fault502HTML:
		return reply{status: http.StatusBadGateway, contentType: contentTypeHTML, body: []byte(
			"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
				"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")}
	case Fault401:
		return unauthorized(c.corr, true)
	case FaultTruncatedJSON, FaultMalformedJSON, FaultReset:
		return c.route.serve(s, c) // corrupted by the caller once built
	}
	return errorReply(http.StatusInternalServerError, c.corr, "INTERNAL_ERROR",
		fmt.Sprintf("crmsim: unknown injected fault kind %q", adm.fault.Kind))
}

// malform turns a valid JSON body into one no JSON parser accepts, keeping it plausible.
func malform(body []byte) []byte {
	i := bytes.LastIndexByte(body, '}')
	if i < 0 {
		return append([]byte("{"), body...)
	}
	out := append([]byte{}, body[:i]...)
	out = append(out, `,"results":[{"id":}]}`...)
	return out
}

// reset sends the status line, the headers and half the body, then drops the connection.
func reset(w http.ResponseWriter, rep reply) {
	rc := http.NewResponseController(w)
	conn, buf, err := rc.Hijack()
	if err != nil {
		// HTTP/2 and recorders cannot be hijacked; aborting the handler resets the stream.
		w.Header().Set("Content-Type", rep.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.body[:len(rep.body)/2])
		_ = rc.Flush()
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "HTTP/1.1 %d %s\r\n", rep.status, http.StatusText(rep.status))
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	_ = w.Header().Write(&head)
	head.WriteString("\r\n")
	head.Write(rep.body[:len(rep.body)/2])
	_, _ = buf.Write(head.Bytes())
	_ = buf.Flush()
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// newUUID returns a random version-4 UUID, the form of HubSpot's correlation ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// clientName is the product a User-Agent names ("crmsync/1.0 (x)" -> "crmsync"), so that
// clients sharing a token can be told apart in the stats.
func clientName(ua string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(ua), " ")
	name, _, _ = strings.Cut(name, "/")
	if name == "" {
		return "unknown"
	}
	return name
}

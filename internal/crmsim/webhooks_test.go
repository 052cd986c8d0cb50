package crmsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hookSecret is the client secret of HubSpot's signature examples.
const hookSecret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"

// hookEvent decodes one received event; pointers tell an absent field from an empty one.
type hookEvent struct {
	EventID          int64   `json:"eventId"`
	SubscriptionID   int64   `json:"subscriptionId"`
	PortalID         int64   `json:"portalId"`
	OccurredAt       int64   `json:"occurredAt"`
	SubscriptionType string  `json:"subscriptionType"`
	AttemptNumber    int     `json:"attemptNumber"`
	ObjectID         int64   `json:"objectId"`
	PropertyName     *string `json:"propertyName"`
	PropertyValue    *string `json:"propertyValue"`
	ChangeSource     string  `json:"changeSource"`
	ChangeFlag       *string `json:"changeFlag"`
	AppID            int64   `json:"appId"`
}

// hookPost is one webhook request as the receiver got it.
type hookPost struct {
	method string
	uri    string
	header http.Header
	body   []byte
	events []hookEvent
	keys   [][]string // each event's JSON field names, sorted
	err    error      // reading or decoding the body
	at     time.Time
}

// answer is how the receiver replies to one POST.
type answer struct {
	status     int
	retryAfter string
}

// receiver is a webhook endpoint that records every POST and replies with its scripted
// answers in order, then with 200.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []answer
	posts   []hookPost
}

func newReceiver(t *testing.T, answers ...answer) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	p := hookPost{method: req.Method, uri: req.URL.RequestURI(), header: req.Header.Clone(), at: time.Now()}
	p.body, p.err = io.ReadAll(req.Body)
	if p.err == nil {
		p.err = json.Unmarshal(p.body, &p.events)
	}
	if p.err == nil {
		var raw []map[string]json.RawMessage
		p.err = json.Unmarshal(p.body, &raw)
		for _, m := range raw {
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			p.keys = append(p.keys, keys)
		}
	}
	r.mu.Lock()
	a := answer{status: http.StatusOK}
	if len(r.answers) > 0 {
		a, r.answers = r.answers[0], r.answers[1:]
	}
	r.posts = append(r.posts, p)
	r.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
}

// received returns the POSTs so far, failing the test on any body that did not decode.
func (r *receiver) received(t *testing.T) []hookPost {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.posts {
		require.NoError(t, p.err, "body: %s", p.body)
	}
	return slices.Clone(r.posts)
}

func repeat(a answer, n int) []answer {
	out := make([]answer, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// setupHooks is setup with webhooks posted to r at /hooks, signed with hookSecret and
// retried after 1 ms unless opts says otherwise. The sim is closed before r stops.
func setupHooks(t *testing.T, opts Options, r *receiver) *harness {
	t.Helper()
	if opts.WebhookURL == "" {
		opts.WebhookURL = r.srv.URL + "/hooks"
	}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = hookSecret
	}
	if opts.WebhookRetryBase == 0 {
		opts.WebhookRetryBase = time.Millisecond
	}
	h := setup(t, opts)
	t.Cleanup(h.sim.Close)
	return h
}

func flushHooks(t *testing.T, s *Sim) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.FlushWebhooks(ctx))
}

// allEvents concatenates the events of every POST in the order they arrived.
func allEvents(posts []hookPost) []hookEvent {
	var out []hookEvent
	for _, p := range posts {
		out = append(out, p.events...)
	}
	return out
}

// tickingClock moves one millisecond on every reading, so each change gets its own
// timestamp and occurredAt can be matched to one record version.
type tickingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// hookGroup is what one change of one record should produce: its events share type,
// object and time, and propertyChanges carry the changed properties.
type hookGroup struct {
	Type       string
	ObjectID   int64
	OccurredAt int64
	Props      map[string]string
}

func byID(recs []Record) map[string]Record {
	m := make(map[string]Record, len(recs))
	for _, r := range recs {
		m[r.ID] = r
	}
	return m
}

func TestWebhooksReportEveryChange(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	clock := &tickingClock{t: time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)}
	h := setupHooks(t, Options{Seed: 41, Contacts: 40, Companies: 15, Deals: 25, Now: clock.Now}, r)
	singular := map[string]string{Contacts: "contact", Companies: "company", Deals: "deal"}
	modProp := map[string]string{Contacts: "lastmodifieddate", Companies: "hs_lastmodifieddate", Deals: "hs_lastmodifieddate"}

	snap := func() map[string]map[string]Record {
		m := map[string]map[string]Record{}
		for _, obj := range Objects() {
			m[obj] = byID(snapshot(t, h.sim, obj))
		}
		return m
	}
	objectID := func(id string) int64 {
		n, err := strconv.ParseInt(id, 10, 64)
		require.NoError(t, err)
		return n
	}

	// One kind of change per call, so the snapshot after each call shows exactly the
	// version each event describes.
	var want []hookGroup
	before := snap()
	for _, spec := range []MutationSpec{{Updates: 3}, {Creates: 2}, {Archives: 3}, {Restores: 2}} {
		res := mutate(t, h.sim, spec)
		after := snap()
		for _, obj := range Objects() {
			ch := res.ByObject[obj]
			for _, id := range ch.Updated {
				props := map[string]string{}
				for name, v := range after[obj][id].Properties {
					if name != modProp[obj] && before[obj][id].Properties[name] != v {
						props[name] = v
					}
				}
				if len(props) > 0 {
					want = append(want, hookGroup{singular[obj] + ".propertyChange", objectID(id), after[obj][id].UpdatedAt.UnixMilli(), props})
				}
			}
			for _, id := range ch.Created {
				rec := after[obj][id]
				require.Equal(t, rec.CreatedAt, rec.UpdatedAt)
				want = append(want, hookGroup{singular[obj] + ".creation", objectID(id), rec.CreatedAt.UnixMilli(), nil})
			}
			for _, id := range ch.Archived {
				rec := after[obj][id]
				require.True(t, rec.Archived)
				want = append(want, hookGroup{singular[obj] + ".deletion", objectID(id), rec.ArchivedAt.UnixMilli(), nil})
			}
			for _, id := range ch.Restored {
				rec := after[obj][id]
				require.False(t, rec.Archived)
				want = append(want, hookGroup{singular[obj] + ".restore", objectID(id), rec.UpdatedAt.UnixMilli(), nil})
			}
		}
		before = after
	}
	// 3 updates, 2 creates, 3 archives and 2 restores in each of the three objects.
	require.Len(t, want, 30)
	flushHooks(t, h.sim)

	posts := r.received(t)
	events := allEvents(posts)
	var got []hookGroup
	subs := map[string]int64{}
	for i, e := range events {
		require.Equal(t, int64(i+1), e.EventID, "event ids count up from 1 in delivery order")
		require.Equal(t, int64(DefaultPortalID), e.PortalID)
		require.Equal(t, int64(DefaultAppID), e.AppID)
		require.Equal(t, "CRM", e.ChangeSource)
		require.Equal(t, 0, e.AttemptNumber)
		if id, ok := subs[e.SubscriptionType]; ok {
			require.Equal(t, id, e.SubscriptionID, "one subscription id per subscription type")
		}
		subs[e.SubscriptionType] = e.SubscriptionID

		base := []string{"appId", "attemptNumber", "changeSource", "eventId", "objectId", "occurredAt", "portalId", "subscriptionId", "subscriptionType"}
		keys := allKeys(posts)[i]
		n := len(got)
		switch {
		case e.PropertyName != nil:
			require.Equal(t, sorted(append(base, "propertyName", "propertyValue")), keys)
			require.NotNil(t, e.PropertyValue)
			if n == 0 || got[n-1].Type != e.SubscriptionType || got[n-1].ObjectID != e.ObjectID {
				got = append(got, hookGroup{e.SubscriptionType, e.ObjectID, e.OccurredAt, map[string]string{}})
				n++
			}
			require.Equal(t, got[n-1].OccurredAt, e.OccurredAt)
			got[n-1].Props[*e.PropertyName] = *e.PropertyValue
		case e.ChangeFlag != nil:
			require.Equal(t, "NEW", *e.ChangeFlag)
			require.Equal(t, sorted(append(base, "changeFlag")), keys)
			got = append(got, hookGroup{e.SubscriptionType, e.ObjectID, e.OccurredAt, nil})
		default:
			require.Equal(t, base, keys)
			got = append(got, hookGroup{e.SubscriptionType, e.ObjectID, e.OccurredAt, nil})
		}
	}
	require.Equal(t, want, got)

	var types []string
	ids := map[int64]bool{}
	for typ, id := range subs {
		types = append(types, typ)
		ids[id] = true
	}
	require.ElementsMatch(t, []string{
		"contact.propertyChange", "contact.creation", "contact.deletion", "contact.restore",
		"company.propertyChange", "company.creation", "company.deletion", "company.restore",
		"deal.propertyChange", "deal.creation", "deal.deletion", "deal.restore",
	}, types)
	require.Len(t, ids, 12, "subscription types have distinct ids")

	st := h.sim.WebhookStats()
	require.Equal(t, WebhookStats{Sent: int64(len(events)), Batches: int64(len(posts)), Delivered: int64(len(events))}, st)
}

func allKeys(posts []hookPost) [][]string {
	var out [][]string
	for _, p := range posts {
		out = append(out, p.keys...)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// sign64 is the v3 signature computed the way HubSpot documents it, independently of
// the sender's code.
func sign64(secret, source string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(source))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhookSignature(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	url := r.srv.URL + "/hooks/hubspot?app=crmsync&v=3"
	h := setupHooks(t, Options{Seed: 42, Contacts: 10, WebhookURL: url}, r)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 2})
	flushHooks(t, h.sim)

	posts := r.received(t)
	require.Len(t, posts, 1)
	p := posts[0]
	require.Equal(t, http.MethodPost, p.method)
	require.Equal(t, "/hooks/hubspot?app=crmsync&v=3", p.uri)
	require.Equal(t, "application/json", p.header.Get("Content-Type"))
	// The fake clock stands at 2026-02-02T09:00:00Z.
	ts := p.header.Get("X-HubSpot-Request-Timestamp")
	require.Equal(t, "1770022800000", ts)
	require.Equal(t, sign64(hookSecret, "POST"+url+string(p.body)+ts), p.header.Get("X-HubSpot-Signature-v3"))
	require.NotEqual(t, sign64("another-secret", "POST"+url+string(p.body)+ts), p.header.Get("X-HubSpot-Signature-v3"))
	require.Len(t, p.events, 2)
	require.Equal(t, int64(1770022800000), p.events[0].OccurredAt)
}

func TestSignWebhookMatchesHubSpotExample(t *testing.T) {
	t.Parallel()
	// The body and secret of HubSpot's request-validation example; the signature was
	// computed separately with Python's hmac module.
	body := `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`
	require.Equal(t, "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw=",
		signWebhook(hookSecret, http.MethodPost, "https://www.example.com/webhook_uri", []byte(body), "1564113600000"))

	// The sim's own encoding of the same event is byte for byte HubSpot's example.
	ev := webhookEvent{EventID: 1, SubscriptionID: 12345, PortalID: 62515, OccurredAt: 1564113600000,
		SubscriptionType: "contact.creation", ObjectID: 123, ChangeSource: "CRM", ChangeFlag: "NEW", AppID: 54321}
	b, err := json.Marshal([]webhookEvent{ev})
	require.NoError(t, err)
	require.JSONEq(t, body, string(b))
	require.Equal(t, body, string(b))
}

func TestWebhookBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		batch   int
		creates int
		want    []int
	}{
		{name: "custom size", batch: 7, creates: 40, want: []int{7, 7, 7, 7, 7, 5}},
		{name: "default size", batch: 0, creates: 250, want: []int{100, 100, 50}},
		{name: "one per post", batch: 1, creates: 3, want: []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t)
			h := setupHooks(t, Options{Seed: 43, Contacts: 5, WebhookBatch: tc.batch}, r)
			mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: tc.creates})
			flushHooks(t, h.sim)

			posts := r.received(t)
			var sizes []int
			for _, p := range posts {
				sizes = append(sizes, len(p.events))
			}
			require.Equal(t, tc.want, sizes)
			for i, e := range allEvents(posts) {
				require.Equal(t, int64(i+1), e.EventID)
				require.Equal(t, "contact.creation", e.SubscriptionType)
			}
			n := int64(tc.creates)
			require.Equal(t, WebhookStats{Sent: n, Batches: int64(len(tc.want)), Delivered: n}, h.sim.WebhookStats())
		})
	}
}

func TestWebhookRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, answer{status: 500}, answer{status: 500})
	h := setupHooks(t, Options{Seed: 44, Contacts: 5}, r)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 3})
	flushHooks(t, h.sim)

	posts := r.received(t)
	require.Len(t, posts, 3)
	for attempt, p := range posts {
		var ids, attempts []int64
		for _, e := range p.events {
			ids = append(ids, e.EventID)
			attempts = append(attempts, int64(e.AttemptNumber))
		}
		require.Equal(t, []int64{1, 2, 3}, ids, "a retry resends the same events")
		require.Equal(t, []int64{int64(attempt), int64(attempt), int64(attempt)}, attempts)
		ts := p.header.Get("X-HubSpot-Request-Timestamp")
		require.Equal(t, sign64(hookSecret, "POST"+r.srv.URL+"/hooks"+string(p.body)+ts), p.header.Get("X-HubSpot-Signature-v3"),
			"each attempt is signed over its own body")
	}
	require.Equal(t, WebhookStats{Sent: 3, Batches: 1, Delivered: 3, Retries: 2, Failed: 2}, h.sim.WebhookStats())
}

func TestWebhookRefusalsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 405} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, repeat(answer{status: status}, 5)...)
			h := setupHooks(t, Options{Seed: 45, Contacts: 5}, r)
			mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 2})
			flushHooks(t, h.sim)

			require.Len(t, r.received(t), 1)
			require.Equal(t, WebhookStats{Sent: 2, Batches: 1, Dropped: 2, Failed: 1}, h.sim.WebhookStats())
		})
	}
}

func TestWebhookRetriesRunOut(t *testing.T) {
	t.Parallel()
	const base = 20 * time.Millisecond
	r := newReceiver(t, repeat(answer{status: http.StatusServiceUnavailable}, 10)...)
	h := setupHooks(t, Options{Seed: 46, Contacts: 5, WebhookRetries: 3, WebhookRetryBase: base}, r)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 2})
	flushHooks(t, h.sim)

	posts := r.received(t)
	require.Len(t, posts, 4, "the first attempt and three retries")
	for i, p := range posts {
		require.Equal(t, []int{i, i}, []int{p.events[0].AttemptNumber, p.events[1].AttemptNumber})
		if i > 0 {
			require.GreaterOrEqual(t, p.at.Sub(posts[i-1].at), base<<(i-1), "backoff doubles from the base")
		}
	}
	require.Equal(t, WebhookStats{Sent: 2, Batches: 1, Retries: 3, Dropped: 2, Failed: 4}, h.sim.WebhookStats())
}

func TestWebhookNetworkErrorsAreRetried(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/hooks"
	dead.Close()
	h := setup(t, Options{Seed: 47, Contacts: 5, WebhookURL: url, WebhookSecret: hookSecret,
		WebhookRetries: 2, WebhookRetryBase: time.Millisecond})
	t.Cleanup(h.sim.Close)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 3})
	flushHooks(t, h.sim)
	require.Equal(t, WebhookStats{Sent: 3, Batches: 1, Retries: 2, Dropped: 3, Failed: 3}, h.sim.WebhookStats())
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, answer{status: http.StatusTooManyRequests, retryAfter: "1"})
	// Without the Retry-After the retry would wait an hour and the flush would time out.
	h := setupHooks(t, Options{Seed: 48, Contacts: 5, WebhookRetryBase: time.Hour}, r)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 1})
	flushHooks(t, h.sim)

	posts := r.received(t)
	require.Len(t, posts, 2)
	require.GreaterOrEqual(t, posts[1].at.Sub(posts[0].at), time.Second)
	require.Equal(t, 1, posts[1].events[0].AttemptNumber)
	require.Equal(t, WebhookStats{Sent: 1, Batches: 1, Delivered: 1, Retries: 1, Failed: 1}, h.sim.WebhookStats())
}

func TestWebhookBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{attempt: 0, want: time.Second},
		{attempt: 1, want: 2 * time.Second},
		{attempt: 4, want: 16 * time.Second},
		{attempt: 5, want: 30 * time.Second},
		{attempt: 200, want: 30 * time.Second},
	} {
		require.Equal(t, tc.want, backoff(time.Second, tc.attempt), "attempt %d", tc.attempt)
	}
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{header: "", want: -1},
		{header: "3", want: 3 * time.Second},
		{header: "0", want: 0},
		{header: "-2", want: -1},
		{header: "soon", want: -1},
		{header: "Mon, 02 Jan 2006 15:04:05 GMT", want: 0},
	} {
		require.Equal(t, tc.want, parseRetryAfter(tc.header), "Retry-After %q", tc.header)
	}
}

func TestWebhooksOffWithoutURL(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	h := setup(t, Options{Seed: 49, Contacts: 10})
	mutate(t, h.sim, MutationSpec{Object: Contacts, Updates: 3, Creates: 2, Archives: 2, Restores: 1})
	require.NoError(t, h.sim.FlushWebhooks(t.Context()))
	require.Nil(t, h.sim.hooks)
	require.Equal(t, WebhookStats{}, h.sim.WebhookStats())
	require.Empty(t, r.received(t))
	h.sim.Close()
	h.sim.Close()
}

func TestWebhookCloseAbandonsDelivery(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, repeat(answer{status: 500}, 10)...)
	h := setupHooks(t, Options{Seed: 50, Contacts: 5, WebhookRetryBase: time.Hour}, r)
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 2})
	require.Eventually(t, func() bool { return len(r.received(t)) == 1 }, 10*time.Second, 5*time.Millisecond)

	start := time.Now()
	h.sim.Close()
	require.Less(t, time.Since(start), 5*time.Second, "close cuts the hour-long backoff short")
	h.sim.Close()
	require.Equal(t, WebhookStats{Sent: 2, Batches: 1, Dropped: 2, Failed: 1}, h.sim.WebhookStats())

	// The sim still mutates after Close, but sends nothing more and has nothing to flush.
	mutate(t, h.sim, MutationSpec{Object: Contacts, Creates: 2})
	require.NoError(t, h.sim.FlushWebhooks(t.Context()))
	require.Len(t, r.received(t), 1)
}

func TestNewValidatesWebhookOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{name: "relative url", opts: Options{WebhookURL: "/hooks", WebhookSecret: "s"}, want: "absolute http or https URL"},
		{name: "other scheme", opts: Options{WebhookURL: "ftp://example.com/hooks", WebhookSecret: "s"}, want: "absolute http or https URL"},
		{name: "bad url", opts: Options{WebhookURL: "http://exa mple.com/", WebhookSecret: "s"}, want: "webhook url"},
		{name: "no secret", opts: Options{WebhookURL: "https://example.com/hooks"}, want: "webhook secret is required"},
		{name: "negative batch", opts: Options{WebhookBatch: -1}, want: "webhook batch must not be negative"},
		{name: "negative base", opts: Options{WebhookRetryBase: -time.Second}, want: "webhook retry base must not be negative"},
		{name: "negative portal", opts: Options{PortalID: -5}, want: "portal id must not be negative"},
		{name: "negative app", opts: Options{AppID: -5}, want: "app id must not be negative"},
	} {
		tc.opts.Tokens = []string{testToken}
		_, err := New(tc.opts)
		require.ErrorContains(t, err, tc.want, tc.name)
	}

	s, err := New(Options{Tokens: []string{testToken}, WebhookURL: "https://example.com/hooks", WebhookSecret: "s"})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.Equal(t, int64(62515), s.opts.PortalID)
	require.Equal(t, int64(54321), s.opts.AppID)
	require.Equal(t, 100, s.opts.WebhookBatch)
	require.Equal(t, 5, s.hooks.retries)
	require.Equal(t, time.Second, s.hooks.base)
	require.Equal(t, 5*time.Second, s.hooks.client.Timeout)

	s, err = New(Options{Tokens: []string{testToken}, WebhookURL: "https://example.com/hooks", WebhookSecret: "s", WebhookRetries: -1})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.Equal(t, 0, s.hooks.retries, "a negative WebhookRetries turns retries off")
}

package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/crmsync/crmsync/internal/metrics"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
	"github.com/crmsync/crmsync/internal/webhook"
)

// The store is the Deduper the worker uses.
var _ webhook.Deduper = (*store.Store)(nil)

const (
	appSecret   = "app-secret-0f9e"
	otherSecret = "other-app-secret-77aa"
	publicURL   = "https://sync.example.com"
	hookPath    = "/webhooks/hubspot"
	acmePortal  = 62515
	// globexPortal shares acme's app (secret) but syncs contacts only.
	globexPortal = 777
	// initechPortal belongs to another app.
	initechPortal = 888
	unknownPortal = 999
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// occurred is the occurredAt of the test events.
var occurred = time.UnixMilli(1772366000000).UTC()

// fakeRecorder keeps the batches it was given; fail makes it refuse them.
type fakeRecorder struct {
	mu      sync.Mutex
	batches []webhook.Batch
	fail    error
}

func (f *fakeRecorder) Record(_ context.Context, b webhook.Batch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, b)
	return nil
}

func (f *fakeRecorder) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeRecorder) recorded() []webhook.Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

type fixture struct {
	h    *webhook.Handler
	rec  *fakeRecorder
	logs *observer.ObservedLogs
}

func options(d webhook.Deduper, rec webhook.Recorder) webhook.Options {
	return webhook.Options{
		Portals: map[int64]webhook.Portal{
			acmePortal:    {Integration: "acme", Secret: appSecret, Objects: []string{"contacts", "companies", "deals"}},
			globexPortal:  {Integration: "globex", Secret: appSecret, Objects: []string{"contacts"}},
			initechPortal: {Integration: "initech", Secret: otherSecret, Objects: []string{"contacts"}},
		},
		PublicURL: publicURL,
		Now:       func() time.Time { return now },
		Dedup:     d,
		Recorder:  rec,
	}
}

func setup(t *testing.T, modify ...func(*webhook.Options)) fixture {
	t.Helper()
	s, err := store.Open(t.Context(), pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	rec := &fakeRecorder{}
	core, logs := observer.New(zap.DebugLevel)
	o := options(s, rec)
	o.Logger = zap.New(core)
	for _, m := range modify {
		m(&o)
	}
	h, err := webhook.New(o)
	require.NoError(t, err)
	return fixture{h: h, rec: rec, logs: logs}
}

// event is one delivery event as HubSpot writes it; extra is more JSON members.
func event(id, portal int64, subscriptionType string, object int64, extra string) string {
	s := fmt.Sprintf(`{"eventId":%d,"subscriptionId":12345,"portalId":%d,"appId":54321,"occurredAt":%d,`+
		`"subscriptionType":%q,"attemptNumber":0,"objectId":%d,"changeSource":"CRM"`,
		id, portal, occurred.UnixMilli(), subscriptionType, object)
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func delivery(events ...string) string { return "[" + strings.Join(events, ",") + "]" }

// request is a POST of body to target, signed as HubSpot would with secret at ts.
func request(target, body, secret string, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("X-HubSpot-Request-Timestamp", ms(ts))
	r.Header.Set("X-HubSpot-Signature-v3", signature(secret, http.MethodPost, publicURL+target, body, ms(ts)))
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// post sends body, correctly signed by acme's app a minute ago.
func (f fixture) post(body string) *httptest.ResponseRecorder {
	return serve(f.h, request(hookPath, body, appSecret, now.Add(-time.Minute)))
}

func summary(t *testing.T, w *httptest.ResponseRecorder) map[string]int {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var got map[string]int
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	return got
}

func change(id int64, deleted bool, eventID int64) webhook.Change {
	return webhook.Change{ID: strconv.FormatInt(id, 10), Deleted: deleted, OccurredAt: occurred, EventID: eventID}
}

// requireNoLeak checks that no log line carries any of the secret strings.
func requireNoLeak(t *testing.T, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, logs.All(), "the handler logs what it did")
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			require.NotContains(t, line, s)
		}
	}
}

func TestHandlerRecordsSignedDelivery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := delivery(
		event(1, acmePortal, "contact.creation", 123, ""),
		event(2, acmePortal, "contact.propertyChange", 124, `"propertyName":"email","propertyValue":"jane@private.example"`),
		event(3, acmePortal, "company.deletion", 9, ""),
		event(4, acmePortal, "deal.restore", 5, ""),
		event(5, globexPortal, "contact.creation", 77, ""),
	)

	w := f.post(body)

	require.Equal(t, map[string]int{"accepted": 5, "duplicates": 0, "refused": 0, "ignored": 0}, summary(t, w))
	require.Equal(t, []webhook.Batch{
		{Integration: "acme", Object: "contacts", Changes: []webhook.Change{change(123, false, 1), change(124, false, 2)}},
		{Integration: "acme", Object: "companies", Changes: []webhook.Change{change(9, true, 3)}},
		{Integration: "acme", Object: "deals", Changes: []webhook.Change{change(5, false, 4)}},
		{Integration: "globex", Object: "contacts", Changes: []webhook.Change{change(77, false, 5)}},
	}, f.rec.recorded())
	require.Equal(t, webhook.Stats{Received: 5, Accepted: 5}, f.h.Stats())
	requireNoLeak(t, f.logs, appSecret, "jane@private.example", "propertyValue")
}

func TestHandlerRejectsForgedDeliveries(t *testing.T) {
	t.Parallel()
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""))
	signedAt := now.Add(-time.Minute)
	tests := []struct {
		name    string
		request func() *http.Request
	}{
		{name: "wrong secret", request: func() *http.Request {
			return request(hookPath, body, "not-the-secret", signedAt)
		}},
		{name: "tampered body", request: func() *http.Request {
			r := request(hookPath, body, appSecret, signedAt)
			forged := strings.Replace(body, `"objectId":123`, `"objectId":666`, 1)
			r2 := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(forged))
			r2.Header = r.Header
			return r2
		}},
		{name: "tampered timestamp", request: func() *http.Request {
			r := request(hookPath, body, appSecret, signedAt)
			r.Header.Set("X-HubSpot-Request-Timestamp", ms(signedAt.Add(time.Second)))
			return r
		}},
		{name: "signed for another path", request: func() *http.Request {
			r := request("/elsewhere", body, appSecret, signedAt)
			r2 := httptest.NewRequest(http.MethodPost, hookPath, strings.NewReader(body))
			r2.Header = r.Header
			return r2
		}},
		{name: "missing signature", request: func() *http.Request {
			r := request(hookPath, body, appSecret, signedAt)
			r.Header.Del("X-HubSpot-Signature-v3")
			return r
		}},
		{name: "missing timestamp", request: func() *http.Request {
			r := request(hookPath, body, appSecret, signedAt)
			r.Header.Del("X-HubSpot-Request-Timestamp")
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			w := serve(f.h, tc.request())
			require.Equal(t, http.StatusUnauthorized, w.Code)
			require.Empty(t, f.rec.recorded())
			require.Equal(t, webhook.Stats{RejectedSignature: 1}, f.h.Stats())
			requireNoLeak(t, f.logs, appSecret, otherSecret)
		})
	}
}

func TestHandlerRejectsStaleAndFutureTimestamps(t *testing.T) {
	t.Parallel()
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""))
	tests := []struct {
		name      string
		request   *http.Request
		wantCode  int
		wantStats webhook.Stats
	}{
		{name: "six minutes old", request: request(hookPath, body, appSecret, now.Add(-6*time.Minute)),
			wantCode: http.StatusUnauthorized, wantStats: webhook.Stats{RejectedStale: 1}},
		{name: "six minutes in the future", request: request(hookPath, body, appSecret, now.Add(6*time.Minute)),
			wantCode: http.StatusUnauthorized, wantStats: webhook.Stats{RejectedStale: 1}},
		{name: "not a number", request: func() *http.Request {
			r := request(hookPath, body, appSecret, now)
			r.Header.Set("X-HubSpot-Request-Timestamp", "2026-03-01T12:00:00Z")
			return r
		}(), wantCode: http.StatusUnauthorized, wantStats: webhook.Stats{RejectedStale: 1}},
		{name: "four minutes old", request: request(hookPath, body, appSecret, now.Add(-4*time.Minute)),
			wantCode: http.StatusOK, wantStats: webhook.Stats{Received: 1, Accepted: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			w := serve(f.h, tc.request)
			require.Equal(t, tc.wantCode, w.Code)
			require.Equal(t, tc.wantStats, f.h.Stats())
			if tc.wantCode != http.StatusOK {
				require.Empty(t, f.rec.recorded())
			}
		})
	}
}

func TestHandlerReplayIsDuplicate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""), event(2, acmePortal, "contact.deletion", 124, ""))
	first := request(hookPath, body, appSecret, now.Add(-2*time.Minute))

	require.Equal(t, map[string]int{"accepted": 2, "duplicates": 0, "refused": 0, "ignored": 0}, summary(t, serve(f.h, first)))
	// HubSpot's retry is signed afresh; an attacker's replay carries the old signature.
	// Both are recorded once.
	retry := request(hookPath, body, appSecret, now.Add(-time.Minute))
	require.Equal(t, map[string]int{"accepted": 0, "duplicates": 2, "refused": 0, "ignored": 0}, summary(t, serve(f.h, retry)))
	replay := request(hookPath, body, appSecret, now.Add(-2*time.Minute))
	require.Equal(t, map[string]int{"accepted": 0, "duplicates": 2, "refused": 0, "ignored": 0}, summary(t, serve(f.h, replay)))

	require.Len(t, f.rec.recorded(), 1, "the Recorder is called for the first delivery only")
	require.Equal(t, webhook.Stats{Received: 6, Accepted: 2, Duplicates: 4}, f.h.Stats())

	// One new event alongside a replayed one: only the new one goes on.
	w := f.post(delivery(event(2, acmePortal, "contact.deletion", 124, ""), event(3, acmePortal, "contact.creation", 125, "")))
	require.Equal(t, map[string]int{"accepted": 1, "duplicates": 1, "refused": 0, "ignored": 0}, summary(t, w))
	got := f.rec.recorded()
	require.Len(t, got, 2)
	require.Equal(t, []webhook.Change{change(125, false, 3)}, got[1].Changes)
}

func TestHandlerCountsAnEventRepeatedInOneDeliveryOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	e := event(1, acmePortal, "contact.creation", 123, "")
	w := f.post(delivery(e, e))
	require.Equal(t, map[string]int{"accepted": 1, "duplicates": 1, "refused": 0, "ignored": 0}, summary(t, w))
	require.Equal(t, []webhook.Batch{{Integration: "acme", Object: "contacts", Changes: []webhook.Change{change(123, false, 1)}}},
		f.rec.recorded())
}

func TestHandlerRejectsOversizedBody(t *testing.T) {
	t.Parallel()
	f := setup(t, func(o *webhook.Options) { o.MaxBody = 512 })
	events := make([]string, 10)
	for i := range events {
		events[i] = event(int64(i+1), acmePortal, "contact.creation", int64(100+i), "")
	}
	body := delivery(events...)
	require.Greater(t, len(body), 512)

	w := f.post(body)

	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Empty(t, f.rec.recorded())
	require.Equal(t, webhook.Stats{RejectedTooLarge: 1}, f.h.Stats())

	w = f.post(delivery(events[0]))
	require.Equal(t, http.StatusOK, w.Code, "a body within the bound is read")
}

func TestHandlerRejectsMalformedEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{name: "not JSON", body: `[{"eventId":1,`},
		{name: "an object, not an array", body: event(1, acmePortal, "contact.creation", 123, "")},
		{name: "empty array", body: `[]`},
		{name: "no eventId", body: `[{"portalId":62515,"occurredAt":1,"subscriptionType":"contact.creation","objectId":1}]`},
		{name: "string ids", body: `[{"eventId":"1","portalId":62515,"occurredAt":1,"subscriptionType":"contact.creation","objectId":1}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			w := f.post(tc.body)
			require.Equal(t, http.StatusBadRequest, w.Code)
			require.Empty(t, f.rec.recorded())
			require.Equal(t, webhook.Stats{RejectedMalformed: 1}, f.h.Stats())
		})
	}
}

func TestHandlerRefusesUnknownPortal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.post(delivery(event(1, unknownPortal, "contact.creation", 123, ""), event(2, unknownPortal, "contact.creation", 124, "")))
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Empty(t, f.rec.recorded())
	require.Equal(t, webhook.Stats{Received: 2, RefusedUnknownPortal: 2}, f.h.Stats())
}

func TestHandlerRecordsKnownPortalsOfAMixedDelivery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.post(delivery(
		event(1, unknownPortal, "contact.creation", 123, ""),
		event(2, acmePortal, "contact.creation", 124, ""),
		// initech is configured, but with another app's secret: acme's app cannot vouch
		// for its events.
		event(3, initechPortal, "contact.creation", 125, ""),
	))
	require.Equal(t, map[string]int{"accepted": 1, "duplicates": 0, "refused": 2, "ignored": 0}, summary(t, w))
	require.Equal(t, []webhook.Batch{{Integration: "acme", Object: "contacts", Changes: []webhook.Change{change(124, false, 2)}}},
		f.rec.recorded())
	require.Equal(t, webhook.Stats{Received: 3, Accepted: 1, RefusedUnknownPortal: 2}, f.h.Stats())
}

func TestHandlerAcceptsEachAppsOwnSecret(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := delivery(event(1, initechPortal, "contact.creation", 5, ""))
	w := serve(f.h, request(hookPath, body, otherSecret, now))
	require.Equal(t, map[string]int{"accepted": 1, "duplicates": 0, "refused": 0, "ignored": 0}, summary(t, w))
	require.Equal(t, []webhook.Batch{{Integration: "initech", Object: "contacts", Changes: []webhook.Change{change(5, false, 1)}}},
		f.rec.recorded())
}

func TestHandlerRecorderFailureIsRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""), event(2, acmePortal, "deal.deletion", 8, ""))
	f.rec.setFail(errors.New("temporal unavailable"))

	w := f.post(body)

	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "60", w.Header().Get("Retry-After"))
	require.Empty(t, f.rec.recorded())
	require.Equal(t, webhook.Stats{Received: 2, RecordFailures: 1}, f.h.Stats())

	f.rec.setFail(nil)
	w = f.post(body)

	require.Equal(t, map[string]int{"accepted": 2, "duplicates": 0, "refused": 0, "ignored": 0}, summary(t, w),
		"nothing was marked seen by the failed attempt")
	require.Equal(t, []webhook.Batch{
		{Integration: "acme", Object: "contacts", Changes: []webhook.Change{change(123, false, 1)}},
		{Integration: "acme", Object: "deals", Changes: []webhook.Change{change(8, true, 2)}},
	}, f.rec.recorded())
}

func TestHandlerMapsMergesDeletionsAndGenericObjects(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.post(delivery(
		event(1, acmePortal, "contact.merge", 10, `"primaryObjectId":10,"mergedObjectIds":[11,10,12]`),
		event(2, acmePortal, "contact.privacyDeletion", 13, ""),
		event(3, acmePortal, "object.deletion", 14, `"objectTypeId":"0-3"`),
		event(4, acmePortal, "object.propertyChange", 15, `"objectTypeId":"0-2","propertyName":"name","propertyValue":"x"`),
		event(5, acmePortal, "contact.associationChange", 0,
			`"fromObjectId":10,"toObjectId":20,"associationRemoved":false,"associationType":"CONTACT_TO_COMPANY"`),
		event(6, acmePortal, "ticket.creation", 16, ""),
		event(7, acmePortal, "object.creation", 17, `"objectTypeId":"2-123456"`),
		event(8, acmePortal, "contact.someFutureThing", 18, ""),
		// globex syncs contacts only.
		event(9, globexPortal, "company.creation", 19, ""),
	))
	require.Equal(t, map[string]int{"accepted": 4, "duplicates": 0, "refused": 0, "ignored": 5}, summary(t, w))
	require.Equal(t, []webhook.Batch{
		{Integration: "acme", Object: "contacts", Changes: []webhook.Change{
			change(10, false, 1), change(11, true, 1), change(12, true, 1), change(13, true, 2),
		}},
		{Integration: "acme", Object: "companies", Changes: []webhook.Change{change(15, false, 4)}},
		{Integration: "acme", Object: "deals", Changes: []webhook.Change{change(14, true, 3)}},
	}, f.rec.recorded())
	require.Equal(t, webhook.Stats{Received: 9, Accepted: 4, Ignored: 5}, f.h.Stats())
}

func TestHandlerSignsTheDecodedPublicURI(t *testing.T) {
	t.Parallel()
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""))
	const target = hookPath + "?name=caf%C3%A9&tag=a%2Fb%20c"
	ts := ms(now)
	tests := []struct {
		name      string
		publicURL string
		header    http.Header
		host      string
		signedURI string
		wantCode  int
	}{
		{name: "public URL, decoded", publicURL: publicURL,
			signedURI: "https://sync.example.com/webhooks/hubspot?name=café&tag=a/b c", wantCode: http.StatusOK},
		{name: "public URL, still encoded", publicURL: publicURL,
			signedURI: "https://sync.example.com/webhooks/hubspot?name=caf%C3%A9&tag=a%2Fb%20c", wantCode: http.StatusUnauthorized},
		{name: "host, behind a TLS proxy", host: "hooks.internal:8443", header: http.Header{"X-Forwarded-Proto": {"https"}},
			signedURI: "https://hooks.internal:8443/webhooks/hubspot?name=café&tag=a/b c", wantCode: http.StatusOK},
		{name: "host, plain http", host: "hooks.internal:8080",
			signedURI: "http://hooks.internal:8080/webhooks/hubspot?name=café&tag=a/b c", wantCode: http.StatusOK},
		{name: "host, https claimed without TLS or proxy", host: "hooks.internal:8080",
			signedURI: "https://hooks.internal:8080/webhooks/hubspot?name=café&tag=a/b c", wantCode: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(o *webhook.Options) { o.PublicURL = tc.publicURL })
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
			if tc.host != "" {
				r.Host = tc.host
			}
			for k, v := range tc.header {
				r.Header[k] = v
			}
			r.Header.Set("X-HubSpot-Request-Timestamp", ts)
			r.Header.Set("X-HubSpot-Signature-v3", signature(appSecret, http.MethodPost, tc.signedURI, body, ts))
			w := serve(f.h, r)
			require.Equal(t, tc.wantCode, w.Code, w.Body.String())
		})
	}
}

func TestHandlerAllowsOnlyPost(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := serve(f.h, httptest.NewRequest(http.MethodGet, hookPath, nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, http.MethodPost, w.Header().Get("Allow"))
	require.Equal(t, webhook.Stats{}, f.h.Stats())
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	rec := &fakeRecorder{}
	var dedup webhook.Deduper = (*store.Store)(nil)
	tests := []struct {
		name    string
		modify  func(*webhook.Options)
		wantErr string
	}{
		{name: "valid", modify: func(*webhook.Options) {}},
		{name: "no portals", modify: func(o *webhook.Options) { o.Portals = nil }, wantErr: "no portals"},
		{name: "no recorder", modify: func(o *webhook.Options) { o.Recorder = nil }, wantErr: "Recorder are required"},
		{name: "no dedup", modify: func(o *webhook.Options) { o.Dedup = nil }, wantErr: "Dedup and Recorder"},
		{name: "empty secret", modify: func(o *webhook.Options) {
			o.Portals[5] = webhook.Portal{Integration: "x", Objects: []string{"contacts"}}
		}, wantErr: "portal 5 has no secret"},
		{name: "unknown object", modify: func(o *webhook.Options) {
			o.Portals[5] = webhook.Portal{Integration: "x", Secret: "s", Objects: []string{"tickets"}}
		}, wantErr: `unknown object type "tickets"`},
		{name: "integration on two portals", modify: func(o *webhook.Options) {
			o.Portals[5] = webhook.Portal{Integration: "acme", Secret: "s", Objects: []string{"contacts"}}
		}, wantErr: `integration "acme" is used by portals 5 and 62515`},
		{name: "public URL without scheme", modify: func(o *webhook.Options) { o.PublicURL = "sync.example.com" },
			wantErr: "not an http(s) URL"},
		{name: "negative max body", modify: func(o *webhook.Options) { o.MaxBody = -1 }, wantErr: "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := options(dedup, rec)
			tc.modify(&o)
			h, err := webhook.New(o)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, h)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), appSecret)
		})
	}
}

func TestParseEvents(t *testing.T) {
	t.Parallel()
	events, err := webhook.ParseEvents([]byte(officialBody))
	require.NoError(t, err)
	require.Equal(t, []webhook.Event{{
		EventID: 1, PortalID: 62515, SubscriptionType: "contact.creation", ObjectID: 123,
		OccurredAt: time.Date(2019, 7, 26, 4, 0, 0, 0, time.UTC), ChangeSource: "CRM",
	}}, events)

	events, err = webhook.ParseEvents([]byte(delivery(
		event(2, acmePortal, "contact.propertyChange", 124, `"propertyName":"email","propertyValue":"jane@private.example"`),
		event(3, acmePortal, "contact.merge", 10, `"primaryObjectId":10,"mergedObjectIds":[11,12]`),
		event(4, acmePortal, "contact.associationChange", 0, `"fromObjectId":1,"toObjectId":2`),
	)))
	require.NoError(t, err)
	require.Len(t, events, 3)
	require.Equal(t, "email", events[0].PropertyName)
	kept, err := json.Marshal(events)
	require.NoError(t, err)
	require.NotContains(t, string(kept), "jane@private.example", "property values are never kept")
	require.Equal(t, int64(10), events[1].PrimaryObjectID)
	require.Equal(t, []int64{11, 12}, events[1].MergedObjectIDs)
	require.Equal(t, webhook.Association, events[2].Change(), "association events need no objectId")
}

func TestParseEventsRejects(t *testing.T) {
	t.Parallel()
	valid := `"eventId":1,"portalId":2,"occurredAt":3,"subscriptionType":"contact.creation","objectId":4`
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "empty body", body: ``, wantErr: "not a JSON array"},
		{name: "null", body: `null`, wantErr: "not a JSON array"},
		{name: "object", body: `{` + valid + `}`, wantErr: "not a JSON array"},
		{name: "empty array", body: `[]`, wantErr: "no events"},
		{name: "trailing data", body: `[{` + valid + `}] x`, wantErr: "decoding webhook events"},
		{name: "fractional id", body: `[{` + valid + `,"eventId":1.5}]`, wantErr: "decoding webhook events"},
		{name: "zero eventId", body: `[{` + valid + `,"eventId":0}]`, wantErr: "event 0: eventId must be positive"},
		{name: "negative portalId", body: `[{` + valid + `,"portalId":-2}]`, wantErr: "portalId must be positive"},
		{name: "no subscriptionType", body: `[{` + valid + `,"subscriptionType":""}]`, wantErr: "subscriptionType is required"},
		{name: "no occurredAt", body: `[{` + valid + `,"occurredAt":0}]`, wantErr: "occurredAt must be positive"},
		{name: "no objectId", body: `[{` + valid + `},{` + valid + `,"objectId":0}]`, wantErr: "event 1: objectId must be positive"},
		{name: "bad merged id", body: `[{` + valid + `,"subscriptionType":"contact.merge","mergedObjectIds":[5,0]}]`,
			wantErr: "mergedObjectIds must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, err := webhook.ParseEvents([]byte(tc.body))
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, events)
		})
	}
}

func TestEventObjectAndChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subscriptionType string
		objectTypeID     string
		wantObject       string
		wantOK           bool
		wantKind         webhook.ChangeKind
	}{
		{"contact.creation", "", "contacts", true, webhook.Upsert},
		{"company.propertyChange", "", "companies", true, webhook.Upsert},
		{"deal.restore", "", "deals", true, webhook.Upsert},
		{"contact.merge", "", "contacts", true, webhook.Upsert},
		{"company.deletion", "", "companies", true, webhook.Delete},
		{"deal.privacyDeletion", "", "deals", true, webhook.Delete},
		{"contact.associationChange", "", "contacts", true, webhook.Association},
		{"object.creation", "0-1", "contacts", true, webhook.Upsert},
		{"object.propertyChange", "0-2", "companies", true, webhook.Upsert},
		{"object.deletion", "0-3", "deals", true, webhook.Delete},
		{"object.creation", "0-5", "", false, webhook.Upsert},
		{"ticket.creation", "", "", false, webhook.Upsert},
		{"contact.somethingNew", "", "contacts", true, webhook.Unknown},
		{"nonsense", "", "", false, webhook.Unknown},
	}
	for _, tc := range tests {
		e := webhook.Event{SubscriptionType: tc.subscriptionType, ObjectTypeID: tc.objectTypeID}
		obj, ok := e.Object()
		require.Equal(t, tc.wantObject, obj, tc.subscriptionType)
		require.Equal(t, tc.wantOK, ok, tc.subscriptionType)
		require.Equal(t, tc.wantKind, e.Change(), tc.subscriptionType)
	}
}

func TestEventChanges(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	c := func(id string, deleted bool) webhook.Change {
		return webhook.Change{ID: id, Deleted: deleted, OccurredAt: at, EventID: 7}
	}
	tests := []struct {
		name  string
		event webhook.Event
		want  []webhook.Change
	}{
		{name: "creation", event: webhook.Event{SubscriptionType: "contact.creation", ObjectID: 5},
			want: []webhook.Change{c("5", false)}},
		{name: "deletion", event: webhook.Event{SubscriptionType: "deal.deletion", ObjectID: 6},
			want: []webhook.Change{c("6", true)}},
		{name: "merge keeps the primary and deletes the others",
			event: webhook.Event{SubscriptionType: "contact.merge", ObjectID: 9, PrimaryObjectID: 8, MergedObjectIDs: []int64{8, 3, 4}},
			want:  []webhook.Change{c("8", false), c("3", true), c("4", true)}},
		{name: "merge without a primary id upserts the object",
			event: webhook.Event{SubscriptionType: "company.merge", ObjectID: 9, MergedObjectIDs: []int64{2}},
			want:  []webhook.Change{c("9", false), c("2", true)}},
		{name: "association changes nothing", event: webhook.Event{SubscriptionType: "contact.associationChange"}},
		{name: "unknown changes nothing", event: webhook.Event{SubscriptionType: "contact.somethingNew", ObjectID: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := tc.event
			e.OccurredAt, e.EventID = at, 7
			require.Equal(t, tc.want, e.Changes())
		})
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(officialBody))
	f.Add([]byte(delivery(
		event(3, acmePortal, "contact.merge", 10, `"primaryObjectId":10,"mergedObjectIds":[11,12]`),
		event(4, acmePortal, "contact.associationChange", 0, `"fromObjectId":1,"toObjectId":2`),
		event(5, acmePortal, "object.deletion", 14, `"objectTypeId":"0-3"`),
	)))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"eventId":1}`))
	f.Add([]byte(`[{"eventId":1,"portalId":1,"occurredAt":1,"subscriptionType":"x.y","objectId":-1}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := webhook.ParseEvents(body)
		if err != nil {
			require.Nil(t, events)
			return
		}
		require.NotEmpty(t, events)
		for _, e := range events {
			require.Positive(t, e.EventID)
			require.Positive(t, e.PortalID)
			require.NotEmpty(t, e.SubscriptionType)
			require.True(t, e.OccurredAt.After(time.Unix(0, 0)))
			for _, c := range e.Changes() {
				id, err := strconv.ParseInt(c.ID, 10, 64)
				require.NoError(t, err)
				require.Positive(t, id, "every change names a record")
				require.Equal(t, e.EventID, c.EventID)
			}
		}
	})
}

// TestHandlerMetrics: the Prometheus counters agree with Stats for received, deduplicated
// and rejected deliveries.
func TestHandlerMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	f := setup(t, func(o *webhook.Options) { o.Metrics = m })
	body := delivery(event(1, acmePortal, "contact.creation", 123, ""), event(2, acmePortal, "contact.deletion", 124, ""))
	require.Equal(t, http.StatusOK, f.post(body).Code)
	require.Equal(t, http.StatusOK, f.post(body).Code, "a redelivery")
	require.Equal(t, http.StatusUnauthorized, serve(f.h, request(hookPath, body, "forged", now)).Code)
	require.Equal(t, http.StatusUnauthorized, serve(f.h, request(hookPath, body, appSecret, now.Add(-time.Hour))).Code)
	require.Equal(t, http.StatusBadRequest, f.post("[{]").Code)
	require.Equal(t, http.StatusForbidden, f.post(delivery(event(3, unknownPortal, "contact.creation", 1, ""))).Code)

	got := map[string]float64{}
	mfs, err := m.Gatherer().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range s.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = s.GetCounter().GetValue()
		}
	}
	st := f.h.Stats()
	require.Equal(t, float64(st.Received), got["crmsync_webhook_events_received_total"])
	require.Equal(t, 5.0, got["crmsync_webhook_events_received_total"])
	require.Equal(t, float64(st.Duplicates), got["crmsync_webhook_events_deduplicated_total"])
	require.Equal(t, 2.0, got["crmsync_webhook_events_deduplicated_total"])
	require.Equal(t, 1.0, got["crmsync_webhook_requests_rejected_total/bad_signature"])
	require.Equal(t, 1.0, got["crmsync_webhook_requests_rejected_total/stale"])
	require.Equal(t, 1.0, got["crmsync_webhook_requests_rejected_total/malformed"])
	require.Equal(t, 1.0, got["crmsync_webhook_requests_rejected_total/unknown_portal"])
}

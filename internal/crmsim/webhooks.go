package crmsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Defaults applied by New to the webhook options when they are zero.
const (
	DefaultPortalID         = 62515
	DefaultAppID            = 54321
	DefaultWebhookBatch     = 100
	DefaultWebhookRetries   = 5
	DefaultWebhookRetryBase = time.Second
	DefaultWebhookTimeout   = 5 * time.Second
	// MaxWebhookRetryDelay caps the exponential backoff, so a long outage of the receiver
	// is noticed within half a minute of its end.
	MaxWebhookRetryDelay = 30 * time.Second
)

// Headers of HubSpot's v3 webhook signature.
const (
	webhookSignatureHeader = "X-HubSpot-Signature-v3"
	webhookTimestampHeader = "X-HubSpot-Request-Timestamp"
)

// WebhookStats counts webhook deliveries since New. Every event that was sent ends up in
// Delivered or Dropped once FlushWebhooks returns; events still queued when Close is
// called were never sent and are in neither.
type WebhookStats struct {
	// Sent is how many events were posted at least once.
	Sent int64 `json:"sent"`
	// Batches is how many batches were posted, each counted once however often retried.
	Batches int64 `json:"batches"`
	// Delivered is how many events a receiver acknowledged with a 2xx.
	Delivered int64 `json:"delivered"`
	// Retries is how many POSTs repeated a batch that had failed.
	Retries int64 `json:"retries"`
	// Dropped is how many events were given up on: refused with 400, 401, 403, 404 or
	// 405, still failing after the last retry, or in flight when the Sim was closed.
	Dropped int64 `json:"dropped"`
	// Failed is how many POSTs got no 2xx answer, network errors included.
	Failed int64 `json:"failed"`
}

// hookKind is what happened to a record, in the order subscription ids are numbered.
type hookKind int

const (
	hookCreation hookKind = iota
	hookPropertyChange
	hookDeletion
	hookRestore
	numHookKinds
)

func (k hookKind) suffix() string {
	return [numHookKinds]string{"creation", "propertyChange", "deletion", "restore"}[k]
}

// subscriptionID is stable per subscription type, as a HubSpot app's subscriptions are,
// so receivers can key on it as they would in production.
func subscriptionID(o objectKind, k hookKind) int64 {
	return 1_000_000 + int64(o)*100 + int64(k)
}

// webhookEvent is one element of a HubSpot webhook payload (shared CRM API reference,
// section 1.7), in HubSpot's field order.
type webhookEvent struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	OccurredAt       int64  `json:"occurredAt"`
	SubscriptionType string `json:"subscriptionType"`
	AttemptNumber    int    `json:"attemptNumber"`
	ObjectID         int64  `json:"objectId"`
	PropertyName     string `json:"propertyName,omitempty"`
	// PropertyValue is a pointer so a property cleared to "" is still sent, as HubSpot
	// sends every propertyChange's new value.
	PropertyValue *string `json:"propertyValue,omitempty"`
	ChangeSource  string  `json:"changeSource"`
	ChangeFlag    string  `json:"changeFlag,omitempty"`
	AppID         int64   `json:"appId"`
}

// emit records one event for e's change at the given time. Event ids are assigned only
// when the call's events are queued, so they increase in the order changes were made.
func (m *mutation) emit(o *objectStore, e *entry, k hookKind, at time.Time) {
	if m.s.hooks == nil {
		return
	}
	m.events = append(m.events, m.s.hooks.event(o, e, k, at))
}

// emitPropertyChanges records one propertyChange per property that differs between prev
// and next. The modified-date property is left out: it mirrors updatedAt, changes with
// every edit, and HubSpot apps subscribe to business properties, not to it.
func (m *mutation) emitPropertyChanges(o *objectStore, e *entry, prev, next *state) {
	h := m.s.hooks
	if h == nil {
		return
	}
	mod := o.typ.index[o.typ.modProp]
	next.changed(prev, func(i int, v string) {
		if i == mod {
			return
		}
		ev := h.event(o, e, hookPropertyChange, next.updatedAt)
		ev.PropertyName = o.typ.props[i].Name
		ev.PropertyValue = &v
		m.events = append(m.events, ev)
	})
}

// webhookSender delivers a Sim's events in order from one goroutine, one batch at a time,
// so a receiver sees them in the order the changes were made, as HubSpot mostly does.
type webhookSender struct {
	url      string
	secret   string
	portalID int64
	appID    int64
	batch    int
	retries  int
	base     time.Duration
	client   *http.Client
	now      func() time.Time

	wake   chan struct{} // buffered: one pending wake-up is enough, enqueue never blocks
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	queue    []webhookEvent
	lastID   int64
	inFlight int
	idle     chan struct{} // open while there is work, closed and nil when there is none
	closed   bool
	stats    WebhookStats
}

// newWebhookSender starts the sender for opts, or returns nil when webhooks are off.
func newWebhookSender(opts Options) *webhookSender {
	if opts.WebhookURL == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhookSender{
		url:      opts.WebhookURL,
		secret:   opts.WebhookSecret,
		portalID: opts.PortalID,
		appID:    opts.AppID,
		batch:    opts.WebhookBatch,
		retries:  max(opts.WebhookRetries, 0),
		base:     opts.WebhookRetryBase,
		client:   opts.WebhookClient,
		now:      opts.Now,
		wake:     make(chan struct{}, 1),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	go w.run(ctx)
	return w
}

func (w *webhookSender) event(o *objectStore, e *entry, k hookKind, at time.Time) webhookEvent {
	ev := webhookEvent{
		SubscriptionID:   subscriptionID(o.typ.kind, k),
		PortalID:         w.portalID,
		OccurredAt:       at.UnixMilli(),
		SubscriptionType: o.typ.singular + "." + k.suffix(),
		ObjectID:         e.id,
		ChangeSource:     "CRM",
		AppID:            w.appID,
	}
	if k == hookCreation {
		ev.ChangeFlag = "NEW"
	}
	return ev
}

// enqueue numbers events and queues them for the sender without waiting for it. It is a
// no-op on a nil sender (webhooks off) and after close.
func (w *webhookSender) enqueue(events []webhookEvent) {
	if w == nil || len(events) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	for i := range events {
		w.lastID++
		events[i].EventID = w.lastID
	}
	w.queue = append(w.queue, events...)
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *webhookSender) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		batch := w.take()
		if batch == nil {
			select {
			case <-ctx.Done():
			case <-w.wake:
			}
			continue
		}
		w.deliver(ctx, batch)
		w.finish()
	}
}

// take removes up to one batch from the head of the queue and marks it in flight.
func (w *webhookSender) take() []webhookEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), w.batch)
	if n == 0 {
		return nil
	}
	batch := make([]webhookEvent, n)
	copy(batch, w.queue)
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil // let a large burst's backing array go
	}
	w.inFlight = n
	w.stats.Sent += int64(n)
	w.stats.Batches++
	return batch
}

func (w *webhookSender) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight = 0
	if len(w.queue) == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

func (w *webhookSender) count(f func(*WebhookStats)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.stats)
}

// deliver posts batch until a receiver takes it, refuses it, or the retries run out.
func (w *webhookSender) deliver(ctx context.Context, batch []webhookEvent) {
	n := int64(len(batch))
	drop := func(s *WebhookStats) { s.Dropped += n }
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			w.count(func(s *WebhookStats) { s.Retries++ })
		}
		status, wait, err := w.post(ctx, batch, attempt)
		if err == nil && status >= 200 && status < 300 {
			w.count(func(s *WebhookStats) { s.Delivered += n })
			return
		}
		w.count(func(s *WebhookStats) { s.Failed++ })
		if ctx.Err() != nil || (err == nil && !retryableStatus(status)) || attempt >= w.retries {
			w.count(drop)
			return
		}
		if wait < 0 {
			wait = backoff(w.base, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			w.count(drop)
			return
		case <-t.C:
		}
	}
}

// post sends one attempt of batch. It returns the status and, for a 429 that named one,
// the receiver's Retry-After (-1 otherwise). The body is rebuilt per attempt because
// attemptNumber is part of it, and so is the signature.
func (w *webhookSender) post(ctx context.Context, batch []webhookEvent, attempt int) (int, time.Duration, error) {
	for i := range batch {
		batch[i].AttemptNumber = attempt
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return 0, -1, fmt.Errorf("encoding webhook batch: %w", err)
	}
	// The sim clock, like every other timestamp the sim hands out, so a test can share one
	// fake clock between the sim and a receiver that checks the timestamp's age.
	ts := strconv.FormatInt(w.now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, -1, fmt.Errorf("building webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhookTimestampHeader, ts)
	req.Header.Set(webhookSignatureHeader, signWebhook(w.secret, http.MethodPost, w.url, body, ts))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, -1, fmt.Errorf("posting webhook batch: %w", err)
	}
	defer resp.Body.Close()
	// Drained so the connection is reused; the receiver's answer carries nothing we use.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	wait := time.Duration(-1)
	if resp.StatusCode == http.StatusTooManyRequests {
		wait = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode, wait, nil
}

// signWebhook computes HubSpot's v3 signature: base64(HMAC-SHA256(secret,
// method + uri + body + timestamp)).
func signWebhook(secret, method, uri string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method))
	mac.Write([]byte(uri))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// retryableStatus reports whether HubSpot would retry a delivery answered with status:
// it gives up at once on the client errors that a retry cannot fix.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusMethodNotAllowed:
		return false
	}
	return true
}

// backoff is the delay after failed attempt number attempt (0 for the first POST).
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for range attempt {
		if d >= MaxWebhookRetryDelay/2 {
			return MaxWebhookRetryDelay
		}
		d *= 2
	}
	return min(d, MaxWebhookRetryDelay)
}

// parseRetryAfter reads delay-seconds or an HTTP date; -1 when the header is absent or
// unreadable, so the caller falls back to its own backoff.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// close stops the sender and waits for it; an attempt in flight is abandoned.
func (w *webhookSender) close() {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.cancel()
		<-w.done
		w.mu.Lock()
		defer w.mu.Unlock()
		w.inFlight = 0
		if w.idle != nil {
			close(w.idle)
			w.idle = nil
		}
	})
}

// WebhookStats returns the webhook counters; all zero when Options.WebhookURL is empty.
func (s *Sim) WebhookStats() WebhookStats {
	w := s.hooks
	if w == nil {
		return WebhookStats{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// FlushWebhooks waits until every queued webhook has been delivered or dropped and no POST
// is in flight, so tests can assert on what a receiver got without sleeping. Events queued
// by Mutate calls that run meanwhile are waited for too. It fails when ctx ends first, or
// when the Sim was closed with events never sent.
func (s *Sim) FlushWebhooks(ctx context.Context) error {
	w := s.hooks
	if w == nil {
		return nil
	}
	for {
		w.mu.Lock()
		idle, pending, closed := w.idle, len(w.queue)+w.inFlight, w.closed
		w.mu.Unlock()
		switch {
		case pending == 0:
			return nil
		case closed:
			return fmt.Errorf("flushing webhooks: sim closed with %d events unsent", pending)
		case idle == nil:
			// Cannot happen while work is pending; guards against waiting forever.
			return errors.New("flushing webhooks: sender lost track of its queue")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flushing webhooks with %d events pending: %w", pending, ctx.Err())
		case <-idle:
		}
	}
}

// Close stops the webhook sender, abandoning a POST or retry in progress; the Sim keeps
// serving and mutating, but sends no more webhooks. It is safe to call more than once.
func (s *Sim) Close() {
	if s.hooks != nil {
		s.hooks.close()
	}
}

func (o *Options) validateWebhooks() []error {
	if o.WebhookURL == "" {
		return nil
	}
	var errs []error
	u, err := url.Parse(o.WebhookURL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("webhook url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		errs = append(errs, fmt.Errorf("webhook url %q must be an absolute http or https URL", o.WebhookURL))
	}
	if o.WebhookSecret == "" {
		errs = append(errs, errors.New("webhook secret is required with a webhook url"))
	}
	return errs
}

func (o *Options) applyWebhookDefaults() {
	if o.PortalID == 0 {
		o.PortalID = DefaultPortalID
	}
	if o.AppID == 0 {
		o.AppID = DefaultAppID
	}
	if o.WebhookBatch == 0 {
		o.WebhookBatch = DefaultWebhookBatch
	}
	if o.WebhookRetries == 0 {
		o.WebhookRetries = DefaultWebhookRetries
	}
	if o.WebhookRetryBase == 0 {
		o.WebhookRetryBase = DefaultWebhookRetryBase
	}
	if o.WebhookClient == nil {
		o.WebhookClient = &http.Client{Timeout: DefaultWebhookTimeout}
	}
}

// Package webhook receives HubSpot webhook (v3) deliveries: it checks each request's
// signature and age, keeps only the identifiers of the events (never record data), drops
// events already seen, and hands each integration's changes on, one batch per object, to a
// Recorder. It never calls a CRM: the changed records are read later, under the quota.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/metrics"
)

// Event is one webhook event, reduced to its identifiers and metadata. The property value
// of a propertyChange event is record data and is never decoded.
type Event struct {
	EventID          int64
	PortalID         int64
	SubscriptionType string
	ObjectID         int64
	// ObjectTypeID names the object of the generic object.* types ("0-1" contacts,
	// "0-2" companies, "0-3" deals); empty for the contact.*, company.*, deal.* types.
	ObjectTypeID    string
	OccurredAt      time.Time
	PropertyName    string
	ChangeSource    string
	PrimaryObjectID int64
	MergedObjectIDs []int64
}

// ChangeKind is what an event means for the record it names.
type ChangeKind int

// The kinds of change. Unknown is the zero value, for subscription types this package does
// not know; such events are ignored rather than refused, so that HubSpot adding a type
// does not make us reject (and HubSpot drop) deliveries that also carry known events.
const (
	Unknown ChangeKind = iota
	// Upsert: the record was created, changed, restored, or is the survivor of a merge.
	Upsert
	// Delete: the record was deleted, or privacy-deleted.
	Delete
	// Association: an association of the record changed. Not synced yet; counted as ignored.
	Association
)

// String names the kind for logs.
func (k ChangeKind) String() string {
	switch k {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	case Association:
		return "association"
	default:
		return "unknown"
	}
}

// action is the part of the subscription type after the object: "creation", "merge", ...
func (e Event) action() string {
	_, action, _ := strings.Cut(e.SubscriptionType, ".")
	return action
}

// Object returns the object type the event is about, and false for objects crmsync does
// not sync (tickets, custom objects) or subscription types it does not know.
func (e Event) Object() (string, bool) {
	prefix, _, _ := strings.Cut(e.SubscriptionType, ".")
	switch prefix {
	case "contact":
		return string(crm.Contacts), true
	case "company":
		return string(crm.Companies), true
	case "deal":
		return string(crm.Deals), true
	case "object":
		switch e.ObjectTypeID {
		case "0-1":
			return string(crm.Contacts), true
		case "0-2":
			return string(crm.Companies), true
		case "0-3":
			return string(crm.Deals), true
		}
	}
	return "", false
}

// Change classifies the event. A merge is an Upsert of its primary object; Changes also
// lists the deletion of the records merged into it.
func (e Event) Change() ChangeKind {
	switch e.action() {
	case "creation", "propertyChange", "restore", "merge":
		return Upsert
	case "deletion", "privacyDeletion":
		return Delete
	case "associationChange":
		return Association
	default:
		return Unknown
	}
}

// Changes lists the record changes the event implies: one for most events; for a merge,
// the upsert of the primary object and the deletion of every other merged object; none for
// association changes and unknown types.
func (e Event) Changes() []Change {
	change := func(id int64, deleted bool) Change {
		return Change{ID: strconv.FormatInt(id, 10), Deleted: deleted, OccurredAt: e.OccurredAt, EventID: e.EventID}
	}
	switch e.Change() {
	case Upsert:
		if e.action() != "merge" {
			return []Change{change(e.ObjectID, false)}
		}
		primary := e.PrimaryObjectID
		if primary == 0 {
			primary = e.ObjectID
		}
		out := []Change{change(primary, false)}
		for _, id := range e.MergedObjectIDs {
			if id != primary {
				out = append(out, change(id, true))
			}
		}
		return out
	case Delete:
		return []Change{change(e.ObjectID, true)}
	default:
		return nil
	}
}

// rawEvent is the wire form: only the fields kept. propertyValue is deliberately absent.
type rawEvent struct {
	EventID          int64   `json:"eventId"`
	PortalID         int64   `json:"portalId"`
	SubscriptionType string  `json:"subscriptionType"`
	ObjectID         int64   `json:"objectId"`
	ObjectTypeID     string  `json:"objectTypeId"`
	OccurredAt       int64   `json:"occurredAt"`
	PropertyName     string  `json:"propertyName"`
	ChangeSource     string  `json:"changeSource"`
	PrimaryObjectID  int64   `json:"primaryObjectId"`
	MergedObjectIDs  []int64 `json:"mergedObjectIds"`
}

// ParseEvents decodes a delivery: a non-empty JSON array of events, each with a positive
// eventId, portalId and occurredAt (epoch ms) and a subscriptionType. Events that name a
// record (every kind but Association and Unknown) need a positive objectId as well:
// associationChange events carry fromObjectId/toObjectId instead, and a type we do not
// know must not make the whole delivery fail. Events of unknown types are returned, for
// the caller to skip and count. Error messages never quote the body.
func ParseEvents(body []byte) ([]Event, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("webhook body is not a JSON array")
	}
	var raw []rawEvent
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding webhook events: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("webhook body has no events")
	}
	events := make([]Event, 0, len(raw))
	for i, r := range raw {
		e := Event{
			EventID:          r.EventID,
			PortalID:         r.PortalID,
			SubscriptionType: r.SubscriptionType,
			ObjectID:         r.ObjectID,
			ObjectTypeID:     r.ObjectTypeID,
			OccurredAt:       time.UnixMilli(r.OccurredAt).UTC(),
			PropertyName:     r.PropertyName,
			ChangeSource:     r.ChangeSource,
			PrimaryObjectID:  r.PrimaryObjectID,
			MergedObjectIDs:  r.MergedObjectIDs,
		}
		if err := validate(r, e.Change()); err != nil {
			return nil, fmt.Errorf("webhook event %d: %w", i, err)
		}
		events = append(events, e)
	}
	return events, nil
}

func validate(r rawEvent, kind ChangeKind) error {
	switch {
	case r.EventID <= 0:
		return errors.New("eventId must be positive")
	case r.PortalID <= 0:
		return errors.New("portalId must be positive")
	case r.SubscriptionType == "":
		return errors.New("subscriptionType is required")
	case r.OccurredAt <= 0:
		return errors.New("occurredAt must be positive epoch milliseconds")
	case (kind == Upsert || kind == Delete) && r.ObjectID <= 0:
		return errors.New("objectId must be positive")
	case r.PrimaryObjectID < 0:
		return errors.New("primaryObjectId must be positive")
	}
	for _, id := range r.MergedObjectIDs {
		if id <= 0 {
			return errors.New("mergedObjectIds must be positive")
		}
	}
	return nil
}

// Change is one record an event reports changed, as sent on to the sync: its id (decimal)
// and whether it was deleted, never its data.
type Change struct {
	ID         string    `json:"id"`
	Deleted    bool      `json:"deleted,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// EventID is HubSpot's id of the event, for tracing a delivery.
	EventID int64 `json:"event_id,omitempty"`
}

// Batch is the fresh changes of one delivery for one integration and object.
type Batch struct {
	Integration string   `json:"integration"`
	Object      string   `json:"object"`
	Changes     []Change `json:"changes"`
}

// Recorder takes the changes on (the worker's signals a Temporal workflow). An error makes
// the delivery fail with 503, so HubSpot sends it again.
type Recorder interface {
	Record(ctx context.Context, b Batch) error
}

// Deduper remembers the events already recorded. FreshWebhookEvents marks eventIDs seen
// for the integration and calls record with those never seen before, in one transaction:
// if record fails, none is marked, so HubSpot's retry of the delivery is recorded. While
// one call holds an id, a concurrent call for the same id waits for its outcome.
// *store.Store implements it.
type Deduper interface {
	FreshWebhookEvents(ctx context.Context, integration string, eventIDs []int64, record func(fresh map[int64]bool) error) error
}

// Portal is one HubSpot account (portal) whose webhooks feed an integration.
type Portal struct {
	// Integration is the crmsync integration the portal's events belong to.
	Integration string
	// Secret is the client secret of the app that sends the portal's webhooks.
	Secret string
	// Objects are the object types synced for the integration; events of others are
	// ignored.
	Objects []string
}

// DefaultMaxBody bounds a delivery's body when Options.MaxBody is zero. HubSpot batches
// at most a few hundred small events per request.
const DefaultMaxBody = 1 << 20

// RetryAfter is what a 503 asks HubSpot to wait before sending the delivery again.
const RetryAfter = 60 * time.Second

// recordTimeout bounds recording one delivery. The recording is detached from the
// request's context: HubSpot hangs up after a few seconds, and a recording cut short
// then would be rolled back and recorded again by the retry, when finishing it makes the
// retry a cheap duplicate.
const recordTimeout = 30 * time.Second

// Options configures a Handler.
type Options struct {
	// Portals maps HubSpot portal ids to their integration. Required.
	Portals map[int64]Portal
	// PublicURL is the scheme and host HubSpot posts to ("https://sync.example.com"), for
	// the URI the signature covers when a proxy in front changes them. Empty: the
	// request's own Host, https when it came over TLS or X-Forwarded-Proto says so.
	PublicURL string
	// MaxBody bounds a request body; 0 means DefaultMaxBody.
	MaxBody int64
	// Now is the clock the timestamps are checked against; nil means time.Now.
	Now func() time.Time
	// Dedup drops events already recorded. Required.
	Dedup Deduper
	// Recorder takes each batch of fresh changes. Required.
	Recorder Recorder
	// Logger; nil means no logs.
	Logger *zap.Logger
	// Metrics counts events received and deduplicated and deliveries rejected; nil
	// counts nothing (Stats still does).
	Metrics *metrics.Metrics
}

// Stats counts what the handler did since it was built. Received, Accepted, Duplicates,
// RefusedUnknownPortal and Ignored count events of deliveries that were authentic and well
// formed; the Rejected counts and RecordFailures count requests.
type Stats struct {
	// Received counts events of authentic, well-formed deliveries.
	Received int64
	// Accepted counts events recorded.
	Accepted int64
	// Duplicates counts events already recorded (a redelivery), or repeated in a delivery.
	Duplicates int64
	// RefusedUnknownPortal counts events for a portal not configured, or configured with
	// the secret of another app than the one that signed the delivery.
	RefusedUnknownPortal int64
	// Ignored counts events of known portals with nothing to sync: unknown subscription
	// types, objects not synced, association changes.
	Ignored int64
	// RejectedSignature counts requests without a signature or with a wrong one.
	RejectedSignature int64
	// RejectedStale counts requests whose timestamp was unreadable or too far from now.
	RejectedStale int64
	// RejectedTooLarge counts requests whose body exceeded MaxBody.
	RejectedTooLarge int64
	// RejectedMalformed counts authentic requests whose body was not valid events.
	RejectedMalformed int64
	// RecordFailures counts integrations of deliveries whose recording failed (503).
	RecordFailures int64
}

type counters struct {
	received, accepted, duplicates, refused, ignored         atomic.Int64
	badSignature, stale, tooLarge, malformed, recordFailures atomic.Int64
}

type portal struct {
	integration string
	secret      string
	objects     map[string]bool
}

// Handler is the HTTP endpoint HubSpot posts webhook deliveries to.
type Handler struct {
	portals   map[int64]portal
	secrets   []string
	publicURL string
	maxBody   int64
	now       func() time.Time
	dedup     Deduper
	recorder  Recorder
	log       *zap.Logger
	metrics   *metrics.Metrics
	n         counters
}

// New validates the options and builds a Handler. Each integration must belong to one
// portal: events are deduplicated per integration, and HubSpot's event ids are only
// known to be unique within a portal.
func New(o Options) (*Handler, error) {
	if len(o.Portals) == 0 {
		return nil, errors.New("webhook handler: no portals configured")
	}
	if o.Dedup == nil || o.Recorder == nil {
		return nil, errors.New("webhook handler: Dedup and Recorder are required")
	}
	if o.MaxBody < 0 {
		return nil, fmt.Errorf("webhook handler: MaxBody %d is negative", o.MaxBody)
	}
	h := &Handler{
		portals:  make(map[int64]portal, len(o.Portals)),
		maxBody:  o.MaxBody,
		now:      o.Now,
		dedup:    o.Dedup,
		recorder: o.Recorder,
		log:      o.Logger,
		metrics:  o.Metrics,
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webhook handler: PublicURL %q is not an http(s) URL", o.PublicURL)
		}
		h.publicURL = strings.TrimRight(o.PublicURL, "/")
	}
	owner := make(map[string]int64, len(o.Portals))
	for id, p := range o.Portals {
		switch {
		case id <= 0:
			return nil, fmt.Errorf("webhook handler: portal id %d is not positive", id)
		case p.Integration == "":
			return nil, fmt.Errorf("webhook handler: portal %d has no integration", id)
		case p.Secret == "":
			// An empty key would let anyone sign deliveries.
			return nil, fmt.Errorf("webhook handler: portal %d has no secret", id)
		case len(p.Objects) == 0:
			return nil, fmt.Errorf("webhook handler: portal %d syncs no objects", id)
		}
		if other, dup := owner[p.Integration]; dup {
			return nil, fmt.Errorf("webhook handler: integration %q is used by portals %d and %d", p.Integration, min(id, other), max(id, other))
		}
		owner[p.Integration] = id
		objects := make(map[string]bool, len(p.Objects))
		for _, obj := range p.Objects {
			if _, err := crm.ParseObject(obj); err != nil {
				return nil, fmt.Errorf("webhook handler: portal %d: %w", id, err)
			}
			objects[obj] = true
		}
		h.portals[id] = portal{integration: p.Integration, secret: p.Secret, objects: objects}
		if !slices.Contains(h.secrets, p.Secret) {
			h.secrets = append(h.secrets, p.Secret)
		}
	}
	return h, nil
}

// Stats returns the counts so far.
func (h *Handler) Stats() Stats {
	return Stats{
		Received:             h.n.received.Load(),
		Accepted:             h.n.accepted.Load(),
		Duplicates:           h.n.duplicates.Load(),
		RefusedUnknownPortal: h.n.refused.Load(),
		Ignored:              h.n.ignored.Load(),
		RejectedSignature:    h.n.badSignature.Load(),
		RejectedStale:        h.n.stale.Load(),
		RejectedTooLarge:     h.n.tooLarge.Load(),
		RejectedMalformed:    h.n.malformed.Load(),
		RecordFailures:       h.n.recordFailures.Load(),
	}
}

// summary is the 200 answer. HubSpot ignores it; it is for whoever replays a delivery by
// hand.
type summary struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Refused    int `json:"refused"`
	Ignored    int `json:"ignored"`
}

// ServeHTTP answers one delivery. HubSpot does not retry a 400, 401, 403, 404 or 405, so
// only failures of our own (recording) get an answer it retries: 503 with Retry-After.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			h.n.tooLarge.Add(1)
			h.metrics.WebhookRejected(metrics.RejectTooLarge)
			h.log.Warn("webhook rejected", zap.String("reason", "body too large"), zap.Int64("max_body", h.maxBody))
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.n.malformed.Add(1)
		h.metrics.WebhookRejected(metrics.RejectMalformed)
		h.log.Warn("webhook rejected", zap.String("reason", "reading body"), zap.Error(err))
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	secret, ok := h.authenticate(r, body)
	if !ok {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	events, err := ParseEvents(body)
	if err != nil {
		h.n.malformed.Add(1)
		h.metrics.WebhookRejected(metrics.RejectMalformed)
		// The error may quote a character of the body; the reason is enough.
		h.log.Warn("webhook rejected", zap.String("reason", "malformed events"))
		http.Error(w, "malformed events", http.StatusBadRequest)
		return
	}
	h.n.received.Add(int64(len(events)))
	h.metrics.WebhookReceived(len(events))

	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), recordTimeout)
	defer cancel()
	sum, known, failed := h.record(ctx, secret, events)
	switch {
	case failed:
		h.metrics.WebhookRejected(metrics.RejectRecordFailed)
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		http.Error(w, "recording failed, retry later", http.StatusServiceUnavailable)
	case !known:
		h.metrics.WebhookRejected(metrics.RejectUnknownPortal)
		http.Error(w, "unknown portal", http.StatusForbidden)
	default:
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(sum) // a struct of ints always encodes
		w.WriteHeader(http.StatusOK)
		w.Write(b)
	}
}

// authenticate returns the secret that signed the request, trying each app's secret.
func (h *Handler) authenticate(r *http.Request, body []byte) (string, bool) {
	uri := h.signedURI(r)
	ts, sig := r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader)
	now := h.now()
	for _, secret := range h.secrets {
		err := Verify(secret, r.Method, uri, body, ts, sig, now)
		switch {
		case err == nil:
			return secret, true
		case errors.Is(err, ErrBadSignature):
			continue
		case errors.Is(err, ErrStale):
			h.n.stale.Add(1)
			h.metrics.WebhookRejected(metrics.RejectStale)
			h.log.Warn("webhook rejected", zap.String("reason", "stale or unreadable timestamp"))
			return "", false
		default:
			h.n.badSignature.Add(1)
			h.metrics.WebhookRejected(metrics.RejectBadSignature)
			h.log.Warn("webhook rejected", zap.String("reason", "missing signature"))
			return "", false
		}
	}
	h.n.badSignature.Add(1)
	h.metrics.WebhookRejected(metrics.RejectBadSignature)
	h.log.Warn("webhook rejected", zap.String("reason", "signature matches no configured app"))
	return "", false
}

// signedURI is the URL HubSpot posted to, as it signed it.
func (h *Handler) signedURI(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// group is one integration's recordable events of a delivery.
type group struct {
	portalID int64
	events   []Event
	ids      []int64
}

// record sorts the events by integration and records each integration's fresh changes.
// known says some event was for a portal of the signing app; failed, that some
// integration's recording failed and the delivery must be sent again.
func (h *Handler) record(ctx context.Context, secret string, events []Event) (sum summary, known, failed bool) {
	groups := make(map[string]*group)
	refusedPortals := make(map[int64]int)
	for _, e := range events {
		p, ok := h.portals[e.PortalID]
		if !ok || p.secret != secret {
			// A portal of another app (another secret) is refused too: this app's
			// secret does not vouch for its events.
			sum.Refused++
			refusedPortals[e.PortalID]++
			continue
		}
		known = true
		obj, ok := e.Object()
		kind := e.Change()
		if !ok || (kind != Upsert && kind != Delete) || !p.objects[obj] {
			sum.Ignored++
			continue
		}
		g := groups[p.integration]
		if g == nil {
			g = &group{portalID: e.PortalID}
			groups[p.integration] = g
		}
		if slices.Contains(g.ids, e.EventID) {
			sum.Duplicates++
			continue
		}
		g.events = append(g.events, e)
		g.ids = append(g.ids, e.EventID)
	}
	for id, n := range refusedPortals {
		h.log.Warn("webhook events refused", zap.Int64("portal_id", id), zap.Int("events", n), zap.String("reason", "portal not configured for the signing app"))
	}
	h.n.refused.Add(int64(sum.Refused))
	h.n.ignored.Add(int64(sum.Ignored))
	h.n.duplicates.Add(int64(sum.Duplicates))
	h.metrics.WebhookDeduplicated(sum.Duplicates)

	integrations := make([]string, 0, len(groups))
	for name := range groups {
		integrations = append(integrations, name)
	}
	slices.Sort(integrations)
	for _, integration := range integrations {
		g := groups[integration]
		accepted, err := h.recordIntegration(ctx, integration, g)
		if err != nil {
			failed = true
			h.n.recordFailures.Add(1)
			h.log.Error("recording webhook events failed", zap.String("integration", integration),
				zap.Int64("portal_id", g.portalID), zap.Int("events", len(g.ids)), zap.Error(err))
			continue
		}
		dups := len(g.ids) - accepted
		sum.Accepted += accepted
		sum.Duplicates += dups
		h.n.accepted.Add(int64(accepted))
		h.n.duplicates.Add(int64(dups))
		h.metrics.WebhookDeduplicated(dups)
		h.log.Info("webhook events recorded", zap.String("integration", integration),
			zap.Int64("portal_id", g.portalID), zap.Int("accepted", accepted), zap.Int("duplicates", dups))
	}
	return sum, known, failed
}

// recordIntegration records the group's events never seen before, one batch per object in
// a stable order, and returns how many there were.
func (h *Handler) recordIntegration(ctx context.Context, integration string, g *group) (int, error) {
	accepted := 0
	err := h.dedup.FreshWebhookEvents(ctx, integration, g.ids, func(fresh map[int64]bool) error {
		accepted = 0
		byObject := make(map[string][]Change)
		for _, e := range g.events {
			if !fresh[e.EventID] {
				continue
			}
			accepted++
			obj, _ := e.Object()
			byObject[obj] = append(byObject[obj], e.Changes()...)
		}
		for _, obj := range crm.Objects {
			changes := byObject[string(obj)]
			if len(changes) == 0 {
				continue
			}
			b := Batch{Integration: integration, Object: string(obj), Changes: changes}
			if err := h.recorder.Record(ctx, b); err != nil {
				return fmt.Errorf("recording %d %s changes: %w", len(changes), obj, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return accepted, nil
}

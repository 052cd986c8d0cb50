package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// Scenario (w): a burst of writes applications queue for the CRM, drained by crmsync's
// write queue, beside a client that sends each event as its own call.
const (
	// writeEvents events for writeContacts distinct contacts (each gets
	// writeEvents/writeContacts of them), each setting 1-3 of writeProperties.
	writeEvents   = 10_000
	writeContacts = 2_000
	// writeSeeded is the contacts the simulator holds: some of its contacts have no email.
	writeSeeded = writeContacts + 100
	// writeChunk is the events of one application transaction, or of one intake request.
	writeChunk = 100
	// writeFeeders is how many applications queue at once, half of the chunks through
	// their own INSERTs and half through the HTTP intake.
	writeFeeders = 4
	// writeDrainTimeout bounds the wait for the queue to drain.
	writeDrainTimeout = 5 * time.Minute
	// writePoll is how often the outbox is checked while it drains.
	writePoll = 100 * time.Millisecond
	// writeSeed makes every run's burst the same.
	writeSeed = 7
)

// writeProperties are the properties the events set.
var writeProperties = []string{"firstname", "lastname", "phone", "jobtitle", "city"}

// writeEvent is one change an application wants in the CRM: some properties of the
// contact with this email.
type writeEvent struct {
	n     int
	email string
	props map[string]string
}

// burstEmails returns the emails of the first n of the simulator's contacts that have one
// of their own: not empty, and held by no other record (a larger dataset repeats a few
// emails, and an upsert by an email two contacts hold is refused as a CONFLICT).
func burstEmails(sim *crmsim.Sim, n int) ([]string, error) {
	seeded, err := sim.Snapshot(crmsim.Contacts)
	if err != nil {
		return nil, err
	}
	holders := map[string]int{}
	for _, rec := range seeded {
		holders[strings.ToLower(rec.Properties["email"])]++
	}
	var emails []string
	for _, rec := range seeded {
		email := rec.Properties["email"]
		if key := strings.ToLower(email); key != "" && holders[key] == 1 && len(emails) < n {
			emails = append(emails, email)
		}
	}
	if len(emails) < n {
		return nil, fmt.Errorf("the simulator's %d contacts have only %d emails of their own; the burst needs %d", len(seeded), len(emails), n)
	}
	return emails, nil
}

// writeBurst makes n events for the given contacts, each contact named by n/len(emails)
// of them in a shuffled order, each event setting 1-3 properties to values of its own.
func writeBurst(emails []string, n int) []writeEvent {
	rng := rand.New(rand.NewPCG(writeSeed, writeSeed))
	order := make([]int, n)
	for i := range order {
		order[i] = i % len(emails)
	}
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	events := make([]writeEvent, n)
	for i, c := range order {
		e := writeEvent{n: i, email: emails[c], props: map[string]string{}}
		for _, k := range rng.Perm(len(writeProperties))[:1+rng.IntN(3)] {
			e.props[writeProperties[k]] = fmt.Sprintf("%s-e%d", writeProperties[k], i)
		}
		events[i] = e
	}
	return events
}

// expectedValues merges events per contact (lower-cased email) in the order given: the
// latest value of each property wins.
func expectedValues(events []writeEvent) map[string]map[string]string {
	want := map[string]map[string]string{}
	for _, e := range events {
		key := strings.ToLower(e.email)
		if want[key] == nil {
			want[key] = map[string]string{}
		}
		for k, v := range e.props {
			want[key][k] = v
		}
	}
	return want
}

// lostRecords counts the records whose CRM copy lacks the latest value of any property
// want holds for it (a record missing from the CRM counts too).
func lostRecords(want map[string]map[string]string, crmRecords []crmsim.Record) int {
	byEmail := make(map[string]map[string]string, len(crmRecords))
	for _, r := range crmRecords {
		if email := strings.ToLower(r.Properties["email"]); email != "" && !r.Archived {
			byEmail[email] = r.Properties
		}
	}
	lost := 0
	for key, props := range want {
		got, ok := byEmail[key]
		for k, v := range props {
			if !ok || got[k] != v {
				lost++
				break
			}
		}
	}
	return lost
}

// writeCounts is one client's handling of the burst.
type writeCounts struct {
	// Client names how the events reached the CRM.
	Client string `json:"client"`
	// Events are the events this client sent, of Burst in all; Records the distinct
	// contacts they name.
	Events  int `json:"events"`
	Burst   int `json:"burst"`
	Records int `json:"records"`
	// Calls are the batch upsert calls the CRM received, 429s included; MinCalls is
	// ceil(Records/100), HubSpot's batch size; APICalls counts every call of the client.
	Calls    int `json:"calls"`
	MinCalls int `json:"min_calls"`
	APICalls int `json:"api_calls"`
	// RecordWrites counts the inputs the CRM applied: a record written in two calls
	// counts twice.
	RecordWrites int `json:"record_writes"`
	// TimeS is from the first event queued to the last one settled (crmsync: the outbox
	// holds no pending or sending write), or the naive client's first call to its last.
	TimeS float64 `json:"time_s"`
	// QueueS is how long the applications took to queue the burst (crmsync only).
	QueueS float64 `json:"queue_s,omitempty"`
	// BurstS is the time for the whole burst: TimeS when every event was sent, else TimeS
	// scaled by Burst/Events (Extrapolated).
	BurstS       float64 `json:"burst_s"`
	Extrapolated bool    `json:"extrapolated"`
	RateLimited  int     `json:"rate_limited"`
	// Lost counts records whose CRM copy misses the latest value of a property they were
	// sent; Duplicated the write versions the CRM applied more than once; Dead the writes
	// crmsync gave up on (in write_dead_letters), or the naive client's events that failed.
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Dead       int `json:"dead"`
	// Peak10s is the most calls in any rolling 10 s window, against Quota.
	Peak10s int `json:"peak_10s"`
	Quota   int `json:"quota"`
}

func (w writeCounts) String() string {
	return fmt.Sprintf("%s: %d events (of %d), %d records, %d calls (min %d), %.1fs, 429s %d, lost %d, duplicated %d, peak %d/%d",
		w.Client, w.Events, w.Burst, w.Records, w.Calls, w.MinCalls, w.TimeS, w.RateLimited, w.Lost, w.Duplicated, w.Peak10s, w.Quota)
}

// writeTableHeader names the columns of the write table, which shows scenarios (w) and
// (x)'s rows side by side after the main table.
const writeTableHeader = "RUN\tCLIENT\tEVENTS\tRECORDS\tRECORD WRITES\tCRM CALLS\tMIN\tTIME\t429s\tLOST\tDUPLICATED\tPEAK 10s/B\tTIME FOR THE BURST"

// writeRow formats one row of the write table.
func writeRow(run string, w writeCounts) string {
	events := fmt.Sprint(w.Events)
	burst := fmt.Sprintf("%.1fs measured", w.BurstS)
	if w.Extrapolated {
		events = fmt.Sprintf("%d of %d", w.Events, w.Burst)
		burst = fmt.Sprintf("~%.0fs for %d, extrapolated from %d measured", w.BurstS, w.Burst, w.Events)
	}
	lost := fmt.Sprint(w.Lost)
	if w.Dead > 0 {
		lost = fmt.Sprintf("%d (%d dead)", w.Lost, w.Dead)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1fs\t%d\t%s\t%d\t%d/%d\t%s",
		run, w.Client, events, w.Records, w.RecordWrites, w.Calls, w.MinCalls, w.TimeS, w.RateLimited, lost, w.Duplicated, w.Peak10s, w.Quota, burst)
}

// runWrites queues the burst into crmsync's outbox as fast as applications can, half by
// their own INSERTs and half through the HTTP intake, and measures the drain; then it sends
// the burst's first naiveEvents events one call each to a simulator of their own.
func (b *bench) runWrites(ctx context.Context) []result {
	p := rowParams{scenario: "w", quota: 100, workers: 1}
	res := newResult(p)
	var events []writeEvent
	spec := rigSpec{
		run: p.runName(), scenario: p.scenario, workers: p.workers,
		sim:     simOptions(p.quota, 0, writeSeeded, 10, 10),
		quota:   quota(p.quota),
		objects: []crm.Object{crm.Contacts},
		writes:  true,
		timeout: 10 * time.Minute,
	}
	err := b.withRig(ctx, spec, func(ctx context.Context, r *rig) error {
		emails, err := burstEmails(r.sim, writeContacts)
		if err != nil {
			return err
		}
		events = writeBurst(emails, writeEvents)
		r.sim.ResetStats()
		r.sim.ResetWriteStats()
		w, err := r.drainBurst(ctx, b, events)
		if w != nil {
			res.Writes = w
			res.Records, res.APICalls, res.MinCalls, res.ElapsedS = w.Records, w.APICalls, w.MinCalls, w.TimeS
			res.RateLimited, res.Peak10s = w.RateLimited, w.Peak10s
		}
		if err != nil {
			return err
		}
		st := r.sim.Stats()
		res.ByEndpoint = endpointCalls(st)
		if w.Lost > 0 || w.Duplicated > 0 || w.Dead > 0 {
			return fmt.Errorf("the write queue lost %d records' latest values, applied %d versions twice, gave up on %d writes (duplicated trace ids: %v)",
				w.Lost, w.Duplicated, w.Dead, r.sim.WriteStats().DuplicateTraceIDs)
		}
		return writePerSecond(b.opts.outDir, spec.run, st.PerSecond)
	})
	if err != nil {
		res.Error = err.Error()
	}
	out := []result{res}
	if len(events) == writeEvents && ctx.Err() == nil {
		out = append(out, b.runNaiveWrites(ctx, p, events[:naiveEvents]))
	}
	return out
}

// drainBurst queues events and waits until the outbox has drained, then counts what it
// cost and what reached the CRM. The counts are returned whenever the burst drained.
func (r *rig) drainBurst(ctx context.Context, b *bench, events []writeEvent) (*writeCounts, error) {
	pool, err := r.writerPool(ctx)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	queued, err := r.queueAndDrain(ctx, b, pool, events)
	if err != nil {
		return nil, err
	}
	return r.countBurst(ctx, pool, events, queued)
}

// writerPool connects the applications that queue the burst to the run's schema.
func (r *rig) writerPool(ctx context.Context) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(r.schemaURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the database URL: %w", err)
	}
	cfg.MaxConns = writeFeeders + 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	return pool, nil
}

// queueAndDrain queues events as the applications do and waits until the outbox has
// drained. It returns how long queueing took.
func (r *rig) queueAndDrain(ctx context.Context, b *bench, pool *pgxpool.Pool, events []writeEvent) (time.Duration, error) {
	b.progress("%s: queueing %d write events for %d contacts (%d applications, %d per transaction or request)",
		r.spec.run, len(events), len(expectedValues(events)), writeFeeders, writeChunk)
	began := time.Now()
	if err := r.queueBurst(ctx, pool, events); err != nil {
		return 0, err
	}
	queued := time.Since(began)
	b.progress("%s: burst queued in %.1fs; waiting for the outbox to drain", r.spec.run, queued.Seconds())
	if err := awaitDrained(ctx, pool, r.integration, len(events)); err != nil {
		return 0, err
	}
	return queued, nil
}

// countBurst counts what a drained burst cost and what reached the CRM: the batch upserts
// and 429s the simulator saw since its stats were reset, the time from the first event
// queued to the last one settled, and the records whose CRM copy misses a latest value.
func (r *rig) countBurst(ctx context.Context, pool *pgxpool.Pool, events []writeEvent, queued time.Duration) (*writeCounts, error) {
	var first, last time.Time
	var dead int
	if err := pool.QueryRow(ctx, `SELECT min(queued_at), max(done_at), count(*) FILTER (WHERE state = 'dead')
		FROM write_outbox WHERE integration = $1`, r.integration).Scan(&first, &last, &dead); err != nil {
		return nil, fmt.Errorf("reading the drained outbox: %w", err)
	}
	want, err := outboxValues(ctx, pool, r.integration)
	if err != nil {
		return nil, err
	}
	snap, err := r.sim.Snapshot(crmsim.Contacts)
	if err != nil {
		return nil, err
	}
	st, ws := r.sim.Stats(), r.sim.WriteStats()
	t := trafficOf(st)
	w := &writeCounts{
		Client: "crmsync write queue", Events: len(events), Burst: len(events), Records: len(want),
		Calls: st.Calls(writeEndpoint), MinCalls: (len(want) + 99) / 100, APICalls: t.calls,
		TimeS: roundTo(last.Sub(first).Seconds(), 3), QueueS: roundTo(queued.Seconds(), 3),
		RecordWrites: ws.Applied, RateLimited: st.RateLimited, Lost: lostRecords(want, snap), Duplicated: ws.Duplicates, Dead: dead,
		Peak10s: t.peak, Quota: r.spec.quota.RequestsPer10s,
	}
	w.BurstS = w.TimeS
	return w, nil
}

// writeEndpoint is the simulator's key for the calls that carry queued writes.
const writeEndpoint = "batch_upsert contacts"

// queueBurst queues events as writeFeeders applications would, in chunks of writeChunk:
// even chunks by INSERTs in one transaction of the application's own, odd ones by one
// request to the HTTP intake. Every event carries an idempotency key of its own.
func (r *rig) queueBurst(ctx context.Context, pool *pgxpool.Pool, events []writeEvent) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := make(chan int)
	var wg sync.WaitGroup
	for range writeFeeders {
		wg.Go(func() {
			for c := range chunks {
				part := events[c*writeChunk : min((c+1)*writeChunk, len(events))]
				var err error
				if c%2 == 0 {
					err = insertWrites(ctx, pool, r.integration, part)
				} else {
					err = postWrites(ctx, r.intakeAddr, r.intakeToken, r.integration, part)
				}
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	for c := range (len(events) + writeChunk - 1) / writeChunk {
		select {
		case chunks <- c:
		case <-ctx.Done():
		}
	}
	close(chunks)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("queueing the burst: %w", err)
	}
	return nil
}

// writeKey is an event's idempotency key.
func writeKey(e writeEvent) string { return fmt.Sprintf("bench-%d", e.n) }

// outboxProperties is an event's properties as queued: its own and the contact's email.
func outboxProperties(e writeEvent) map[string]string {
	props := make(map[string]string, len(e.props)+1)
	for k, v := range e.props {
		props[k] = v
	}
	props["email"] = e.email
	return props
}

// insertWrites queues events as an application does, by INSERTs into the outbox in one
// transaction of its own (sent as one pipelined batch).
func insertWrites(ctx context.Context, pool *pgxpool.Pool, integration string, events []writeEvent) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, e := range events {
			props, err := json.Marshal(outboxProperties(e))
			if err != nil {
				return err
			}
			batch.Queue(`INSERT INTO write_outbox (integration, object, properties, idempotency_key, app)
				VALUES ($1, 'contacts', $2, $3, 'bench-sql')`, integration, props, writeKey(e))
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("inserting %d writes: %w", len(events), err)
		}
		return nil
	})
}

// intakeClient is the applications' HTTP client for the intake.
var intakeClient = &http.Client{Timeout: 30 * time.Second}

// postWrites queues events through the HTTP intake in one request.
func postWrites(ctx context.Context, addr, token, integration string, events []writeEvent) error {
	type record struct {
		Properties     map[string]string `json:"properties"`
		IdempotencyKey string            `json:"idempotency_key"`
	}
	var body struct {
		Records []record `json:"records"`
	}
	for _, e := range events {
		body.Records = append(body.Records, record{Properties: outboxProperties(e), IdempotencyKey: writeKey(e)})
	}
	doc, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://%s/v1/writes/%s/contacts", addr, integration), bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := intakeClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting %d writes to the intake: %w", len(events), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("posting %d writes to the intake: %s: %s", len(events), resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// awaitDrained polls the outbox until it holds all n events and none is pending or on its
// way to the CRM.
func awaitDrained(ctx context.Context, pool *pgxpool.Pool, integration string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, writeDrainTimeout)
	defer cancel()
	for {
		var total, open int
		err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state IN ('pending', 'sending'))
			FROM write_outbox WHERE integration = $1`, integration).Scan(&total, &open)
		if err != nil {
			return fmt.Errorf("waiting for the outbox to drain: %w", err)
		}
		if total == n && open == 0 {
			return nil
		}
		if err := sleep(ctx, writePoll); err != nil {
			return fmt.Errorf("the outbox did not drain (%d of %d writes queued, %d open): %w", total, n, open, err)
		}
	}
}

// outboxValues merges the integration's queued writes per record in queued order (seq),
// as crmsync promises the CRM ends: every property at its latest queued value.
func outboxValues(ctx context.Context, pool *pgxpool.Pool, integration string) (map[string]map[string]string, error) {
	rows, err := pool.Query(ctx, `SELECT record_key, properties FROM write_outbox WHERE integration = $1 ORDER BY seq`, integration)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	defer rows.Close()
	want := map[string]map[string]string{}
	for rows.Next() {
		var key string
		var props map[string]*string
		if err := rows.Scan(&key, &props); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		if want[key] == nil {
			want[key] = map[string]string{}
		}
		for k, v := range props {
			want[key][k] = ""
			if v != nil {
				want[key][k] = *v
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	// The CRM keeps the email as the record holds it; compare it case-blind.
	for key, props := range want {
		if _, ok := props["email"]; ok {
			props["email"] = key
		}
	}
	return want, nil
}

// Scenario (w)'s other client: one call per event.
const (
	// naiveEvents is how many of the burst's events the naive client sends: at 100 calls
	// per 10 s the whole burst would take about 1,000 s.
	naiveEvents = 1_000
	// naiveClientName is the naive client's User-Agent product.
	naiveClientName = "naive-client"
	// naiveTries, naiveRateLimitWait and naiveServerErrorWait follow HubSpot's Node client
	// (its retry decorator at numberOfApiCallRetries 6, its maximum): after the n-th
	// failure it waits n times 10 s on a TEN_SECONDLY_ROLLING 429, n times 1 s on the
	// secondly one, n times 200 ms on a 5xx, and retries.
	naiveTries           = 6
	naiveRateLimitWait   = 10 * time.Second
	naiveSecondlyWait    = time.Second
	naiveServerErrorWait = 200 * time.Millisecond
)

// runNaiveWrites sends events one HubSpot batch upsert of one input each, in order, to a
// simulator of their own seeded like the rig's, honouring 429s as HubSpot's Node client
// does, and reports the row beside crmsync's.
func (b *bench) runNaiveWrites(ctx context.Context, p rowParams, events []writeEvent) result {
	res := newResult(p)
	res.Run = fmt.Sprintf("%s-naive-b%d-lat%dms", p.scenario, p.quota, p.latency.Milliseconds())
	res.Workers = 0
	err := func() (err error) {
		token := "pat-bench-naive-" + randomHex(12)
		opts := simOptions(p.quota, p.latency, writeSeeded, 10, 10)
		opts.Tokens = []string{token}
		sim, url, stop, err := serveSim(opts)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			defer cancel()
			err = errors.Join(err, stop(ctx))
		}()
		b.progress("%s: sending %d of the %d events one call each, as HubSpot's Node client retries", res.Run, len(events), writeEvents)
		c := naiveWriter{url: url, token: token, http: &http.Client{Timeout: 30 * time.Second}, sleep: sleep}
		began := time.Now()
		failed := 0
		for _, e := range events {
			if err := c.upsert(ctx, e); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed++
			}
		}
		elapsed := time.Since(began)
		snap, err := sim.Snapshot(crmsim.Contacts)
		if err != nil {
			return err
		}
		st, ws := sim.Stats(), sim.WriteStats()
		want := expectedValues(events)
		w := &writeCounts{
			Client: "one call per event", Events: len(events), Burst: writeEvents, Records: len(want),
			Calls: st.Calls(writeEndpoint), MinCalls: (len(want) + 99) / 100, APICalls: st.ByClient[naiveClientName].Calls,
			RecordWrites: ws.Applied, TimeS: roundTo(elapsed.Seconds(), 3), RateLimited: st.RateLimited,
			Lost: lostRecords(want, snap), Duplicated: ws.Duplicates, Dead: failed,
			Quota: p.quota,
		}
		for _, peak := range st.Peak10s {
			w.Peak10s = max(w.Peak10s, peak)
		}
		w.BurstS = roundTo(elapsed.Seconds()*float64(writeEvents)/float64(len(events)), 1)
		w.Extrapolated = len(events) < writeEvents
		res.Writes = w
		res.Records, res.APICalls, res.MinCalls, res.ElapsedS = w.Records, w.APICalls, w.MinCalls, w.TimeS
		res.RateLimited, res.Peak10s, res.ByEndpoint = w.RateLimited, w.Peak10s, endpointCalls(st)
		return writePerSecond(b.opts.outDir, res.Run, st.PerSecond)
	}()
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

// naiveWriter is an application that writes each event to HubSpot as it comes, with no
// queue: one batch upsert of one input per event.
type naiveWriter struct {
	url, token string
	http       *http.Client
	// sleep waits between tries (the benchmark's sleep; tests record the waits instead).
	sleep func(context.Context, time.Duration) error
}

// rateLimitReply is the part of HubSpot's 429 body the Node client reads.
type rateLimitReply struct {
	PolicyName string `json:"policyName"`
	Message    string `json:"message"`
}

// errNaiveGaveUp is a write the naive client stopped retrying.
var errNaiveGaveUp = errors.New("gave up")

// upsert sends one event, retrying as HubSpot's Node client does.
func (c naiveWriter) upsert(ctx context.Context, e writeEvent) error {
	type input struct {
		IDProperty         string            `json:"idProperty"`
		ID                 string            `json:"id"`
		ObjectWriteTraceID string            `json:"objectWriteTraceId"`
		Properties         map[string]string `json:"properties"`
	}
	doc, err := json.Marshal(map[string][]input{"inputs": {{IDProperty: "email", ID: e.email, ObjectWriteTraceID: writeKey(e), Properties: e.props}}})
	if err != nil {
		return err
	}
	for try := 1; ; try++ {
		status, body, err := c.post(ctx, doc)
		if err != nil {
			return err
		}
		if status == http.StatusOK || status == http.StatusCreated {
			return nil
		}
		var wait time.Duration
		switch {
		case status == http.StatusTooManyRequests:
			var rl rateLimitReply
			_ = json.Unmarshal(body, &rl) // an unreadable body is a 429 the client does not retry
			switch {
			case rl.PolicyName == "TEN_SECONDLY_ROLLING":
				wait = naiveRateLimitWait
			case rl.Message == "You have reached your secondly limit.":
				wait = naiveSecondlyWait
			}
		case status >= 500:
			wait = naiveServerErrorWait
		}
		if wait == 0 || try == naiveTries {
			return fmt.Errorf("event %d: %w after %d tries: %d %s", e.n, errNaiveGaveUp, try, status, bytes.TrimSpace(body))
		}
		if err := c.sleep(ctx, time.Duration(try)*wait); err != nil {
			return err
		}
	}
}

// post sends one request and returns the answer's status and body.
func (c naiveWriter) post(ctx context.Context, doc []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/crm/v3/objects/contacts/batch/upsert", bytes.NewReader(doc))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", naiveClientName+"/1.0")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("sending a write: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading a write's answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

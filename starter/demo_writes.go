package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/intake"
	"github.com/crmsync/crmsync/internal/store"
)

// demoIntakeTokenEnv names the demo app's intake token in the demo's config; the demo
// makes the token up and holds it in memory.
const demoIntakeTokenEnv = "CRMSYNC_DEMO_INTAKE_TOKEN"

// demoWriteProps are the contact properties the demo's writes set: ones the simulator's
// mutator leaves alone, so that the CRM's final values are the writes' own.
var demoWriteProps = []string{"firstname", "company", "country"}

// demoWrite is one write the demo's application sends.
type demoWrite struct {
	email string
	props map[string]any
}

// demoWrites plays an application that writes to the CRM through crmsync: it serves the
// HTTP intake, posts a burst of writes to contacts (some existing, some new, one with an
// address the CRM refuses), waits for the write queue to drain, and checks that the CRM
// holds every record's latest value, reporting the calls it took.
func (d *demo) demoWrites(ctx context.Context) error {
	f := d.flags
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	token := "demo-" + hex.EncodeToString(tok)
	getenv := func(name string) string {
		if name == demoIntakeTokenEnv {
			return token
		}
		return ""
	}
	opts, err := intakeOptions(d.cfg, getenv)
	if err != nil {
		return err
	}
	opts.Queue = d.store
	h, err := intake.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.intakeAddr)
	if err != nil {
		return fmt.Errorf("write intake: %w", err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.stops = append(d.stops, func() { _ = srv.Close() })
	url := fmt.Sprintf("http://%s/v1/writes/%s/contacts", ln.Addr(), demoIntegration)
	d.say("write intake on %s: applications queue writes to the CRM there (token %s)", url, token)

	writes, err := d.demoWriteBurst(f.writes)
	if err != nil {
		return err
	}
	before := d.sim.Stats()
	start := time.Now()
	for batch := range slices.Chunk(writes, 100) {
		var body struct {
			Records []map[string]any `json:"records"`
		}
		for _, w := range batch {
			body.Records = append(body.Records, map[string]any{"properties": w.props})
		}
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("posting writes to the intake: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("the intake answered %s", resp.Status)
		}
	}
	queued := time.Since(start)
	records := map[string]bool{}
	for _, w := range writes {
		records[strings.ToLower(w.email)] = true
	}
	d.say("writes: %d events for %d contacts queued through the HTTP intake in %s; the write queue sends them under the same quota",
		len(writes), len(records), queued.Round(time.Millisecond))

	deadline := time.Now().Add(3 * time.Minute)
	for {
		var open int
		if err := d.store.Pool().QueryRow(ctx, `SELECT count(*) FROM write_outbox WHERE state IN ('pending', 'sending')`).Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo check failed: %d writes still queued after 3 minutes", open)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	drained := time.Since(start)
	after := d.sim.Stats()
	calls := 0
	for _, ep := range []string{"batch_upsert contacts", "batch_update contacts"} {
		for _, n := range after.ByEndpoint[ep] {
			calls += n
		}
		for _, n := range before.ByEndpoint[ep] {
			calls -= n
		}
	}
	dead, err := d.store.DeadLetters(ctx, store.DeadLetterFilter{Integration: demoIntegration}, 0)
	if err != nil {
		return err
	}
	mismatches, checked, err := d.checkDemoWrites(writes)
	if err != nil {
		return err
	}
	d.say("writes: drained in %s: %d batch calls for %d contacts (minimum ceil(%d/100) = %d), %d refused (429s) during the burst",
		drained.Round(100*time.Millisecond), calls, len(records), len(records), (len(records)+99)/100, after.RateLimited-before.RateLimited)
	for _, l := range dead {
		d.say("writes: dead letter %d (%s): %s: %s; fix it and `starter writes replay --seq %d`", l.Seq, l.RecordKey, l.Category,
			abbreviate(l.Message, 100), l.Seq)
	}
	if mismatches > 0 {
		return fmt.Errorf("demo check failed: %d of %d written values differ from the latest queued one", mismatches, checked)
	}
	d.say("writes: the CRM holds the latest queued value of all %d written properties; the deltas bring them into PostgreSQL", checked)
	return nil
}

// demoWriteBurst makes n write events: a fifth as many contacts, half of them existing
// ones (by email) and half new sign-ups, each event setting one or two properties, and
// one event for an address the CRM refuses.
func (d *demo) demoWriteBurst(n int) ([]demoWrite, error) {
	snap, err := d.sim.Snapshot("contacts")
	if err != nil {
		return nil, err
	}
	k := max(2, n/5)
	var emails []string
	for _, r := range snap {
		if len(emails) >= k/2 {
			break
		}
		if e := r.Properties["email"]; e != "" && !r.Archived {
			emails = append(emails, e)
		}
	}
	for i := len(emails); i < k; i++ {
		emails = append(emails, fmt.Sprintf("demo.signup%d@example.com", i))
	}
	writes := make([]demoWrite, 0, n+1)
	for i := range n {
		email := emails[(i*7919)%len(emails)]
		props := map[string]any{"email": email}
		props[demoWriteProps[i%len(demoWriteProps)]] = fmt.Sprintf("write %d", i)
		if i%3 == 0 {
			props[demoWriteProps[(i+1)%len(demoWriteProps)]] = fmt.Sprintf("write %d", i)
		}
		writes = append(writes, demoWrite{email: email, props: props})
	}
	writes = append(writes, demoWrite{email: "not-an-email-address", props: map[string]any{"email": "not-an-email-address", "firstname": "Typo"}})
	return writes, nil
}

// checkDemoWrites compares the CRM with the latest value each write set.
func (d *demo) checkDemoWrites(writes []demoWrite) (mismatches, checked int, err error) {
	want := map[string]map[string]string{}
	for _, w := range writes {
		key := strings.ToLower(w.email)
		if want[key] == nil {
			want[key] = map[string]string{}
		}
		for p, v := range w.props {
			if p != "email" {
				want[key][p] = fmt.Sprint(v)
			}
		}
	}
	snap, err := d.sim.Snapshot("contacts")
	if err != nil {
		return 0, 0, err
	}
	live, deleted := map[string]bool{}, map[string]bool{}
	for _, r := range snap {
		key := strings.ToLower(r.Properties["email"])
		props, ok := want[key]
		if !ok {
			continue
		}
		if r.Archived {
			deleted[key] = true
			continue
		}
		live[key] = true
		for p, v := range props {
			checked++
			if r.Properties[p] != v {
				mismatches++
			}
		}
	}
	for key, props := range want {
		// The refused address has no record; the simulator's mutator may have deleted a
		// contact since it was written.
		if !live[key] && !deleted[key] && key != "not-an-email-address" {
			mismatches += len(props)
		}
	}
	return mismatches, checked, nil
}

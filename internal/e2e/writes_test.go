package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/workflows"
)

// event is one write an application queues.
type event struct {
	// email names the record (upsert); id names it by CRM id instead (update).
	email, id string
	props     map[string]any
	key       string // idempotency key
}

// writeEvents makes a burst of writes: valid ones to new contacts, to seeded contacts by
// e-mail and by id, and invalid ones to contacts of their own (every write to them is
// refused: an e-mail the CRM rejects, or an option the property does not have).
func writeEvents(rng *rand.Rand, seeded []crmsim.Record, n int) (events []event, invalid map[string]bool) {
	invalid = map[string]bool{}
	var keys []event
	for i := range 150 {
		keys = append(keys, event{email: fmt.Sprintf("New.Contact%d@Example.com", i)})
	}
	for _, r := range seeded[:40] {
		keys = append(keys, event{email: r.Properties["email"]})
	}
	for _, r := range seeded[40:70] {
		keys = append(keys, event{id: r.ID})
	}
	for i := range 8 {
		e := event{email: fmt.Sprintf("broken-address-%d.example.com", i)}
		invalid[strings.ToLower(e.email)] = true
		keys = append(keys, e)
	}
	for i := range 8 {
		e := event{email: fmt.Sprintf("bad-stage-%d@example.com", i)}
		invalid[e.email] = true
		keys = append(keys, e)
	}
	props := []string{"firstname", "lastname", "phone", "jobtitle", "city"}
	for i := range n {
		k := keys[rng.IntN(len(keys))]
		e := event{email: k.email, id: k.id, props: map[string]any{}, key: fmt.Sprintf("ev-%d", i)}
		for range 1 + rng.IntN(3) {
			e.props[props[rng.IntN(len(props))]] = fmt.Sprintf("v%d", i)
		}
		if i%17 == 0 {
			e.props["phone"] = nil // clears it
		}
		if e.email != "" {
			e.props["email"] = e.email
		}
		if strings.HasPrefix(e.email, "bad-stage-") {
			e.props["lifecyclestage"] = "not-a-stage"
		}
		events = append(events, e)
	}
	return events, invalid
}

// Applications write through both intakes (HTTP and their own INSERTs) while the worker
// is SIGKILLed mid-batch and the CRM answers 207s with retryable item failures and 429s.
// In the end the CRM holds every record's latest queued value, each queued version was
// applied at most once, and the dead letters are exactly the invalid writes.
func TestWritesSurviveSIGKILLAnd207sAndEndLatestWins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{objects: []crm.Object{crm.Contacts}, writes: true, sim: crmsim.Options{
		Seed: 8, Contacts: 200, Latency: 40 * time.Millisecond,
		WriteFaults: crmsim.WriteFaults{Every: 7},
	}})
	seeded, err := h.sim.Snapshot("contacts")
	require.NoError(t, err)
	events, invalid := writeEvents(rand.New(rand.NewPCG(8, 8)), seeded, 3000)

	worker := h.startWorker()
	h.startIntake()
	// The worker registers the config's write targets when it starts; until then the
	// outbox refuses writes to them.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, h.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM write_targets`).Scan(&n))
		return n == 1
	}, time.Minute, 20*time.Millisecond, "the worker never registered the write targets")
	// Two 429s on the batch endpoint while the burst drains.
	h.sim.InjectFault(crmsim.Fault{Endpoint: "batch_upsert contacts", Kind: crmsim.Fault429TenSecondly, Count: 2})

	var wg sync.WaitGroup
	half := len(events) / 2
	wg.Go(func() { postEvents(t, h, events[:half]) })
	wg.Go(func() { insertEvents(t, h, events[half:]) })

	// SIGKILL the worker while a write batch is on its way to the CRM: the CRM answers the
	// next request 5 s late, and applies it when the killed worker's connection drops.
	require.Eventually(t, func() bool { return h.sim.WriteStats().Applied >= 100 }, 2*time.Minute, 10*time.Millisecond)
	h.sim.InjectFault(crmsim.Fault{Kind: crmsim.FaultLatency, Latency: 5 * time.Second})
	require.Eventually(t, func() bool {
		if h.inflight.Load() == 0 {
			return false
		}
		time.Sleep(300 * time.Millisecond) // normal answers take 40 ms: this is the slow one
		return h.inflight.Load() > 0
	}, time.Minute, time.Millisecond)
	worker.kill()
	wg.Wait()
	h.startWorker()

	ctx := t.Context()
	require.Eventually(t, func() bool {
		var open int
		require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT count(*) FROM write_outbox WHERE state IN ('pending', 'sending')`).Scan(&open))
		return open == 0
	}, 4*time.Minute, 200*time.Millisecond, "the queue never drained")

	// Every event was queued once: the HTTP app's retried requests were duplicates.
	var rows, keys int
	require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT idempotency_key) FROM write_outbox`).Scan(&rows, &keys))
	require.Equal(t, len(events), rows)
	require.Equal(t, len(events), keys)

	// The latest queued value of every property of every valid record, from the outbox.
	type row struct {
		seq   int64
		key   string
		props map[string]*string
		state string
	}
	want := map[string]map[string]string{}
	var invalidSeqs []int64
	rs, err := h.store.Pool().Query(ctx, `SELECT seq, record_key, properties, state FROM write_outbox ORDER BY seq`)
	require.NoError(t, err)
	for rs.Next() {
		var r row
		var raw json.RawMessage
		require.NoError(t, rs.Scan(&r.seq, &r.key, &raw, &r.state))
		require.NoError(t, json.Unmarshal(raw, &r.props))
		if invalid[r.key] {
			invalidSeqs = append(invalidSeqs, r.seq)
			require.Equal(t, "dead", r.state, "write %d to %s", r.seq, r.key)
			continue
		}
		require.Equal(t, "sent", r.state, "write %d to %s", r.seq, r.key)
		if want[r.key] == nil {
			want[r.key] = map[string]string{}
		}
		for k, v := range r.props {
			want[r.key][k] = ""
			if v != nil {
				want[r.key][k] = *v
			}
		}
	}
	require.NoError(t, rs.Err())

	// The CRM holds them.
	snap, err := h.sim.Snapshot("contacts")
	require.NoError(t, err)
	byKey := map[string]crmsim.Record{}
	for _, r := range snap {
		byKey[r.ID] = r
		byKey[strings.ToLower(r.Properties["email"])] = r
	}
	checked := 0
	for key, props := range want {
		r, ok := byKey[key]
		require.True(t, ok, "record %s is not in the CRM", key)
		for name, v := range props {
			got := r.Properties[name]
			if name == "email" {
				got, v = strings.ToLower(got), strings.ToLower(v)
			}
			require.Equal(t, v, got, "record %s property %s", key, name)
			checked++
		}
	}
	t.Logf("%d records, %d property values equal to their latest queued value", len(want), checked)

	// The dead letters are exactly the invalid writes, with the CRM's words.
	drs, err := h.store.Pool().Query(ctx, `SELECT seq FROM write_dead_letters WHERE category = 'VALIDATION_ERROR' ORDER BY seq`)
	require.NoError(t, err)
	dead, err := pgx.CollectRows(drs, pgx.RowTo[int64])
	require.NoError(t, err)
	var deadAll int
	require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT count(*) FROM write_dead_letters`).Scan(&deadAll))
	require.NotEmpty(t, invalidSeqs)
	require.Equal(t, invalidSeqs, dead)
	require.Equal(t, len(dead), deadAll, "nothing else is dead")

	ws := h.sim.WriteStats()
	require.Zero(t, ws.Duplicates, "a queued version applied twice: %v", ws.DuplicateTraceIDs)
	require.Positive(t, ws.InjectedFaults, "the CRM answered 207s with retryable failures")
	st := h.sim.Stats()
	require.GreaterOrEqual(t, st.RateLimited, 2, "the injected 429s")
	calls := 0
	for ep, byStatus := range st.ByEndpoint {
		if strings.HasPrefix(ep, "batch_upsert") || strings.HasPrefix(ep, "batch_update") {
			for _, n := range byStatus {
				calls += n
			}
		}
	}
	t.Logf("%d events, %d batch write calls, %d retryable item failures, %d 429s, %d dead letters; sim write stats %+v",
		len(events), calls, ws.InjectedFaults, st.RateLimited, len(dead), ws)
	require.Less(t, calls, len(events)/10, "writes go in batches")
	for _, peak := range st.Peak10s {
		require.LessOrEqual(t, peak, 100, "the quota held")
	}

	// The written records come back through a sync, and nothing echoes back into the queue.
	h.wait(3*time.Minute, h.start("backfill", crm.Contacts)...)
	for key, props := range want {
		r := byKey[key]
		var stored json.RawMessage
		require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT properties FROM records WHERE integration = $1 AND object_type = 'contacts' AND crm_id = $2`,
			h.integration, r.ID).Scan(&stored))
		var p map[string]*string
		require.NoError(t, json.Unmarshal(stored, &p))
		if v := props["firstname"]; v != "" {
			require.NotNil(t, p["firstname"], key)
			require.Equal(t, v, *p["firstname"], "record %s in PostgreSQL", key)
		}
	}
	var after int
	require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT count(*) FROM write_outbox`).Scan(&after))
	require.Equal(t, rows, after, "no echo: syncing the written records queues nothing")

	// The dead letters, as an operator sees them; one fixed and replayed reaches the CRM.
	listed := func(out string, seq int64) bool {
		return regexp.MustCompile(`(?m)^` + strconv.FormatInt(seq, 10) + `\s`).MatchString(out)
	}
	out := h.starter(time.Minute, "writes", "dead", "--limit", "0")
	require.Contains(t, out, "VALIDATION_ERROR")
	require.True(t, listed(out, dead[0]), "starter writes dead lists the dead letters")
	status := h.starter(time.Minute, "status")
	require.Regexp(t, h.integration+`/contacts\s+0\s+0\s+\d+\s+`+strconv.Itoa(len(dead)), status, "the write queue's row in status")
	var badKey string
	require.NoError(t, h.store.Pool().QueryRow(ctx, `SELECT record_key FROM write_dead_letters WHERE seq = $1`, dead[0]).Scan(&badKey))
	fixed := "fixed-" + strings.ReplaceAll(strings.ReplaceAll(badKey, "@", "-"), ".", "-") + "@example.com"
	_, err = h.store.Pool().Exec(ctx, `UPDATE write_dead_letters SET properties = properties || jsonb_build_object('email', $2::text, 'lifecyclestage', 'lead')
		WHERE seq = $1`, dead[0], fixed)
	require.NoError(t, err)
	out = h.starter(time.Minute, "writes", "replay", "--seq", strconv.FormatInt(dead[0], 10))
	require.Contains(t, out, "queued 1 dead letters again")
	require.Eventually(t, func() bool {
		snap, err := h.sim.Snapshot("contacts")
		require.NoError(t, err)
		for _, r := range snap {
			if r.Properties["email"] == fixed {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "the replayed write never reached the CRM")
	out = h.starter(time.Minute, "writes", "dead", "--limit", "0")
	require.False(t, listed(out, dead[0]), "a replayed dead letter is no longer listed")
	require.True(t, listed(out, dead[1]), "the others still are")

	// The batch the SIGKILL cut off was read back, not sent again.
	totals := h.sendWritesTotals()
	t.Logf("write queue rounds: %d calls, %d writes sent, %d dead, %d found applied after the SIGKILL (read back, not resent)",
		totals.Calls, totals.Sent, totals.Dead, totals.Verified)
	require.Positive(t, totals.Verified, "no batch was left in doubt by the SIGKILL")

	h.recordHistories(map[string]string{"writes-contacts.json": workflows.WritesID(h.integration, crm.Contacts)})
}

// sendWritesTotals sums the results of the write queue's completed SendWrites rounds, from
// its workflow history.
func (h *harness) sendWritesTotals() activities.SendWritesResult {
	h.t.Helper()
	var total activities.SendWritesResult
	types := map[int64]string{}
	it := h.client.GetWorkflowHistory(h.t.Context(), workflows.WritesID(h.integration, crm.Contacts), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(h.t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		a := ev.GetActivityTaskCompletedEventAttributes()
		if a == nil || types[a.GetScheduledEventId()] != "SendWrites" {
			continue
		}
		var r activities.SendWritesResult
		require.NoError(h.t, json.Unmarshal(a.GetResult().GetPayloads()[0].GetData(), &r))
		total.Calls += r.Calls
		total.Sent += r.Sent
		total.Dead += r.Dead
		total.Verified += r.Verified
	}
	return total
}

// postEvents sends events through the HTTP intake in requests of 1-50 records; every
// fifth request is sent twice, as a client retrying after a lost answer would.
func postEvents(t *testing.T, h *harness, events []event) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/v1/writes/%s/contacts", h.intakePort, h.integration)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; len(events) > 0; n++ {
		k := min(len(events), 1+rng.IntN(50))
		var body struct {
			Records []map[string]any `json:"records"`
		}
		for _, e := range events[:k] {
			rec := map[string]any{"properties": e.props, "idempotency_key": e.key}
			if e.id != "" {
				rec["id"] = e.id
			}
			body.Records = append(body.Records, rec)
		}
		b, err := json.Marshal(body)
		require.NoError(t, err)
		for range 1 + btoi(n%5 == 0) {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+h.appToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
		}
		events = events[k:]
	}
}

// insertEvents queues events as an application would in its own transactions: a few rows
// per transaction, straight into the outbox.
func insertEvents(t *testing.T, h *harness, events []event) {
	t.Helper()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	for len(events) > 0 {
		k := min(len(events), 1+rng.IntN(20))
		err := pgx.BeginFunc(ctx, h.store.Pool(), func(tx pgx.Tx) error {
			for _, e := range events[:k] {
				props, err := json.Marshal(e.props)
				if err != nil {
					return err
				}
				var id *string
				if e.id != "" {
					id = &e.id
				}
				if _, err := tx.Exec(ctx, `INSERT INTO write_outbox (integration, object, record_id, properties, idempotency_key, app)
					VALUES ($1, 'contacts', $2, $3, $4, 'orders')`, h.integration, id, props, e.key); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
		events = events[k:]
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

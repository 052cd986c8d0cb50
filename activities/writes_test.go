package activities_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crmsim"
	"github.com/crmsync/crmsync/internal/store"
)

type writeWorld struct {
	*world
	conn *hubspot.Client
	mu   sync.Mutex
	now  time.Time
}

func (w *writeWorld) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *writeWorld) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func setupWrites(t *testing.T, simOpts crmsim.Options) *writeWorld {
	t.Helper()
	w := &writeWorld{now: time.Now()}
	w.world, w.conn = newWorld(t, simOpts, "good-token", func(cfg *config.Integration, opts *activities.Options) {
		cfg.Writes = &config.Writes{Objects: map[crm.Object]config.WriteObject{crm.Contacts: {IDProperty: "email"}}, MaxRecordBytes: 10000}
		opts.MaxSlotWait, opts.Now = time.Second, w.clock
	})
	require.NoError(t, w.store.SetWriteTargets(t.Context(), []store.WriteTarget{{Integration: "acme", Object: "contacts", IDProperty: "email", MaxBytes: 10000}}))
	return w
}

func (w *writeWorld) queue(t *testing.T, docs ...string) []store.Queued {
	t.Helper()
	var ws []store.QueuedWrite
	for _, d := range docs {
		ws = append(ws, store.QueuedWrite{Integration: "acme", Object: "contacts", Properties: json.RawMessage(d)})
	}
	q, err := w.store.QueueWrites(t.Context(), ws)
	require.NoError(t, err)
	return q
}

func (w *writeWorld) contact(t *testing.T, email string) (crmsim.Record, bool) {
	t.Helper()
	snap, err := w.sim.Snapshot("contacts")
	require.NoError(t, err)
	for _, r := range snap {
		if r.Properties["email"] == email {
			return r, true
		}
	}
	return crmsim.Record{}, false
}

// One call sends every record; HubSpot's 207 settles each on its own: refused ones are
// dead letters with its words, retryable failures wait out a backoff, the rest are sent.
func TestSendWritesSettlesEachRecordByTheCRMsAnswer(t *testing.T) {
	t.Parallel()
	w := setupWrites(t, crmsim.Options{Seed: 1, Contacts: 10, WriteFaults: crmsim.WriteFaults{Count: 1}})
	ctx := t.Context()
	w.queue(t,
		`{"email":"a@example.com","firstname":"A"}`,
		`{"email":"b@example.com","firstname":"B"}`,
		`{"email":"c@example.com","firstname":"C"}`,
		`{"email":"a@example.com","lastname":"Alpha"}`,
		`{"email":"not-an-address","firstname":"X"}`,
		`{"email":"d@example.com","lifecyclestage":"no-such-stage"}`)

	res, err := w.acts.SendWrites(ctx, w.ref)
	require.NoError(t, err)
	require.Equal(t, 1, res.Calls)
	require.Equal(t, 5, res.Records, "a@example.com's two writes are one record")
	require.Equal(t, 2, res.Dead)
	require.Equal(t, 2, res.Retrying, "the injected retryable failure hit the first record, a@example.com's two writes")
	require.Equal(t, 2, res.Sent)
	require.False(t, res.More, "the retried write is not due yet")
	require.False(t, res.NextAt.IsZero())

	dead, err := w.store.DeadLetters(ctx, store.DeadLetterFilter{}, 0)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	for _, d := range dead {
		require.Equal(t, "VALIDATION_ERROR", d.Category)
	}
	require.Contains(t, dead[0].Message+dead[1].Message, "INVALID_EMAIL")
	require.Contains(t, dead[0].Message+dead[1].Message, "INVALID_OPTION")

	// Nothing is due until the backoff ends: no call.
	res, err = w.acts.SendWrites(ctx, w.ref)
	require.NoError(t, err)
	require.Zero(t, res.Calls)
	w.advance(time.Until(res.NextAt) + time.Second)
	res, err = w.acts.SendWrites(ctx, w.ref)
	require.NoError(t, err)
	require.Equal(t, activities.SendWritesResult{Records: 1, Calls: 1, Sent: 2}, res)

	a, ok := w.contact(t, "a@example.com")
	require.True(t, ok)
	require.Equal(t, "A", a.Properties["firstname"])
	require.Equal(t, "Alpha", a.Properties["lastname"])
	for _, e := range []string{"b@example.com", "c@example.com"} {
		_, ok := w.contact(t, e)
		require.True(t, ok, e)
	}
	require.Zero(t, w.sim.WriteStats().Duplicates)
}

// A batch whose sender died on its way is in doubt: the next round reads its records back,
// takes those HubSpot holds as sent, and sends only the others, so nothing is applied twice.
func TestSendWritesReadsBackABatchInDoubt(t *testing.T) {
	t.Parallel()
	w := setupWrites(t, crmsim.Options{Seed: 1, Contacts: 10})
	ctx := t.Context()
	w.queue(t, `{"email":"a@example.com","firstname":"A"}`, `{"email":"b@example.com","firstname":"B"}`, `{"email":"c@example.com","firstname":"C"}`)

	// A worker claimed the batch and sent two of its records before it died.
	b, _, err := w.store.ClaimWrites(ctx, "acme", "contacts", "dead-worker/1", 1, 100, w.clock(), time.Minute)
	require.NoError(t, err)
	require.Len(t, b.Inputs, 3)
	var sent []crm.WriteInput
	for _, in := range b.Inputs[:2] {
		sent = append(sent, crm.WriteInput{TraceID: in.TraceID, ID: in.Key, IDProperty: "email", Properties: in.Properties})
	}
	_, err = w.conn.Upsert(ctx, crm.Contacts, sent)
	require.NoError(t, err)

	// Its lease has not run out: the batch may still be on its way.
	_, err = w.acts.SendWrites(ctx, w.ref)
	require.Error(t, err)
	require.Contains(t, err.Error(), "is on its way")

	w.advance(2 * time.Minute)
	res, err := w.acts.SendWrites(ctx, w.ref)
	require.NoError(t, err)
	require.Equal(t, 1, res.Calls, "one batch read")
	require.Equal(t, 2, res.Verified)
	require.Equal(t, 2, res.Sent)
	require.True(t, res.More, "the record it never sent is queued again")

	res, err = w.acts.SendWrites(ctx, w.ref)
	require.NoError(t, err)
	require.Equal(t, 1, res.Records)
	require.Equal(t, 1, res.Sent)
	_, ok := w.contact(t, "c@example.com")
	require.True(t, ok)
	ws := w.sim.WriteStats()
	require.Zero(t, ws.Duplicates, "no queued version applied twice")
	require.Equal(t, 3, ws.Applied)
	for _, in := range b.Inputs {
		require.Equal(t, 1, w.sim.AppliedCount(in.TraceID), fmt.Sprint(in.Key))
	}
}

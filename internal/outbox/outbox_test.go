package outbox_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/outbox"
	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/store"
)

type wakes struct {
	mu    sync.Mutex
	calls []string
}

func (w *wakes) wake(_ context.Context, integration, object string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, integration+"/"+object)
	return nil
}

func (w *wakes) count(stream string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if c == stream {
			n++
		}
	}
	return n
}

// Writes queued before the dispatcher starts wake their stream at once; a commit wakes it
// within moments, once for a burst of commits; streams the worker does not serve are left
// alone.
func TestDispatcherWakesTheStreamsWithQueuedWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := store.Open(ctx, pgtest.Schema(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	// NOTIFY is database-wide: integration names unique to this test keep other tests'
	// notifications out of its counts.
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	a, b := "outbox-a-"+suffix, "outbox-b-"+suffix
	require.NoError(t, s.SetWriteTargets(ctx, []store.WriteTarget{
		{Integration: a, Object: "contacts", IDProperty: "email", MaxBytes: 1000},
		{Integration: b, Object: "contacts", IDProperty: "email", MaxBytes: 1000},
	}))
	queue := func(integration string, n int) {
		var ws []store.QueuedWrite
		for range n {
			ws = append(ws, store.QueuedWrite{Integration: integration, Object: "contacts", Properties: json.RawMessage(`{"email":"a@b.c"}`)})
		}
		_, err := s.QueueWrites(ctx, ws)
		require.NoError(t, err)
	}
	queue(a, 1)

	var w wakes
	d, err := outbox.New(outbox.Options{Pool: s.Pool(), Store: s, Wake: w.wake, Streams: map[string]bool{a + "/contacts": true},
		PollEvery: time.Hour, Gather: 50 * time.Millisecond})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(runCtx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	require.Eventually(t, func() bool { return w.count(a+"/contacts") == 1 }, 10*time.Second, 10*time.Millisecond,
		"the write queued before the start")

	for range 5 {
		queue(a, 3)
	}
	queue(b, 1)
	require.Eventually(t, func() bool { return w.count(a+"/contacts") >= 2 }, 10*time.Second, 10*time.Millisecond, "a commit wakes the stream")
	time.Sleep(300 * time.Millisecond)
	require.LessOrEqual(t, w.count(a+"/contacts"), 6, "at most one wake-up per commit, fewer when they come together")
	require.Zero(t, w.count(b+"/contacts"), "a stream this worker does not serve")
}

// Package outbox wakes the write queue. Applications queue writes in PostgreSQL (the
// write_outbox table, directly or through the HTTP intake); the outbox's trigger sends a
// crmsync_writes notification when their transaction commits. The Dispatcher listens for
// it, and polls the outbox now and then for anything a lost notification left, and wakes
// each stream's WriteQueue workflow. It never reads record data and never calls a CRM.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/crmsync/crmsync/internal/store"
)

// Channel is the PostgreSQL notification channel the outbox trigger notifies, with
// "integration/object" as the payload.
const Channel = "crmsync_writes"

// Waker wakes (or starts) the WriteQueue workflow of a stream.
type Waker func(ctx context.Context, integration, object string) error

// Options configures a Dispatcher.
type Options struct {
	Pool  *pgxpool.Pool
	Store *store.Store
	Wake  Waker
	// Streams are the "integration/object" pairs this worker serves; notifications for
	// others are left to the workers that serve them.
	Streams map[string]bool
	Logger  *zap.Logger
	// PollEvery is how often the outbox is polled besides notifications (default 30 s).
	PollEvery time.Duration
	// Gather is how long a notification waits for others before the wake-ups go out, so
	// that a burst of commits wakes each stream once (default 20 ms).
	Gather time.Duration
	// KeepSent is how long sent writes (and their idempotency keys) are kept (default 7 days).
	KeepSent time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Dispatcher turns committed writes into WriteQueue wake-ups.
type Dispatcher struct {
	opts      Options
	lastPrune time.Time
}

// New builds a Dispatcher.
func New(opts Options) (*Dispatcher, error) {
	if opts.Pool == nil || opts.Store == nil || opts.Wake == nil {
		return nil, errors.New("outbox: Pool, Store and Wake are required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = 30 * time.Second
	}
	if opts.Gather <= 0 {
		opts.Gather = 20 * time.Millisecond
	}
	if opts.KeepSent <= 0 {
		opts.KeepSent = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dispatcher{opts: opts}, nil
}

// Run dispatches until ctx ends. Losing the listening connection is not fatal: it
// reconnects, and the poll catches what was committed meanwhile.
func (d *Dispatcher) Run(ctx context.Context) {
	log := d.opts.Logger
	for ctx.Err() == nil {
		err := d.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listening for queued writes; reconnecting", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (d *Dispatcher) listen(ctx context.Context) error {
	pooled, err := d.opts.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// LISTEN belongs to the connection: never hand it back to the pool listening.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a connection we are done with
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	// Whatever was queued before we listened.
	d.poll(ctx)
	nextPoll := d.opts.Now().Add(d.opts.PollEvery)
	pending := map[string]bool{}
	for {
		wait := nextPoll.Sub(d.opts.Now())
		if len(pending) > 0 {
			wait = min(wait, d.opts.Gather)
		}
		waitCtx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			pending[n.Payload] = true
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case conn.IsClosed() || !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("waiting for notifications: %w", err)
		}
		for stream := range pending {
			d.wake(ctx, stream)
		}
		clear(pending)
		if !d.opts.Now().Before(nextPoll) {
			d.poll(ctx)
			nextPoll = d.opts.Now().Add(d.opts.PollEvery)
		}
	}
}

// poll wakes every stream with writes open in the outbox, and prunes old sent writes.
func (d *Dispatcher) poll(ctx context.Context) {
	keys, err := d.opts.Store.OpenWriteStreams(ctx)
	if err != nil {
		d.opts.Logger.Warn("polling the write outbox", zap.Error(err))
		return
	}
	for _, k := range keys {
		d.wake(ctx, k.Integration+"/"+k.Object)
	}
	if now := d.opts.Now(); now.Sub(d.lastPrune) > time.Hour {
		d.lastPrune = now
		n, err := d.opts.Store.PruneSentWrites(ctx, now.Add(-d.opts.KeepSent))
		if err != nil {
			d.opts.Logger.Warn("pruning sent writes", zap.Error(err))
		} else if n > 0 {
			d.opts.Logger.Info("pruned sent writes", zap.Int64("writes", n), zap.Duration("kept_for", d.opts.KeepSent))
		}
	}
}

func (d *Dispatcher) wake(ctx context.Context, stream string) {
	if !d.opts.Streams[stream] {
		return
	}
	integration, object, _ := strings.Cut(stream, "/")
	if err := d.opts.Wake(ctx, integration, object); err != nil && ctx.Err() == nil {
		// The poll tries again; the writes wait in the outbox meanwhile.
		d.opts.Logger.Warn("waking the write queue", zap.String("integration", integration), zap.String("object", object), zap.Error(err))
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// consumerRequestTimeout bounds one request of the other consumer.
const consumerRequestTimeout = 30 * time.Second

// consumerCounts is what the other consumer did, counted by itself.
type consumerCounts struct {
	// Calls are the requests the CRM answered (and so counted).
	Calls int `json:"calls"`
	// RateLimited are the 429s among them.
	RateLimited int `json:"rate_limited"`
	// Failed are requests that got no answer at all.
	Failed int `json:"failed"`
}

// consumer is another application sharing crmsync's token: it calls the CRM at a steady
// pace, ignoring 429s, as a badly behaved neighbour would.
type consumer struct {
	url, token string
	interval   time.Duration
	client     *http.Client

	calls, rateLimited, failed atomic.Int64
	stop                       context.CancelFunc
	wg                         sync.WaitGroup
}

// consumerInterval is the time between the calls of a consumer that uses share (0..1] of a
// quota of limit calls per 10 s.
func consumerInterval(limit int, share float64) time.Duration {
	return time.Duration(float64(10*time.Second) / (float64(limit) * share))
}

// startConsumer starts calling baseURL's companies listing (one record a call) with token
// every interval, each call in its own goroutine so that a slow answer never slows the
// pace.
func startConsumer(baseURL, token string, interval time.Duration) *consumer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{
		url:      baseURL + "/crm/v3/objects/companies?limit=1",
		token:    token,
		interval: interval,
		client:   &http.Client{Timeout: consumerRequestTimeout},
		stop:     cancel,
	}
	c.wg.Go(func() { c.loop(ctx) })
	return c
}

// loop fires one call per tick until ctx ends.
func (c *consumer) loop(ctx context.Context) {
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		c.wg.Go(func() { c.call(ctx) })
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// call makes one request and counts its outcome.
func (c *consumer) call(ctx context.Context) {
	// The request may outlive the stop signal: it was sent, so its answer counts.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, c.url, nil)
	if err != nil {
		c.failed.Add(1)
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	// Its own name, so the simulator counts it apart from crmsync.
	req.Header.Set("User-Agent", "bench-consumer/1")
	resp, err := c.client.Do(req)
	if err != nil {
		c.failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.calls.Add(1)
	if resp.StatusCode == http.StatusTooManyRequests {
		c.rateLimited.Add(1)
	}
}

// finish stops the consumer, waits for its calls in flight, and returns its counts.
func (c *consumer) finish() consumerCounts {
	c.stop()
	c.wg.Wait()
	return consumerCounts{
		Calls:       int(c.calls.Load()),
		RateLimited: int(c.rateLimited.Load()),
		Failed:      int(c.failed.Load()),
	}
}

// String summarises the counts for the table.
func (cc consumerCounts) String() string {
	s := fmt.Sprintf("%d calls / %d 429s", cc.Calls, cc.RateLimited)
	if cc.Failed > 0 {
		s += fmt.Sprintf(" / %d failed", cc.Failed)
	}
	return s
}

package crm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
)

// wideCRM is a CRM whose requests carry a limited number of properties: a list at most
// listFits (and refused as too long past listLimit, which it learns from), a batch read
// at most readFits. Every record has every property; version v of a record holds
// "<prop>@v<v>" in each, so a record mixed from two versions shows.
type wideCRM struct {
	mu         sync.Mutex // a page's reads by id go out together
	props      []string
	ids        []string
	version    map[string]int
	deleted    map[string]bool
	listFits   int
	listLimit  int // a list naming more is refused with a 414 (0: no limit)
	readFits   int
	batchSize  int
	beforeCall func(n int) // called before the n-th request (from 1)
	calls      int
	requests   []string // what each request was: "list 4", "read 3x2" (props x ids)
	// inFlight and maxInFlight count the batch reads under way at once.
	inFlight, maxInFlight int
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newWideCRM(nRecords, nProps int) *wideCRM {
	c := &wideCRM{version: map[string]int{}, deleted: map[string]bool{}, batchSize: 100}
	for i := range nProps {
		c.props = append(c.props, fmt.Sprintf("p%02d", i))
	}
	for i := range nRecords {
		id := strconv.Itoa(101 + i)
		c.ids = append(c.ids, id)
		c.version[id] = 1
	}
	return c
}

func (c *wideCRM) record(id string, props []string) crm.Record {
	v := c.version[id]
	m := map[string]string{}
	for _, p := range props {
		m[p] = fmt.Sprintf("%s@v%d", p, v)
	}
	b, _ := json.Marshal(m)
	return crm.Record{ID: id, UpdatedAt: t0.Add(time.Duration(v) * time.Second), Properties: b}
}

// call records a request; the caller holds c.mu.
func (c *wideCRM) call(what string) {
	c.calls++
	if c.beforeCall != nil {
		c.beforeCall(c.calls)
	}
	c.requests = append(c.requests, what)
}

func (c *wideCRM) Provider() string { return "wide" }
func (c *wideCRM) PageSize() int    { return 100 }
func (c *wideCRM) BatchSize() int   { return c.batchSize }

func (c *wideCRM) List(_ context.Context, req crm.ListRequest) (crm.Page, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.call(fmt.Sprintf("list %d", len(req.Properties)))
	if c.listLimit > 0 && len(req.Properties) > c.listLimit {
		c.listFits = len(req.Properties) / 2 // learns, as a connector does from a 414
		return crm.Page{}, &crm.APIError{Kind: crm.KindInvalid, Status: http.StatusRequestURITooLong, Endpoint: "GET /list"}
	}
	var page crm.Page
	for _, id := range c.ids {
		if !c.deleted[id] {
			page.Records = append(page.Records, c.record(id, req.Properties))
		}
	}
	return page, nil
}

func (c *wideCRM) Changes(context.Context, crm.ChangesRequest) (crm.ChangePage, error) {
	return crm.ChangePage{}, errors.New("not used")
}

func (c *wideCRM) BatchRead(_ context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	// In flight for a moment, as a call to a CRM is, so reads sent together overlap.
	c.mu.Lock()
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
	c.call(fmt.Sprintf("read %dx%d", len(req.Properties), len(req.IDs)))
	var page crm.Page
	for _, id := range req.IDs {
		if _, ok := c.version[id]; ok && !c.deleted[id] {
			page.Records = append(page.Records, c.record(id, req.Properties))
		}
	}
	return page, nil
}

func (c *wideCRM) Owners(context.Context, string) (crm.OwnerPage, error) { return crm.OwnerPage{}, nil }
func (c *wideCRM) Pipelines(context.Context, crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	return nil, crm.RateLimit{}, nil
}
func (c *wideCRM) Properties(context.Context, crm.Object) ([]crm.Property, crm.RateLimit, error) {
	return nil, crm.RateLimit{}, nil
}

func (c *wideCRM) FitProperties(s crm.Shape, props []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Op == crm.OpList {
		return min(len(props), c.listFits)
	}
	return min(len(props), c.readFits)
}

// reader sends every request straight through, counting them.
func (c *wideCRM) reader() crm.Reader {
	return crm.Reader{Conn: c, Send: func(ctx context.Context, _ crm.Op, do func(context.Context) (crm.RateLimit, error)) error {
		_, err := do(ctx)
		return err
	}}
}

// requireWhole checks that every record holds every property, all from one version: the
// version its UpdatedAt says.
func requireWhole(t *testing.T, c *wideCRM, recs []crm.Record) {
	t.Helper()
	for _, r := range recs {
		var m map[string]string
		require.NoError(t, json.Unmarshal(r.Properties, &m), r.ID)
		v := int(r.UpdatedAt.Sub(t0) / time.Second)
		require.Len(t, m, len(c.props), "record %s", r.ID)
		for _, p := range c.props {
			require.Equal(t, fmt.Sprintf("%s@v%d", p, v), m[p], "record %s property %s", r.ID, p)
		}
	}
}

func TestReaderListReadsWhatTheListCannotCarryByID(t *testing.T) {
	t.Parallel()
	c := newWideCRM(5, 10)
	c.listFits, c.readFits = 4, 3
	page, calls, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	require.Len(t, page.Records, 5)
	requireWhole(t, c, page.Records)
	require.Equal(t, []string{"list 4", "read 3x5", "read 3x5"}, c.requests)
	require.Equal(t, 2, c.maxInFlight, "the two reads by id went out together")
	require.Equal(t, crm.Calls{Page: 1, Fill: 2}, calls)
	require.Equal(t, []string{"101", "102", "103", "104", "105"}, ids(page.Records))
}

func TestReaderListSendsOneRequestWhenEverythingFits(t *testing.T) {
	t.Parallel()
	c := newWideCRM(3, 10)
	c.listFits, c.readFits = 10, 10
	page, calls, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	requireWhole(t, c, page.Records)
	require.Equal(t, []string{"list 10"}, c.requests)
	require.Equal(t, 1, calls.Total())
}

func TestReaderRereadsARecordThatChangedBetweenPieces(t *testing.T) {
	t.Parallel()
	c := newWideCRM(4, 9)
	c.listFits, c.readFits = 3, 3
	// Record 102 is edited after the list read its first three properties and before the
	// second piece: a naive merge would store p00-p02 of version 1 with the rest of version 2.
	c.beforeCall = func(n int) {
		if n == 2 {
			c.version["102"] = 2
		}
	}
	page, calls, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	require.Len(t, page.Records, 4)
	requireWhole(t, c, page.Records)
	require.Equal(t, t0.Add(2*time.Second), page.Records[1].UpdatedAt, "record 102 is read again whole, at its new version")
	// The two other groups go out together; reading the record that moved again, whole,
	// takes three.
	require.Equal(t, []string{"list 3", "read 3x1", "read 3x1", "read 3x1", "read 3x4", "read 3x4"}, sorted(c.requests))
	require.Equal(t, 3, calls.Reread)
}

func TestReaderLeavesOutARecordDeletedBetweenPieces(t *testing.T) {
	t.Parallel()
	c := newWideCRM(3, 6)
	c.listFits, c.readFits = 3, 3
	c.beforeCall = func(n int) {
		if n == 2 {
			c.deleted["102"] = true
		}
	}
	page, _, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	requireWhole(t, c, page.Records)
	require.Equal(t, []string{"101", "103"}, ids(page.Records), "the deleted record's partial copy is not returned")
}

func TestReaderFailsRetryablyWhenARecordNeverHoldsStill(t *testing.T) {
	t.Parallel()
	c := newWideCRM(2, 6)
	c.listFits, c.readFits = 3, 3
	c.beforeCall = func(int) { c.version["101"]++ }
	_, _, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	var ae *crm.APIError
	require.ErrorAs(t, err, &ae)
	require.True(t, ae.Retryable(), "the next attempt may find the record quieter: %v", err)
	require.Contains(t, ae.Message, "changed between the requests")
}

func TestReaderPlansSmallerAfterARefusalForLength(t *testing.T) {
	t.Parallel()
	c := newWideCRM(3, 12)
	c.listFits, c.listLimit, c.readFits = 12, 5, 12
	page, calls, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	requireWhole(t, c, page.Records)
	require.Equal(t, []string{"list 12", "list 6", "list 3", "read 9x3"}, c.requests)
	require.Equal(t, crm.Calls{Page: 1, Fill: 1, Refused: 2}, calls)
}

func TestReaderNamesTheConfigWhenNothingFits(t *testing.T) {
	t.Parallel()
	c := newWideCRM(3, 4)
	c.listFits, c.readFits = 0, 4
	_, _, err := c.reader().List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.ErrorContains(t, err, "properties:")
	require.Empty(t, c.requests, "nothing is sent that cannot succeed")
}

func TestReaderBatchReadsInGroupsAndChunks(t *testing.T) {
	t.Parallel()
	c := newWideCRM(5, 7)
	c.readFits, c.batchSize = 3, 2
	page, calls, err := c.reader().BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts,
		IDs: []string{"101", "103", "999", "105"}, Properties: c.props})
	require.NoError(t, err)
	require.Equal(t, []string{"101", "103", "105"}, ids(page.Records), "an id the CRM does not have is left out")
	requireWhole(t, c, page.Records)
	// Three groups of properties (3, 3, 1); the first over all four ids in chunks of two,
	// then the others together over the three found.
	require.Equal(t, []string{"read 3x2", "read 3x2"}, c.requests[:2])
	require.Equal(t, []string{"read 1x1", "read 1x2", "read 3x1", "read 3x2"}, sorted(c.requests[2:]))
	require.Equal(t, 6, calls.Fill)
}

func TestReaderSendsOneRequestForAConnectorWithoutLimits(t *testing.T) {
	t.Parallel()
	c := newWideCRM(3, 8)
	r := crm.Reader{Conn: unlimited{c}, Send: c.reader().Send}
	page, calls, err := r.List(t.Context(), crm.ListRequest{Object: crm.Contacts, Properties: c.props})
	require.NoError(t, err)
	requireWhole(t, c, page.Records)
	require.Equal(t, []string{"list 8"}, c.requests)
	require.Equal(t, 1, calls.Total())
}

// unlimited hides wideCRM's FitProperties: a connector that carries any number.
type unlimited struct{ c *wideCRM }

func (u unlimited) Provider() string { return u.c.Provider() }
func (u unlimited) PageSize() int    { return u.c.PageSize() }
func (u unlimited) BatchSize() int   { return u.c.BatchSize() }
func (u unlimited) List(ctx context.Context, req crm.ListRequest) (crm.Page, error) {
	return u.c.List(ctx, req)
}
func (u unlimited) Changes(ctx context.Context, req crm.ChangesRequest) (crm.ChangePage, error) {
	return u.c.Changes(ctx, req)
}
func (u unlimited) BatchRead(ctx context.Context, req crm.BatchReadRequest) (crm.Page, error) {
	return u.c.BatchRead(ctx, req)
}
func (u unlimited) Owners(ctx context.Context, after string) (crm.OwnerPage, error) {
	return u.c.Owners(ctx, after)
}
func (u unlimited) Pipelines(ctx context.Context, o crm.Object) ([]crm.Pipeline, crm.RateLimit, error) {
	return u.c.Pipelines(ctx, o)
}
func (u unlimited) Properties(ctx context.Context, o crm.Object) ([]crm.Property, crm.RateLimit, error) {
	return u.c.Properties(ctx, o)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func ids(recs []crm.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return slices.Clip(out)
}

func TestURIBudgetOnlyFallsToHalfWhatWasRefused(t *testing.T) {
	t.Parallel()
	b := crm.NewURIBudget(15000)
	b.Refused(15000)
	require.Equal(t, 7500, b.Bytes())
	b.Refused(20000) // a refusal of something longer than the budget teaches nothing new
	require.Equal(t, 7500, b.Bytes())
	b.Refused(7000)
	require.Equal(t, 3500, b.Bytes())
}

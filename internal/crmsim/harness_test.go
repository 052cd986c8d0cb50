package crmsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testToken = "pat-na1-test-token-1"

// fakeClock is an injectable clock that only moves when a test moves it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a Sim behind an httptest server, on a fake clock unless opts.Now is set.
type harness struct {
	sim    *Sim
	srv    *httptest.Server
	clock  *fakeClock
	client *http.Client
}

func setup(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock()}
	if opts.Now == nil {
		opts.Now = h.clock.Now
	}
	if len(opts.Tokens) == 0 {
		opts.Tokens = []string{testToken}
	}
	sim, err := New(opts)
	require.NoError(t, err)
	h.sim = sim
	h.srv = httptest.NewServer(sim.Handler())
	t.Cleanup(h.srv.Close)
	h.client = &http.Client{Timeout: 10 * time.Second}
	return h
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// call sends one request with the given token ("" sends no Authorization header).
func (h *harness) call(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) get(t *testing.T, path string) response {
	t.Helper()
	return h.call(t, http.MethodGet, path, testToken, nil)
}

func (h *harness) post(t *testing.T, path string, body any) response {
	t.Helper()
	return h.call(t, http.MethodPost, path, testToken, body)
}

// apiRecord decodes one record of an API response.
type apiRecord struct {
	ID           string                      `json:"id"`
	Properties   map[string]*string          `json:"properties"`
	CreatedAt    string                      `json:"createdAt"`
	UpdatedAt    string                      `json:"updatedAt"`
	Archived     bool                        `json:"archived"`
	ArchivedAt   string                      `json:"archivedAt"`
	Associations map[string]map[string][]any `json:"associations"`
}

// page decodes list, search and batch responses.
type page struct {
	Total   int         `json:"total"`
	Results []apiRecord `json:"results"`
	Paging  *struct {
		Next struct {
			After string `json:"after"`
			Link  string `json:"link"`
		} `json:"next"`
	} `json:"paging"`
}

func decodePage(t *testing.T, r response) page {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var p page
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p
}

// searchAll pages through a search request and returns the ids in order.
func (h *harness) searchAll(t *testing.T, object string, req map[string]any) []string {
	t.Helper()
	var ids []string
	after := "0"
	for {
		req["after"] = after
		p := decodePage(t, h.post(t, "/crm/v3/objects/"+object+"/search", req))
		for _, r := range p.Results {
			ids = append(ids, r.ID)
		}
		if p.Paging == nil {
			return ids
		}
		after = p.Paging.Next.After
	}
}

// liveIDs returns the ids of non-archived records in snapshot order.
func liveIDs(recs []Record) []string {
	var ids []string
	for _, r := range recs {
		if !r.Archived {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func snapshot(t *testing.T, s *Sim, object string) []Record {
	t.Helper()
	recs, err := s.Snapshot(object)
	require.NoError(t, err)
	return recs
}

func mutate(t *testing.T, s *Sim, spec MutationSpec) MutationResult {
	t.Helper()
	res, err := s.Mutate(spec)
	require.NoError(t, err)
	return res
}

// Package crmtest serves the connectors' tests: a CRM stand-in that answers every request
// with whatever a fuzz input says, so that each connector's response parsers can be fed
// any status, headers and body through their real HTTP path.
package crmtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Response is one scripted answer. Headers holds the values of the server's header names,
// in order, separated by "|" (an empty field sends no header), so that a seed corpus stays
// readable.
type Response struct {
	Status      int
	ContentType string
	Headers     string
	Body        string
}

// Server answers every request with the last Response it was given. One server serves one
// fuzz target, whose inputs run one after another.
type Server struct {
	// URL is the server's base URL.
	URL string

	headerNames []string
	mu          sync.Mutex
	next        Response
}

// NewServer starts a server that sends the named headers, and stops it when tb ends.
func NewServer(tb testing.TB, headerNames ...string) *Server {
	tb.Helper()
	s := &Server{headerNames: headerNames}
	srv := httptest.NewServer(http.HandlerFunc(s.answer))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Server) answer(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	resp := s.next
	s.mu.Unlock()
	for i, v := range strings.Split(resp.Headers, "|") {
		if i < len(s.headerNames) && v != "" {
			w.Header().Set(s.headerNames[i], v)
		}
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write([]byte(resp.Body))
}

// Serve sets the next answer and returns the status it will have: statuses outside
// 200-599 are folded into that range, as net/http rejects or treats them as informational.
func (s *Server) Serve(status int, contentType, headers, body string) int {
	if status < 200 || status > 599 {
		if status < 0 {
			status = -(status + 1)
		}
		status = 200 + status%400
	}
	s.mu.Lock()
	s.next = Response{Status: status, ContentType: contentType, Headers: headers, Body: body}
	s.mu.Unlock()
	return status
}

package crmsim

import (
	"errors"
	"net/http"
)

// ZohoOptions configures the Zoho dialect. (Placeholder until the dialect lands.)
type ZohoOptions struct{}

func (o *ZohoOptions) applyDefaults() {}

func (o *ZohoOptions) validate() []error { return nil }

// zohoState is the Zoho dialect's own rate-limit state.
type zohoState struct{}

func newZohoState(*Sim) *zohoState { return &zohoState{} }

func (s *Sim) serveZoho(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "zoho dialect not implemented", http.StatusNotFound)
}

func (s *Sim) zohoSnapshot(string) ([]Record, error) {
	return nil, errors.New("zoho dialect not implemented")
}

func (s *Sim) serveZohoToken(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "zoho dialect not implemented", http.StatusNotFound)
}

package crmsim

import (
	"errors"
	"net/http"
)

// SalesforceOptions configures the Salesforce dialect. (Placeholder until the dialect lands.)
type SalesforceOptions struct{}

func (o *SalesforceOptions) applyDefaults() {}

func (o *SalesforceOptions) validate() []error { return nil }

// salesforceState is the Salesforce dialect's own rate-limit state.
type salesforceState struct{}

func newSalesforceState(*Sim) *salesforceState { return &salesforceState{} }

func (s *Sim) serveSalesforce(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "salesforce dialect not implemented", http.StatusNotFound)
}

func (s *Sim) salesforceSnapshot(string) ([]Record, error) {
	return nil, errors.New("salesforce dialect not implemented")
}

package crmsim

import (
	"errors"
	"net/http"
)

// PipedriveOptions configures the Pipedrive dialect. (Placeholder until the dialect lands.)
type PipedriveOptions struct{}

func (o *PipedriveOptions) applyDefaults() {}

func (o *PipedriveOptions) validate() []error { return nil }

// pipedriveState is the Pipedrive dialect's own rate-limit state.
type pipedriveState struct{}

func newPipedriveState(*Sim) *pipedriveState { return &pipedriveState{} }

func (s *Sim) servePipedrive(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "pipedrive dialect not implemented", http.StatusNotFound)
}

func (s *Sim) pipedriveSnapshot(string) ([]Record, error) {
	return nil, errors.New("pipedrive dialect not implemented")
}

func (s *Sim) servePipedriveToken(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "pipedrive dialect not implemented", http.StatusNotFound)
}

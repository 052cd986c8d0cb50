package crm

import (
	"context"
	"errors"
)

// TokenSource supplies the access token a connector sends with each request. Static API
// tokens (HubSpot private apps, Pipedrive API tokens) never change; OAuth access tokens
// (Salesforce, Zoho, Pipedrive OAuth) expire and are refreshed from a refresh token held in
// the worker's secret config. Tokens live only in the worker's memory: never in workflow
// inputs, results or errors.
type TokenSource interface {
	// Token returns a current access token, refreshing it first when it is known to have
	// expired. Concurrent callers share one refresh per credential.
	Token(ctx context.Context) (string, error)
	// Expired reports that the CRM rejected tok as expired or revoked. It returns true when
	// the source can obtain another token (the next Token call does, once, however many
	// callers report the same tok), false when the credential itself must be fixed.
	Expired(tok string) bool
}

// StaticToken is a TokenSource for a token that is used as is and cannot be refreshed.
type StaticToken string

// Token returns the token; an empty one is an error.
func (t StaticToken) Token(context.Context) (string, error) {
	if t == "" {
		return "", errors.New("no access token configured")
	}
	return string(t), nil
}

// Expired reports that a static token cannot be replaced.
func (t StaticToken) Expired(string) bool { return false }

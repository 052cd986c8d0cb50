// Package provider builds the Connector for an integration's CRM from its configuration,
// keeping the choice of implementation, and of how it authenticates, in one place.
package provider

import (
	"fmt"
	"net/http"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
	"github.com/crmsync/crmsync/internal/crm/pipedrive"
	"github.com/crmsync/crmsync/internal/crm/salesforce"
	"github.com/crmsync/crmsync/internal/crm/zoho"
	"github.com/crmsync/crmsync/internal/oauth"
	"github.com/crmsync/crmsync/internal/ratelimit"
)

// Credential is how an integration authenticates: its token source, and the key that names
// the credential in the quota ledger without revealing it.
type Credential struct {
	Tokens crm.TokenSource
	Key    string
}

// NewCredential reads the integration's secrets from the environment (once, at start) and
// returns its token source: the static token of credential_env, or an OAuth refresher that
// exchanges the refresh token for access tokens as they expire.
func NewCredential(in config.Integration, getenv func(string) string, hc *http.Client) (Credential, error) {
	if in.OAuth == nil {
		token, err := in.Credential(getenv)
		if err != nil {
			return Credential{}, err
		}
		return Credential{Tokens: crm.StaticToken(token), Key: ratelimit.CredentialKey(in.BaseURL, token)}, nil
	}
	sec, err := in.OAuth.Secrets(in.ID, getenv)
	if err != nil {
		return Credential{}, err
	}
	auth := oauth.ClientAuthForm
	if in.Provider == "pipedrive" {
		// Pipedrive's token endpoint takes the client's id and secret as HTTP Basic auth.
		auth = oauth.ClientAuthBasic
	}
	r, err := oauth.NewRefresher(oauth.Config{TokenURL: sec.TokenURL, ClientID: sec.ClientID, ClientSecret: sec.ClientSecret,
		RefreshToken: sec.RefreshToken, ClientAuth: auth, HTTPClient: hc})
	if err != nil {
		return Credential{}, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	// The CRM counts calls per app and account, which the client id and refresh token
	// name; the access tokens change every hour.
	return Credential{Tokens: r, Key: ratelimit.CredentialKey(in.BaseURL, sec.ClientID+"\x00"+sec.RefreshToken)}, nil
}

// New returns the connector for the integration, authenticated by tokens.
func New(in config.Integration, tokens crm.TokenSource, hc *http.Client) (crm.Connector, error) {
	var (
		c   crm.Connector
		err error
	)
	switch in.Provider {
	case "hubspot":
		static, ok := tokens.(crm.StaticToken)
		if !ok {
			return nil, fmt.Errorf("integration %s: hubspot takes a private-app token (credential_env), not oauth", in.ID)
		}
		c, err = hubspot.New(hubspot.Options{BaseURL: in.BaseURL, Token: string(static), HTTPClient: hc, UserAgent: "crmsync"})
	case "salesforce":
		c, err = salesforce.New(salesforce.Options{BaseURL: in.BaseURL, Tokens: tokens, HTTPClient: hc, UserAgent: "crmsync", APIVersion: in.APIVersion})
	case "pipedrive":
		// An OAuth app's access token goes in the Authorization header; an API token in
		// x-api-token. The daily budget is in tokens, which no header states in full.
		_, static := tokens.(crm.StaticToken)
		c, err = pipedrive.New(pipedrive.Options{BaseURL: in.BaseURL, Tokens: tokens, OAuth: !static, DailyTokens: in.Quota.Daily,
			HTTPClient: hc, UserAgent: "crmsync"})
	case "zoho":
		c, err = zoho.New(zoho.Options{BaseURL: in.BaseURL, Tokens: tokens, HTTPClient: hc, UserAgent: "crmsync"})
	default:
		return nil, fmt.Errorf("integration %s: provider %q is not supported", in.ID, in.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	return c, nil
}

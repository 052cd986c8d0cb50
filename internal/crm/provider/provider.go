// Package provider builds the Connector for an integration's CRM from its configuration,
// keeping the choice of implementation in one place.
package provider

import (
	"fmt"
	"net/http"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crm/hubspot"
)

// New returns the connector for the integration, authenticated with token.
func New(in config.Integration, token string, hc *http.Client) (crm.Connector, error) {
	switch in.Provider {
	case "hubspot":
		c, err := hubspot.New(hubspot.Options{BaseURL: in.BaseURL, Token: token, HTTPClient: hc, UserAgent: "crmsync"})
		if err != nil {
			return nil, fmt.Errorf("integration %s: %w", in.ID, err)
		}
		return c, nil
	default:
		return nil, fmt.Errorf("integration %s: provider %q is not supported", in.ID, in.Provider)
	}
}

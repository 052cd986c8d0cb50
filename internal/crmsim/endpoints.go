package crmsim

import "fmt"

// ListEndpoints names the Stats endpoint keys of the calls that page through object's live
// records as provider's API lists them: what a backfill's cost is measured in, against
// ceil(records / page size). Listings of deleted records have keys of their own, not
// these. Salesforce follows every object's query with query_more pages under one key
// shared by all objects (and by queryAll), so callers adding up several objects count that
// key once.
func ListEndpoints(provider, object string) ([]string, error) {
	if _, ok := kindByName(object); !ok {
		return nil, fmt.Errorf("list endpoints: unknown object %q", object)
	}
	switch provider {
	case ProviderHubSpot, "":
		return []string{"list " + object}, nil
	case ProviderSalesforce:
		sobject := map[string]string{"contacts": "Contact", "companies": "Account", "deals": "Opportunity"}[object]
		// A query too long for a GET (a wide object's every field) goes through the
		// Composite API, counted under its subrequest's key.
		return []string{"salesforce query " + sobject, "salesforce composite query " + sobject, "salesforce query_more"}, nil
	case ProviderPipedrive:
		entity := map[string]string{"contacts": "persons", "companies": "organizations", "deals": "deals"}[object]
		return []string{"pipedrive list " + entity}, nil
	case ProviderZoho:
		module := map[string]string{"contacts": "Contacts", "companies": "Accounts", "deals": "Deals"}[object]
		return []string{"zoho list " + module}, nil
	}
	return nil, fmt.Errorf("list endpoints: unknown provider %q", provider)
}

// ReadEndpoints names the stats keys of the endpoints that read object's records by id in
// provider's dialect: a sync's reads of changed records, and the reads that bring a wide
// object's properties its list request could not carry (crm.Reader).
func ReadEndpoints(provider, object string) ([]string, error) {
	if _, ok := kindByName(object); !ok {
		return nil, fmt.Errorf("read endpoints: unknown object %q", object)
	}
	switch provider {
	case ProviderHubSpot, "":
		return []string{"batch_read " + object}, nil
	case ProviderSalesforce:
		sobject := map[string]string{"contacts": "Contact", "companies": "Account", "deals": "Opportunity"}[object]
		return []string{"salesforce retrieve " + sobject}, nil
	case ProviderPipedrive:
		// Pipedrive reads by id with its list endpoint's ids filter: ListEndpoints counts them.
		return nil, nil
	case ProviderZoho:
		module := map[string]string{"contacts": "Contacts", "companies": "Accounts", "deals": "Deals"}[object]
		return []string{"zoho batch_read " + module}, nil
	}
	return nil, fmt.Errorf("read endpoints: unknown provider %q", provider)
}

package activities

import (
	"context"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/ratelimit"
)

// fetcher reads reference data from the CRM for the fleet-wide cache (refdata), one call
// per page under the integration's quota: the cache decides when, and which one worker,
// refreshes.
type fetcher struct{ a *Activities }

// FetchOwners reads every page of the account's owners.
func (f fetcher) FetchOwners(ctx context.Context, integration string) ([]crm.Owner, error) {
	integ, err := f.a.integration(StreamRef{Integration: integration, Object: crm.Contacts})
	if err != nil {
		return nil, err
	}
	var all []crm.Owner
	after := ""
	for {
		var page crm.OwnerPage
		err := f.a.crmCall(ctx, integ, ratelimit.KindWindow, "reading owners of "+integration, func(ctx context.Context) (crm.RateLimit, error) {
			var err error
			page, err = integ.Connector.Owners(ctx, after)
			return page.RateLimit, err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Owners...)
		if page.Next == "" {
			return all, nil
		}
		after = page.Next
	}
}

// FetchPipelines reads an object type's pipelines and their stages.
func (f fetcher) FetchPipelines(ctx context.Context, integration string, obj crm.Object) ([]crm.Pipeline, error) {
	integ, err := f.a.integration(StreamRef{Integration: integration, Object: obj})
	if err != nil {
		return nil, err
	}
	var out []crm.Pipeline
	err = f.a.crmCall(ctx, integ, ratelimit.KindWindow, "reading pipelines of "+integration+"/"+string(obj), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		out, rl, err = integ.Connector.Pipelines(ctx, obj)
		return rl, err
	})
	return out, err
}

// FetchProperties reads an object type's property definitions.
func (f fetcher) FetchProperties(ctx context.Context, integration string, obj crm.Object) ([]crm.Property, error) {
	integ, err := f.a.integration(StreamRef{Integration: integration, Object: obj})
	if err != nil {
		return nil, err
	}
	var out []crm.Property
	err = f.a.crmCall(ctx, integ, ratelimit.KindWindow, "reading properties of "+integration+"/"+string(obj), func(ctx context.Context) (crm.RateLimit, error) {
		var rl crm.RateLimit
		var err error
		out, rl, err = integ.Connector.Properties(ctx, obj)
		return rl, err
	})
	return out, err
}

package hubspot

import (
	"context"
	"fmt"
	"net/http"

	"github.com/crmsync/crmsync/internal/crm"
)

// associationsLimit is how many records one v4 batch read takes (raised from 100 to 1,000
// on 2025-02-10).
const associationsLimit = 1000

var _ crm.AssociationReader = (*Client)(nil)

// AssociationBatchSize is the v4 association batch read's largest input.
func (c *Client) AssociationBatchSize() int { return associationsLimit }

// associationInput is the spec's PublicFetchAssociationsBatchRequest: a record, and where
// its associations continue when a previous page did not hold them all.
type associationInput struct {
	ID    string `json:"id"`
	After string `json:"after,omitempty"`
}

// BatchAssociations reads the first page of each record's associations with POST
// /crm/v4/associations/{from}/{to}/batch/read.
func (c *Client) BatchAssociations(ctx context.Context, from, to crm.Object, ids []string) (crm.AssociationPage, error) {
	inputs := make([]associationInput, len(ids))
	for i, id := range ids {
		inputs[i] = associationInput{ID: id}
	}
	return c.readAssociations(ctx, from, to, inputs)
}

// ContinueAssociations reads the next page of each record's associations, sending each
// record's cursor alongside its id, as the spec says to.
func (c *Client) ContinueAssociations(ctx context.Context, from, to crm.Object, more []crm.AssociationCursor) (crm.AssociationPage, error) {
	inputs := make([]associationInput, len(more))
	for i, m := range more {
		if m.After == "" {
			return crm.AssociationPage{}, fmt.Errorf("hubspot: continuing the associations of %s %s without a cursor", from, m.FromID)
		}
		inputs[i] = associationInput{ID: m.FromID, After: m.After}
	}
	return c.readAssociations(ctx, from, to, inputs)
}

// associationsResponse is the spec's BatchResponsePublicAssociationMultiWithLabel (200) and
// its WithErrors variant (207).
type associationsResponse struct {
	Status  string `json:"status"`
	Results []struct {
		From struct {
			ID flexID `json:"id"`
		} `json:"from"`
		To []struct {
			ToObjectID       flexID `json:"toObjectId"`
			AssociationTypes []struct {
				Category string  `json:"category"`
				TypeID   int     `json:"typeId"`
				Label    *string `json:"label"`
			} `json:"associationTypes"`
		} `json:"to"`
		Paging *paging `json:"paging"`
	} `json:"results"`
	Errors []struct {
		Category    string `json:"category"`
		SubCategory string `json:"subCategory"`
		Message     string `json:"message"`
	} `json:"errors"`
}

func (c *Client) readAssociations(ctx context.Context, from, to crm.Object, inputs []associationInput) (crm.AssociationPage, error) {
	fp, err := objectPath(from)
	if err != nil {
		return crm.AssociationPage{}, err
	}
	tp, err := objectPath(to)
	if err != nil {
		return crm.AssociationPage{}, err
	}
	path := "/crm/v4/associations/" + fp + "/" + tp + "/batch/read"
	endpoint := "POST " + path
	if len(inputs) == 0 {
		return crm.AssociationPage{}, nil
	}
	if len(inputs) > associationsLimit {
		return crm.AssociationPage{}, fmt.Errorf("%s: %d ids, at most %d per call", endpoint, len(inputs), associationsLimit)
	}
	asked := make(map[string]string, len(inputs)) // id -> the cursor it was asked with
	for _, in := range inputs {
		if in.ID == "" {
			return crm.AssociationPage{}, fmt.Errorf("%s: an input without an id", endpoint)
		}
		asked[in.ID] = in.After
	}
	body := struct {
		Inputs []associationInput `json:"inputs"`
	}{inputs}
	var resp associationsResponse
	_, rl, err := c.do(ctx, http.MethodPost, endpoint, path, nil, body, &resp, http.StatusOK, http.StatusMultiStatus)
	if err != nil {
		return crm.AssociationPage{RateLimit: rl}, err
	}
	for _, e := range resp.Errors {
		// A record without associations of the type, or one HubSpot does not have, comes
		// back as OBJECT_NOT_FOUND (subCategory crm.associations.NO_ASSOCIATIONS_FOUND):
		// for a sync, both mean no links.
		if e.Category != "OBJECT_NOT_FOUND" {
			return crm.AssociationPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindUnavailable, Status: http.StatusMultiStatus,
				Endpoint: endpoint, Category: e.Category, Message: crm.Truncate(e.Message, 300)}
		}
	}
	page := crm.AssociationPage{RateLimit: rl}
	malformed := func(format string, args ...any) (crm.AssociationPage, error) {
		return crm.AssociationPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint,
			Category: "MALFORMED_ASSOCIATION", Message: fmt.Sprintf(format, args...)}
	}
	for i, r := range resp.Results {
		fromID := string(r.From.ID)
		after, ok := asked[fromID]
		if !ok {
			// Links stored under a record nobody asked about would escape the replacement
			// of that record's links.
			return malformed("result %d is for record %q, which was not requested", i, fromID)
		}
		for _, t := range r.To {
			if t.ToObjectID == "" {
				return malformed("record %s has an association without toObjectId", fromID)
			}
			for _, at := range t.AssociationTypes {
				l := crm.Association{FromID: fromID, ToID: string(t.ToObjectID), TypeID: at.TypeID, Category: at.Category}
				if at.Label != nil {
					l.Label = *at.Label
				}
				page.Links = append(page.Links, l)
			}
		}
		if next := r.Paging.after(); next != "" {
			if next == after {
				// A cursor that does not move would make the caller read this page forever.
				return crm.AssociationPage{RateLimit: rl}, &crm.APIError{Kind: crm.KindBadResponse, Endpoint: endpoint,
					Message: fmt.Sprintf("record %s: paging.next.after repeats the request's after", fromID)}
			}
			page.More = append(page.More, crm.AssociationCursor{FromID: fromID, After: next})
		}
	}
	return page, nil
}

package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/crmsync/crmsync/internal/crm"
)

// writeLimit is the largest input of the v3 batch create, update and upsert endpoints
// (reference 1.4: 100 per call, as for every v3 batch endpoint).
const writeLimit = 100

var _ crm.Writer = (*Client)(nil)

// WriteBatchSize is the batch write endpoints' largest input.
func (c *Client) WriteBatchSize() int { return writeLimit }

// Upsert creates or updates up to 100 records by a unique property with POST
// /crm/v3/objects/{object}/batch/upsert. Every input names the same IDProperty ("email")
// and holds that property's value in ID.
func (c *Client) Upsert(ctx context.Context, obj crm.Object, inputs []crm.WriteInput) (crm.WriteResult, error) {
	return c.write(ctx, obj, opUpsert, inputs)
}

// Update updates up to 100 existing records by CRM id with POST
// /crm/v3/objects/{object}/batch/update. An id HubSpot does not have fails that input
// (OBJECT_NOT_FOUND), not the batch.
func (c *Client) Update(ctx context.Context, obj crm.Object, inputs []crm.WriteInput) (crm.WriteResult, error) {
	return c.write(ctx, obj, opUpdate, inputs)
}

// Create creates up to 100 records with POST /crm/v3/objects/{object}/batch/create.
func (c *Client) Create(ctx context.Context, obj crm.Object, inputs []crm.WriteInput) (crm.WriteResult, error) {
	return c.write(ctx, obj, opCreate, inputs)
}

// writeOp is one of the three batch write endpoints, named as in its path.
type writeOp string

const (
	opCreate writeOp = "create"
	opUpdate writeOp = "update"
	opUpsert writeOp = "upsert"
)

// writeInput is one element of a batch write's "inputs": the spec's
// SimplePublicObjectBatchInputForCreate, SimplePublicObjectBatchInput and
// SimplePublicObjectBatchInputUpsert share these fields.
type writeInput struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId"`
	Properties         map[string]string `json:"properties"`
}

// writeResponse is BatchResponseSimplePublicObject / BatchResponseSimplePublicUpsertObject,
// with the WithErrors variant's errors.
type writeResponse struct {
	Status  string `json:"status"`
	Results []struct {
		ID flexID `json:"id"`
		// New is upsert's "the record did not exist before"; absent elsewhere.
		New                *bool                      `json:"new"`
		ObjectWriteTraceID string                     `json:"objectWriteTraceId"`
		Properties         map[string]json.RawMessage `json:"properties"`
	} `json:"results"`
	Errors []struct {
		Status   string `json:"status"`
		Category string `json:"category"`
		Message  string `json:"message"`
		// Context names what the error concerns: "objectWriteTraceId" the inputs by trace
		// id, "ids" by id (or by the idProperty's value).
		Context map[string][]string `json:"context"`
	} `json:"errors"`
}

// write sends one batch write and matches HubSpot's answer back to the inputs.
//
// Every input must carry a TraceID, unique in the batch: HubSpot answers a batch with
// partial failures as a 207 that names each failed input only when objectWriteTraceId was
// sent (its error-handling guide), and results come back in no documented order, so the
// trace id is the only key that works for all three endpoints.
func (c *Client) write(ctx context.Context, obj crm.Object, op writeOp, inputs []crm.WriteInput) (crm.WriteResult, error) {
	objPath, err := objectPath(obj)
	if err != nil {
		return crm.WriteResult{}, err
	}
	path := "/crm/v3/objects/" + objPath + "/batch/" + string(op)
	endpoint := "POST " + path
	if len(inputs) == 0 {
		return crm.WriteResult{}, nil
	}
	body, err := writeBody(endpoint, op, inputs)
	if err != nil {
		return crm.WriteResult{}, err
	}
	var resp writeResponse
	_, rl, err := c.do(ctx, http.MethodPost, endpoint, path, nil, body, &resp,
		http.StatusOK, http.StatusCreated, http.StatusMultiStatus)
	if err != nil {
		return crm.WriteResult{RateLimit: rl}, err
	}
	res := matchWrites(op, inputs, &resp)
	res.RateLimit = rl
	return res, nil
}

// writeBody checks the inputs and builds the request body. Mistakes that HubSpot would
// refuse for the whole batch, or that would make its answer impossible to match, are
// plain errors before any call is made.
func writeBody(endpoint string, op writeOp, inputs []crm.WriteInput) (any, error) {
	if len(inputs) > writeLimit {
		return nil, fmt.Errorf("%s: %d inputs, at most %d per call", endpoint, len(inputs), writeLimit)
	}
	traces := make(map[string]bool, len(inputs))
	ids := make(map[string]bool, len(inputs))
	body := struct {
		Inputs []writeInput `json:"inputs"`
	}{Inputs: make([]writeInput, len(inputs))}
	for i, in := range inputs {
		if in.TraceID == "" {
			return nil, fmt.Errorf("%s: input %d has no trace id", endpoint, i)
		}
		if traces[in.TraceID] {
			return nil, fmt.Errorf("%s: trace id %q appears twice", endpoint, crm.Truncate(in.TraceID, 80))
		}
		traces[in.TraceID] = true
		wi := writeInput{ObjectWriteTraceID: in.TraceID, Properties: in.Properties}
		if wi.Properties == nil {
			wi.Properties = map[string]string{} // HubSpot requires the object
		}
		switch op {
		case opCreate:
			if in.ID != "" || in.IDProperty != "" {
				return nil, fmt.Errorf("%s: input %d has an id; create makes new records", endpoint, i)
			}
		case opUpdate, opUpsert:
			if in.ID == "" {
				return nil, fmt.Errorf("%s: input %d has no id", endpoint, i)
			}
			if op == opUpsert && in.IDProperty == "" {
				return nil, fmt.Errorf("%s: input %d names no idProperty; upsert matches records by a unique property", endpoint, i)
			}
			if in.IDProperty != inputs[0].IDProperty {
				return nil, fmt.Errorf("%s: inputs name different idProperty values (%q, %q)", endpoint,
					inputs[0].IDProperty, in.IDProperty)
			}
			// HubSpot refuses a batch that names one record twice; unique property values
			// (email) compare without case.
			key := in.ID
			if in.IDProperty != "" {
				key = strings.ToLower(key)
			}
			if ids[key] {
				return nil, fmt.Errorf("%s: id %q appears twice", endpoint, crm.Truncate(in.ID, 80))
			}
			ids[key] = true
			wi.ID, wi.IDProperty = in.ID, in.IDProperty
		}
		body.Inputs[i] = wi
	}
	return body, nil
}

// matchWrites turns HubSpot's results and errors into per-input outcomes. A result is
// matched by its objectWriteTraceId; one without it by what identifies the input (the
// idProperty's value for upsert, the id for update), and otherwise left out. An error is
// matched by the trace ids in its context, or failing those by the ids. An input named
// both written and failed counts as written: the write happened, and reporting it failed
// would have a create retried into a duplicate.
func matchWrites(op writeOp, inputs []crm.WriteInput, resp *writeResponse) crm.WriteResult {
	byTrace := make(map[string]int, len(inputs))
	for i, in := range inputs {
		byTrace[in.TraceID] = i
	}
	// byID finds an input by id, or by its idProperty value, which HubSpot may echo in
	// another case (it stores emails in lower case).
	byID := func(id string) (int, bool) {
		found := -1
		for i, in := range inputs {
			if in.ID == id || (in.IDProperty != "" && strings.EqualFold(in.ID, id)) {
				if found >= 0 {
					return 0, false // ambiguous: better unmatched than matched wrongly
				}
				found = i
			}
		}
		return found, found >= 0
	}
	done := make([]bool, len(inputs))
	var res crm.WriteResult
	for _, r := range resp.Results {
		i, ok := byTrace[r.ObjectWriteTraceID]
		if r.ObjectWriteTraceID == "" {
			switch {
			case op == opUpsert || (op == opUpdate && inputs[0].IDProperty != ""):
				i, ok = byID(propertyString(r.Properties[inputs[0].IDProperty]))
			case op == opUpdate:
				i, ok = byID(string(r.ID))
			}
		}
		if !ok || done[i] || r.ID == "" {
			continue
		}
		done[i] = true
		w := crm.Written{TraceID: inputs[i].TraceID, ID: string(r.ID), Created: op == opCreate}
		if op == opUpsert && r.New != nil {
			w.Created = *r.New
		}
		res.Written = append(res.Written, w)
	}
	for _, e := range resp.Errors {
		var hit []int
		for _, t := range e.Context["objectWriteTraceId"] {
			if i, ok := byTrace[t]; ok {
				hit = append(hit, i)
			}
		}
		if len(hit) == 0 && op != opCreate {
			for _, id := range e.Context["ids"] {
				if i, ok := byID(id); ok {
					hit = append(hit, i)
				}
			}
		}
		for _, i := range hit {
			if done[i] {
				continue
			}
			done[i] = true
			res.Failed = append(res.Failed, crm.ItemError{
				TraceID:   inputs[i].TraceID,
				Category:  e.Category,
				Message:   crm.Truncate(e.Message, 500),
				Retryable: RetryableCategory(e.Category),
			})
		}
	}
	return res
}

// propertyString reads a property value that HubSpot sends as a JSON string (or null).
func propertyString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// RetryableCategory reports whether an input that HubSpot refused with this error category
// (in a batch write's 207) may succeed if sent again unchanged.
//
// Never as sent: VALIDATION_ERROR (a property that does not exist, is read-only, or holds an
// invalid value), OBJECT_NOT_FOUND (updating an id HubSpot does not have), CONFLICT (a
// create whose unique value, such as a contact's email, another record already holds:
// "Contact already exists. Existing ID: ..."; only an upsert or an update resolves it),
// MISSING_SCOPES and INVALID_AUTHENTICATION (a human must fix the app), and every
// INVALID_* category. Retryable: RATE_LIMITS, INTERNAL_ERROR, SERVICE_UNAVAILABLE, LOCKED,
// TIMEOUT, and every category not named here: HubSpot documents no complete list, and an
// input that might succeed is retried (within the caller's retry budget) rather than
// dead-lettered on a guess.
func RetryableCategory(category string) bool {
	switch category {
	case "VALIDATION_ERROR", "OBJECT_NOT_FOUND", "CONFLICT", "MISSING_SCOPES", "INVALID_AUTHENTICATION":
		return false
	}
	return !strings.HasPrefix(category, "INVALID_")
}

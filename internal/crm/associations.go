package crm

import "context"

// AssociationPair is a direction in which crmsync reads associations. Every link is read
// from one side only, the side that holds few links per record (a contact has a company or
// two; a company may have thousands of contacts), so that a batch of records rarely needs a
// second page.
type AssociationPair struct {
	From, To Object
}

// AssociationPairs lists the directions crmsync syncs.
var AssociationPairs = []AssociationPair{{Contacts, Companies}, {Deals, Companies}, {Deals, Contacts}}

// String renders the pair as "contacts->companies".
func (p AssociationPair) String() string { return string(p.From) + "->" + string(p.To) }

// Supported reports whether the pair is one of AssociationPairs.
func (p AssociationPair) Supported() bool {
	for _, q := range AssociationPairs {
		if q == p {
			return true
		}
	}
	return false
}

// Association is one link between two records, of one association type. A pair of records
// linked in two ways (a contact and its primary company: HubSpot's "Primary" type and the
// unlabeled default) is two Associations.
type Association struct {
	FromID string `json:"from_id"`
	ToID   string `json:"to_id"`
	// TypeID is the CRM's association type (HubSpot: 279 contact to company, 1 the
	// contact's primary company, ...).
	TypeID int `json:"type_id"`
	// Category is the type's owner (HubSpot: HUBSPOT_DEFINED, USER_DEFINED,
	// INTEGRATOR_DEFINED).
	Category string `json:"category,omitempty"`
	// Label is the type's label; "" for an unlabeled type.
	Label string `json:"label,omitempty"`
}

// AssociationCursor is where one record's associations continue: they did not fit the
// page that returned the cursor.
type AssociationCursor struct {
	FromID string `json:"from_id"`
	After  string `json:"after"`
}

// AssociationPage is one response's worth of associations.
type AssociationPage struct {
	// Links are the associations read. A requested record that has none, or that the CRM
	// does not have, contributes nothing.
	Links []Association
	// More lists the records whose associations continue on another page.
	More []AssociationCursor
	// RateLimit is what the response's headers said about the quota.
	RateLimit RateLimit
}

// AssociationReader is a Connector that reads associations in batches: one request for
// up to AssociationBatchSize records, never one per record. Each method makes exactly one
// HTTP request.
type AssociationReader interface {
	// BatchAssociations reads the first page of the associations from each of the records
	// ids (of type from) to records of type to.
	BatchAssociations(ctx context.Context, from, to Object, ids []string) (AssociationPage, error)
	// ContinueAssociations reads the next page of each of the records that a previous page
	// listed in More.
	ContinueAssociations(ctx context.Context, from, to Object, more []AssociationCursor) (AssociationPage, error)
	// AssociationBatchSize is the largest number of records one call takes.
	AssociationBatchSize() int
}

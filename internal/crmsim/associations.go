package crmsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// assocMaxInputs is the v4 association batch read's largest input (1,000 since
// 2025-02-10; see the CRM API reference, "Associations v4").
const assocMaxInputs = 1000

// associationKind resolves an object type as the v4 associations API accepts it in a path:
// the plural name, the singular one, or HubSpot's object type id.
func associationKind(name string) (objectKind, bool) {
	switch strings.ToLower(name) {
	case Contacts, "contact", "0-1":
		return contactsKind, true
	case Companies, "company", "0-2":
		return companiesKind, true
	case Deals, "deal", "0-3":
		return dealsKind, true
	}
	return 0, false
}

// associationsRoute is the route of POST /crm/v4/associations/{from}/{to}/batch/read. Its
// Stats key names the direction, "batch_associations contacts->companies", so that tests
// can count the calls of each pair.
func (s *Sim) associationsRoute(from, to string) route {
	fk, ok := associationKind(from)
	if !ok {
		return route{key: "batch_associations invalid", serve: unknownObject(from)}
	}
	tk, ok := associationKind(to)
	if !ok {
		return route{key: "batch_associations invalid", serve: unknownObject(to)}
	}
	return route{
		key:   "batch_associations " + objectName(fk) + "->" + objectName(tk),
		obj:   s.objects[fk],
		serve: func(s *Sim, c *call) reply { return s.serveAssociations(c, fk, tk) },
	}
}

// associationTypes are HubSpot's defined association types of a direction: the unlabeled
// one every link has, and the "Primary" one (0 where the direction has none) that a
// contact's or a deal's primary company has in addition, seen from either side. The ids
// are those of the official Node SDK's AssociationTypesEnum.
func associationTypes(from, to objectKind) (unlabeled, primary int) {
	switch [2]objectKind{from, to} {
	case [2]objectKind{contactsKind, companiesKind}:
		return 279, 1
	case [2]objectKind{companiesKind, contactsKind}:
		return 280, 2
	case [2]objectKind{dealsKind, contactsKind}:
		return 3, 0
	case [2]objectKind{contactsKind, dealsKind}:
		return 4, 0
	case [2]objectKind{dealsKind, companiesKind}:
		return 341, 5
	case [2]objectKind{companiesKind, dealsKind}:
		return 342, 6
	}
	return 0, 0
}

// isPrimary reports whether a contact-company or deal-company link is the contact's or
// deal's primary company: the first company it was associated with, as HubSpot makes the
// first associated company primary.
func isPrimary(fk objectKind, from, to *entry) bool {
	child, company := from, to
	if fk == companiesKind {
		child, company = to, from
	}
	cs := child.assoc[companiesKind]
	return len(cs) > 0 && cs[0] == company.sid
}

// associationSpec is the spec's AssociationSpecWithLabel; the label is null for the
// unlabeled type.
type associationSpec struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

// associatedObject is the spec's MultiAssociatedObjectWithLabel.
type associatedObject struct {
	ToObjectID       string            `json:"toObjectId"`
	AssociationTypes []associationSpec `json:"associationTypes"`
}

// associationResult is the spec's PublicAssociationMultiWithLabel.
type associationResult struct {
	From struct {
		ID string `json:"id"`
	} `json:"from"`
	To     []associatedObject `json:"to"`
	Paging *paging            `json:"paging,omitempty"`
}

// associationsResponse is the spec's BatchResponsePublicAssociationMultiWithLabel and its
// WithErrors variant.
type associationsResponse struct {
	Status      string              `json:"status"`
	Results     []associationResult `json:"results"`
	NumErrors   int                 `json:"numErrors,omitempty"`
	Errors      []standardError     `json:"errors,omitempty"`
	StartedAt   string              `json:"startedAt"`
	CompletedAt string              `json:"completedAt"`
}

// serveAssociations answers a v4 association batch read: for each input, up to a page
// (Options.AssociationPageSize) of the record's associated records in id order, from the
// input's after cursor, with a paging cursor when more follow. Archived records have no
// associations to read, and archived targets are left out, as HubSpot hides the links of a
// deleted record; the ground truth (Record.Associations) keeps them, so compare live
// records only. A record with nothing to return gets a NO_ASSOCIATIONS_FOUND error in a
// 207, HubSpot's answer for both a record without links and one it does not have.
func (s *Sim) serveAssociations(c *call, fk, tk objectKind) reply {
	var body struct {
		Inputs []struct {
			ID    json.RawMessage `json:"id"`
			After string          `json:"after"`
		} `json:"inputs"`
	}
	if err := decodeBody(c.r, &body); err != nil {
		return badRequest(c, err.Error())
	}
	if len(body.Inputs) > assocMaxInputs {
		return badRequest(c, fmt.Sprintf("Too many inputs: %d. The maximum is %d.", len(body.Inputs), assocMaxInputs))
	}
	type input struct {
		id   string
		from int64 // the first target id to return
	}
	inputs := make([]input, 0, len(body.Inputs))
	seen := make(map[input]bool, len(body.Inputs))
	for i, in := range body.Inputs {
		id, ok := rawString(in.ID)
		if !ok || id == "" {
			return badRequest(c, fmt.Sprintf("inputs[%d].id is required", i))
		}
		var v input
		v.id = id
		if in.After != "" {
			var err error
			if v.from, err = decodeAfter(in.After); err != nil {
				return badRequest(c, fmt.Sprintf("inputs[%d].after: %v", i, err))
			}
		}
		if !seen[v] {
			seen[v] = true
			inputs = append(inputs, v)
		}
	}
	unlabeled, primary := associationTypes(fk, tk)
	primaryLabel := "Primary"
	pageSize := s.opts.AssociationPageSize

	s.mu.RLock()
	defer s.mu.RUnlock()
	from, to := s.objects[fk], s.objects[tk]
	resp := associationsResponse{Status: "COMPLETE", Results: []associationResult{}, StartedAt: formatTime(c.now)}
	var missing []string
	for _, in := range inputs {
		var targets []*entry
		if e, ok := from.lookup(in.id); ok && !e.cur.archived {
			for _, tid := range sortedIDs(e.assoc[tk]) {
				if t, ok := to.lookup(tid); ok && !t.cur.archived && t.id >= in.from {
					targets = append(targets, t)
				}
			}
		}
		if len(targets) == 0 {
			missing = append(missing, in.id)
			continue
		}
		e, _ := from.lookup(in.id)
		var res associationResult
		res.From.ID = e.sid
		for _, t := range targets[:min(len(targets), pageSize)] {
			var types []associationSpec
			if primary != 0 && isPrimary(fk, e, t) {
				types = append(types, associationSpec{Category: "HUBSPOT_DEFINED", TypeID: primary, Label: &primaryLabel})
			}
			types = append(types, associationSpec{Category: "HUBSPOT_DEFINED", TypeID: unlabeled})
			res.To = append(res.To, associatedObject{ToObjectID: t.sid, AssociationTypes: types})
		}
		if len(targets) > pageSize {
			res.Paging = newPaging(encodeAfter(targets[pageSize].id))
		}
		resp.Results = append(resp.Results, res)
	}
	resp.CompletedAt = formatTime(s.now())
	if len(missing) == 0 {
		return jsonReply(http.StatusOK, resp)
	}
	fs, ts := singularOf(fk), singularOf(tk)
	for _, id := range missing {
		resp.Errors = append(resp.Errors, standardError{
			Status:      "error",
			Category:    "OBJECT_NOT_FOUND",
			SubCategory: "crm.associations.NO_ASSOCIATIONS_FOUND",
			Message:     fmt.Sprintf("No %s is associated with %s %s.", ts, fs, id),
			Errors:      []json.RawMessage{},
			Context:     map[string][]string{"fromObjectId": {id}, "fromObjectType": {fs}, "toObjectType": {ts}},
			Links:       map[string]string{},
		})
	}
	resp.NumErrors = len(resp.Errors)
	return jsonReply(http.StatusMultiStatus, resp)
}

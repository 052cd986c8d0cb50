package crmsim

import (
	"fmt"
	"slices"
	"time"
)

// objectKind indexes the three simulated objects; arrays indexed by it avoid map lookups
// on hot paths such as associations.
type objectKind int

const (
	contactsKind objectKind = iota
	companiesKind
	dealsKind
	numObjects
)

// Object path segments, as HubSpot spells them.
const (
	Contacts  = "contacts"
	Companies = "companies"
	Deals     = "deals"
)

// Objects lists the simulated object types in a stable order.
func Objects() []string { return []string{Contacts, Companies, Deals} }

// Property names the simulator relies on.
const (
	propObjectID    = "hs_object_id"
	propCreateDate  = "createdate"
	propContactMod  = "lastmodifieddate"
	propObjectMod   = "hs_lastmodifieddate"
	propOwner       = "hubspot_owner_id"
	typeDatetime    = "datetime"
	typeNumber      = "number"
	typeString      = "string"
	typeEnumeration = "enumeration"
	isoMillis       = "2006-01-02T15:04:05.000Z"
)

// objectType is the static description of one object: its properties, in a fixed order
// that indexes every record's value slice.
type objectType struct {
	kind     objectKind
	name     string // path segment, e.g. "contacts"
	singular string // for association type names, e.g. "contact_to_company"
	upper    string // for error messages, e.g. "CONTACT"
	modProp  string // the property that mirrors updatedAt
	props    []propertyDef
	index    map[string]int
	defaults []int // properties returned when a request names none
	core     []int // properties HubSpot returns whatever a request names
	mutable  []string
	// unique indexes the properties that identify a record like its id (contacts: email):
	// the idProperty values batch read, update and upsert accept, kept one value to one
	// live record by the batch writes.
	unique []int
	// ncore counts the core properties, props[:ncore], which every state holds densely;
	// the rest are the wide ones (wide.go), described by wide[i-ncore].
	ncore int
	wide  []wideProp
	// epoch and words are what the wide properties' values are drawn from.
	epoch time.Time
	words []string
}

// typeID is HubSpot's object type id ("0-1" for contacts), which its messages use.
func (t *objectType) typeID() string { return fmt.Sprintf("0-%d", int(t.kind)+1) }

// propertyDef is HubSpot's Property shape (GET /crm/v3/properties/{object}).
type propertyDef struct {
	UpdatedAt            string               `json:"updatedAt"`
	CreatedAt            string               `json:"createdAt"`
	Name                 string               `json:"name"`
	Label                string               `json:"label"`
	Type                 string               `json:"type"`
	FieldType            string               `json:"fieldType"`
	Description          string               `json:"description"`
	GroupName            string               `json:"groupName"`
	Options              []propertyOption     `json:"options"`
	DisplayOrder         int                  `json:"displayOrder"`
	Calculated           bool                 `json:"calculated"`
	ExternalOptions      bool                 `json:"externalOptions"`
	Archived             bool                 `json:"archived"`
	HasUniqueValue       bool                 `json:"hasUniqueValue"`
	Hidden               bool                 `json:"hidden"`
	HubspotDefined       bool                 `json:"hubspotDefined"`
	ModificationMetadata modificationMetadata `json:"modificationMetadata"`
	FormField            bool                 `json:"formField"`
}

type propertyOption struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	Description  string `json:"description"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
}

type modificationMetadata struct {
	Archivable         bool `json:"archivable"`
	ReadOnlyDefinition bool `json:"readOnlyDefinition"`
	ReadOnlyValue      bool `json:"readOnlyValue"`
}

// prop is a compact way to declare a propertyDef.
type prop struct {
	name, label, typ, field string
	options                 []string
	readOnly                bool
}

func (t *objectType) propIndex(name string) (int, bool) {
	i, ok := t.index[name]
	return i, ok
}

func (t *objectType) propType(i int) string { return t.props[i].Type }

// newObjectTypes builds the three objects' schemas: the core properties, and unless narrow,
// the wide ones a real account has (wide.go), whose dates lie before epoch.
func newObjectTypes(pipes []pipeline, narrow bool, epoch time.Time) [numObjects]*objectType {
	lifecycle := []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
		"opportunity", "customer", "evangelist", "other"}
	leadStatus := []string{"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
		"ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"}
	var stages, pipelineIDs []string
	for _, p := range pipes {
		pipelineIDs = append(pipelineIDs, p.ID)
		for _, st := range p.Stages {
			stages = append(stages, st.ID)
		}
	}
	contacts := build(contactsKind, Contacts, "contact", "CONTACT", propContactMod, "contactinformation", []prop{
		{name: propCreateDate, label: "Create Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: "email", label: "Email", typ: typeString, field: "text"},
		{name: "firstname", label: "First Name", typ: typeString, field: "text"},
		{name: "lastname", label: "Last Name", typ: typeString, field: "text"},
		{name: "phone", label: "Phone Number", typ: typeString, field: "phonenumber"},
		{name: "company", label: "Company Name", typ: typeString, field: "text"},
		{name: "jobtitle", label: "Job Title", typ: typeString, field: "text"},
		{name: "lifecyclestage", label: "Lifecycle Stage", typ: typeEnumeration, field: "radio", options: lifecycle},
		{name: "hs_lead_status", label: "Lead Status", typ: typeEnumeration, field: "radio", options: leadStatus},
		{name: "city", label: "City", typ: typeString, field: "text"},
		{name: "zip", label: "Postal Code", typ: typeString, field: "text"},
		{name: "country", label: "Country/Region", typ: typeString, field: "text"},
		{name: propOwner, label: "Contact owner", typ: typeEnumeration, field: "select"},
		{name: propContactMod, label: "Last Modified Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: propObjectID, label: "Record ID", typ: typeNumber, field: "number", readOnly: true},
	})
	contacts.setDefaults("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
	contacts.mutable = []string{"phone", "jobtitle", "lifecyclestage", "hs_lead_status", "city", "lastname", propOwner}
	contacts.unique = []int{contacts.index["email"]}

	companies := build(companiesKind, Companies, "company", "COMPANY", propObjectMod, "companyinformation", []prop{
		{name: propCreateDate, label: "Create Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: "name", label: "Company name", typ: typeString, field: "text"},
		{name: "domain", label: "Company Domain Name", typ: typeString, field: "text"},
		{name: "industry", label: "Industry", typ: typeEnumeration, field: "select", options: industries()},
		{name: "phone", label: "Phone Number", typ: typeString, field: "phonenumber"},
		{name: "city", label: "City", typ: typeString, field: "text"},
		{name: "country", label: "Country/Region", typ: typeString, field: "text"},
		{name: "numberofemployees", label: "Number of Employees", typ: typeNumber, field: "number"},
		{name: "annualrevenue", label: "Annual Revenue", typ: typeNumber, field: "number"},
		{name: propOwner, label: "Company owner", typ: typeEnumeration, field: "select"},
		{name: propObjectMod, label: "Last Modified Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: propObjectID, label: "Record ID", typ: typeNumber, field: "number", readOnly: true},
	})
	companies.setDefaults("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")
	companies.mutable = []string{"numberofemployees", "annualrevenue", "city", "industry", "phone", propOwner}

	deals := build(dealsKind, Deals, "deal", "DEAL", propObjectMod, "dealinformation", []prop{
		{name: propCreateDate, label: "Create Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: "dealname", label: "Deal Name", typ: typeString, field: "text"},
		{name: "amount", label: "Amount", typ: typeNumber, field: "number"},
		{name: "dealstage", label: "Deal Stage", typ: typeEnumeration, field: "radio", options: stages},
		{name: "pipeline", label: "Pipeline", typ: typeEnumeration, field: "select", options: pipelineIDs},
		{name: "closedate", label: "Close Date", typ: typeDatetime, field: "date"},
		{name: "dealtype", label: "Deal Type", typ: typeEnumeration, field: "radio", options: []string{"newbusiness", "existingbusiness"}},
		{name: "hs_priority", label: "Priority", typ: typeEnumeration, field: "select", options: []string{"low", "medium", "high"}},
		{name: propOwner, label: "Deal owner", typ: typeEnumeration, field: "select"},
		{name: propObjectMod, label: "Last Modified Date", typ: typeDatetime, field: "date", readOnly: true},
		{name: propObjectID, label: "Record ID", typ: typeNumber, field: "number", readOnly: true},
	})
	deals.setDefaults("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline")
	deals.mutable = []string{"amount", "dealstage", "closedate", "hs_priority", "dealname", propOwner}

	if !narrow {
		contacts.addWide(wideContactProps(), epoch)
		companies.addWide(wideCompanyProps(), epoch)
		deals.addWide(wideDealProps(), epoch)
	}
	return [numObjects]*objectType{contacts, companies, deals}
}

func build(kind objectKind, name, singular, upper, modProp, group string, props []prop) *objectType {
	t := &objectType{kind: kind, name: name, singular: singular, upper: upper, modProp: modProp,
		index: make(map[string]int, len(props))}
	// Property definitions predate the seeded data; a fixed instant keeps them deterministic.
	created := time.Date(2019, 8, 6, 2, 43, 14, 491_000_000, time.UTC).Format(isoMillis)
	updated := time.Date(2022, 3, 1, 9, 12, 5, 77_000_000, time.UTC).Format(isoMillis)
	for i, p := range props {
		def := propertyDef{
			CreatedAt: created, UpdatedAt: updated,
			Name: p.name, Label: p.label, Type: p.typ, FieldType: p.field,
			Description: "", GroupName: group, Options: []propertyOption{},
			DisplayOrder: -1, HubspotDefined: true, FormField: !p.readOnly,
			ExternalOptions: p.name == propOwner,
			ModificationMetadata: modificationMetadata{
				Archivable: false, ReadOnlyDefinition: true, ReadOnlyValue: p.readOnly,
			},
		}
		for j, o := range p.options {
			def.Options = append(def.Options, propertyOption{Label: o, Value: o, DisplayOrder: j})
		}
		t.props = append(t.props, def)
		t.index[p.name] = i
	}
	t.core = []int{t.index[propCreateDate], t.index[propObjectID], t.index[modProp]}
	t.ncore = len(t.props)
	return t
}

func (t *objectType) setDefaults(names ...string) {
	for _, n := range names {
		t.defaults = append(t.defaults, t.index[n])
	}
	slices.Sort(t.defaults)
}

// kindByName resolves a path segment to an object kind.
func kindByName(name string) (objectKind, bool) {
	switch name {
	case Contacts:
		return contactsKind, true
	case Companies:
		return companiesKind, true
	case Deals:
		return dealsKind, true
	}
	return 0, false
}

// owner is HubSpot's PublicOwner shape.
type owner struct {
	ID                      string      `json:"id"`
	Email                   string      `json:"email"`
	Type                    string      `json:"type"`
	FirstName               string      `json:"firstName"`
	LastName                string      `json:"lastName"`
	UserID                  int         `json:"userId"`
	UserIDIncludingInactive int         `json:"userIdIncludingInactive"`
	CreatedAt               string      `json:"createdAt"`
	UpdatedAt               string      `json:"updatedAt"`
	Archived                bool        `json:"archived"`
	Teams                   []ownerTeam `json:"teams"`
}

type ownerTeam struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Primary bool   `json:"primary"`
}

// pipeline is HubSpot's Pipeline shape.
type pipeline struct {
	ID           string          `json:"id"`
	Label        string          `json:"label"`
	DisplayOrder int             `json:"displayOrder"`
	CreatedAt    string          `json:"createdAt"`
	UpdatedAt    string          `json:"updatedAt"`
	Archived     bool            `json:"archived"`
	Stages       []pipelineStage `json:"stages"`
}

type pipelineStage struct {
	ID           string            `json:"id"`
	Label        string            `json:"label"`
	DisplayOrder int               `json:"displayOrder"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    string            `json:"createdAt"`
	UpdatedAt    string            `json:"updatedAt"`
	Archived     bool              `json:"archived"`
	// WritePermissions mirrors the field HubSpot adds to every stage.
	WritePermissions string `json:"writePermissions"`
}

// newPipelines returns HubSpot's default sales pipeline (with its well-known stage ids) and
// a second, numeric-id pipeline, so clients cannot assume a single "default" pipeline.
func newPipelines() []pipeline {
	created := time.Date(2020, 2, 11, 13, 30, 0, 512_000_000, time.UTC).Format(isoMillis)
	updated := time.Date(2023, 6, 19, 8, 5, 41, 3_000_000, time.UTC).Format(isoMillis)
	mk := func(id, label string, order int, stages [][3]string) pipeline {
		p := pipeline{ID: id, Label: label, DisplayOrder: order, CreatedAt: created, UpdatedAt: updated}
		for i, st := range stages {
			closed := "false"
			if st[2] == "1.0" || st[2] == "0.0" {
				closed = "true"
			}
			p.Stages = append(p.Stages, pipelineStage{
				ID: st[0], Label: st[1], DisplayOrder: i, CreatedAt: created, UpdatedAt: updated,
				Metadata:         map[string]string{"isClosed": closed, "probability": st[2]},
				WritePermissions: "CRM_PERMISSIONS_ENFORCEMENT",
			})
		}
		return p
	}
	return []pipeline{
		mk("default", "Sales Pipeline", 0, [][3]string{
			{"appointmentscheduled", "Appointment Scheduled", "0.2"},
			{"qualifiedtobuy", "Qualified To Buy", "0.4"},
			{"presentationscheduled", "Presentation Scheduled", "0.6"},
			{"decisionmakerboughtin", "Decision Maker Bought-In", "0.8"},
			{"contractsent", "Contract Sent", "0.9"},
			{"closedwon", "Closed Won", "1.0"},
			{"closedlost", "Closed Lost", "0.0"},
		}),
		mk("812723471", "Partner Pipeline", 1, [][3]string{
			{"1234912", "Discovery", "0.1"},
			{"1234913", "Proposal", "0.5"},
			{"1234914", "Negotiation", "0.75"},
			{"1234915", "Won", "1.0"},
			{"1234916", "Lost", "0.0"},
		}),
	}
}

func (p pipeline) stageClosed(id string) bool {
	for _, st := range p.Stages {
		if st.ID == id {
			return st.Metadata["isClosed"] == "true"
		}
	}
	return false
}

func industries() []string {
	return []string{"COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "FINANCIAL_SERVICES",
		"HOSPITAL_HEALTH_CARE", "RETAIL", "MARKETING_AND_ADVERTISING", "MACHINERY", "FOOD_BEVERAGES",
		"CONSTRUCTION", "LOGISTICS_AND_SUPPLY_CHAIN", "EDUCATION_MANAGEMENT", "AUTOMOTIVE"}
}

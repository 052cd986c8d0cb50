package crmsim

import (
	"strconv"
	"strings"
	"time"
)

// The Salesforce dialect renders the one seeded dataset as Salesforce sObjects:
//
//	contacts  -> Contact     (key prefix 003)
//	companies -> Account     (key prefix 001)
//	deals     -> Opportunity (key prefix 006)
//	owners    -> User        (key prefix 005)
//	pipeline stages -> OpportunityStage (key prefix 01J) and Opportunity.StageName's picklist
//
// Field mapping from the seeded HubSpot properties (schema.go):
//
//	all:         hs_object_id -> Id; createdate -> CreatedDate; lastmodifieddate /
//	             hs_lastmodifieddate -> LastModifiedDate and SystemModstamp (the same instant,
//	             truncated to whole seconds as Salesforce stores them); hubspot_owner_id ->
//	             OwnerId (the owner's User id); archived -> IsDeleted.
//	Contact:     firstname -> FirstName, lastname -> LastName, FirstName+" "+LastName -> Name,
//	             email -> Email, phone -> Phone, jobtitle -> Title, city -> MailingCity,
//	             zip -> MailingPostalCode, country -> MailingCountry, lifecyclestage ->
//	             Lifecycle_Stage__c, hs_lead_status -> Lead_Status__c (custom fields: Salesforce
//	             contacts have neither), the first associated company -> AccountId. HubSpot's
//	             denormalised "company" name has no Contact field (it is the Account's Name).
//	Account:     name -> Name, domain -> Website, industry -> Industry, phone -> Phone,
//	             city -> BillingCity, country -> BillingCountry, numberofemployees ->
//	             NumberOfEmployees (int), annualrevenue -> AnnualRevenue (currency).
//	Opportunity: dealname -> Name, amount -> Amount (currency), dealstage -> StageName (the
//	             stage's label; Salesforce has one stage picklist, so both seeded pipelines'
//	             stages are its values), the stage's probability -> Probability (percent),
//	             IsClosed and IsWon, closedate -> CloseDate (a date), dealtype -> Type
//	             ("New Customer" / "Existing Customer - Upgrade"), hs_priority -> Priority__c,
//	             the first associated company -> AccountId.
//	User:        the owner's id, names, email; IsActive true; UserType "Standard".
//	wide:        every wide property of contacts, companies and deals (wide.go) is a custom
//	             field of Contact, Account and Opportunity after the system fields, as many
//	             as Enterprise Edition's 500 custom fields an object allow
//	             (salesforce_wide.go); Options.Narrow has none.
//
// Compound fields (MailingAddress, BillingAddress) are left out: the Bulk API cannot select
// them, and their parts are fields of their own.

// sfTimeLayout is how Salesforce's REST API renders a dateTime: milliseconds (always 000,
// since it stores whole seconds) and a numeric zone.
const sfTimeLayout = "2006-01-02T15:04:05.000-0700"

// sfBulkTimeLayout is how Bulk API 2.0 result CSVs render a dateTime (UNCONFIRMED: taken
// from published result samples, which end in "Z").
const sfBulkTimeLayout = "2006-01-02T15:04:05.000Z"

// Salesforce key prefixes of the simulated objects.
const (
	sfPrefixAccount     = "001"
	sfPrefixContact     = "003"
	sfPrefixUser        = "005"
	sfPrefixOpportunity = "006"
	sfPrefixStage       = "01J"
)

// sfIDDigits is Salesforce's base-62 alphabet in ASCII order, so fixed-width encodings
// compare as text exactly as the numbers they encode.
const sfIDDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sfIDPod stands for the instance/pod characters of a real id; it is the same for every
// record, so it does not disturb the order.
const sfIDPod = "5g"

// sfIDWidth is how many base-62 digits encode the seeded numeric id (62^10 > 8e17).
const sfIDWidth = 10

// sfID derives the 18-character Salesforce id of a seeded numeric id: key prefix, pod, the
// number in fixed-width base 62, and the 3-character case checksum real ids end with. The
// first 15 characters decide every comparison, so ids sort by number.
func sfID(prefix string, n int64) string {
	id15 := prefix + sfIDPod + sfBase62(n, sfIDWidth)
	return id15 + sfIDChecksum(id15)
}

// sfBase62 writes a non-negative n in width base-62 digits (the low digits if it needs more).
func sfBase62(n int64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = sfIDDigits[n%62]
		n /= 62
	}
	return string(b)
}

// sfIDChecksum is the suffix that makes a 15-character id case-insensitively unique: one
// character per 5-character chunk, whose bits mark the chunk's upper-case letters.
func sfIDChecksum(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	out := make([]byte, 3)
	for chunk := range 3 {
		v := 0
		for i := range 5 {
			if c := id15[chunk*5+i]; c >= 'A' && c <= 'Z' {
				v |= 1 << i
			}
		}
		out[chunk] = alphabet[v]
	}
	return string(out)
}

// sfParseID reads back a 15- or 18-character id made by sfID.
func sfParseID(prefix, id string) (int64, bool) {
	if (len(id) != 15 && len(id) != 18) || !strings.HasPrefix(id, prefix) || id[3:5] != sfIDPod {
		return 0, false
	}
	if len(id) == 18 && id[15:] != sfIDChecksum(id[:15]) {
		return 0, false
	}
	var n int64
	for i := 5; i < 15; i++ {
		d := strings.IndexByte(sfIDDigits, id[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + int64(d)
	}
	return n, true
}

// sfKind is how a field's value is typed in JSON, CSV and SOQL comparisons.
type sfKind int

const (
	sfKString   sfKind = iota // string, picklist, email, phone, url
	sfKID                     // id, reference: case-sensitive text (ids sort by their base-62 value)
	sfKNumber                 // int, double, currency, percent
	sfKBool                   // boolean
	sfKDate                   // date
	sfKDateTime               // datetime
)

func sfKindOf(typ string) sfKind {
	switch typ {
	case "id", "reference":
		return sfKID
	case "int", "double", "currency", "percent":
		return sfKNumber
	case "boolean":
		return sfKBool
	case "date":
		return sfKDate
	case "datetime":
		return sfKDateTime
	}
	return sfKString
}

// sfValue is one field's value. text is its rendering for strings, ids, numbers and dates;
// t holds a dateTime, b a boolean.
type sfValue struct {
	null bool
	text string
	num  float64
	t    time.Time
	b    bool
}

func sfStr(s string) sfValue {
	if s == "" {
		return sfValue{null: true}
	}
	return sfValue{text: s}
}

func sfTime(t time.Time) sfValue {
	if t.IsZero() {
		return sfValue{null: true}
	}
	return sfValue{t: t.UTC().Truncate(time.Second)}
}

func sfBoolValue(b bool) sfValue { return sfValue{b: b} }

// sfNum renders a seeded decimal string as Salesforce's JSON renders the number: the
// shortest form that reads back as the same value ("1234.50" -> 1234.5).
func sfNum(s string) sfValue {
	if s == "" {
		return sfValue{null: true}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return sfValue{null: true}
	}
	return sfValue{text: strconv.FormatFloat(f, 'f', -1, 64), num: f}
}

// sfRow is one row a query can return: a record version, or an index into the owners or
// the flattened stages.
type sfRow struct {
	e  *entry
	st *state
	i  int
}

// sfField is one field of an sObject, with its describe metadata and its value getter.
type sfField struct {
	name, label, typ string
	kind             sfKind
	custom           bool
	referenceTo      string
	picklist         []string
	// picklistLabels are the picklist values' labels when they differ from the values.
	picklistLabels []string
	// length is the describe length when it is not its kind's default (255 for text).
	length int
	// notNillable marks a field that is never null (a custom checkbox).
	notNillable bool
	// unfilterable marks a field SOQL can neither filter nor sort on (a long text area).
	unfilterable bool
	get          func(r sfRow) sfValue
}

// sfObject is one sObject type the dialect serves.
type sfObject struct {
	name, label, prefix string
	kind                objectKind // the seeded object; -1 for User and OpportunityStage
	fields              []sfField
	index               map[string]int // lower-cased field name -> index in fields
}

func (o *sfObject) field(name string) (int, bool) {
	i, ok := o.index[strings.ToLower(name)]
	return i, ok
}

// sfStage is one value of the Opportunity stage picklist.
type sfStage struct {
	label       string
	closed, won bool
	probability string // percent
}

// sfSchema holds the dialect's sObjects, built once per Sim from the seeded owners and
// pipelines.
type sfSchema struct {
	objects map[string]*sfObject // lower-cased name -> object
	byKind  [numObjects]*sfObject
	stages  []sfStage
	stageOf map[string]int // HubSpot stage id -> index in stages
}

func newSFSchema(s *Sim) *sfSchema {
	sc := &sfSchema{objects: map[string]*sfObject{}, stageOf: map[string]int{}}
	for _, p := range s.pipelines {
		for _, st := range p.Stages {
			prob, _ := strconv.ParseFloat(st.Metadata["probability"], 64)
			sc.stageOf[st.ID] = len(sc.stages)
			sc.stages = append(sc.stages, sfStage{
				label:       st.Label,
				closed:      st.Metadata["isClosed"] == "true",
				won:         st.Metadata["isClosed"] == "true" && prob >= 1,
				probability: strconv.FormatFloat(prob*100, 'f', -1, 64),
			})
		}
	}
	stageLabels := make([]string, len(sc.stages))
	for i, st := range sc.stages {
		stageLabels[i] = st.label
	}

	val := func(k objectKind, prop string) func(sfRow) string {
		i := s.objects[k].typ.index[prop]
		return func(r sfRow) string { return r.st.get(i) }
	}
	str := func(k objectKind, prop string) func(sfRow) sfValue {
		v := val(k, prop)
		return func(r sfRow) sfValue { return sfStr(v(r)) }
	}
	num := func(k objectKind, prop string) func(sfRow) sfValue {
		v := val(k, prop)
		return func(r sfRow) sfValue { return sfNum(v(r)) }
	}
	owner := func(k objectKind) func(sfRow) sfValue {
		v := val(k, propOwner)
		return func(r sfRow) sfValue { return sfOwnerRef(v(r)) }
	}
	account := func(r sfRow) sfValue {
		cs := r.e.assoc[companiesKind]
		if len(cs) == 0 {
			return sfValue{null: true}
		}
		n, err := strconv.ParseInt(cs[0], 10, 64)
		if err != nil {
			return sfValue{null: true}
		}
		return sfValue{text: sfID(sfPrefixAccount, n)}
	}
	// common are the system fields every record object has, around its own fields.
	common := func(k objectKind, prefix, label string, own ...sfField) []sfField {
		out := []sfField{
			{name: "Id", label: label + " ID", typ: "id", get: func(r sfRow) sfValue { return sfValue{text: sfID(prefix, r.e.id)} }},
			{name: "IsDeleted", label: "Deleted", typ: "boolean", get: func(r sfRow) sfValue { return sfBoolValue(r.st.archived) }},
		}
		out = append(out, own...)
		return append(out,
			sfField{name: "OwnerId", label: "Owner ID", typ: "reference", referenceTo: "User", get: owner(k)},
			sfField{name: "CreatedDate", label: "Created Date", typ: "datetime", get: func(r sfRow) sfValue { return sfTime(r.st.createdAt) }},
			sfField{name: "LastModifiedDate", label: "Last Modified Date", typ: "datetime", get: func(r sfRow) sfValue { return sfTime(r.st.updatedAt) }},
			sfField{name: "SystemModstamp", label: "System Modstamp", typ: "datetime", get: func(r sfRow) sfValue { return sfTime(r.st.updatedAt) }},
		)
	}
	ct := s.objects[contactsKind].typ
	first, last := val(contactsKind, "firstname"), val(contactsKind, "lastname")
	contact := common(contactsKind, sfPrefixContact, "Contact",
		sfField{name: "AccountId", label: "Account ID", typ: "reference", referenceTo: "Account", get: account},
		sfField{name: "LastName", label: "Last Name", typ: "string", get: str(contactsKind, "lastname")},
		sfField{name: "FirstName", label: "First Name", typ: "string", get: str(contactsKind, "firstname")},
		sfField{name: "Name", label: "Full Name", typ: "string", get: func(r sfRow) sfValue {
			return sfStr(strings.TrimSpace(first(r) + " " + last(r)))
		}},
		sfField{name: "MailingCity", label: "Mailing City", typ: "string", get: str(contactsKind, "city")},
		sfField{name: "MailingPostalCode", label: "Mailing Zip/Postal Code", typ: "string", get: str(contactsKind, "zip")},
		sfField{name: "MailingCountry", label: "Mailing Country", typ: "string", get: str(contactsKind, "country")},
		sfField{name: "Phone", label: "Business Phone", typ: "phone", get: str(contactsKind, "phone")},
		sfField{name: "Email", label: "Email", typ: "email", get: str(contactsKind, "email")},
		sfField{name: "Title", label: "Title", typ: "string", get: str(contactsKind, "jobtitle")},
		sfField{name: "Lifecycle_Stage__c", label: "Lifecycle Stage", typ: "picklist", custom: true,
			picklist: optionValues(ct, "lifecyclestage"), get: str(contactsKind, "lifecyclestage")},
		sfField{name: "Lead_Status__c", label: "Lead Status", typ: "picklist", custom: true,
			picklist: optionValues(ct, "hs_lead_status"), get: str(contactsKind, "hs_lead_status")},
	)
	co := s.objects[companiesKind].typ
	accountFields := common(companiesKind, sfPrefixAccount, "Account",
		sfField{name: "Name", label: "Account Name", typ: "string", get: str(companiesKind, "name")},
		sfField{name: "Website", label: "Website", typ: "url", get: str(companiesKind, "domain")},
		sfField{name: "Industry", label: "Industry", typ: "picklist", picklist: optionValues(co, "industry"), get: str(companiesKind, "industry")},
		sfField{name: "Phone", label: "Account Phone", typ: "phone", get: str(companiesKind, "phone")},
		sfField{name: "BillingCity", label: "Billing City", typ: "string", get: str(companiesKind, "city")},
		sfField{name: "BillingCountry", label: "Billing Country", typ: "string", get: str(companiesKind, "country")},
		sfField{name: "NumberOfEmployees", label: "Employees", typ: "int", get: num(companiesKind, "numberofemployees")},
		sfField{name: "AnnualRevenue", label: "Annual Revenue", typ: "currency", get: num(companiesKind, "annualrevenue")},
	)
	stageIdx := val(dealsKind, "dealstage")
	stage := func(r sfRow) (sfStage, bool) {
		i, ok := sc.stageOf[stageIdx(r)]
		if !ok {
			return sfStage{}, false
		}
		return sc.stages[i], true
	}
	closeDate := val(dealsKind, "closedate")
	dealType := val(dealsKind, "dealtype")
	opportunity := common(dealsKind, sfPrefixOpportunity, "Opportunity",
		sfField{name: "AccountId", label: "Account ID", typ: "reference", referenceTo: "Account", get: account},
		sfField{name: "Name", label: "Name", typ: "string", get: str(dealsKind, "dealname")},
		sfField{name: "Amount", label: "Amount", typ: "currency", get: num(dealsKind, "amount")},
		sfField{name: "StageName", label: "Stage", typ: "picklist", picklist: stageLabels, get: func(r sfRow) sfValue {
			st, ok := stage(r)
			if !ok {
				return sfValue{null: true}
			}
			return sfStr(st.label)
		}},
		sfField{name: "Probability", label: "Probability (%)", typ: "percent", get: func(r sfRow) sfValue {
			st, _ := stage(r)
			return sfNum(st.probability)
		}},
		sfField{name: "CloseDate", label: "Close Date", typ: "date", get: func(r sfRow) sfValue {
			v := closeDate(r)
			if len(v) < len("2006-01-02") {
				return sfValue{null: true}
			}
			return sfValue{text: v[:len("2006-01-02")]}
		}},
		sfField{name: "Type", label: "Opportunity Type", typ: "picklist",
			picklist: []string{"New Customer", "Existing Customer - Upgrade"}, get: func(r sfRow) sfValue {
				switch dealType(r) {
				case "newbusiness":
					return sfStr("New Customer")
				case "existingbusiness":
					return sfStr("Existing Customer - Upgrade")
				}
				return sfValue{null: true}
			}},
		sfField{name: "IsClosed", label: "Closed", typ: "boolean", get: func(r sfRow) sfValue {
			st, _ := stage(r)
			return sfBoolValue(st.closed)
		}},
		sfField{name: "IsWon", label: "Won", typ: "boolean", get: func(r sfRow) sfValue {
			st, _ := stage(r)
			return sfBoolValue(st.won)
		}},
		sfField{name: "Priority__c", label: "Priority", typ: "picklist", custom: true,
			picklist: []string{"low", "medium", "high"}, get: str(dealsKind, "hs_priority")},
	)

	ownerTime := func(v string) sfValue {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return sfValue{null: true}
		}
		return sfTime(t)
	}
	user := []sfField{
		{name: "Id", label: "User ID", typ: "id", get: func(r sfRow) sfValue { return sfOwnerRef(s.owners[r.i].ID) }},
		{name: "Username", label: "Username", typ: "string", get: func(r sfRow) sfValue { return sfStr(s.owners[r.i].Email) }},
		{name: "Name", label: "Full Name", typ: "string", get: func(r sfRow) sfValue {
			return sfStr(strings.TrimSpace(s.owners[r.i].FirstName + " " + s.owners[r.i].LastName))
		}},
		{name: "FirstName", label: "First Name", typ: "string", get: func(r sfRow) sfValue { return sfStr(s.owners[r.i].FirstName) }},
		{name: "LastName", label: "Last Name", typ: "string", get: func(r sfRow) sfValue { return sfStr(s.owners[r.i].LastName) }},
		{name: "Email", label: "Email", typ: "email", get: func(r sfRow) sfValue { return sfStr(s.owners[r.i].Email) }},
		{name: "IsActive", label: "Active", typ: "boolean", get: func(r sfRow) sfValue { return sfBoolValue(!s.owners[r.i].Archived) }},
		{name: "UserType", label: "User Type", typ: "picklist", picklist: []string{"Standard"}, get: func(sfRow) sfValue { return sfStr("Standard") }},
		{name: "CreatedDate", label: "Created Date", typ: "datetime", get: func(r sfRow) sfValue { return ownerTime(s.owners[r.i].CreatedAt) }},
		{name: "LastModifiedDate", label: "Last Modified Date", typ: "datetime", get: func(r sfRow) sfValue { return ownerTime(s.owners[r.i].UpdatedAt) }},
		{name: "SystemModstamp", label: "System Modstamp", typ: "datetime", get: func(r sfRow) sfValue { return ownerTime(s.owners[r.i].UpdatedAt) }},
	}
	stagesCreated := sfTime(time.Date(2020, 2, 11, 13, 30, 0, 0, time.UTC))
	stageFields := []sfField{
		{name: "Id", label: "Opportunity Stage ID", typ: "id", get: func(r sfRow) sfValue { return sfValue{text: sfID(sfPrefixStage, int64(r.i+1))} }},
		{name: "ApiName", label: "Api Name", typ: "string", get: func(r sfRow) sfValue { return sfStr(sc.stages[r.i].label) }},
		{name: "MasterLabel", label: "Master Label", typ: "string", get: func(r sfRow) sfValue { return sfStr(sc.stages[r.i].label) }},
		{name: "IsActive", label: "Is Active", typ: "boolean", get: func(sfRow) sfValue { return sfBoolValue(true) }},
		{name: "IsClosed", label: "Is Closed", typ: "boolean", get: func(r sfRow) sfValue { return sfBoolValue(sc.stages[r.i].closed) }},
		{name: "IsWon", label: "Is Won", typ: "boolean", get: func(r sfRow) sfValue { return sfBoolValue(sc.stages[r.i].won) }},
		{name: "SortOrder", label: "Sort Order", typ: "int", get: func(r sfRow) sfValue { return sfNum(strconv.Itoa(r.i + 1)) }},
		{name: "DefaultProbability", label: "Default Probability", typ: "percent", get: func(r sfRow) sfValue { return sfNum(sc.stages[r.i].probability) }},
		{name: "CreatedDate", label: "Created Date", typ: "datetime", get: func(sfRow) sfValue { return stagesCreated }},
		{name: "LastModifiedDate", label: "Last Modified Date", typ: "datetime", get: func(sfRow) sfValue { return stagesCreated }},
		{name: "SystemModstamp", label: "System Modstamp", typ: "datetime", get: func(sfRow) sfValue { return stagesCreated }},
	}

	// The wide properties become custom fields, as many as the edition allows beside the
	// dialect's own custom fields (salesforce_wide.go).
	withWide := func(k objectKind, fields []sfField) []sfField {
		taken := map[string]bool{}
		custom := 0
		for _, f := range fields {
			taken[strings.ToLower(f.name)] = true
			if f.custom {
				custom++
			}
		}
		return append(fields, sfWideFields(s.objects[k].typ, sfMaxCustomFields-custom, taken)...)
	}
	contact = withWide(contactsKind, contact)
	accountFields = withWide(companiesKind, accountFields)
	opportunity = withWide(dealsKind, opportunity)

	add := func(name, label, prefix string, kind objectKind, fields []sfField) {
		o := &sfObject{name: name, label: label, prefix: prefix, kind: kind, fields: fields, index: map[string]int{}}
		for i := range o.fields {
			o.fields[i].kind = sfKindOf(o.fields[i].typ)
			o.index[strings.ToLower(o.fields[i].name)] = i
		}
		sc.objects[strings.ToLower(name)] = o
		if kind >= 0 {
			sc.byKind[kind] = o
		}
	}
	add("Contact", "Contact", sfPrefixContact, contactsKind, contact)
	add("Account", "Account", sfPrefixAccount, companiesKind, accountFields)
	add("Opportunity", "Opportunity", sfPrefixOpportunity, dealsKind, opportunity)
	add("User", "User", sfPrefixUser, -1, user)
	add("OpportunityStage", "Opportunity Stage", sfPrefixStage, -1, stageFields)
	return sc
}

// sfOwnerRef is the User id of a seeded owner id.
func sfOwnerRef(ownerID string) sfValue {
	n, err := strconv.ParseInt(ownerID, 10, 64)
	if err != nil || ownerID == "" {
		return sfValue{null: true}
	}
	return sfValue{text: sfID(sfPrefixUser, n)}
}

func optionValues(t *objectType, prop string) []string {
	var out []string
	for _, o := range t.props[t.index[prop]].Options {
		out = append(out, o.Value)
	}
	return out
}

// isRecord reports whether the object is one of the seeded record objects.
func (o *sfObject) isRecord() bool { return o.kind >= 0 }

// lookupRecord finds a seeded record by its Salesforce id.
func (s *Sim) sfLookup(o *sfObject, id string) (*entry, bool) {
	if !o.isRecord() {
		return nil, false
	}
	n, ok := sfParseID(o.prefix, id)
	if !ok {
		return nil, false
	}
	store := s.objects[o.kind]
	i, ok := store.byID[n]
	if !ok {
		return nil, false
	}
	return store.entries[i], true
}

// rows returns the object's rows in Id order: live records only, or deleted ones too
// (queryAll). Each row holds the record's current version, so a query locator keeps
// returning what the query saw even if the record changes later.
func (s *Sim) sfRows(o *sfObject, all bool) []sfRow {
	switch {
	case o.isRecord():
		store := s.objects[o.kind]
		n := store.live()
		if all {
			n = len(store.entries)
		}
		out := make([]sfRow, 0, n)
		for _, e := range store.entries {
			if all || !e.cur.archived {
				out = append(out, sfRow{e: e, st: e.cur})
			}
		}
		return out
	case o.prefix == sfPrefixUser:
		out := make([]sfRow, len(s.owners))
		for i := range out {
			out[i].i = i
		}
		// Owners are seeded in ascending id order, which is their User id order too.
		return out
	default:
		out := make([]sfRow, len(s.sf.schema.stages))
		for i := range out {
			out[i].i = i
		}
		return out
	}
}

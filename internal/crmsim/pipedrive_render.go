package crmsim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// How the seeded (HubSpot-named) records map to Pipedrive's v2 shapes (reference 3.2). The
// mapping is fixed, so that ground truth and API agree:
//
//   - contacts are persons: id = the seeded id; name = "firstname lastname" (the email, or
//     "Person <id>", when both are blank); first_name, last_name = firstname, lastname;
//     emails = [{value: email, primary: true, label: "work"}] and phones likewise from phone
//     ([] when blank); org_id = the lowest associated company id; owner_id =
//     hubspot_owner_id (owners keep their seeded numeric ids as Pipedrive user ids).
//   - companies are organizations: name; owner_id; address = {value: "city, country",
//     locality: city, country: country} (null when both are blank).
//   - deals: title = dealname; value = amount as a number (0 when blank), currency "USD";
//     pipeline_id and stage_id = the seeded pipelines and stages numbered from 1 in their
//     seeded order; status = "won" / "lost" for a closed stage of probability 1 / 0, else
//     "open", and "deleted" for a deleted deal; close_time (and won_time or lost_time) =
//     closedate of a closed deal, expected_close_date = the date of closedate of an open
//     one; person_id and org_id = the lowest associated contact and company ids.
//   - every object: add_time = createdate and update_time = the modified date, both cut to
//     the whole second (2026-01-01T00:00:00Z); is_deleted = archived; visible_to 3; the
//     other seeded properties (jobtitle, lifecyclestage, hs_lead_status, city, zip, country;
//     domain, industry, phone, numberofemployees, annualrevenue; dealtype, hs_priority) are
//     custom fields under custom_fields, keyed by a 40-hex-digit field code as Pipedrive's
//     are, numbers as JSON numbers and blanks as null, and so are 60 and more of each
//     object's wide properties, typed as pipedrive_fields.go says. The contact's "company"
//     property is left out: org_id says it.

// pdTimeLayout renders timestamps at Pipedrive's whole-second precision.
const pdTimeLayout = "2006-01-02T15:04:05Z"

func pdTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(pdTimeLayout) }

// pdPipeline and pdStage are the v2 Pipeline and Stage shapes.
type pdPipeline struct {
	ID                       int64  `json:"id"`
	Name                     string `json:"name"`
	OrderNr                  int    `json:"order_nr"`
	IsDeleted                bool   `json:"is_deleted"`
	IsDealProbabilityEnabled bool   `json:"is_deal_probability_enabled"`
	AddTime                  string `json:"add_time"`
	UpdateTime               string `json:"update_time"`
	IsSelected               bool   `json:"is_selected"`
}

type pdStage struct {
	ID               int64  `json:"id"`
	OrderNr          int    `json:"order_nr"`
	Name             string `json:"name"`
	IsDeleted        bool   `json:"is_deleted"`
	DealProbability  int    `json:"deal_probability"`
	PipelineID       int64  `json:"pipeline_id"`
	IsDealRotEnabled bool   `json:"is_deal_rot_enabled"`
	DaysToRotten     *int   `json:"days_to_rotten"`
	AddTime          string `json:"add_time"`
	UpdateTime       string `json:"update_time"`
	status           string // the status of a deal in this stage: open, won or lost
}

// pipedrivePipelines numbers the seeded pipelines and their stages from 1.
func pipedrivePipelines(pipes []pipeline) ([]pdPipeline, map[string]pdStage) {
	reTime := func(v string) string {
		t, err := time.Parse(isoMillis, v)
		if err != nil {
			return v
		}
		return pdTime(t)
	}
	var out []pdPipeline
	stages := map[string]pdStage{}
	next := int64(1)
	for i, p := range pipes {
		pid := int64(i + 1)
		out = append(out, pdPipeline{ID: pid, Name: p.Label, OrderNr: p.DisplayOrder, IsDealProbabilityEnabled: true,
			AddTime: reTime(p.CreatedAt), UpdateTime: reTime(p.UpdatedAt), IsSelected: i == 0})
		for _, st := range p.Stages {
			prob, _ := strconv.ParseFloat(st.Metadata["probability"], 64)
			status := "open"
			if st.Metadata["isClosed"] == "true" {
				status = "lost"
				if prob >= 1 {
					status = "won"
				}
			}
			stages[st.ID] = pdStage{ID: next, OrderNr: st.DisplayOrder, Name: st.Label,
				DealProbability: int(math.Round(prob * 100)), PipelineID: pid,
				AddTime: reTime(st.CreatedAt), UpdateTime: reTime(st.UpdatedAt), status: status}
			next++
		}
	}
	return out, stages
}

// pdValue is an entry of a person's emails or phones.
type pdValue struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
	Label   string `json:"label"`
}

type pdPerson struct {
	ID           int64          `json:"id"`
	Name         string         `json:"name"`
	FirstName    *string        `json:"first_name"`
	LastName     *string        `json:"last_name"`
	OwnerID      *int64         `json:"owner_id"`
	OrgID        *int64         `json:"org_id"`
	AddTime      string         `json:"add_time"`
	UpdateTime   string         `json:"update_time"`
	Emails       []pdValue      `json:"emails"`
	Phones       []pdValue      `json:"phones"`
	IsDeleted    bool           `json:"is_deleted"`
	VisibleTo    int            `json:"visible_to"`
	LabelIDs     []int64        `json:"label_ids"`
	PictureID    *int64         `json:"picture_id"`
	CustomFields map[string]any `json:"custom_fields"`
}

type pdAddress struct {
	Value    string  `json:"value"`
	Locality *string `json:"locality"`
	Country  *string `json:"country"`
}

type pdOrganization struct {
	ID           int64          `json:"id"`
	Name         string         `json:"name"`
	OwnerID      *int64         `json:"owner_id"`
	AddTime      string         `json:"add_time"`
	UpdateTime   string         `json:"update_time"`
	IsDeleted    bool           `json:"is_deleted"`
	VisibleTo    int            `json:"visible_to"`
	Address      *pdAddress     `json:"address"`
	LabelIDs     []int64        `json:"label_ids"`
	CustomFields map[string]any `json:"custom_fields"`
}

type pdDeal struct {
	ID                int64          `json:"id"`
	Title             string         `json:"title"`
	OwnerID           *int64         `json:"owner_id"`
	PersonID          *int64         `json:"person_id"`
	OrgID             *int64         `json:"org_id"`
	PipelineID        *int64         `json:"pipeline_id"`
	StageID           *int64         `json:"stage_id"`
	Value             json.Number    `json:"value"`
	Currency          string         `json:"currency"`
	AddTime           string         `json:"add_time"`
	UpdateTime        string         `json:"update_time"`
	StageChangeTime   *string        `json:"stage_change_time"`
	IsDeleted         bool           `json:"is_deleted"`
	IsArchived        bool           `json:"is_archived"`
	Status            string         `json:"status"`
	Probability       *int           `json:"probability"`
	LostReason        *string        `json:"lost_reason"`
	VisibleTo         int            `json:"visible_to"`
	CloseTime         *string        `json:"close_time"`
	WonTime           *string        `json:"won_time"`
	LostTime          *string        `json:"lost_time"`
	ExpectedCloseDate *string        `json:"expected_close_date"`
	LabelIDs          []int64        `json:"label_ids"`
	CustomFields      map[string]any `json:"custom_fields"`
}

// pipedriveVisibleTo is "the entire company" (Pipedrive's visible_to 3).
const pipedriveVisibleTo = 3

// pipedriveRender shapes the current version of a record as the v2 API returns it, with
// every custom field, or with only those keyed in only when it is not nil (the
// custom_fields parameter). s.mu must be held.
func (s *Sim) pipedriveRender(k objectKind, e *entry, only map[string]bool) any {
	o := s.objects[k]
	st := e.cur
	val := func(name string) string { return st.get(o.typ.index[name]) }
	str := func(name string) *string {
		if v := val(name); v != "" {
			return &v
		}
		return nil
	}
	num := func(v string) *int64 {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil
		}
		return &n
	}
	firstAssoc := func(to objectKind) *int64 {
		ids := e.assoc[to]
		if len(ids) == 0 {
			return nil
		}
		return num(sortedIDs(ids)[0])
	}
	custom := map[string]any{}
	for _, c := range s.pd.fields[k].custom {
		if only == nil || only[c.code] {
			custom[c.code] = c.value(st.get(c.prop))
		}
	}
	add, upd := pdTime(st.createdAt), pdTime(st.updatedAt)
	owner := num(val(propOwner))
	switch k {
	case contactsKind:
		p := pdPerson{ID: e.id, FirstName: str("firstname"), LastName: str("lastname"), OwnerID: owner,
			OrgID: firstAssoc(companiesKind), AddTime: add, UpdateTime: upd, Emails: []pdValue{}, Phones: []pdValue{},
			IsDeleted: st.archived, VisibleTo: pipedriveVisibleTo, LabelIDs: []int64{}, CustomFields: custom}
		p.Name = strings.TrimSpace(val("firstname") + " " + val("lastname"))
		if v := val("email"); v != "" {
			p.Emails = append(p.Emails, pdValue{Value: v, Primary: true, Label: "work"})
			if p.Name == "" {
				p.Name = v
			}
		}
		if p.Name == "" {
			p.Name = "Person " + e.sid
		}
		if v := val("phone"); v != "" {
			p.Phones = append(p.Phones, pdValue{Value: v, Primary: true, Label: "work"})
		}
		return p
	case companiesKind:
		org := pdOrganization{ID: e.id, Name: val("name"), OwnerID: owner, AddTime: add, UpdateTime: upd,
			IsDeleted: st.archived, VisibleTo: pipedriveVisibleTo, LabelIDs: []int64{}, CustomFields: custom}
		if city, country := str("city"), str("country"); city != nil || country != nil {
			parts := []string{}
			for _, v := range []*string{city, country} {
				if v != nil {
					parts = append(parts, *v)
				}
			}
			org.Address = &pdAddress{Value: strings.Join(parts, ", "), Locality: city, Country: country}
		}
		return org
	default:
		d := pdDeal{ID: e.id, Title: val("dealname"), OwnerID: owner, PersonID: firstAssoc(contactsKind),
			OrgID: firstAssoc(companiesKind), Value: "0", Currency: "USD", AddTime: add, UpdateTime: upd,
			IsDeleted: st.archived, Status: "open", VisibleTo: pipedriveVisibleTo, LabelIDs: []int64{}, CustomFields: custom}
		if v := val("amount"); v != "" {
			d.Value = json.Number(v)
		}
		if stage, ok := s.pd.stages[val("dealstage")]; ok {
			d.StageID, d.PipelineID, d.Status = &stage.ID, &stage.PipelineID, stage.status
		}
		if closed, err := time.Parse(isoMillis, val("closedate")); err == nil {
			switch d.Status {
			case "won", "lost":
				ct := pdTime(closed)
				d.CloseTime = &ct
				if d.Status == "won" {
					d.WonTime = &ct
				} else {
					d.LostTime = &ct
				}
			default:
				date := closed.UTC().Format(time.DateOnly)
				d.ExpectedCloseDate = &date
			}
		}
		if st.archived {
			d.Status = "deleted"
		}
		return d
	}
}

// pipedriveSnapshot renders every record of object, deleted ones included, as the v2 API
// does, sorted by id. A deleted record's ArchivedAt is its update_time, the only instant
// the API shows for it.
func (s *Sim) pipedriveSnapshot(object string) ([]Record, error) {
	k, ok := kindByName(object)
	if !ok {
		return nil, fmt.Errorf("snapshot: unknown object %q", object)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.objects[k]
	out := make([]Record, 0, len(o.entries))
	for _, e := range o.entries {
		b, err := json.Marshal(s.pipedriveRender(k, e, nil))
		if err != nil {
			return nil, fmt.Errorf("snapshot: rendering %s %s: %w", object, e.sid, err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("snapshot: rendering %s %s: %w", object, e.sid, err)
		}
		delete(fields, "id")
		r := Record{ID: e.sid, CreatedAt: e.cur.createdAt.UTC().Truncate(time.Second),
			UpdatedAt: e.cur.updatedAt.UTC().Truncate(time.Second), Archived: e.cur.archived,
			Properties: make(map[string]string, len(fields))}
		if r.Archived {
			r.ArchivedAt = r.UpdatedAt
		}
		for name, raw := range fields {
			r.Properties[name] = snapshotValue(raw)
		}
		for kk, ids := range e.assoc {
			if len(ids) == 0 {
				continue
			}
			if r.Associations == nil {
				r.Associations = make(map[string][]string)
			}
			r.Associations[objectName(objectKind(kk))] = sortedIDs(ids)
		}
		out = append(out, r)
	}
	return out, nil
}

package crmsim

import (
	"net/http"
	"strconv"
	"time"
)

// Reference data in Zoho's shapes: users, field metadata, layouts and the Deals pipelines.
// Configuration ids (layouts, pipelines, stages, forecast categories) live in id space 5.
const (
	zohoLayoutBase   = 100  // + object kind: each module's one "Standard" layout
	zohoPipelineBase = 200  // + pipeline index
	zohoStageBase    = 1000 // + stage index across pipelines
	zohoForecastBase = 900  // + 0 Pipeline, 1 Closed, 2 Omitted
	// Field ids: zohoFieldBase + object kind * zohoFieldSpan + the field's index, so a
	// wide module's fields never take another module's ids.
	zohoFieldBase = 10_000
	zohoFieldSpan = 1_000
)

func zohoLayoutID(k objectKind) string { return zohoID(zohoConfigSpace, zohoLayoutBase+int64(k)) }

// zohoUser is the OAS users item, with the fields crmsync reads and a few of the rest.
type zohoUserItem struct {
	ID           string      `json:"id"`
	FirstName    string      `json:"first_name"`
	LastName     string      `json:"last_name"`
	FullName     string      `json:"full_name"`
	Email        string      `json:"email"`
	Status       string      `json:"status"`
	Confirm      bool        `json:"confirm"`
	TimeZone     string      `json:"time_zone"`
	CreatedTime  string      `json:"created_time"`
	ModifiedTime string      `json:"Modified_Time"`
	Role         *zohoLookup `json:"role"`
	Profile      *zohoLookup `json:"profile"`
}

type zohoPageInfo struct {
	PerPage     int  `json:"per_page"`
	Count       int  `json:"count"`
	Page        int  `json:"page"`
	MoreRecords bool `json:"more_records"`
}

// serveZohoUsers answers GET /crm/v8/users?type=AllUsers|ActiveUsers&page&per_page. Every
// seeded owner is an active user, in id order.
func (s *Sim) serveZohoUsers(c *zohoCall) reply {
	q := c.r.URL.Query()
	switch q.Get("type") {
	case "", "AllUsers", "ActiveUsers", "AdminUsers", "ActiveConfirmedUsers", "CurrentUser":
	default:
		return zohoErrorReply(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"param_name": "type"})
	}
	perPage, ok := zohoPositive(q.Get("per_page"), zohoPerPage)
	if !ok {
		return zohoInvalid("per_page", "invalid data")
	}
	perPage = min(perPage, zohoPerPage)
	page, ok := zohoPositive(q.Get("page"), 1)
	if !ok {
		return zohoInvalid("page", "invalid data")
	}
	from := min((page-1)*perPage, len(s.owners))
	taken := s.owners[from:min(from+perPage, len(s.owners))]
	if len(taken) == 0 {
		return reply{status: http.StatusNoContent}
	}
	resp := struct {
		Users []zohoUserItem `json:"users"`
		Info  zohoPageInfo   `json:"info"`
	}{Info: zohoPageInfo{PerPage: perPage, Count: len(taken), Page: page, MoreRecords: from+len(taken) < len(s.owners)}}
	for _, o := range taken {
		u, _ := s.zohoUser(o.ID)
		created, _ := parseSimTime(o.CreatedAt)
		updated, _ := parseSimTime(o.UpdatedAt)
		resp.Users = append(resp.Users, zohoUserItem{
			ID: u.ID, FirstName: o.FirstName, LastName: o.LastName, FullName: u.Name, Email: o.Email,
			Status: "active", Confirm: true, TimeZone: "Etc/UTC",
			CreatedTime: formatZohoTime(created), ModifiedTime: formatZohoTime(updated),
			Role:    &zohoLookup{Name: "Sales", ID: zohoID(zohoConfigSpace, 10)},
			Profile: &zohoLookup{Name: "Standard", ID: zohoID(zohoConfigSpace, 20)},
		})
	}
	return jsonReply(http.StatusOK, resp)
}

// zohoModuleParam resolves the module query parameter of the settings APIs.
func (s *Sim) zohoModuleParam(c *zohoCall) (*zohoModule, *reply) {
	name := c.r.URL.Query().Get("module")
	if name == "" {
		rep := zohoErrorReply(http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			map[string]any{"param_name": "module"})
		return nil, &rep
	}
	m := s.zo.moduleByName(name)
	if m == nil {
		rep := zohoErrorReply(http.StatusBadRequest, "INVALID_MODULE", "the module name given seems to be invalid",
			map[string]any{"param_name": "module"})
		return nil, &rep
	}
	return m, nil
}

// zohoFieldItem is the part of the OAS fields item the dialect fills in.
type zohoFieldItem struct {
	APIName         string            `json:"api_name"`
	FieldLabel      string            `json:"field_label"`
	DisplayLabel    string            `json:"display_label"`
	DataType        string            `json:"data_type"`
	JSONType        string            `json:"json_type"`
	ID              string            `json:"id"`
	CustomField     bool              `json:"custom_field"`
	ReadOnly        bool              `json:"read_only"`
	Visible         bool              `json:"visible"`
	SystemMandatory bool              `json:"system_mandatory"`
	PickListValues  []zohoPickListVal `json:"pick_list_values"`
}

type zohoPickListVal struct {
	DisplayValue string `json:"display_value"`
	ActualValue  string `json:"actual_value"`
}

// serveZohoFields answers GET /crm/v8/settings/fields?module=...
func (s *Sim) serveZohoFields(c *zohoCall) reply {
	m, bad := s.zohoModuleParam(c)
	if bad != nil {
		return *bad
	}
	o := s.objects[m.kind]
	out := make([]zohoFieldItem, len(m.fields))
	for i, f := range m.fields {
		it := zohoFieldItem{
			APIName: f.api, FieldLabel: f.label, DisplayLabel: f.label, DataType: f.dataType, JSONType: f.jsonType,
			ID: zohoID(zohoConfigSpace, int64(zohoFieldBase+int(m.kind)*zohoFieldSpan+i)), CustomField: f.custom,
			ReadOnly: f.readOnly, Visible: true, PickListValues: []zohoPickListVal{},
			SystemMandatory: f.api == "Last_Name" || f.api == "Account_Name" && m.kind == companiesKind || f.api == "Deal_Name",
		}
		switch {
		case f.options != nil:
			it.PickListValues = f.options
		case f.dataType == "picklist":
			it.PickListValues = s.zohoPickList(o, f.api)
		}
		out[i] = it
	}
	return jsonReply(http.StatusOK, struct {
		Fields []zohoFieldItem `json:"fields"`
	}{out})
}

// zohoPickList lists a picklist field's values as records carry them.
func (s *Sim) zohoPickList(o *objectStore, api string) []zohoPickListVal {
	var vals []string
	switch api {
	case "Stage":
		for _, p := range s.pipelines {
			for _, st := range p.Stages {
				vals = append(vals, st.Label)
			}
		}
	case "Pipeline":
		for _, p := range s.pipelines {
			vals = append(vals, p.Label)
		}
	case "Type":
		vals = []string{"New Business", "Existing Business"}
	default:
		prop := map[string]string{"Lifecycle_Stage": "lifecyclestage", "Lead_Status": "hs_lead_status",
			"Industry": "industry", "Priority": "hs_priority"}[api]
		if i, ok := o.typ.index[prop]; ok {
			for _, opt := range o.typ.props[i].Options {
				vals = append(vals, opt.Value)
			}
		}
	}
	out := make([]zohoPickListVal, len(vals))
	for i, v := range vals {
		out[i] = zohoPickListVal{DisplayValue: v, ActualValue: v}
	}
	return out
}

// serveZohoLayouts answers GET /crm/v8/settings/layouts?module=...: one Standard layout
// per module, whose id the pipelines API asks for.
func (s *Sim) serveZohoLayouts(c *zohoCall) reply {
	m, bad := s.zohoModuleParam(c)
	if bad != nil {
		return *bad
	}
	type layout struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		APIName string `json:"api_name"`
		Status  string `json:"status"`
		Visible bool   `json:"visible"`
		Source  string `json:"source"`
	}
	return jsonReply(http.StatusOK, struct {
		Layouts []layout `json:"layouts"`
	}{[]layout{{ID: zohoLayoutID(m.kind), Name: "Standard", APIName: "Standard__s", Status: "active", Visible: true, Source: "crm"}}})
}

// zohoStageMap is one stage of a pipeline (the OAS "maps" item).
type zohoStageMap struct {
	DisplayValue     string     `json:"display_value"`
	SequenceNumber   int        `json:"sequence_number"`
	ForecastCategory zohoLookup `json:"forecast_category"`
	ActualValue      string     `json:"actual_value"`
	ID               string     `json:"id"`
	ForecastType     string     `json:"forecast_type"`
}

type zohoPipelineItem struct {
	DisplayValue string         `json:"display_value"`
	Default      bool           `json:"default"`
	Maps         []zohoStageMap `json:"maps"`
	ActualValue  string         `json:"actual_value"`
	ID           string         `json:"id"`
}

// serveZohoPipelines answers GET /crm/v8/settings/pipeline?layout_id=... for the Deals
// layout. Records carry a pipeline's and a stage's actual_value (here its label).
func (s *Sim) serveZohoPipelines(c *zohoCall) reply {
	layout := c.r.URL.Query().Get("layout_id")
	switch {
	case layout == "":
		return zohoErrorReply(http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
			map[string]any{"param_name": "layout_id"})
	case layout != zohoLayoutID(dealsKind):
		return zohoInvalid("layout_id", "invalid data")
	}
	forecast := []zohoLookup{
		{Name: "Pipeline", ID: zohoID(zohoConfigSpace, zohoForecastBase)},
		{Name: "Closed", ID: zohoID(zohoConfigSpace, zohoForecastBase+1)},
		{Name: "Omitted", ID: zohoID(zohoConfigSpace, zohoForecastBase+2)},
	}
	out := make([]zohoPipelineItem, len(s.pipelines))
	stage := int64(zohoStageBase)
	for i, p := range s.pipelines {
		it := zohoPipelineItem{DisplayValue: p.Label, ActualValue: p.Label, Default: i == 0,
			ID: zohoID(zohoConfigSpace, zohoPipelineBase+int64(i))}
		for j, st := range p.Stages {
			m := zohoStageMap{DisplayValue: st.Label, ActualValue: st.Label, SequenceNumber: j + 1,
				ID: zohoID(zohoConfigSpace, stage), ForecastType: "Open", ForecastCategory: forecast[0]}
			if st.Metadata["isClosed"] == "true" {
				m.ForecastType, m.ForecastCategory = "Closed Lost", forecast[2]
				if p, _ := strconv.ParseFloat(st.Metadata["probability"], 64); p > 0 {
					m.ForecastType, m.ForecastCategory = "Closed Won", forecast[1]
				}
			}
			it.Maps = append(it.Maps, m)
			stage++
		}
		out[i] = it
	}
	return jsonReply(http.StatusOK, struct {
		Pipeline []zohoPipelineItem `json:"pipeline"`
	}{out})
}

// parseSimTime reads a timestamp the sim formatted with isoMillis.
func parseSimTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

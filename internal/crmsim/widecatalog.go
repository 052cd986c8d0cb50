package crmsim

import (
	"strconv"
	"strings"
)

// The wide catalog: the properties a realistic HubSpot account defines beyond the dozen or
// so the simulator's own logic reads and writes. A real portal is hundreds of properties
// wide, and that width is what breaks naive sync code (a GET that names every property
// overflows HubSpot's ~16,000-byte URI limit for contacts; responses are large and mostly
// empty). The HubSpot-defined names follow the families listed on HubSpot's knowledge base
// pages "HubSpot's default contact properties", "HubSpot's default company properties" and
// "HubSpot's default deal properties" (analytics, email, conversion, activity, per-stage
// entered/exited/time-in dates, per-subscription opt-outs, ownership and record-source
// bookkeeping). The custom ones are the kind a B2B company and its installed integrations
// create over the years: Salesforce sync fields (salesforcecontactid and friends), enrichment
// tools, product-usage and customer-success fields, attribution, consent, per-event fields and
// leftovers from migrations, with uneven naming and mostly sparse values, so the simulated
// account is as wide and as messy as a real one.

// wideProp declares one property of a realistic account beyond those the simulator's own
// logic uses. It is plain data so the schema code can turn it into a propertyDef and the
// seeder can fill values at the stated rate; nothing here depends on the rest of the package.
type wideProp struct {
	name    string   // HubSpot internal name: lower-case [a-z0-9_], starts with a letter, at most 60 chars
	label   string   // display label as HubSpot shows it
	typ     string   // one of: "string", "number", "datetime", "date", "enumeration", "bool"
	field   string   // HubSpot fieldType: text, textarea, number, date, select, radio, checkbox, booleancheckbox, phonenumber, calculation_equation, html
	group   string   // HubSpot groupName: a default group or a custom group for custom props
	options []string // for typ "enumeration" only: the option values; nil otherwise
	fill    float64  // share of records holding a value, 0 < fill <= 0.95
	custom  bool     // true for properties the account created (hubspotDefined false)
}

// wideBuilder accumulates one object's extra properties in declaration order. It keeps the
// catalog readable as data, one line a property, while the families HubSpot stamps out per
// stage or per subscription come from loops; group and custom apply to the lines that follow.
type wideBuilder struct {
	props  []wideProp
	grp    string // groupName for the properties added next
	custom bool   // whether the properties added next are account-created
}

// in starts a run of HubSpot-defined properties in a default group.
func (b *wideBuilder) in(group string) { b.grp, b.custom = group, false }

// customIn starts a run of account-created properties in a custom group.
func (b *wideBuilder) customIn(group string) { b.grp, b.custom = group, true }

// add appends one property. The typed helpers below pair each HubSpot type with the field type
// HubSpot most often uses for it; the few lines that need another pairing (a calculated string,
// an html field) call add directly.
func (b *wideBuilder) add(name, label, typ, field string, fill float64, options []string) {
	b.props = append(b.props, wideProp{name: name, label: label, typ: typ, field: field,
		group: b.grp, options: options, fill: wideFill(fill), custom: b.custom})
}

// txt declares a single-line text property, HubSpot's most common kind.
func (b *wideBuilder) txt(name, label string, fill float64) {
	b.add(name, label, "string", "text", fill, nil)
}

// area declares a multi-line text property (notes, descriptions, free-form answers).
func (b *wideBuilder) area(name, label string, fill float64) {
	b.add(name, label, "string", "textarea", fill, nil)
}

// tel declares a phone number property, a string HubSpot formats and validates.
func (b *wideBuilder) tel(name, label string, fill float64) {
	b.add(name, label, "string", "phonenumber", fill, nil)
}

// num declares a number a user or integration sets.
func (b *wideBuilder) num(name, label string, fill float64) {
	b.add(name, label, "number", "number", fill, nil)
}

// calc declares a number HubSpot computes (rollups, counts, durations in milliseconds).
func (b *wideBuilder) calc(name, label string, fill float64) {
	b.add(name, label, "number", "calculation_equation", fill, nil)
}

// ts declares a datetime: HubSpot's millisecond timestamps, which its UI shows with the date
// field type (every hs_*_date and *_timestamp property).
func (b *wideBuilder) ts(name, label string, fill float64) {
	b.add(name, label, "datetime", "date", fill, nil)
}

// day declares a date-only property (midnight UTC), as date pickers on custom fields store.
func (b *wideBuilder) day(name, label string, fill float64) {
	b.add(name, label, "date", "date", fill, nil)
}

// sel declares a dropdown enumeration.
func (b *wideBuilder) sel(name, label string, fill float64, options ...string) {
	b.add(name, label, "enumeration", "select", fill, options)
}

// radio declares a radio-button enumeration.
func (b *wideBuilder) radio(name, label string, fill float64, options ...string) {
	b.add(name, label, "enumeration", "radio", fill, options)
}

// multi declares a multiple-checkbox enumeration, whose values are ";"-joined option lists.
func (b *wideBuilder) multi(name, label string, fill float64, options ...string) {
	b.add(name, label, "enumeration", "checkbox", fill, options)
}

// flag declares a single checkbox, whose values are "true" and "false".
func (b *wideBuilder) flag(name, label string, fill float64) {
	b.add(name, label, "bool", "booleancheckbox", fill, nil)
}

// wideFill rounds a fill rate to three places and keeps it in (0, 0.95]: family loops derive
// rates by multiplication, and no property in a real account is on every record or on none.
func wideFill(f float64) float64 {
	f = float64(int(f*1000+0.5)) / 1000
	return min(max(f, 0.01), 0.95)
}

// wideArticle prefixes a stage label with "a" or "an", as HubSpot's "Became a … Date" labels do
// (the "Other" stage reads "Became an Other Lifecycle Date").
func wideArticle(label string) string {
	if label == "Other" {
		return "an Other Lifecycle"
	}
	if strings.ContainsRune("AEIOU", rune(label[0])) {
		return "an " + label
	}
	return "a " + label
}

// wideStage is one stage of a pipeline for the per-stage families (date entered, date exited,
// time in, and their v2 variants). reach is the share of records that ever entered it, so a
// late stage's properties are sparser than an early one's; custom marks a stage the account
// added, which HubSpot names by numeric id.
type wideStage struct {
	id, label, pipeline string
	reach               float64
	custom              bool
}

// wideLifecycleStages lists the lifecycle stages that contacts and companies carry per-stage
// properties for: HubSpot's eight defaults plus the custom stages a long-lived portal
// accumulates, named by 10-digit id as HubSpot names them.
func wideLifecycleStages() []wideStage {
	const p = "Lifecycle Stage Pipeline"
	return []wideStage{
		{"subscriber", "Subscriber", p, 0.36, false},
		{"lead", "Lead", p, 0.72, false},
		{"marketingqualifiedlead", "Marketing Qualified Lead", p, 0.31, false},
		{"salesqualifiedlead", "Sales Qualified Lead", p, 0.16, false},
		{"opportunity", "Opportunity", p, 0.09, false},
		{"customer", "Customer", p, 0.06, false},
		{"evangelist", "Evangelist", p, 0.01, false},
		{"other", "Other", p, 0.03, false},
		{"1043512871", "Churned Customer", p, 0.02, true},
		{"1043512872", "Partner", p, 0.01, true},
		{"1043512873", "Recycled", p, 0.04, true},
		{"1057760214", "Disqualified", p, 0.05, true},
		{"1057760215", "Former Customer", p, 0.01, true},
		{"1102933487", "Reseller", p, 0.01, true},
		{"1102933488", "Nurture", p, 0.06, true},
		{"1260047311", "Do Not Contact", p, 0.02, true},
	}
}

// wideDealStages lists the deal stages of the simulator's two pipelines (the default sales
// pipeline and the numeric-id partner pipeline), which name the deal per-stage properties.
func wideDealStages() []wideStage {
	const s, p = "Sales Pipeline", "Partner Pipeline"
	return []wideStage{
		{"appointmentscheduled", "Appointment Scheduled", s, 0.62, false},
		{"qualifiedtobuy", "Qualified To Buy", s, 0.5, false},
		{"presentationscheduled", "Presentation Scheduled", s, 0.39, false},
		{"decisionmakerboughtin", "Decision Maker Bought-In", s, 0.28, false},
		{"contractsent", "Contract Sent", s, 0.21, false},
		{"closedwon", "Closed Won", s, 0.15, false},
		{"closedlost", "Closed Lost", s, 0.31, false},
		{"1234912", "Discovery", p, 0.16, false},
		{"1234913", "Proposal", p, 0.1, false},
		{"1234914", "Negotiation", p, 0.07, false},
		{"1234915", "Won", p, 0.04, false},
		{"1234916", "Lost", p, 0.05, false},
	}
}

// stageFamilies declares HubSpot's per-stage properties: the legacy hs_date_entered_/
// hs_date_exited_/hs_time_in_ trio and the hs_v2_ quartet that replaced it, both of which
// real portals still carry side by side. legacyCustom says whether the account's own stages
// get the legacy trio too: in real portals a contact's custom lifecycle stages only have the
// v2 properties, while company lifecycle stages and every deal stage have the trio. These
// families are a large share of an account's width.
func (b *wideBuilder) stageFamilies(stages []wideStage, legacyCustom bool) {
	in := func(s wideStage) string { return s.label + " (" + s.pipeline + ")" }
	for _, s := range stages {
		if !s.custom || legacyCustom {
			b.ts("hs_date_entered_"+s.id, "Date entered '"+in(s)+"'", s.reach)
		}
	}
	for _, s := range stages {
		if !s.custom || legacyCustom {
			b.ts("hs_date_exited_"+s.id, "Date exited '"+in(s)+"'", s.reach*0.8)
		}
	}
	for _, s := range stages {
		if !s.custom || legacyCustom {
			b.calc("hs_time_in_"+s.id, "Time in '"+in(s)+"'", s.reach*0.8)
		}
	}
	for _, s := range stages {
		b.ts("hs_v2_date_entered_"+s.id, `Date entered "`+in(s)+`"`, s.reach*0.9)
	}
	for _, s := range stages {
		b.ts("hs_v2_date_exited_"+s.id, `Date exited "`+in(s)+`"`, s.reach*0.7)
	}
	for _, s := range stages {
		b.num("hs_v2_latest_time_in_"+s.id, `Latest time in "`+in(s)+`"`, s.reach*0.7)
	}
	for _, s := range stages {
		b.num("hs_v2_cumulative_time_in_"+s.id, `Cumulative time in "`+in(s)+`"`, s.reach*0.7)
	}
}

// geohash declares the geocoding properties HubSpot derives from an address: the coordinates
// and one geohash per precision level, all set together when the address geocodes.
func (b *wideBuilder) geohash(fill float64) {
	b.txt("hs_gps_coordinates", "GPS Coordinates", fill)
	for i := 1; i <= 6; i++ {
		b.txt("hs_geohash_"+strconv.Itoa(i), "geohash_"+strconv.Itoa(i), fill)
	}
}

// wideSourceOptions is HubSpot's traffic-source enumeration, shared by every hs_analytics
// source property on all three objects.
func wideSourceOptions() []string {
	return []string{"ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS",
		"OTHER_CAMPAIGNS", "DIRECT_TRAFFIC", "OFFLINE", "PAID_SOCIAL"}
}

// systemProps declares the ownership and record-source bookkeeping HubSpot keeps on every
// object. Most are system-set and present on nearly every record, which makes them a large
// part of each response's bytes.
func (b *wideBuilder) systemProps(group string) {
	b.in(group)
	b.txt("hs_object_source", "Record creation source", 0.95)
	b.txt("hs_object_source_id", "Record creation source ID", 0.61)
	b.sel("hs_object_source_label", "Record source", 0.95, "CRM_UI", "IMPORT", "INTEGRATION", "FORM", "API",
		"AUTOMATION_PLATFORM", "SALES", "MOBILE_IOS", "MOBILE_ANDROID", "BCC_TO_CRM", "EMAIL_INTEGRATION", "CONVERSATIONS")
	b.num("hs_object_source_user_id", "Record creation source user ID", 0.34)
	b.txt("hs_object_source_detail_1", "Record source detail 1", 0.55)
	b.txt("hs_object_source_detail_2", "Record source detail 2", 0.18)
	b.txt("hs_object_source_detail_3", "Record source detail 3", 0.04)
	b.num("hs_created_by_user_id", "Created by user ID", 0.38)
	b.num("hs_updated_by_user_id", "Updated by user ID", 0.62)
	b.txt("hs_merged_object_ids", "Merged record IDs", 0.04)
	b.txt("hs_all_owner_ids", "All owner IDs", 0.86)
	b.txt("hs_all_team_ids", "All team IDs", 0.41)
	b.txt("hs_all_accessible_team_ids", "All teams", 0.43)
	b.txt("hs_all_assigned_business_unit_ids", "Business units", 0.95)
	b.txt("hs_user_ids_of_all_owners", "User IDs of all owners", 0.86)
	b.txt("hs_user_ids_of_all_notification_followers", "User IDs of all notification followers", 0.03)
	b.txt("hs_user_ids_of_all_notification_unfollowers", "User IDs of all notification unfollowers", 0.01)
	b.txt("hs_shared_team_ids", "Shared teams", 0.02)
	b.txt("hs_shared_user_ids", "Shared users", 0.02)
	b.txt("hs_owning_teams", "Owning Teams", 0.29)
	b.sel("hubspot_team_id", "HubSpot Team", 0.41, "4023814", "4023815", "4023816", "4023817", "4023818")
	b.ts("hubspot_owner_assigneddate", "Owner assigned date", 0.84)
	b.flag("hs_was_imported", "Performed in an import", 0.31)
	b.flag("hs_read_only", "Read only object", 0.01)
	b.txt("hs_unique_creation_key", "Unique creation key", 0.01)
	b.num("hs_pinned_engagement_id", "Pinned Engagement ID", 0.03)
}

// activityProps declares the sales-activity rollups HubSpot keeps on every object (notes,
// calls, meetings, tasks, sales emails): sparse timestamps that change whenever a rep works a
// record, so they drive much of an account's modification churn.
func (b *wideBuilder) activityProps(group string) {
	b.in(group)
	b.ts("notes_last_contacted", "Last Contacted", 0.33)
	b.ts("notes_last_updated", "Last Activity Date", 0.46)
	b.ts("notes_next_activity_date", "Next Activity Date", 0.09)
	b.calc("num_contacted_notes", "Number of times contacted", 0.46)
	b.calc("num_notes", "Number of Sales Activities", 0.46)
	b.ts("hs_last_sales_activity_date", "last sales activity date old", 0.3)
	b.ts("hs_last_sales_activity_timestamp", "Last Engagement Date", 0.3)
	b.sel("hs_last_sales_activity_type", "Last Engagement Type", 0.3, "CALL", "EMAIL", "MEETING", "FORM_SUBMITTED",
		"EMAIL_OPEN", "EMAIL_CLICK", "EMAIL_REPLY", "DOCUMENT_OPENED", "MEETING_BOOKED", "SEQUENCE_STEP")
	b.ts("hs_latest_meeting_activity", "Latest meeting activity", 0.11)
	b.ts("hs_sales_email_last_replied", "Recent Sales Email Replied Date", 0.07)
	b.ts("hs_last_logged_call_date", "Last Logged Call Date", 0.12)
	b.ts("hs_last_open_task_date", "Last Open Task Date", 0.08)
	b.ts("hs_last_booked_meeting_date", "Last Booked Meeting Date", 0.07)
	b.ts("hs_last_logged_outgoing_email_date", "Last Logged Outgoing Email Date", 0.05)
	b.txt("hs_notes_last_activity", "Last Activity", 0.4)
	b.txt("hs_notes_next_activity", "Next Activity", 0.09)
	b.sel("hs_notes_next_activity_type", "Next Activity Type", 0.09, "CALL", "EMAIL", "MEETING", "TASK", "LINKEDIN_MESSAGE")
	b.ts("engagements_last_meeting_booked", "Date of last meeting booked in meetings tool", 0.07)
	b.txt("engagements_last_meeting_booked_campaign", "Campaign of last booking in meetings tool", 0.02)
	b.txt("engagements_last_meeting_booked_medium", "Medium of last booking in meetings tool", 0.04)
	b.txt("engagements_last_meeting_booked_source", "Source of last booking in meetings tool", 0.04)
}

// wideEmailSubscriptions are the portal's email subscription types (9-digit ids, as HubSpot
// assigns them); every one adds an hs_email_optout_<id> contact property, and accounts that
// have run marketing for years collect well over a dozen.
func wideEmailSubscriptions() []struct{ id, name string } {
	return []struct{ id, name string }{
		{"186329441", "One to One"},
		{"186329442", "Marketing Information"},
		{"186329443", "Customer Service Communication"},
		{"186330871", "Product Updates"},
		{"186330872", "Monthly Newsletter"},
		{"186331904", "Webinars & Events"},
		{"186331905", "Blog Subscription (Weekly)"},
		{"186331906", "Blog Subscription (Instant)"},
		{"201774512", "Partner Announcements"},
		{"201774513", "Billing Notices"},
		{"201774514", "Surveys & Feedback"},
		{"209918330", "Sales Outreach"},
		{"209918331", "EMEA Marketing"},
		{"209918332", "APAC Marketing"},
		{"233051267", "Customer Advisory Board"},
		{"233051268", "Security Advisories"},
		{"247660019", "Beta Program"},
		{"247660020", "Legacy Subscription (do not use)"},
		{"261338745", "Community & Forum Digest"},
		{"261338746", "Release Notes (Admins)"},
		{"274150391", "Partner Program Updates"},
		{"274150392", "Customer Marketing"},
		{"288802115", "Trial Nurture"},
		{"288802116", "DACH Newsletter (Deutsch)"},
	}
}

// wideContactProps returns the extra contact properties, in a fixed order. Contacts are the
// widest object in a real portal: with these, naming every property in one GET URL exceeds
// HubSpot's URI limit, so a client must fall back to search or split its requests.
func wideContactProps() []wideProp {
	b := &wideBuilder{}

	// Contact information: HubSpot's default identity, address and demographic fields.
	b.in("contactinformation")
	b.txt("address", "Street Address", 0.22)
	b.txt("state", "State/Region", 0.41)
	b.tel("mobilephone", "Mobile Phone Number", 0.18)
	b.tel("fax", "Fax Number", 0.02)
	b.txt("salutation", "Salutation", 0.06)
	b.txt("website", "Website URL", 0.27)
	b.area("message", "Message", 0.09)
	b.txt("industry", "Industry", 0.12)
	b.txt("annualrevenue", "Annual Revenue", 0.05)
	b.sel("numemployees", "Number of Employees", 0.08, "1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
	b.txt("work_email", "Work email", 0.07)
	b.txt("twitterhandle", "Twitter Username", 0.04)
	b.txt("date_of_birth", "Date of birth", 0.01)
	b.txt("degree", "Degree", 0.02)
	b.txt("field_of_study", "Field of study", 0.02)
	b.txt("school", "School", 0.03)
	b.txt("graduation_date", "Graduation date", 0.01)
	b.txt("start_date", "Start date", 0.02)
	b.txt("job_function", "Job function", 0.05)
	b.txt("seniority", "Seniority", 0.04)
	b.txt("military_status", "Military status", 0.01)
	b.txt("marital_status", "Marital Status", 0.01)
	b.txt("gender", "Gender", 0.02)
	b.txt("relationship_status", "Relationship Status", 0.01)
	b.txt("hs_additional_emails", "Additional email addresses", 0.06)
	b.txt("hs_email_domain", "Email Domain", 0.93)
	b.tel("hs_whatsapp_phone_number", "WhatsApp Phone Number", 0.01)
	b.txt("hs_calculated_mobile_number", "Calculated Mobile Number in International Format", 0.15)
	b.txt("hs_calculated_phone_number", "Calculated Phone Number in International Format", 0.45)
	b.txt("hs_calculated_phone_number_area_code", "Calculated Phone Number Area Code", 0.3)
	b.txt("hs_calculated_phone_number_country_code", "Calculated Phone Number Country Code", 0.44)
	b.txt("hs_calculated_phone_number_region_code", "Calculated Phone Number Region", 0.44)
	b.tel("hs_searchable_calculated_phone_number", "Calculated Phone Number without country code", 0.45)
	b.tel("hs_searchable_calculated_mobile_number", "Calculated Mobile Number without country code", 0.15)
	b.tel("hs_searchable_calculated_international_phone_number", "Calculated Phone Number with country code", 0.45)
	b.tel("hs_searchable_calculated_international_mobile_number", "Calculated Mobile Number with country code", 0.15)
	b.txt("hs_country_region_code", "Country/Region Code", 0.5)
	b.txt("hs_state_code", "State/Region Code", 0.35)
	b.add("hs_full_name_or_email", "Full name or email", "string", "calculation_equation", 0.95, nil)
	b.txt("hs_avatar_filemanager_key", "Avatar FileManager key", 0.03)
	b.txt("hs_linkedin_url", "LinkedIn URL", 0.21)
	b.day("hs_job_change_detected_date", "Job change detected date", 0.02)
	b.day("hs_employment_change_detected_date", "Employment change detected date", 0.02)
	b.day("hs_returning_to_office_detected_date", "Returning to office detected date", 0.01)
	b.sel("hs_language", "Preferred language", 0.08, "en", "de", "fr", "es", "nl", "pt-br", "ja", "it")
	b.sel("hs_timezone", "Time Zone", 0.38, "america_slash_new_york", "america_slash_chicago", "america_slash_denver",
		"america_slash_los_angeles", "europe_slash_london", "europe_slash_berlin", "europe_slash_paris",
		"asia_slash_singapore", "asia_slash_tokyo", "australia_slash_sydney")
	b.multi("hs_inferred_language_codes", "Inferred Language Codes", 0.3, "en", "de", "fr", "es", "nl", "pt")
	b.sel("hs_persona", "Persona", 0.11, "persona_1", "persona_2", "persona_3", "persona_4", "persona_5")
	b.multi("hs_buying_role", "Buying Role", 0.07, "BLOCKER", "BUDGET_HOLDER", "CHAMPION", "DECISION_MAKER",
		"END_USER", "EXECUTIVE_SPONSOR", "INFLUENCER", "LEGAL_AND_COMPLIANCE", "OTHER")
	b.sel("hs_role", "Employment Role", 0.12, "accounting", "administrative", "business_development", "consulting",
		"customer_service", "design", "education", "engineering", "finance", "human_resources", "marketing", "sales")
	b.sel("hs_seniority", "Employment Seniority", 0.12, "owner", "founder", "c_suite", "partner", "vp", "head",
		"director", "manager", "senior", "entry", "intern")
	b.sel("hs_sub_role", "Employment Sub Role", 0.06, "account_executive", "account_manager", "backend_engineer",
		"brand_marketing", "data_analyst", "product_manager", "recruiter", "sales_development", "software_engineer")
	b.multi("hs_legal_basis", "Legal basis for processing contact's data", 0.34, "Legitimate interest – prospect/lead",
		"Legitimate interest - existing customer", "Legitimate interest - other", "Performance of a contract",
		"Freely given consent from contact", "Not applicable")
	b.flag("hs_is_contact", "Is a contact", 0.95)
	b.flag("hs_is_unworked", "Contact unworked", 0.88)
	b.txt("hs_pipeline", "Pipeline", 0.95)
	b.txt("hs_conversations_visitor_email", "Conversations visitor email", 0.04)
	b.area("hs_mobile_sdk_push_tokens", "Mobile Sdk Push Tokens", 0.01)
	b.txt("hs_facebookid", "Facebook ID", 0.01)
	b.txt("hs_googleplusid", "googleplus ID", 0.01)
	b.txt("hs_linkedinid", "Linkedin ID", 0.02)
	b.txt("hs_twitterid", "Twitter ID", 0.01)
	b.num("associatedcompanyid", "Primary Associated Company ID", 0.72)
	b.calc("associatedcompanylastupdated", "Associated Company Last Updated", 0.7)
	b.calc("hs_associated_target_accounts", "Associated Target Accounts", 0.12)
	b.txt("hs_testpurge", "testpurge", 0.01)
	b.txt("hs_testrollback", "testrollback", 0.01)
	b.ts("hs_last_metered_enrichment_timestamp", "Last Metered Enrichment Timestamp", 0.2)
	b.flag("hs_is_enriched", "Has been enriched", 0.3)
	b.flag("hs_enriched_email_bounce_detected", "Enriched Email Bounce Detected", 0.01)
	b.flag("hs_contact_enrichment_opt_out", "Enrichment opt out", 0.01)
	b.ts("hs_contact_enrichment_opt_out_timestamp", "Enrichment opt out timestamp", 0.01)
	b.flag("hs_data_privacy_ads_consent", "Ads Consent from Forms", 0.05)
	b.txt("hs_contact_creation_legal_basis_source_instance_id", "Contact creation legal basis source instance ID", 0.18)
	b.day("hs_intent_paid_up_to_date", "Intent paid up to date", 0.02)
	b.flag("hs_intent_signals_enabled", "Intent Signals active", 0.02)
	b.txt("company_size", "Company size", 0.04)
	b.ts("closedate", "Close Date", 0.05)
	b.ts("hs_createdate", "Object create date/time", 0.04)
	b.ts("hs_lastmodifieddate", "Object last modified date/time", 0.95)
	b.txt("hs_all_contact_vids", "All vids for a contact", 0.95)
	b.txt("hs_calculated_merged_vids", "Merged vids with timestamps of a contact", 0.04)
	b.flag("hs_created_by_conversations", "Created By Conversations", 0.03)
	b.flag("hs_cross_sell_opportunity", "Cross-sell Opportunity", 0.02)
	b.radio("hs_customer_agent_lead_status", "Customer Agent Lead Status", 0.01, "NEW", "IN_PROGRESS",
		"QUALIFIED", "UNQUALIFIED", "HANDED_OFF")
	b.radio("hs_journey_stage", "Journey Stage", 0.04, "awareness", "consideration", "decision", "onboarding",
		"retention", "advocacy")
	b.txt("hs_registration_method", "Registration Method", 0.02)
	b.num("hs_source_object_id", "Source Object ID", 0.01)
	b.num("hs_source_portal_id", "Source Portal ID", 0.01)
	b.txt("hs_gps_error", "GPS Error", 0.01)
	b.txt("hs_gps_latitude", "Latitudes", 0.02)
	b.txt("hs_gps_longitude", "Longitudes", 0.02)
	b.num("hs_latitude", "Latitude", 0.02)
	b.num("hs_longitude", "Longitude", 0.02)
	b.geohash(0.02)
	b.ts("hs_live_enrichment_deadline", "Live enrichment deadline", 0.01)
	b.num("hs_messaging_engagement_score", "messaging_engagement_score", 0.03)
	b.num("surveymonkeyeventlastupdated", "SurveyMonkey Event Last Updated", 0.02)
	b.num("webinareventlastupdated", "Webinar Event Last Updated", 0.05)

	// Content membership: set only for contacts registered on private content.
	b.radio("hs_content_membership_status", "Status", 0.02, "active", "inactive", "pending")
	b.txt("hs_content_membership_email", "Member email", 0.02)
	b.flag("hs_content_membership_email_confirmed", "Email Confirmed", 0.02)
	b.ts("hs_content_membership_registered_at", "Registered At", 0.02)
	b.ts("hs_content_membership_registration_email_sent_at", "Registration Email Sent At", 0.02)
	b.txt("hs_content_membership_registration_domain_sent_to", "Domain to which registration email was sent", 0.02)
	b.ts("hs_content_membership_follow_up_enqueued_at", "Time registration email was re-sent", 0.01)
	b.area("hs_content_membership_notes", "Membership Notes", 0.01)
	b.calc("hs_membership_has_accessed_private_content", "Has accessed private content", 0.01)
	b.ts("hs_membership_last_private_content_access_date", "Last private content access date", 0.01)
	b.num("hs_registered_member", "Registered member", 0.02)

	// Ownership and record-source bookkeeping, as on every object.
	b.systemProps("contactinformation")
	b.txt("owneremail", "HubSpot Owner Email (legacy)", 0.05)
	b.txt("ownername", "HubSpot Owner Name (legacy)", 0.05)

	// Marketing contact status.
	b.flag("hs_marketable_status", "Marketing contact status", 0.95)
	b.txt("hs_marketable_reason_id", "Marketing contact status source name", 0.8)
	b.sel("hs_marketable_reason_type", "Marketing contact status source type", 0.8, "FORM_SUBMISSION", "IMPORT",
		"INTEGRATION", "MANUAL_UPDATE", "WORKFLOW", "API", "SALESFORCE_SYNC")
	b.flag("hs_marketable_until_renewal", "Marketing contact until next update", 0.12)

	// Web analytics: source attribution, page views and visits from the tracking code.
	b.in("analyticsinformation")
	b.calc("hs_analytics_average_page_views", "Average Pageviews", 0.74)
	b.txt("hs_analytics_first_referrer", "First Referring Site", 0.38)
	b.ts("hs_analytics_first_timestamp", "Time First Seen", 0.9)
	b.txt("hs_analytics_first_touch_converting_campaign", "First Touch Converting Campaign", 0.12)
	b.txt("hs_analytics_first_url", "First Page Seen", 0.66)
	b.ts("hs_analytics_first_visit_timestamp", "Time of First Session", 0.71)
	b.txt("hs_analytics_last_referrer", "Last Referring Site", 0.33)
	b.ts("hs_analytics_last_timestamp", "Time Last Seen", 0.71)
	b.txt("hs_analytics_last_touch_converting_campaign", "Last Touch Converting Campaign", 0.14)
	b.txt("hs_analytics_last_url", "Last Page Seen", 0.66)
	b.ts("hs_analytics_last_visit_timestamp", "Time of Last Session", 0.71)
	b.calc("hs_analytics_num_event_completions", "Number of event completions", 0.42)
	b.calc("hs_analytics_num_page_views", "Number of Pageviews", 0.74)
	b.calc("hs_analytics_num_visits", "Number of Sessions", 0.74)
	b.calc("hs_analytics_revenue", "Event Revenue", 0.03)
	b.sel("hs_analytics_source", "Original Traffic Source", 0.9, wideSourceOptions()...)
	b.txt("hs_analytics_source_data_1", "Original Traffic Source Drill-Down 1", 0.88)
	b.txt("hs_analytics_source_data_2", "Original Traffic Source Drill-Down 2", 0.79)
	b.sel("hs_latest_source", "Latest Traffic Source", 0.88, wideSourceOptions()...)
	b.txt("hs_latest_source_data_1", "Latest Traffic Source Drill-Down 1", 0.85)
	b.txt("hs_latest_source_data_2", "Latest Traffic Source Drill-Down 2", 0.76)
	b.ts("hs_latest_source_timestamp", "Latest Traffic Source Date", 0.88)
	b.txt("hs_google_click_id", "Google ad click id", 0.06)
	b.txt("hs_facebook_click_id", "Facebook click id", 0.03)
	b.ts("hs_document_last_revisited", "Recent Document Revisit Date", 0.04)
	b.txt("ip_city", "IP City", 0.52)
	b.txt("ip_state", "IP State/Region", 0.5)
	b.txt("ip_state_code", "IP State Code/Region Code", 0.5)
	b.txt("ip_country", "IP Country", 0.55)
	b.txt("ip_country_code", "IP Country Code", 0.55)
	b.txt("ip_zipcode", "IP Zipcode", 0.31)
	b.txt("ip_latlon", "IP Latitude & Longitude", 0.44)
	b.txt("hs_ip_timezone", "IP Timezone", 0.5)

	// Ads interactions, from HubSpot's ads integrations.
	b.in("facebook_ads_properties")
	b.flag("hs_facebook_ad_clicked", "Clicked Facebook ad", 0.02)
	b.flag("hs_linkedin_ad_clicked", "Clicked LinkedIn Ad", 0.03)
	b.flag("hs_clicked_linkedin_ad", "Clicked on a LinkedIn Ad", 0.03)
	b.txt("hs_ads_first_touch_ad_id", "First ad interaction ID", 0.04)

	// Social media.
	b.in("socialmediainformation")
	b.calc("hs_social_facebook_clicks", "Facebook Clicks", 0.03)
	b.calc("hs_social_google_plus_clicks", "Google Plus Clicks", 0.01)
	b.ts("hs_social_last_engagement", "Most Recent Social Click", 0.05)
	b.calc("hs_social_linkedin_clicks", "LinkedIn Clicks", 0.04)
	b.calc("hs_social_num_broadcast_clicks", "Broadcast Clicks", 0.05)
	b.calc("hs_social_twitter_clicks", "Twitter Clicks", 0.02)
	b.num("followercount", "Follower Count", 0.02)
	b.num("kloutscoregeneral", "Klout Score", 0.01)
	b.area("linkedinbio", "LinkedIn Bio", 0.02)
	b.num("linkedinconnections", "LinkedIn Connections", 0.02)
	b.area("twitterbio", "Twitter Bio", 0.01)
	b.txt("twitterprofilephoto", "Twitter Profile Photo", 0.01)
	b.txt("photo", "Photo", 0.01)

	// Marketing email engagement.
	b.in("emailinformation")
	b.calc("hs_email_bounce", "Marketing emails bounced", 0.07)
	b.calc("hs_email_click", "Marketing emails clicked", 0.48)
	b.calc("hs_email_delivered", "Marketing emails delivered", 0.81)
	b.calc("hs_email_open", "Marketing emails opened", 0.63)
	b.calc("hs_email_replied", "Marketing emails replied", 0.06)
	b.ts("hs_email_first_click_date", "First marketing email click date", 0.41)
	b.ts("hs_email_first_open_date", "First marketing email open date", 0.6)
	b.ts("hs_email_first_reply_date", "First marketing email reply date", 0.05)
	b.ts("hs_email_first_send_date", "First marketing email send date", 0.8)
	b.ts("hs_email_last_click_date", "Last marketing email click date", 0.41)
	b.txt("hs_email_last_email_name", "Last marketing email name", 0.8)
	b.ts("hs_email_last_open_date", "Last marketing email open date", 0.6)
	b.ts("hs_email_last_reply_date", "Last marketing email reply date", 0.05)
	b.ts("hs_email_last_send_date", "Last marketing email send date", 0.8)
	b.flag("hs_email_optout", "Unsubscribed from all email", 0.08)
	b.flag("hs_email_bad_address", "Invalid email address", 0.03)
	b.flag("hs_email_quarantined", "Email address quarantined", 0.02)
	b.sel("hs_email_quarantined_reason", "Email address quarantine reason", 0.02, "SUSPENSION_REMEDIATION",
		"TRAP_REMEDIATION", "BOUNCE_REMEDIATION", "UNSUBSCRIBED_PERSONA", "UNDELIVERABLE_ADDRESS", "UNQUARANTINED")
	b.sel("hs_email_customer_quarantined_reason", "Email address automated quarantine reason", 0.01, "SUSPENSION_REMEDIATION",
		"TRAP_REMEDIATION", "BOUNCE_REMEDIATION", "UNQUARANTINED")
	b.txt("hs_email_hard_bounce_reason", "Email hard bounce reason", 0.03)
	b.sel("hs_email_hard_bounce_reason_enum", "Email hard bounce reason", 0.03, "BLOCKED_CONTENT", "BLOCKED_IP_ADDRESS",
		"MAILBOX_FULL", "UNKNOWN_USER", "SPAM", "POLICY", "DNS_FAILURE", "OTHER")
	b.flag("hs_email_is_ineligible", "Is globally ineligible", 0.04)
	b.ts("hs_email_recipient_fatigue_recovery_time", "Email Recipient Fatigue Recovery Time", 0.06)
	b.calc("hs_email_sends_since_last_engagement", "Sends Since Last Engagement", 0.72)
	b.sel("hs_emailconfirmationstatus", "Email Confirmation Status", 0.1, "Confirmed", "Confirmation Pending",
		"User clicked confirmation link", "Confirmation email sent")
	b.txt("hs_quarantined_emails", "Quarantined emails", 0.01)
	b.radio("currentlyinworkflow", "Currently in workflow", 0.21, "true", "false", "unknown")
	b.ts("hs_sales_email_last_clicked", "Recent Sales Email Clicked Date", 0.06)
	b.ts("hs_sales_email_last_opened", "Recent Sales Email Opened Date", 0.14)
	b.txt("hs_email_optimal_send_day_of_week", "Optimal Marketing Email Send Day of Week", 0.35)
	b.txt("hs_email_optimal_send_time_of_day", "Optimal Marketing Email Send Time of Day", 0.35)
	b.radio("hs_email_optout_survey_reason", "Reason for opting out of email", 0.02, "I no longer want to receive these emails",
		"The emails are too frequent", "I never signed up for this mailing list", "The emails are inappropriate",
		"The emails are spam and should be reported", "Other")
	b.ts("hs_last_sms_send_date", "Last Sms Send Date", 0.01)
	b.txt("hs_last_sms_send_name", "Last SMS Send Name", 0.01)

	// Per-subscription opt-outs, one property per email subscription type.
	for i, s := range wideEmailSubscriptions() {
		b.flag("hs_email_optout_"+s.id, "Opted out of email: "+s.name, 0.02+float64(i%5)*0.02)
	}

	// Conversions and forms.
	b.in("conversioninformation")
	b.ts("first_conversion_date", "First Conversion Date", 0.58)
	b.txt("first_conversion_event_name", "First Conversion", 0.58)
	b.ts("recent_conversion_date", "Recent Conversion Date", 0.58)
	b.txt("recent_conversion_event_name", "Recent Conversion", 0.58)
	b.calc("num_conversion_events", "Number of Form Submissions", 0.6)
	b.calc("num_unique_conversion_events", "Number of Unique Forms Submitted", 0.6)
	b.area("hs_calculated_form_submissions", "Form submissions", 0.58)
	b.ts("hs_sa_first_engagement_date", "Date of first engagement", 0.44)
	b.txt("hs_sa_first_engagement_descr", "Description of first engagement", 0.44)
	b.sel("hs_sa_first_engagement_object_type", "Type of first engagement", 0.44, "FORM", "EMAIL", "MEETING",
		"CALL", "CHAT", "PAGE_VIEW")
	b.ts("hs_feedback_last_survey_date", "Last NPS survey date", 0.04)
	b.sel("hs_feedback_last_nps_rating", "Last NPS survey rating", 0.04, "detractor", "passive", "promoter")
	b.area("hs_feedback_last_nps_follow_up", "Last NPS survey comment", 0.02)
	b.flag("hs_feedback_show_nps_web_survey", "Should be shown an NPS web survey", 0.03)
	for _, kind := range []string{"ces", "csat"} {
		b.ts("hs_feedback_last_"+kind+"_survey_date", "Last "+strings.ToUpper(kind)+" survey date", 0.03)
		b.txt("hs_feedback_last_"+kind+"_survey_follow_up", "Last "+strings.ToUpper(kind)+" survey comment", 0.01)
		b.calc("hs_feedback_last_"+kind+"_survey_rating", "Last "+strings.ToUpper(kind)+" survey rating", 0.03)
	}

	// Sales engagement: first outreach, sequences, leads and scoring.
	b.in("sales_properties")
	b.ts("hs_first_outreach_date", "First outreach date", 0.21)
	b.calc("hs_time_to_first_engagement", "Time to first engagement", 0.2)
	b.num("hs_first_engagement_object_id", "First engagement object ID", 0.2)
	b.num("hs_latest_sequence_enrolled", "Last sequence enrolled", 0.09)
	b.ts("hs_latest_sequence_ended_date", "Last sequence ended date", 0.07)
	b.ts("hs_latest_sequence_enrolled_date", "Last sequence enrolled date", 0.09)
	b.ts("hs_latest_sequence_finished_date", "Last sequence ended date", 0.07)
	b.ts("hs_latest_sequence_unenrolled_date", "Last sequence unenrolled date", 0.04)
	b.flag("hs_sequences_is_enrolled", "Currently in Sequence", 0.03)
	b.calc("hs_sequences_enrolled_count", "Number of sequences enrolled", 0.09)
	b.calc("hs_sequences_actively_enrolled_count", "Number of active sequences", 0.03)
	b.ts("hs_latest_open_lead_date", "Latest Open Lead Date", 0.1)
	b.ts("hs_latest_qualified_lead_date", "Latest Qualified Lead Date", 0.05)
	b.ts("hs_latest_disqualified_lead_date", "Latest Disqualified Lead Date", 0.03)
	b.flag("hs_currently_enrolled_in_prospecting_agent", "Currently enrolled in prospecting agent", 0.01)
	b.calc("hs_prospecting_agent_actively_enrolled_count", "Prospecting agent actively enrolled count", 0.01)
	b.ts("hs_prospecting_agent_last_enrolled", "Prospecting agent last enrolled", 0.01)
	b.calc("hs_prospecting_agent_total_enrolled_count", "Prospecting agent total enrolled count", 0.01)
	b.calc("hubspotscore", "HubSpot Score", 0.95)
	b.num("hs_predictivecontactscore", "Predictive Lead Score", 0.2)
	b.num("hs_predictivecontactscore_v2", "Likelihood to close", 0.6)
	b.sel("hs_predictivecontactscorebucket", "Lead Rating", 0.6, "bucket_1", "bucket_2", "bucket_3", "bucket_4")
	b.sel("hs_predictivescoringtier", "Contact priority", 0.6, "tier_1", "tier_2", "tier_3", "tier_4", "closed_won", "closed_lost")
	b.calc("hs_count_is_worked", "Count of worked", 0.1)
	b.calc("hs_count_is_unworked", "Count of unworked", 0.88)
	b.activityProps("sales_properties")

	// Deals and orders rolled up onto the contact.
	b.in("deal_information")
	b.calc("num_associated_deals", "Number of Associated Deals", 0.14)
	b.calc("recent_deal_amount", "Recent Deal Amount", 0.09)
	b.ts("recent_deal_close_date", "Recent Deal Close Date", 0.08)
	b.calc("total_revenue", "Total Revenue", 0.05)
	b.ts("first_deal_created_date", "First Deal Created Date", 0.14)
	b.calc("days_to_close", "Days To Close", 0.05)
	b.calc("hs_time_between_contact_creation_and_deal_creation", "Time between contact creation and deal creation", 0.14)
	b.calc("hs_time_between_contact_creation_and_deal_close", "Time between contact creation and deal close", 0.05)
	b.num("hs_first_closed_order_id", "First closed order ID", 0.02)
	b.ts("hs_first_order_closed_date", "First order closed date", 0.02)
	b.ts("hs_recent_closed_order_date", "Recent closed order date", 0.02)
	b.calc("hs_has_active_subscription", "Has Active Subscription", 0.03)
	b.ts("hs_first_subscription_create_date", "First subscription create date", 0.03)
	b.ts("hs_latest_subscription_create_date", "Latest subscription create date", 0.03)
	for _, s := range []string{"lead", "marketingqualifiedlead", "opportunity", "salesqualifiedlead", "subscriber"} {
		b.calc("hs_time_to_move_from_"+s+"_to_customer", "Time to move from "+s+" to customer", 0.04)
	}

	// Lifecycle stage history: "became a … date" for HubSpot's own stages, then the per-stage
	// families (v2 only for the portal's custom stages).
	b.in("contactlcs")
	for _, s := range wideLifecycleStages() {
		if !s.custom {
			b.ts("hs_lifecyclestage_"+s.id+"_date", "Became "+wideArticle(s.label)+" Date", s.reach)
		}
	}
	b.ts("hs_v2_date_entered_current_stage", "Date entered current stage", 0.95)
	b.num("hs_v2_time_in_current_stage", "Time in current stage", 0.95)
	b.stageFamilies(wideLifecycleStages(), false)

	// Salesforce integration: ids and sync state, plus fields mapped from Salesforce custom fields.
	b.customIn("salesforceinformation")
	b.txt("salesforcecontactid", "Salesforce Contact ID", 0.46)
	b.txt("salesforceleadid", "Salesforce Lead ID", 0.38)
	b.txt("salesforceaccountid", "Salesforce Account ID", 0.44)
	b.txt("salesforceownerid", "Salesforce Owner ID", 0.44)
	b.txt("salesforceopportunitystage", "Salesforce Opportunity Stage", 0.07)
	b.txt("salesforcecampaignids", "Salesforce Campaign IDs", 0.23)
	b.ts("salesforcelastsynctime", "Last Salesforce Sync Time", 0.52)
	b.flag("salesforcedeleted", "Salesforce Deleted", 0.01)
	b.txt("salesforce_sync_error_message", "Salesforce sync error", 0.02)
	b.txt("sfdc_lead_source_detail__c", "Lead Source Detail (SFDC)", 0.2)
	b.ts("sfdc_mql_date__c", "MQL Date (SFDC)", 0.12)
	b.sel("sfdc_lead_status__c", "Lead Status (SFDC)", 0.3, "Open - Not Contacted", "Working - Contacted",
		"Closed - Converted", "Closed - Not Converted", "Nurture")
	b.txt("sfdc_contact_owner_role__c", "Contact Owner Role (SFDC)", 0.18)
	b.txt("sfdc_converted_opportunity_id__c", "Converted Opportunity ID (SFDC)", 0.04)

	// Enrichment tools (ZoomInfo, Clearbit, Apollo).
	b.customIn("enrichment")
	b.txt("zoominfo_contact_id", "ZoomInfo Contact ID", 0.28)
	b.txt("zoominfo_company_id", "ZoomInfo Company ID", 0.27)
	b.sel("zoominfo_employee_range", "ZoomInfo Employee Range", 0.25, "1-9", "10-19", "20-49", "50-99", "100-249",
		"250-499", "500-999", "1000-4999", "5000-9999", "10000+")
	b.sel("zoominfo_revenue_range", "ZoomInfo Revenue Range", 0.22, "Under $1M", "$1M-$5M", "$5M-$10M", "$10M-$25M",
		"$25M-$50M", "$50M-$100M", "$100M-$250M", "$250M-$500M", "$500M-$1B", "Over $1B")
	b.tel("zoominfo_direct_phone", "ZoomInfo Direct Phone", 0.16)
	b.tel("zoominfo_mobile_phone", "ZoomInfo Mobile Phone", 0.09)
	b.sel("zoominfo_job_function", "ZoomInfo Job Function", 0.24, "Engineering & Technical", "Finance",
		"Human Resources", "Marketing", "Operations", "Sales", "C-Suite", "Legal", "Other")
	b.sel("zoominfo_management_level", "ZoomInfo Management Level", 0.24, "C-Level", "VP-Level", "Director",
		"Manager", "Non-Manager", "Board Member")
	b.txt("zoominfo_department", "ZoomInfo Department", 0.23)
	b.num("zoominfo_contact_accuracy_score", "ZoomInfo Contact Accuracy Score", 0.26)
	b.txt("zoominfo_linkedin_url", "ZoomInfo LinkedIn URL", 0.2)
	b.ts("zoominfo_last_enriched_date", "ZoomInfo Last Enriched Date", 0.28)
	b.sel("clearbit_enrichment_status", "Clearbit Enrichment Status", 0.35, "enriched", "not_found", "pending", "failed", "opted_out")
	b.txt("clearbit_person_id", "Clearbit Person ID", 0.2)
	b.sel("clearbit_role", "Clearbit Role", 0.18, "engineering", "finance", "human_resources", "marketing",
		"operations", "sales", "leadership", "legal", "customer_service")
	b.sel("clearbit_seniority", "Clearbit Seniority", 0.17, "executive", "director", "manager")
	b.txt("clearbit_geo_country", "Clearbit Geo Country", 0.19)
	b.num("clearbit_fit_score", "Clearbit Fit Score", 0.15)
	b.ts("clearbit_last_enriched_at", "Clearbit Last Enriched At", 0.33)
	b.sel("apollo_email_status", "Apollo Email Status", 0.11, "verified", "guessed", "unavailable", "bounced", "pending_manual_fulfillment")

	// Product usage, pushed nightly from the data warehouse (reverse ETL).
	b.customIn("product_usage")
	b.ts("product_usage_last_login_date", "Last Login Date (Product)", 0.19)
	b.ts("product_usage_first_login_date", "First Login Date (Product)", 0.2)
	b.num("product_usage_active_days_30d", "Active Days (Last 30 Days)", 0.17)
	b.sel("product_usage_plan_name", "Plan Name", 0.2, "free", "starter", "professional", "enterprise", "trial", "legacy_team")
	b.day("product_usage_trial_end_date", "Trial End Date", 0.06)
	b.txt("product_usage_workspace_id", "Workspace ID", 0.2)
	b.sel("product_usage_role_in_workspace", "Role in Workspace", 0.18, "owner", "admin", "member", "viewer", "guest")
	b.flag("product_usage_is_admin", "Is Workspace Admin", 0.18)
	b.num("product_usage_seats_used", "Seats Used", 0.12)
	for i, f := range []string{"dashboards", "reports", "api", "integrations", "workflows", "exports",
		"mobile_app", "sso", "audit_log", "ai_assistant"} {
		reach := 0.16 - float64(i)*0.012
		b.day("product_usage_"+f+"_last_used_date", "Last Used: "+f, reach)
		b.num("product_usage_"+f+"_events_last_30_days", "Events (last 30 days): "+f, reach)
	}

	// Customer success and support.
	b.customIn("customer_success")
	b.num("customer_health_score", "Customer Health Score", 0.05)
	b.num("nps_score_latest", "NPS Score (Latest)", 0.04)
	b.num("nps_score_previous", "NPS Score (Previous)", 0.02)
	b.area("nps_comment_latest", "NPS Comment (Latest)", 0.02)
	b.ts("nps_survey_last_sent_date", "NPS Survey Last Sent", 0.06)
	b.sel("onboarding_status", "Onboarding Status", 0.05, "not_started", "kickoff_scheduled", "in_progress",
		"blocked", "completed", "churned_during_onboarding")
	b.day("onboarding_completed_date", "Onboarding Completed Date", 0.03)
	b.sel("support_tier", "Support Tier", 0.06, "standard", "premium", "premier", "none")
	b.num("csat_last_rating", "CSAT (Last Rating)", 0.03)
	b.num("support_tickets_open_count", "Open Support Tickets", 0.04)
	b.txt("intercom_user_id", "Intercom User ID", 0.14)
	b.ts("intercom_last_seen_at", "Intercom Last Seen", 0.13)
	b.num("intercom_conversation_count", "Intercom Conversations", 0.1)
	b.txt("zendesk_user_id", "Zendesk User ID", 0.06)
	b.txt("zendesk_organization_id", "Zendesk Organization ID", 0.06)

	// Multi-touch attribution, written back by the attribution tool: one property per touch and field.
	b.customIn("marketing_attribution")
	for _, t := range []struct {
		touch string
		reach float64
	}{{"first", 0.42}, {"last", 0.4}, {"lead_created", 0.3}, {"opp_created", 0.07}} {
		reach := t.reach
		for _, f := range []string{"campaign_name", "source", "medium", "content", "term"} {
			b.txt("marketing_attribution_"+t.touch+"_touch_"+f, "Attribution ("+t.touch+" touch): "+f, reach)
			reach *= 0.8
		}
		b.ts("marketing_attribution_"+t.touch+"_touch_date", "Attribution ("+t.touch+" touch): date", reach)
	}
	for _, w := range []struct{ prefix, label string }{{"", "UTM"}, {"first_touch_", "First-touch UTM"}} {
		for i, f := range []string{"source", "medium", "campaign", "term", "content"} {
			b.txt(w.prefix+"utm_"+f, w.label+" "+f, 0.3-float64(i)*0.05)
		}
	}
	b.txt("gclid", "GCLID", 0.05)
	b.txt("fbclid", "FBCLID", 0.02)
	b.txt("msclkid", "Microsoft Click ID", 0.01)
	b.txt("li_fat_id", "LinkedIn First-Party Ad Tracking ID", 0.02)

	// Consent and privacy, per purpose, as the consent-management integration records it.
	b.customIn("consent_and_privacy")
	b.ts("gdpr_consent_timestamp", "GDPR Consent Timestamp", 0.18)
	b.sel("gdpr_consent_source", "GDPR Consent Source", 0.18, "web_form", "event_badge_scan", "import", "product_signup", "sales_call")
	for _, p := range []string{"marketing_email", "product_updates", "event_invitations", "third_party_sharing", "phone_calls"} {
		b.radio("gdpr_consent_"+p+"_status", "Consent status: "+p, 0.14, "granted", "denied", "withdrawn", "not_asked")
		b.ts("gdpr_consent_"+p+"_timestamp", "Consent timestamp: "+p, 0.1)
	}
	b.flag("ccpa_do_not_sell", "CCPA Do Not Sell", 0.02)
	b.day("data_deletion_requested_date", "Data Deletion Requested", 0.01)
	b.flag("dnc", "DNC", 0.03)

	// Sales engagement and conversation-intelligence tools.
	b.customIn("sales_engagement_tools")
	b.txt("outreach_prospect_id", "Outreach Prospect ID", 0.24)
	b.sel("outreach_prospect_stage", "Outreach Prospect Stage", 0.22, "Cold", "Approaching", "Replied", "Interested",
		"Not Interested", "Unresponsive", "Do Not Contact", "Bad Contact Info")
	b.txt("outreach_sequence_name", "Outreach Sequence Name", 0.12)
	b.ts("outreach_last_touch_date", "Outreach Last Touch", 0.2)
	b.ts("gong_last_call_date", "Gong Last Call Date", 0.07)
	b.num("gong_call_count", "Gong Call Count", 0.07)
	b.txt("gong_last_call_url", "Gong Last Call URL", 0.07)
	b.num("gong_talk_ratio_latest", "Gong Talk Ratio (Latest)", 0.06)
	b.ts("chilipiper_meeting_booked_date", "Chili Piper Meeting Booked", 0.04)

	// Product analytics identities.
	b.customIn("product_analytics")
	b.txt("segment_anonymous_id", "Segment Anonymous ID", 0.31)
	b.txt("segment_user_id", "Segment User ID", 0.2)
	b.txt("amplitude_user_id", "Amplitude User ID", 0.18)
	b.txt("mixpanel_distinct_id", "Mixpanel Distinct ID", 0.09)

	// Events: registration and attendance, one pair per event the team ran.
	b.customIn("events")
	for i, e := range []string{"2023_q3_product_launch", "2024_summit_berlin", "2024_q1_roadmap_webinar",
		"2024_partner_day", "2025_user_conference"} {
		b.sel("event_"+e+"_registration_status", "Registration: "+e, 0.03+float64(i)*0.01,
			"registered", "attended", "no_show", "cancelled", "waitlisted")
		b.day("event_"+e+"_registration_date", "Registration date: "+e, 0.03+float64(i)*0.01)
		b.flag("event_"+e+"_attended", "Attended: "+e, 0.02+float64(i)*0.005)
	}

	// Form questions: marketing adds a property for every question a form ever asked, named
	// after the question, so these are the longest and sparsest names in the account.
	b.customIn("form_submissions")
	b.sel("how_did_you_hear_about_us", "How did you hear about us?", 0.21, "Google search", "LinkedIn", "Podcast",
		"Friend or colleague", "Event", "Review site (G2/Capterra)", "Other")
	b.sel("which_crm_are_you_currently_using", "Which CRM are you currently using?", 0.14, "Salesforce", "HubSpot",
		"Microsoft Dynamics", "Pipedrive", "Zoho", "Spreadsheets", "Other")
	b.sel("what_is_your_primary_use_case", "What is your primary use case?", 0.12, "Data sync", "Reporting",
		"Migration", "Data quality", "Automation", "Other")
	b.sel("how_many_sales_reps_are_on_your_team", "How many sales reps are on your team?", 0.1, "1-5", "6-20",
		"21-50", "51-200", "200+")
	b.sel("what_is_your_timeline_for_implementation", "What is your timeline for implementation?", 0.09,
		"Immediately", "Within 3 months", "3-6 months", "6-12 months", "Just researching")
	b.radio("are_you_currently_evaluating_other_vendors", "Are you currently evaluating other vendors?", 0.06,
		"Yes", "No", "Not sure")
	b.radio("do_you_need_help_migrating_historical_data", "Do you need help migrating historical data?", 0.05,
		"Yes", "No", "Not sure")
	b.radio("would_you_like_a_personalized_demo", "Would you like a personalized demo?", 0.08, "Yes", "No", "Later")
	b.sel("what_is_your_role_in_the_purchasing_decision", "What is your role in the purchasing decision?", 0.07,
		"Decision maker", "Influencer", "Evaluator", "End user", "Other")
	b.sel("how_many_records_do_you_need_to_sync_daily", "How many records do you need to sync daily?", 0.05,
		"Under 10k", "10k-100k", "100k-1M", "Over 1M")
	b.multi("which_integrations_are_most_important_to_you", "Which integrations are most important to you?", 0.06,
		"Salesforce", "HubSpot", "Snowflake", "BigQuery", "Slack", "Zendesk", "NetSuite", "Other")
	b.area("anything_else_you_would_like_us_to_know", "Anything else you would like us to know?", 0.04)
	b.area("what_is_your_biggest_challenge_with_crm_data_quality", "What is your biggest challenge with CRM data quality?", 0.03)
	b.area("webinar_question_what_topics_should_we_cover_next", "Webinar question: what topics should we cover next?", 0.02)

	// Leftovers from the previous marketing automation and CRM, never cleaned up.
	b.customIn("legacy_migration")
	b.txt("legacy_crm_record_id", "Legacy CRM Record ID", 0.37)
	b.txt("legacy_marketo_lead_id", "Marketo Lead ID", 0.33)
	b.txt("legacy_pardot_prospect_id", "Pardot Prospect ID", 0.12)
	b.num("marketo_lead_score", "Marketo Lead Score", 0.3)
	b.num("pardot_score", "Pardot Score", 0.11)
	b.txt("pardot_grade", "Pardot Grade", 0.11)
	b.txt("old_lead_source_do_not_use", "Lead Source (OLD - DO NOT USE)", 0.29)
	b.sel("lead_source", "Lead Source", 0.44, "Web", "Webinar", "Trade Show", "Partner", "Outbound", "Referral",
		"Paid Ads", "Content Syndication", "Other")
	b.txt("lead_source_detail", "Lead Source Detail", 0.21)
	b.txt("original_lead_source_dupe", "Original Lead Source (dupe)", 0.06)
	b.txt("lead_source__c", "lead_source__c", 0.15)
	b.txt("import_batch_name", "Import Batch", 0.28)
	b.sel("data_quality_flag", "Data Quality Flag", 0.07, "ok", "missing_company", "bad_email", "duplicate_suspected", "needs_review")
	b.txt("duplicate_of_contact_id", "Duplicate Of (Contact ID)", 0.01)

	// Fields sales and marketing ops added over time.
	b.customIn("sales_custom")
	b.sel("preferred_contact_method", "Preferred Contact Method", 0.09, "email", "phone", "sms", "linkedin", "whatsapp")
	b.txt("partner_referral_code", "Partner Referral Code", 0.03)
	b.txt("region_territory_code", "Region / Territory Code", 0.4)
	b.sel("sales_region", "Sales Region", 0.46, "NA_EAST", "NA_WEST", "NA_CENTRAL", "LATAM", "EMEA_NORTH",
		"EMEA_SOUTH", "DACH", "APAC", "ANZ")
	b.sel("account_tier", "Account Tier", 0.3, "tier_1", "tier_2", "tier_3", "unassigned")
	b.area("buying_committee_role_notes", "Buying Committee Notes", 0.02)
	b.txt("linkedin_profile_url", "LinkedIn Profile", 0.19)
	b.txt("secondary_email", "Secondary Email", 0.04)
	b.txt("assistant_name", "Assistant Name", 0.01)
	b.tel("assistant_phone", "Assistant Phone", 0.01)
	b.tel("ext", "Ext.", 0.02)
	b.txt("department", "Department", 0.15)
	b.txt("reports_to_contact_id", "Reports To (Contact ID)", 0.02)
	b.radio("decision_maker", "Decision Maker?", 0.06, "Yes", "No", "Unknown")
	b.flag("vip", "VIP", 0.01)
	b.num("lead_score_fit", "Lead Score (Fit)", 0.62)
	b.num("lead_score_engagement", "Lead Score (Engagement)", 0.62)
	b.num("lead_score_total", "Lead Score (Total)", 0.62)
	b.ts("mql_date", "MQL Date", 0.22)
	b.ts("sal_date", "SAL Date", 0.1)
	b.ts("sql_date", "SQL Date", 0.08)
	b.sel("disqualification_reason", "Disqualification Reason", 0.06, "no_budget", "no_authority", "no_need",
		"bad_timing", "competitor", "student", "spam", "existing_customer")
	b.sel("nurture_track", "Nurture Track", 0.15, "awareness", "consideration", "decision", "customer_marketing", "reengagement")
	b.txt("abm_campaign_name", "ABM Campaign", 0.05)
	b.sel("newsletter_frequency_preference", "Newsletter Frequency", 0.04, "weekly", "monthly", "quarterly")
	b.txt("preferred_language_custom", "Preferred Language (custom)", 0.03)
	b.day("contract_signer_since", "Contract Signer Since", 0.01)
	b.txt("mql_reason_trigger_form_name_or_campaign_member_status", "MQL Reason (form or campaign status)", 0.12)

	return b.props
}

// wideCompanyProps returns the extra company properties, in a fixed order. A real account's
// companies are a few hundred properties wide: too wide for comfort, yet (unlike contacts)
// every property still fits in one GET URL.
func wideCompanyProps() []wideProp {
	b := &wideBuilder{}

	// Company information: HubSpot's default firmographic fields.
	b.in("companyinformation")
	b.area("about_us", "About Us", 0.11)
	b.txt("address", "Street Address", 0.34)
	b.txt("address2", "Street Address 2", 0.05)
	b.txt("state", "State/Region", 0.46)
	b.txt("zip", "Postal Code", 0.35)
	b.txt("website", "Website URL", 0.74)
	b.area("description", "Description", 0.38)
	b.txt("founded_year", "Year Founded", 0.31)
	b.flag("is_public", "Is Public", 0.27)
	b.sel("type", "Type", 0.23, "PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")
	b.txt("timezone", "Time Zone", 0.39)
	b.txt("total_money_raised", "Total Money Raised", 0.07)
	b.multi("web_technologies", "Web Technologies", 0.29, "google_analytics", "google_tag_manager", "hubspot",
		"marketo", "salesforce", "segment", "wordpress", "shopify", "intercom", "zendesk", "stripe", "cloudflare")
	b.txt("hs_additional_domains", "Additional Domains", 0.06)
	b.add("hs_annual_revenue_currency_code", "Annual Revenue Currency Code", "string", "calculation_equation", 0.3, nil)
	b.txt("hs_employee_range", "Employee range", 0.48)
	b.txt("hs_revenue_range", "Revenue range", 0.34)
	b.txt("hs_country_code", "Country/Region Code", 0.55)
	b.txt("hs_state_code", "State/Region Code", 0.38)
	b.txt("hs_logo_url", "Logo URL", 0.41)
	b.txt("hs_linkedin_handle", "LinkedIn handle", 0.36)
	b.txt("hs_industry_group", "Industry group", 0.33)
	b.multi("hs_keywords", "Company Keywords", 0.28, "saas", "b2b", "crm", "analytics", "fintech", "ecommerce",
		"marketplace", "cybersecurity", "devtools", "healthtech")
	b.flag("hs_is_enriched", "Is enriched", 0.44)
	b.ts("hs_last_metered_enrichment_timestamp", "Last Metered Enrichment Timestamp", 0.4)
	b.txt("hs_avatar_filemanager_key", "Avatar FileManager key", 0.38)
	b.ts("hs_createdate", "HubSpot Create Date", 0.12)
	b.txt("hs_pipeline", "Pipeline", 0.95)
	b.radio("lifecyclestage", "Lifecycle Stage", 0.83, "subscriber", "lead", "marketingqualifiedlead",
		"salesqualifiedlead", "opportunity", "customer", "evangelist", "other")
	b.radio("hs_lead_status", "Lead Status", 0.18, "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
		"ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING")
	b.calc("hubspotscore", "HubSpot Score", 0.55)
	b.num("hs_predictivecontactscore_v2", "Likelihood to close", 0.31)
	b.txt("hs_task_label", "Task label", 0.04)
	b.sel("hs_csm_sentiment", "CSM sentiment", 0.04, "positive", "neutral", "negative")
	b.add("hs_quick_context", "Quick context", "string", "html", 0.02, nil)
	b.flag("hs_intent_signals_enabled", "Intent signals enabled", 0.05)
	b.calc("hs_intent_page_views_last_30_days", "Intent page views (last 30 days)", 0.05)
	b.day("hs_intent_paid_up_to_date", "Intent paid up to date", 0.05)
	b.calc("hs_intent_visitors_last_30_days", "Tracked Visitors (Last 30 Days)", 0.05)
	b.flag("hs_is_intent_monitored", "Is Intent Monitored", 0.04)
	b.flag("hs_paid_for_intent_signals", "Paid for intent signals", 0.03)
	b.calc("hs_count_intent_signals_created_last_30_days", "Intent signals created (last 30 days)", 0.04)
	b.ts("hs_latest_intent_signal_occurred_at", "Latest intent signal occurred at", 0.04)
	b.area("hs_signals_summary", "Signals Summary", 0.03)
	b.ts("hs_most_recent_de_anonymized_visit", "Last Tracked Visit Time", 0.18)
	b.num("hs_customer_success_ticket_sentiment", "Recent Ticket Sentiment", 0.03)
	b.flag("hs_current_customer", "Current customer", 0.06)
	b.txt("hs_plays", "Plays", 0.01)
	b.area("hs_reason_to_reach_out", "Reason to reach out", 0.02)
	b.calc("hs_suggested_contact_count", "Suggested contact count", 0.2)
	b.txt("hs_research_agent_execution_id", "Research Agent Execution Id", 0.01)
	b.num("hs_research_agent_id", "Research Agent Id", 0.01)
	b.ts("hs_live_enrichment_deadline", "Live enrichment deadline", 0.02)
	b.txt("hs_gps_error", "GPS Error", 0.01)
	b.txt("hs_gps_latitude", "Latitudes", 0.12)
	b.txt("hs_gps_longitude", "Longitudes", 0.12)
	b.num("hs_latitude", "Latitude", 0.12)
	b.num("hs_longitude", "Longitude", 0.12)
	b.geohash(0.12)
	b.num("hs_source_object_id", "Source Object ID", 0.01)
	b.calc("hs_predictivecontactscore_v2_next_max_max_d4e58c1e", "Likelihood to close (next max)", 0.3)
	b.txt("owneremail", "HubSpot Owner Email", 0.04)
	b.txt("ownername", "HubSpot Owner Name", 0.04)

	// Family tree.
	b.calc("hs_num_child_companies", "Number of child companies", 0.06)
	b.num("hs_parent_company_id", "Parent Company", 0.05)

	// Target accounts and ideal customer profile (ABM tools).
	b.sel("hs_ideal_customer_profile", "Ideal Customer Profile Tier", 0.21, "tier_1", "tier_2", "tier_3")
	b.flag("hs_is_target_account", "Target Account", 0.11)
	b.flag("hs_target_account", "Target Account (legacy)", 0.1)
	b.num("hs_target_account_probability", "Target Account Probability", 0.5)
	b.ts("hs_target_account_recommendation_snooze_time", "Target Account Recommendation Snooze Time", 0.01)
	b.sel("hs_target_account_recommendation_state", "Target Account Recommendation State", 0.04, "DISMISSED",
		"RECOMMENDED", "SNOOZED")
	b.calc("hs_num_blockers", "Number of blockers", 0.03)
	b.calc("hs_num_contacts_with_buying_roles", "Number of contacts with a buying role", 0.06)
	b.calc("hs_num_decision_makers", "Number of decision makers", 0.04)

	// Social media.
	b.in("socialmediainformation")
	b.txt("facebook_company_page", "Facebook Company Page", 0.24)
	b.num("facebookfans", "Facebook Fans", 0.09)
	b.txt("googleplus_page", "Google Plus Page", 0.02)
	b.txt("linkedin_company_page", "LinkedIn Company Page", 0.46)
	b.area("linkedinbio", "LinkedIn Bio", 0.22)
	b.area("twitterbio", "Twitter Bio", 0.15)
	b.num("twitterfollowers", "Twitter Followers", 0.18)
	b.txt("twitterhandle", "Twitter Handle", 0.21)

	// Ownership and record-source bookkeeping, as on every object.
	b.systemProps("companyinformation")

	// Web analytics rolled up from the company's contacts, including the hash-suffixed rollups
	// HubSpot creates for earliest and latest values.
	b.in("analyticsinformation")
	b.ts("hs_analytics_first_timestamp", "Time First Seen", 0.71)
	b.txt("hs_analytics_first_touch_converting_campaign", "First Touch Converting Campaign", 0.1)
	b.ts("hs_analytics_first_visit_timestamp", "Time of First Session", 0.55)
	b.ts("hs_analytics_last_timestamp", "Time Last Seen", 0.55)
	b.ts("hs_analytics_last_timestamp_timestamp_latest_value_4e16365a", "Time Last Seen (latest)", 0.55)
	b.txt("hs_analytics_last_touch_converting_campaign", "Last Touch Converting Campaign", 0.11)
	b.ts("hs_analytics_last_visit_timestamp", "Time of Last Session", 0.55)
	b.sel("hs_analytics_latest_source", "Latest Traffic Source", 0.7, wideSourceOptions()...)
	b.txt("hs_analytics_latest_source_data_1", "Latest Traffic Source Data 1", 0.68)
	b.txt("hs_analytics_latest_source_data_2", "Latest Traffic Source Data 2", 0.6)
	b.ts("hs_analytics_latest_source_timestamp", "Latest Traffic Source Timestamp", 0.7)
	b.calc("hs_analytics_num_page_views", "Number of Pageviews", 0.6)
	b.calc("hs_analytics_num_page_views_cardinality_sum_e46e85b0", "Number of Pageviews (sum)", 0.6)
	b.calc("hs_analytics_num_visits", "Number of Sessions", 0.6)
	b.calc("hs_analytics_num_visits_cardinality_sum_53d952a6", "Number of Sessions (sum)", 0.6)
	b.sel("hs_analytics_source", "Original Traffic Source", 0.72, wideSourceOptions()...)
	b.txt("hs_analytics_source_data_1", "Original Source Data 1", 0.7)
	b.txt("hs_analytics_source_data_1_timestamp_earliest_value_9b2f1fa1", "Original Source Data 1 (earliest)", 0.7)
	b.txt("hs_analytics_source_data_2", "Original Source Data 2", 0.62)
	b.txt("hs_analytics_source_data_2_timestamp_earliest_value_9b2f9400", "Original Source Data 2 (earliest)", 0.62)
	b.ts("hs_analytics_source_timestamp_earliest_value_25a3a52c", "Original Source Type (earliest)", 0.72)

	// Conversions rolled up from contacts.
	b.in("conversioninformation")
	b.ts("first_contact_createdate", "First Contact Create Date", 0.78)
	b.ts("first_contact_createdate_timestamp_earliest_value_78b50eea", "First Contact Create Date (earliest)", 0.78)
	b.ts("first_conversion_date", "First Conversion Date", 0.41)
	b.ts("first_conversion_date_timestamp_earliest_value_61f58f2c", "First Conversion Date (earliest)", 0.41)
	b.txt("first_conversion_event_name", "First Conversion", 0.41)
	b.ts("recent_conversion_date", "Recent Conversion Date", 0.41)
	b.ts("recent_conversion_date_timestamp_latest_value_72856da1", "Recent Conversion Date (latest)", 0.41)
	b.txt("recent_conversion_event_name", "Recent Conversion", 0.41)
	b.txt("recent_conversion_event_name_timestamp_latest_value_66c820bf", "Recent Conversion (latest)", 0.41)
	b.calc("num_conversion_events", "Number of Form Submissions", 0.43)
	b.calc("num_conversion_events_cardinality_sum_d095f14b", "Number of Form Submissions (sum)", 0.43)

	// Sales activity rollups.
	b.activityProps("sales_properties")

	// Deals, contacts and revenue rolled up onto the company.
	b.in("deal_information")
	b.calc("num_associated_contacts", "Number of Associated Contacts", 0.88)
	b.calc("num_associated_deals", "Number of Associated Deals", 0.24)
	b.calc("recent_deal_amount", "Recent Deal Amount", 0.15)
	b.ts("recent_deal_close_date", "Recent Deal Close Date", 0.14)
	b.calc("hs_total_deal_value", "Total open deal value", 0.16)
	b.calc("total_revenue", "Total Revenue", 0.1)
	b.calc("hs_num_open_deals", "Number of open deals", 0.14)
	b.ts("first_deal_created_date", "First Deal Created Date", 0.24)
	b.ts("closedate", "Close Date", 0.1)
	b.ts("closedate_timestamp_earliest_value_a2a17e6e", "Close Date (earliest)", 0.1)
	b.calc("days_to_close", "Days to Close", 0.1)
	b.ts("hs_latest_createdate_of_active_subscriptions", "Latest create date of active subscriptions", 0.04)
	b.calc("hs_time_to_first_engagement", "Time to first engagement", 0.32)

	// Lifecycle stage history per stage, for HubSpot's stages and the account's own. Published
	// company property lists show only the legacy trio on companies; the v2 quartet is
	// declared here as on contacts, which keeps companies as wide as a long-lived account's.
	b.in("company_activity")
	b.ts("hs_v2_date_entered_current_stage", "Date entered current stage", 0.83)
	b.num("hs_v2_time_in_current_stage", "Time in current stage", 0.83)
	b.stageFamilies(wideLifecycleStages(), true)

	// Salesforce integration.
	b.customIn("salesforceinformation")
	b.txt("salesforceaccountid", "Salesforce Account ID", 0.61)
	b.ts("salesforcelastsynctime", "Last Salesforce Sync Time", 0.62)
	b.txt("salesforceownerid", "Salesforce Owner ID", 0.6)
	b.flag("salesforcedeleted", "Salesforce Deleted", 0.01)
	b.sel("sfdc_account_type__c", "Account Type (SFDC)", 0.5, "Prospect", "Customer - Direct", "Customer - Channel",
		"Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other")
	b.txt("sfdc_parent_account_id__c", "Parent Account ID (SFDC)", 0.05)
	b.txt("sfdc_account_number__c", "Account Number (SFDC)", 0.21)
	b.txt("sfdc_billing_city__c", "Billing City (SFDC)", 0.33)
	b.txt("sfdc_account_owner_role__c", "Account Owner Role (SFDC)", 0.42)
	b.txt("sfdc_ultimate_parent_account_name__c", "Ultimate Parent Account Name (SFDC)", 0.04)

	// Enrichment and intent data.
	b.customIn("enrichment")
	b.txt("zoominfo_company_id", "ZoomInfo Company ID", 0.44)
	b.sel("zoominfo_employee_range", "ZoomInfo Employee Range", 0.42, "1-9", "10-19", "20-49", "50-99", "100-249",
		"250-499", "500-999", "1000-4999", "5000-9999", "10000+")
	b.sel("zoominfo_revenue_range", "ZoomInfo Revenue Range", 0.4, "Under $1M", "$1M-$5M", "$5M-$10M", "$10M-$25M",
		"$25M-$50M", "$50M-$100M", "$100M-$250M", "$250M-$500M", "$500M-$1B", "Over $1B")
	b.txt("zoominfo_sic_code", "ZoomInfo SIC Code", 0.38)
	b.txt("zoominfo_naics_code", "ZoomInfo NAICS Code", 0.38)
	b.txt("zoominfo_headquarters_country", "ZoomInfo HQ Country", 0.43)
	b.txt("zoominfo_headquarters_state", "ZoomInfo HQ State", 0.33)
	b.txt("zoominfo_company_linkedin_url", "ZoomInfo Company LinkedIn URL", 0.36)
	b.num("zoominfo_funding_total", "ZoomInfo Total Funding", 0.09)
	b.day("zoominfo_last_funding_date", "ZoomInfo Last Funding Date", 0.07)
	b.area("zoominfo_tech_stack", "ZoomInfo Tech Stack", 0.3)
	b.txt("zoominfo_parent_company_name", "ZoomInfo Parent Company", 0.06)
	b.ts("zoominfo_last_enriched_date", "ZoomInfo Last Enriched Date", 0.44)
	b.area("zoominfo_intent_topics", "ZoomInfo Intent Topics", 0.08)
	b.sel("clearbit_enrichment_status", "Clearbit Enrichment Status", 0.5, "enriched", "not_found", "pending", "failed")
	b.txt("clearbit_company_id", "Clearbit Company ID", 0.36)
	b.sel("clearbit_sector", "Clearbit Sector", 0.33, "Information Technology", "Financials", "Industrials",
		"Health Care", "Consumer Discretionary", "Communication Services", "Materials", "Energy")
	b.sel("clearbit_industry_group", "Clearbit Industry Group", 0.33, "Software & Services", "Diversified Financials",
		"Capital Goods", "Media", "Health Care Equipment & Services", "Retailing", "Transportation")
	b.txt("clearbit_tags", "Clearbit Tags", 0.28)
	b.num("clearbit_alexa_global_rank", "Clearbit Alexa Global Rank", 0.12)
	b.num("clearbit_estimated_annual_revenue", "Clearbit Estimated Annual Revenue", 0.22)
	b.ts("clearbit_last_enriched_at", "Clearbit Last Enriched At", 0.5)
	b.num("g2_buyer_intent_score", "G2 Buyer Intent Score", 0.04)
	b.ts("g2_last_activity_date", "G2 Last Activity", 0.04)
	b.sel("g2_category_viewed", "G2 Category Viewed", 0.03, "CRM", "Data Integration", "iPaaS", "Sales Intelligence",
		"Marketing Automation", "Customer Data Platform")
	b.sel("sixsense_buying_stage", "6sense Buying Stage", 0.26, "Target", "Awareness", "Consideration", "Decision", "Purchase")
	b.num("sixsense_intent_score", "6sense Intent Score", 0.26)
	b.sel("sixsense_profile_fit", "6sense Profile Fit", 0.26, "Strong", "Moderate", "Weak")
	b.num("sixsense_account_reach", "6sense Account Reach", 0.2)
	b.num("demandbase_engagement_minutes", "Demandbase Engagement Minutes (3mo)", 0.12)
	for i, t := range []string{"crm_software", "data_integration", "revenue_operations", "sales_automation",
		"marketing_automation", "customer_data_platform"} {
		b.num("bombora_surge_"+t+"_composite_score", "Bombora Surge Composite Score: "+t, 0.12-float64(i)*0.015)
	}

	// Product usage, account level, from the data warehouse.
	b.customIn("product_usage")
	b.ts("product_usage_last_login_date", "Last Login Date (any user)", 0.21)
	b.num("product_usage_total_seats", "Total Seats", 0.12)
	b.num("product_usage_seats_used", "Seats Used", 0.12)
	b.num("product_usage_seat_utilization_pct", "Seat Utilization %", 0.12)
	b.txt("product_usage_workspace_id", "Workspace ID", 0.22)
	b.sel("product_usage_plan_name", "Plan Name", 0.22, "free", "starter", "professional", "enterprise", "trial", "legacy_team")
	b.day("product_usage_trial_start_date", "Trial Start Date", 0.09)
	b.day("product_usage_trial_end_date", "Trial End Date", 0.09)
	b.num("product_usage_mau", "Monthly Active Users", 0.13)
	b.num("product_usage_api_calls_30d", "API Calls (30d)", 0.08)
	for i, f := range []string{"dashboards", "reports", "api", "integrations", "workflows", "exports",
		"mobile_app", "sso", "audit_log", "ai_assistant"} {
		b.num("product_usage_"+f+"_active_users_last_30_days", "Active Users (last 30 days): "+f, 0.13-float64(i)*0.01)
	}

	// Billing and contract, from the billing system.
	b.customIn("billing_contract")
	b.txt("stripe_customer_id", "Stripe Customer ID", 0.11)
	b.txt("billing_system_account_id", "Billing System Account ID", 0.1)
	b.day("contract_start_date", "Contract Start Date", 0.07)
	b.day("contract_end_date", "Contract End Date", 0.07)
	b.flag("contract_auto_renew", "Contract Auto-Renew", 0.06)
	b.sel("renewal_quarter_fy", "Renewal Quarter (FY)", 0.06, "FY25-Q1", "FY25-Q2", "FY25-Q3", "FY25-Q4",
		"FY26-Q1", "FY26-Q2", "FY26-Q3", "FY26-Q4")
	b.day("renewal_date", "Renewal Date", 0.07)
	b.num("current_arr", "Current ARR", 0.08)
	b.num("current_mrr", "Current MRR", 0.08)
	b.num("arr_at_last_renewal", "ARR at Last Renewal", 0.04)
	b.sel("payment_terms", "Payment Terms", 0.07, "net_15", "net_30", "net_45", "net_60", "due_on_receipt")
	b.sel("billing_frequency", "Billing Frequency", 0.07, "monthly", "quarterly", "annual", "multi_year_upfront")
	b.sel("currency_preference", "Billing Currency", 0.08, "USD", "EUR", "GBP", "CAD", "AUD")
	b.txt("invoice_email", "Invoice Email", 0.06)
	b.flag("purchase_order_required_for_invoicing", "PO Required", 0.03)
	b.flag("tax_exempt", "Tax Exempt", 0.01)
	b.txt("vat_number", "VAT Number", 0.03)

	// Customer success.
	b.customIn("customer_success")
	b.num("customer_health_score", "Customer Health Score", 0.08)
	b.sel("health_score_trend", "Health Score Trend", 0.07, "improving", "stable", "declining")
	b.sel("churn_risk", "Churn Risk", 0.07, "low", "medium", "high", "critical")
	b.area("churn_risk_reason", "Churn Risk Reason", 0.02)
	b.txt("csm_owner_email", "CSM Owner Email", 0.08)
	b.sel("onboarding_status", "Onboarding Status", 0.07, "not_started", "kickoff_scheduled", "in_progress",
		"blocked", "completed")
	b.day("onboarding_completed_date", "Onboarding Completed Date", 0.05)
	b.day("go_live_date", "Go-Live Date", 0.05)
	b.day("quarterly_business_review_last_date", "Last QBR", 0.03)
	b.day("quarterly_business_review_next_date", "Next QBR", 0.03)
	b.sel("support_tier", "Support Tier", 0.08, "standard", "premium", "premier", "none")
	b.num("support_tickets_open_count", "Open Support Tickets", 0.06)
	b.num("support_tickets_90d", "Support Tickets (90d)", 0.07)
	b.num("nps_score_latest", "NPS Score (Latest)", 0.05)
	b.num("nps_response_rate", "NPS Response Rate", 0.04)
	b.txt("executive_sponsor_name", "Executive Sponsor", 0.04)
	b.day("customer_since_date", "Customer Since", 0.08)
	b.area("expansion_opportunity_notes", "Expansion Opportunity Notes", 0.02)
	b.txt("intercom_company_id", "Intercom Company ID", 0.16)
	b.txt("zendesk_organization_id", "Zendesk Organization ID", 0.09)

	// Territory, segmentation and other fields sales ops added over time.
	b.customIn("sales_custom")
	b.txt("region_territory_code", "Region / Territory Code", 0.52)
	b.sel("sales_region", "Sales Region", 0.55, "NA_EAST", "NA_WEST", "NA_CENTRAL", "LATAM", "EMEA_NORTH",
		"EMEA_SOUTH", "DACH", "APAC", "ANZ")
	b.sel("sales_segment", "Sales Segment", 0.5, "SMB", "MID_MARKET", "ENTERPRISE", "STRATEGIC")
	b.sel("account_tier", "Account Tier", 0.38, "tier_1", "tier_2", "tier_3", "unassigned")
	b.flag("named_account", "Named Account", 0.08)
	b.txt("partner_referral_code", "Partner Referral Code", 0.04)
	b.txt("partner_name", "Partner Name", 0.05)
	b.flag("reseller_account", "Reseller Account", 0.02)
	b.sel("competitor_incumbent", "Incumbent Competitor", 0.12, "salesforce", "microsoft_dynamics", "pipedrive",
		"zoho", "homegrown", "none", "other")
	b.sel("current_crm_vendor", "Current CRM", 0.16, "salesforce", "hubspot", "microsoft_dynamics", "pipedrive", "zoho", "other")
	b.sel("current_erp_vendor", "Current ERP", 0.08, "sap", "oracle_netsuite", "microsoft_dynamics_365", "sage", "other")
	b.area("tech_stack_notes", "Tech Stack Notes", 0.03)
	b.sel("fiscal_year_end_month", "Fiscal Year End", 0.04, "january", "march", "june", "september", "december")
	b.txt("legacy_crm_record_id", "Legacy CRM Record ID", 0.41)
	b.txt("duplicate_of_company_id", "Duplicate Of (Company ID)", 0.01)
	b.sel("data_quality_flag", "Data Quality Flag", 0.06, "ok", "missing_domain", "duplicate_suspected", "needs_review")
	b.txt("account_plan_url", "Account Plan", 0.03)
	b.sel("hq_region", "HQ Region", 0.44, "north_america", "latin_america", "europe", "middle_east_africa", "asia_pacific")
	b.txt("parent_company_domain", "Parent Company Domain", 0.04)
	b.sel("abm_tier", "ABM Tier", 0.1, "1:1", "1:few", "1:many")
	b.txt("abm_campaign_name", "ABM Campaign", 0.07)
	b.num("abm_engagement_score", "ABM Engagement Score", 0.1)
	b.ts("abm_last_touch_date", "ABM Last Touch", 0.08)
	b.ts("gong_last_call_date", "Gong Last Call Date", 0.09)
	b.num("gong_call_count_90d", "Gong Calls (90d)", 0.09)
	b.txt("outreach_account_id", "Outreach Account ID", 0.3)
	b.txt("sic", "SIC", 0.05)
	b.txt("duns_number", "D-U-N-S Number", 0.03)
	b.txt("account_research_summary_generated_by_ai_assistant", "Account Research Summary (AI)", 0.02)
	b.ts("account_health_score_last_calculated_at", "Health Score Last Calculated", 0.08)
	b.sel("primary_use_case_identified_during_discovery", "Primary Use Case (Discovery)", 0.12, "Data sync",
		"Reporting", "Migration", "Data quality", "Automation", "Other")
	b.num("number_of_crm_seats_currently_licensed", "CRM Seats Currently Licensed", 0.09)
	b.txt("sfdc_customer_success_manager_email__c", "Customer Success Manager Email (SFDC)", 0.07)
	b.day("sfdc_last_executive_business_review_date__c", "Last Executive Business Review (SFDC)", 0.03)
	b.day("data_processing_agreement_signed_date", "DPA Signed Date", 0.05)
	b.day("security_questionnaire_last_completed_date", "Security Questionnaire Last Completed", 0.03)
	b.sel("preferred_implementation_partner_name", "Preferred Implementation Partner", 0.03, "Acme Consulting",
		"RevOps Collective", "Northwind Partners", "In-house", "None")
	b.ts("marketing_qualified_account_date_first_reached", "MQA Date (First Reached)", 0.09)
	b.num("total_open_support_escalations_last_90_days", "Open Support Escalations (90d)", 0.04)
	b.num("expansion_potential_estimated_arr_usd", "Expansion Potential (Est. ARR, USD)", 0.05)
	b.num("integration_count_connected_in_product", "Integrations Connected (Product)", 0.1)
	b.radio("is_referenceable_customer_for_case_studies", "Referenceable for Case Studies?", 0.03, "Yes", "No", "Ask first")
	b.txt("legal_entity_name_for_invoicing", "Legal Entity Name (Invoicing)", 0.06)

	// ARR history, one property per fiscal year; the names come from labels like "2023 ARR - USD",
	// which HubSpot turns into n2023_arr___usd.
	for y := 2019; y <= 2025; y++ {
		b.num("n"+strconv.Itoa(y)+"_arr___usd", strconv.Itoa(y)+" ARR - USD", 0.02+float64(y-2019)*0.01)
	}

	return b.props
}

// wideDealProps returns the extra deal properties, in a fixed order. Deals carry the per-stage
// families for every stage of every pipeline plus revenue, forecast and line-item rollups,
// and a sales team's qualification and contract fields.
func wideDealProps() []wideProp {
	b := &wideBuilder{}

	// Deal information: HubSpot's default revenue, forecast and status fields.
	b.in("dealinformation")
	b.calc("amount_in_home_currency", "Amount in company currency", 0.86)
	b.sel("deal_currency_code", "Currency", 0.84, "USD", "EUR", "GBP", "CAD", "AUD", "JPY")
	b.area("closed_lost_reason", "Closed Lost Reason", 0.14)
	b.area("closed_won_reason", "Closed Won Reason", 0.07)
	b.area("description", "Deal Description", 0.22)
	b.calc("days_to_close", "Days to close", 0.62)
	b.calc("hs_days_to_close_raw", "Days to close (without rounding)", 0.62)
	b.calc("hs_acv", "Annual contract value", 0.31)
	b.calc("hs_arr", "Annual recurring revenue", 0.31)
	b.calc("hs_mrr", "Monthly recurring revenue", 0.31)
	b.calc("hs_tcv", "Total contract value", 0.31)
	b.calc("hs_closed_amount", "Closed Deal Amount", 0.41)
	b.calc("hs_closed_amount_in_home_currency", "Closed Deal Amount In Home Currency", 0.41)
	b.calc("hs_closed_won_count", "Closed Won Count", 0.95)
	b.ts("hs_closed_won_date", "Closed Won Date", 0.15)
	b.calc("hs_closed_deal_close_date", "Closed Deal Close Date", 0.41)
	b.calc("hs_closed_deal_create_date", "Closed Deal Create Date", 0.41)
	b.sel("hs_deal_amount_calculation_preference", "Deal amount calculation preference", 0.12, "MANUAL",
		"AUTOMATIC", "ACV", "ARR", "MRR", "TCV")
	b.calc("hs_deal_stage_probability", "Deal Stage Probability", 0.95)
	b.num("hs_deal_stage_probability_shadow", "Deal stage probability shadow", 0.95)
	b.calc("hs_forecast_amount", "Forecast Amount", 0.86)
	b.num("hs_forecast_probability", "Forecast Probability", 0.08)
	b.sel("hs_manual_forecast_category", "Forecast category", 0.34, "OMIT", "PIPELINE", "BEST_CASE", "COMMIT", "CLOSED")
	b.flag("hs_is_closed", "Is Deal Closed?", 0.95)
	b.flag("hs_is_closed_won", "Is Closed Won", 0.95)
	b.flag("hs_is_closed_lost", "Is Closed Lost", 0.95)
	b.flag("hs_is_deal_split", "Deal Split Added", 0.02)
	b.calc("hs_is_open_count", "Is Open (numeric)", 0.95)
	b.flag("hs_is_stalled", "Is Stalled", 0.12)
	b.flag("hs_is_in_first_deal_stage", "Is In First Deal Stage", 0.95)
	b.num("hs_likelihood_to_close", "Likelihood to close by the close date", 0.4)
	b.area("hs_next_step", "Next step", 0.27)
	b.ts("hs_next_step_updated_at", "Next step updated at", 0.27)
	b.calc("hs_predicted_amount", "Predicted Amount", 0.4)
	b.calc("hs_predicted_amount_in_home_currency", "Predicted Amount in company currency", 0.4)
	b.calc("hs_projected_amount", "Weighted amount", 0.86)
	b.calc("hs_projected_amount_in_home_currency", "Weighted amount in company currency", 0.86)
	b.calc("hs_open_amount_in_home_currency", "Open amount in home currency", 0.5)
	b.num("hs_exchange_rate", "Exchange rate", 0.2)
	b.num("hs_deal_score", "Deal Score", 0.45)
	b.calc("hs_duration", "Duration", 0.6)
	b.ts("hs_open_deal_create_date", "Open deal create date", 0.5)
	b.calc("hs_num_of_associated_line_items", "Number of Associated Line Items", 0.38)
	b.calc("hs_num_associated_deal_splits", "Number of deal splits", 0.02)
	b.calc("hs_num_associated_deal_registrations", "Number of associated deal registrations", 0.01)
	b.calc("hs_num_associated_active_deal_registrations", "Number of active deal registrations", 0.01)
	b.calc("hs_num_target_accounts", "Number of target accounts", 0.12)
	b.num("hs_primary_associated_company", "Primary Associated Company ID", 0.81)
	b.txt("hs_tag_ids", "Deal Tags", 0.05)
	b.txt("hs_campaign", "HubSpot Campaign", 0.09)
	b.txt("hs_latest_approval_status", "Latest Approval Status", 0.03)
	b.num("hs_latest_approval_status_approval_id", "Latest Approval Status Approval ID", 0.03)
	b.flag("hs_has_empty_conditional_stage_properties", "Has empty conditional stage properties", 0.2)
	b.flag("hs_is_active_shared_deal", "Is active shared deal", 0.01)
	b.num("hs_deal_registration_mrr", "Deal Registration MRR", 0.01)
	b.sel("hs_deal_registration_mrr_currency_code", "HubSpot Shared Deal MRR Currency Code", 0.01, "USD", "EUR", "GBP", "CAD")
	b.txt("hs_associated_deal_registration_deal_type", "Associated deal registration deal type", 0.01)
	b.txt("hs_associated_deal_registration_product_interests", "Associated deal registration product interests", 0.01)
	b.ts("hs_v2_date_entered_current_stage", "Date entered current stage", 0.95)
	b.calc("hs_v2_time_in_current_stage", "Time in current stage", 0.95)
	b.calc("hs_average_deal_owner_duration_in_current_stage", "Average deal owner duration in current stage", 0.4)
	b.txt("hs_all_collaborator_owner_ids", "Deal Collaborator", 0.06)
	b.txt("hs_all_deal_split_owner_ids", "Deal Split Users", 0.02)
	b.txt("hs_attributed_team_ids", "Attributed Team IDs", 0.3)
	b.ts("hs_createdate", "HubSpot Create Date", 0.1)
	b.calc("hs_actual_duration", "Acutal duration", 0.6)
	b.calc("hs_average_call_duration", "Average call duration", 0.25)
	b.calc("hs_is_closed_count", "Is Closed (numeric)", 0.95)
	b.ts("hs_is_stalled_after_timestamp", "Is Stalled After Timestamp", 0.3)
	b.calc("hs_manual_campaign_ids", "Manual campaign ids", 0.04)
	b.num("hs_net_pipeline_impact", "Net Pipeline Impact", 0.2)
	b.num("hs_next_meeting_id", "Next Meeting ID", 0.1)
	b.txt("hs_next_meeting_name", "Next Meeting Name", 0.1)
	b.ts("hs_next_meeting_start_time", "Next Meeting Start Time", 0.1)
	b.num("hs_source_object_id", "Source Object ID", 0.01)
	b.txt("hs_synced_deal_owner_name_and_email", "HubSpot Sales Lead", 0.05)

	// Line-item global terms (set when line items share one billing term). HubSpot also has
	// hs_line_item_global_term_hs_recurring_billing_start_date_enabled, left out because its
	// name is longer than the catalog's 60-character limit.
	b.in("deal_revenue")
	for _, t := range []struct{ term, label string }{
		{"hs_discount_percentage", "Discount Percentage"},
		{"hs_recurring_billing_period", "Recurring Billing Period"},
		{"hs_recurring_billing_start_date", "Recurring Billing Start Date"},
		{"recurringbillingfrequency", "Recurring Billing Frequency"},
	} {
		name := "hs_line_item_global_term_" + t.term
		b.txt(name, "Global Term Line Item "+t.label, 0.04)
		if len(name+"_enabled") <= 60 {
			b.flag(name+"_enabled", "Global Term Line Item "+t.label+" Enabled", 0.05)
		}
	}

	// Company-currency and weighted copies HubSpot keeps of currency properties in a
	// multi-currency account (as hs_hs_mrr_in_home_currency and hs_weighted_hs_mrr are), for
	// HubSpot's recurring-revenue fields and the currency properties the sales team added.
	for _, c := range []string{"hs_mrr", "hs_arr", "hs_acv", "hs_tcv", "arr_new", "arr_expansion", "arr_churned",
		"implementation_fee", "one_time_fee"} {
		fill := 0.3
		if !strings.HasPrefix(c, "hs_") {
			fill = 0.08
		}
		b.calc("hs_"+c+"_in_home_currency", c+" in Company Currency", fill)
		b.calc("hs_weighted_"+c, "HubSpot Weighted "+c, fill)
		b.calc("hs_weighted_hs_"+c+"_in_home_currency", "hs_"+c+"_in_home_currency weighted value", fill)
	}

	// Ownership and record-source bookkeeping, as on every object.
	b.systemProps("dealinformation")

	// Activity and email engagement on the deal.
	b.activityProps("deal_activity")
	b.calc("num_associated_contacts", "Number of Associated Contacts", 0.82)
	b.calc("hs_number_of_call_engagements", "Number of call engagements", 0.3)
	b.calc("hs_number_of_inbound_calls", "Number of inbound calls", 0.08)
	b.calc("hs_number_of_outbound_calls", "Number of outbound calls", 0.27)
	b.calc("hs_number_of_overdue_tasks", "Number of overdue tasks", 0.1)
	b.calc("hs_number_of_scheduled_meetings", "Number of scheduled meetings", 0.12)
	for _, k := range []string{"marketing", "sales"} {
		for _, ev := range []string{"click", "open", "reply"} {
			b.ts("hs_latest_"+k+"_email_"+ev+"_date", "Latest "+k+" email "+ev+" date", 0.2)
		}
	}

	// Traffic source of the deal, and the latest source of its company and contacts.
	b.in("analyticsinformation")
	b.sel("hs_analytics_source", "Original Traffic Source", 0.7, wideSourceOptions()...)
	b.txt("hs_analytics_source_data_1", "Original Traffic Source Drill-Down 1", 0.68)
	b.txt("hs_analytics_source_data_2", "Original Traffic Source Drill-Down 2", 0.6)
	for _, of := range []string{"", "_company", "_contact"} {
		b.sel("hs_analytics_latest_source"+of, "Latest Traffic Source"+of, 0.66, wideSourceOptions()...)
		b.txt("hs_analytics_latest_source_data_1"+of, "Latest Traffic Source Data 1"+of, 0.64)
		b.txt("hs_analytics_latest_source_data_2"+of, "Latest Traffic Source Data 2"+of, 0.57)
		b.ts("hs_analytics_latest_source_timestamp"+of, "Latest Traffic Source Timestamp"+of, 0.66)
	}

	// Deal stage history: the per-stage families for both pipelines.
	b.in("dealstages")
	b.stageFamilies(wideDealStages(), true)

	// Salesforce integration.
	b.customIn("salesforceinformation")
	b.txt("salesforceopportunityid", "Salesforce Opportunity ID", 0.58)
	b.ts("salesforcelastsynctime", "Last Salesforce Sync Time", 0.6)
	b.txt("salesforceownerid", "Salesforce Owner ID", 0.58)
	b.sel("sfdc_opportunity_type__c", "Opportunity Type (SFDC)", 0.5, "New Business", "Existing Business - Upgrade",
		"Existing Business - Renewal", "Existing Business - Replacement")
	b.sel("sfdc_forecast_category__c", "Forecast Category (SFDC)", 0.55, "Pipeline", "Best Case", "Commit", "Closed", "Omitted")
	b.txt("sfdc_stage_name__c", "Stage Name (SFDC)", 0.58)
	b.txt("sfdc_record_type__c", "Record Type (SFDC)", 0.4)
	b.txt("sfdc_opportunity_owner_manager_email__c", "Opportunity Owner Manager Email (SFDC)", 0.3)

	// Qualification: MEDDICC, each element with notes and a confirmation box.
	b.customIn("deal_qualification")
	for i, f := range []string{"metrics", "economic_buyer", "decision_criteria", "decision_process",
		"paper_process", "identify_pain", "champion", "competition"} {
		b.area("meddicc_"+f, "MEDDICC: "+f, 0.3-float64(i)*0.02)
		b.radio("meddicc_"+f+"_confirmed", "MEDDICC: "+f+" confirmed", 0.25-float64(i)*0.02,
			"Confirmed", "Partially confirmed", "Not yet")
	}
	b.num("meddicc_score", "MEDDICC Score", 0.3)
	for _, f := range []string{"budget", "authority", "need", "timeline"} {
		b.flag(f+"_confirmed", "BANT: "+f+" confirmed", 0.12)
	}

	// Products on the deal, one small family per product line.
	b.customIn("deal_products")
	for i, p := range []string{"platform", "analytics_addon", "integrations_pack", "premium_support",
		"professional_services", "training_credits"} {
		reach := 0.5 - float64(i)*0.07
		b.num("product_"+p+"_quantity", "Quantity: "+p, reach)
		b.num("product_"+p+"_list_price", "List price: "+p, reach)
		b.sel("product_"+p+"_discount_tier", "Discount tier: "+p, reach*0.4, "none", "up_to_10_pct",
			"10_to_20_pct", "over_20_pct")
	}

	// Quotes, contract and paperwork.
	b.customIn("cpq_contract")
	b.txt("quote_id", "Quote ID", 0.28)
	b.sel("quote_status", "Quote Status", 0.28, "draft", "pending_approval", "approved", "sent", "accepted", "rejected", "expired")
	b.day("quote_expiration_date", "Quote Expiration Date", 0.26)
	b.txt("quote_approved_by", "Quote Approved By", 0.12)
	b.num("discount_pct_total", "Total Discount %", 0.22)
	b.flag("discount_approval_required", "Discount Approval Required", 0.1)
	b.sel("discount_approval_status", "Discount Approval Status", 0.08, "not_required", "pending", "approved", "rejected")
	b.day("contract_start_date", "Contract Start Date", 0.17)
	b.day("contract_end_date", "Contract End Date", 0.17)
	b.num("contract_term_months", "Contract Term (Months)", 0.2)
	b.flag("contract_auto_renew", "Contract Auto-Renew", 0.15)
	b.sel("renewal_quarter_fy", "Renewal Quarter (FY)", 0.14, "FY25-Q1", "FY25-Q2", "FY25-Q3", "FY25-Q4",
		"FY26-Q1", "FY26-Q2", "FY26-Q3", "FY26-Q4")
	b.sel("payment_terms", "Payment Terms", 0.16, "net_15", "net_30", "net_45", "net_60", "due_on_receipt")
	b.sel("billing_frequency", "Billing Frequency", 0.18, "monthly", "quarterly", "annual", "multi_year_upfront")
	b.txt("po_number", "PO Number", 0.06)
	b.sel("legal_review_status", "Legal Review Status", 0.1, "not_started", "in_review", "redlines_sent", "approved")
	b.sel("security_review_status", "Security Review Status", 0.07, "not_required", "questionnaire_sent", "in_review", "passed", "failed")
	b.txt("procurement_contact_email", "Procurement Contact Email", 0.05)
	b.txt("signed_contract_url", "Signed Contract", 0.12)
	b.txt("docusign_envelope_id", "DocuSign Envelope ID", 0.16)
	b.sel("docusign_status", "DocuSign Status", 0.16, "sent", "delivered", "completed", "declined", "voided")
	b.ts("docusign_completed_date", "DocuSign Completed", 0.12)

	// Forecasting, sourcing and commercial fields the sales team added.
	b.customIn("sales_custom")
	b.sel("forecast_category_rep", "Rep Forecast Category", 0.4, "pipeline", "best_case", "commit", "closed", "omitted")
	b.area("forecast_commit_notes", "Commit Notes", 0.09)
	b.day("next_step_due_date", "Next Step Due", 0.2)
	b.txt("deal_source_detail", "Deal Source Detail", 0.25)
	b.sel("lead_source", "Lead Source", 0.5, "Web", "Webinar", "Trade Show", "Partner", "Outbound", "Referral",
		"Paid Ads", "Content Syndication", "Other")
	b.sel("primary_competitor", "Primary Competitor", 0.22, "salesforce", "microsoft_dynamics", "pipedrive",
		"zoho", "homegrown", "none", "other")
	b.area("competitor_notes", "Competitor Notes", 0.05)
	b.sel("loss_reason_category", "Loss Reason", 0.2, "price", "features", "timing", "competitor", "no_decision",
		"champion_left", "budget_cut", "other")
	b.area("loss_reason_detail", "Loss Reason Detail", 0.08)
	b.sel("win_reason_category", "Win Reason", 0.09, "product_fit", "price", "relationship", "integrations", "support", "other")
	b.day("decision_date_expected", "Expected Decision Date", 0.14)
	b.num("deal_health_score", "Deal Health Score", 0.3)
	b.multi("risk_flags", "Risk Flags", 0.11, "no_champion", "single_threaded", "no_exec_sponsor", "legal_delay",
		"budget_risk", "competitor_active", "slipped_twice")
	b.txt("partner_referral_code", "Partner Referral Code", 0.06)
	b.txt("partner_name", "Partner Name", 0.08)
	b.num("partner_margin_pct", "Partner Margin %", 0.05)
	b.txt("sourced_by_sdr_name", "Sourced By (SDR)", 0.24)
	b.num("sdr_owner_id", "SDR Owner ID", 0.24)
	b.num("sales_engineer_owner_id", "Sales Engineer Owner ID", 0.15)
	b.txt("region_territory_code", "Region / Territory Code", 0.5)
	b.sel("sales_segment", "Sales Segment", 0.5, "SMB", "MID_MARKET", "ENTERPRISE", "STRATEGIC")
	b.sel("expansion_type", "Expansion Type", 0.1, "upsell", "cross_sell", "seat_expansion", "price_uplift")
	b.num("implementation_fee", "Implementation Fee", 0.12)
	b.num("one_time_fee", "One-Time Fee", 0.08)
	b.num("arr_new", "New ARR", 0.3)
	b.num("arr_expansion", "Expansion ARR", 0.1)
	b.num("arr_churned", "Churned ARR", 0.03)
	b.txt("legacy_crm_record_id", "Legacy CRM Record ID", 0.33)
	b.txt("legacy_opportunity_number", "Legacy Opportunity #", 0.3)
	b.txt("opp", "Opp #", 0.02)
	b.sel("deal_registration_source", "Deal Registration Source", 0.06, "Partner portal", "Direct", "Marketplace", "Reseller")
	b.sel("procurement_process_type", "Procurement Process", 0.1, "Standard PO", "RFP", "Credit card", "Marketplace")
	b.sel("budget_cycle_quarter", "Budget Cycle", 0.08, "Q1", "Q2", "Q3", "Q4")
	b.num("buying_committee_size", "Buying Committee Size", 0.12)
	b.txt("economic_buyer_title", "Economic Buyer Title", 0.14)
	b.sel("pricing_model", "Pricing Model", 0.35, "per_seat", "usage_based", "flat_fee", "tiered")
	b.num("seats_committed", "Seats Committed", 0.3)
	b.radio("multi_year_term", "Multi-Year Term", 0.2, "1 year", "2 years", "3 years")
	b.sel("sales_play", "Sales Play", 0.18, "land", "expand", "displace_competitor", "renewal_rescue")
	b.sel("region", "Region", 0.55, "AMER", "EMEA", "APAC", "LATAM")
	b.radio("is_this_deal_sourced_by_a_partner_", "Is this deal sourced by a partner?", 0.22, "Yes", "No", "Unknown")
	b.sel("closed_lost__competitor_chosen_", "Closed Lost - Competitor Chosen", 0.09, "salesforce",
		"microsoft_dynamics", "pipedrive", "zoho", "homegrown", "other")

	// Conversation intelligence and forecasting tools.
	b.customIn("sales_engagement_tools")
	b.ts("gong_last_call_date", "Gong Last Call Date", 0.3)
	b.num("gong_call_count", "Gong Call Count", 0.3)
	b.area("gong_deal_warnings", "Gong Deal Warnings", 0.14)
	b.num("gong_deal_likelihood_score", "Gong Deal Likelihood", 0.25)
	b.ts("gong_last_activity_date", "Gong Last Activity", 0.3)
	b.sel("clari_forecast_category", "Clari Forecast Category", 0.35, "pipeline", "best_case", "commit", "closed", "omitted")
	b.day("clari_ai_projected_close_date", "Clari AI Projected Close Date", 0.3)
	b.ts("clari_last_updated_at", "Clari Last Updated", 0.35)
	b.txt("outreach_opportunity_id", "Outreach Opportunity ID", 0.25)
	b.ts("chorus_last_meeting_date", "Chorus Last Meeting", 0.05)

	// Attribution copied from the deal's contacts at creation.
	b.customIn("marketing_attribution")
	for _, touch := range []string{"first", "opp_created"} {
		reach := 0.4
		for _, f := range []string{"campaign_name", "source", "medium", "content", "term"} {
			b.txt("marketing_attribution_"+touch+"_touch_"+f, "Attribution ("+touch+" touch): "+f, reach)
			reach *= 0.8
		}
		b.ts("marketing_attribution_"+touch+"_touch_date", "Attribution ("+touch+" touch): date", reach)
	}

	// Hand-off to implementation.
	b.customIn("implementation")
	b.day("implementation_kickoff_date", "Implementation Kickoff", 0.1)
	b.txt("implementation_owner_email", "Implementation Owner", 0.1)
	b.area("handoff_notes", "Sales-to-CS Handoff Notes", 0.09)
	b.area("success_criteria", "Success Criteria", 0.08)
	b.day("go_live_target_date", "Target Go-Live", 0.08)
	b.sel("onboarding_package", "Onboarding Package", 0.1, "self_serve", "standard", "premium", "enterprise_custom")

	return b.props
}

package crmsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A real account is wide: HubSpot's own default properties number in the hundreds per
// object (analytics, e-mail, lifecycle dates per stage, one opt-out per subscription
// type), and every company adds its own and its integrations' (widecatalog.go). A sync
// that names every property must cope with that width: a GET that lists them all passes
// HubSpot's front end's URI limit, Salesforce's query string outgrows its URI limit, Zoho
// takes at most 50 fields a call. So the simulator's account is that wide by default;
// Options.Narrow keeps only the core properties, for tests that need small records.
//
// The wide properties are mostly empty, as in real portals, and cost no memory until a
// write or a change sets one: a record's seeded value of wide property i is a pure
// function of the record's seed and i (seededWide).

// wideSeed is the seed a seeded record's wide values are drawn from; never 0, which marks
// a record created through the API (no seeded values).
func wideSeed(simSeed int64, k objectKind, id int64) uint64 {
	return mix64(uint64(simSeed)*0x9E3779B97F4A7C15^uint64(k)<<56^uint64(id)) | 1
}

// mix64 is SplitMix64's finaliser: a cheap hash whose output bits all depend on every
// input bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// addWide appends the wide properties to t's schema, after the core ones.
func (t *objectType) addWide(specs []wideProp, epoch time.Time) {
	t.epoch = epoch
	t.words = strings.Split(wideWords, "|")
	created := time.Date(2019, 8, 6, 2, 43, 14, 491_000_000, time.UTC).Format(isoMillis)
	updated := time.Date(2024, 11, 20, 17, 3, 52, 118_000_000, time.UTC).Format(isoMillis)
	for _, w := range specs {
		if _, dup := t.index[w.name]; dup {
			panic(fmt.Sprintf("crmsim: wide property %s.%s is already defined", t.name, w.name))
		}
		typ := w.typ
		def := propertyDef{
			CreatedAt: created, UpdatedAt: updated,
			Name: w.name, Label: w.label, Type: typ, FieldType: w.field,
			GroupName: w.group, Options: []propertyOption{}, DisplayOrder: -1,
			HubspotDefined: !w.custom, FormField: w.custom,
			ModificationMetadata: modificationMetadata{Archivable: w.custom, ReadOnlyDefinition: !w.custom},
		}
		switch typ {
		case "bool":
			def.Options = []propertyOption{{Label: "Yes", Value: "true", DisplayOrder: 0}, {Label: "No", Value: "false", DisplayOrder: 1}}
		case typeEnumeration:
			for j, o := range w.options {
				def.Options = append(def.Options, propertyOption{Label: wideLabel(o), Value: o, DisplayOrder: j})
			}
		}
		t.index[w.name] = len(t.props)
		t.props = append(t.props, def)
		t.wide = append(t.wide, w)
	}
}

// wideLabel turns an option value (BUDGET_HOLDER, paid_social) into a label.
func wideLabel(v string) string {
	words := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == '_' || r == '-' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	if len(words) == 0 {
		return v
	}
	return strings.Join(words, " ")
}

// seededWide is the seeded value of wide property i of the record with the given seed: ""
// (empty) for most records, as the property's fill rate says.
func (t *objectType) seededWide(seed uint64, i int) string {
	if seed == 0 || i < t.ncore || i >= len(t.props) {
		return ""
	}
	h := mix64(seed ^ uint64(i)*0xD6E8FEB86659FD93)
	if float64(h>>11)/(1<<53) >= t.wide[i-t.ncore].fill {
		return ""
	}
	return t.drawWide(mix64(h), i)
}

// drawWide draws a value for wide property i from h: plausible for its type and name, and
// as messy as real data (units in numbers, accents, long notes).
func (t *objectType) drawWide(h uint64, i int) string {
	w := t.wide[i-t.ncore]
	pick := func(n int) int { h = mix64(h + 0x9E3779B97F4A7C15); return int(h % uint64(n)) }
	switch w.typ {
	case "bool":
		return strconv.FormatBool(pick(3) > 0)
	case typeEnumeration:
		if len(w.options) == 0 {
			return ""
		}
		if w.field == "checkbox" {
			// A multiple checkbox holds its options separated by semicolons.
			a, b := pick(len(w.options)), pick(len(w.options))
			if a == b {
				return w.options[a]
			}
			return w.options[min(a, b)] + ";" + w.options[max(a, b)]
		}
		return w.options[pick(len(w.options))]
	case typeDatetime:
		back := time.Duration(pick(3*365*24*3600)) * time.Second
		return formatTime(t.epoch.Add(-back).Add(time.Duration(pick(1000)) * time.Millisecond))
	case "date":
		return t.epoch.AddDate(0, 0, -pick(4*365)).Format(time.DateOnly)
	case typeNumber:
		return wideNumber(w.name, pick)
	}
	return t.wideString(w, pick)
}

func wideNumber(name string, pick func(int) int) string {
	switch {
	case strings.Contains(name, "probability"):
		return strconv.FormatFloat(float64(pick(101))/100, 'f', -1, 64)
	case strings.Contains(name, "score"), strings.Contains(name, "percent"):
		return strconv.Itoa(pick(101))
	case strings.Contains(name, "amount"), strings.Contains(name, "revenue"), strings.Contains(name, "value"),
		strings.Contains(name, "arr"), strings.Contains(name, "mrr"), strings.Contains(name, "acv"),
		strings.Contains(name, "tcv"), strings.Contains(name, "raised"):
		if pick(3) == 0 {
			return strconv.Itoa((1 + pick(500)) * 100)
		}
		return fmt.Sprintf("%d.%02d", pick(250000), pick(100))
	case strings.HasPrefix(name, "hs_time_"), strings.Contains(name, "_time_in_"), strings.Contains(name, "duration"):
		return strconv.Itoa(pick(90 * 24 * 3600 * 1000)) // milliseconds, as HubSpot keeps them
	case strings.Contains(name, "year"):
		return strconv.Itoa(1950 + pick(76))
	}
	if pick(8) == 0 {
		return strconv.Itoa(pick(100000))
	}
	return strconv.Itoa(pick(40))
}

// wideWords is the vocabulary of free-text values (campaign names, sources, notes),
// separated by "|".
const wideWords = "Q3|webinar|follow-up|pricing|demo|request|partner|referral|Spring|launch|EMEA|APAC|" +
	"newsletter|trial|renewal|upgrade|Tradeshow|Berlin|São Paulo|Zürich|東京|case study|ebook|ROI calculator|" +
	"g2 review|LinkedIn|retargeting|onboarding|kickoff|churn risk|champion left|\"VIP\"|n/a|TBD|—|integration|API"

func (t *objectType) wideString(w wideProp, pick func(int) int) string {
	n := w.name
	switch {
	case w.field == "phonenumber" || strings.Contains(n, "phone") || strings.Contains(n, "mobile") || strings.Contains(n, "fax"):
		return fmt.Sprintf("+%d %03d %04d", 1+pick(60), pick(1000), pick(10000))
	case strings.HasSuffix(n, "email") || strings.Contains(n, "email_address") || strings.Contains(n, "emails"):
		return fmt.Sprintf("user%d@example%d.com", pick(100000), pick(300))
	case strings.HasSuffix(n, "domain"):
		return fmt.Sprintf("example%d.%s", pick(300), []string{"com", "de", "io", "co.uk"}[pick(4)])
	case strings.HasSuffix(n, "city"):
		return []string{"Boston", "München", "São Paulo", "東京", "Kraków", "Toronto"}[pick(6)]
	case strings.Contains(n, "country"):
		return []string{"United States", "Germany", "Brazil", "Japan", "FR", "gb"}[pick(6)]
	case strings.Contains(n, "timezone"):
		return []string{"europe_slash_berlin", "america_slash_new_york", "asia_slash_tokyo", "UTC"}[pick(4)]
	case strings.Contains(n, "url") || strings.Contains(n, "website") || strings.Contains(n, "page") || strings.Contains(n, "linkedin"):
		return fmt.Sprintf("https://www.example%d.com/%s?utm_source=%s&utm_campaign=q%d", pick(500),
			[]string{"pricing", "blog/crm-sync", "contact-us", "features", "de/preise"}[pick(5)],
			[]string{"google", "linkedin", "newsletter", "g2"}[pick(4)], 1+pick(4))
	case strings.HasSuffix(n, "_ids"):
		ids := make([]string, 1+pick(3))
		for k := range ids {
			ids[k] = strconv.Itoa(1000000 + pick(90000000))
		}
		return strings.Join(ids, ";")
	case strings.HasSuffix(n, "id") || strings.Contains(n, "_id_") || strings.HasSuffix(n, "_key"):
		if strings.HasPrefix(n, "salesforce") {
			return "003" + strings.ToUpper(strconv.FormatUint(uint64(pick(math.MaxInt32))*7919, 36))
		}
		return strconv.Itoa(1000000 + pick(900000000))
	}
	words := 1 + pick(4)
	if w.field == "textarea" {
		words = 6 + pick(30)
	}
	var b strings.Builder
	for k := range words {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.words[pick(len(t.words))])
	}
	if w.field == "textarea" && pick(200) == 0 {
		// Now and then a note pasted from an e-mail thread: kilobytes in one value.
		b.WriteString(strings.Repeat("\n> earlier message quoted in full", 40+pick(80)))
	}
	return b.String()
}

// setWide gives wide property i a fresh non-empty value drawn from h, as a change by a
// user or an integration does.
func (st *state) setWide(h uint64, i int) {
	st.put(i, st.typ.drawWide(h, i))
}

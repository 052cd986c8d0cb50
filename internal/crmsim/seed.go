package crmsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Streams for the seeded random sources: each object draws from its own stream so that
// changing one count does not reshuffle the others.
const (
	streamOwners uint64 = iota + 0x5eed
	streamCompanies
	streamContacts
	streamDeals
	streamMutator
)

// name pairs a display form (possibly accented or CJK) with the ASCII form used to build
// emails and domains, as real CRMs hold both kinds of data side by side.
type name struct{ display, ascii string }

type place struct{ city, zip, country string }

// catalog is the vocabulary records are generated from. It is built per Sim, not held in
// package variables, so nothing global can be mutated.
type catalog struct {
	first, last   []name
	places        []place
	titles        []string
	companyHeads  []name
	companySuffix []string
	tlds          []string
	freeMail      []string
	dealWords     []string
}

func newCatalog() catalog {
	return catalog{
		first: []name{
			{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Patricia", "patricia"},
			{"Michael", "michael"}, {"Jennifer", "jennifer"}, {"David", "david"}, {"Linda", "linda"},
			{"José", "jose"}, {"Zoë", "zoe"}, {"Łukasz", "lukasz"}, {"François", "francois"},
			{"Søren", "soren"}, {"Björn", "bjorn"}, {"Ana", "ana"}, {"Siobhán", "siobhan"},
			{"Mohammed", "mohammed"}, {"Priya", "priya"}, {"Wei", "wei"}, {"Yuki", "yuki"},
			{"美咲", "misaki"}, {"伟", "wei"}, {"Αλέξανδρος", "alexandros"}, {"Дмитрий", "dmitry"},
			{"Chloé", "chloe"}, {"Raphaël", "raphael"}, {"Ingrid", "ingrid"}, {"Kwame", "kwame"},
			{"Olga", "olga"}, {"Mateo", "mateo"}, {"Hannah", "hannah"}, {"Noah", "noah"},
		},
		last: []name{
			{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
			{"Jones", "jones"}, {"Miller", "miller"}, {"Davis", "davis"}, {"Wilson", "wilson"},
			{"Müller", "mueller"}, {"García", "garcia"}, {"Núñez", "nunez"}, {"Ødegaard", "odegaard"},
			{"Kowalczyk", "kowalczyk"}, {"O'Brien", "obrien"}, {"van der Berg", "vanderberg"},
			{"Dubois", "dubois"}, {"Rossi", "rossi"}, {"Nakamura", "nakamura"}, {"Patel", "patel"},
			{"田中", "tanaka"}, {"王", "wang"}, {"김", "kim"}, {"Иванов", "ivanov"},
			{"Papadopoulos", "papadopoulos"}, {"Çelik", "celik"}, {"Nguyễn", "nguyen"},
			{"Andersson", "andersson"}, {"Mensah", "mensah"}, {"Silva", "silva"}, {"Cohen", "cohen"},
		},
		places: []place{
			{"Boston", "02110", "United States"}, {"Cambridge", "02139", "United States"},
			{"San Francisco", "94105", "United States"}, {"Austin", "78701", "United States"},
			{"New York", "10001", "United States"}, {"Toronto", "M5V 2T6", "Canada"},
			{"London", "EC1A 1BB", "United Kingdom"}, {"Dublin", "D02 X285", "Ireland"},
			{"Berlin", "10115", "Germany"}, {"München", "80331", "Germany"},
			{"Paris", "75002", "France"}, {"Kraków", "31-042", "Poland"},
			{"São Paulo", "01310-100", "Brazil"}, {"Bogotá", "110111", "Colombia"},
			{"東京", "100-0005", "Japan"}, {"Singapore", "018956", "Singapore"},
			{"Sydney", "2000", "Australia"}, {"Zürich", "8001", "Switzerland"},
			{"Amsterdam", "1012 JS", "Netherlands"}, {"Bengaluru", "560001", "India"},
		},
		titles: []string{"CEO", "CTO", "VP Sales", "Sales Manager", "Account Executive",
			"Marketing Director", "Software Engineer", "Head of Operations", "Procurement Lead",
			"Office Manager", "Data Analyst", "Directrice Financière", "Geschäftsführer", "営業部長"},
		companyHeads: []name{
			{"Acme", "acme"}, {"Globex", "globex"}, {"Initech", "initech"}, {"Umbrella", "umbrella"},
			{"Stark", "stark"}, {"Wayne", "wayne"}, {"Nakatomi", "nakatomi"}, {"Hooli", "hooli"},
			{"Vandelay", "vandelay"}, {"Soylent", "soylent"}, {"Tyrell", "tyrell"}, {"Cyberdyne", "cyberdyne"},
			{"Müller & Söhne", "muellersoehne"}, {"Café Olé", "cafeole"}, {"Société Lumière", "lumiere"},
			{"株式会社さくら", "sakura"}, {"北京星辰科技", "xingchen"}, {"Øresund", "oresund"},
			{"Açaí Brasil", "acaibrasil"}, {"Blue Harbor", "blueharbor"}, {"Northwind", "northwind"},
			{"Contoso", "contoso"}, {"Fabrikam", "fabrikam"}, {"Wingtip", "wingtip"},
		},
		companySuffix: []string{"Inc.", "LLC", "GmbH", "Ltd", "SARL", "S.A.", "BV", "Labs", "Group", "Holdings", ""},
		tlds:          []string{"com", "io", "de", "co.uk", "fr", "jp", "net", "com.br"},
		freeMail:      []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"},
		dealWords:     []string{"Renewal", "Expansion", "Pilot", "Enterprise licence", "Onboarding", "Upsell", "Support plan", "Migration"},
	}
}

// gen draws realistic property values from one random stream.
type gen struct {
	rng *rand.Rand
	cat *catalog
	sim *Sim
}

func (g gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// maybe returns v, or "" with probability p: real CRM data is full of blanks.
func (g gen) maybe(p float64, v string) string {
	if g.rng.Float64() < p {
		return ""
	}
	return v
}

func (g gen) phone() string {
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("+1 (%03d) %03d-%04d", 200+g.rng.IntN(800), g.rng.IntN(1000), g.rng.IntN(10000))
	case 1:
		return fmt.Sprintf("+49 30 %08d", g.rng.IntN(100000000))
	default:
		return fmt.Sprintf("%03d-%03d-%04d", 200+g.rng.IntN(800), g.rng.IntN(1000), g.rng.IntN(10000))
	}
}

func (g gen) ownerID() string {
	if len(g.sim.owners) == 0 {
		return ""
	}
	return g.sim.owners[g.rng.IntN(len(g.sim.owners))].ID
}

func (g gen) enum(t *objectType, prop string) string {
	opts := t.props[t.index[prop]].Options
	return opts[g.rng.IntN(len(opts))].Value
}

// propValue draws a fresh value for one mutable property of an existing record.
func (g gen) propValue(t *objectType, prop string, cur *state) string {
	switch prop {
	case "phone":
		return g.maybe(0.05, g.phone())
	case "jobtitle":
		return g.pick(g.cat.titles)
	case "lifecyclestage", "hs_lead_status", "industry", "hs_priority":
		return g.enum(t, prop)
	case "city":
		return g.cat.places[g.rng.IntN(len(g.cat.places))].city
	case "lastname":
		return g.cat.last[g.rng.IntN(len(g.cat.last))].display
	case propOwner:
		return g.ownerID()
	case "numberofemployees":
		return strconv.Itoa(1 + g.rng.IntN(20000))
	case "annualrevenue":
		return strconv.Itoa((1 + g.rng.IntN(5000)) * 10000)
	case "amount":
		return g.amount()
	case "dealstage":
		return g.stage(cur.get(t.index["pipeline"]))
	case "closedate":
		return formatTime(cur.updatedAt.Add(time.Duration(g.rng.IntN(180*24)) * time.Hour))
	case "dealname":
		return cur.get(t.index["dealname"]) + " – " + g.pick(g.cat.dealWords)
	}
	return cur.get(t.index[prop])
}

func (g gen) amount() string {
	cents := g.rng.IntN(4)
	whole := (1 + g.rng.IntN(2000)) * 50
	switch cents {
	case 0:
		return strconv.Itoa(whole)
	case 1:
		return strconv.Itoa(whole) + ".5"
	default:
		return fmt.Sprintf("%d.%02d", whole, g.rng.IntN(100))
	}
}

func (g gen) stage(pipelineID string) string {
	for _, p := range g.sim.pipelines {
		if p.ID == pipelineID {
			return p.Stages[g.rng.IntN(len(p.Stages))].ID
		}
	}
	return g.sim.pipelines[0].Stages[0].ID
}

// seed builds owners, pipelines and the three objects from Options. Companies come first
// so contacts can name theirs, then contacts, then deals associated with both.
func seed(s *Sim) {
	s.cat = newCatalog()
	cat := &s.cat
	s.pipelines = newPipelines()
	types := newObjectTypes(s.pipelines, s.opts.Narrow, s.opts.Epoch)
	s.owners = seedOwners(s.opts, cat)
	counts := [numObjects]int{s.opts.Contacts, s.opts.Companies, s.opts.Deals}
	for k := range numObjects {
		s.objects[k] = newObjectStore(types[k], counts[k])
	}
	s.rng = rand.New(rand.NewPCG(uint64(s.opts.Seed), streamMutator))

	seedObject(s, cat, companiesKind, s.opts.Companies, streamCompanies, 301, 3)
	seedObject(s, cat, contactsKind, s.opts.Contacts, streamContacts, 51, 1)
	seedObject(s, cat, dealsKind, s.opts.Deals, streamDeals, 7001, 7)
	for _, o := range s.objects {
		o.buildUnique()
	}

	for _, o := range s.objects {
		for _, e := range o.entries {
			if e.cur.updatedAt.After(s.lastStamp) {
				s.lastStamp = e.cur.updatedAt
			}
		}
	}
}

func seedOwners(opts Options, cat *catalog) []owner {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), streamOwners))
	teams := []ownerTeam{{ID: "178588", Name: "West Coast Sales"}, {ID: "178590", Name: "EMEA Sales"},
		{ID: "178592", Name: "Partnerships"}}
	out := make([]owner, opts.Owners)
	id := int64(6166860)
	for i := range out {
		id += 1 + rng.Int64N(90000)
		f := cat.first[rng.IntN(len(cat.first))]
		l := cat.last[rng.IntN(len(cat.last))]
		created := opts.Epoch.AddDate(-4, 0, 0).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond)
		t := teams[rng.IntN(len(teams))]
		t.Primary = true
		out[i] = owner{
			ID:        strconv.FormatInt(id, 10),
			Email:     fmt.Sprintf("%s.%s%d@crmsync-sim.example.com", f.ascii, l.ascii, i+1),
			Type:      "PERSON",
			FirstName: f.display, LastName: l.display,
			UserID: 1296619 + i*7, UserIDIncludingInactive: 1296619 + i*7,
			CreatedAt: formatTime(created),
			UpdatedAt: formatTime(created.Add(time.Duration(rng.Int64N(int64(700 * 24 * time.Hour)))).Truncate(time.Millisecond)),
			Teams:     []ownerTeam{t},
		}
	}
	return out
}

// seedIDs returns n ascending ids starting at start. Occasional gaps mimic deleted records,
// and at each fifth of the range the id jumps to the next power of ten (times lead), so ids
// of one object have several lengths and clients comparing ids as strings get caught.
func seedIDs(rng *rand.Rand, n int, start, lead int64) []int64 {
	ids := make([]int64, n)
	id := start
	for i := range n {
		if i > 0 {
			if n >= 5 && i%(n/5) == 0 && i/(n/5) <= 4 {
				p := int64(1)
				for p <= id {
					p *= 10
				}
				id = max(id+1, lead*p+rng.Int64N(p/10+1))
			} else if rng.IntN(100) < 4 {
				id += 2 + rng.Int64N(30)
			} else {
				id++
			}
		}
		ids[i] = id
	}
	return ids
}

func seedObject(s *Sim, cat *catalog, k objectKind, n int, stream uint64, start, lead int64) {
	o := s.objects[k]
	if n == 0 {
		o.lastID = start - 1
		return
	}
	rng := rand.New(rand.NewPCG(uint64(s.opts.Seed), stream))
	g := gen{rng: rng, cat: cat, sim: s}
	ids := seedIDs(rng, n, start, lead)
	epoch := s.opts.Epoch
	from := epoch.AddDate(-3, 0, 0)
	span := epoch.Sub(from)
	slot := span / time.Duration(n)
	for i, id := range ids {
		// createdAt grows with the id, as it does in HubSpot, with jitter inside each slot.
		created := from.Add(slot*time.Duration(i) + time.Duration(rng.Int64N(int64(max(slot, time.Millisecond))))).Truncate(time.Millisecond)
		if !created.Before(epoch) {
			created = epoch.Add(-time.Millisecond)
		}
		updated := created
		if rng.IntN(10) > 0 { // one in ten records was never touched after creation
			updated = created.Add(time.Duration(rng.Int64N(int64(epoch.Sub(created))))).Truncate(time.Millisecond)
		}
		e := &entry{id: id, sid: strconv.FormatInt(id, 10), tie: tieHash(s.opts.Seed, id)}
		e.cur = newState(o.typ, wideSeed(s.opts.Seed, k, id))
		e.cur.createdAt, e.cur.updatedAt = created, updated
		o.add(e)
	}
	importBursts(rng, o, epoch)
	for _, e := range o.entries {
		fillSeeded(g, s, o, e)
	}
}

// importBursts gives about 2% of records one shared updatedAt per group of up to 500, as a
// CSV import or workflow does, so cursor tie handling is exercised.
func importBursts(rng *rand.Rand, o *objectStore, epoch time.Time) {
	n := len(o.entries)
	budget := n * 2 / 100
	used := make(map[int]bool, budget)
	for budget > 0 {
		size := min(budget, 50+rng.IntN(451))
		at := epoch.Add(-time.Duration(1 + rng.Int64N(int64(365*24*time.Hour)))).Truncate(time.Millisecond)
		// Only records created by then can have been touched by the import.
		eligible := sort.Search(n, func(i int) bool { return o.entries[i].cur.createdAt.After(at) })
		if eligible == 0 {
			at = o.entries[n-1].cur.createdAt
			eligible = n
		}
		size = min(size, eligible-len(used))
		picked := 0
		for tries := 0; picked < size && tries < size*20; tries++ {
			i := rng.IntN(eligible)
			if used[i] {
				continue
			}
			used[i] = true
			o.entries[i].cur.updatedAt = at
			picked++
		}
		if picked == 0 {
			return
		}
		budget -= picked
	}
}

// fillSeeded fills in an entry's properties and associations from its timestamps.
func fillSeeded(g gen, s *Sim, o *objectStore, e *entry) {
	st := e.cur
	t := o.typ
	set := func(p, v string) { st.put(t.index[p], v) }
	set(propCreateDate, formatTime(st.createdAt))
	set(t.modProp, formatTime(st.updatedAt))
	set(propObjectID, e.sid)
	set(propOwner, g.maybe(0.05, g.ownerID()))
	switch t.kind {
	case companiesKind:
		fillCompany(g, set)
	case contactsKind:
		fillContact(g, s, e, set)
	case dealsKind:
		fillDeal(g, s, e, set)
	}
}

func fillCompany(g gen, set func(p, v string)) {
	head := g.cat.companyHeads[g.rng.IntN(len(g.cat.companyHeads))]
	suffix := g.pick(g.cat.companySuffix)
	n := g.rng.IntN(1000)
	nm := head.display
	if n%3 == 0 {
		nm += " " + strconv.Itoa(n)
	}
	if suffix != "" {
		nm += " " + suffix
	}
	pl := g.cat.places[g.rng.IntN(len(g.cat.places))]
	set("name", nm)
	set("domain", g.maybe(0.03, fmt.Sprintf("%s%d.%s", head.ascii, n, g.pick(g.cat.tlds))))
	set("industry", g.maybe(0.1, g.pick(industries())))
	set("phone", g.maybe(0.2, g.phone()))
	set("city", g.maybe(0.05, pl.city))
	set("country", g.maybe(0.05, pl.country))
	set("numberofemployees", g.maybe(0.15, strconv.Itoa(1+g.rng.IntN(20000))))
	set("annualrevenue", g.maybe(0.25, strconv.Itoa((1+g.rng.IntN(5000))*10000)))
}

func fillContact(g gen, s *Sim, e *entry, set func(p, v string)) {
	f := g.cat.first[g.rng.IntN(len(g.cat.first))]
	l := g.cat.last[g.rng.IntN(len(g.cat.last))]
	pl := g.cat.places[g.rng.IntN(len(g.cat.places))]
	set("firstname", g.maybe(0.02, f.display))
	set("lastname", g.maybe(0.03, l.display))
	set("phone", g.maybe(0.1, g.phone()))
	set("jobtitle", g.maybe(0.15, g.pick(g.cat.titles)))
	set("lifecyclestage", g.maybe(0.05, g.enum(s.objects[contactsKind].typ, "lifecyclestage")))
	set("hs_lead_status", g.maybe(0.4, g.enum(s.objects[contactsKind].typ, "hs_lead_status")))
	set("city", g.maybe(0.05, pl.city))
	set("zip", g.maybe(0.2, pl.zip))
	set("country", g.maybe(0.05, pl.country))
	domain := g.pick(g.cat.freeMail)
	if co, ok := s.randomLive(g.rng, companiesKind); ok {
		associate(e, contactsKind, co, companiesKind)
		ct := s.objects[companiesKind].typ
		set("company", co.cur.get(ct.index["name"]))
		if d := co.cur.get(ct.index["domain"]); d != "" && g.rng.IntN(10) < 6 {
			domain = d
		}
	}
	set("email", g.maybe(0.01, fmt.Sprintf("%s.%s%d@%s", f.ascii, l.ascii, e.id%997, domain)))
}

func fillDeal(g gen, s *Sim, e *entry, set func(p, v string)) {
	st := e.cur
	p := s.pipelines[0]
	if g.rng.IntN(4) == 0 {
		p = s.pipelines[1]
	}
	stage := p.Stages[g.rng.IntN(len(p.Stages))].ID
	name := g.pick(g.cat.dealWords)
	if co, ok := s.randomLive(g.rng, companiesKind); ok {
		associate(e, dealsKind, co, companiesKind)
		name = co.cur.get(s.objects[companiesKind].typ.index["name"]) + " – " + name
		contacts := co.assoc[contactsKind]
		for range 1 + g.rng.IntN(3) {
			var c *entry
			if len(contacts) > 0 && g.rng.IntN(4) > 0 {
				c, _ = s.objects[contactsKind].lookup(contacts[g.rng.IntN(len(contacts))])
			} else {
				c, _ = s.randomLive(g.rng, contactsKind)
			}
			if c != nil {
				associate(e, dealsKind, c, contactsKind)
			}
		}
	} else if c, ok := s.randomLive(g.rng, contactsKind); ok {
		associate(e, dealsKind, c, contactsKind)
	}
	set("dealname", name)
	set("amount", g.maybe(0.1, g.amount()))
	set("pipeline", p.ID)
	set("dealstage", stage)
	set("dealtype", g.maybe(0.3, g.pick([]string{"newbusiness", "existingbusiness"})))
	set("hs_priority", g.maybe(0.5, g.pick([]string{"low", "medium", "high"})))
	switch {
	case p.stageClosed(stage):
		span := st.updatedAt.Sub(st.createdAt)
		set("closedate", formatTime(st.createdAt.Add(time.Duration(g.rng.Int64N(int64(span)+1))).Truncate(time.Millisecond)))
	case g.rng.IntN(5) > 0:
		set("closedate", formatTime(s.opts.Epoch.Add(time.Duration(g.rng.Int64N(int64(180*24*time.Hour)))).Truncate(time.Millisecond)))
	}
}

// associate links two records in both directions, as HubSpot's associations are.
func associate(e *entry, ek objectKind, target *entry, tk objectKind) {
	for _, id := range e.assoc[tk] {
		if id == target.sid {
			return
		}
	}
	e.assoc[tk] = append(e.assoc[tk], target.sid)
	target.assoc[ek] = append(target.assoc[ek], e.sid)
}

// randomLive picks a uniformly random non-archived record of kind k.
func (s *Sim) randomLive(rng *rand.Rand, k objectKind) (*entry, bool) {
	o := s.objects[k]
	if o.live() == 0 {
		return nil, false
	}
	for {
		e := o.entries[rng.IntN(len(o.entries))]
		if !e.cur.archived {
			return e, true
		}
	}
}

// tieHash orders search results with equal sort values: stable for a given seed, but
// unrelated to id order so clients cannot come to rely on it.
func tieHash(seed, id int64) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(uint64(seed) >> (8 * i))
		b[8+i] = byte(uint64(id) >> (8 * i))
	}
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// lowerASCII lowercases without allocating when s is already lower case.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

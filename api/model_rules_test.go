package api_test

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// The model: SPEC §2–§3 read on its own, as small as it can be. Balances are maps of
// int64 minor units; every write either refuses with the first failing check in SPEC §3's
// order (shape, role, visibility, referenced accounts, the row's rules) or yields its
// postings and a change to the model's state. It shares nothing with ledger/ but the
// contract. The judgment calls it takes where SPEC is silent are decision 0003's, named
// where they are used.

// mAccount is one account: kind, status, and per asset the posted balance and earned.
type mAccount struct {
	kind   string
	frozen bool
	bal    map[string]int64
	earned map[string]int64
}

// mHold is a hold (SPEC §3 holds): status is open, settled or voided; an open hold
// at or past expires is expired.
type mHold struct {
	resident, payee, asset string
	amount                 int64
	expires                time.Time
	status                 string
}

// mPosting moves amount (minor units) of asset from one account to another.
type mPosting struct {
	from, to, asset string
	amount          int64
}

// mEntry is what the model remembers of an accepted entry: enough to reverse it and to
// know who may see it.
type mEntry struct {
	typ      string
	actor    string // the acting account, "" for admin
	time     time.Time
	postings []mPosting
	parties  []string // accounts party to it besides the actor and the postings (a hold's)
	credit   *mCredit // for credits
	reversed bool
}

// mCredit is a credited session (SPEC §3 credits).
type mCredit struct {
	station    string // the crediting station (the actor, or the one admin named)
	volunteer  string
	start, end time.Time
	hours      int64
}

type model struct {
	pol     mPolicy
	accts   map[string]*mAccount
	links   map[[2]string]bool
	holds   map[uint64]*mHold
	entries map[uint64]*mEntry
	seq     uint64
	last    time.Time // the last entry's time
}

// outcome is a predicted answer: an error code, or (code "") the entry's postings and what
// else accepting it changes (apply runs after the postings moved, with the entry's seq).
type outcome struct {
	code     string
	late     bool // a 400 or 403 the ledger decides, after the Idempotency-Key (see harness.write)
	postings []mPosting
	apply    func(seq uint64, e *mEntry)
}

// status is SPEC §7's status of an error code (201 for none).
func (o outcome) status() int {
	switch o.code {
	case "":
		return http.StatusCreated
	case "invalid_field", "invalid_amount", "invalid_account", "invalid_time", "invalid_policy":
		return http.StatusBadRequest
	case "forbidden":
		return http.StatusForbidden
	case "not_found":
		return http.StatusNotFound
	case "account_exists", "already_reversed", "hold_not_open":
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

func refuse(code string) outcome { return outcome{code: code} }

// refuseLate is a 400 or 403 that needs the ledger's state or the acting account (a
// station reversing an entry that is not its own credit, an account paying itself): like
// a 404, it comes after the key's lookup.
func refuseLate(code string) outcome { return outcome{code: code, late: true} }

// accept is an entry with these postings; apply (may be nil) changes the rest.
func accept(ps []mPosting, apply func(seq uint64, e *mEntry)) outcome {
	return outcome{postings: ps, apply: apply}
}

func newModel() *model {
	m := &model{pol: defaultPolicy(), accts: map[string]*mAccount{}, links: map[[2]string]bool{},
		holds: map[uint64]*mHold{}, entries: map[uint64]*mEntry{}}
	m.open("issuer:HOURS")
	m.open("issuer:POINTS")
	return m
}

func (m *model) open(id string) {
	kind, _, _ := strings.Cut(id, ":")
	m.accts[id] = &mAccount{kind: kind, bal: map[string]int64{}, earned: map[string]int64{}}
}

// nextTime is the time the next entry gets, and the "now" its rules are judged at: the
// clock, but strictly after the last entry (SPEC §2: times strictly increase).
func (m *model) nextTime(clock time.Time) time.Time {
	if next := m.last.Add(time.Microsecond); clock.Before(next) {
		return next
	}
	return clock
}

// held is what open, unexpired holds of account reserve of asset at now.
func (m *model) held(account, asset string, now time.Time) int64 {
	var n int64
	for _, h := range m.holds {
		if h.resident == account && h.asset == asset && h.status == "open" && now.Before(h.expires) {
			n += h.amount
		}
	}
	return n
}

// available is balance − held; 0 for an account that does not exist (the checks run
// in order, so an unknown account has already answered unknown_account).
func (m *model) available(account, asset string, now time.Time) int64 {
	if m.accts[account] == nil {
		return 0
	}
	return m.accts[account].bal[asset] - m.held(account, asset, now)
}

// holdStatus is what GET /v1/holds/{id} shows at now.
func (h *mHold) statusAt(now time.Time) string {
	if h.status == "open" && !now.Before(h.expires) {
		return "expired"
	}
	return h.status
}

func isIssuer(id string) bool { return strings.HasPrefix(id, "issuer:") }

func kindOf(id string) string {
	k, _, _ := strings.Cut(id, ":")
	return k
}

// known is unknown_account for the first id that is not an account ("" when all are).
func (m *model) known(ids ...string) string {
	for _, id := range ids {
		if m.accts[id] == nil {
			return "unknown_account"
		}
	}
	return ""
}

// active is account_frozen when one of ids is frozen.
func (m *model) active(ids ...string) string {
	for _, id := range ids {
		if a := m.accts[id]; a != nil && a.frozen {
			return "account_frozen"
		}
	}
	return ""
}

// movers are the non-issuer accounts the postings move money from or to.
func movers(ps []mPosting) []string {
	var ids []string
	for _, p := range ps {
		for _, id := range []string{p.from, p.to} {
			if !isIssuer(id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// funds is insufficient_balance when a non-issuer payer would pay more than its available
// amount (plus released, for a settle's own hold: decision 0003).
func (m *model) funds(ps []mPosting, now time.Time, released int64) string {
	out := map[[2]string]int64{}
	for _, p := range ps {
		if !isIssuer(p.from) {
			out[[2]string{p.from, p.asset}] += p.amount
		}
	}
	for k, n := range out {
		if n > m.available(k[0], k[1], now)+released {
			return "insufficient_balance"
		}
	}
	return ""
}

// caps is balance_cap_exceeded when an account the postings pay would end above its
// kind's upper limit for the asset; decision 0003 applies limits to every entry but
// reversals.
func (m *model) caps(ps []mPosting) string {
	net := map[[2]string]int64{}
	for _, p := range ps {
		net[[2]string{p.to, p.asset}] += p.amount
		net[[2]string{p.from, p.asset}] -= p.amount
	}
	for k, n := range net {
		upper, ok := m.pol.upper(kindOf(k[0]), k[1])
		if n > 0 && ok && m.accts[k[0]] != nil && m.accts[k[0]].bal[k[1]]+n > upper {
			return "balance_cap_exceeded"
		}
	}
	return ""
}

// first is the first non-empty code (each check is safe to run on unknown accounts).
func first(codes ...string) string {
	for _, c := range codes {
		if c != "" {
			return c
		}
	}
	return ""
}

// commit applies an accepted outcome as entry seq at time now.
func (m *model) commit(o outcome, typ, actor string, now time.Time) *mEntry {
	m.seq++
	m.last = now
	e := &mEntry{typ: typ, actor: actor, time: now, postings: o.postings}
	m.entries[m.seq] = e
	for _, p := range o.postings {
		m.accts[p.from].bal[p.asset] -= p.amount
		m.accts[p.to].bal[p.asset] += p.amount
	}
	if o.apply != nil {
		o.apply(m.seq, e)
	}
	return e
}

// partyTo reports whether account may see entry seq as a party (SPEC §4).
func (m *model) partyTo(account string, e *mEntry) bool {
	if e.actor == account {
		return true
	}
	for _, id := range append(movers(e.postings), e.parties...) {
		if id == account {
			return true
		}
	}
	return false
}

// linked reports a family link between a and b, either way round.
func (m *model) linked(a, b string) bool {
	return m.links[[2]string{a, b}] || m.links[[2]string{b, a}]
}

// dayHours is the volunteer's unreversed credited hours whose session started on the
// local day [day, next) of the policy in force: a credit made under another time zone
// counts on the day its started_at falls in now.
func (m *model) dayHours(volunteer string, day, next time.Time) int64 {
	var n int64
	for _, e := range m.entries {
		if c := e.credit; c != nil && !e.reversed && c.volunteer == volunteer && !c.start.Before(day) && c.start.Before(next) {
			n += c.hours
		}
	}
	return n
}

// overlaps reports an unreversed credited session of volunteer overlapping [start, end).
func (m *model) overlaps(volunteer string, start, end time.Time) bool {
	for _, e := range m.entries {
		if c := e.credit; c != nil && !e.reversed && c.volunteer == volunteer && c.start.Before(end) && start.Before(c.end) {
			return true
		}
	}
	return false
}

// sortPostings orders postings for comparison (SPEC fixes their set, the model not their order).
func sortPostings(ps []mPosting) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		return a.from+a.to+a.asset < b.from+b.to+b.asset || a.from+a.to+a.asset == b.from+b.to+b.asset && a.amount < b.amount
	})
}

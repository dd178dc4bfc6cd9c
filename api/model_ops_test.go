package api_test

import (
	"time"

	"pgregory.net/rapid"
)

// The writes the model test draws, one generator each: who sends it, the body, and the
// model's prediction (SPEC §3's checks in SPEC's order). Every generator draws some
// requests that must be refused: wrong roles, unknown, frozen or wrong-kind accounts,
// rules at and past their limits.

// call is one drawn write.
type call struct {
	who, method, path string
	typ               string // the entry type it makes
	body              map[string]any
	predict           func(now time.Time) outcome
}

// principals: the tokens of the test, with role and account (SPEC §2 principals).
var principals = map[string]struct{ role, account string }{
	"admin": {"admin", ""}, "auditor": {"auditor", ""},
	"station": {"station", "station:s01"}, "station2": {"station", "station:s02"}, "outlet": {"outlet", "outlet:o01"},
	"resident": {"resident", "resident:r01"}, "resident2": {"resident", "resident:r02"}, "resident3": {"resident", "resident:r03"},
}

var (
	residentWho = []string{"resident", "resident2", "resident3"}
	// volunteers and transfer targets: fixtures, one the run may open, one never opened.
	residentIDs = []string{"resident:r01", "resident:r02", "resident:r03", "resident:n1", "resident:ghost"}
	payees      = []string{"station:s01", "station:s02", "outlet:o01", "outlet:o02", "pool:public", "resident:r02"}
	assets      = []string{"HOURS", "POINTS"}
	// openIDs: new, existing and refused ids (SPEC §2: syntax, issuer, a PRC identity
	// number with a valid check digit, a mainland mobile number, an unknown kind).
	openIDs = []string{"resident:n1", "resident:n2", "outlet:o02", "pool:p2", "station:s03", "resident:r01",
		"pool:public", "issuer:HOURS", "issuer:CNY", "resident:11010519491231002x", "resident:13812345678",
		"resident:Bad", "resident:", "shop:x"}
	badOpenIDs = map[string]bool{"issuer:HOURS": true, "issuer:CNY": true, "resident:11010519491231002x": true,
		"resident:13812345678": true, "resident:Bad": true, "resident:": true, "shop:x": true}
)

func roleOf(who string) string { return principals[who].role }

// principalOf is the principal acting as account ("" when none does).
func principalOf(account string) string {
	for who, p := range principals {
		if p.account == account && account != "" && who != "" {
			return who
		}
	}
	return ""
}

func accountOf(who string) string { return principals[who].account }

// drawAmount is a positive amount of asset, small enough that balances run out.
func (h *harness) drawAmount(asset string) int64 {
	if asset == "HOURS" {
		return rapid.Int64Range(1, 800).Draw(h.t, "hours_minor")
	}
	return rapid.Int64Range(1, 120).Draw(h.t, "points")
}

func (h *harness) drawOpen() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "station", "station2", "resident", "auditor"}).Draw(h.t, "who")
	id := rapid.SampledFrom(openIDs).Draw(h.t, "id")
	return call{who, "POST", "/v1/accounts", "open", map[string]any{"id": id}, func(time.Time) outcome {
		switch {
		case badOpenIDs[id]:
			return refuse("invalid_account")
		case roleOf(who) != "admin" && (roleOf(who) != "station" || kindOf(id) != "resident"):
			return refuse("forbidden")
		case h.m.accts[id] != nil:
			return refuse("account_exists")
		}
		return accept(nil, func(_ uint64, e *mEntry) { h.m.open(id); e.parties = []string{id} })
	}}
}

func (h *harness) drawFreeze() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "admin", "resident", "station"}).Draw(h.t, "who")
	id := rapid.SampledFrom([]string{"resident:r01", "resident:r02", "resident:r03", "pool:public", "outlet:o01",
		"station:s02", "issuer:POINTS"}).Draw(h.t, "id")
	freeze := rapid.Bool().Draw(h.t, "freeze")
	reason := "audit 7"
	if !isIssuer(id) && rapid.IntRange(0, 9).Draw(h.t, "no_reason") == 0 {
		reason = ""
	}
	path, typ := "/v1/accounts/"+id+"/unfreeze", "unfreeze"
	if freeze {
		path, typ = "/v1/accounts/"+id+"/freeze", "freeze"
	}
	return call{who, "POST", path, typ, map[string]any{"reason": reason}, func(time.Time) outcome {
		switch {
		case isIssuer(id):
			return refuse("invalid_account") // decision 0003: issuers cannot be frozen
		case reason == "":
			return refuse("invalid_field") // decision 0003: the reason is required
		case roleOf(who) != "admin":
			return refuse("forbidden")
		}
		return accept(nil, func(_ uint64, e *mEntry) { h.m.accts[id].frozen = freeze; e.parties = []string{id} })
	}}
}

func (h *harness) drawLink() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "resident"}).Draw(h.t, "who")
	a := rapid.SampledFrom(residentIDs).Draw(h.t, "a")
	b := rapid.SampledFrom(residentIDs).Filter(func(b string) bool { return b != a }).Draw(h.t, "b")
	rel := rapid.SampledFrom([]string{"spouse", "parent", "child", "sibling", "grandparent", "grandchild", "other"}).Draw(h.t, "rel")
	return h.linkCall(who, a, b, rel)
}

func (h *harness) linkCall(who, a, b, rel string) call {
	return call{who, "POST", "/v1/links", "link", map[string]any{"a": a, "b": b, "relation": rel}, func(time.Time) outcome {
		if roleOf(who) != "admin" {
			return refuse("forbidden")
		}
		if c := h.m.known(a, b); c != "" {
			return refuse(c)
		}
		return accept(nil, func(_ uint64, e *mEntry) { h.m.links[[2]string{a, b}] = true; e.parties = []string{a, b} })
	}}
}

// drawSession is a credited session placed against the clock: mostly in the last three
// days (so days and sessions collide), sometimes up to 32 days back (past the backdate
// window), sometimes ending around now + 5 minutes (the future_time boundary).
func (h *harness) drawSession() (start, end time.Time) {
	now := h.e.clk.Now()
	switch rapid.IntRange(0, 9).Draw(h.t, "when") {
	case 0:
		end = now.Add(-time.Duration(rapid.IntRange(0, 32*24*60).Draw(h.t, "end_ago_min")) * time.Minute)
	case 1:
		end = now.Add(time.Duration(rapid.IntRange(3, 7).Draw(h.t, "end_ahead_min")) * time.Minute)
	default:
		end = now.Add(-time.Duration(rapid.IntRange(0, 3*48).Draw(h.t, "end_ago_30min")) * 30 * time.Minute)
	}
	return end.Add(-time.Duration(rapid.IntRange(1, 28).Draw(h.t, "dur_30min")) * 30 * time.Minute), end
}

func (h *harness) drawCredit() call {
	who := rapid.SampledFrom([]string{"station", "station", "station2", "admin", "resident"}).Draw(h.t, "who")
	vol := rapid.SampledFrom(residentIDs).Draw(h.t, "volunteer")
	start, end := h.drawSession()
	hours := rapid.Int64Range(1, int64(end.Sub(start)/(36*time.Second))+25).Draw(h.t, "hours_minor")
	category := rapid.SampledFrom([]string{"elderly-care", "cleaning"}).Draw(h.t, "category")
	station := accountOf(who)
	if who == "admin" {
		station = rapid.SampledFrom([]string{"station:s01", "station:s02"}).Draw(h.t, "station")
	}
	return h.creditCall(who, station, vol, category, hours, start, end)
}

// creditCall is a credit of hours (minor units) to vol for [start, end), sent by who
// (admin names the station).
func (h *harness) creditCall(who, station, vol, category string, hours int64, start, end time.Time) call {
	body := map[string]any{"volunteer": vol, "hours": fmtMinor(hours, 2), "activity": map[string]any{
		"id": "act-1", "category": category, "started_at": start.Format(time.RFC3339), "ended_at": end.Format(time.RFC3339)}}
	if who == "admin" {
		body["station"] = station
	}
	return call{who, "POST", "/v1/credits", "credit", body, func(now time.Time) outcome {
		return h.m.credit(roleOf(who), station, vol, category, hours, start, end, now)
	}}
}

// credit is SPEC §3's credit row, in its order.
func (m *model) credit(role, station, vol, category string, hours int64, start, end, now time.Time) outcome {
	if role != "station" && role != "admin" {
		return refuse("forbidden")
	}
	y, mo, d := start.In(m.pol.location()).Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, m.pol.location()) // no zone of the model skips midnight
	next := time.Date(y, mo, d+1, 0, 0, 0, 0, m.pol.location())
	code := first(m.known(vol, station), m.active(vol, station))
	switch {
	case code != "":
		return refuse(code)
	case hours > m.pol.entryCap():
		return refuse("entry_cap_exceeded")
	case time.Duration(hours)*36*time.Second > end.Sub(start):
		return refuse("duration_exceeded")
	case end.After(now.Add(5 * time.Minute)):
		return refuse("future_time")
	case start.Before(now.Add(-m.pol.backdate())):
		return refuse("backdate_window_exceeded")
	case m.dayHours(vol, day, next)+hours > m.pol.dayCap():
		return refuse("daily_cap_exceeded")
	case m.overlaps(vol, start, end):
		return refuse("overlapping_session")
	}
	ps := []mPosting{{"issuer:HOURS", vol, "HOURS", hours}}
	if points := hours * m.pol.creditRate(category) / 10000; points > 0 {
		ps = append(ps, mPosting{"issuer:POINTS", vol, "POINTS", points})
	}
	if code := m.caps(ps); code != "" {
		return refuse(code)
	}
	return accept(ps, func(_ uint64, e *mEntry) {
		for _, p := range ps {
			m.accts[vol].earned[p.asset] += p.amount
		}
		e.parties = []string{station}
		e.credit = &mCredit{station: station, volunteer: vol, start: start, end: end, hours: hours}
	})
}

func (h *harness) drawPolicy() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "admin", "resident"}).Draw(h.t, "who")
	q := drawPolicy(h.t, h.m.pol)
	return call{who, "PUT", "/v1/policy", "policy", q.doc(), func(time.Time) outcome {
		switch {
		case q.HoursScale != 2, q.DefaultTTL > q.MaxTTL: // a default TTL the maximum forbids is no policy
			return refuse("invalid_policy")
		case roleOf(who) != "admin":
			return refuse("forbidden")
		}
		return accept(nil, func(uint64, *mEntry) { h.m.pol = q })
	}}
}

// reversible are the entry types SPEC §3 lets a reversal mirror.
var reversible = map[string]bool{"credit": true, "redemption": true, "settle": true, "transfer": true,
	"donation": true, "grant": true, "conversion": true}

func (h *harness) drawReversal() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "station", "station", "station2", "resident", "outlet"}).Draw(h.t, "who")
	var targets []uint64 // entries a reversal may mirror, reversed or not
	for seq := uint64(1); seq <= h.m.seq; seq++ {
		if reversible[h.m.entries[seq].typ] {
			targets = append(targets, seq)
		}
	}
	var seq uint64
	if len(targets) > 0 && rapid.IntRange(0, 3).Draw(h.t, "reversible") > 0 {
		seq = rapid.SampledFrom(targets).Draw(h.t, "seq")
	} else {
		seq = rapid.Uint64Range(1, h.m.seq+1).Draw(h.t, "seq")
	}
	reason := rapid.SampledFrom([]string{"entered twice", "entered twice", ""}).Draw(h.t, "reason")
	return call{who, "POST", "/v1/reversals", "reversal", map[string]any{"seq": seq, "reason": reason}, func(now time.Time) outcome {
		if reason == "" {
			return refuse("invalid_field") // decision 0003: the reason is required
		}
		return h.m.reverse(who, seq, now)
	}}
}

// reverse is SPEC §3's reversal row. A station sees only entries it is party to (404 for
// others) and may reverse only its own credits (403 for the rest: decision 0003).
func (m *model) reverse(who string, seq uint64, now time.Time) outcome {
	role, acct := roleOf(who), accountOf(who)
	if role != "admin" && role != "station" {
		return refuse("forbidden")
	}
	e := m.entries[seq]
	switch {
	case e == nil, role == "station" && !m.partyTo(acct, e):
		return refuse("not_found")
	case role == "station" && (e.credit == nil || e.credit.station != acct):
		return refuseLate("forbidden")
	}
	var ps []mPosting
	for _, p := range e.postings {
		ps = append(ps, mPosting{p.to, p.from, p.asset, p.amount})
	}
	// Decision 0003: the accounts the entry pays or is paid by must be active; a reversal's
	// are its postings' (not the station that made the credit, nor the one reversing it).
	code := m.active(movers(ps)...)
	switch {
	case code != "":
	case !reversible[e.typ]:
		code = "not_reversible"
	case e.reversed:
		code = "already_reversed"
	case role == "station" && now.Sub(e.time) > m.pol.window():
		code = "reversal_window_passed"
	default:
		code = m.funds(ps, now, 0) // decision 0003: reversals are exempt from upper limits only
	}
	if code != "" {
		return refuse(code)
	}
	return accept(ps, func(_ uint64, r *mEntry) {
		// Decision 0003: a reversal's parties include those of the entry it reverses.
		r.parties = append(append([]string{e.actor}, e.parties...), movers(e.postings)...)
		e.reversed = true
		if e.credit != nil {
			for _, p := range ps {
				m.accts[p.from].earned[p.asset] -= p.amount
			}
		}
	})
}

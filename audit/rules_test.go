package audit_test

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"time"
)

// What each entry type does besides its postings (SPEC §3), and the postings its body
// makes. This is not a full replay of the rules (caps, windows, overlaps are left to
// timebank verify); it is what the document lets an auditor check from the entries alone.

var (
	actorRE   = regexp.MustCompile(`^((station|outlet|resident):[a-z0-9][a-z0-9._-]{0,63}|admin:\S+)$`)
	accountRE = regexp.MustCompile(`^(resident|station|outlet|pool):[a-z0-9][a-z0-9._-]{0,63}$`)
	rateRE    = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`) // a plain decimal, as SPEC §2's amounts
)

var reversible = map[string]bool{"credit": true, "redemption": true, "settle": true,
	"transfer": true, "donation": true, "grant": true, "conversion": true}

func (l *ledger) effects(e *entry) error {
	b := e.body
	switch e.typ {
	case "policy":
		l.policy = b.policy
		for code, scale := range b.policy.scales {
			if s, ok := l.ctx.scales[code]; !ok || s != int(scale) {
				return fmt.Errorf("asset %s at scale %d: assets and scales are fixed at genesis", code, scale)
			}
		}
	case "open":
		id := b.strs["id"]
		if !accountRE.MatchString(id) || l.accounts[id] != nil {
			return fmt.Errorf("opens %q: not a new account id", id)
		}
		l.open(id, e.time)
	case "freeze", "unfreeze":
		a := l.accounts[b.strs["account"]]
		if a == nil {
			return fmt.Errorf("%s of unknown %s", e.typ, b.strs["account"])
		}
		a.frozen = e.typ == "freeze"
	case "link":
		if l.accounts[b.strs["a"]] == nil || l.accounts[b.strs["b"]] == nil {
			return errors.New("links an unknown account")
		}
	case "hold":
		return l.newHold(e)
	case "settle", "void":
		return l.closeHold(e)
	case "reversal":
		return l.reverse(e)
	}
	return nil
}

func (l *ledger) newHold(e *entry) error {
	b := e.body
	h := &hold{resident: e.actor, payee: b.strs["payee"], asset: b.asset, amount: b.amts["amount"],
		expires: e.time.Add(time.Duration(b.ints["ttl_seconds"]) * time.Second), status: "open"}
	if b.ints["ttl_seconds"] == 0 || b.ints["ttl_seconds"] > l.policy.holdMax {
		return fmt.Errorf("ttl_seconds %d is outside 1..%d", b.ints["ttl_seconds"], l.policy.holdMax)
	}
	a := l.accounts[h.resident]
	if a == nil || l.accounts[h.payee] == nil {
		return errors.New("a hold between unknown accounts")
	}
	if a.balance[h.asset]-l.held(a.id, h.asset, e.time) < h.amount {
		return fmt.Errorf("%s holds more %s than it has available", a.id, h.asset)
	}
	l.holds[e.seq] = h
	l.ctx.holdAssets[e.seq] = h.asset
	return nil
}

func (l *ledger) closeHold(e *entry) error {
	h := l.holds[e.body.ints["hold_id"]]
	if h == nil || h.status != "open" {
		return fmt.Errorf("hold %d is not an open hold", e.body.ints["hold_id"])
	}
	if !e.time.Before(h.expires) {
		return fmt.Errorf("%ss hold %d, expired at %s", e.typ, e.body.ints["hold_id"], h.expires.Format(timeLayout))
	}
	if e.typ == "void" {
		h.status = "voided"
		return nil
	}
	if e.body.amts["amount"] > h.amount {
		return fmt.Errorf("settles more than hold %d holds", e.body.ints["hold_id"])
	}
	h.status = "settled"
	return nil
}

func (l *ledger) reverse(e *entry) error {
	target := e.body.ints["seq"]
	if target == 0 || target >= e.seq {
		return fmt.Errorf("reverses entry %d, which is not an earlier entry", target)
	}
	orig := l.entries[target-1]
	if !reversible[orig.typ] || l.reversed[target] {
		return fmt.Errorf("reverses a %s (entry %d), not reversible or reversed already", orig.typ, target)
	}
	l.reversed[target] = true
	if orig.typ == "credit" {
		for _, p := range orig.postings {
			l.accounts[p.to].earned[p.asset] -= p.amount
		}
	}
	return nil
}

// expectedPostings is what SPEC §3's postings column makes of the entry's body.
func (l *ledger) expectedPostings(e *entry) ([]posting, error) {
	b := e.body
	move := func(from, to string) []posting {
		return []posting{{from, to, b.asset, b.amts["amount"]}}
	}
	switch e.typ {
	case "credit":
		return l.creditPostings(e)
	case "redemption":
		return move(e.actor, b.strs["payee"]), nil
	case "settle":
		h := l.holds[b.ints["hold_id"]]
		return move(h.resident, h.payee), nil
	case "transfer":
		return move(e.actor, b.strs["to"]), nil
	case "donation":
		return move(e.actor, b.strs["pool"]), nil
	case "grant":
		return move(b.strs["pool"], b.strs["to"]), nil
	case "conversion":
		pts, err := timesRate(b.amts["hours"], l.ctx.scales["HOURS"], l.policy.convertPPH, l.ctx.scales["POINTS"], false)
		if err != nil {
			return nil, err
		}
		return []posting{{e.actor, "issuer:HOURS", "HOURS", b.amts["hours"]},
			{"issuer:POINTS", e.actor, "POINTS", pts}}, nil
	case "reversal":
		var ps []posting
		for _, p := range l.entries[b.ints["seq"]-1].postings {
			ps = append(ps, posting{p.to, p.from, p.asset, p.amount})
		}
		return ps, nil
	}
	return nil, nil
}

func (l *ledger) creditPostings(e *entry) ([]posting, error) {
	b := e.body
	vol, hours := b.strs["volunteer"], b.amts["hours"]
	if kindOf(b.strs["station"]) != "station" || (kindOf(e.actor) == "station" && e.actor != b.strs["station"]) {
		return nil, fmt.Errorf("credit by %s names station %q", e.actor, b.strs["station"])
	}
	if !b.act.ended.After(b.act.started) || b.act.ended.Sub(b.act.started) < time.Duration(hours)*36*time.Second {
		return nil, errors.New("hours exceed the activity's duration") // 0.01 h = 36 s
	}
	rate := l.policy.pph
	if c, ok := l.policy.categories[b.act.category]; ok {
		rate = c
	}
	pts, err := timesRate(hours, l.ctx.scales["HOURS"], rate, l.ctx.scales["POINTS"], true)
	if err != nil {
		return nil, err
	}
	ps := []posting{{"issuer:HOURS", vol, "HOURS", hours}}
	if pts > 0 {
		ps = append(ps, posting{"issuer:POINTS", vol, "POINTS", pts})
	}
	for _, p := range ps {
		l.accounts[vol].earned[p.asset] += p.amount // a credit's postings are what it earns
	}
	return ps, nil
}

// timesRate is hours × rate in POINTS minor units, floored or required to be exact.
func timesRate(hours int64, hoursScale int, rate string, pointsScale int, floor bool) (int64, error) {
	r, ok := new(big.Rat).SetString(rate)
	if !ok || !rateRE.MatchString(rate) {
		return 0, fmt.Errorf("rate %q is not a decimal", rate)
	}
	x := new(big.Rat).SetFrac(big.NewInt(hours), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(hoursScale)), nil))
	x.Mul(x, r)
	x.Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(pointsScale)), nil)))
	q := new(big.Int).Quo(x.Num(), x.Denom()) // both positive: truncation is floor
	if !floor && !x.IsInt() {
		return 0, fmt.Errorf("a conversion of %d minor hours at %s is not whole", hours, rate)
	}
	return q.Int64(), nil
}

func equalPostings(a, b []posting) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

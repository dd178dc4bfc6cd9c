package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// smallAmount is an amount of asset a resident spends in one go.
func smallAmount(c *client, asset string) int64 {
	if asset == "HOURS" {
		return 5 + c.rng.Int64N(46) // 0.05 to 0.50 hours
	}
	return 1 + c.rng.Int64N(5)
}

var assets = []string{"HOURS", "POINTS"}

// payment is a write that moves amt of asset from the acting resident to the account named
// in field to: its want is that one posting.
func payment(c *client, typ, path, field, to, asset string, amt int64, extra map[string]any) *soakReq {
	body := map[string]any{field: to, "asset": asset, "amount": spell(c.rng, amt, asset)}
	for k, v := range extra {
		body[k] = v
	}
	r := jsonReq(typ, typ, http.MethodPost, path, body)
	r.want, r.wantSet = []wirePosting{{c.actor, to, asset, fmtAmt(amt, asset)}}, true
	return r
}

func (s *soak) residentActions() []action {
	payees := append(append([]string{}, s.stations...), s.outlets...)
	memo := func(c *client) map[string]any {
		if c.rng.IntN(2) == 0 {
			return map[string]any{"memo": pick(c.rng, memos)}
		}
		return nil
	}
	return []action{
		{"redeem", 12, false, func(c *client) *soakReq {
			asset := pick(c.rng, assets)
			r := payment(c, "redemption", "/v1/redemptions", "payee", pick(c.rng, payees), asset, smallAmount(c, asset), memo(c))
			return withExpect(r, s.risk(allow("201", "422 insufficient_balance"), c.actor))
		}},
		{"redeem refused", 2, false, func(c *client) *soakReq {
			if c.rng.IntN(2) == 0 {
				r := payment(c, "redemption", "/v1/redemptions", "payee", pick(c.rng, s.pools), "POINTS", 1, nil)
				r.variant = "to a pool"
				return withExpect(r, s.risk(allow("422 invalid_payee", "422 insufficient_balance"), c.actor))
			}
			r := payment(c, "redemption", "/v1/redemptions", "payee", pick(c.rng, payees), "POINTS", 999999, nil)
			r.variant = "more than any balance"
			return withExpect(r, s.risk(allow("422 insufficient_balance"), c.actor))
		}},
		{"hold", 10, false, s.hold},
		{"hold too much", 1, false, func(c *client) *soakReq {
			r := jsonReq("hold", "too much", http.MethodPost, "/v1/holds", map[string]any{"payee": pick(c.rng, payees), "asset": "HOURS", "amount": "1499"})
			return withExpect(r, s.risk(allow("422 insufficient_balance"), c.actor))
		}},
		{"void own hold", 3, false, func(c *client) *soakReq {
			h := s.pickHold(c, false, func(h *holdRef) bool { return h.resident == c.actor })
			if h == nil {
				return nil
			}
			r := jsonReq("void", "own hold", http.MethodPost, holdPath(h.id, "void"), map[string]any{})
			r.expect, r.wantSet = allow("201", "409 hold_not_open"), true
			r.after = func(*soakRes) { s.closeHold(h.id) }
			return r
		}},
		{"hold refused", 2, false, func(c *client) *soakReq {
			if c.rng.IntN(2) == 0 {
				h := s.pickHold(c, true, func(h *holdRef) bool { return h.resident == c.actor })
				if h == nil {
					return nil
				}
				r := jsonReq("settle", "own hold, not the payee", http.MethodPost, holdPath(h.id, "settle"), map[string]any{"amount": "1"})
				return withExpect(r, allow("403 forbidden"))
			}
			h := s.pickHold(c, true, func(h *holdRef) bool { return h.resident != c.actor })
			if h == nil {
				return nil
			}
			return withExpect(jsonReq("void", "another's hold", http.MethodPost, holdPath(h.id, "void"), map[string]any{}), allow("404 not_found"))
		}},
		{"transfer to family", 8, false, func(c *client) *soakReq {
			s.mu.Lock()
			fam := keys(s.family[c.actor])
			s.mu.Unlock()
			if len(fam) == 0 {
				return nil
			}
			to := pick(c.rng, fam)
			r := payment(c, "transfer", "/v1/transfers", "to", to, "HOURS", smallAmount(c, "HOURS"), memo(c))
			return withExpect(r, s.risk(allow("201", "422 insufficient_balance", "422 balance_cap_exceeded"), c.actor, to))
		}},
		{"transfer refused", 3, false, s.transferRefused},
		{"transfer points", 2, false, func(c *client) *soakReq {
			to := pick(c.rng, s.residents)
			if to == c.actor {
				return nil
			}
			r := payment(c, "transfer", "/v1/transfers", "to", to, "POINTS", smallAmount(c, "POINTS"), nil)
			r.variant = "points" // the admin switches policy.transfer.POINTS between none and any
			return withExpect(r, s.risk(allow("201", "422 transfer_not_allowed", "422 insufficient_balance"), c.actor, to))
		}},
		{"donate", 6, false, func(c *client) *soakReq {
			asset := pick(c.rng, assets)
			r := payment(c, "donation", "/v1/donations", "pool", pick(c.rng, s.pools), asset, smallAmount(c, asset), nil)
			r.expect = allow("201", "422 insufficient_balance")
			if asset == "HOURS" { // policyDoc caps a pool's hours
				r.expect = r.expect.with("422 balance_cap_exceeded")
			}
			return withExpect(r, s.risk(r.expect, c.actor))
		}},
		{"convert", 4, false, func(c *client) *soakReq {
			hours := pick(c.rng, []int64{30, 50, 100})
			r := jsonReq("conversion", "convert", http.MethodPost, "/v1/conversions", map[string]any{"hours": spell(c.rng, hours, "HOURS")})
			r.want, r.wantSet = []wirePosting{{c.actor, "issuer:HOURS", "HOURS", fmtAmt(hours, "HOURS")},
				{"issuer:POINTS", c.actor, "POINTS", fmtAmt(hours*10/100, "POINTS")}}, true // the one rate but 0 is 10
			return withExpect(r, s.risk(allow("201", "422 conversion_disabled", "422 insufficient_balance"), c.actor))
		}},
		{"convert inexact", 1, false, func(c *client) *soakReq {
			r := jsonReq("conversion", "inexact", http.MethodPost, "/v1/conversions", map[string]any{"hours": "0.05"})
			return withExpect(r, s.risk(allow("422 inexact_conversion", "422 conversion_disabled"), c.actor))
		}},
		{"write as another role", 2, false, s.residentForbidden},
		{"malformed", 4, false, func(c *client) *soakReq {
			return c.malformed(payment(c, "redemption", "/v1/redemptions", "payee", pick(c.rng, payees), "POINTS", 1, nil))
		}},
		{"read own account", 3, true, func(c *client) *soakReq {
			return &soakReq{typ: "read", variant: "own account", method: http.MethodGet, path: "/v1/accounts/" + url.PathEscape(c.actor), expect: allow("200")}
		}},
		{"read another account", 1, true, func(c *client) *soakReq {
			other := pick(c.rng, s.residents)
			if other == c.actor {
				return nil
			}
			return &soakReq{typ: "read", variant: "another account", method: http.MethodGet, path: "/v1/accounts/" + other, expect: allow("404 not_found")}
		}},
	}
}

// hold reserves a small amount for a payee, for the default time, a few seconds (to see
// holds expire) or a few minutes.
func (s *soak) hold(c *client) *soakReq {
	asset := pick(c.rng, assets)
	amt := smallAmount(c, asset)
	body := map[string]any{"payee": pick(c.rng, append(append([]string{}, s.stations...), s.outlets...)),
		"asset": asset, "amount": spell(c.rng, amt, asset)}
	switch c.rng.IntN(3) {
	case 0:
		body["ttl_seconds"] = 1 + c.rng.IntN(3)
	case 1:
		body["ttl_seconds"] = 60 + c.rng.IntN(600)
	}
	r := jsonReq("hold", "hold", http.MethodPost, "/v1/holds", body)
	r.expect, r.wantSet = s.risk(allow("201", "422 insufficient_balance"), c.actor), true
	r.after = func(res *soakRes) {
		if res.entry == nil {
			return
		}
		h := &holdRef{id: res.entry.Seq, resident: c.actor, payee: body["payee"].(string), asset: asset, amount: amt,
			ready: time.Now().Add(time.Duration(c.rng.IntN(2500)) * time.Millisecond)}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.allHolds = append(s.allHolds, h)
		if c.rng.IntN(5) > 0 { // the others stay open until they expire, and count in held
			s.open = append(s.open, h)
		}
	}
	return r
}

// transferRefused sends a transfer the rules refuse whatever the balances: hours to a
// resident who is not family (policy: family), or to oneself.
func (s *soak) transferRefused(c *client) *soakReq {
	if c.rng.IntN(3) == 0 {
		r := payment(c, "transfer", "/v1/transfers", "to", c.actor, "HOURS", 10, nil)
		r.variant = "to oneself"
		return withExpect(r, allow("400 invalid_field"))
	}
	var strangers []string
	for _, id := range s.residents { // links made while the soak runs involve residents stations opened
		if id != c.actor && !s.setupFamily[c.actor][id] {
			strangers = append(strangers, id)
		}
	}
	to := pick(c.rng, strangers)
	r := payment(c, "transfer", "/v1/transfers", "to", to, "HOURS", 10, nil)
	r.variant = "not family"
	return withExpect(r, s.risk(allow("422 transfer_not_allowed"), c.actor, to))
}

// residentForbidden sends a well-formed write that only another role may make: 403.
func (s *soak) residentForbidden(c *client) *soakReq {
	other := pick(c.rng, s.residents)
	start := time.Now().Add(-48 * time.Hour)
	var r *soakReq
	switch c.rng.IntN(7) {
	case 0:
		r = jsonReq("grant", "forbidden", http.MethodPost, "/v1/grants",
			map[string]any{"pool": "pool:public", "to": c.actor, "asset": "HOURS", "amount": "1", "memo": "for me"})
	case 1:
		r = linkReq(c.actor, "resident:someone-else", "other", "forbidden")
	case 2:
		r = jsonReq("freeze", "forbidden", http.MethodPost, "/v1/accounts/"+other+"/freeze", map[string]any{"reason": "spite"})
	case 3:
		r = policyReq(policyDoc("1000", "any", 7))
	case 4:
		r = creditReq(pick(c.rng, s.stations), c.actor, 100, "cleaning", start, start.Add(time.Hour), "forbidden")
	case 5:
		r = openReq("resident:sneaky", "forbidden")
	default:
		r = jsonReq("reversal", "forbidden", http.MethodPost, "/v1/reversals", map[string]any{"seq": 2, "reason": "mine"})
	}
	r.variant = "forbidden"
	return withExpect(r, allow("403 forbidden"))
}

// withField returns r with field set in its body.
func withField(r *soakReq, field string, v any) *soakReq {
	m := map[string]any{}
	json.Unmarshal(r.body, &m)
	m[field] = v
	r.body = mustJSON(m)
	return r
}

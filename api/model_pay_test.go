package api_test

import (
	"slices"
	"strconv"
	"time"

	"pgregory.net/rapid"
)

// The paying writes of the model test: redemptions, holds and their settles and voids,
// transfers, donations, grants, conversions, reversals.

// drawPayer is a resident principal, sometimes another role (403).
func (h *harness) drawPayer() string {
	return rapid.SampledFrom(append(slices.Clone(residentWho), "resident", "station", "outlet")).Draw(h.t, "who")
}

// drawTarget is one of ids, or the payer's own account (an account paying itself).
func (h *harness) drawTarget(who string, ids []string) string {
	if accountOf(who) != "" && rapid.IntRange(0, 15).Draw(h.t, "self") == 0 {
		return accountOf(who)
	}
	return rapid.SampledFrom(ids).Draw(h.t, "target")
}

// pay is the common part of the resident-to-someone rows: role, an account paying itself
// (400), referenced accounts, then rules (each "" or a code: funds, the receiver's cap).
func (m *model) pay(who, to, asset string, amount int64, now time.Time, rules ...func() string) outcome {
	from := accountOf(who)
	if roleOf(who) != "resident" {
		return refuse("forbidden")
	}
	if from == to { // known only from the token: the ledger's check, after the role and the key
		return refuseLate("invalid_field")
	}
	ps := []mPosting{{from, to, asset, amount}}
	if code := first(m.known(to), m.active(from, to)); code != "" {
		return refuse(code)
	}
	for _, rule := range rules {
		if code := rule(); code != "" {
			return refuse(code)
		}
	}
	return accept(ps, nil)
}

func (h *harness) drawRedemption() call {
	who := h.drawPayer()
	payee := h.drawTarget(who, payees)
	asset := rapid.SampledFrom(assets).Draw(h.t, "asset")
	n := h.drawAmount(asset)
	body := map[string]any{"payee": payee, "asset": asset, "amount": fmtMinor(n, scaleOf(asset)), "memo": "tea"}
	return call{who, "POST", "/v1/redemptions", "redemption", body, func(now time.Time) outcome {
		return h.m.pay(who, payee, asset, n, now,
			func() string { return h.m.funds([]mPosting{{accountOf(who), payee, asset, n}}, now, 0) },
			func() string { return payeeKind(payee) },
			func() string { return h.m.caps([]mPosting{{accountOf(who), payee, asset, n}}) })
	}}
}

func payeeKind(id string) string {
	if k := kindOf(id); k != "station" && k != "outlet" {
		return "invalid_payee"
	}
	return ""
}

func (h *harness) drawHold() call {
	who := h.drawPayer()
	payee := h.drawTarget(who, payees)
	asset := rapid.SampledFrom(assets).Draw(h.t, "asset")
	n := h.drawAmount(asset)
	body := map[string]any{"payee": payee, "asset": asset, "amount": fmtMinor(n, scaleOf(asset))}
	const absent = -2 // no ttl_seconds in the body
	ttl := rapid.SampledFrom([]int64{absent, -1, 0, 60, 600, 600, 3600, 86400, 86401}).Draw(h.t, "ttl")
	if ttl != absent {
		body["ttl_seconds"] = ttl
	}
	return call{who, "POST", "/v1/holds", "hold", body, func(now time.Time) outcome {
		switch {
		case ttl == -1:
			return refuse("invalid_field") // decision 0003
		case roleOf(who) != "resident":
			return refuse("forbidden")
		case ttl > h.m.pol.MaxTTL: // the policy's limit: judged after the key (a replay is no new hold)
			return refuseLate("invalid_field")
		}
		o := h.m.pay(who, payee, asset, n, now, // no cap: a hold pays nothing (its settle does)
			func() string { return h.m.funds([]mPosting{{accountOf(who), payee, asset, n}}, now, 0) },
			func() string { return payeeKind(payee) })
		if o.code != "" {
			return o
		}
		if ttl <= 0 {
			ttl = h.m.pol.DefaultTTL
		}
		return accept(nil, func(seq uint64, e *mEntry) {
			h.m.holds[seq] = &mHold{resident: accountOf(who), payee: payee, asset: asset, amount: n,
				expires: now.Add(time.Duration(ttl) * time.Second), status: "open"}
			e.parties = []string{payee}
		})
	}}
}

// drawHoldID is a hold of the run, or an id no hold has.
func (h *harness) drawHoldID() uint64 {
	ids := []uint64{999999}
	for id := range h.m.holds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return rapid.SampledFrom(ids).Draw(h.t, "hold")
}

func (h *harness) drawSettle() call {
	id := h.drawHoldID()
	who := rapid.SampledFrom([]string{"station", "station2", "outlet", "resident", "auditor"}).Draw(h.t, "who")
	if hd := h.m.holds[id]; hd != nil && principalOf(hd.payee) != "" && rapid.IntRange(0, 2).Draw(h.t, "by_payee") > 0 {
		who = principalOf(hd.payee)
	}
	asset, max := "POINTS", int64(1)
	if hd := h.m.holds[id]; hd != nil {
		asset, max = hd.asset, hd.amount
	}
	n := rapid.Int64Range(1, max+1).Draw(h.t, "amount")
	path := "/v1/holds/" + strconv.FormatUint(id, 10) + "/settle"
	return call{who, "POST", path, "settle", map[string]any{"amount": fmtMinor(n, scaleOf(asset))}, func(now time.Time) outcome {
		return h.m.settle(who, id, n, now)
	}}
}

// settle is SPEC §3's settle row.
func (m *model) settle(who string, id uint64, n int64, now time.Time) outcome {
	// SPEC's role for a settle is relative to the hold ("the hold's payee"), so it can be
	// judged only once the hold is found and visible: a hold the principal may not see is
	// 404 as if it did not exist, one it sees but is not the payee of is 403. An auditor
	// writes nothing.
	if roleOf(who) == "auditor" {
		return refuse("forbidden")
	}
	hd := m.holds[id]
	if hd == nil || who != "admin" && accountOf(who) != hd.resident && accountOf(who) != hd.payee {
		return refuse("not_found")
	}
	if hd.payee != accountOf(who) {
		return refuseLate("forbidden")
	}
	ps := []mPosting{{hd.resident, hd.payee, hd.asset, n}}
	code := m.active(hd.resident, hd.payee)
	switch {
	case code != "":
		return refuse(code)
	case hd.status != "open":
		return refuse("hold_not_open")
	case !now.Before(hd.expires):
		return refuse("hold_expired")
	case n > hd.amount:
		return refuse("settle_exceeds_hold")
	}
	if code := first(m.funds(ps, now, hd.amount), m.caps(ps)); code != "" {
		return refuse(code)
	}
	return accept(ps, func(_ uint64, e *mEntry) { hd.status = "settled" })
}

func (h *harness) drawVoid() call {
	who := rapid.SampledFrom([]string{"admin", "resident", "resident2", "station", "station2", "outlet", "auditor"}).Draw(h.t, "who")
	id := h.drawHoldID()
	path := "/v1/holds/" + strconv.FormatUint(id, 10) + "/void"
	return call{who, "POST", path, "void", map[string]any{}, func(now time.Time) outcome {
		if roleOf(who) == "auditor" {
			return refuse("forbidden")
		}
		hd := h.m.holds[id]
		if hd == nil || who != "admin" && accountOf(who) != hd.resident && accountOf(who) != hd.payee {
			return refuse("not_found")
		}
		if hd.statusAt(now) != "open" {
			return refuse("hold_not_open")
		}
		return accept(nil, func(_ uint64, e *mEntry) { hd.status = "voided"; e.parties = []string{hd.resident, hd.payee} })
	}}
}

func (h *harness) drawTransfer() call {
	who := h.drawPayer()
	to := h.drawTarget(who, append(slices.Clone(residentIDs), "pool:public", "resident:r01", "resident:r02"))
	asset := rapid.SampledFrom(assets).Draw(h.t, "asset")
	n := h.drawAmount(asset)
	body := map[string]any{"to": to, "asset": asset, "amount": fmtMinor(n, scaleOf(asset))}
	return call{who, "POST", "/v1/transfers", "transfer", body, func(now time.Time) outcome {
		if kindOf(to) != "resident" {
			return refuse("invalid_field") // decision 0003: transfer targets are residents
		}
		from := accountOf(who)
		return h.m.pay(who, to, asset, n, now, func() string {
			switch mode := h.m.pol.Transfer[asset]; {
			case mode == "none", mode == "family" && !h.m.linked(from, to):
				return "transfer_not_allowed"
			}
			return ""
		}, func() string { return h.m.funds([]mPosting{{from, to, asset, n}}, now, 0) },
			func() string { return h.m.caps([]mPosting{{from, to, asset, n}}) })
	}}
}

func (h *harness) drawDonation() call {
	who := h.drawPayer()
	pool := rapid.SampledFrom([]string{"pool:public", "pool:public", "pool:p2", "outlet:o01"}).Draw(h.t, "pool")
	asset := rapid.SampledFrom(assets).Draw(h.t, "asset")
	n := h.drawAmount(asset)
	body := map[string]any{"pool": pool, "asset": asset, "amount": fmtMinor(n, scaleOf(asset))}
	return call{who, "POST", "/v1/donations", "donation", body, func(now time.Time) outcome {
		if kindOf(pool) != "pool" {
			return refuse("invalid_field") // decision 0003: donation targets are pools
		}
		return h.m.pay(who, pool, asset, n, now,
			func() string { return h.m.funds([]mPosting{{accountOf(who), pool, asset, n}}, now, 0) },
			func() string { return h.m.caps([]mPosting{{accountOf(who), pool, asset, n}}) })
	}}
}

func (h *harness) drawGrant() call {
	who := rapid.SampledFrom([]string{"admin", "admin", "admin", "station"}).Draw(h.t, "who")
	pool := rapid.SampledFrom([]string{"pool:public", "pool:public", "pool:p2", "resident:r02"}).Draw(h.t, "pool")
	to := rapid.SampledFrom([]string{"resident:r01", "resident:r02", "resident:r03", "resident:ghost"}).Draw(h.t, "to")
	asset := rapid.SampledFrom(assets).Draw(h.t, "asset")
	n := h.drawAmount(asset)
	memo := rapid.SampledFrom([]string{"winter relief", "winter relief", ""}).Draw(h.t, "memo")
	body := map[string]any{"pool": pool, "to": to, "asset": asset, "amount": fmtMinor(n, scaleOf(asset)), "memo": memo}
	return call{who, "POST", "/v1/grants", "grant", body, func(now time.Time) outcome {
		ps := []mPosting{{pool, to, asset, n}}
		code := ""
		switch {
		case pool == to || memo == "" || kindOf(pool) != "pool":
			code = "invalid_field" // decision 0003: the memo is required, sources are pools
		case roleOf(who) != "admin":
			code = "forbidden"
		default:
			code = first(h.m.known(pool, to), h.m.active(pool, to), h.m.funds(ps, now, 0), h.m.caps(ps))
		}
		if code != "" {
			return refuse(code)
		}
		return accept(ps, nil)
	}}
}

func (h *harness) drawConversion() call {
	who := h.drawPayer()
	n := rapid.Int64Range(1, 40).Draw(h.t, "tenths") * 10 // whole at the default rate
	if rapid.IntRange(0, 4).Draw(h.t, "odd") == 0 {
		n = rapid.Int64Range(1, 400).Draw(h.t, "hours_minor")
	}
	hours := fmtMinor(n, 2)
	if rapid.IntRange(0, 15).Draw(h.t, "too_fine") == 0 {
		hours += "5" // three decimals: more than HOURS' scale
	}
	return call{who, "POST", "/v1/conversions", "conversion", map[string]any{"hours": hours}, func(now time.Time) outcome {
		res, rate := accountOf(who), h.m.pol.convertRate()
		ps := []mPosting{{res, "issuer:HOURS", "HOURS", n}, {"issuer:POINTS", res, "POINTS", n * rate / 10000}}
		code := ""
		switch {
		case len(hours) > len(fmtMinor(n, 2)):
			code = "invalid_amount"
		case roleOf(who) != "resident":
			code = "forbidden"
		case h.m.active(res) != "":
			code = "account_frozen"
		case rate == 0:
			code = "conversion_disabled"
		case n*rate%10000 != 0:
			code = "inexact_conversion"
		default:
			code = first(h.m.funds(ps, now, 0), h.m.caps(ps))
		}
		if code != "" {
			return refuse(code)
		}
		return accept(ps, nil)
	}}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// admin is the second admin token's client: it freezes, links, grants, credits in its own
// slots, reverses what no station reverses, changes the policy and cycles tokens.
type admin struct {
	s        *soak
	slots    *slots
	reversed map[uint64]bool
	again    []uint64 // entries it reversed
	made     int
}

// reversalReq reverses entry seq: want is the original's postings mirrored.
func (s *soak) reversalReq(seq uint64, variant string) *soakReq {
	r := jsonReq("reversal", variant, http.MethodPost, "/v1/reversals", map[string]any{"seq": seq, "reason": "entered by mistake"})
	s.mu.Lock()
	orig := s.bySeq[seq]
	s.mu.Unlock()
	if orig != nil {
		r.wantSet = true
		for _, p := range orig.entry.Postings {
			r.want = append(r.want, wirePosting{p.To, p.From, p.Asset, p.Amount})
		}
	}
	return r
}

// accountsOf returns the accounts of entry seq's postings.
func (s *soak) accountsOf(seq uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, p := range s.bySeq[seq].entry.Postings {
		ids = append(ids, p.From, p.To)
	}
	return ids
}

func (ad *admin) actions() []action {
	s := ad.s
	prone := keys(s.prone)
	return []action{
		{"freeze", 4, false, func(c *client) *soakReq {
			typ := pick(c.rng, []string{"freeze", "unfreeze"})
			id := pick(c.rng, prone)
			if c.rng.IntN(2) == 0 {
				id = strings.Replace(id, ":", "%3A", 1) // a client may escape the colon
			}
			r := jsonReq(typ, typ, http.MethodPost, "/v1/accounts/"+id+"/"+typ, map[string]any{"reason": "checking the records"})
			r.expect, r.wantSet = allow("201"), true
			return r
		}},
		{"freeze unknown", 1, false, func(c *client) *soakReq {
			typ := pick(c.rng, []string{"freeze", "unfreeze"})
			r := jsonReq(typ, "unknown", http.MethodPost, "/v1/accounts/resident:ghost/"+typ, map[string]any{"reason": "x"})
			return withExpect(r, allow("422 unknown_account"))
		}},
		{"link", 2, false, func(c *client) *soakReq {
			s.mu.Lock()
			opened, vols := s.opened, s.volunteers
			s.mu.Unlock()
			if len(opened) == 0 {
				return nil
			}
			a, b := pick(c.rng, opened), pick(c.rng, vols)
			if a == b {
				return nil
			}
			r := linkReq(a, b, pick(c.rng, []string{"spouse", "parent", "child", "sibling", "grandparent", "grandchild", "other"}), "link")
			r.expect, r.wantSet = allow("201"), true
			r.after = func(res *soakRes) {
				if res.entry != nil {
					s.addFamily(a, b)
				}
			}
			return r
		}},
		{"link refused", 1, false, func(c *client) *soakReq {
			a := pick(c.rng, s.residents)
			if c.rng.IntN(2) == 0 {
				return withExpect(linkReq(a, a, "other", "to itself"), allow("400 invalid_field"))
			}
			return withExpect(linkReq(a, "resident:ghost", "other", "unknown"), allow("422 unknown_account"))
		}},
		{"grant", 6, false, func(c *client) *soakReq {
			s.mu.Lock()
			to := pick(c.rng, s.volunteers)
			s.mu.Unlock()
			asset := pick(c.rng, assets)
			r := payment(c, "grant", "/v1/grants", "to", to, asset, smallAmount(c, asset), map[string]any{"pool": pick(c.rng, s.pools), "memo": "community fund"})
			r.want[0].From = pickString(r.body, "pool") // a grant pays from the pool, not the admin
			return withExpect(r, s.risk(allow("201", "422 insufficient_balance"), to))
		}},
		{"credit", 5, false, ad.credit},
		{"credit without a station", 1, false, func(c *client) *soakReq {
			start := time.Now().Add(-48 * time.Hour)
			return withExpect(creditReq("", pick(c.rng, s.residents), 50, "cleaning", start, start.Add(time.Hour), "no station"), allow("400 invalid_field"))
		}},
		{"reverse", 6, false, ad.reverse},
		{"reverse refused", 3, false, ad.reverseRefused},
		{"policy", 2, false, func(c *client) *soakReq {
			r := policyReq(policyDoc(pick(c.rng, []string{"10", "0"}), pick(c.rng, []string{"none", "any"}), pick(c.rng, []int{7, 7, 0})))
			r.expect, r.wantSet = allow("201"), true
			return r
		}},
		{"policy refused", 1, false, func(c *client) *soakReq {
			doc := policyDoc("10", "none", 7)
			doc["assets"].(map[string]any)["HOURS"] = map[string]any{"scale": 3} // scales are fixed at genesis
			r := policyReq(doc)
			r.variant = "scale changed"
			return withExpect(r, allow("400 invalid_policy"))
		}},
		{"open", 3, false, func(c *client) *soakReq {
			ad.made++
			switch c.rng.IntN(4) {
			case 0:
				return withExpect(openReq("issuer:HOURS", "issuer"), allow("400 invalid_account"))
			case 1:
				return withExpect(openReq(pick(c.rng, s.stations), "exists"), allow("409 account_exists"))
			}
			r := openReq(fmt.Sprintf("%s:soak-%d", pick(c.rng, []string{"outlet", "pool", "station"}), ad.made), "admin opens")
			r.expect, r.wantSet = allow("201"), true
			return r
		}},
		{"tokens", 1, true, ad.tokens},
		{"malformed", 3, false, func(c *client) *soakReq {
			return c.malformed(jsonReq("grant", "", http.MethodPost, "/v1/grants",
				map[string]any{"pool": "pool:public", "to": pick(c.rng, s.residents), "asset": "POINTS", "amount": "1", "memo": "m"}))
		}},
	}
}

// credit credits a free slot of the admin's, naming a station.
func (ad *admin) credit(c *client) *soakReq {
	s := ad.s
	s.mu.Lock()
	vol := pick(c.rng, s.volunteers)
	s.mu.Unlock()
	slot, ok := ad.slots.take(c.rng, vol)
	if !ok {
		return nil
	}
	start, end := ad.slots.interval(slot)
	station := pick(c.rng, s.stations)
	r := creditReq(station, vol, 25*(1+c.rng.Int64N(3)), pick(c.rng, categories), start, end, "admin credit")
	r.expect = s.risk(allow("201"), vol)
	r.after = func(res *soakRes) {
		if res.entry == nil {
			ad.slots.release(vol, slot)
			return
		}
		s.mu.Lock()
		s.credits[station] = append(s.credits[station], res.entry.Seq)
		s.mu.Unlock()
	}
	return r
}

// reverse reverses an entry no station reverses and the admin has not yet.
func (ad *admin) reverse(c *client) *soakReq {
	s := ad.s
	s.mu.Lock()
	var seq uint64
	for range 5 {
		if len(s.reversible) == 0 {
			break
		}
		if x := pick(c.rng, s.reversible); !ad.reversed[x] {
			seq = x
			break
		}
	}
	s.mu.Unlock()
	if seq == 0 {
		return nil
	}
	r := s.reversalReq(seq, "reverse")
	r.expect = s.risk(allow("201", "422 insufficient_balance"), s.accountsOf(seq)...)
	r.after = func(res *soakRes) {
		if res.entry != nil {
			ad.reversed[seq] = true
			ad.again = append(ad.again, seq)
		}
	}
	return r
}

// reverseRefused reverses what cannot be: twice, an entry of a type that is not reversible,
// an entry that does not exist.
func (ad *admin) reverseRefused(c *client) *soakReq {
	s := ad.s
	switch c.rng.IntN(3) {
	case 0:
		if len(ad.again) == 0 {
			return nil
		}
		seq := pick(c.rng, ad.again)
		r := s.reversalReq(seq, "again")
		return withExpect(r, s.risk(allow("409 already_reversed"), s.accountsOf(seq)...))
	case 1:
		s.mu.Lock()
		seq := uint64(1) // genesis
		if len(s.inert) > 0 && c.rng.IntN(4) > 0 {
			seq = pick(c.rng, s.inert)
		}
		s.mu.Unlock()
		return withExpect(s.reversalReq(seq, "not reversible"), allow("422 not_reversible"))
	}
	return withExpect(s.reversalReq(1<<40, "no such entry"), allow("404 not_found"))
}

// tokens creates a resident's token, reads with it, revokes it and sees it refused; and
// asks for a token of an account that does not exist.
func (ad *admin) tokens(c *client) *soakReq {
	s := ad.s
	owner := pick(c.rng, s.residents)
	if c.rng.IntN(3) == 0 {
		return &soakReq{typ: "token", variant: "unknown account", method: http.MethodPost, path: "/v1/tokens", ctype: "application/json",
			body: mustJSON(map[string]any{"role": "resident", "account": "resident:ghost"}), expect: allow("422 unknown_account")}
	}
	res := c.send(&soakReq{typ: "token", variant: "create", method: http.MethodPost, path: "/v1/tokens", ctype: "application/json",
		body: mustJSON(map[string]any{"role": "resident", "account": owner, "label": "kiosk"}), expect: allow("201")})
	var tok struct{ ID, Token string }
	if res.status != 201 || json.Unmarshal(res.answer, &tok) != nil {
		return nil
	}
	read := &soakReq{typ: "read", variant: "with a new token", method: http.MethodGet, path: "/v1/accounts/" + owner, token: tok.Token, expect: allow("200")}
	c.send(read)
	c.send(&soakReq{typ: "token", variant: "revoke", method: http.MethodDelete, path: "/v1/tokens/" + tok.ID, expect: allow("204")})
	read.variant, read.expect = "with a revoked token", allow("401 unauthenticated")
	c.send(read)
	return nil
}

// pickString returns the string field of JSON object b.
func pickString(b []byte, field string) string {
	var m map[string]any
	json.Unmarshal(b, &m)
	s, _ := m[field].(string)
	return s
}

// auditor reads: it checks, while the clients write, that what was acknowledged is
// durable and visible, and that the log only grows.
type auditor struct {
	s        *soak
	exported [][]byte // the export's lines so far, fetched a piece at a time
}

func (au *auditor) actions() []action {
	s := au.s
	return []action{
		{"write", 1, false, func(c *client) *soakReq {
			r := payment(c, "redemption", "/v1/redemptions", "payee", pick(c.rng, s.outlets), "POINTS", 1, nil)
			r.variant = "auditor writes"
			return withExpect(r, allow("403 forbidden"))
		}},
		{"acknowledged is durable", 5, true, au.durable},
		{"export grows", 3, true, au.exportTail},
		{"read", 2, true, func(c *client) *soakReq {
			s.mu.Lock()
			id := pick(c.rng, s.volunteers)
			s.mu.Unlock()
			return &soakReq{typ: "read", variant: "any account", method: http.MethodGet, path: "/v1/accounts/" + id, expect: allow("200")}
		}},
	}
}

// durable checks SPEC §5: an entry is acknowledged only once committed, and the checkpoint
// covers every entry acknowledged before it was asked for. The last acknowledged entry
// must be in the checkpoint and read back as answered.
func (au *auditor) durable(c *client) *soakReq {
	s := au.s
	seq := s.maxAcked.Load()
	s.mu.Lock()
	a := s.bySeq[seq]
	s.mu.Unlock()
	ck := c.send(&soakReq{typ: "read", variant: "checkpoint", method: http.MethodGet, path: "/v1/checkpoint", expect: allow("200")})
	lines := strings.Split(string(ck.answer), "\n")
	if size, err := strconv.ParseUint(lines[min(1, len(lines)-1)], 10, 64); err != nil || size < seq {
		s.failf("a checkpoint asked for after entry %d was acknowledged covers %d entries (%v):\n%s", seq, size, err, ck.answer)
	}
	if a == nil {
		return nil
	}
	e := c.send(&soakReq{typ: "read", variant: "acknowledged entry", method: http.MethodGet, path: fmt.Sprintf("/v1/entries/%d", seq), expect: allow("200")})
	if e.status == 200 && !bytes.Equal(e.answer, a.answer) {
		s.failf("entry %d reads\n%s\nbut was acknowledged as\n%s", seq, e.answer, a.answer)
	}
	return nil
}

// exportTail reads the export after the lines it has: they follow on, gapless.
func (au *auditor) exportTail(c *client) *soakReq {
	s := au.s
	n := len(au.exported)
	res := c.send(&soakReq{typ: "read", variant: "export", method: http.MethodGet, path: fmt.Sprintf("/v1/export?after_seq=%d", n), expect: allow("200")})
	if res.status != 200 {
		return nil
	}
	for i, line := range bytes.SplitAfter(res.answer, []byte("\n")) {
		if len(line) == 0 {
			break
		}
		e, err := decodeEntry(bytes.TrimSuffix(line, []byte("\n")))
		if err != nil || e.Seq != uint64(n+i+1) || line[len(line)-1] != '\n' {
			s.failf("export after entry %d: line %d is not entry %d (%v): %s", n, i+1, n+i+1, err, clip(line))
			return nil
		}
		au.exported = append(au.exported, bytes.TrimSuffix(line, []byte("\n")))
	}
	return nil
}

package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// action is one thing a client may do; make returns nil when there is nothing to do it on
// yet (or when it did its requests itself).
type action struct {
	name   string
	weight int
	read   bool // sent once, never replayed or duplicated
	make   func(c *client) *soakReq
}

// run is a client's loop: every action once, in order (so that a short soak tries them all),
// then actions at random by weight, each by one of cs, until the soak stops.
func (s *soak) run(cs []*client, actions []action) func() {
	return func() {
		rng, total := cs[0].rng, 0
		for _, a := range actions {
			total += a.weight
		}
		for i := 0; !s.stop.Load() && s.failures.Load() == 0; i++ {
			a := actions[i%len(actions)]
			if i >= len(actions) {
				n := rng.IntN(total)
				for _, a = range actions {
					if n -= a.weight; n < 0 {
						break
					}
				}
			}
			c := pick(rng, cs)
			r := a.make(c)
			switch {
			case r == nil:
				time.Sleep(time.Millisecond)
			case a.read:
				res := c.send(r)
				if r.after != nil {
					r.after(res)
				}
			default:
				c.write(r)
			}
		}
	}
}

// workers makes the clients' runs: one per station and outlet, three for the residents
// (four each, one of them prone to freezing), the second admin and the auditor.
func (s *soak) workers(admin2ID string, adminSlots *slots, auditorID string) []func() {
	var runs []func()
	stream := uint64(1)
	next := func(name, token, actor string) *client {
		stream++
		return s.newClient(name, token, actor, stream)
	}
	for i, id := range s.stations {
		st := &station{s: s, id: id, slots: newSlots(8+4*i, s.now0)}
		runs = append(runs, s.run([]*client{next(fmt.Sprintf("s%d", i+1), s.tokens[id], id)}, st.actions()))
	}
	for i, id := range s.outlets {
		runs = append(runs, s.run([]*client{next(fmt.Sprintf("o%d", i+1), s.tokens[id], id)}, s.outletActions()))
	}
	for g := range 3 {
		var cs []*client
		for _, id := range s.residents[4*g : 4*g+4] {
			cs = append(cs, next(id[len("resident:"):], s.tokens[id], id))
		}
		runs = append(runs, s.run(cs, s.residentActions()))
	}
	ad := &admin{s: s, slots: adminSlots, reversed: map[uint64]bool{}}
	runs = append(runs, s.run([]*client{next("a", s.tokens["admin2"], "admin:"+admin2ID)}, ad.actions()))
	au := &auditor{s: s}
	s.au = au
	runs = append(runs, s.run([]*client{next("au", s.tokens["auditor"], "auditor:"+auditorID)}, au.actions()))
	return runs
}

// risk adds account_frozen to o when one of ids is an account the admin freezes.
func (s *soak) risk(o outcomes, ids ...string) outcomes {
	for _, id := range ids {
		if s.prone[id] {
			return o.with("422 account_frozen")
		}
	}
	return o
}

// holdRef is an acknowledged hold.
type holdRef struct {
	id                     uint64
	resident, payee, asset string
	amount                 int64
	ready                  time.Time // its payee leaves it alone until then: short holds expire meanwhile
}

// pickHold returns a random hold that ok accepts, of the open ones that are ready or of all.
func (s *soak) pickHold(c *client, all bool, ok func(h *holdRef) bool) *holdRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.open
	if all {
		hs = s.allHolds
	}
	if len(hs) == 0 {
		return nil
	}
	start, now := c.rng.IntN(len(hs)), time.Now()
	for i := range hs {
		if h := hs[(start+i)%len(hs)]; ok(h) && (all || now.After(h.ready)) {
			return h
		}
	}
	return nil
}

// closeHold forgets hold id as open: settled, voided, expired, or found not open.
func (s *soak) closeHold(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.open {
		if h.id == id {
			s.open = append(s.open[:i], s.open[i+1:]...)
			return
		}
	}
}

func holdPath(id uint64, action string) string {
	return "/v1/holds/" + strconv.FormatUint(id, 10) + "/" + action
}

// payeeActions are what a payee (station or outlet) does with the holds made to it; more
// are a station's own.
func (s *soak) payeeActions(onSettle func(e *wireEntry)) []action {
	mine := func(c *client) func(h *holdRef) bool { return func(h *holdRef) bool { return h.payee == c.actor } }
	return []action{
		{"settle", 14, false, func(c *client) *soakReq {
			h := s.pickHold(c, false, mine(c))
			if h == nil {
				return nil
			}
			amt := 1 + c.rng.Int64N(h.amount)
			r := jsonReq("settle", "settle", http.MethodPost, holdPath(h.id, "settle"), map[string]any{"amount": spell(c.rng, amt, h.asset)})
			r.expect = s.risk(allow("201", "409 hold_not_open", "422 hold_expired"), h.resident)
			r.want, r.wantSet = []wirePosting{{h.resident, c.actor, h.asset, fmtAmt(amt, h.asset)}}, true
			r.after = func(res *soakRes) {
				if res.outcome != "422 account_frozen" {
					s.closeHold(h.id)
				}
				if res.entry != nil && onSettle != nil {
					onSettle(res.entry)
				}
			}
			return r
		}},
		{"void", 4, false, func(c *client) *soakReq {
			h := s.pickHold(c, false, mine(c))
			if h == nil {
				return nil
			}
			r := jsonReq("void", "void", http.MethodPost, holdPath(h.id, "void"), map[string]any{})
			r.expect, r.wantSet = allow("201", "409 hold_not_open"), true
			r.after = func(*soakRes) { s.closeHold(h.id) }
			return r
		}},
		{"settle beyond the hold", 2, false, func(c *client) *soakReq {
			h := s.pickHold(c, false, mine(c))
			if h == nil {
				return nil
			}
			r := jsonReq("settle", "beyond the hold", http.MethodPost, holdPath(h.id, "settle"),
				map[string]any{"amount": fmtAmt(h.amount+1, h.asset)})
			r.expect = s.risk(allow("422 settle_exceeds_hold", "409 hold_not_open", "422 hold_expired"), h.resident)
			return r
		}},
		{"settle another's hold", 1, false, func(c *client) *soakReq {
			h := s.pickHold(c, true, func(h *holdRef) bool { return h.payee != c.actor })
			if h == nil {
				return nil
			}
			r := jsonReq("settle", "not visible", http.MethodPost, holdPath(h.id, "settle"), map[string]any{"amount": "1"})
			r.expect = allow("404 not_found")
			return r
		}},
		{"malformed settle", 3, false, func(c *client) *soakReq {
			h := s.pickHold(c, true, mine(c))
			if h == nil {
				return nil
			}
			return c.malformed(jsonReq("settle", "", http.MethodPost, holdPath(h.id, "settle"), map[string]any{"amount": "1"}))
		}},
		{"read own account", 2, true, func(c *client) *soakReq {
			return &soakReq{typ: "read", variant: "own account", method: http.MethodGet, path: "/v1/accounts/" + c.actor, expect: allow("200")}
		}},
		{"read another account", 1, true, func(c *client) *soakReq {
			return &soakReq{typ: "read", variant: "another account", method: http.MethodGet,
				path: "/v1/accounts/" + url.PathEscape(pick(c.rng, s.residents)), expect: allow("404 not_found")}
		}},
	}
}

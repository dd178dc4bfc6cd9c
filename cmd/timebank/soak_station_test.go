package main

import (
	"fmt"
	"slices"
	"time"
)

// station is a station client's own state: its slots of the volunteers' time, its credits.
// Only it reverses its credits, and only it credits in its slots, so it knows which of
// them are taken: a credit it sends on a free slot must be accepted, one on a taken slot
// must overlap.
type station struct {
	s       *soak
	id      string
	slots   *slots
	credits []*creditRef // acknowledged
	freed   []*creditRef // reversed, their slots not yet credited again
	settles []uint64     // settles made to it
	opened  int
}

type creditRef struct {
	seq      uint64
	vol      string
	slot     int
	reversed bool
}

// categories of the credits; elderly-care earns 15 points an hour, the others 10.
var categories = []string{"elderly-care", "cleaning", "tutoring"}

// credit is a credit of hours on slot of vol, with the postings it must make.
func (st *station) credit(c *client, vol string, slot int, hours int64, variant string) *soakReq {
	start, end := st.slots.interval(slot)
	return creditReq("", vol, hours, pick(c.rng, categories), start, end, variant)
}

// ownCredit returns one of its credits, reversed or not as reversed says.
func (st *station) ownCredit(c *client, reversed bool) *creditRef {
	if len(st.credits) == 0 {
		return nil
	}
	start := c.rng.IntN(len(st.credits))
	for i := range st.credits {
		if cr := st.credits[(start+i)%len(st.credits)]; cr.reversed == reversed {
			return cr
		}
	}
	return nil
}

func (st *station) actions() []action {
	s := st.s
	as := []action{
		{"credit", 35, false, st.creditFree},
		{"credit on a taken slot", 2, false, func(c *client) *soakReq {
			cr := st.ownCredit(c, false)
			if cr == nil {
				return nil
			}
			r := st.credit(c, cr.vol, cr.slot, 25, "overlapping")
			r.expect = s.risk(allow("422 overlapping_session"), cr.vol)
			return r
		}},
		{"credit past the daily cap", 1, false, func(c *client) *soakReq {
			cr := st.ownCredit(c, false)
			if cr == nil {
				return nil
			}
			day := st.slots.dayOf(cr.slot)
			r := creditReq("", cr.vol, 1200, "cleaning", day, day.Add(12*time.Hour), "daily cap")
			r.expect = s.risk(allow("422 daily_cap_exceeded"), cr.vol)
			return r
		}},
		{"credit a slot a reversal freed", 4, false, func(c *client) *soakReq {
			if len(st.freed) == 0 {
				return nil
			}
			cr := st.freed[0]
			st.freed = st.freed[1:]
			r := st.credit(c, cr.vol, cr.slot, 50, "on a freed slot")
			r.expect = s.risk(allow("201"), cr.vol)
			r.after = st.keep(c, cr.vol, cr.slot)
			return r
		}},
		{"credit refused by its shape or time", 3, false, st.creditRefused},
		{"open a resident", 2, false, func(c *client) *soakReq {
			st.opened++
			id := fmt.Sprintf("resident:%s-v%d", c.name, st.opened)
			r := openReq(id, "station opens")
			r.expect, r.wantSet = allow("201"), true
			r.after = func(res *soakRes) {
				if res.entry != nil {
					s.mu.Lock()
					s.volunteers, s.opened = append(s.volunteers, id), append(s.opened, id)
					s.mu.Unlock()
				}
			}
			return r
		}},
		{"open refused", 2, false, func(c *client) *soakReq {
			switch c.rng.IntN(3) {
			case 0:
				r := openReq(pick(c.rng, s.residents), "exists")
				r.expect = allow("409 account_exists")
				return r
			case 1:
				r := openReq("outlet:by-"+c.name, "not a resident")
				r.expect = allow("403 forbidden")
				return r
			}
			r := openReq("resident:"+prcID(c.rng), "identity number")
			r.expect = allow("400 invalid_account")
			return r
		}},
		{"reverse own credit", 6, false, func(c *client) *soakReq {
			cr := st.ownCredit(c, false)
			if cr == nil {
				return nil
			}
			r := s.reversalReq(cr.seq, "reverse own credit")
			r.expect = s.risk(allow("201", "422 insufficient_balance", "422 reversal_window_passed"), cr.vol)
			r.after = func(res *soakRes) {
				if res.entry != nil { // a reversed credit frees its session (and its day's hours)
					cr.reversed = true
					st.freed = append(st.freed, cr)
				}
			}
			return r
		}},
		{"reverse refused", 2, false, st.reverseRefused},
	}
	return append(as, s.payeeActions(func(e *wireEntry) { st.settles = append(st.settles, e.Seq) })...)
}

// creditFree credits a free slot of a volunteer: the ledger must accept it.
func (st *station) creditFree(c *client) *soakReq {
	st.s.mu.Lock()
	vols := st.s.volunteers
	st.s.mu.Unlock()
	if c.rng.IntN(3) > 0 { // mostly the residents who spend: their writes need hours
		vols = st.s.residents
	}
	for range 5 {
		vol := pick(c.rng, vols)
		slot, ok := st.slots.take(c.rng, vol)
		if !ok {
			continue
		}
		r := st.credit(c, vol, slot, 25*(1+c.rng.Int64N(2)), "credit")
		r.expect = st.s.risk(allow("201"), vol)
		if c.rng.IntN(3) == 0 {
			r = withField(r, "station", c.actor) // a station may name itself
		}
		if c.rng.IntN(3) == 0 {
			r = withField(r, "memo", pick(c.rng, memos))
		}
		r.after = st.keep(c, vol, slot)
		return r
	}
	return nil
}

// keep is the after of a credit on slot of vol: an acknowledged one is its credit, the slot
// of a refused one is free again.
func (st *station) keep(c *client, vol string, slot int) func(res *soakRes) {
	return func(res *soakRes) {
		if res.entry == nil {
			st.slots.release(vol, slot)
			return
		}
		st.credits = append(st.credits, &creditRef{seq: res.entry.Seq, vol: vol, slot: slot})
		st.s.mu.Lock()
		st.s.credits[c.actor] = append(st.s.credits[c.actor], res.entry.Seq)
		st.s.mu.Unlock()
	}
}

// creditRefused sends a credit that a rule refuses whatever the state (but a frozen
// volunteer, which answers first).
func (st *station) creditRefused(c *client) *soakReq {
	s := st.s
	vol := pick(c.rng, s.residents)
	now := time.Now().In(shanghai)
	slot := c.rng.IntN(slotDays * slotsPerDay)
	start, _ := st.slots.interval(slot)
	var r *soakReq
	switch c.rng.IntN(6) {
	case 0:
		r = creditReq("", vol, 1250, "cleaning", start, start.Add(13*time.Hour), "entry cap")
		r.expect = allow("422 entry_cap_exceeded")
	case 1:
		r = creditReq("", vol, 150, "cleaning", start, start.Add(time.Hour), "longer than the session")
		r.expect = allow("422 duration_exceeded")
	case 2:
		r = creditReq("", vol, 50, "cleaning", now, now.Add(time.Hour), "in the future")
		r.expect = allow("422 future_time")
	case 3:
		old := now.AddDate(0, 0, -31)
		r = creditReq("", vol, 50, "cleaning", old, old.Add(time.Hour), "before the backdate window")
		r.expect = allow("422 backdate_window_exceeded")
	case 4:
		other := pick(c.rng, s.stations)
		for other == c.actor {
			other = pick(c.rng, s.stations)
		}
		r = withField(creditReq("", vol, 50, "cleaning", start, start.Add(time.Hour), "as another station"), "station", other)
		return withExpect(r, allow("403 forbidden")) // the role answers before the volunteer
	default:
		r = creditReq("", "resident:nobody-"+c.name, 50, "cleaning", start, start.Add(time.Hour), "unknown volunteer")
		return withExpect(r, allow("422 unknown_account"))
	}
	r.expect = s.risk(r.expect, vol)
	return r
}

// reverseRefused sends a reversal that must be refused: of a credit it reversed already,
// of another station's credit (not visible to it), of a settle made to it (not its credit).
func (st *station) reverseRefused(c *client) *soakReq {
	s := st.s
	switch c.rng.IntN(3) {
	case 0:
		if cr := st.ownCredit(c, true); cr != nil {
			r := s.reversalReq(cr.seq, "again")
			r.expect = s.risk(allow("409 already_reversed"), cr.vol)
			return r
		}
	case 1:
		s.mu.Lock()
		other := s.credits[pick(c.rng, s.stations)]
		seq := uint64(0)
		if len(other) > 0 {
			seq = pick(c.rng, other)
		}
		mine := s.credits[c.actor]
		s.mu.Unlock()
		if seq != 0 && !slices.Contains(mine, seq) {
			r := s.reversalReq(seq, "another station's credit")
			r.expect = allow("404 not_found")
			return r
		}
	default:
		if len(st.settles) > 0 {
			r := s.reversalReq(pick(c.rng, st.settles), "a settle, not a credit")
			r.expect = allow("403 forbidden")
			return r
		}
	}
	return nil
}

// outletActions are an outlet's: a payee's, and writes its role may not make.
func (s *soak) outletActions() []action {
	return append(s.payeeActions(nil),
		action{"credit as an outlet", 1, false, func(c *client) *soakReq {
			start := time.Now().Add(-48 * time.Hour)
			r := creditReq(pick(c.rng, s.stations), pick(c.rng, s.residents), 50, "cleaning", start, start.Add(time.Hour), "forbidden")
			return withExpect(r, allow("403 forbidden"))
		}},
		action{"open as an outlet", 1, false, func(c *client) *soakReq {
			return withExpect(openReq("resident:by-"+c.name, "forbidden"), allow("403 forbidden"))
		}},
	)
}

func withExpect(r *soakReq, o outcomes) *soakReq {
	r.expect = o
	return r
}

// memos are free texts the canonical encoding must carry as sent.
var memos = []string{"送餐服务", `a "quoted" word and a \ backslash`, "cleaning, then tea", "</script>&"}

// prcID returns a valid PRC resident identity number (17 digits and an ISO 7064 MOD 11-2
// check character), which SPEC §2 refuses as an account name.
func prcID(rng interface{ IntN(int) int }) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	digits := []byte("11010519491231")
	for len(digits) < 17 {
		digits = append(digits, byte('0'+rng.IntN(10)))
	}
	sum := 0
	for i, d := range digits {
		sum += int(d-'0') * weights[i]
	}
	return string(digits) + string("10x98765432"[sum%11])
}

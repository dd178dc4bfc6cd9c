package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// wireEntry is an entry as the API answers it (docs/FORMAT.md); a hold's answer adds
// hold_id and expires_at.
type wireEntry struct {
	Seq            uint64          `json:"seq"`
	Time           string          `json:"time"`
	Type           string          `json:"type"`
	Actor          string          `json:"actor"`
	IdempotencyKey string          `json:"idempotency_key"`
	Body           json.RawMessage `json:"body"`
	Postings       []wirePosting   `json:"postings"`
	HoldID         uint64          `json:"hold_id"`
	ExpiresAt      string          `json:"expires_at"`
}

type wirePosting struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Asset  string `json:"asset"`
	Amount string `json:"amount"`
}

// decodeEntry decodes an entry strictly: no member it does not know, nothing after it.
func decodeEntry(b []byte) (*wireEntry, error) {
	var e wireEntry
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("data after the entry")
	}
	if e.Seq == 0 || e.Time == "" || e.Postings == nil {
		return nil, fmt.Errorf("seq, time and postings are required")
	}
	return &e, nil
}

// answerOf is the answer a write of the entry whose export line is line gives: the line
// itself, and for a hold its hold_id (its seq) and expires_at (its time and ttl_seconds).
func answerOf(line []byte, e *wireEntry) ([]byte, error) {
	if e.Type != "hold" {
		return line, nil
	}
	var body struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	t, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil || json.Unmarshal(e.Body, &body) != nil || body.TTLSeconds <= 0 {
		return nil, fmt.Errorf("hold entry %d: time %q, body %s", e.Seq, e.Time, e.Body)
	}
	exp := t.Add(time.Duration(body.TTLSeconds) * time.Second).UTC().Format("2006-01-02T15:04:05.000000Z")
	return fmt.Appendf(bytes.Clone(line[:len(line)-1]), `,"hold_id":%d,"expires_at":%q}`, e.Seq, exp), nil
}

// checkExport checks the export against every answer: entry 1 is genesis, seqs are gapless
// and times increase; each (actor, key) has one entry; each acknowledged write is in it
// exactly as answered, and every entry after genesis was acknowledged (so the entries are
// genesis and the distinct acknowledged pairs); no refused request left an entry; what the
// auditor read while the clients wrote is a prefix of it.
func (s *soak) checkExport(export []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := bytes.Split(bytes.TrimSuffix(export, []byte("\n")), []byte("\n"))
	if want := 1 + len(s.acks); len(lines) != want {
		s.failf("the export has %d entries; genesis and the %d distinct acknowledged (actor, key) pairs are %d", len(lines), len(s.acks), want)
	}
	seen := map[string]uint64{}
	prev := ""
	for i, line := range lines {
		e, err := decodeEntry(line)
		if err != nil || e.Seq != uint64(i+1) || e.Time <= prev || (i == 0) != (e.Type == "genesis") {
			s.failf("export line %d (%v): %s", i+1, err, clip(line))
			return
		}
		prev = e.Time
		if e.Seq == 1 {
			continue
		}
		k := e.Actor + "\x00" + e.IdempotencyKey
		if first, dup := seen[k]; dup {
			s.failf("entries %d and %d have one (actor %s, key %q)", first, e.Seq, e.Actor, e.IdempotencyKey)
		}
		seen[k] = e.Seq
		a := s.acks[k]
		if a == nil {
			s.failf("entry %d was never acknowledged (refused: %v): %s", e.Seq, s.refused[k], clip(line))
			continue
		}
		if want, err := answerOf(line, e); err != nil || !bytes.Equal(want, a.answer) {
			s.failf("entry %d in the export:\n%s\nbut the write was answered (%v)\n%s", e.Seq, line, err, a.answer)
		}
	}
	for k, a := range s.acks {
		if _, ok := seen[k]; !ok {
			s.failf("acknowledged entry %d (actor %s, key %q) is not in the export", a.entry.Seq, a.actor, a.key)
		}
		if a.created != 1 {
			s.failf("(actor %s, key %q) was answered 201 %d times", a.actor, a.key, a.created)
		}
	}
	for k := range s.refused {
		if _, ok := seen[k]; ok && s.acks[k] == nil {
			actor, key, _ := strings.Cut(k, "\x00")
			s.failf("a refused request (actor %s, key %q) left entry %d", actor, key, seen[k])
		}
	}
	for i, l := range s.au.exported {
		if i >= len(lines) || !bytes.Equal(l, lines[i]) {
			s.failf("export line %d read while writing was\n%s\nand is now\n%s", i+1, l, lines[min(i, len(lines)-1)])
			return
		}
	}
}

// position is what the acknowledged entries make of one account.
type position struct {
	balance, earned map[string]int64
	frozen          bool
	openedAt        string
	holds           []heldAmount
}

type heldAmount struct {
	seq     uint64
	asset   string
	amount  int64
	expires time.Time
	closed  bool
}

// positions replays the acknowledged entries (s.mu held): balances from their postings,
// earned from credits and their reversals, frozen from freezes, held from holds not
// settled or voided.
func (s *soak) positions() map[string]*position {
	seqs := make([]uint64, 0, len(s.bySeq))
	for seq := range s.bySeq {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	ps := map[string]*position{}
	get := func(id string) *position {
		if ps[id] == nil {
			ps[id] = &position{balance: map[string]int64{}, earned: map[string]int64{}}
		}
		return ps[id]
	}
	get("issuer:HOURS")
	get("issuer:POINTS")
	holds := map[uint64]*heldAmount{}
	for _, seq := range seqs {
		e := s.bySeq[seq].entry
		var body struct {
			ID, Account string
			Seq         uint64
			HoldID      uint64 `json:"hold_id"`
			Asset       string
			Amount      string
			TTLSeconds  int64 `json:"ttl_seconds"`
		}
		json.Unmarshal(e.Body, &body)
		for _, p := range e.Postings {
			v, err := parseAmt(p.Amount, p.Asset)
			if err != nil {
				s.failf("entry %d: posting %v: %v", seq, p, err)
			}
			get(p.From).balance[p.Asset] -= v
			get(p.To).balance[p.Asset] += v
			if e.Type == "credit" {
				get(p.To).earned[p.Asset] += v
			}
		}
		switch e.Type {
		case "open":
			get(body.ID).openedAt = e.Time
		case "freeze", "unfreeze":
			get(body.Account).frozen = e.Type == "freeze"
		case "hold":
			t, _ := time.Parse(time.RFC3339Nano, e.Time)
			v, _ := parseAmt(body.Amount, body.Asset)
			h := &heldAmount{seq: seq, asset: body.Asset, amount: v, expires: t.Add(time.Duration(body.TTLSeconds) * time.Second)}
			holds[seq] = h
			get(e.Actor).holds = append(get(e.Actor).holds, *h)
		case "settle", "void":
			if h := holds[body.HoldID]; h != nil {
				h.closed = true
			}
		case "reversal":
			if orig := s.bySeq[body.Seq]; orig != nil && orig.entry.Type == "credit" {
				for _, p := range orig.entry.Postings {
					v, _ := parseAmt(p.Amount, p.Asset)
					get(p.To).earned[p.Asset] -= v
				}
			}
		}
	}
	for _, p := range ps {
		for i := range p.holds {
			p.holds[i].closed = holds[p.holds[i].seq].closed
		}
	}
	return ps
}

// wireAccount is GET /v1/accounts/{id}'s answer.
type wireAccount struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	OpenedAt string `json:"opened_at"`
	Balances map[string]struct {
		Balance   string `json:"balance"`
		Held      string `json:"held"`
		Available string `json:"available"`
		Earned    string `json:"earned"`
	} `json:"balances"`
}

// checkBalances reads every account and compares it with the replay of the acknowledged
// entries: balance and earned exactly, held within what the holds make between the read's
// start and end (a hold may expire meanwhile), available = balance − held, status and
// opened_at; and over all accounts each asset sums to zero.
func (s *soak) checkBalances() {
	s.mu.Lock()
	ps := s.positions()
	s.mu.Unlock()
	sums := map[string]int64{}
	for id, p := range ps {
		before := time.Now()
		var a wireAccount
		d := json.NewDecoder(bytes.NewReader(s.get("/v1/accounts/"+url.PathEscape(id), s.tokens["admin"])))
		d.DisallowUnknownFields()
		if err := d.Decode(&a); err != nil {
			s.failf("account %s: %v", id, err)
			continue
		}
		after := time.Now()
		if status := map[bool]string{true: "frozen", false: "active"}[p.frozen]; a.ID != id || a.Status != status ||
			(p.openedAt != "" && a.OpenedAt != p.openedAt) {
			s.failf("account %s: id %s status %s opened_at %s; the entries make it %s, opened at %s", id, a.ID, a.Status, a.OpenedAt, status, p.openedAt)
		}
		for _, asset := range []string{"HOURS", "POINTS"} {
			got := a.Balances[asset]
			bal, _ := parseAmt(got.Balance, asset)
			held, _ := parseAmt(got.Held, asset)
			avail, _ := parseAmt(got.Available, asset)
			sums[asset] += bal
			lo, hi := p.held(asset, after), p.held(asset, before)
			if got.Balance != fmtAmt(p.balance[asset], asset) || got.Earned != fmtAmt(p.earned[asset], asset) ||
				held < lo || held > hi || avail != bal-held {
				s.failf("account %s %s: balance %s held %s available %s earned %s; the acknowledged entries make balance %s, held %s to %s, earned %s",
					id, asset, got.Balance, got.Held, got.Available, got.Earned, fmtAmt(p.balance[asset], asset),
					fmtAmt(lo, asset), fmtAmt(hi, asset), fmtAmt(p.earned[asset], asset))
			}
		}
	}
	for asset, sum := range sums {
		if sum != 0 {
			s.failf("%s sums to %s over all %d accounts, not 0", asset, fmtAmt(sum, asset), len(ps))
		}
	}
	if len(ps) < len(s.residents)+len(s.stations) {
		s.failf("only %d accounts", len(ps))
	}
}

// held is what the account's open holds of asset reserve at time t.
func (p *position) held(asset string, t time.Time) int64 {
	var sum int64
	for _, h := range p.holds {
		if !h.closed && h.asset == asset && t.Before(h.expires) {
			sum += h.amount
		}
	}
	return sum
}

// wireHold is GET /v1/holds/{id}'s answer.
type wireHold struct {
	HoldID    uint64 `json:"hold_id"`
	Resident  string `json:"resident"`
	Payee     string `json:"payee"`
	Asset     string `json:"asset"`
	Amount    string `json:"amount"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expires_at"`
}

// checkHolds reads every acknowledged hold and compares it with its entry and the settle or
// void that closed it: an unclosed hold is open before it expires and expired after (either,
// when it expires during the read).
func (s *soak) checkHolds() {
	s.mu.Lock()
	want := map[uint64]*wireHold{}
	for seq, a := range s.bySeq {
		e := a.entry
		switch e.Type {
		case "hold":
			var b struct{ Payee, Asset, Amount string }
			json.Unmarshal(e.Body, &b)
			h := want[seq]
			if h == nil {
				h = &wireHold{Status: "open"}
				want[seq] = h
			}
			h.HoldID, h.Resident, h.Payee, h.Asset, h.Amount, h.ExpiresAt = seq, e.Actor, b.Payee, b.Asset, b.Amount, e.ExpiresAt
		case "settle", "void":
			var b struct {
				HoldID uint64 `json:"hold_id"`
			}
			json.Unmarshal(e.Body, &b)
			if want[b.HoldID] == nil {
				want[b.HoldID] = &wireHold{}
			}
			want[b.HoldID].Status = map[string]string{"settle": "settled", "void": "voided"}[e.Type]
		}
	}
	s.mu.Unlock()
	for id, w := range want {
		before := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
		var got wireHold
		d := json.NewDecoder(bytes.NewReader(s.get(fmt.Sprintf("/v1/holds/%d", id), s.tokens["admin"])))
		d.DisallowUnknownFields()
		err := d.Decode(&got)
		after := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
		ok := map[string]bool{w.Status: true}
		switch {
		case w.Status == "open" && w.ExpiresAt <= before:
			ok = map[string]bool{"expired": true}
		case w.Status == "open" && w.ExpiresAt <= after: // it expired during the read
			ok = map[string]bool{"open": true, "expired": true}
		}
		if g := got; err != nil || g.HoldID != id || g.Resident != w.Resident || g.Payee != w.Payee || g.Asset != w.Asset ||
			g.Amount != w.Amount || g.ExpiresAt != w.ExpiresAt || !ok[g.Status] {
			s.failf("hold %d reads %+v (%v); its entries make %+v, status one of %v", id, got, err, *w, keys(ok))
		}
	}
}

package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The verifier: an export, a signed checkpoint and the pinned verifier key in; the
// ledger's derived state out, or the first thing wrong.

type account struct {
	id      string
	opened  time.Time
	frozen  bool
	balance map[string]int64 // asset → minor units
	earned  map[string]int64
}

type hold struct {
	resident, payee, asset string
	amount                 int64
	expires                time.Time
	status                 string // open, settled, voided (expiry is judged at a time)
}

type ledger struct {
	ctx      context
	ckpt     checkpoint
	entries  []*entry
	accounts map[string]*account
	holds    map[uint64]*hold
	reversed map[uint64]bool
	policy   *policy // in force after the last entry
	keys     map[string]uint64
	unsigned int // entries beyond the checkpoint
}

// verifyExport runs every check of the verifier; the error names the first failure.
func verifyExport(export, ckptNote []byte, vkey string) (*ledger, error) {
	lines, err := splitLines(export)
	if err != nil {
		return nil, err
	}
	l := &ledger{
		ctx:      context{scales: map[string]int{}, holdAssets: map[uint64]string{}},
		accounts: map[string]*account{}, holds: map[uint64]*hold{},
		reversed: map[uint64]bool{}, keys: map[string]uint64{},
	}
	if l.ckpt, err = openCheckpoint(ckptNote, vkey); err != nil {
		return nil, err
	}
	root, err := treeRoot(lines, l.ckpt.size)
	if err != nil {
		return nil, err
	}
	if root != l.ckpt.root {
		return nil, fmt.Errorf("the tree of the first %d entries has root %v, the checkpoint %v", l.ckpt.size, root, l.ckpt.root)
	}
	l.unsigned = len(lines) - int(l.ckpt.size)
	for i, line := range lines {
		e, err := decodeLine(line, &l.ctx)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := l.apply(e, i); err != nil {
			return nil, fmt.Errorf("entry %d (%s): %w", e.seq, e.typ, err)
		}
		l.entries = append(l.entries, e)
	}
	return l, nil
}

// splitLines cuts NDJSON into lines: each ends in exactly one "\n" and none is empty.
func splitLines(export []byte) ([][]byte, error) {
	if len(export) == 0 {
		return nil, errors.New("empty export: not even a genesis entry")
	}
	if export[len(export)-1] != '\n' {
		return nil, errors.New("the export does not end in a newline")
	}
	lines := bytes.Split(export[:len(export)-1], []byte("\n"))
	for i, l := range lines {
		if len(l) == 0 {
			return nil, fmt.Errorf("line %d is empty", i+1)
		}
	}
	return lines, nil
}

// apply checks an entry against those before it and adds its effects.
func (l *ledger) apply(e *entry, i int) error {
	if e.seq != uint64(i+1) {
		return fmt.Errorf("seq %d at line %d: not gapless from 1", e.seq, i+1)
	}
	if i > 0 && !e.time.After(l.entries[i-1].time) {
		return fmt.Errorf("time %s not after the previous entry's %s", e.time.Format(timeLayout), l.entries[i-1].time.Format(timeLayout))
	}
	if (i == 0) != (e.typ == "genesis") {
		return errors.New("entry 1, and only entry 1, is the genesis entry")
	}
	if i == 0 {
		return l.genesis(e)
	}
	if !actorRE.MatchString(e.actor) {
		return fmt.Errorf("actor %q is not a principal", e.actor)
	}
	k := e.actor + "\x00" + e.key
	if first, dup := l.keys[k]; dup {
		return fmt.Errorf("actor %s used Idempotency-Key %q already in entry %d", e.actor, e.key, first)
	}
	l.keys[k] = e.seq
	if err := l.effects(e); err != nil {
		return err
	}
	want, err := l.expectedPostings(e)
	if err != nil {
		return err
	}
	if !equalPostings(want, e.postings) {
		return fmt.Errorf("postings %v, the body makes %v", e.postings, want)
	}
	return l.post(e)
}

func (l *ledger) genesis(e *entry) error {
	if e.actor != "system" || e.key != "genesis" || len(e.postings) != 0 {
		return errors.New("genesis is not actor system, key genesis, no postings")
	}
	l.policy = e.body.policy
	for code, scale := range l.policy.scales {
		l.ctx.scales[code] = int(scale)
		l.open("issuer:"+code, e.time)
	}
	return nil
}

func (l *ledger) open(id string, at time.Time) {
	l.accounts[id] = &account{id: id, opened: at, balance: map[string]int64{}, earned: map[string]int64{}}
}

func kindOf(id string) string {
	kind, _, _ := strings.Cut(id, ":")
	return kind
}

// post moves the entry's postings and checks that no account it touches is unknown or
// frozen, and that no account but an issuer goes below zero or below what it holds.
func (l *ledger) post(e *entry) error {
	for _, p := range e.postings {
		for _, id := range []string{p.from, p.to} {
			a := l.accounts[id]
			if a == nil {
				return fmt.Errorf("posting names %s, which was never opened", id)
			}
			if a.frozen {
				return fmt.Errorf("posting moves %s of frozen %s", p.asset, id)
			}
		}
		l.accounts[p.from].balance[p.asset] -= p.amount
		l.accounts[p.to].balance[p.asset] += p.amount
	}
	for _, p := range e.postings {
		a := l.accounts[p.from]
		if kindOf(a.id) == "issuer" {
			continue
		}
		if avail := a.balance[p.asset] - l.held(a.id, p.asset, e.time); avail < 0 {
			return fmt.Errorf("%s has %s %s available, below zero", a.id, formatAmount(avail, l.ctx.scales[p.asset]), p.asset)
		}
	}
	return nil
}

// held is what the open, unexpired holds of an account reserve at time at.
func (l *ledger) held(id, asset string, at time.Time) int64 {
	var n int64
	for _, h := range l.holds {
		if h.resident == id && h.asset == asset && h.status == "open" && at.Before(h.expires) {
			n += h.amount
		}
	}
	return n
}

// sums checks that every asset sums to zero over all accounts.
func (l *ledger) sums() error {
	for asset := range l.ctx.scales {
		var sum int64
		for _, a := range l.accounts {
			sum += a.balance[asset]
		}
		if sum != 0 {
			return fmt.Errorf("%s sums to %d minor units, not zero", asset, sum)
		}
	}
	return nil
}

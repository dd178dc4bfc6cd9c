package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// Data verifies a stopped server's data directory (also after a crash, or a backup placed in
// a directory as timebank.db): every stored entry replays through the rules, every stored
// Merkle hash is recomputed, and every stored account, hold, session, link, reversal,
// statement line and idempotency record equals what the replay derives. ckpt (with vkey) is
// optional: a checkpoint published earlier that the stored log must still match.
func Data(dir string, ckpt []byte, vkey string, progress func(uint64)) (*Summary, error) {
	var cp *Checkpoint
	if ckpt != nil {
		var err error
		if cp, err = OpenCheckpoint(ckpt, vkey); err != nil {
			return nil, err
		}
	}
	l, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start := time.Now()
	d := &dataCheck{l: l}
	err = l.Snapshot(func(s *store.Snapshot) error {
		d.snap = s
		d.r = newReplay(s, cp, progress)
		d.r.after = d.indexes
		return d.replayAll(s.HashReader())
	})
	if err != nil {
		return nil, err
	}
	if err := d.state(); err != nil {
		return nil, err
	}
	s := d.r.sum
	s.Source, s.Elapsed = "data "+dir, time.Since(start)
	s.Compared = append(s.Compared,
		fmt.Sprintf("%d stored Merkle hashes, recomputed", d.hashes),
		fmt.Sprintf("%d statement lines and %d idempotency records with the replay", d.statements, s.Entries),
		"every account, hold, session, link and reversal, and the policy in force, with the replay")
	return s, nil
}

type dataCheck struct {
	l          *store.Ledger
	snap       *store.Snapshot // valid during the replay only
	r          *replay
	hr         tlog.HashReader
	hashes     int
	statements int
}

// replayAll replays every stored entry, checking its stored Merkle hashes on the way.
func (d *dataCheck) replayAll(hr tlog.HashReader) error {
	d.hr = hr
	err := d.snap.ForEachEntry(0, func(seq uint64, b []byte) error {
		if err := d.checkHashes(seq, b); err != nil {
			return err
		}
		return d.r.step(b)
	})
	if err != nil {
		return err
	}
	if err := d.r.finish(); err != nil {
		return err
	}
	if size := d.l.TreeSize(); size != d.r.tree.n {
		return fmt.Errorf("the store's head says %d entries, but %d are stored", size, d.r.tree.n)
	}
	root, err := tlog.TreeHash(int64(d.r.tree.n), hr)
	if err != nil {
		return err
	}
	if root != d.r.tree.root() {
		return fmt.Errorf("the stored Merkle hashes give root %x, the entries %x", root, d.r.tree.root())
	}
	return nil
}

// checkHashes recomputes the Merkle hashes stored when entry seq was appended.
func (d *dataCheck) checkHashes(seq uint64, b []byte) error {
	n := int64(seq - 1)
	want, err := tlog.StoredHashes(n, b, d.hr)
	if err != nil {
		return fmt.Errorf("entry %d: stored hashes: %w", seq, err)
	}
	base := tlog.StoredHashIndex(0, n)
	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = base + int64(i)
	}
	got, err := d.hr.ReadHashes(idx)
	if err != nil {
		return fmt.Errorf("entry %d: stored hashes: %w", seq, err)
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("entry %d: stored Merkle hash %d differs from the entry's bytes (changed entry or hash)", seq, idx[i])
		}
	}
	d.hashes += len(want)
	return nil
}

// indexes checks the statement lines and the idempotency record entry e wrote.
func (d *dataCheck) indexes(e *ledger.Entry, _ []byte) error {
	parties, err := ledger.Parties(d.r.st, e)
	if err != nil {
		return err
	}
	for _, id := range parties {
		got, ok, err := d.snap.StatementLine(id, e.Seq)
		if err != nil {
			return err
		}
		a, _ := d.r.st.Account(id)
		if !ok || a == nil {
			return fmt.Errorf("entry %d: account %s has no statement line for it", e.Seq, id)
		}
		for _, code := range d.r.rp.Assets.Codes() {
			if got[code] != a.Balances[code].Balance {
				return fmt.Errorf("entry %d: account %s's statement says %s %s after it, the replay %d",
					e.Seq, id, code, fmtMap(got), a.Balances[code].Balance)
			}
		}
		d.statements++
	}
	seq, _, ok, err := d.snap.IdempotencyRecord(e.Actor, e.IdempotencyKey)
	if err != nil {
		return err
	}
	if !ok || seq != e.Seq {
		return fmt.Errorf("entry %d: the idempotency record of (%s, %q) points to entry %d", e.Seq, e.Actor, e.IdempotencyKey, seq)
	}
	return nil
}

func fmtMap(m map[string]int64) string { b, _ := json.Marshal(m); return string(b) }

// state compares every stored record of derived state with the replay's.
func (d *dataCheck) state() error {
	st := d.r.st
	if err := d.accounts(st); err != nil {
		return err
	}
	if err := d.holds(st); err != nil {
		return err
	}
	if err := d.sessions(st); err != nil {
		return err
	}
	if err := d.links(st); err != nil {
		return err
	}
	if err := d.reversals(st); err != nil {
		return err
	}
	c, err := d.l.Count()
	if err != nil {
		return err
	}
	if c.StatementLines != d.statements || c.IdempotencyRecords != int(d.r.tree.n) {
		return fmt.Errorf("the store holds %d statement lines and %d idempotency records; the replay makes %d and %d",
			c.StatementLines, c.IdempotencyRecords, d.statements, d.r.tree.n)
	}
	want, _ := json.Marshal(st.Policy())
	got, _ := json.Marshal(d.l.Policy())
	if !bytes.Equal(want, got) {
		return fmt.Errorf("the stored policy in force differs from the replay's:\n stored:   %s\n replayed: %s", got, want)
	}
	return nil
}

// normal drops zero balances and empty hold lists, which encodings may or may not keep.
func normal(a *ledger.Account) *ledger.Account {
	c := a.Clone()
	for k, b := range c.Balances {
		if b == (ledger.Balance{}) {
			delete(c.Balances, k)
		}
	}
	if len(c.Holds) == 0 {
		c.Holds = nil
	}
	return c
}

func (d *dataCheck) accounts(st *ledger.MemState) error {
	want := map[ledger.AccountID]*ledger.Account{}
	for _, a := range st.Accounts() {
		want[a.ID] = normal(a)
	}
	n := 0
	err := d.l.ForEachAccount(func(a *ledger.Account) error {
		n++
		w, ok := want[a.ID]
		if !ok {
			return fmt.Errorf("account %s is stored but no entry opened it", a.ID)
		}
		if g := normal(a); !reflect.DeepEqual(g, w) {
			return fmt.Errorf("account %s differs:\n stored:   %+v\n replayed: %+v", a.ID, *g, *w)
		}
		return nil
	})
	if err == nil && n != len(want) {
		err = fmt.Errorf("the store holds %d accounts, the replay %d", n, len(want))
	}
	return err
}

func (d *dataCheck) holds(st *ledger.MemState) error {
	want := st.Holds()
	i := 0
	err := d.l.ForEachHold(func(h *ledger.Hold) error {
		if i >= len(want) || *h != want[i] {
			return fmt.Errorf("hold %d differs from the replay's", h.ID)
		}
		i++
		return nil
	})
	if err == nil && i != len(want) {
		err = fmt.Errorf("the store holds %d holds, the replay %d", i, len(want))
	}
	return err
}

func (d *dataCheck) sessions(st *ledger.MemState) error {
	want := st.Sessions()
	n, total := 0, 0
	for _, ss := range want {
		total += len(ss)
	}
	err := d.l.ForEachSession(func(v ledger.AccountID, s ledger.Session) error {
		ss := want[v]
		found := false
		for _, w := range ss {
			if w == s {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("session of %s from entry %d is stored but not in the replay", v, s.Seq)
		}
		n++
		return nil
	})
	if err == nil && n != total {
		err = fmt.Errorf("the store holds %d credited sessions, the replay %d", n, total)
	}
	return err
}

func (d *dataCheck) links(st *ledger.MemState) error {
	want := st.Links()
	n := 0
	err := d.l.ForEachLink(func(a, b ledger.AccountID, rel string) error {
		k := [2]ledger.AccountID{a, b}
		if b < a {
			k = [2]ledger.AccountID{b, a}
		}
		if want[k] != rel {
			return fmt.Errorf("link %s–%s (%s) differs from the replay's", a, b, rel)
		}
		n++
		return nil
	})
	if err == nil && n != 2*len(want) {
		err = fmt.Errorf("the store holds %d link records, the replay makes %d", n, 2*len(want))
	}
	return err
}

func (d *dataCheck) reversals(st *ledger.MemState) error {
	want := st.Reversals()
	n := 0
	err := d.l.ForEachReversal(func(seq, by uint64) error {
		if want[seq] != by {
			return fmt.Errorf("entry %d is stored as reversed by %d, the replay says %d", seq, by, want[seq])
		}
		n++
		return nil
	})
	if err == nil && n != len(want) {
		err = fmt.Errorf("the store holds %d reversals, the replay %d", n, len(want))
	}
	return err
}

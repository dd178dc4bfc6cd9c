package verify

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// The digests of derived state: an order-free fingerprint of every stored record, computed
// from the store on one side and from the replay on the other (docs/decisions/0008).

// digests sums item hashes per owner: an order-free fingerprint of a set of index records,
// a few words per account instead of one per entry. The hash is keyed with a random seed,
// so a forged store cannot aim for a collision.
type digests map[string]*digest

type digest struct {
	sum uint64
	n   int
}

func (ds digests) add(owner string, h uint64) {
	d := ds[owner]
	if d == nil {
		d = &digest{}
		ds[owner] = d
	}
	d.sum += h
	d.n++
}

// hash starts h over as a keyed hash of one record of the given kind. Each goroutine
// brings its own h.
func (d *dataCheck) hash(h *maphash.Hash, kind byte) *maphash.Hash {
	h.SetSeed(d.seed)
	h.WriteByte(kind)
	return h
}

func writeUint(h *maphash.Hash, v uint64) {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	h.Write(buf[:])
}

func writeInt(h *maphash.Hash, v int64) { writeUint(h, uint64(v)) }

// writeBalances hashes the non-zero balances (and, with earned, the earned figures) in code
// order: an asset missing from a record and one at zero hash alike, as normal() has it.
func writeBalances(h *maphash.Hash, m map[string]ledger.Balance, earned bool) {
	var buf [8]string
	for _, code := range sortedCodes(buf[:0], m) {
		b := m[code]
		if !earned {
			b.Earned = 0
		}
		writeBalance(h, code, b, earned)
	}
}

// writeStatement is writeBalances for a stored statement line.
func writeStatement(h *maphash.Hash, m map[string]int64) {
	var buf [8]string
	for _, code := range sortedCodes(buf[:0], m) {
		writeBalance(h, code, ledger.Balance{Balance: m[code]}, false)
	}
}

func sortedCodes[V any](dst []string, m map[string]V) []string {
	for code := range m {
		dst = append(dst, code)
	}
	slices.Sort(dst)
	return dst
}

func writeBalance(h *maphash.Hash, code string, b ledger.Balance, earned bool) {
	if b == (ledger.Balance{}) {
		return
	}
	h.WriteString(code)
	h.WriteByte(0)
	writeInt(h, b.Balance)
	if earned {
		writeInt(h, b.Earned)
	}
}

// stmtHash is the hash of a stored statement line. The replay hashes the lines it expects
// from the account's balances (indexes): the two share stmtStart and writeBalance, so that
// equal lines hash equal.
func (d *dataCheck) stmtHash(h *maphash.Hash, id ledger.AccountID, seq uint64, balances map[string]int64) uint64 {
	d.stmtStart(h, id, seq)
	writeStatement(h, balances)
	return h.Sum64()
}

// stmtStart starts h over as the hash of account id's statement line for entry seq.
func (d *dataCheck) stmtStart(h *maphash.Hash, id ledger.AccountID, seq uint64) {
	d.hash(h, 'E')
	h.WriteString(string(id))
	writeUint(h, seq)
}

func (d *dataCheck) idemHash(h *maphash.Hash, key string, seq uint64) uint64 {
	d.hash(h, 'I')
	h.WriteString(key)
	h.WriteByte(0)
	writeUint(h, seq)
	return h.Sum64()
}

func (d *dataCheck) accountHash(h *maphash.Hash, a *ledger.Account) uint64 {
	d.hash(h, 'A')
	h.WriteString(string(a.ID))
	h.WriteByte(0)
	h.WriteString(string(a.Kind))
	h.WriteByte(0)
	if a.Frozen {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	writeUint(h, a.OpenedSeq)
	writeInt(h, a.OpenedAt)
	writeBalances(h, a.Balances, true)
	h.WriteByte(0xff)
	for _, oh := range a.Holds {
		writeUint(h, oh.ID)
		h.WriteString(oh.Asset)
		h.WriteByte(0)
		writeInt(h, oh.Amount)
		writeInt(h, oh.ExpiresAt)
	}
	return h.Sum64()
}

func (d *dataCheck) sessionHash(h *maphash.Hash, s ledger.Session) uint64 {
	d.hash(h, 'S')
	writeInt(h, s.Start)
	writeInt(h, s.End)
	writeUint(h, s.Seq)
	writeInt(h, s.Hours)
	return h.Sum64()
}

func (d *dataCheck) linkHash(h *maphash.Hash, other ledger.AccountID, relation string) uint64 {
	d.hash(h, 'L')
	h.WriteString(string(other))
	h.WriteByte(0)
	h.WriteString(relation)
	return h.Sum64()
}

func (d *dataCheck) holdHash(h *maphash.Hash, x *ledger.Hold) uint64 {
	d.hash(h, 'H')
	writeUint(h, x.ID)
	h.WriteString(string(x.Resident))
	h.WriteByte(0)
	h.WriteString(string(x.Payee))
	h.WriteByte(0)
	h.WriteString(x.Asset)
	h.WriteByte(0)
	writeInt(h, x.Amount)
	writeInt(h, x.ExpiresAt)
	h.WriteString(string(x.Status))
	h.WriteByte(0)
	writeUint(h, x.ClosedSeq)
	return h.Sum64()
}

func (d *dataCheck) reversalHash(h *maphash.Hash, seq, by uint64) uint64 {
	d.hash(h, 'R')
	writeUint(h, seq)
	writeUint(h, by)
	return h.Sum64()
}

// stateDigests are digests of everything derived that a data directory stores (or, for
// the replay's side, should store): per owner, its statement lines, its idempotency records,
// and its other records (account, sessions, links); and the holds and reversals.
type stateDigests struct {
	stmts       digest // one sum over every statement line: see byAccount
	idems, recs digests
	holds, revs digest
	err         error
}

func newStateDigests() *stateDigests {
	return &stateDigests{idems: digests{}, recs: digests{}}
}

// digestStored digests the stored state in one pass over the state bucket and one over the
// holds and reversals. It ends early, with errStopped, once stop is set.
func (d *dataCheck) digestStored(stop *atomic.Bool) *stateDigests {
	s := newStateDigests()
	h := new(maphash.Hash)
	check := func() error {
		if stop.Load() {
			return errStopped
		}
		return nil
	}
	s.err = d.l.WalkState(store.StateWalk{
		Account: func(a *ledger.Account) error {
			s.recs.add(string(a.ID), d.accountHash(h, normal(a)))
			return check()
		},
		Statement: func(id ledger.AccountID, seq uint64, b map[string]int64) error {
			s.stmts.add(d.stmtHash(h, id, seq, b))
			return check()
		},
		Session: func(v ledger.AccountID, x ledger.Session) error {
			s.recs.add(string(v), d.sessionHash(h, x))
			return check()
		},
		Link: func(a, b ledger.AccountID, rel string) error {
			s.recs.add(string(a), d.linkHash(h, b, rel))
			return check()
		},
		Idem: func(actor, key string, seq uint64) error {
			s.idems.add(actor, d.idemHash(h, key, seq))
			return check()
		},
	})
	if s.err == nil {
		s.err = d.l.ForEachHold(func(x *ledger.Hold) error { s.holds.add(d.holdHash(h, x)); return check() })
	}
	if s.err == nil {
		s.err = d.l.ForEachReversal(func(seq, by uint64) error { s.revs.add(d.reversalHash(h, seq, by)); return check() })
	}
	return s
}

// digestReplayed digests the replay's state the same way; the statement lines and
// idempotency records were digested entry by entry during the replay.
func (d *dataCheck) digestReplayed() *stateDigests {
	st, h := d.r.st, &d.h
	s := &stateDigests{stmts: d.stmtSum, idems: d.idems, recs: digests{}}
	for _, a := range st.Accounts() {
		s.recs.add(string(a.ID), d.accountHash(h, normal(a)))
	}
	for v, ss := range st.Sessions() {
		for _, x := range ss {
			s.recs.add(string(v), d.sessionHash(h, x))
		}
	}
	for k, rel := range st.Links() { // stored both ways
		s.recs.add(string(k[0]), d.linkHash(h, k[1], rel))
		s.recs.add(string(k[1]), d.linkHash(h, k[0], rel))
	}
	for _, x := range st.Holds() {
		s.holds.add(d.holdHash(h, &x))
	}
	for seq, by := range st.Reversals() {
		s.revs.add(d.reversalHash(h, seq, by))
	}
	return s
}

// compare compares the stored state's digests with the replay's. When they differ, the
// record by record comparisons (state) find and name the first difference.
func (d *dataCheck) compare(stored *stateDigests) error {
	if stored.err != nil {
		return stored.err
	}
	want := d.digestReplayed()
	owner, differs := firstDifference(want.recs, stored.recs)
	if !differs && want.stmts != stored.stmts {
		owner, differs = "statement lines", true
	}
	if !differs {
		owner, differs = firstDifference(want.idems, stored.idems)
	}
	if !differs && want.holds == stored.holds && want.revs == stored.revs {
		return d.policy()
	}
	if err := d.state(); err != nil {
		return err
	}
	return fmt.Errorf("the stored state differs from the replay's (first at %q), but no record by record comparison found where", owner)
}

func (g *digest) add(h uint64) {
	g.sum += h
	g.n++
}

// walkIndexes compares the stored statement lines and idempotency records with the digests.
func (d *dataCheck) walkIndexes() error {
	if err := d.byAccount(); err != nil {
		return err
	}
	gotS, gotI, h := digests{}, digests{}, &d.h
	err := d.l.WalkState(store.StateWalk{
		Statement: func(id ledger.AccountID, seq uint64, b map[string]int64) error {
			gotS.add(string(id), d.stmtHash(h, id, seq, b))
			return nil
		},
		Idem: func(actor, key string, seq uint64) error {
			gotI.add(actor, d.idemHash(h, key, seq))
			return nil
		},
	})
	if err != nil {
		return err
	}
	if owner, ok := firstDifference(d.stmts, gotS); ok {
		return fmt.Errorf("account %s: its stored statement lines (%d) differ from the replay's (%d)", owner, gotS.count(owner), d.stmts.count(owner))
	}
	if owner, ok := firstDifference(d.idems, gotI); ok {
		return fmt.Errorf("actor %s: its stored idempotency records (%d) differ from its entries (%d)", owner, gotI.count(owner), d.idems.count(owner))
	}
	return nil
}

// byAccount replays the log again, this time summing the statement lines per account. The
// first replay keeps one sum of them all: a map lookup per party and entry (an account map
// that misses the CPU cache) was a tenth of the replay's time, and a per-account sum is
// needed only to name the account whose lines differ, after the sums disagreed.
func (d *dataCheck) byAccount() error {
	if d.stmts != nil {
		return nil
	}
	d.stmts, d.idems, d.stmtSum, d.statements, d.hashes = digests{}, digests{}, digest{}, 0, 0
	return d.l.Snapshot(func(s *store.Snapshot) error {
		d.r = newReplay(s, nil, nil)
		d.r.after = d.indexes
		return d.replayAll(s.HashReader())
	})
}

func (ds digests) count(owner string) int {
	if d := ds[owner]; d != nil {
		return d.n
	}
	return 0
}

// firstDifference returns the smallest owner whose digest differs between want and got.
func firstDifference(want, got digests) (string, bool) {
	var owners []string
	for o, w := range want {
		if g := got[o]; g == nil || *g != *w {
			owners = append(owners, o)
		}
	}
	for o := range got {
		if want[o] == nil {
			owners = append(owners, o)
		}
	}
	if len(owners) == 0 {
		return "", false
	}
	sort.Strings(owners)
	return owners[0], true
}

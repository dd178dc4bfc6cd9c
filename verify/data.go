package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"reflect"
	"slices"
	"sort"
	"sync/atomic"
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
	d := &dataCheck{l: l, seed: maphash.MakeSeed(), idems: digests{}}
	// The stored side of the comparison needs only the file: it is digested on its own
	// goroutine (and read transaction) while the replay runs.
	var stop atomic.Bool
	storedc := make(chan *stateDigests, 1)
	go func() { storedc <- d.digestStored(&stop) }()
	err = l.Snapshot(func(s *store.Snapshot) error {
		d.r = newReplay(s, cp, progress)
		d.r.after = d.indexes
		return d.replayAll(s.HashReader())
	})
	if err != nil {
		stop.Store(true)
		<-storedc
		return nil, err
	}
	if err := d.compare(<-storedc); err != nil {
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
	seed       maphash.Seed
	h          maphash.Hash // the replay's goroutine's
	stmtSum    digest       // all the statement lines the replay expects
	stmts      digests      // the same per account; nil but when naming a difference (byAccount)
	idems      digests      // per actor: the idempotency records the replay expects
	r          *replay
	parties    []ledger.AccountID // scratch, reused from entry to entry
	hashes     int
	statements int
}

// replayAll replays every stored entry. A second read transaction on another goroutine
// reads, decodes and checks the stored Merkle hashes of the entries ahead of the replay.
func (d *dataCheck) replayAll(hr tlog.HashReader) error {
	p := newPipe()
	p.produce(func(emit func(item) error) error {
		return d.l.Snapshot(func(s *store.Snapshot) error {
			var dec decoder
			var raw slab
			shr := &leafCache{HashReader: s.HashReader(), index: -1}
			return s.ForEachEntry(0, func(seq uint64, b []byte) error {
				if err := checkKey(dec.n+1, seq, b); err != nil {
					return err
				}
				leaf, err := checkHashes(shr, seq, b)
				if err != nil {
					return err
				}
				it, err := dec.decodeHashed(raw.copy(b), leaf)
				if err != nil {
					return err
				}
				return emit(it)
			})
		})
	})
	err := p.consume(func(it item) error {
		d.hashes += storedHashCount(it.e.Seq)
		return d.r.step(it)
	})
	if cerr := d.r.check.wait(); cerr != nil {
		return cerr // an entry before any the replay stopped at
	}
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
	if root != d.r.tree.Root() {
		return fmt.Errorf("the stored Merkle hashes give root %x, the entries %x", root, d.r.tree.Root())
	}
	return nil
}

// checkKey checks that the key seq of the entries bucket is that of entry want, the next in
// the log, and that the entry stored under it (b, canonical bytes) says the same seq. The
// store's cursor walks keys as they lie in the file: a key changed on disk is met where the
// entry was, and the replay, which counts entries, would not notice it; but the store's
// readers look an entry up by its key (export --data would find entry want missing).
func checkKey(want, seq uint64, b []byte) error {
	stored, ok := peekSeq(b)
	switch {
	case seq != want:
		under := ""
		if ok {
			under = fmt.Sprintf(" (under it, entry %d's bytes)", stored)
		}
		return fmt.Errorf("entry %d is not stored under its key: the entries bucket holds key %d%s where key %d belongs: an entry is missing or stored under the wrong key",
			want, seq, under, want)
	case ok && stored != seq:
		return fmt.Errorf("key %d of the entries bucket holds entry %d (its bytes say seq %d): an entry stored under the wrong key", seq, stored, stored)
	}
	return nil
}

// peekSeq reads the seq that canonical entry bytes begin with, {"seq":N, (docs/FORMAT.md);
// false when b does not begin so, which the strict decoder then names.
func peekSeq(b []byte) (uint64, bool) {
	const prefix = `{"seq":`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return 0, false
	}
	b = b[len(prefix):]
	end := bytes.IndexByte(b, ',')
	if end < 1 || end > 19 { // 19 digits never overflow a uint64; seqs are far shorter
		return 0, false
	}
	var n uint64
	for _, c := range b[:end] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// leafCache is a tlog.HashReader that answers the last leaf hash checkHashes computed
// without expanding that entry again from the store (level-0 hashes are not stored).
type leafCache struct {
	tlog.HashReader
	index int64
	hash  tlog.Hash
	rest  []int64 // scratch: the indexes read from the store
}

func (c *leafCache) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	at := slices.Index(indexes, c.index)
	if at < 0 {
		return c.HashReader.ReadHashes(indexes)
	}
	c.rest = append(append(c.rest[:0], indexes[:at]...), indexes[at+1:]...)
	hs, err := c.HashReader.ReadHashes(c.rest)
	if err != nil {
		return nil, err
	}
	return slices.Insert(hs, at, c.hash), nil
}

// checkHashes recomputes the Merkle hashes stored when entry seq was appended: every one
// of level 1 and above (the store keeps no leaf hashes; the leaf is the entry's hash, which
// it returns).
func checkHashes(hr *leafCache, seq uint64, b []byte) (tlog.Hash, error) {
	n := int64(seq - 1)
	want, err := tlog.StoredHashes(n, b, hr)
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("entry %d: stored hashes: %w", seq, err)
	}
	base := tlog.StoredHashIndex(0, n)
	hr.index, hr.hash = base, want[0]
	if len(want) == 1 {
		return want[0], nil
	}
	idx := make([]int64, len(want)-1)
	for i := range idx {
		idx[i] = base + 1 + int64(i)
	}
	got, err := hr.HashReader.ReadHashes(idx)
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("entry %d: stored hashes: %w", seq, err)
	}
	for i := range got {
		if got[i] != want[i+1] {
			return tlog.Hash{}, hashDiffers(idx[i])
		}
	}
	return want[0], nil
}

// hashDiffers names what a stored hash that differs from its recomputation implicates. A
// level-1 hash is computed from two entries' bytes; a higher one from stored hashes that were
// all checked before it, so only the hash itself can have changed.
func hashDiffers(index int64) error {
	level, k := tlog.SplitStoredHashIndex(index)
	if level == 1 {
		return fmt.Errorf("entry %d or entry %d was changed: stored Merkle hash %d, over the two, differs from their bytes (else the hash was changed)", 2*k+1, 2*k+2, index)
	}
	return fmt.Errorf("stored Merkle hash %d (level %d, over entries %d to %d) differs from the hashes below it: the stored hash was changed", index, level, k<<level+1, (k+1)<<level)
}

// storedHashCount is the number of hashes stored when entry seq was appended: those it
// completed, but for its own leaf hash.
func storedHashCount(seq uint64) int {
	n := int64(seq - 1)
	return int(tlog.StoredHashIndex(0, n+1)-tlog.StoredHashIndex(0, n)) - 1
}

// indexes adds the statement lines and the idempotency record entry e must have written to
// per-account digests; state() compares them with one sequential walk of the stored indexes.
func (d *dataCheck) indexes(e *ledger.Entry, _ []byte) error {
	parties, err := ledger.AppendParties(d.parties[:0], d.r.st, e)
	if err != nil {
		return err
	}
	d.parties = parties
	h := &d.h
	for _, id := range parties {
		a, _ := d.r.st.PeekAccount(id)
		if a == nil {
			return fmt.Errorf("entry %d: party %s has no account", e.Seq, id)
		}
		d.stmtStart(h, id, e.Seq)
		writeBalances(h, a.Balances, false)
		sum := h.Sum64()
		d.stmtSum.add(sum)
		if d.stmts != nil {
			d.stmts.add(string(id), sum)
		}
		d.statements++
	}
	d.idems.add(e.Actor, d.idemHash(h, e.IdempotencyKey, e.Seq))
	return nil
}

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

// state compares every stored record of derived state with the replay's, one kind at a
// time, and names the first that differs: the slow path, taken when the digests differ.
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
	return d.walkIndexes()
}

// policy compares the stored policy in force with the replay's.
func (d *dataCheck) policy() error {
	want, _ := json.Marshal(d.r.st.Policy())
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
	err := d.l.ForEachAccount(func(a *ledger.Account) error {
		w, ok := want[a.ID]
		if !ok {
			return fmt.Errorf("account %s is stored but no entry opened it", a.ID)
		}
		if g := normal(a); !reflect.DeepEqual(g, w) {
			return fmt.Errorf("account %s differs:\n stored:   %+v\n replayed: %+v", a.ID, *g, *w)
		}
		delete(want, a.ID)
		return nil
	})
	if err == nil && len(want) > 0 {
		missing := make([]string, 0, len(want))
		for id := range want {
			missing = append(missing, string(id))
		}
		sort.Strings(missing)
		err = fmt.Errorf("account %s was opened by the log but is not stored (%d missing)", missing[0], len(missing))
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

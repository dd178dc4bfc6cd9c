package verify

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
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
	// The store stamps its next entry later than the head's time: a wrong one would date
	// every entry written from then on.
	if t, last := d.l.LastTime(), d.r.rp.LastTime; t != last {
		return fmt.Errorf("the store's head says the last entry's time is %s, but entry %d's is %s",
			ledger.FormatTime(t), d.r.tree.n, ledger.FormatTime(last))
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

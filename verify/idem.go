package verify

import (
	"fmt"
	"hash/maphash"

	"github.com/timebank/timebank/ledger"
)

// idemIndex refuses a repeated (actor, Idempotency-Key). The server never writes two
// entries with the same pair: a repeated request gets the first entry's answer again, or is
// refused with idempotency_key_reused. The rules (ledger.Decide) judge each entry alone and
// cannot see it. --data does not use it: there the stored idempotency records (one per
// pair) are compared with the entries, which finds a repeat as a differing count.
//
// It keeps, per entry, a keyed 64-bit hash of actor‖0‖key and where the entry's line
// starts, not the strings (docs/PERFORMANCE.md, Verify). Two different pairs share a hash
// with a chance of 2^-64 (the seed is random, so a forged log cannot aim for it): on a
// shared hash the earlier entry is read back (at) and its pair compared, and a pair that
// only shared a hash is kept whole from then on.
type idemIndex struct {
	h     maphash.Hash
	first map[uint64]int64  // hash of the pair → offset of its entry's line
	exact map[string]uint64 // actor‖0‖key → seq, for pairs whose hash another pair took
	at    func(offset int64) (*ledger.Entry, error)
}

func newIdemIndex(at func(offset int64) (*ledger.Entry, error)) *idemIndex {
	x := &idemIndex{first: map[uint64]int64{}, at: at}
	x.h.SetSeed(maphash.MakeSeed())
	return x
}

// add records the pair of e, entry seq (its place in the log) whose line starts at offset,
// or returns the difference naming both entries when an earlier entry has the pair.
func (x *idemIndex) add(e *ledger.Entry, seq uint64, offset int64) error {
	x.h.Reset()
	x.h.WriteString(e.Actor)
	x.h.WriteByte(0)
	x.h.WriteString(e.IdempotencyKey)
	sum := x.h.Sum64()
	if x.exact != nil {
		if first, ok := x.exact[e.Actor+"\x00"+e.IdempotencyKey]; ok {
			return repeatedKey(e, seq, first)
		}
	}
	at, ok := x.first[sum]
	if !ok {
		x.first[sum] = offset
		return nil
	}
	earlier, err := x.at(at)
	if err != nil {
		return fmt.Errorf("entry %d: reading back an earlier entry of the same hash of actor and key: %w", seq, err)
	}
	if earlier.Actor == e.Actor && earlier.IdempotencyKey == e.IdempotencyKey {
		return repeatedKey(e, seq, earlier.Seq)
	}
	if x.exact == nil {
		x.exact = map[string]uint64{}
	}
	x.exact[e.Actor+"\x00"+e.IdempotencyKey] = seq
	return nil
}

func repeatedKey(e *ledger.Entry, seq, first uint64) error {
	return fmt.Errorf("entry %d (%s): actor %s and Idempotency-Key %q are those of entry %d: the server makes one entry of a key (a repeated request is answered with the first, or refused)",
		seq, e.Type, e.Actor, e.IdempotencyKey, first)
}

package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// view is a ledger.View over one bbolt transaction, read or write. Its results are copies:
// nothing it returns aliases the mmap, so they outlive the transaction.
type view struct {
	tx      *bbolt.Tx
	entries *bbolt.Bucket
	state   *bbolt.Bucket
	ilines  *bbolt.Bucket
	holds   *bbolt.Bucket
	rev     *bbolt.Bucket
	tlog    *bbolt.Bucket
	meta    *bbolt.Bucket
	assets  ledger.Assets
	table   *assetTable
	policy  *ledger.Policy
	packer  *entryPacker
}

var _ ledger.View = (*view)(nil)

func newView(tx *bbolt.Tx, l *Ledger, assets ledger.Assets, table *assetTable, policy *ledger.Policy) *view {
	return &view{
		tx: tx, entries: tx.Bucket(bucketEntries), state: tx.Bucket(bucketState), ilines: tx.Bucket(bucketIssuerLines),
		holds: tx.Bucket(bucketHolds), rev: tx.Bucket(bucketRev), tlog: tx.Bucket(bucketTlog),
		meta: tx.Bucket(bucketMeta), assets: assets, table: table, policy: policy, packer: l.packer,
	}
}

// Policy is the policy in force for the next entry; nil before genesis.
func (v *view) Policy() *ledger.Policy { return v.policy }

func (v *view) Account(id ledger.AccountID) (*ledger.Account, error) {
	b := v.state.Get(accountKey(id))
	if b == nil {
		return nil, nil
	}
	return decodeAccount(id, v.table, b)
}

func (v *view) Hold(id uint64) (*ledger.Hold, error) {
	b := v.holds.Get(seqKey(id))
	if b == nil {
		return nil, nil
	}
	return decodeHold(id, v.table, b)
}

func (v *view) Linked(a, b ledger.AccountID) (bool, error) {
	return v.state.Get(linkKey(a, b)) != nil, nil
}

func (v *view) SessionBefore(volunteer ledger.AccountID, t int64) (*ledger.Session, error) {
	prefix := sessionPrefix(volunteer)
	c := v.state.Cursor()
	// The key just before the first one with start ≥ t has the greatest start < t, if it
	// is this volunteer's.
	var k, val []byte
	if k, _ = c.Seek(sessionStartKey(volunteer, t)); k == nil {
		k, val = c.Last()
	} else {
		k, val = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	s, err := sessionFrom(k[len(prefix):], val)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func (v *view) SessionsIn(volunteer ledger.AccountID, from, to int64) ([]ledger.Session, error) {
	prefix := sessionPrefix(volunteer)
	c := v.state.Cursor()
	var out []ledger.Session
	for k, val := c.Seek(sessionStartKey(volunteer, from)); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
		s, err := sessionFrom(k[len(prefix):], val)
		if err != nil {
			return nil, err
		}
		if s.Start >= to {
			break
		}
		out = append(out, s)
	}
	return out, nil
}

func sessionFrom(rest, val []byte) (ledger.Session, error) {
	start, seq, err := parseSessionRest(rest)
	if err != nil {
		return ledger.Session{}, err
	}
	return decodeSession(start, seq, val)
}

func (v *view) Entry(seq uint64) (*ledger.Entry, error) {
	b, err := v.entryBytes(nil, seq)
	if b == nil || err != nil {
		return nil, err
	}
	return ledger.DecodeEntry(b, v.assets)
}

// entryBytes appends the canonical bytes of entry seq to dst; nil, nil when there is none.
func (v *view) entryBytes(dst []byte, seq uint64) ([]byte, error) {
	return getEntry(v.entries, v.packer, dst, seq)
}

func getEntry(entries *bbolt.Bucket, p *entryPacker, dst []byte, seq uint64) ([]byte, error) {
	var k [8]byte
	putSeqKey(k[:], seq)
	stored := entries.Get(k[:])
	if stored == nil {
		return nil, nil
	}
	return p.unpack(dst, stored, seq)
}

func (v *view) ReversedBy(seq uint64) (uint64, error) {
	b := v.rev.Get(seqKey(seq))
	if b == nil {
		return 0, nil
	}
	return decodeUvarint(b)
}

// readPolicy reads the genesis assets and the policy in force from the meta bucket.
func readPolicy(meta *bbolt.Bucket) (ledger.Assets, *ledger.Policy, error) {
	var assets ledger.Assets
	if err := json.Unmarshal(meta.Get(metaAssets), &assets); err != nil {
		return nil, nil, fmt.Errorf("%w: meta assets: %v", ErrCorrupt, err)
	}
	p := new(ledger.Policy)
	if err := json.Unmarshal(meta.Get(metaPolicy), p); err != nil {
		return nil, nil, fmt.Errorf("%w: meta policy: %v", ErrCorrupt, err)
	}
	if err := p.Compile(assets); err != nil {
		return nil, nil, fmt.Errorf("stored policy: %w", err)
	}
	return assets, p, nil
}

// hashReader is the tlog.HashReader of a transaction: hashes of level 1 and above from the
// tlog bucket, level-0 hashes (the leaves, not stored) computed from the entries bucket.
// leaf, when set, remembers the last leaf hash computed or stored, which is the one the
// next append reads whenever it needs one.
type hashReader struct {
	cur     *bbolt.Cursor // over the tlog bucket, repositioned by every read: one for all
	entries *bbolt.Bucket
	packer  *entryPacker
	leaf    *lastLeaf
}

type lastLeaf struct {
	index int64 // stored hash index of the leaf; -1 for none
	hash  tlog.Hash
}

func newHashReader(tx *bbolt.Tx, p *entryPacker) hashReader {
	return hashReader{cur: tx.Bucket(bucketTlog).Cursor(), entries: tx.Bucket(bucketEntries), packer: p}
}

func (h hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var k [8]byte
	var buf []byte
	for i, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("store: stored hash index %d", x)
		}
		if level, n := tlog.SplitStoredHashIndex(x); level == 0 {
			if h.leaf != nil && h.leaf.index == x {
				out[i] = h.leaf.hash
				continue
			}
			var err error
			if buf, err = getEntry(h.entries, h.packer, buf[:0], uint64(n)+1); err != nil {
				return nil, err
			}
			if buf == nil {
				return nil, fmt.Errorf("%w: entry %d, a leaf of the Merkle tree, is missing", ErrCorrupt, n+1)
			}
			out[i] = tlog.RecordHash(buf)
			continue
		}
		putSeqKey(k[:], uint64(x))
		// A Seek instead of Get: Get makes a cursor a read. Seek finds the first key at or
		// after k (and repositions after the write transaction's Puts).
		got, v := h.cur.Seek(k[:])
		if !bytes.Equal(got, k[:]) {
			v = nil
		}
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("%w: stored hash %d is missing or %d bytes long", ErrCorrupt, x, len(v))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

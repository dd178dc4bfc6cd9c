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
	holds   *bbolt.Bucket
	rev     *bbolt.Bucket
	tlog    *bbolt.Bucket
	meta    *bbolt.Bucket
	assets  ledger.Assets
	table   *assetTable
	policy  *ledger.Policy
}

var _ ledger.View = (*view)(nil)

func newView(tx *bbolt.Tx, assets ledger.Assets, table *assetTable, policy *ledger.Policy) *view {
	return &view{
		tx: tx, entries: tx.Bucket(bucketEntries), state: tx.Bucket(bucketState),
		holds: tx.Bucket(bucketHolds), rev: tx.Bucket(bucketRev), tlog: tx.Bucket(bucketTlog),
		meta: tx.Bucket(bucketMeta), assets: assets, table: table, policy: policy,
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
	b := v.entries.Get(seqKey(seq))
	if b == nil {
		return nil, nil
	}
	return ledger.DecodeEntry(b, v.assets)
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

// hashReader reads stored Merkle hashes from the tlog bucket of a transaction.
type hashReader struct{ b *bbolt.Bucket }

func (h hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var k [8]byte
	for i, x := range indexes {
		putSeqKey(k[:], uint64(x))
		v := h.b.Get(k[:])
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("%w: stored hash %d is missing or %d bytes long", ErrCorrupt, x, len(v))
		}
		copy(out[i][:], v)
	}
	return out, nil
}

package store

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// txState is the ledger.State of one batch: a view over the sequencer's write transaction
// with a write-back cache of account records. The issuer accounts are touched by every
// credit; the cache decodes each account once per batch and encodes and puts it once, at
// flush, instead of once per entry. Every other change goes to its bucket at once, where
// later reads of the same transaction see it.
type txState struct {
	*view
	accounts map[ledger.AccountID]*cachedAccount
	dirty    []ledger.AccountID // accounts to put at flush, in first-change order
	arena    []byte             // value bytes handed to Put (bbolt keeps them until commit)
	canon    []byte             // scratch for an entry's canonical bytes (compressed and hashed, not kept)
	packed   []byte             // scratch for an entry's compressed bytes, copied to the arena
	key      []byte             // scratch for keys: bbolt copies the keys it keeps
	parties  []ledger.AccountID // scratch for an entry's parties
	lastSeq  uint64
	lastTime int64
	appended int        // entries appended in this transaction
	leaf     lastLeaf   // the last leaf hash, for the next append's Merkle hashes
	hr       hashReader // made at the first append; see hashes
	// liveTokens: the token ids found live in this transaction (checkToken). A revocation
	// is a transaction of its own, so none can happen in between; a batch's requests mostly
	// share a few tokens.
	liveTokens map[string]struct{}
}

// hashes is the transaction's hash reader, remembering the last leaf appended.
func (st *txState) hashes() hashReader {
	if st.hr.cur == nil {
		st.hr = newHashReader(st.tx, st.packer)
		st.hr.leaf = &st.leaf
	}
	return st.hr
}

// stateFillPercent is where bbolt splits a full state page. The state bucket mixes
// append-only runs (the issuers' and stations' statement lines) with random inserts (each
// resident's lines and sessions). 0.5, bbolt's default, leaves the runs half empty; 1.0
// splits a full page into a full one and a sliver, and the slivers multiply under random
// inserts. 0.75 made the smallest file of 0.5, 0.75, 0.9 and 1.0 (200,000 credits to 20,000
// residents: 431 bytes of state per entry against 522, 467 and 882).
const stateFillPercent = 0.75

type cachedAccount struct {
	acc   *ledger.Account // nil: known not to exist
	dirty bool
}

var (
	_ ledger.State         = (*txState)(nil)
	_ ledger.AccountPeeker = (*txState)(nil)
)

func newTxState(tx *bbolt.Tx, l *Ledger, h *head) *txState {
	v := newView(tx, l, l.assets, l.table, h.policy)
	// FillPercent lives in the Bucket value of one transaction: set it every time. The
	// append-only buckets only ever grow at their right edge, so pages can be filled whole.
	v.entries.FillPercent = 1.0
	v.tlog.FillPercent = 1.0
	v.rev.FillPercent = 0.9 // almost append-only: reversals are of recent entries
	v.holds.FillPercent = 1.0
	v.ilines.FillPercent = 1.0
	v.state.FillPercent = stateFillPercent
	return &txState{view: v, accounts: map[ledger.AccountID]*cachedAccount{},
		lastSeq: h.size, lastTime: h.lastTime, leaf: lastLeaf{index: -1}}
}

// Account returns a copy of the account as this batch last left it.
func (st *txState) Account(id ledger.AccountID) (*ledger.Account, error) {
	a, err := st.PeekAccount(id)
	if a == nil || err != nil {
		return nil, err
	}
	return a.Clone(), nil
}

// PeekAccount is Account without the copy (ledger.AccountPeeker): the caller must not
// change the result. Decide uses it; it only reads.
func (st *txState) PeekAccount(id ledger.AccountID) (*ledger.Account, error) {
	if c, ok := st.accounts[id]; ok {
		return c.acc, nil
	}
	a, err := st.view.Account(id)
	if err != nil {
		return nil, err
	}
	st.accounts[id] = &cachedAccount{acc: a}
	return a, nil
}

func (st *txState) PutAccount(a *ledger.Account) error {
	c, ok := st.accounts[a.ID]
	if !ok {
		c = &cachedAccount{}
		st.accounts[a.ID] = c
	}
	if !c.dirty {
		c.dirty = true
		st.dirty = append(st.dirty, a.ID)
	}
	c.acc = a.Clone()
	return nil
}

func (st *txState) PutHold(h *ledger.Hold) error {
	v, err := encodeHold(st.table, h)
	if err != nil {
		return err
	}
	return st.holds.Put(seqKey(h.ID), v)
}

func (st *txState) AddSession(volunteer ledger.AccountID, s ledger.Session) error {
	return st.state.Put(sessionKey(volunteer, s.Start, s.Seq), encodeSession(nil, s))
}

func (st *txState) DeleteSession(volunteer ledger.AccountID, s ledger.Session) error {
	return st.state.Delete(sessionKey(volunteer, s.Start, s.Seq))
}

// PutLink records the relation both ways, so that Linked is one Get either way round.
func (st *txState) PutLink(a, b ledger.AccountID, relation string) error {
	if err := st.state.Put(linkKey(a, b), []byte(relation)); err != nil {
		return err
	}
	return st.state.Put(linkKey(b, a), []byte(relation))
}

func (st *txState) SetReversed(seq, by uint64) error {
	return st.rev.Put(seqKey(seq), encodeUvarint(by))
}

// SetPolicy stores p as the policy in force for the next entry. The first call (genesis)
// also fixes the asset table.
func (st *txState) SetPolicy(p *ledger.Policy) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store: encode policy: %w", err)
	}
	if st.assets == nil {
		ab, err := json.Marshal(p.Assets)
		if err != nil {
			return fmt.Errorf("store: encode assets: %w", err)
		}
		if err := st.meta.Put(metaAssets, ab); err != nil {
			return err
		}
		st.assets = p.Assets
		st.table = newAssetTable(p.Assets)
	}
	st.policy = p
	return st.meta.Put(metaPolicy, b)
}

// value returns the bytes fn appends, built in the batch's arena. bbolt keeps a Put value
// until commit, so a value buffer may never be reused within a transaction; the arena makes
// one allocation serve many values. fn should append at most 256 bytes: beyond the arena's
// room, append copies the whole arena to a new array (see copyValue for longer values).
func (st *txState) value(fn func([]byte) ([]byte, error)) ([]byte, error) {
	st.room(256)
	start := len(st.arena)
	out, err := fn(st.arena)
	if err != nil {
		return nil, err
	}
	if cap(out) == cap(st.arena) {
		st.arena = out
	} // else fn outgrew the arena: out is a new array of its own, the arena is unchanged
	return out[start:len(out):len(out)], nil
}

// copyValue returns a copy of v in the arena, which it first makes room for.
func (st *txState) copyValue(v []byte) []byte {
	st.room(len(v))
	start := len(st.arena)
	st.arena = append(st.arena, v...)
	return st.arena[start:len(st.arena):len(st.arena)]
}

// room makes sure the arena has n bytes free, starting a new one if not.
func (st *txState) room(n int) {
	if cap(st.arena)-len(st.arena) < n {
		st.arena = make([]byte, 0, max(64<<10, n))
	}
}

// flush puts every changed account record and the meta counters, and returns the root of
// the tree, which it also stores.
func (st *txState) flush() (tlog.Hash, error) {
	for _, id := range st.dirty {
		a := st.accounts[id].acc
		v, err := encodeAccount(nil, st.table, a)
		if err != nil {
			return tlog.Hash{}, err
		}
		if err := st.state.Put(accountKey(id), v); err != nil {
			return tlog.Hash{}, err
		}
	}
	st.dirty = st.dirty[:0]
	root, err := tlog.TreeHash(int64(st.lastSeq), st.hashes())
	if err != nil {
		return tlog.Hash{}, err
	}
	for _, kv := range [][2][]byte{
		{metaLastSeq, encodeUvarint(st.lastSeq)},
		{metaTreeSize, encodeUvarint(st.lastSeq)},
		{metaTreeRoot, root[:]},
		{metaLastTime, encodeVarint(st.lastTime)},
	} {
		if err := st.meta.Put(kv[0], kv[1]); err != nil {
			return tlog.Hash{}, err
		}
	}
	return root, nil
}

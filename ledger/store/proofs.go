package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// checkpointCache keeps the last signed checkpoint: signing is cheap, but a busy
// GET /v1/checkpoint between two commits need not sign again.
type checkpointCache struct {
	mu   sync.Mutex
	size uint64
	note []byte
}

// TreeSize is the number of committed entries: the last seq and the Merkle tree size.
func (l *Ledger) TreeSize() uint64 { return l.head.Load().size }

// LastTime is the time (UTC µs) of the last committed entry as the head records it: the
// next entry is stamped later than it.
func (l *Ledger) LastTime() int64 { return l.head.Load().lastTime }

// Root returns the tree size and root hash after the last commit.
func (l *Ledger) Root() (uint64, tlog.Hash) {
	h := l.head.Load()
	return h.size, h.root
}

// CheckpointText is the C2SP tlog-checkpoint body: origin, decimal size and standard-base64
// root, each ending in a newline.
func CheckpointText(origin string, size uint64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// Checkpoint returns the signed note of the tree after the last commit. It covers every
// entry acknowledged before the call: callers are answered only after the head moved.
func (l *Ledger) Checkpoint() ([]byte, error) {
	if l.signer == nil {
		return nil, fmt.Errorf("store: %s has no signing key (%s)", l.dir, KeyFile)
	}
	h := l.head.Load()
	c := &l.ckpt
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.note == nil || c.size != h.size {
		msg, err := note.Sign(&note.Note{Text: CheckpointText(l.name, h.size, h.root)}, l.signer)
		if err != nil {
			return nil, fmt.Errorf("store: sign checkpoint: %w", err)
		}
		c.size, c.note = h.size, msg
	}
	return append([]byte(nil), c.note...), nil
}

// VerifierKey returns the note verifier key of the checkpoint signer ("" when a read-only
// directory has neither key file).
func (l *Ledger) VerifierKey() string { return l.vkey }

// Name is the ledger's name: the checkpoint origin.
func (l *Ledger) Name() string { return l.name }

// InclusionProof proves entry seq (leaf seq−1) in the tree of treeSize entries. seq 0, or a
// treeSize of 0 or beyond the tree, or seq > treeSize is invalid_field; a seq beyond the
// tree is not_found.
func (l *Ledger) InclusionProof(seq, treeSize uint64) (tlog.Hash, tlog.RecordProof, error) {
	size := l.TreeSize()
	switch {
	case seq == 0:
		return tlog.Hash{}, nil, badArg("seq", "The seq must be at least 1.")
	case seq > size:
		return tlog.Hash{}, nil, ledger.Errorf(ledger.CodeNotFound, "There is no entry %d; the ledger has %d entries.", seq, size).
			With("seq", seq)
	case treeSize < seq || treeSize > size:
		return tlog.Hash{}, nil, badArg("tree_size", "The tree_size must be from seq (%d) to the tree size (%d).", seq, size)
	}
	var leaf tlog.Hash
	var proof tlog.RecordProof
	err := l.view(func(tx *bbolt.Tx) error {
		r := newHashReader(tx, l.packer)
		hs, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(seq-1))})
		if err != nil {
			return err
		}
		leaf = hs[0]
		proof, err = tlog.ProveRecord(int64(treeSize), int64(seq-1), r)
		return err
	})
	if err != nil {
		return tlog.Hash{}, nil, fmt.Errorf("store: inclusion proof of %d in %d: %w", seq, treeSize, err)
	}
	return leaf, proof, nil
}

// ConsistencyProof proves that the tree of oldSize entries is a prefix of the tree of
// newSize. It needs 1 ≤ oldSize ≤ newSize ≤ TreeSize, else invalid_field.
func (l *Ledger) ConsistencyProof(oldSize, newSize uint64) (tlog.TreeProof, error) {
	size := l.TreeSize()
	if oldSize < 1 || oldSize > newSize || newSize > size {
		return nil, badArg("old_size", "The sizes must satisfy 1 ≤ old_size ≤ new_size ≤ %d (the tree size).", size)
	}
	var proof tlog.TreeProof
	err := l.view(func(tx *bbolt.Tx) error {
		var err error
		proof, err = tlog.ProveTree(int64(newSize), int64(oldSize), newHashReader(tx, l.packer))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: consistency proof %d→%d: %w", oldSize, newSize, err)
	}
	return proof, nil
}

// TreeHash returns the root of the tree of the first n entries, n ≤ TreeSize.
func (l *Ledger) TreeHash(n uint64) (tlog.Hash, error) {
	if n > l.TreeSize() {
		return tlog.Hash{}, errors.New("store: tree size beyond the log")
	}
	var root tlog.Hash
	err := l.view(func(tx *bbolt.Tx) error {
		var err error
		root, err = tlog.TreeHash(int64(n), newHashReader(tx, l.packer))
		return err
	})
	return root, err
}

func badArg(field, format string, args ...any) *ledger.Error {
	return ledger.Errorf(ledger.CodeInvalidField, format, args...).With("field", field)
}

package store

import (
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// Snapshot reads entries, Merkle hashes and (for reversals) single entries within one read
// transaction: the walk of `timebank verify --data` reads several times per entry, and a
// transaction per read cost more than the reads. Valid only during the function passed to (*Ledger).Snapshot.
type Snapshot struct {
	l *Ledger
	v *view
}

// Snapshot runs fn with a Snapshot of the committed state. Keep it for one long walk of a
// stopped ledger; on a serving ledger a long read transaction holds old pages alive.
func (l *Ledger) Snapshot(fn func(*Snapshot) error) error {
	return l.readView(func(v *view) error { return fn(&Snapshot{l: l, v: v}) })
}

// ForEachEntry is (*Ledger).ForEachEntry inside the snapshot; b aliases the file.
func (s *Snapshot) ForEachEntry(afterSeq uint64, fn func(seq uint64, b []byte) error) error {
	c := s.v.entries.Cursor()
	for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil; k, v = c.Next() {
		seq, err := parseSeqKey(k)
		if err != nil {
			return err
		}
		if err := fn(seq, v); err != nil {
			return err
		}
	}
	return nil
}

// Entry returns entry seq, or nil (a ledger.EntrySource).
func (s *Snapshot) Entry(seq uint64) (*ledger.Entry, error) { return s.v.Entry(seq) }

// HashReader reads the stored Merkle hashes.
func (s *Snapshot) HashReader() tlog.HashReader { return hashReader{s.v.tx.Bucket(bucketTlog)} }

// WalkIndexes calls stmt for every statement line and idem for every idempotency record, in
// one sequential pass over the state bucket (key order: by account or actor). verify
// --data checks the indexes this way: one pass in file order instead of a random read per
// line. balances aliases nothing; key is a copy.
func (l *Ledger) WalkIndexes(stmt func(id ledger.AccountID, seq uint64, balances map[string]int64) error,
	idem func(actor, key string, seq uint64) error) error {
	return l.forEachState(func(owner string, tag byte, rest, v []byte) error {
		switch tag {
		case tagStatement:
			seq, err := parseSeqKey(rest)
			if err != nil {
				return err
			}
			b, err := decodeStatement(l.table, v)
			if err != nil {
				return err
			}
			return stmt(ledger.AccountID(owner), seq, b)
		case tagIdem:
			seq, _, err := decodeIdem(v)
			if err != nil {
				return err
			}
			return idem(owner, string(rest), seq)
		}
		return nil
	})
}

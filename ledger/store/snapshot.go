package store

import (
	"fmt"

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

// ForEachEntry is (*Ledger).ForEachEntry inside the snapshot; b is valid only during fn.
func (s *Snapshot) ForEachEntry(afterSeq uint64, fn func(seq uint64, b []byte) error) error {
	from, ok := firstAfter(afterSeq)
	if !ok {
		return nil
	}
	c := s.v.entries.Cursor()
	var buf []byte
	for k, v := c.Seek(seqKey(from)); k != nil; k, v = c.Next() {
		seq, err := parseSeqKey(k)
		if err != nil {
			return err
		}
		if buf, err = s.v.packer.unpack(buf[:0], v, seq); err != nil {
			return err
		}
		if err := fn(seq, buf); err != nil {
			return err
		}
	}
	return nil
}

// Entry returns entry seq, or nil (a ledger.EntrySource).
func (s *Snapshot) Entry(seq uint64) (*ledger.Entry, error) { return s.v.Entry(seq) }

// HashReader reads the stored Merkle hashes.
func (s *Snapshot) HashReader() tlog.HashReader { return newHashReader(s.v.tx, s.l.packer) }

// StateWalk holds the callbacks of WalkState, one per kind of state record; a nil one skips
// its records.
type StateWalk struct {
	Account func(a *ledger.Account) error
	// Statement gets balances in a map that is reused: valid only during the call.
	Statement func(id ledger.AccountID, seq uint64, balances map[string]int64) error
	Session   func(volunteer ledger.AccountID, s ledger.Session) error
	Link      func(a, b ledger.AccountID, relation string) error
	Idem      func(actor, key string, seq uint64) error
}

// WalkState calls w's callbacks for every record of the state bucket, in one sequential pass
// in key order (by account or actor, then kind), one read transaction. verify --data
// digests the stored state this way, beside its replay: one pass in file order instead of a
// walk per kind or a random read per record.
func (l *Ledger) WalkState(w StateWalk) error {
	balances := map[string]int64{}
	return l.forEachState(func(owner string, tag byte, rest, v []byte) error {
		switch tag {
		case tagAccount:
			if w.Account == nil {
				return nil
			}
			if len(rest) != 0 {
				return fmt.Errorf("%w: account key of %s", ErrCorrupt, owner)
			}
			a, err := decodeAccount(ledger.AccountID(owner), l.table, v)
			if err != nil {
				return err
			}
			return w.Account(a)
		case tagStatement:
			if w.Statement == nil {
				return nil
			}
			seq, err := parseSeqKey(rest)
			if err != nil {
				return err
			}
			clear(balances)
			if err := decodeStatementInto(l.table, v, balances); err != nil {
				return err
			}
			return w.Statement(ledger.AccountID(owner), seq, balances)
		case tagSession:
			if w.Session == nil {
				return nil
			}
			s, err := sessionFrom(rest, v)
			if err != nil {
				return err
			}
			return w.Session(ledger.AccountID(owner), s)
		case tagLink:
			if w.Link == nil {
				return nil
			}
			return w.Link(ledger.AccountID(owner), ledger.AccountID(rest), string(v))
		case tagIdem:
			if w.Idem == nil {
				return nil
			}
			seq, _, err := decodeIdem(v)
			if err != nil {
				return err
			}
			return w.Idem(owner, string(rest), seq)
		}
		return fmt.Errorf("%w: state key of %s with tag %q", ErrCorrupt, owner, tag)
	})
}

package store

import (
	"fmt"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// Read-only iteration over everything stored, decoded to ledger types, for
// `timebank verify --data` (which compares it with its own replay) and for tests. Each
// ForEach runs in one read transaction: open the store with Options.ReadOnly (a stopped
// server's directory or a backup) before a long walk. The values handed to fn are copies
// except where a doc comment says otherwise. fn's error stops the walk and is returned.

// ForEachEntry calls fn with the seq and canonical bytes of every entry with seq > afterSeq,
// in order. b is reused: it is valid only during fn.
func (l *Ledger) ForEachEntry(afterSeq uint64, fn func(seq uint64, b []byte) error) error {
	return l.Snapshot(func(s *Snapshot) error { return s.ForEachEntry(afterSeq, fn) })
}

// ForEachAccount calls fn with every stored account record, in id order.
func (l *Ledger) ForEachAccount(fn func(*ledger.Account) error) error {
	return l.WalkState(StateWalk{Account: fn})
}

// ForEachSession calls fn with every stored (unreversed) session, by volunteer then start.
func (l *Ledger) ForEachSession(fn func(volunteer ledger.AccountID, s ledger.Session) error) error {
	return l.WalkState(StateWalk{Session: fn})
}

// ForEachLink calls fn with every stored link, once per direction (a→b and b→a).
func (l *Ledger) ForEachLink(fn func(a, b ledger.AccountID, relation string) error) error {
	return l.WalkState(StateWalk{Link: fn})
}

// ForEachHold calls fn with every hold, in id order.
func (l *Ledger) ForEachHold(fn func(*ledger.Hold) error) error {
	return l.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketHolds).ForEach(func(k, v []byte) error {
			id, err := parseSeqKey(k)
			if err != nil {
				return err
			}
			h, err := decodeHold(id, l.table, v)
			if err != nil {
				return err
			}
			return fn(h)
		})
	})
}

// ForEachReversal calls fn with every reversed entry's seq and its reversal's seq.
func (l *Ledger) ForEachReversal(fn func(seq, by uint64) error) error {
	return l.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRev).ForEach(func(k, v []byte) error {
			seq, err := parseSeqKey(k)
			if err != nil {
				return err
			}
			by, err := decodeUvarint(v)
			if err != nil {
				return fmt.Errorf("reversal of %d: %w", seq, err)
			}
			return fn(seq, by)
		})
	})
}

// StatementLine returns the balances after entry seq stored in account id's statement.
func (l *Ledger) StatementLine(id ledger.AccountID, seq uint64) (balances map[string]int64, ok bool, err error) {
	err = l.readView(func(v *view) error {
		line, err := v.statementBytes(id, seq)
		if line == nil || err != nil {
			return err
		}
		ok = true
		balances, err = decodeStatement(l.table, line)
		return err
	})
	return balances, ok, err
}

// IdempotencyRecord returns the entry seq and request fingerprint stored for (actor, key).
func (l *Ledger) IdempotencyRecord(actor, key string) (seq uint64, fp [32]byte, ok bool, err error) {
	err = l.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketState).Get(idemKey(actor, key))
		if v == nil {
			return nil
		}
		ok = true
		seq, fp, err = decodeIdem(v)
		return err
	})
	return seq, fp, ok, err
}

// Counts are the numbers of records of each kind in the state and index buckets.
type Counts struct {
	Entries, StoredHashes, Accounts, StatementLines, Sessions, Links, IdempotencyRecords, Holds, Reversals int
}

// Count counts every stored record. verify compares the statement line and idempotency
// record counts with its replay's (one line per party per entry, one record per entry).
func (l *Ledger) Count() (Counts, error) {
	var c Counts
	err := l.forEachState(func(owner string, tag byte, rest, v []byte) error {
		switch tag {
		case tagAccount:
			c.Accounts++
		case tagStatement:
			c.StatementLines++
		case tagSession:
			c.Sessions++
		case tagLink:
			c.Links++
		case tagIdem:
			c.IdempotencyRecords++
		default:
			return fmt.Errorf("%w: state key of %s with tag %q", ErrCorrupt, owner, tag)
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	err = l.view(func(tx *bbolt.Tx) error {
		c.Entries = tx.Bucket(bucketEntries).Stats().KeyN
		c.StoredHashes = tx.Bucket(bucketTlog).Stats().KeyN
		c.Holds = tx.Bucket(bucketHolds).Stats().KeyN
		c.Reversals = tx.Bucket(bucketRev).Stats().KeyN
		return nil
	})
	return c, err
}

// StoredHashes runs fn with a tlog.HashReader over the stored Merkle hashes, valid only
// during fn (one read transaction).
func (l *Ledger) StoredHashes(fn func(tlog.HashReader) error) error {
	return l.view(func(tx *bbolt.Tx) error { return fn(newHashReader(tx, l.packer)) })
}

// forEachState walks the state bucket in key order, one read transaction.
func (l *Ledger) forEachState(fn func(owner string, tag byte, rest, v []byte) error) error {
	return l.view(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketState).ForEach(func(k, v []byte) error {
			owner, tag, rest, err := splitStateKey(k)
			if err != nil {
				return err
			}
			return fn(owner, tag, rest, v)
		})
		if err != nil {
			return err
		}
		// The issuers' statement lines, as if they were in the state bucket.
		return tx.Bucket(bucketIssuerLines).ForEach(func(k, v []byte) error {
			if _, err := parseSeqKey(k); err != nil {
				return err
			}
			return readIssuerLines(l.table, v, func(id ledger.AccountID, line []byte) error {
				return fn(string(id), tagStatement, k, line)
			})
		})
	})
}

package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// MaxPageLimit is the largest page a client may ask for (SPEC §4: limit 1–500).
// MaxReadLimit is the most rows Entries and AccountEntries return: a full page and one row
// of look-ahead, by which the caller tells whether another page follows (next_after_seq)
// within the same read transaction, without a second read.
const (
	MaxPageLimit = 500
	MaxReadLimit = MaxPageLimit + 1
)

// errReadLimit is a limit outside 1 to MaxReadLimit: the caller's bug, not the client's,
// since the API checks the client's limit (and answers its own invalid_field) first. It is
// not a *ledger.Error, so it answers 500 and reaches the log rather than blaming the client.
var errReadLimit = errors.New("store: read limit out of range")

// Export reads the log in chunks of at most exportChunkEntries entries or about
// exportChunkBytes bytes, each in its own short read transaction: a slow reader never holds
// a transaction open (which would pin old pages and block remaps), nor the whole log in memory.
// Variables only so that a test can make chunks small.
var (
	exportChunkEntries uint64 = 4096
	exportChunkBytes          = 2 << 20
)

// readView runs fn with a view of the committed state in a read transaction.
func (l *Ledger) readView(fn func(v *view) error) error {
	return l.view(func(tx *bbolt.Tx) error {
		return fn(newView(tx, l, l.assets, l.table, l.head.Load().policy))
	})
}

// View runs fn with a read-only ledger.View of the committed state (for ledger.Parties and
// the like on read paths). The view is valid only during fn; keep fn short.
func (l *Ledger) View(fn func(ledger.View) error) error {
	return l.readView(func(v *view) error { return fn(v) })
}

// Assets returns the asset scales fixed at genesis.
func (l *Ledger) Assets() ledger.Assets { return maps.Clone(l.assets) }

// Policy returns the policy in force for the next entry. It is shared: do not change it.
func (l *Ledger) Policy() *ledger.Policy { return l.head.Load().policy }

// Account returns the committed state of account id, or nil when it does not exist.
func (l *Ledger) Account(id ledger.AccountID) (a *ledger.Account, err error) {
	err = l.readView(func(v *view) error { a, err = v.Account(id); return err })
	return a, err
}

// Hold returns hold id, or nil when there is none.
func (l *Ledger) Hold(id uint64) (h *ledger.Hold, err error) {
	err = l.readView(func(v *view) error { h, err = v.Hold(id); return err })
	return h, err
}

// Entry returns entry seq, or nil when there is none.
func (l *Ledger) Entry(seq uint64) (e *ledger.Entry, err error) {
	err = l.readView(func(v *view) error { e, err = v.Entry(seq); return err })
	return e, err
}

// firstAfter is the first seq after afterSeq; ok is false when none can follow it. afterSeq+1
// alone wraps 2^64−1 to 0, the start of the log: a client's after_seq=18446744073709551615
// got the first page back, and Export reported the log as corrupt.
func firstAfter(afterSeq uint64) (seq uint64, ok bool) {
	return afterSeq + 1, afterSeq < math.MaxUint64
}

// checkLimit returns errReadLimit unless 1 ≤ limit ≤ MaxReadLimit.
func checkLimit(limit int) error {
	if limit < 1 || limit > MaxReadLimit {
		return fmt.Errorf("%w: %d is not 1 to %d", errReadLimit, limit, MaxReadLimit)
	}
	return nil
}

// Entries returns up to limit (1 to MaxReadLimit) entries with seq > afterSeq, oldest first.
func (l *Ledger) Entries(afterSeq uint64, limit int) ([]*ledger.Entry, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	from, ok := firstAfter(afterSeq)
	if !ok {
		return nil, nil
	}
	var out []*ledger.Entry
	err := l.readView(func(v *view) error {
		c := v.entries.Cursor()
		var buf []byte
		for k, stored := c.Seek(seqKey(from)); k != nil && len(out) < limit; k, stored = c.Next() {
			seq, err := parseSeqKey(k)
			if err != nil {
				return err
			}
			if buf, err = v.packer.unpack(buf[:0], stored, seq); err != nil {
				return err
			}
			e, err := ledger.DecodeEntry(buf, v.assets)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AccountEntries returns up to limit (1 to MaxReadLimit) of the account's statement lines with
// seq > afterSeq, oldest first; none for an account that does not exist.
func (l *Ledger) AccountEntries(id ledger.AccountID, afterSeq uint64, limit int) ([]ledger.StatementLine, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	from, ok := firstAfter(afterSeq)
	if !ok {
		return nil, nil
	}
	var out []ledger.StatementLine
	err := l.readView(func(v *view) error {
		if id.Kind() == ledger.KindIssuer {
			return v.issuerEntries(id, from, limit, &out)
		}
		prefix := statementPrefix(id)
		c := v.state.Cursor()
		for k, b := c.Seek(statementKey(id, from)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, b = c.Next() {
			line, err := v.statementLine(k[len(prefix):], b)
			if err != nil {
				return err
			}
			out = append(out, line)
		}
		return nil
	})
	return out, err
}

// issuerEntries is AccountEntries of an issuer account: the ilines values from seq from on
// that hold id's line. An issuer is party to most entries, so the scan is short.
func (v *view) issuerEntries(id ledger.AccountID, from uint64, limit int, out *[]ledger.StatementLine) error {
	c := v.ilines.Cursor()
	for k, b := c.Seek(seqKey(from)); k != nil && len(*out) < limit; k, b = c.Next() {
		mine, err := issuerLineOf(v.table, b, id)
		if err != nil {
			return err
		}
		if mine == nil {
			continue
		}
		line, err := v.statementLine(k, mine)
		if err != nil {
			return err
		}
		*out = append(*out, line)
	}
	return nil
}

// statementBytes is the stored statement line of account id for entry seq; nil if none.
func (v *view) statementBytes(id ledger.AccountID, seq uint64) ([]byte, error) {
	if id.Kind() != ledger.KindIssuer {
		return v.state.Get(statementKey(id, seq)), nil
	}
	b := v.ilines.Get(seqKey(seq))
	if b == nil {
		return nil, nil
	}
	return issuerLineOf(v.table, b, id)
}

// issuerLineOf is issuer id's statement line in the ilines value b; nil if it has none.
func issuerLineOf(t *assetTable, b []byte, id ledger.AccountID) (mine []byte, err error) {
	err = readIssuerLines(t, b, func(issuer ledger.AccountID, line []byte) error {
		if issuer == id {
			mine = line
		}
		return nil
	})
	return mine, err
}

// statementLine decodes a statement line (rest is the key after the statement prefix) and
// reads its entry.
func (v *view) statementLine(rest, b []byte) (ledger.StatementLine, error) {
	seq, err := parseSeqKey(rest)
	if err != nil {
		return ledger.StatementLine{}, err
	}
	balances, err := decodeStatement(v.table, b)
	if err != nil {
		return ledger.StatementLine{}, err
	}
	e, err := v.Entry(seq)
	if err == nil && e == nil {
		err = fmt.Errorf("%w: statement line names entry %d, which is missing", ErrCorrupt, seq)
	}
	return ledger.StatementLine{Entry: e, BalancesAfter: balances}, err
}

// Export writes the canonical bytes and a newline of every entry with afterSeq < seq ≤ the
// tree size when Export began, in seq order, streaming (see exportChunkEntries). It stops
// with ctx's error between chunks, and reports a gap in the log as ErrCorrupt.
func (l *Ledger) Export(ctx context.Context, afterSeq uint64, w io.Writer) error {
	end := l.TreeSize()
	next, ok := firstAfter(afterSeq)
	if !ok {
		return nil
	}
	buf := make([]byte, 0, exportChunkBytes+64<<10)
	for next <= end {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		err := l.view(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucketEntries).Cursor()
			for k, v := c.Seek(seqKey(next)); k != nil && next <= end; k, v = c.Next() {
				if binary.BigEndian.Uint64(k) != next {
					break
				}
				var err error
				if buf, err = l.packer.unpack(buf, v, next); err != nil {
					return err
				}
				buf = append(buf, '\n')
				next++
				if len(buf) >= exportChunkBytes || next%exportChunkEntries == 0 {
					break
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		if len(buf) == 0 {
			return fmt.Errorf("%w: entry %d is missing", ErrCorrupt, next)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// Backup writes a consistent copy of the database file, taken in one read transaction
// (Tx.WriteTo), while the sequencer goes on committing. The copy is first spooled to an
// unnamed temporary file in the data directory, so the transaction lasts as long as a local
// copy does, not as long as the reader takes: a read transaction left open keeps bbolt from
// reusing freed pages and, once the file outgrows its memory map, blocks every commit
// (an audit's stalled client stopped all writes). It costs free disk space of the
// database's size while it runs: spools are made one at a time, and each only while the
// disk keeps room for the ledger's own growth (spoolRoom), since a commit that finds the
// disk full stops the ledger until it is restarted.
func (l *Ledger) Backup(w io.Writer) (n int64, err error) {
	f, err := l.spoolBackup()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

// spoolBackup copies the database to an unnamed temporary file, read from its start.
func (l *Ledger) spoolBackup() (_ *os.File, err error) {
	l.spoolMu.Lock()
	defer l.spoolMu.Unlock()
	f, err := os.CreateTemp(l.dir, ".backup-*")
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := os.Remove(f.Name()); err != nil { // nothing to clean up after a crash
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	spool := &spoolWriter{f: f, closing: l.closing}
	if err := l.view(func(tx *bbolt.Tx) error {
		if free, known := diskFree(l.dir); known && free < uint64(tx.Size())+spoolRoom(tx.Size()) {
			return ledger.Errorf(ledger.CodeUnavailable, "A backup needs free disk space of the database's size (%d MiB) beside the ledger, and leaves room for the ledger to grow (%d MiB more); the disk has %d MiB free. Free some space, then try again.",
				tx.Size()>>20, spoolRoom(tx.Size())>>20, free>>20)
		}
		_, err := tx.WriteTo(spool)
		return err
	}); err != nil {
		if spool.cut { // bbolt's WriteTo words its writer's error anew ("meta 0 copy: …")
			return nil, errUnavailable()
		}
		if ledger.CodeOf(err) == ledger.CodeUnavailable {
			return nil, err
		}
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	return f, nil
}

// diskFree tells the free space of a directory's filesystem, when it can (tests replace it).
var diskFree = statfsFree

// spoolRoom is the free disk space a backup leaves for the ledger while it spools a copy of
// size bytes: 64 MiB (bbolt grows the file 16 MiB at a time) and a tenth of the database.
func spoolRoom(size int64) uint64 { return 64<<20 + uint64(size)/10 }

// spoolWriter is a backup's spool file, which takes no more bytes once Close has begun. Close
// waits for every read transaction to end (bbolt), and the spool's lasts as long as the
// local copy of the whole file: minutes for a large database on a slow disk, which held
// serve's shutdown past SPEC §6's 15 seconds. Cut, the backup answers unavailable.
type spoolWriter struct {
	f       *os.File
	closing <-chan struct{}
	cut     bool
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if testHookSpoolWrite != nil {
		testHookSpoolWrite()
	}
	select {
	case <-w.closing:
		w.cut = true
		return 0, errUnavailable()
	default:
	}
	return w.f.Write(p)
}

// testHookSpoolWrite, when set by a test, runs before each write to a backup's spool.
var testHookSpoolWrite func()

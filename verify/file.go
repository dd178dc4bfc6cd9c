package verify

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/timebank/timebank/ledger"
)

// fileSource serves entries of an export file by seq for reversals, keeping only the offset
// of each line (8 bytes an entry) in memory.
type fileSource struct {
	f       *os.File
	offsets []int64 // offsets[i] is where line i+1 starts; one more for the end
	assets  func() ledger.Assets
}

func (s *fileSource) Entry(seq uint64) (*ledger.Entry, error) {
	if seq == 0 || seq >= uint64(len(s.offsets)) {
		return nil, nil
	}
	start, end := s.offsets[seq-1], s.offsets[seq]
	buf := make([]byte, end-start)
	if _, err := s.f.ReadAt(buf, start); err != nil {
		return nil, err
	}
	return ledger.DecodeEntry(buf[:len(buf)-1], s.assets())
}

// Export verifies an export file (one canonical entry per line) against a signed checkpoint
// (ckpt, the note as served by GET /v1/checkpoint) and the verifier key vkey. It returns the
// replayed state for further comparison (--url compares it with the server's balances).
// An export that is not a regular file (a pipe, a device) is a *SourceError.
func Export(path string, ckpt []byte, vkey string, progress func(uint64)) (*Summary, *ledger.MemState, error) {
	cp, err := OpenCheckpoint(ckpt, vkey)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	// The replay reads entries back by offset (a reversal's entry), which a pipe or a
	// device cannot give: refuse one before reading, not at its first reversal.
	if fi, err := f.Stat(); err != nil {
		return nil, nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, nil, sourceErrorf("export %s is not a regular file (%s): save the export to a file and verify that", path, fi.Mode().Type())
	}
	r, err := exportFile(f, "export "+path, cp, progress)
	if err != nil {
		return nil, nil, err
	}
	return r.sum, r.st, nil
}

// exportFile is Export of an open file, read from its current offset (0), named source; it
// returns the finished replay.
func exportFile(f *os.File, source string, cp *Checkpoint, progress func(uint64)) (*replay, error) {
	start := time.Now()
	src := &fileSource{f: f, offsets: []int64{0}}
	r := newReplay(src, cp, progress)
	src.assets = func() ledger.Assets { return r.rp.Assets }
	if err := run(r, NewLines(f), f, func(it item) { src.offsets = append(src.offsets, it.end) }); err != nil {
		return nil, err
	}
	r.sum.Source = source
	r.sum.Elapsed = time.Since(start)
	return r, nil
}

// run replays every line of file, then finishes. Lines are read and decoded on another
// goroutine, which also refuses a repeated (actor, Idempotency-Key) (idemIndex): its error
// comes after the entries before it are replayed and compared, so that the first difference
// in the log is the one named. seen runs in the replay's goroutine before each entry is
// replayed.
func run(r *replay, lines Lines, file io.ReaderAt, seen func(item)) error {
	p := newPipe()
	p.produce(func(emit func(item) error) error {
		var dec decoder
		var copies slab
		var pos int64
		idem := newIdemIndex(func(offset int64) (*ledger.Entry, error) { return entryAt(file, offset, dec.assets) })
		for {
			raw, err := lines.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("entry %d: %w", dec.n+1, err)
			}
			start := pos
			pos += int64(len(raw)) + 1
			it, err := dec.decode(copies.copy(raw))
			if err != nil {
				return err
			}
			if err := idem.add(it.e, dec.n, start); err != nil {
				return err
			}
			it.end = pos
			if err := emit(it); err != nil {
				return err
			}
		}
	})
	err := p.consume(func(it item) error {
		seen(it)
		return r.step(it)
	})
	if cerr := r.check.wait(); cerr != nil {
		return cerr // an entry before any the replay stopped at
	}
	if err != nil {
		return err
	}
	return r.finish()
}

// entryAt reads back the entry whose line starts at offset of file.
func entryAt(file io.ReaderAt, offset int64, assets ledger.Assets) (*ledger.Entry, error) {
	line, err := bufio.NewReader(io.NewSectionReader(file, offset, MaxLineBytes)).ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if assets == nil {
		assets = ledger.Assets{} // genesis, decoded before the assets were known
	}
	return ledger.ParseEntry(line[:len(line)-1], assets)
}

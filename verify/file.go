package verify

import (
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

// offsetLines wraps Lines and records where each line starts.
type offsetLines struct {
	inner Lines
	src   *fileSource
	pos   int64
}

func (o *offsetLines) Next() ([]byte, error) {
	line, err := o.inner.Next()
	if err != nil {
		return nil, err
	}
	o.pos += int64(len(line)) + 1
	o.src.offsets = append(o.src.offsets, o.pos)
	return line, nil
}

// Export verifies an export file (one canonical entry per line) against a signed checkpoint
// (ckpt, the note as served by GET /v1/checkpoint) and the verifier key vkey. It returns the
// replayed state for further comparison (--url compares it with the server's balances).
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
	start := time.Now()
	src := &fileSource{f: f, offsets: []int64{0}}
	r := newReplay(src, cp, progress)
	src.assets = func() ledger.Assets { return r.rp.Assets }
	if err := run(r, &offsetLines{inner: NewLines(f), src: src}); err != nil {
		return nil, nil, err
	}
	r.sum.Source = "export " + path
	r.sum.Elapsed = time.Since(start)
	return r.sum, r.st, nil
}

// run replays every line, then finishes.
func run(r *replay, lines Lines) error {
	for {
		raw, err := lines.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", r.rp.LastSeq+1, err)
		}
		if err := r.step(raw); err != nil {
			return err
		}
	}
	return r.finish()
}

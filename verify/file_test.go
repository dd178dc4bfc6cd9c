package verify

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileSourceBeyondTheLinesRead: a reversal may name any seq, also one past the lines
// read so far (its own, or a later one, in a forged export): the file source finds no such
// entry, as the store would, rather than reading past its offsets.
func TestFileSourceBeyondTheLinesRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export")
	if err := os.WriteFile(path, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := &fileSource{f: f, offsets: []int64{0, 3}} // one line read
	for _, seq := range []uint64{0, 2, 3, 1 << 63} {
		if e, err := src.Entry(seq); e != nil || err != nil {
			t.Errorf("Entry(%d) of a source of one line: %+v, %v; want none", seq, e, err)
		}
	}
}

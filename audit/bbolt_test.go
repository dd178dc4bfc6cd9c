package audit_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// compareDatabase reads the stopped server's database as FORMAT.md describes it: the
// bucket entries, one zstd frame per entry made with the raw-content dictionary kept in
// the bucket meta under entry_dict; expanded, each is the export's line for its seq.
func compareDatabase(t *testing.T, c capture) {
	stored, err := readEntries(filepath.Join(c.data, "timebank.db"))
	if err != nil {
		t.Fatalf("reading the database by FORMAT.md: %v", err)
	}
	lines, err := splitLines(c.export)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(lines) {
		t.Fatalf("the database holds %d entries, the export %d", len(stored), len(lines))
	}
	for i := range lines {
		if !bytes.Equal(stored[i], lines[i]) {
			t.Errorf("seq %d: stored\n%s\nexported\n%s", i+1, stored[i], lines[i])
		}
	}
}

// readEntries returns the expanded entries in key order, requiring key i to be seq i+1.
func readEntries(path string) ([][]byte, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out [][]byte
	err = db.View(func(tx *bolt.Tx) error {
		meta, entries := tx.Bucket([]byte("meta")), tx.Bucket([]byte("entries"))
		if meta == nil || entries == nil {
			return fmt.Errorf("no top-level bucket meta or entries")
		}
		dict := meta.Get([]byte("entry_dict"))
		if dict == nil {
			return fmt.Errorf("no entry_dict in meta")
		}
		dec, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(0, dict), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer dec.Close()
		return entries.ForEach(func(k, frame []byte) error {
			if len(k) != 8 || binary.BigEndian.Uint64(k) != uint64(len(out)+1) {
				return fmt.Errorf("key %x where seq %d was due", k, len(out)+1)
			}
			line, err := expand(dec, frame)
			if err != nil {
				return fmt.Errorf("seq %d: %w", len(out)+1, err)
			}
			out = append(out, line)
			return nil
		})
	})
	return out, err
}

// expand decodes one frame, which names no dictionary and has no checksum (FORMAT.md).
func expand(dec *zstd.Decoder, frame []byte) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(frame); err != nil {
		return nil, err
	}
	if h.DictionaryID != 0 || h.HasCheckSum {
		return nil, fmt.Errorf("frame names dictionary %d, checksum %v", h.DictionaryID, h.HasCheckSum)
	}
	return dec.DecodeAll(frame, nil)
}

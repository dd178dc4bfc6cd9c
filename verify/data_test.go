package verify

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timebank/timebank/ledger/store"
)

// rekeyEntry changes, in a stopped ledger's file, the key under which entry seq is stored to
// newSeq, as a flipped bit on disk would, behind the store's back. It patches every leaf page
// (bbolt's layout: a 16-byte page header, then 16-byte elements flags, pos, ksize, vsize,
// with pos counted from the element) holding an 8-byte key seq over a zstd frame, the
// entries bucket's values (copy-on-write may have left earlier copies of the page as free
// pages; those are patched too). The file has no checksum over data pages.
func rekeyEntry(t *testing.T, dir string, seq, newSeq uint64) {
	t.Helper()
	db := filepath.Join(dir, store.DBFile)
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	const leafPage, headerBytes, elementBytes = 0x02, 16, 16
	pageBytes := int(binary.LittleEndian.Uint32(raw[24:28])) // the meta page's page size
	key := binary.BigEndian.AppendUint64(nil, seq)
	zstdMagic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	patched := 0
	for off := 0; off+pageBytes <= len(raw); off += pageBytes {
		page := raw[off:]
		if binary.LittleEndian.Uint16(page[8:10])&leafPage == 0 {
			continue
		}
		count := int(binary.LittleEndian.Uint16(page[10:12]))
		for i := range count {
			el := headerBytes + i*elementBytes
			if el+elementBytes > pageBytes {
				break
			}
			pos := el + int(binary.LittleEndian.Uint32(page[el+4:]))
			ksize, vsize := int(binary.LittleEndian.Uint32(page[el+8:])), int(binary.LittleEndian.Uint32(page[el+12:]))
			if ksize != 8 || vsize < 4 || pos+8+vsize > len(page) {
				continue
			}
			if bytes.Equal(page[pos:pos+8], key) && bytes.HasPrefix(page[pos+8:], zstdMagic) {
				binary.BigEndian.PutUint64(page[pos:pos+8], newSeq)
				patched++
			}
		}
	}
	if patched == 0 {
		t.Fatalf("entry %d's key is not in the file", seq)
	}
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDataRefusesEntryUnderWrongKey: the store's readers find an entry by its key, so an
// entry stored under another key is missing to them (export --data fails) even though a walk
// of the bucket meets it in its place. verify --data names the key and the entry.
func TestDataRefusesEntryUnderWrongKey(t *testing.T) {
	for _, c := range []struct {
		name   string
		newSeq uint64
		want   string
	}{
		// Under key 13, entry 12 was accepted: a walk replays what it meets, and the stored
		// hashes recomputed for "entry 13" (an odd index: its leaf alone) agreed.
		{"the next entry's key", 13, "entry 12 is not stored under its key: the entries bucket holds key 13 (under it, entry 12's bytes) where key 12 belongs"},
		// Other keys were refused, but as a changed hash or a missing one.
		{"a smaller key", 12 - 8, "the entries bucket holds key 4 (under it, entry 12's bytes)"},
		{"a larger key", 12 + 1<<40, "the entries bucket holds key 1099511627788 (under it, entry 12's bytes)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, _, ckpt, vkey := fixture(t)
			rekeyEntry(t, dir, 12, c.newSeq)
			_, err := Data(dir, ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestCheckKey: bytes under the right key but of another entry are named by both seqs.
func TestCheckKey(t *testing.T) {
	if err := checkKey(7, 7, []byte(`{"seq":8,"time":…`)); err == nil || !strings.Contains(err.Error(), "key 7 of the entries bucket holds entry 8") {
		t.Fatalf("got %v", err)
	}
	if err := checkKey(7, 7, []byte(`{"seq":7,"time":…`)); err != nil {
		t.Fatal(err)
	}
	// Bytes that do not begin as an entry's are left to the strict decoder to name.
	if err := checkKey(7, 7, []byte(`garbage`)); err != nil {
		t.Fatal(err)
	}
	// So are seqs past 2^64−1: 2^64+8 must not be read as entry 8 (it would name an entry the
	// bytes do not hold).
	if err := checkKey(7, 7, []byte(`{"seq":18446744073709551624,"time":…`)); err != nil {
		t.Fatal(err)
	}
}

// TestFirstDifferenceBeforeAnUnreadableEntry: an entry the reading goroutine cannot decode
// stops the replay there, but the entries read before it are still replayed and compared,
// and a difference among them is the one named (the first in the log).
func TestFirstDifferenceBeforeAnUnreadableEntry(t *testing.T) {
	_, export, _, _ := fixture(t)
	forged := bytes.Replace(export, []byte(`"asset":"POINTS","amount":"22"}`), []byte(`"asset":"POINTS","amount":"23"}`), 1)
	forged = bytes.Replace(forged, []byte(`{"seq":15,`), []byte(`{"seq":15,,`), 1)
	ckpt, vkey := signLog(t, forged)
	_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "entry 7 (credit): replay gives a different entry") {
		t.Fatalf("got %v, want entry 7 named", err)
	}
}

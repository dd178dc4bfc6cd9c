package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// rootLeaf locates, independently of rootcheck.go, the root bucket's leaf page in a clean
// file: the root page id of the meta of the higher transaction id (both are valid in a
// file bbolt closed cleanly).
func rootLeaf(t *testing.T, b []byte) (off int, elems []rootElem) {
	t.Helper()
	const page = 4096
	le := binary.LittleEndian
	m := 16 // the meta follows the page header; root at +16, txid at +48
	if le.Uint64(b[page+m+48:]) > le.Uint64(b[m+48:]) {
		m += page
	}
	off = int(le.Uint64(b[m+16:])) * page
	if le.Uint16(b[off+8:]) != leafPageFlag {
		t.Fatalf("the root page at %d is not a leaf", off)
	}
	for i := range int(le.Uint16(b[off+10:])) {
		e := off + 16 + 16*i
		pos, ks, vs := int(le.Uint32(b[e+4:])), int(le.Uint32(b[e+8:])), int(le.Uint32(b[e+12:]))
		elems = append(elems, rootElem{at: e, name: string(b[e+pos : e+pos+ks]), value: e + pos + ks, vsize: vs})
	}
	return off, elems
}

type rootElem struct {
	at    int    // the element's header in the file
	name  string // the bucket's name
	value int    // the bucket's value (root pgid, sequence, then any inline page) in the file
	vsize int
}

// TestDamagedBucketPagesAreRefusedAtOpen: damage to the root bucket's leaf, which holds the
// small buckets inline, is refused by Open as ErrCorrupt. Without the check bbolt copied an
// unaligned inline bucket to the heap and read keys and values past the copy: reads
// returned other objects' bytes (once as a well-formed reversal), and a collection finding
// such a slice could crash the process (TestDamagedFileIsAnError did, once in CI).
func TestDamagedBucketPagesAreRefusedAtOpen(t *testing.T) {
	l, dir := openTest(t, Options{})
	everything(t, l)
	l.Close()
	clean, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	_, elems := rootLeaf(t, clean)
	damages := map[string]func(b []byte){}
	inline, mapped := 0, 0
	for _, e := range elems {
		if le.Uint64(clean[e.value:]) == 0 { // an inline bucket: its page follows the bucket header
			inline++
			ip := e.value + bucketHeader
			if le.Uint16(clean[ip+10:]) == 0 {
				continue
			}
			for _, delta := range []uint32{4096, 1 << 16, 1 << 24} {
				damages[fmt.Sprintf("%s: its first element moved %d bytes on", e.name, delta)] = func(b []byte) {
					le.PutUint32(b[ip+16+4:], le.Uint32(b[ip+16+4:])+delta)
				}
			}
			damages[e.name+": its first value made 1 MiB long"] = func(b []byte) { le.PutUint32(b[ip+16+12:], 1<<20) }
			damages[e.name+": 4,000 elements in its inline page"] = func(b []byte) { le.PutUint16(b[ip+10:], 4000) }
			damages[e.name+": its inline page a branch"] = func(b []byte) { le.PutUint16(b[ip+8:], branchPageFlag) }
			damages[e.name+": its value 8 bytes long"] = func(b []byte) { le.PutUint32(b[e.at+12:], 8) }
		} else {
			mapped++
			damages[e.name+": root page 0 (inline, with no inline page)"] = func(b []byte) { le.PutUint64(b[e.value:], 0) }
			damages[e.name+": root page past the file"] = func(b []byte) { le.PutUint64(b[e.value:], 1<<40) }
		}
		damages[e.name+": its element past the page"] = func(b []byte) { le.PutUint32(b[e.at+4:], 1<<20) }
	}
	if inline == 0 || mapped == 0 {
		t.Fatalf("%d inline and %d mapped buckets: the test ledger no longer has both kinds", inline, mapped)
	}
	for name, damage := range damages {
		ddir := filepath.Join(t.TempDir(), "d")
		if err := os.MkdirAll(ddir, 0o700); err != nil {
			t.Fatal(err)
		}
		b := append([]byte(nil), clean...)
		damage(b)
		if err := os.WriteFile(filepath.Join(ddir, DBFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{true, false} {
			d, err := Open(ddir, Options{ReadOnly: ro})
			if err == nil {
				d.Close()
				t.Errorf("%s: opened (read-only %v)", name, ro)
			} else if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %v, not ErrCorrupt", name, err)
			}
		}
	}
	// The clean file still opens, both ways, and reads whole.
	for _, ro := range []bool{true, false} {
		d, err := Open(dir, Options{ReadOnly: ro})
		if err != nil {
			t.Fatalf("clean file, read-only %v: %v", ro, err)
		}
		d.Close()
	}
	if err := readEverything(dir); err != nil {
		t.Fatal(err)
	}
}

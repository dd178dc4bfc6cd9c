package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/timebank/timebank/ledger"
)

// TestDamagedFileIsAnError: a damaged database file gives errors, never a crash. bbolt
// panics on some damaged pages and a truncated file faults the memory map; before the
// guards (guard.go) an audit crashed verify --data on a zeroed page, a truncated file and
// about 4 % of byte flips in live pages. A crash here ends the test binary: the test fails.
func TestDamagedFileIsAnError(t *testing.T) {
	l, dir := openTest(t, Options{})
	everything(t, l)
	for i := range 300 {
		must(t, l, admin, &ledger.OpenBody{ID: ledger.AccountID(fmt.Sprintf("resident:d%03d", i))})
	}
	l.Close()
	clean, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	// The pages in use end at the high-water mark each meta page records (bbolt's meta:
	// a 16-byte page header, then magic, version, page size, flags, the root bucket and the
	// free list's page; the mark follows, at byte 56). The file's tail is preallocated.
	used := int(max(binary.LittleEndian.Uint64(clean[56:]), binary.LittleEndian.Uint64(clean[page+56:])))
	if used < 10 || used*page > len(clean) {
		t.Fatalf("high-water mark %d pages in a file of %d", used, len(clean)/page)
	}
	clean = clean[:used*page] // the preallocated tail holds nothing: smaller copies
	damages := map[string]func([]byte) []byte{
		"truncated to 8 KiB": func(b []byte) []byte { return b[:8<<10] },
		"truncated to half":  func(b []byte) []byte { return b[:used/2*page] },
	}
	for p := 2; p < used; p++ { // every page in use but the two meta pages, zeroed
		damages[fmt.Sprintf("page %d zeroed", p)] = func(b []byte) []byte {
			clear(b[p*page : (p+1)*page])
			return b
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 { // bytes flipped in pages in use
		off, bit := 2*page+rng.IntN((used-2)*page), byte(1)<<rng.IntN(8)
		damages[fmt.Sprintf("flip %d at %d", i, off)] = func(b []byte) []byte {
			b[off] ^= bit
			return b
		}
	}
	errs := 0
	for name, damage := range damages {
		ddir := filepath.Join(t.TempDir(), "d")
		os.MkdirAll(ddir, 0o700)
		if err := os.WriteFile(filepath.Join(ddir, DBFile), damage(append([]byte(nil), clean...)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := readEverything(ddir); err != nil {
			errs++
		} else if name == "truncated to 8 KiB" {
			t.Errorf("%s: read without an error", name)
		}
	}
	t.Logf("%d damaged copies of a file of %d pages in use, %d gave an error (the others hit free or unused bytes)", len(damages), used, errs)
}

// readEverything opens dir read-only and reads every record the way verify and export do,
// returning the first error.
func readEverything(dir string) error {
	l, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer l.Close()
	for _, read := range []func() error{
		func() error { return l.ForEachEntry(0, func(uint64, []byte) error { return nil }) },
		func() error { return l.ForEachAccount(func(*ledger.Account) error { return nil }) },
		func() error { return l.ForEachSession(func(ledger.AccountID, ledger.Session) error { return nil }) },
		func() error { return l.ForEachLink(func(a, b ledger.AccountID, rel string) error { return nil }) },
		func() error { return l.ForEachHold(func(*ledger.Hold) error { return nil }) },
		func() error { return l.ForEachReversal(func(seq, by uint64) error { return nil }) },
		func() error { return l.WalkState(StateWalk{}) },
		func() error { return l.Export(context.Background(), 0, io.Discard) },
		func() error { _, err := l.Entries(0, 100); return err },
		func() error { _, err := l.Backup(io.Discard); return err },
	} {
		if err := read(); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// TestExportDataRefusesChangedEntries: export --data never exports changed entries as if
// they were the ledger. An audit flipped bytes in database copies: in 24 of 300 the export
// succeeded with an entry's postings changed. Bits are flipped here in the file's pages in
// use, with a fixed seed; each copy either fails to export or exports exactly the original.
func TestExportDataRefusesChangedEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	led, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin := ledger.Request{Principal: ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_t"}}
	for i := range 60 {
		admin.IdempotencyKey = fmt.Sprintf("k%d", i)
		admin.Body = &ledger.OpenBody{ID: ledger.AccountID(fmt.Sprintf("resident:r%02d", i))}
		if _, _, err := led.Submit(context.Background(), admin); err != nil {
			t.Fatal(err)
		}
	}
	var want bytes.Buffer
	if err := led.Export(context.Background(), 0, &want); err != nil {
		t.Fatal(err)
	}
	led.Close()
	clean, err := os.ReadFile(filepath.Join(dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	// Only the pages in use: up to the high-water mark the meta pages record (byte 56 of
	// each; see ledger/store's TestDamagedFileIsAnError).
	const page = 4096
	used := int(max(binary.LittleEndian.Uint64(clean[56:]), binary.LittleEndian.Uint64(clean[page+56:])))
	clean = clean[:used*page]
	rng := rand.New(rand.NewPCG(3, 4))
	refused, changed := 0, 0
	for range 400 {
		b := append([]byte(nil), clean...)
		off := 2*page + rng.IntN((used-2)*page)
		b[off] ^= 1 << rng.IntN(8)
		cdir := filepath.Join(t.TempDir(), "copy")
		os.MkdirAll(cdir, 0o700)
		if err := os.WriteFile(filepath.Join(cdir, store.DBFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := exportData(context.Background(), cdir, 0, &got); err != nil {
			refused++
			continue
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			changed++
			t.Errorf("a flip at byte %d exported changed entries without an error", off)
		}
	}
	t.Logf("400 flipped copies: %d refused, %d exported changed", refused, changed)
}

// TestVerifyDamagedDatabaseFails: a truncated database file is a ledger that is not intact:
// verify says FAILED (1), not "could not read" (3), and does not crash.
func TestVerifyDamagedDatabaseFails(t *testing.T) {
	f := newLedger(t)
	if err := os.Truncate(filepath.Join(f.data, store.DBFile), 8<<10); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCLI(t, "verify", "--data", f.data)
	if status != exitFailed || !strings.Contains(stderr, "FAILED") || !strings.Contains(stderr, "damaged") {
		t.Fatalf("verify of a truncated database: status %d\n%s%s", status, stdout, stderr)
	}
}

// TestExportDataStopsWhenInterrupted: export --data stops at its context's end (a SIGINT
// with --out), a whole export and one after a seq alike, writing nothing more (found by
// mutation testing: both read to the end).
func TestExportDataStopsWhenInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	led, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := led.Submit(context.Background(), ledger.Request{Principal: ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_t"},
		IdempotencyKey: "k", Body: &ledger.OpenBody{ID: "resident:r"}}); err != nil {
		t.Fatal(err)
	}
	led.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, after := range []uint64{0, 1} {
		var buf bytes.Buffer
		if err := exportData(ctx, dir, after, &buf); !errors.Is(err, context.Canceled) || buf.Len() > 0 {
			t.Errorf("after_seq %d with its context ended: %v, %d bytes written", after, err, buf.Len())
		}
	}
}

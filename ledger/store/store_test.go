package store

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

func TestOpenWritesGenesisAndKeys(t *testing.T) {
	l, dir := openTest(t, Options{})
	if l.TreeSize() != 1 {
		t.Fatalf("tree size %d after open, want 1 (genesis)", l.TreeSize())
	}
	e, err := l.Entry(1)
	if err != nil || e == nil || e.Type != ledger.TypeGenesis || e.TimeMicros != t0.UnixMicro() {
		t.Fatalf("entry 1 = %+v, %v", e, err)
	}
	for _, id := range []ledger.AccountID{"issuer:HOURS", "issuer:POINTS"} {
		if a, err := l.Account(id); err != nil || a == nil || a.Kind != ledger.KindIssuer {
			t.Fatalf("%s = %+v, %v", id, a, err)
		}
	}
	if got := l.Assets(); got["HOURS"].Scale != 2 || got["POINTS"].Scale != 0 || len(got) != 2 {
		t.Fatalf("assets %v", got)
	}
	checkMode(t, filepath.Join(dir, KeyFile), 0o600)
	checkMode(t, filepath.Join(dir, VerifierKeyFile), 0o644)
	checkMode(t, dir, 0o700|os.ModeDir)
	vk, _ := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if string(vk) != l.VerifierKey()+"\n" || !strings.HasPrefix(l.VerifierKey(), "timebank+") {
		t.Fatalf("vkey file %q, VerifierKey %q", vk, l.VerifierKey())
	}

	// Reopening keeps the key and the ledger, and writes no second genesis.
	must(t, l, admin, &ledger.OpenBody{ID: "station:s1"})
	size, root := l.Root()
	vkey := l.VerifierKey()
	l.Close()
	l2, err := Open(dir, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if s2, r2 := l2.Root(); s2 != size || r2 != root || l2.VerifierKey() != vkey {
		t.Fatalf("after reopen: size %d root %v vkey %q; want %d %v %q", s2, r2, l2.VerifierKey(), size, root, vkey)
	}
	e3 := must(t, l2, admin, &ledger.OpenBody{ID: "resident:alice"})
	if e3.Seq != 3 || e3.TimeMicros != t0.UnixMicro()+2 {
		t.Fatalf("entry after reopen: seq %d time %d", e3.Seq, e3.TimeMicros)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestOpenNameMismatch(t *testing.T) {
	l, dir := openTest(t, Options{Name: "ledger.example/one"})
	l.Close()
	if _, err := Open(dir, Options{Name: "other"}); err == nil || !strings.Contains(err.Error(), "ledger.example/one") {
		t.Fatalf("open with another name: %v", err)
	}
	l2, err := Open(dir, Options{}) // empty name: the key's
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Name() != "ledger.example/one" {
		t.Fatalf("name %q", l2.Name())
	}
}

func TestOpenLockedFailsFast(t *testing.T) {
	_, dir := openTest(t, Options{})
	start := time.Now()
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, DBFile)+" is in use by another process") {
		t.Fatalf("second open: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second open took %v", d)
	}
	if _, err := Open(dir, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("read-only open of a locked file: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	l, dir := openTest(t, Options{})
	standard(t, l)
	size, root := l.Root()
	l.Close()

	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if s, r := ro.Root(); s != size || r != root {
		t.Fatalf("read-only root %d %v, want %d %v", s, r, size, root)
	}
	if got := balance(t, ro, "resident:alice", "HOURS"); got != 1000 {
		t.Fatalf("alice %d", got)
	}
	_, err = submit(ro, admin, &ledger.OpenBody{ID: "resident:carol"})
	wantCode(t, err, ledger.CodeUnavailable)
	if ro.Healthy() == nil {
		t.Fatal("a read-only store reports healthy")
	}
	if _, err := ro.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.TempDir(), Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of an empty directory succeeded")
	}
}

// TestOpenRefusesOtherFormats: a file of another storage format (format 1 stored entries
// uncompressed, decision 0007) is refused by both kinds of Open, naming both formats; one
// missing a bucket is refused as corrupt.
func TestOpenRefusesOtherFormats(t *testing.T) {
	l, dir := openTest(t, Options{})
	l.Close()
	edit := func(fn func(tx *bbolt.Tx) error) {
		db, err := bbolt.Open(filepath.Join(dir, DBFile), 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	edit(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaFormat, encodeUvarint(1)) })
	for _, opts := range []Options{{}, {ReadOnly: true}} {
		if l, err := Open(dir, opts); err == nil || !strings.Contains(err.Error(), "storage format 1, this program reads format 2") {
			if l != nil {
				l.Close()
			}
			t.Fatalf("read-only %v: %v, want format 1 refused", opts.ReadOnly, err)
		}
	}
	edit(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaFormat, encodeUvarint(formatVersion)); err != nil {
			return err
		}
		return tx.DeleteBucket(bucketIssuerLines)
	})
	for _, opts := range []Options{{}, {ReadOnly: true}} { // neither recreates it
		if l, err := Open(dir, opts); err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "ilines") {
			if l != nil {
				l.Close()
			}
			t.Fatalf("missing bucket, read-only %v: %v, want ErrCorrupt naming ilines", opts.ReadOnly, err)
		}
	}
}

// TestCommitsAreSynced: an acknowledged write must survive a power loss, so every commit
// must reach the disk before its callers are answered: bbolt's NoSync (skip fdatasync at
// commit) and NoGrowSync (skip it when the file grows) must stay off. The crash test cannot
// see this: a SIGKILL leaves the page cache, and the entries in it, intact.
func TestCommitsAreSynced(t *testing.T) {
	l, _ := openTest(t, Options{})
	if l.db.NoSync || l.db.NoGrowSync {
		t.Fatalf("bbolt options NoSync=%v NoGrowSync=%v: commits would not reach the disk before answers", l.db.NoSync, l.db.NoGrowSync)
	}
}

// A request still being served when the server closes the store (a handler that outlived
// the shutdown's grace period) must be told the ledger is unavailable, a 503 the client can
// retry, not an unknown error that the API can only answer with a 500.
func TestReadsAfterCloseAreUnavailable(t *testing.T) {
	l, _ := openTest(t, Options{})
	must(t, l, admin, &ledger.OpenBody{ID: "resident:ann"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() error{
		"Account": func() error { _, err := l.Account("resident:ann"); return err },
		"Entry":   func() error { _, err := l.Entry(1); return err },
		"Entries": func() error { _, err := l.Entries(0, 10); return err },
		"Hold":    func() error { _, err := l.Hold(2); return err },
		"AccountEntries": func() error {
			_, err := l.AccountEntries("resident:ann", 0, 10)
			return err
		},
		"InclusionProof": func() error { _, _, err := l.InclusionProof(1, 2); return err },
		"Export":         func() error { return l.Export(context.Background(), 0, io.Discard) },
		"Backup":         func() error { _, err := l.Backup(io.Discard); return err },
	}
	for name, read := range reads {
		var le *ledger.Error
		if err := read(); !errors.As(err, &le) || le.Code != ledger.CodeUnavailable {
			t.Errorf("%s after Close: %v, want code %s", name, err, ledger.CodeUnavailable)
		}
	}
}

// A token write that arrives after Close (a request still being served when the store
// closed) wrote nothing: it is told the ledger is unavailable, and the store is not taken
// for one whose commit failed (which logs a disk failure and stops it).
func TestWritesAfterCloseAreUnavailable(t *testing.T) {
	l, _ := openTest(t, Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var le *ledger.Error
	if _, _, err := l.CreateToken(ledger.RoleAuditor, "", "late"); !errors.As(err, &le) || le.Code != ledger.CodeUnavailable {
		t.Fatalf("CreateToken after Close: %v, want code %s", err, ledger.CodeUnavailable)
	}
	if p := l.stopped.Load(); p != nil {
		t.Fatalf("a write after Close stopped the store as a failed commit: %v", *p)
	}
}

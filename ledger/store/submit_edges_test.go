package store

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/timebank/timebank/ledger"
)

// TestSubmitKeyLength: the store itself holds SPEC §3's limit on an Idempotency-Key, 1 to
// 128 printable ASCII characters, whatever its caller checked: 128 is taken, 129 is not.
func TestSubmitKeyLength(t *testing.T) {
	l, _ := openTest(t, Options{})
	open := func(id ledger.AccountID, key string) error {
		_, _, err := l.Submit(context.Background(), ledger.Request{Principal: admin, IdempotencyKey: key,
			Body: &ledger.OpenBody{ID: id}})
		return err
	}
	if err := open("resident:r128", strings.Repeat("k", maxKeyLength)); err != nil {
		t.Fatalf("a key of %d characters: %v", maxKeyLength, err)
	}
	wantCode(t, open("resident:r129", strings.Repeat("k", maxKeyLength+1)), ledger.CodeInvalidField)
	wantCode(t, open("resident:rdel", "key\x7f"), ledger.CodeInvalidField)
	if err := open("resident:rtilde", "~ !\"key"); err != nil {
		t.Fatalf("a key of printable ASCII: %v", err)
	}
}

// TestDuplicateInFlight: a request whose (actor, key) is still with the sequencer is
// answered request_in_progress at once, as Submit's contract says, and writes nothing.
func TestDuplicateInFlight(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	size := l.TreeSize()
	r := req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "1"})
	applied, release := make(chan struct{}), make(chan struct{})
	testHookAfterApply = func(e *ledger.Entry) {
		if e.IdempotencyKey == r.IdempotencyKey {
			close(applied)
			<-release // the sequencer holds the first request until the duplicate was answered
		}
	}
	defer func() { testHookAfterApply = nil }()
	first := make(chan error, 1)
	go func() {
		_, _, err := l.Submit(context.Background(), r)
		first <- err
	}()
	<-applied
	second := make(chan error, 1)
	go func() {
		_, _, err := l.Submit(context.Background(), r)
		second <- err
	}()
	var err error
	select {
	case err = <-second:
	case <-time.After(10 * time.Second): // only a wrong program waits: it queued the duplicate
		close(release)
		t.Fatalf("the duplicate was queued behind the first instead of answered at once: %v", <-second)
	}
	close(release)
	wantCode(t, err, ledger.CodeRequestInProgress)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if l.TreeSize() != size+1 {
		t.Fatalf("tree size %d, want %d", l.TreeSize(), size+1)
	}
}

// TestOpenRefusesAnotherVerifierKey: the verifier key file is what auditors pin; one that is
// not the signing key's (a key file restored without its vkey, or edited) must stop Open,
// not be served beside checkpoints it cannot verify.
func TestOpenRefusesAnotherVerifierKey(t *testing.T) {
	l, dir := openTest(t, Options{})
	l.Close()
	_, other, err := note.GenerateKey(rand.Reader, DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, VerifierKeyFile), []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l2, err := Open(dir, Options{Now: fixedNow}); err == nil {
		l2.Close()
		t.Fatalf("Open with %s holding another key's verifier: no error", VerifierKeyFile)
	}
}

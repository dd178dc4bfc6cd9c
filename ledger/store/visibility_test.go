package store

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// bbolt's readers see a commit through the memory map as soon as its meta page is written,
// before the fdatasync that makes it durable returns: a power loss in between takes the
// commit away. No read may show such a commit: a reader that sees it must wait until the
// commit is known durable. The test holds a commit in that window (db.Update has returned;
// the store has not heard of it yet) and reads meanwhile.
func TestReadsShowOnlyDurableCommits(t *testing.T) {
	l, _ := openTest(t, Options{})
	must(t, l, admin, &ledger.OpenBody{ID: "resident:ann"})
	inWindow, release := make(chan struct{}), make(chan struct{})
	var released atomic.Bool
	l.update = func(fn func(*bbolt.Tx) error) error {
		err := l.db.Update(fn)
		close(inWindow)
		<-release
		return err
	}
	written := make(chan error, 1)
	go func() {
		_, err := submit(l, admin, &ledger.OpenBody{ID: "resident:bea"})
		written <- err
	}()
	<-inWindow
	type read struct {
		seen  bool
		early bool // returned while the commit was not yet known durable
		err   error
	}
	got := make(chan read, 1)
	go func() {
		_, err := l.Account("resident:bea")
		got <- read{seen: err == nil, early: !released.Load(), err: err}
	}()
	time.Sleep(50 * time.Millisecond) // time for a wrong read to return in the window
	released.Store(true)
	close(release)
	r := <-got
	if r.seen && r.early {
		t.Fatal("a read showed an account whose commit was not yet known durable")
	}
	if !r.seen {
		t.Fatalf("the read after the commit did not show it: %v", r.err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

// Once a read can see an entry, the head (tree size, checkpoint, proofs) covers it: a client
// that read entry N can at once ask for its inclusion proof. OnCommit runs after a commit is
// published and, in the build this test was written against, before the head moved.
func TestReadableEntriesAreInTheTree(t *testing.T) {
	var opened atomic.Pointer[Ledger]
	var checked atomic.Int64
	l, _ := openTest(t, Options{OnCommit: func(int, time.Duration) {
		l := opened.Load()
		if l == nil {
			return // genesis, inside Open
		}
		size := l.TreeSize()
		if e, err := l.Entry(size + 1); err != nil {
			t.Error(err)
		} else if e != nil {
			t.Errorf("entry %d is readable while the tree size is %d", e.Seq, size)
		}
		checked.Add(1)
	}})
	opened.Store(l)
	must(t, l, admin, &ledger.OpenBody{ID: "resident:ann"})
	if checked.Load() == 0 {
		t.Fatal("OnCommit never ran")
	}
}

// A token write committed just after a sequencer commit, and published before the sequencer
// moved the head, would publish the entry too (its transaction id covers the entry's): a
// read would then show an entry beyond the tree that checkpoints and proofs cover. The test
// runs a token write and a read inside the sequencer's window (db.Update returned, the head
// not yet moved) and checks that the read shows no entry the head does not cover.
func TestTokenWriteDoesNotPublishAnEntryBeforeItsHead(t *testing.T) {
	l, _ := openTest(t, Options{})
	must(t, l, admin, &ledger.OpenBody{ID: "resident:ann"})
	var armed atomic.Bool
	tokenDone, readDone := make(chan error, 1), make(chan error, 1)
	l.update = func(fn func(*bbolt.Tx) error) error {
		err := l.db.Update(fn)
		if !armed.CompareAndSwap(true, false) {
			return err
		}
		go func() { _, _, err := l.CreateToken(ledger.RoleAuditor, "", "beside"); tokenDone <- err }()
		select { // with the bug it commits and publishes at once; else it waits for us
		case <-tokenDone:
			tokenDone <- nil
		case <-time.After(200 * time.Millisecond):
		}
		go func() {
			size := l.TreeSize()
			e, err := l.Entry(size + 1)
			if err == nil && e != nil && l.TreeSize() < e.Seq {
				err = fmt.Errorf("entry %d is readable while the tree size is %d", e.Seq, l.TreeSize())
			}
			readDone <- err
		}()
		select {
		case err := <-readDone:
			readDone <- err
		case <-time.After(200 * time.Millisecond):
		}
		return err
	}
	armed.Store(true)
	must(t, l, admin, &ledger.OpenBody{ID: "resident:bea"})
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	if err := <-tokenDone; err != nil {
		t.Fatal(err)
	}
}

// A write that checked the store was running, then waited for bbolt's writer lock while the
// sequencer's commit failed with its outcome unknown, must not commit after the store stopped:
// it would build on (and publish as durable) a commit the disk may not hold.
func TestNoWriteCommitsAfterAnUncertainCommit(t *testing.T) {
	l, _ := openTest(t, Options{})
	must(t, l, admin, &ledger.OpenBody{ID: "resident:ann"})
	var armed atomic.Bool
	tokenDone := make(chan error, 1)
	l.update = func(fn func(*bbolt.Tx) error) error {
		if !armed.CompareAndSwap(true, false) {
			return l.db.Update(fn)
		}
		err := l.db.Update(func(tx *bbolt.Tx) error {
			go func() { _, _, err := l.CreateToken(ledger.RoleAuditor, "", "beside"); tokenDone <- err }()
			time.Sleep(100 * time.Millisecond) // the token write passes the stopped check, waits for the lock
			return fn(tx)
		})
		if err != nil {
			return err
		}
		return syscall.EIO // the meta page's fdatasync failed
	}
	armed.Store(true)
	if _, err := submit(l, admin, &ledger.OpenBody{ID: "resident:bea"}); ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("the uncertain commit answered %v", err)
	}
	if err := <-tokenDone; ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("a token write waiting when the store stopped answered %v; want unavailable, nothing written", err)
	}
}

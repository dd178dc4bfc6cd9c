package store

import (
	"sync/atomic"
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

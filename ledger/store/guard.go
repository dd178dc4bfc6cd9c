package store

import (
	"errors"
	"fmt"
	"runtime/debug"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// A damaged file must give an error, never crash the process: bbolt panics on some damaged
// pages ("page expected to be", slice bounds out of range), and a file shorter than its
// pages faults the memory map (SIGBUS), which kills a Go program unless the goroutine asked
// for a panic instead. An audit of verify --data crashed it on a zeroed page, a truncated
// file and about 4 % of byte flips in live pages. Every read of the file goes through view,
// and Open through guarded, so that such damage answers ErrCorrupt. The one kind of damage
// a recover cannot contain (bbolt reading an inline bucket through a heap copy) Open
// refuses before any bucket is read: rootcheck.go, docs/decisions/0010.

// guarded runs fn with memory faults turned into panics and any panic into ErrCorrupt.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading the database file failed (%v): it is damaged; restore it from a backup", ErrCorrupt, r)
		}
	}()
	return fn()
}

// view is db.View, guarded, showing only commits known durable (visibility.go). A read that
// starts after Close (a request the server's shutdown cut but whose handler still runs) is
// told the ledger is unavailable.
func (l *Ledger) view(fn func(tx *bbolt.Tx) error) error {
	if p := l.stopped.Load(); p != nil {
		return errStopped()
	}
	err := guarded(func() error {
		return l.db.View(func(tx *bbolt.Tx) error {
			if err := l.awaitDurable(tx); err != nil {
				return err
			}
			return fn(tx)
		})
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return errUnavailable()
	}
	return err
}

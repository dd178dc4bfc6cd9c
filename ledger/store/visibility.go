package store

import (
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// bbolt's readers find the newest meta page through the memory map, so they see a commit as
// soon as its meta page is written: before the fdatasync that makes it durable has returned.
// A power loss in that window takes the commit away, and a reader would have shown entries
// and balances that never were (and a later entry may take the same seq). So the store keeps
// the id of the last transaction it knows durable (db.Update returned), and a read
// transaction that sees a newer one waits for it: a fraction of one fdatasync, only for the
// reads that start inside that window.
type visibility struct {
	durable atomic.Uint64                 // id of the last write transaction known durable
	wake    atomic.Pointer[chan struct{}] // closed, and replaced, whenever durable moves or the store stops
}

// start records the file's current transaction as durable: it was on disk before Open.
func (v *visibility) start(db *bbolt.DB) error {
	ch := make(chan struct{})
	v.wake.Store(&ch)
	return db.View(func(tx *bbolt.Tx) error {
		v.durable.Store(uint64(tx.ID()))
		return nil
	})
}

// publish marks transaction txid durable and wakes the readers waiting for it. Write
// transactions may publish out of order (a token's write beside the sequencer's), so
// durable only moves forward.
func (v *visibility) publish(txid uint64) {
	for {
		cur := v.durable.Load()
		if txid <= cur || v.durable.CompareAndSwap(cur, txid) {
			break
		}
	}
	v.wakeAll()
}

// wakeAll wakes every waiting reader to look again (at durable, or at the store stopping).
func (v *visibility) wakeAll() {
	ch := make(chan struct{})
	close(*v.wake.Swap(&ch))
}

// awaitDurable returns when tx sees nothing that is not known durable, or errStopped when
// the store stopped after a commit whose outcome is unknown.
func (l *Ledger) awaitDurable(tx *bbolt.Tx) error {
	txid := uint64(tx.ID())
	for {
		ch := l.vis.wake.Load() // before reading durable: a publish after this closes ch
		if txid <= l.vis.durable.Load() {
			return nil
		}
		if l.stopped.Load() != nil {
			return errStopped()
		}
		<-*ch
	}
}

package verify

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// The replay itself is sequential (each entry's rules read the state the previous ones
// left), but reading, hashing and decoding an entry are not. A prefetcher does those on
// another goroutine, ahead of the replay, so that verify uses both cores.

// item is one entry read and decoded ahead of the replay.
type item struct {
	raw  []byte // owned copy of the canonical bytes
	e    *ledger.Entry
	leaf tlog.Hash
	end  int64 // for export files: the offset just past this line
}

// prefetchBatch is how many items travel together: fewer channel operations.
const prefetchBatch = 256

// prefetchBatchBytes bounds the canonical bytes of a batch (a few hundred bytes an entry
// make a full batch far smaller): lines of up to MaxLineBytes that decode, but that the rules
// then refuse (a reason of a megabyte), must not travel 256 to a batch, 8 batches in flight.
const prefetchBatchBytes = 256 << 10

// decoder decodes entries in order, learning the assets from genesis.
type decoder struct {
	assets ledger.Assets
	n      uint64
}

func (d *decoder) decode(raw []byte) (item, error) {
	return d.decodeHashed(raw, tlog.RecordHash(raw))
}

// decodeHashed is decode for a caller that has already computed the entry's leaf hash.
func (d *decoder) decodeHashed(raw []byte, leaf tlog.Hash) (item, error) {
	d.n++
	assets := d.assets
	if assets == nil {
		assets = ledger.Assets{} // genesis has no postings; its own assets apply from then on
	}
	// Strict, but without re-encoding to prove the bytes canonical: the checker compares
	// the re-decided entry's encoding with raw, which only canonical bytes can equal.
	e, err := ledger.ParseEntry(raw, assets)
	if err != nil {
		return item{}, fmt.Errorf("entry %d: %w", d.n, err)
	}
	if g, ok := e.Body.(*ledger.GenesisBody); ok && d.n == 1 {
		d.assets = g.Assets
	}
	return item{raw: raw, e: e, leaf: leaf}, nil
}

// slab copies entries' bytes into shared 64 KiB blocks: one allocation for about a hundred
// entries instead of one each. A block lives while an item of it does.
type slab struct{ free []byte }

const slabBytes = 64 << 10

func (s *slab) copy(b []byte) []byte {
	if cap(s.free)-len(s.free) < len(b) {
		s.free = make([]byte, 0, max(slabBytes, len(b)))
	}
	n := len(s.free)
	s.free = append(s.free, b...)
	return s.free[n:len(s.free):len(s.free)]
}

// pipe carries batches from a producer goroutine to the replay; the producer's error (or
// nil at the end) arrives on errc after the last batch.
type pipe struct {
	batches chan []item
	errc    chan error
	stop    chan struct{}
}

func newPipe() *pipe {
	return &pipe{batches: make(chan []item, 8), errc: make(chan error, 1), stop: make(chan struct{})}
}

// send hands a full batch over; false means the replay has stopped. A stop already given is
// seen first: select picks at random among ready cases, and while the replay drains the
// batches after its error, a send could otherwise go on succeeding.
func (p *pipe) send(b []item) bool {
	select {
	case <-p.stop:
		return false
	default:
	}
	select {
	case p.batches <- b:
		return true
	case <-p.stop:
		return false
	}
}

// errStopped ends a producer whose replay has stopped.
var errStopped = fmt.Errorf("verify: stopped")

// produce runs walk on a new goroutine; walk calls emit with each decoded item.
func (p *pipe) produce(walk func(emit func(item) error) error) {
	go func() {
		batch, size := make([]item, 0, prefetchBatch), 0
		err := walk(func(it item) error {
			batch, size = append(batch, it), size+len(it.raw)
			if len(batch) == prefetchBatch || size >= prefetchBatchBytes {
				if !p.send(batch) {
					return errStopped
				}
				batch, size = make([]item, 0, prefetchBatch), 0
			}
			return nil
		})
		// On an error too, the entries read before it are replayed: one of them may hold an
		// earlier difference, which is the one to name.
		if err != errStopped && len(batch) > 0 && !p.send(batch) {
			err = errStopped
		}
		close(p.batches)
		p.errc <- err
	}()
}

// consume replays every item; it stops the producer on the first error, before it reads
// further than the batches in flight (a forged entry near the start of a huge export is named
// without reading the rest).
func (p *pipe) consume(fn func(item) error) error {
	for batch := range p.batches {
		for _, it := range batch {
			if err := fn(it); err != nil {
				close(p.stop)
				for range p.batches { // let the producer see the stop and finish
				}
				<-p.errc
				return err
			}
		}
	}
	close(p.stop)
	return <-p.errc
}

// checker compares the entries the replay re-decided with the logged bytes (re-encoding
// each: ledger.CheckEntry) on a goroutine of its own, in entry order, so that the replay's
// goroutine, the bound of verify, only decides and applies. wait returns the first
// difference; it is always of an entry before any the replay itself stopped at.
type checker struct {
	batch  []checkItem
	c      chan []checkItem
	done   chan error
	failed atomic.Bool // set once a difference is found: the replay stops (replay.step)
}

type checkItem struct {
	got    *ledger.Entry
	raw    []byte
	assets ledger.Assets
}

func newChecker() *checker {
	c := &checker{batch: make([]checkItem, 0, prefetchBatch), c: make(chan []checkItem, 8), done: make(chan error, 1)}
	go func() {
		var buf []byte
		var first error
		for b := range c.c {
			for _, it := range b {
				if first != nil {
					break
				}
				if buf, first = ledger.CheckEntry(buf, it.got, it.raw, it.assets); first != nil {
					c.failed.Store(true)
				}
			}
		}
		c.done <- first
	}()
	return c
}

func (c *checker) add(got *ledger.Entry, raw []byte, assets ledger.Assets) {
	c.batch = append(c.batch, checkItem{got, raw, assets})
	if len(c.batch) == cap(c.batch) {
		c.c <- c.batch
		c.batch = make([]checkItem, 0, prefetchBatch)
	}
}

// wait hands over the last batch and returns the first difference, if any.
func (c *checker) wait() error {
	if len(c.batch) > 0 {
		c.c <- c.batch
	}
	close(c.c)
	return <-c.done
}

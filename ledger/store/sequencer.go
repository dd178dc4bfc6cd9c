package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/timebank/timebank/ledger"
)

// The sequencer: one goroutine owns the order of writes. It takes the first waiting
// request, drains up to MaxBatch−1 more that are already waiting, runs them all in one
// bbolt Update (group commit: one fsync pair for the batch) and answers each caller only
// after Commit returned. While it commits, the next batch gathers in the queue.

var backgroundCtx = context.Background()

// maxKeyLength is SPEC §3's limit on an Idempotency-Key (1–128 printable ASCII characters).
const maxKeyLength = 128

type waiter struct {
	ctx context.Context
	req ledger.Request
	fp  [32]byte    // ledger.Fingerprint(req), computed by the caller's goroutine
	key string      // in-flight key: actor 0x00 idempotency key; "" for genesis
	res chan result // buffered: the sequencer never blocks on a caller that left
}

type result struct {
	e        *ledger.Entry
	replayed bool
	err      error
	failed   bool // err is the store's failure, not a rule's refusal (stats)
}

// newWaiter prepares req for the sequencer. The fingerprint (JSON and SHA-256 of the body)
// is computed here, in the caller's goroutine, so that callers share the CPU work the single
// sequencer would otherwise do alone.
func newWaiter(ctx context.Context, req ledger.Request) (*waiter, error) {
	fp, err := fingerprint(req)
	if err != nil {
		return nil, err
	}
	return &waiter{ctx: ctx, req: req, fp: fp, res: make(chan result, 1)}, nil
}

// inflightSet holds the (actor, key) pairs submitted and not yet answered.
type inflightSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (s *inflightSet) add(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return false
	}
	s.m[k] = struct{}{}
	return true
}

func (s *inflightSet) remove(k string) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// counters are the sequencer's running totals (Stats).
type counters struct {
	entries, batches, commits, rejects, replays, failures atomic.Uint64
	commitNanos                                           atomic.Int64
}

// Stats are running totals since Open, for metrics.
type Stats struct {
	Entries     uint64        // entries appended
	Batches     uint64        // batches taken from the queue
	Commits     uint64        // bbolt transactions committed
	Rejects     uint64        // requests answered with a *ledger.Error
	Replays     uint64        // idempotent replays
	Failures    uint64        // requests answered with an internal error
	CommitTotal time.Duration // time spent in Update, over all commits
}

// Stats returns the running totals.
func (l *Ledger) Stats() Stats {
	c := &l.stats
	return Stats{Entries: c.entries.Load(), Batches: c.batches.Load(), Commits: c.commits.Load(),
		Rejects: c.rejects.Load(), Replays: c.replays.Load(), Failures: c.failures.Load(),
		CommitTotal: time.Duration(c.commitNanos.Load())}
}

func (l *Ledger) startSequencer() {
	l.queue = make(chan *waiter, l.opts.MaxBatch)
	l.seqDone = make(chan struct{})
	l.inflight.m = map[string]struct{}{}
	go l.run()
}

// Submit decides req and appends its entry durably (ledger.Service). A request whose ctx
// is done before the sequencer takes it is never written; once taken, it is committed or
// rejected whole even if the caller has left, and a retry with the same key replays it.
// A duplicate (actor, key) still in flight gets request_in_progress.
func (l *Ledger) Submit(ctx context.Context, req ledger.Request) (*ledger.Entry, bool, error) {
	if err := checkRequest(req); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if l.queue == nil {
		return nil, false, ledger.Errorf(ledger.CodeUnavailable, "The ledger is open read-only.")
	}
	w, err := newWaiter(ctx, req)
	if err != nil {
		return nil, false, err
	}
	w.key = req.Principal.Actor() + "\x00" + req.IdempotencyKey
	if !l.inflight.add(w.key) {
		return nil, false, ledger.Errorf(ledger.CodeRequestInProgress,
			"A request with Idempotency-Key %q is still being processed; retry shortly to get its result.", req.IdempotencyKey)
	}
	if err := l.enqueue(w); err != nil {
		l.inflight.remove(w.key)
		return nil, false, err
	}
	select {
	case r := <-w.res:
		return r.e, r.replayed, r.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func checkRequest(req ledger.Request) error {
	if req.Body == nil {
		return ledger.Errorf(ledger.CodeInvalidField, "The request has no body.").With("field", "body")
	}
	if req.Principal.Role == ledger.RoleSystem || req.Body.EntryType() == ledger.TypeGenesis {
		return ledger.Errorf(ledger.CodeForbidden, "Only the ledger itself writes the genesis entry.")
	}
	k := req.IdempotencyKey
	if k == "" {
		return ledger.Errorf(ledger.CodeMissingIdempotencyKey, "Send an Idempotency-Key header with every write.")
	}
	if len(k) > maxKeyLength {
		return badKey()
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return badKey()
		}
	}
	return nil
}

func badKey() *ledger.Error {
	return ledger.Errorf(ledger.CodeInvalidField, "The Idempotency-Key must be 1 to %d printable ASCII characters.", maxKeyLength).
		With("field", "Idempotency-Key")
}

// enqueue hands w to the sequencer, unless the ledger is closing or w's context ends first.
func (l *Ledger) enqueue(w *waiter) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errUnavailable()
	}
	select {
	case l.queue <- w:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// run is the sequencer goroutine. It ends when Close has closed the queue and every request
// queued before has been answered.
func (l *Ledger) run() {
	defer close(l.seqDone)
	batch := make([]*waiter, 0, l.opts.MaxBatch)
	for w := range l.queue {
		batch = append(batch[:0], w)
	gather:
		for len(batch) < l.opts.MaxBatch {
			select {
			case w, ok := <-l.queue:
				if !ok {
					break gather
				}
				batch = append(batch, w)
			default:
				break gather
			}
		}
		l.process(batch)
		clear(batch) // drop references to answered requests
	}
}

// process commits one batch and answers every request in it.
func (l *Ledger) process(batch []*waiter) {
	l.stats.batches.Add(1)
	live := make([]*waiter, 0, len(batch))
	for _, w := range batch {
		if l.stopped.Load() != nil {
			l.answer(w, result{err: errStopped(), failed: true})
			continue
		}
		if err := w.ctx.Err(); err != nil {
			l.answer(w, result{err: err}) // the caller left before we took it: never written
			continue
		}
		live = append(live, w)
	}
	err := l.checkClock(l.opts.Now())
	if bad := err != nil; l.clockBad.Swap(bad) != bad { // logged when it changes, not per batch
		if bad {
			l.log.Warn("store: writes refused until the clock is right", "err", err)
		} else {
			l.log.Info("store: the clock is right again; writes resume")
		}
	}
	if err != nil {
		for _, w := range live {
			l.answer(w, result{err: err, failed: true})
		}
		return
	}
	for len(live) > 0 {
		res, bad, err := l.commit(live)
		switch {
		case bad >= 0:
			// This request failed after it began writing (Apply, encode, a Put): the
			// transaction is dirty and was rolled back. Fail it alone and run the others
			// again in a fresh transaction; nobody was answered yet.
			l.log.Error("store: request failed while writing; retrying its batch without it",
				"actor", live[bad].req.Principal.Actor(), "key", live[bad].req.IdempotencyKey, "err", err)
			l.answer(live[bad], result{err: err})
			live = append(live[:bad], live[bad+1:]...)
		case errors.As(err, new(*uncertainCommit)):
			l.stopWrites(live)
			return
		case err != nil:
			l.commitFailed(err, live)
			return
		default:
			for i, w := range live {
				l.answer(w, res[i])
			}
			return
		}
	}
}

// errNothingToCommit rolls back a batch in which every request was rejected or replayed:
// there is nothing to make durable, so no fsync.
var errNothingToCommit = errors.New("store: nothing to commit")

// commit runs ws in one write transaction. bad is the index of a request whose failure
// dirtied the transaction (then err is its error), else −1.
func (l *Ledger) commit(ws []*waiter) (res []result, bad int, err error) {
	h := l.head.Load()
	res = make([]result, len(ws))
	bad = -1
	var next *head
	start := time.Now()
	err = l.writeThen(func(tx *bbolt.Tx) error {
		st := newTxState(tx, l, h)
		for i, w := range ws {
			r, err := st.submit(w.req, w.fp, l.opts.Now().UnixMicro())
			if err != nil {
				bad = i
				return err
			}
			res[i] = r
		}
		if st.appended == 0 {
			return errNothingToCommit
		}
		root, err := st.flush()
		if err != nil {
			return err
		}
		next = &head{size: st.lastSeq, lastTime: st.lastTime, root: root, policy: st.policy}
		if l.assets == nil { // genesis fixed them; no reader can run before Open returns
			l.assets, l.table = st.assets, st.table
		}
		return nil
	}, func() { l.head.Store(next) })
	if errors.Is(err, errNothingToCommit) {
		return res, -1, nil
	}
	if err == nil {
		took := time.Since(start)
		l.stats.commits.Add(1)
		l.stats.commitNanos.Add(int64(took))
		l.stats.entries.Add(next.size - h.size)
		if l.opts.OnCommit != nil {
			l.opts.OnCommit(int(next.size-h.size), took)
		}
		if l.health.Load() != nil {
			l.health.Store(nil)
		}
	}
	return res, bad, err
}

// commitFailed answers every request of a failed commit with unavailable (SPEC §7: 503,
// store not writable; the cause, a full disk say, goes to the log only), marks the store
// unhealthy until a commit succeeds, and reloads the head from disk.
func (l *Ledger) commitFailed(err error, ws []*waiter) {
	l.log.Error("store: commit failed", "requests", len(ws), "err", err)
	herr := fmt.Errorf("store: the last commit failed: %w", err)
	l.health.Store(&herr)
	answer := ledger.Errorf(ledger.CodeUnavailable,
		"The ledger could not write to its storage, so nothing of this request was written; try again later with the same Idempotency-Key.")
	for _, w := range ws {
		l.answer(w, result{err: answer, failed: true})
	}
	err = l.view(func(tx *bbolt.Tx) error {
		h, err := readHead(tx, l.packer)
		if err == nil {
			l.head.Store(h)
		}
		return err
	})
	if err != nil {
		l.log.Error("store: reloading the head after a failed commit", "err", err)
	}
}

// uncertainCommit is a commit that failed inside bbolt's own commit: it may or may not be
// on disk, and may already be visible to the next transaction.
type uncertainCommit struct{ err error }

func (e *uncertainCommit) Error() string {
	return "store: commit failed while writing: " + e.err.Error()
}
func (e *uncertainCommit) Unwrap() error { return e.err }

// write runs fn in a write transaction. An error fn returns rolls the transaction back and
// is returned: nothing was written. Any other failure is another matter. An error of bbolt's
// own commit may come after the meta page was written, from a failed fdatasync: then the
// commit is visible in the memory map (bbolt reads its meta page through it) whether or not
// it is on disk, and bbolt's free list may hand out pages that commit uses. Going on could
// sign or overwrite what is not durable, so the store stops for good: it writes and reads
// nothing more (checkpoints stay at the last commit known durable), and a restart reopens the
// file as the disk has it (PostgreSQL does the same after a failed fsync). A panic met while
// writing (a damaged page) stops it too. Such a failure is returned as an *uncertainCommit.
// Running past MaxSize, or a write after Close, fails before anything is written, and does
// not stop the store.
func (l *Ledger) write(fn func(*bbolt.Tx) error) error { return l.writeThen(fn, nil) }

// writeThen is write, and runs durable (when not nil) once the commit is durable and before
// any read may see it: the sequencer moves the head there, so that no read shows an entry
// beyond the tree that checkpoints and proofs cover.
//
// Writes run one at a time under writeMu, from the stopped check to the publish (bbolt's own
// writer lock is released before db.Update returns): a token write committing between the
// sequencer's commit and its publish would publish the entry before its head moved, and a
// write that passed the check before an uncertain commit would build on that commit.
func (l *Ledger) writeThen(fn func(*bbolt.Tx) error, durable func()) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.stopped.Load() != nil {
		return errStopped()
	}
	var ours error
	var txid uint64
	err := guarded(func() error {
		return l.update(func(tx *bbolt.Tx) error {
			txid = uint64(tx.ID())
			ours = fn(tx)
			return ours
		})
	})
	if err == nil {
		if durable != nil {
			durable()
		}
		l.vis.publish(txid)
		return nil
	}
	if err == ours || errors.Is(err, berrors.ErrMaxSizeReached) {
		return err
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return errUnavailable() // after Close: db.Update failed to begin, nothing was written
	}
	l.log.Error("store: a commit failed while writing to the disk; the ledger stops until it is restarted", "err", err)
	serr := fmt.Errorf("store: stopped after a failed commit, restart the server: %w", err)
	l.stopped.Store(&serr)
	l.vis.wakeAll() // readers waiting for this commit: it may never be durable
	return &uncertainCommit{err}
}

// stopWrites answers every request of a batch whose commit is uncertain (write stopped the
// store): the head stays at the last commit known durable.
func (l *Ledger) stopWrites(ws []*waiter) {
	answer := ledger.Errorf(ledger.CodeUnavailable,
		"The ledger's storage failed while this request was being written, so whether it was written is unknown, "+
			"and the ledger has stopped until it is restarted. After the restart, send it again with the same "+
			"Idempotency-Key: that returns its entry if it was written, and writes it once if not.")
	for _, w := range ws {
		l.answer(w, result{err: answer, failed: true})
	}
}

func errStopped() *ledger.Error {
	return ledger.Errorf(ledger.CodeUnavailable,
		"The ledger stopped after its storage failed and must be restarted; nothing of this request was read or written.")
}

// answer frees w's key and hands it its result. The key is freed first, so that a caller
// retrying at once gets the replay rather than request_in_progress.
func (l *Ledger) answer(w *waiter, r result) {
	if w.key != "" {
		l.inflight.remove(w.key)
	}
	switch {
	case r.err == nil && r.replayed:
		l.stats.replays.Add(1)
	case r.err == nil:
	case !r.failed && ledger.CodeOf(r.err) != ledger.CodeInternal:
		l.stats.rejects.Add(1)
	default:
		l.stats.failures.Add(1)
	}
	w.res <- r
}

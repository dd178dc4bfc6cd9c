// Package store is the durable ledger: a ledger.Service over one bbolt file, with a
// sequencer that group-commits writes, a Merkle log of the entries (golang.org/x/mod/sumdb/tlog)
// and signed checkpoints. It is the only package that imports go.etcd.io/bbolt.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/internal/durable"
	"github.com/timebank/timebank/ledger"
)

var _ ledger.Service = (*Ledger)(nil)

// DBFile is the name of the bbolt file inside the data directory.
const DBFile = "timebank.db"

// Limits and defaults of Options.
const (
	DefaultName     = "timebank"
	DefaultMaxBatch = 2048
	maxMaxBatch     = 1 << 16
	lockTimeout     = time.Second
	// initialMmapBytes is reserved address space, not memory: long reads (exports,
	// backups) then rarely block the writer's remaps while the file is under 1 GiB.
	initialMmapBytes = 1 << 30
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Name is the checkpoint origin and the signing key's name. Default "timebank"; when
	// opening an existing directory, empty means the name of its key.
	Name string
	// MaxBatch bounds the requests committed in one bbolt transaction. Default 2048.
	MaxBatch int
	// Logger receives the store's own log lines. Default: discard.
	Logger *slog.Logger
	// Now is the clock for entry times. Default time.Now; tests set it.
	Now func() time.Time
	// Monotonic, set with Now, is the time since Open by a clock that never jumps, against
	// which jumps of Now are measured (clock.go); with Now set and Monotonic not, none is
	// looked for. Tests set both; the default is Go's monotonic clock.
	Monotonic func() time.Duration
	// AllowClockBehind lets writes go on while the clock is more than MaxClockSkew behind
	// the last entry's time: entry times then advance a microsecond an entry until the clock
	// catches up (clock.go).
	AllowClockBehind bool
	// ReadOnly opens a stopped server's directory, or a backup, for reading: no sequencer,
	// no genesis, no key made; Submit answers unavailable.
	ReadOnly bool
	// NewSigningKey lets a writable open make a new signing key for a ledger that holds
	// entries but whose key file is missing (a backup restored without its key). Without
	// it that open fails: auditors pinned the old verifier key.
	NewSigningKey bool
	// OnCommit, when set, is called on the sequencer's goroutine after each commit with the
	// entries it appended and the time it took (metrics: keep it quick).
	OnCommit func(entries int, took time.Duration)
}

// Ledger is the bbolt-backed ledger.Service. All methods are safe for concurrent use.
type Ledger struct {
	dir    string
	opts   Options
	log    *slog.Logger
	db     *bbolt.DB
	name   string
	signer note.Signer // nil when read-only and the directory has no key
	// keyExisted: the signing key was read from the directory, not made by this open.
	keyExisted bool
	vkey       string

	assets ledger.Assets // fixed at genesis; nil before it
	table  *assetTable
	packer *entryPacker // the entries bucket's compression, from meta entry_dict

	head   atomic.Pointer[head]
	health atomic.Pointer[error] // last commit failure; nil when healthy
	// stopped is set, for good, when a commit failed inside bbolt's own commit (writing or
	// syncing pages or the meta page): whether it reached the disk is unknown, so the store
	// answers nothing more until it is reopened (sequencer.go, stopWrites).
	stopped atomic.Pointer[error]
	// wallStart is Now at Open, without its monotonic reading (clock.go).
	wallStart time.Time
	clockBad  atomic.Bool // the last batch found the clock wrong (for logging changes only)
	// update is db.Update; tests replace it to make a commit fail as a disk would.
	update func(fn func(*bbolt.Tx) error) error
	// writeMu makes each write, from the stopped check to its publish, one step (writeThen).
	writeMu sync.Mutex

	// mu guards closed and every send on queue, so that Close can close queue safely.
	mu       sync.RWMutex
	closed   bool
	queue    chan *waiter
	seqDone  chan struct{}
	inflight inflightSet
	stats    counters

	tokens tokenIndex
	ckpt   checkpointCache
	vis    visibility // the last commit known durable, for readers

	closeOnce sync.Once
	closeErr  error
	closing   chan struct{} // closed when Close begins
	spoolMu   sync.Mutex    // backups spool one at a time (Backup)
}

// head is what the last commit left: published after each commit, read without locks.
type head struct {
	size     uint64 // entries committed; the last seq; the tree size
	lastTime int64  // time of the last entry, µs
	root     tlog.Hash
	policy   *ledger.Policy // in force for the next entry
}

// Open opens (creating when missing) the ledger in dir: the bbolt file DIR/timebank.db and
// the signing key DIR/checkpoint.key with its verifier key DIR/checkpoint.vkey. A fresh
// ledger gets its genesis entry with the default policy. Open fails within about a second
// when another process holds the file.
func Open(dir string, opts Options) (*Ledger, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Ledger{dir: dir, opts: opts, log: opts.Logger, wallStart: opts.Now().Round(0), closing: make(chan struct{})}
	if opts.ReadOnly {
		if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
			return nil, fmt.Errorf("store: no ledger in %s: %w", dir, err)
		}
	} else if err := durable.MakeDir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := guarded(func() (err error) { l.db, err = openBolt(dir, opts); return err }); err != nil {
		return nil, err
	}
	l.update = l.db.Update
	if err := guarded(l.init); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatch < 1 || o.MaxBatch > maxMaxBatch {
		return o, fmt.Errorf("store: MaxBatch %d is not between 1 and %d", o.MaxBatch, maxMaxBatch)
	}
	// Checked before anything is made: a wrong name must not leave a new directory behind.
	if o.Name != "" {
		if err := checkName(o.Name); err != nil {
			return o, err
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		start := time.Now()
		o.Now = time.Now
		o.Monotonic = func() time.Duration { return time.Since(start) }
	}
	return o, nil
}

// openBolt opens the file with a lock timeout, the map free list (fast with many free pages)
// and a large initial mmap. It passes no Logger to bbolt on purpose: with any logger set,
// bbolt makes debug calls (and a deferred closure) on every Put, whatever the level; its
// errors reach us anyway as returned errors, which the store logs.
func openBolt(dir string, opts Options) (*bbolt.DB, error) {
	path := filepath.Join(dir, DBFile)
	bo := &bbolt.Options{
		Timeout:         lockTimeout,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapBytes,
		ReadOnly:        opts.ReadOnly,
	}
	db, err := bbolt.Open(path, 0o600, bo)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is in use by another process (its file lock was not released within %v)", path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// heldProbe is how long Probe waits for a database file's lock.
const heldProbe = 200 * time.Millisecond

// Probe tells whether path is a bbolt database file (a ledger's timebank.db, or a backup of
// one), and whether another process holds it locked as its database (a running server):
// a read-only open that is not granted its lock within heldProbe. A missing file, one that
// is not regular, or one bbolt does not open, is neither.
func Probe(path string) (database, inUse bool) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false, false
	}
	var db *bbolt.DB
	err := guarded(func() (err error) { // any file may be named: a damaged one must not crash
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: heldProbe})
		return err
	})
	if err == nil {
		db.Close()
		return true, false
	}
	held := errors.Is(err, berrors.ErrTimeout)
	return held, held
}

// init runs under the file lock: a check of the pages above the buckets (rootcheck.go),
// the key, the buckets, genesis, the in-memory head and tokens, then the sequencer.
func (l *Ledger) init() error {
	if err := checkRootPages(l.db); err != nil {
		return err
	}
	if err := l.vis.start(l.db); err != nil {
		return err
	}
	if err := l.loadKey(); err != nil {
		return err
	}
	if !l.opts.ReadOnly {
		if err := l.write(createBuckets); err != nil {
			return fmt.Errorf("store: %s: %w", filepath.Join(l.dir, DBFile), err)
		}
	}
	if err := l.loadPacker(); err != nil {
		return err
	}
	h, err := l.loadHead()
	if err != nil {
		return err
	}
	if h == nil && l.opts.ReadOnly {
		return fmt.Errorf("store: %s holds no ledger (no genesis entry)", filepath.Join(l.dir, DBFile))
	}
	if h == nil && l.keyExisted {
		// A key with no ledger: the database was lost or replaced by an empty file. A new
		// genesis would start a second ledger signed with the first one's key.
		return fmt.Errorf("store: %s holds no ledger, but %s is the key of one: restore the database "+
			"(a first start that was interrupted before its genesis entry: delete %s and %s and start again)",
			filepath.Join(l.dir, DBFile), filepath.Join(l.dir, KeyFile), KeyFile, VerifierKeyFile)
	}
	if h != nil {
		l.head.Store(h)
	} else {
		l.head.Store(&head{})
	}
	if err := l.loadTokens(); err != nil {
		return err
	}
	if l.opts.ReadOnly {
		return nil
	}
	l.startSequencer()
	if h == nil {
		return l.genesis()
	}
	return nil
}

// createBuckets makes a new file's buckets, dictionary and format; a file that has a format
// is left as it is (loadPacker checks it and its buckets).
func createBuckets(tx *bbolt.Tx) error {
	if meta := tx.Bucket(bucketMeta); meta != nil && meta.Get(metaFormat) != nil {
		return nil
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaDict, []byte(defaultEntryDict)); err != nil {
		return err
	}
	return meta.Put(metaFormat, encodeUvarint(formatVersion))
}

func checkFormat(v []byte) error {
	n, err := decodeUvarint(v)
	if err != nil {
		return fmt.Errorf("%w: meta format %x", ErrCorrupt, v)
	}
	if n != formatVersion {
		return fmt.Errorf("the file has storage format %d, this program reads format %d (docs/decisions/0007-compressed-entries.md)", n, formatVersion)
	}
	return nil
}

// loadPacker checks the storage format and the buckets, and makes the entries' compressor
// from the file's dictionary.
func (l *Ledger) loadPacker() error {
	return l.view(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("store: %s has no meta bucket", filepath.Join(l.dir, DBFile))
		}
		if err := checkFormat(meta.Get(metaFormat)); err != nil {
			return fmt.Errorf("store: %s: %w", filepath.Join(l.dir, DBFile), err)
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("store: %s: %w: bucket %s is missing", filepath.Join(l.dir, DBFile), ErrCorrupt, name)
			}
		}
		p, err := newEntryPacker(bytes.Clone(meta.Get(metaDict)))
		if err != nil {
			return err
		}
		l.packer = p
		return nil
	})
}

// genesis appends entry 1 through the sequencer, like any entry.
func (l *Ledger) genesis() error {
	req := ledger.Request{
		Principal:      ledger.Principal{Role: ledger.RoleSystem},
		IdempotencyKey: ledger.GenesisKey,
		Body:           &ledger.GenesisBody{Policy: *ledger.DefaultPolicy()},
	}
	w, err := newWaiter(backgroundCtx, req)
	if err != nil {
		return err
	}
	if err := l.enqueue(w); err != nil {
		return err
	}
	if r := <-w.res; r.err != nil {
		return fmt.Errorf("store: genesis: %w", r.err)
	}
	return nil
}

// loadHead reads the meta bucket: nil when the file has no genesis entry yet. It also
// loads the asset table.
func (l *Ledger) loadHead() (*head, error) {
	var h *head
	err := l.view(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(metaLastSeq) == nil {
			return nil
		}
		var err error
		if h, err = readHead(tx, l.packer); err == nil {
			l.assets, _, err = readPolicy(meta)
			l.table = newAssetTable(l.assets)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", filepath.Join(l.dir, DBFile), err)
	}
	return h, nil
}

// readHead reads the head from the meta bucket and the tree, checking the pair invariant
// last_seq == tree_size.
func readHead(tx *bbolt.Tx, p *entryPacker) (*head, error) {
	meta := tx.Bucket(bucketMeta)
	_, policy, err := readPolicy(meta)
	if err != nil {
		return nil, err
	}
	h := &head{policy: policy}
	if h.size, err = decodeUvarint(meta.Get(metaLastSeq)); err != nil {
		return nil, fmt.Errorf("meta last_seq: %w", err)
	}
	if h.lastTime, err = decodeVarint(meta.Get(metaLastTime)); err != nil {
		return nil, fmt.Errorf("meta last_time: %w", err)
	}
	size, err := decodeUvarint(meta.Get(metaTreeSize))
	if err != nil || size != h.size {
		return nil, fmt.Errorf("%w: meta tree_size %d does not equal last_seq %d", ErrCorrupt, size, h.size)
	}
	if h.root, err = tlog.TreeHash(int64(h.size), newHashReader(tx, p)); err != nil {
		return nil, fmt.Errorf("tree hash: %w", err)
	}
	// The stored root covers every entry byte, also the last entry's when the tree size is
	// odd: no stored hash covers that leaf, which is computed from the entry.
	if stored := meta.Get(metaTreeRoot); !bytes.Equal(stored, h.root[:]) {
		return nil, fmt.Errorf("%w: the entries and stored hashes give tree root %x, meta tree_root is %x (an entry or a hash was changed)", ErrCorrupt, h.root, stored)
	}
	return h, nil
}

// Close stops accepting writes, commits and answers every request already queued, stops the
// sequencer, cuts a backup still spooling (Backup) and closes the file once every read has
// ended. Later calls return the first call's result.
func (l *Ledger) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		if l.queue != nil {
			l.mu.Lock()
			l.closed = true
			close(l.queue)
			l.mu.Unlock()
			<-l.seqDone
		}
		l.closeErr = l.db.Close()
		if l.packer != nil {
			l.packer.close()
		}
	})
	return l.closeErr
}

// Healthy returns nil when the store is writable: open, not read-only, and the last commit
// succeeded. Otherwise an error saying why.
func (l *Ledger) Healthy() error {
	if l.opts.ReadOnly {
		return ledger.Errorf(ledger.CodeUnavailable, "The ledger is open read-only.")
	}
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return errUnavailable()
	}
	if p := l.stopped.Load(); p != nil {
		return *p
	}
	if p := l.health.Load(); p != nil {
		return *p
	}
	return l.checkClock(l.opts.Now())
}

func errUnavailable() *ledger.Error {
	return ledger.Errorf(ledger.CodeUnavailable, "The ledger is shutting down; try again shortly.")
}

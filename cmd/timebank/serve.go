package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/internal/durable"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// serveCmd runs the HTTP API over the ledger in --data.
type serveCmd struct {
	Data      string  `default:"./timebank-data" help:"Data directory (created on first start)."`
	Addr      string  `default:"127.0.0.1:8080" help:"Address to listen on, HOST:PORT (port 0 picks a free one)."`
	Name      string  `help:"Ledger name: the checkpoint origin and signing key name (default timebank; an existing ledger keeps its own: a different --name refuses to start)."`
	LogLevel  string  `default:"info" enum:"debug,info,warn,error" help:"Lowest log level written (JSON on stderr)."`
	RateLimit float64 `default:"0" help:"Requests per second allowed per client address, 0.01 (one in 100 s) or more; 0 turns the limit off."`
	DebugAddr string  `help:"Address of a separate listener for Go's profiler (net/http/pprof), HOST:PORT; empty (the default) serves none. Unauthenticated: bind it to loopback."`
	// A restored backup needs its checkpoint.key; this is for a key that is lost for good.
	AllowClockBehind bool `help:"Take writes while the clock is more than five minutes behind the ledger's last entry (a last entry stamped by a clock that was ahead): entry times then advance a microsecond an entry until the clock catches up. Without it such writes wait (503) until the clock is right."`
	NewSigningKey    bool `help:"When the data directory's checkpoint.key is missing but the ledger holds entries, make a new signing key instead of refusing to start. Every auditor must then pin the new verifier key."`
}

// Help is the detail of `timebank serve --help`: what a first start makes, and how to stop.
func (c *serveCmd) Help() string {
	return `On first start it creates the data directory, the ledger (its genesis entry, with the
default policy), the checkpoint signing key (checkpoint.key; its verifier key is printed
and written to checkpoint.vkey) and an admin token: the value of TIMEBANK_ADMIN_TOKEN when
that is set (24 to 256 bytes), else a random one written to DIR/admin.token (mode 0600).
A start that finds no admin token live makes one again, the same way.

SIGINT or SIGTERM stops it gracefully: in-flight requests finish (10 s at most) and it exits
0; a second signal stops it at once.`
}

// Time limits of the server. Shutdown must end within SPEC §6's 15 seconds: in-flight
// requests get shutdownGrace, then connections are cut and the store closes.
const (
	shutdownGrace     = 10 * time.Second
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// writeIdleTimeout is how long a write of an answer may wait for the client to take
	// bytes (api.Options.WriteIdle; for net/http's own answers, one deadline): a client that
	// stops reading is cut after it, instead of holding its connection for ever. It bounds
	// each 64 KiB, not the answer: a multi-GB export over a slow auditor's link takes hours
	// and is never cut while the link carries 64 KiB a minute (about 9 kbit/s). A minute is
	// also what the CLI's own clients wait for a byte from a server (streamWait.idle).
	writeIdleTimeout = time.Minute
)

// serveGCPercent is the garbage collector's target when GOGC is not set. bbolt allocates
// about 15 KB per credit against a live heap of a few MB, so the default (100) collects many
// times a second; 400 gave 27–35 % more durable credits on an empty ledger
// (docs/PERFORMANCE.md, Store). The memory limit keeps a large ledger's heap bounded anyway.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 4 << 30
)

// tuneGC applies serveGCPercent and serveMemoryLimit unless GOGC or GOMEMLIMIT say otherwise.
func tuneGC() {
	gcPercentUnlessSet(serveGCPercent)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

// gcPercentUnlessSet sets the garbage collector's target to percent, unless the GOGC
// environment variable chose one.
func gcPercentUnlessSet(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// adminTokenFile is where a generated admin token is kept, in the data directory.
const adminTokenFile = "admin.token"

// Run opens the store, makes sure an admin token exists, serves until SIGINT or SIGTERM,
// then stops gracefully: in-flight requests finish, the store commits and closes.
func (c *serveCmd) Run() error {
	// NaN fails every comparison: !(x >= 0) refuses it with the negative ones.
	if !(c.RateLimit >= 0) || math.IsInf(c.RateLimit, 0) || c.RateLimit > 0 && c.RateLimit < api.MinRateLimit {
		return usagef("serve: --rate-limit must be a number of requests per second, %v (one in %v s) or more, or 0 (no limit), not %v",
			api.MinRateLimit, 1/api.MinRateLimit, c.RateLimit)
	}
	// kong takes a TIMEBANK_ADDR or TIMEBANK_DATA that is set but empty as an empty value, not
	// as unset. An empty address is net.Listen's every interface at a random port, not the
	// default 127.0.0.1:8080: the ledger would be open to the network unasked. To listen on
	// every interface, say so (":8080").
	if c.Addr == "" {
		return usagef("serve: --addr is empty (is TIMEBANK_ADDR set to nothing?); give HOST:PORT, e.g. 127.0.0.1:8080, the default")
	}
	if c.Data == "" {
		return usagef("serve: --data is empty (is TIMEBANK_DATA set to nothing?); give the data directory, e.g. ./timebank-data, the default")
	}
	// The signals are caught from here on, not only once serving: one that comes during
	// startup (opening the store, the first start's genesis entry and admin token) lets it
	// finish, then stops at once, gracefully. Killed where it was, a first start could leave a
	// signing key without its genesis entry, which no later start opens until the key files
	// are deleted by hand. A second signal ends the process at once (stop restores Go's
	// default for them).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	tuneGC()
	// Go ends a program that writes to a broken pipe on standard output or error with
	// SIGPIPE, unless the signal is ignored: a log collector (or `tee`) that went away would
	// take the ledger down at its next log line, cutting every request in flight. Ignored, the
	// write fails with EPIPE, which logWriter survives.
	signal.Ignore(syscall.SIGPIPE)
	logw := newLogWriter(os.Stderr, logFlushInterval)
	defer logw.Close()
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: parseLevel(c.LogLevel)}))
	// The addresses first: a wrong one must not leave a new data directory behind.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close() // after a clean stop, already closed by the server
	debugLn, err := listenDebug(c.DebugAddr)
	if err != nil {
		return err
	}
	// So is a first start's admin secret that cannot be one: refused after store.Open, it left
	// a new ledger behind, its name and signing key fixed by the start that failed.
	if env := os.Getenv("TIMEBANK_ADMIN_TOKEN"); env != "" {
		if _, err := os.Stat(filepath.Join(c.Data, store.DBFile)); errors.Is(err, fs.ErrNotExist) {
			if err := checkAdminSecret(env); err != nil {
				return err
			}
		}
	}
	reg := api.NewRegistry()
	led, err := store.Open(c.Data, store.Options{Name: c.Name, Logger: log, NewSigningKey: c.NewSigningKey,
		AllowClockBehind: c.AllowClockBehind, OnCommit: commitHistograms(reg)})
	if err != nil {
		return err
	}
	warnLoosePermissions(c.Data)
	if err := led.Healthy(); err != nil {
		fmt.Printf("timebank: warning: %v\n", err) // the clock behind the last entry: reads work, writes wait
	}
	defer func() {
		if err := led.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if err := c.ensureAdmin(led); err != nil {
		return err
	}
	registerStoreMetrics(reg, led)
	registerLogMetrics(reg, logw)
	srv := api.New(led, api.Options{Logger: log, Registry: reg, RateLimit: c.RateLimit, WriteIdle: writeIdleTimeout})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeIdleTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if debugLn != nil {
		serveDebug(debugLn, log)
	}
	fmt.Printf("timebank: ledger %q in %s\n", led.Name(), c.Data)
	fmt.Printf("timebank: checkpoint verifier key: %s\n", led.VerifierKey())
	fmt.Printf("timebank: serving on http://%s\n", ln.Addr())
	return serveUntilSignal(ctx, hs, ln, log)
}

// serveUntilSignal serves on ln until ctx ends (SIGINT or SIGTERM, also one that came
// before), then shuts hs down gracefully.
func serveUntilSignal(ctx context.Context, hs *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// A second SIGINT or SIGTERM now ends the process at once (Go's default for them, back
	// since the first: Run), for an operator who will not wait for the grace period: every
	// acknowledged write is already committed, so only unanswered requests are cut.
	log.Info("shutting down: finishing in-flight requests (a second SIGINT or SIGTERM stops at once)")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Long streams (export, backup) may outlast the grace period: cut them. Every
		// acknowledged write was committed before its answer, so nothing is lost.
		log.Warn("in-flight requests cut at the end of the grace period", "err", err)
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// The lengths in bytes of a TIMEBANK_ADMIN_TOKEN taken: a secret, not a password (only its
// unsalted SHA-256 is stored, and backups carry it), and no longer than Authenticate reads
// (bytes, not characters: a non-ASCII character takes two to four).
const (
	minAdminSecret = 24
	maxAdminSecret = 256
)

// checkAdminSecret refuses a TIMEBANK_ADMIN_TOKEN that cannot be the admin's secret.
func checkAdminSecret(env string) error {
	switch {
	case len(env) < minAdminSecret || len(env) > maxAdminSecret:
		return fmt.Errorf("TIMEBANK_ADMIN_TOKEN must be %d to %d bytes, not %d: it is the admin's secret (e.g. 32 random bytes in base64)", minAdminSecret, maxAdminSecret, len(env))
	case strings.TrimSpace(env) != env || strings.ContainsFunc(env, unicode.IsControl):
		// The API trims the Authorization header and clients refuse control characters:
		// stored as it is, such a secret would be a live admin token nobody can present.
		return fmt.Errorf("TIMEBANK_ADMIN_TOKEN begins or ends with white space or holds a control character (a line break?): no client could send it; set the secret alone")
	}
	return nil
}

// ensureAdmin makes sure an admin can log in, and does nothing else. While any admin token
// is live (every start after the first, normally), nothing is created: a revoked bootstrap
// token stays revoked, and a TIMEBANK_ADMIN_TOKEN that is not a live token is ignored with a
// warning. When none is live (the first start, or every admin token revoked), it makes one:
// TIMEBANK_ADMIN_TOKEN's value when set, else a random one written to DIR/admin.token with
// mode 0600. A revoked secret is never made a token again (the store keeps their hashes).
func (c *serveCmd) ensureAdmin(led *store.Ledger) error {
	env := os.Getenv("TIMEBANK_ADMIN_TOKEN")
	path := filepath.Join(c.Data, adminTokenFile)
	if led.HasLiveAdmin() {
		if env != "" {
			if p, ok := led.Authenticate(env); ok && p.Role == ledger.RoleAdmin {
				fmt.Println("timebank: admin token from TIMEBANK_ADMIN_TOKEN")
			} else {
				fmt.Println("timebank: warning: TIMEBANK_ADMIN_TOKEN is not a live admin token (revoked, set after the first start, or another role's) and is ignored; make admin tokens with `timebank token create --role admin`")
			}
		} else if b, err := os.ReadFile(path); err == nil && led.TokenStatus(strings.TrimSpace(string(b))) == store.TokenLive {
			fmt.Printf("timebank: admin token in %s\n", path)
		}
		return nil
	}
	if env != "" {
		if led.TokenStatus(env) == store.TokenRevoked {
			return fmt.Errorf("TIMEBANK_ADMIN_TOKEN was revoked and is never restored; unset it (a new admin token is then written to %s) or set a new secret", path)
		}
		if err := checkAdminSecret(env); err != nil {
			return err
		}
		if err := led.EnsureAdminToken(env); err != nil {
			return fmt.Errorf("TIMEBANK_ADMIN_TOKEN: %w", err)
		}
		fmt.Println("timebank: admin token from TIMEBANK_ADMIN_TOKEN")
		return nil
	}
	secret := store.NewSecret()
	// The file is made durable before the token is stored: a crash or a failure in between
	// leaves a file whose secret is no token, and the next start, finding no live admin,
	// replaces it. The other order could leave a live admin token whose secret nobody has,
	// and then no start would make another.
	if err := durable.WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, secret+"\n")
		return err
	}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := led.EnsureAdminToken(secret); err != nil {
		return err
	}
	fmt.Printf("timebank: admin token written to %s\n", path)
	return nil
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// registerStoreMetrics exports the store's running totals (entries appended, batches,
// commits and their time) next to the API's request metrics.
func registerStoreMetrics(reg *prometheus.Registry, led *store.Ledger) {
	counter := func(name, help string, f func(store.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return f(led.Stats()) })
	}
	reg.MustRegister(
		counter("timebank_entries_appended_total", "Entries appended to the log.",
			func(s store.Stats) float64 { return float64(s.Entries) }),
		counter("timebank_batches_total", "Batches of requests the sequencer took (entries per batch = entries / batches).",
			func(s store.Stats) float64 { return float64(s.Batches) }),
		counter("timebank_commits_total", "bbolt transactions committed by the sequencer.",
			func(s store.Stats) float64 { return float64(s.Commits) }),
		counter("timebank_commit_seconds_total", "Time spent committing (mean commit latency = this / commits).",
			func(s store.Stats) float64 { return s.CommitTotal.Seconds() }),
		counter("timebank_requests_rejected_total", "Write requests the rules rejected.",
			func(s store.Stats) float64 { return float64(s.Rejects) }),
		counter("timebank_requests_replayed_total", "Write requests answered as idempotent replays.",
			func(s store.Stats) float64 { return float64(s.Replays) }),
		counter("timebank_requests_failed_total", "Write requests that failed internally.",
			func(s store.Stats) float64 { return float64(s.Failures) }),
	)
}

// registerLogMetrics exports the count of log lines dropped while the log's reader stalled.
func registerLogMetrics(reg *prometheus.Registry, l *logWriter) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "timebank_log_lines_dropped_total",
		Help: "Log lines dropped because the log's reader did not keep up (the ledger is unaffected)."},
		func() float64 { return float64(l.Dropped()) }))
}

// commitHistograms registers the distributions of the sequencer's commits, entries per
// commit and commit latency, and returns the store's hook that feeds them.
func commitHistograms(reg *prometheus.Registry) func(int, time.Duration) {
	entries := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "timebank_commit_entries",
		Help:    "Entries appended per commit (the group commit's batch size).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12)}) // 1 … 2048, the largest batch
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "timebank_commit_duration_seconds",
		Help:    "Time of one commit: the rules, the B+tree writes and the fsync.",
		Buckets: prometheus.ExponentialBuckets(0.00025, 2, 13)}) // 0.25 ms … 1 s
	reg.MustRegister(entries, latency)
	return func(n int, took time.Duration) {
		entries.Observe(float64(n))
		latency.Observe(took.Seconds())
	}
}

// logFlushInterval bounds how long a log line waits in the buffer.
const logFlushInterval = 100 * time.Millisecond

// The log writer's buffer: past logKickBytes the flusher is woken at once; past logBufferMax
// (the reader of the log is not keeping up) lines are dropped and counted.
const (
	logKickBytes  = 64 << 10
	logBufferMax  = 4 << 20
	logCloseGrace = 2 * time.Second
)

// logWriter buffers log lines and writes them from a goroutine of its own, at most every
// interval (sooner when logKickBytes are waiting): one write system call per request line
// costs a tenth of the balance-read rate. What is lost in a crash is at most the last
// interval's log lines, never ledger data (the ledger acknowledges only committed entries),
// and Go's own panic output bypasses it.
//
// A request never waits for the log's reader: when it stalls (a hung collector, a paused
// terminal) and logBufferMax bytes are waiting, new lines are dropped, whole, and counted
// (Dropped, and a line saying how many once the reader is back), rather than every request
// waiting on the full pipe. The ledger is the record; the log is for operators (decision 0011).
type logWriter struct {
	flushMu sync.Mutex // one flush at a time: it owns spare
	mu      sync.Mutex
	pending []byte // whole lines waiting for the flusher
	spare   []byte // the flusher's other buffer, swapped with pending at each flush
	lost    uint64 // lines dropped since the last notice
	dropped atomic.Uint64
	out     io.Writer
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newLogWriter(w io.Writer, interval time.Duration) *logWriter {
	l := &logWriter{out: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-l.kick:
			case <-l.stop:
				l.flush()
				return
			}
			l.flush()
		}
	}()
	return l
}

// Write takes one log line (slog writes each record whole); it never blocks on the output.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)+len(p) > logBufferMax {
		l.lost++
		l.dropped.Add(1)
		return len(p), nil
	}
	l.pending = append(l.pending, p...)
	if len(l.pending) >= logKickBytes {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flush writes out what is waiting, first saying how many lines were dropped since the last
// flush, if any. A failed write (a full disk, a closed pipe) drops what it was writing;
// logging goes on with the next lines.
func (l *logWriter) flush() {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	buf, lost := l.pending, l.lost
	l.pending, l.lost = l.spare[:0], 0
	l.mu.Unlock()
	if lost > 0 {
		fmt.Fprintf(l.out, "{\"time\":%q,\"level\":\"WARN\",\"msg\":\"log lines dropped: the log's reader did not keep up\",\"dropped\":%d}\n",
			time.Now().Format(time.RFC3339Nano), lost)
	}
	if len(buf) > 0 {
		l.out.Write(buf)
	}
	l.mu.Lock()
	l.spare = buf[:0]
	l.mu.Unlock()
}

// Dropped is the number of log lines dropped so far.
func (l *logWriter) Dropped() uint64 { return l.dropped.Load() }

// Close flushes what is waiting and stops the flusher; it waits for the last write at most
// logCloseGrace, so that a stalled reader of the log does not hold the process past its
// graceful stop (SPEC §6: 15 seconds).
func (l *logWriter) Close() error {
	close(l.stop)
	select {
	case <-l.done:
	case <-time.After(logCloseGrace):
	}
	return nil
}

// warnLoosePermissions warns about secrets of the data directory that others may read: the
// signing key, the admin token, the database (token hashes, the whole ledger) and the
// directory itself. serve makes them 0600 and 0700; a copy or a restore may not have.
func warnLoosePermissions(dir string) {
	for _, name := range []string{"", store.KeyFile, adminTokenFile, store.DBFile} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		fmt.Printf("timebank: warning: %s is open to group or others (mode %v); chmod go-rwx %s\n", path, fi.Mode().Perm(), path)
	}
}

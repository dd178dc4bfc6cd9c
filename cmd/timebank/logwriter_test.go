package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// failOnce fails its first write, then takes everything.
type failOnce struct {
	failed bool
	buf    bytes.Buffer
}

func (f *failOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("disk full")
	}
	return f.buf.Write(p)
}

// TestLogWriterRecovers: one failed write (an audit filled the disk under the log) does not
// silence the log for the rest of the process.
func TestLogWriterRecovers(t *testing.T) {
	out := &failOnce{}
	l := newLogWriter(out, time.Hour)
	l.Write([]byte("lost\n"))
	l.flush() // fails: the line is dropped
	l.Write([]byte("kept\n"))
	l.Close()
	if got := out.buf.String(); got != "kept\n" {
		t.Fatalf("after a failed write the log holds %q, want the next line", got)
	}
}

// serveLoggingToPipe starts the built binary's serve on a new data directory with its
// standard error the writing end of a pipe, and returns the command, the pipe's reading
// end (the test decides whether to read it, close it or leave it) and the server's URL.
func serveLoggingToPipe(t *testing.T) (*exec.Cmd, *os.File, string) {
	t.Helper()
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logW
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	logW.Close() // the child has its own copy
	sc := bufio.NewScanner(stdout)
	var url string
	for url == "" && sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "timebank: serving on "); ok {
			url = u
		}
	}
	if url == "" {
		t.Fatalf("serve did not start: %v", cmd.Wait())
	}
	go io.Copy(io.Discard, stdout)
	return cmd, logR, url
}

// TestServeOutlivesItsLogReader: serve's log goes to standard error, often a pipe to a log
// collector or `tee`. When the reader of that pipe goes away, a write to it fails (EPIPE),
// which the log writer survives; but Go ends a program that writes to a broken pipe on
// descriptor 1 or 2 with SIGPIPE unless it asked for the signal, so the whole ledger died at
// its next log flush, cutting every request in flight. The test closes the pipe's reading end,
// sends requests whose log lines overflow the log's buffer (so that it is written at least
// once, whatever its flush timer does), and wants serve still answering, then a clean stop.
func TestServeOutlivesItsLogReader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	cmd, logR, url := serveLoggingToPipe(t)
	logR.Close() // the log collector goes away: the child's next log write gets EPIPE
	// Each request logs a line of about 200 bytes: 1,000 lines overflow the 64 KiB buffer.
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 1000 {
		res, err := client.Get(url + "/healthz")
		if err != nil {
			cmd.Process.Kill() // when it still runs, for Wait to return
			t.Fatalf("request %d after the log's reader left: %v (serve: %v)", i, err, cmd.Wait())
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, res.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit 0 after SIGTERM: %v", err)
	}
}

// TestServeOutlivesAStalledLogReader: a log collector that stops reading (hung, or paused)
// leaves serve's standard error a full pipe. The log writer used to write to it while
// holding the lock every request's log line takes, so once the pipe and the buffer were
// full every request waited for the collector, and SIGTERM's graceful stop waited on the
// last flush for ever. Log lines are now dropped (and counted) instead: serve goes on
// answering, says how many lines it dropped, and stops within SPEC §6's 15 seconds.
func TestServeOutlivesAStalledLogReader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	cmd, logR, url := serveLoggingToPipe(t)
	defer logR.Close() // open, and never read until the end: the collector hangs
	// About 200 bytes a line: 30,000 lines are 6 MB, past the pipe's 64 KiB and the log
	// writer's buffer, whatever their sizes.
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 30000 {
		res, err := client.Get(url + "/healthz")
		if err != nil {
			t.Fatalf("request %d with the log's reader stalled: %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, res.StatusCode)
		}
	}
	res, err := client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	dropped := metricValue(t, string(metrics), "timebank_log_lines_dropped_total")
	if dropped < 1 {
		t.Fatalf("timebank_log_lines_dropped_total is %v with the log's reader stalled, want > 0", dropped)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve did not exit 0 after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not stop within 20 s of SIGTERM with its log's reader stalled")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("serve took %v to stop, past SPEC §6's 15 s", took)
	}
	// What the pipe holds: whole JSON lines, but for the last one, which the process may
	// have been writing when it ended.
	logR.SetReadDeadline(time.Now().Add(5 * time.Second))
	log, _ := io.ReadAll(logR)
	lines := strings.Split(string(log), "\n")
	for _, line := range lines[:len(lines)-1] {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Fatalf("the log holds a broken line: %.200q", line)
		}
	}
}

// metricValue reads one unlabelled sample from a Prometheus text exposition, or fails.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// gate is a log output that blocks every write until it is opened.
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

// TestLogWriterDropsWholeLinesWhileStalled: with its output blocked, Write never waits;
// lines past logBufferMax are dropped whole and counted, and once the output takes writes
// again the log says how many were dropped, then goes on with every line kept, in order.
// Close does not wait for a blocked output past logCloseGrace.
func TestLogWriterDropsWholeLinesWhileStalled(t *testing.T) {
	out := &gate{open: make(chan struct{})}
	l := newLogWriter(out, time.Millisecond)
	line := func(i int) []byte { return fmt.Appendf(nil, "{\"n\":%d,\"pad\":%q}\n", i, strings.Repeat("x", 200)) }
	wrote := make(chan struct{})
	const n = 3 * logBufferMax / 200 // three buffers' worth
	go func() {
		defer close(wrote)
		for i := range n {
			l.Write(line(i))
		}
	}()
	select {
	case <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("Write waited for a blocked output")
	}
	dropped := l.Dropped()
	if dropped == 0 || dropped >= n {
		t.Fatalf("%d of %d lines dropped with the output blocked, want some but not all", dropped, n)
	}
	close(out.open)
	for waiting := true; waiting; { // until the flusher has taken what waited
		l.mu.Lock()
		waiting = len(l.pending) > 0
		l.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	l.Write(line(n)) // after the stall
	closed := time.Now()
	l.Close()
	if took := time.Since(closed); took > logCloseGrace+5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	out.mu.Lock()
	got := out.buf.String()
	out.mu.Unlock()
	var kept, notices int
	var noticed uint64
	last := -1
	for ln := range strings.Lines(got) {
		var rec struct {
			N       *int
			Msg     string
			Dropped uint64
		}
		if err := json.Unmarshal([]byte(ln), &rec); err != nil {
			t.Fatalf("not a whole JSON line: %.100q: %v", ln, err)
		}
		if rec.N == nil {
			if !strings.HasPrefix(rec.Msg, "log lines dropped") {
				t.Fatalf("unexpected line %q", ln)
			}
			notices++
			noticed += rec.Dropped
			continue
		}
		if *rec.N <= last {
			t.Fatalf("line %d after line %d", *rec.N, last)
		}
		last = *rec.N
		kept++
	}
	if uint64(kept)+dropped != n+1 || noticed != dropped || notices == 0 || last != n {
		t.Fatalf("kept %d, dropped %d (noticed %d in %d notices), last line %d; want kept+dropped = %d, all noticed, the line after the stall last",
			kept, dropped, noticed, notices, last, n+1)
	}

	// A stall that never ends: Close gives up after logCloseGrace.
	stuck := newLogWriter(&gate{open: make(chan struct{})}, time.Millisecond)
	stuck.Write(line(0))
	time.Sleep(10 * time.Millisecond) // the flusher is in the blocked write, or soon will be
	closed = time.Now()
	stuck.Close()
	if took := time.Since(closed); took < logCloseGrace/2 || took > logCloseGrace+5*time.Second {
		t.Fatalf("Close with the output blocked for good took %v, want about %v", took, logCloseGrace)
	}
}

// jsonLine is a log line of exactly n bytes (n ≥ 9), newline included.
func jsonLine(n int) []byte {
	return []byte(`{"p":"` + strings.Repeat("x", n-9) + "\"}\n")
}

// TestLogWriterBufferBound: with the output blocked, lines are kept while what waits stays
// within logBufferMax, the boundary included, and the first that would pass it is dropped;
// a single dropped line is noticed too, once the output takes writes (found by mutation
// testing: a bound that let the buffer pass logBufferMax by a line, and a notice only for
// two or more, passed).
func TestLogWriterBufferBound(t *testing.T) {
	out := &gate{open: make(chan struct{})}
	l := newLogWriter(out, time.Hour)
	l.Write(jsonLine(logKickBytes)) // wakes the flusher, which blocks writing it
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		waiting := len(l.pending) > 0
		l.mu.Unlock()
		if !waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("logKickBytes waiting did not wake the flusher")
		}
	}
	l.Write(jsonLine(logBufferMax - 10))
	l.Write(jsonLine(10)) // exactly logBufferMax waiting: kept
	if d := l.Dropped(); d != 0 {
		t.Fatalf("%d lines dropped with logBufferMax bytes waiting, want 0", d)
	}
	l.Write(jsonLine(9)) // past it: dropped
	if d := l.Dropped(); d != 1 {
		t.Fatalf("%d lines dropped past logBufferMax, want 1", d)
	}
	close(out.open)
	l.Close()
	out.mu.Lock()
	got := out.buf.String()
	out.mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], `"msg":"log lines dropped`) || !strings.HasSuffix(lines[1], `"dropped":1}`) ||
		len(lines[0])+1 != logKickBytes || len(lines[2])+1 != logBufferMax-10 || len(lines[3])+1 != 10 {
		t.Fatalf("the log holds %d lines, want the first line, a notice of 1 dropped line, then the 2 kept; lines 2 to 4 begin: %.100q",
			len(lines), lines[1:])
	}
}

// signalled is a log output that says when it has been written to.
type signalled struct {
	wrote chan struct{}
	once  sync.Once
}

func (s *signalled) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.wrote) })
	return len(p), nil
}

// TestLogWriterFlushes: logKickBytes waiting wake the flusher before its interval ends, and
// a short line is written once the interval ends, without more lines or Close (found by
// mutation testing: without the wake-up, or without the timer, lines waited).
func TestLogWriterFlushes(t *testing.T) {
	for _, c := range []struct {
		name     string
		interval time.Duration
		size     int
	}{
		{"full buffer", time.Hour, logKickBytes},
		{"interval", time.Millisecond, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := &signalled{wrote: make(chan struct{})}
			l := newLogWriter(out, c.interval)
			defer l.Close()
			l.Write(jsonLine(c.size))
			select {
			case <-out.wrote:
			case <-time.After(30 * time.Second):
				t.Fatalf("a line of %d bytes was not written (flush interval %v)", c.size, c.interval)
			}
		})
	}
}

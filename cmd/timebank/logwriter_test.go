package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	logR.Close() // the log collector goes away: the child's next log write gets EPIPE
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

package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStreamsGiveUpOnASilentServer: export --url and backup against a server that stops
// sending (before its headers, or halfway through the body) fail once nothing has come for
// the wait limit, saying so, instead of waiting for ever; and leave no output file.
func TestStreamsGiveUpOnASilentServer(t *testing.T) {
	cleanEnv(t)
	old := streamWait
	streamWait.header, streamWait.backupHeader, streamWait.idle = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { streamWait = old })
	halfway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", streamType(r.URL.Path))
		w.Write([]byte("{\"seq\":1"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer halfway.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer silent.Close()
	for _, srv := range []*httptest.Server{halfway, silent} {
		for _, cmd := range []string{"export", "backup"} {
			out := filepath.Join(t.TempDir(), "out")
			status, _, stderr := runCLIGuarded(t, cmd+" on a silent server", cmd, "--url", srv.URL, "--token", "tb_x", "--out", out)
			if status == 0 || !(strings.Contains(stderr, "no byte of the answer") || strings.Contains(stderr, "timeout awaiting response headers")) {
				t.Errorf("%s on a silent server: status %d, stderr %q", cmd, status, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s left %s behind", cmd, out)
			}
		}
	}
}

// TestBackupWaitsForTheServersCopy: a backup's headers come only once the server has copied
// the database to its spool file, minutes for a large ledger; backup waits for them longer
// than export waits for its own (which come at once).
func TestBackupWaitsForTheServersCopy(t *testing.T) {
	cleanEnv(t)
	old := streamWait
	streamWait.header, streamWait.backupHeader, streamWait.idle = 200*time.Millisecond, 10*time.Second, 200*time.Millisecond
	t.Cleanup(func() { streamWait = old })
	srv := newTestServer(t)
	copied := fetch(t, srv.url, srv.admin, "/v1/backup") // backup refuses what is not a whole copy
	spooling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second) // the spool
		w.Header().Set("Content-Type", streamType(r.URL.Path))
		w.Write(copied)
	}))
	defer spooling.Close()
	out := filepath.Join(t.TempDir(), "copy.db")
	if status, _, stderr := runCLI(t, "backup", "--url", spooling.URL, "--token", "tb_x", "--out", out); status != 0 {
		t.Fatalf("backup behind a one-second spool: status %d: %s", status, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, copied) {
		t.Fatalf("backup wrote %d bytes, want the %d sent, %v", len(b), len(copied), err)
	}
	if status, _, _ := runCLI(t, "export", "--url", spooling.URL, "--token", "tb_x", "--out", out+".ndjson"); status == 0 {
		t.Fatal("export waited past its header limit")
	}
}

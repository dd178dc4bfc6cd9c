package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// closeDelimited serves GET path with 200 and body as an HTTP/1.1 answer without a length
// or chunks, whose end is the connection's close (as HTTP/1.0 servers and some proxies
// answer): the client sees the body end without error wherever the server stops.
func closeDelimited(t *testing.T, path string, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, path) {
			http.NotFound(w, r)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + streamType(r.URL.Path) + "\r\nConnection: close\r\n\r\n")
		buf.Write(body)
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// streamType is the Content-Type of the timebank server's answer to GET path: the
// export's or the backup's.
func streamType(path string) string {
	if strings.HasPrefix(path, "/v1/export") {
		return "application/x-ndjson"
	}
	return "application/octet-stream"
}

// fetch GETs path of the real API with token.
func fetch(t *testing.T, base, token, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(bufio.NewReader(res.Body))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", path, res.Status, err)
	}
	return b
}

// TestCutStreamNeverSavedAsWhole: a backup or export whose answer ends early without an
// error on the wire (a body delimited by the connection's close, cut by a server or proxy
// that stopped) must fail and leave --out as it was: the copy is not the database, the
// export not the log. Backup used to save the first half of the database as a whole copy
// (exit 0), export the first half of the log.
func TestCutStreamNeverSavedAsWhole(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	backup := fetch(t, srv.url, srv.admin, "/v1/backup")
	export := fetch(t, srv.url, srv.admin, "/v1/export")
	const old = "the previous file\n"
	for _, c := range []struct {
		name string
		cmd  string
		body []byte
		ok   bool
	}{
		{"whole backup", "backup", backup, true},
		{"backup cut in its data pages", "backup", backup[:len(backup)/2], false},
		{"backup cut in its first page", "backup", backup[:40], false},
		{"backup with bytes past its pages", "backup", append(append([]byte{}, backup...), "extra"...), false},
		{"empty backup", "backup", nil, false},
		{"not a database", "backup", []byte(strings.Repeat("<html>", 4096)), false},
		{"whole export", "export", export, true},
		{"export cut inside a line", "export", export[:len(export)-5], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if err := os.WriteFile(out, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			path := "/v1/" + c.cmd
			status, stdout, stderr := runCLI(t, c.cmd, "--url", closeDelimited(t, path, c.body), "--token", "tb_x", "--out", out)
			got, _ := os.ReadFile(out)
			switch {
			case c.ok && (status != 0 || string(got) != string(c.body)):
				t.Errorf("status %d, FILE holds %d bytes, want the %d sent\nstdout: %s\nstderr: %s", status, len(got), len(c.body), stdout, stderr)
			case !c.ok && (status == 0 || string(got) != old):
				t.Errorf("status %d, FILE holds %d bytes: a cut answer was saved\nstdout: %s\nstderr: %s", status, len(got), stdout, stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the directory holds %d files, want only FILE", len(entries))
			}
		})
	}
}

// TestBackupRefusesJunkAsItArrives: a backup answer that is not a database (a proxy's page,
// a stream without end) is refused at its first page, and one that runs past the pages its
// meta page counts is refused there: not written to the disk until the server stops
// sending. The server here offers 64 MiB of each.
func TestBackupRefusesJunkAsItArrives(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	backup := fetch(t, srv.url, srv.admin, "/v1/backup")
	for name, head := range map[string][]byte{"junk": []byte("<html>"), "a copy, then junk": backup} {
		t.Run(name, func(t *testing.T) {
			var sent atomic.Int64
			junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", streamType(r.URL.Path))
				w.Write(head)
				chunk := bytes.Repeat([]byte("x"), 64<<10)
				for range 1024 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					sent.Add(int64(len(chunk)))
				}
			}))
			defer junk.Close()
			out := filepath.Join(t.TempDir(), "out")
			status, _, stderr := runCLI(t, "backup", "--url", junk.URL, "--token", "tb_x", "--out", out)
			if status == 0 || !strings.Contains(stderr, "not a copy of the database") {
				t.Errorf("status %d, stderr %s", status, stderr)
			}
			if n := sent.Load(); n > 24<<20 {
				t.Errorf("backup read %d MiB of the answer before it hung up", n>>20)
			}
		})
	}
}

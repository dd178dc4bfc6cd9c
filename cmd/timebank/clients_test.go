package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// withPassword returns base with the user name and password of a URL's userinfo in it.
func withPassword(t *testing.T, base, password string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("ops", password)
	return u.String()
}

// TestURLPasswordNeverPrinted: a --url (or TIMEBANK_URL) with a password in it (a server
// behind a proxy asking for basic authentication) is printed with the password redacted in
// every message, error and summary of every command that talks to a server: verify's
// summary used to name the server with it, and a --url refused as no server's base URL was
// echoed whole.
func TestURLPasswordNeverPrinted(t *testing.T) {
	cleanEnv(t)
	const password = "s3cret-pw"
	srv := newTestServer(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthenticated","message":"No valid token.","details":{}}}`))
	}))
	defer refusing.Close()
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		name string
		url  string
		args []string
	}{
		{"verify summary", withPassword(t, srv.url, password), []string{"verify"}},
		{"verify refused", withPassword(t, refusing.URL, password), []string{"verify"}},
		{"verify unreachable", withPassword(t, closedURL(t), password), []string{"verify"}},
		{"export refused", withPassword(t, refusing.URL, password), []string{"export", "--out", out}},
		{"export unreachable", withPassword(t, closedURL(t), password), []string{"export"}},
		{"backup unreachable", withPassword(t, closedURL(t), password), []string{"backup", "--out", out}},
		{"token list unreachable", withPassword(t, closedURL(t), password), []string{"token", "list"}},
		{"token create refused", withPassword(t, refusing.URL, password), []string{"token", "create", "--role", "auditor"}},
		{"loadgen unreachable", withPassword(t, closedURL(t), password), []string{"loadgen", "--duration", "1ms", "--warmup", "0s"}},
		{"loadgen refused", withPassword(t, refusing.URL, password), []string{"loadgen", "--duration", "1ms", "--warmup", "0s"}},
		{"verify not http", "ftp://ops:" + password + "@127.0.0.1:8080", []string{"verify"}},
		{"export not http", "ftp://ops:" + password + "@127.0.0.1:8080", []string{"export"}},
		{"token list not http", "ftp://ops:" + password + "@127.0.0.1:8080", []string{"token", "list"}},
		{"verify unparsable", "http://ops:" + password + "@127.0.0.1:80a", []string{"verify"}},
		{"backup unparsable", "http://ops:" + password + "@127.0.0.1:80a", []string{"backup", "--out", out}},
		{"no scheme", "ops:" + password + "@127.0.0.1:8080", []string{"export"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, env := range []bool{false, true} {
				args := append(append([]string{}, c.args...), "--token", srv.admin)
				if env {
					t.Setenv("TIMEBANK_URL", c.url)
				} else {
					args = append(args, "--url", c.url)
				}
				status, stdout, stderr := runCLI(t, args...)
				if strings.Contains(stdout+stderr, password) {
					t.Errorf("env %v: status %d, the password printed\nstdout: %s\nstderr: %s", env, status, stdout, stderr)
				}
			}
		})
	}
}

// loadgenServer is a fake timebank server for loadgen: it opens accounts (calling opening
// at each), makes a station token (answering tokenAnswer), takes credits (calling credited
// at each) and records the tokens revoked, answering revocations with revokeStatus.
type loadgenServer struct {
	url         string
	mu          sync.Mutex
	revoked     []string
	credited    func()
	opening     func()
	tokenAnswer string
}

func newLoadgenServer(t *testing.T, revokeStatus int) *loadgenServer {
	t.Helper()
	s := &loadgenServer{credited: func() {}, opening: func() {},
		tokenAnswer: `{"id":"tok_00000000000000aa","token":"tb_station-secret","role":"station"}`}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/tokens":
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(s.tokenAnswer))
		case r.Method == http.MethodPost && r.URL.Path == "/v1/credits":
			s.credited()
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{}`))
		case r.Method == http.MethodPost:
			if r.URL.Path == "/v1/accounts" {
				s.opening()
			}
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{}`))
		case r.Method == http.MethodDelete:
			s.mu.Lock()
			s.revoked = append(s.revoked, strings.TrimPrefix(r.URL.Path, "/v1/tokens/"))
			s.mu.Unlock()
			w.WriteHeader(revokeStatus)
			if revokeStatus != http.StatusNoContent {
				w.Write([]byte(`{"error":{"code":"internal","message":"Try again.","details":{}}}`))
			}
		default:
			w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// revokedIDs returns the ids of the tokens revoked so far.
func (s *loadgenServer) revokedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revoked)
}

// TestLoadgenRevokesItsStationToken: the station token loadgen makes for its credits is
// revoked when the run ends, also when it is interrupted (SIGINT); its secret is gone with
// the run, so a token left live would be a credential nobody holds and nobody revokes. A
// revocation that fails is said on stderr with the token's id, and the run fails.
func TestLoadgenRevokesItsStationToken(t *testing.T) {
	cleanEnv(t)
	args := func(url, duration string) []string {
		return []string{"loadgen", "--url", url, "--token", "tb_admin", "--clients", "1", "--residents", "1",
			"--warmup", "0s", "--duration", duration}
	}
	run := func(args []string) (int, string) {
		status, _, stderr := runCLIGuarded(t, "loadgen", args...)
		return status, stderr
	}
	t.Run("run ends", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusNoContent)
		if status, stderr := run(args(srv.url, "50ms")); status != 0 || !slices.Equal(srv.revokedIDs(), []string{"tok_00000000000000aa"}) {
			t.Errorf("status %d, revoked %v\nstderr: %s", status, srv.revokedIDs(), stderr)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusNoContent)
		var once sync.Once
		srv.credited = func() { once.Do(func() { syscall.Kill(os.Getpid(), syscall.SIGINT) }) }
		status, stderr := run(args(srv.url, "1h"))
		if status != exitFailed || !strings.Contains(stderr, "interrupted") || !slices.Equal(srv.revokedIDs(), []string{"tok_00000000000000aa"}) {
			t.Errorf("status %d, revoked %v\nstderr: %s", status, srv.revokedIDs(), stderr)
		}
	})
	// An interruption in the warm-up ends it too, not only the measurement (found by
	// mutation testing).
	t.Run("interrupted in the warm-up", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusNoContent)
		var once sync.Once
		srv.credited = func() { once.Do(func() { syscall.Kill(os.Getpid(), syscall.SIGINT) }) }
		a := args(srv.url, "1h")
		a[slices.Index(a, "--warmup")+1] = "1h"
		status, stderr := run(a)
		if status != exitFailed || !strings.Contains(stderr, "interrupted") || !slices.Equal(srv.revokedIDs(), []string{"tok_00000000000000aa"}) {
			t.Errorf("status %d, revoked %v\nstderr: %s", status, srv.revokedIDs(), stderr)
		}
	})
	// An interruption while the residents are opened stops opening them, and makes no
	// token (found by mutation testing: all 1,000 were opened first).
	t.Run("interrupted in the setup", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusNoContent)
		sig := make(chan os.Signal, 1) // the first open is answered once the signal came
		signal.Notify(sig, syscall.SIGINT)
		defer signal.Stop(sig)
		var opened atomic.Int32
		srv.opening = func() {
			if opened.Add(1) == 1 {
				syscall.Kill(os.Getpid(), syscall.SIGINT)
				<-sig
			}
		}
		a := args(srv.url, "1h")
		a[slices.Index(a, "--residents")+1] = "1000"
		status, stderr := run(a)
		if status != exitFailed || !strings.Contains(stderr, "interrupted") || opened.Load() > 1000 || len(srv.revokedIDs()) != 0 {
			t.Errorf("status %d, %d accounts opened, revoked %v\nstderr: %s", status, opened.Load(), srv.revokedIDs(), stderr)
		}
	})
	// A token answer without the token's id cannot be revoked by the run: it fails, naming
	// the token's label for an operator to find it (found by mutation testing).
	t.Run("token answer without an id", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusNoContent)
		srv.tokenAnswer = `{"token":"tb_station-secret","role":"station"}`
		status, stderr := run(args(srv.url, "50ms"))
		if status != exitFailed || !strings.Contains(stderr, "revoke the token labelled") {
			t.Errorf("status %d, revoked %v\nstderr: %s", status, srv.revokedIDs(), stderr)
		}
	})
	t.Run("revocation fails", func(t *testing.T) {
		srv := newLoadgenServer(t, http.StatusInternalServerError)
		status, stderr := run(args(srv.url, "50ms"))
		if status != exitFailed || !strings.Contains(stderr, "revoke it with timebank token revoke tok_00000000000000aa") || !strings.Contains(stderr, "internal") {
			t.Errorf("status %d, revoked %v\nstderr: %s", status, srv.revokedIDs(), stderr)
		}
	})
}

// TestStreamsRefuseAnotherContentType: an export answered with another Content-Type than
// application/x-ndjson, or a backup with another than application/octet-stream (a proxy's
// HTML error page answered 200, say), is refused, saying so, with exit 1 and --out left as
// it was: export used to save the page as the export.
func TestStreamsRefuseAnotherContentType(t *testing.T) {
	cleanEnv(t)
	page := "<html><body>Sign in to continue</body></html>\n"
	for _, c := range []struct {
		cmd, contentType string
		ok               bool
	}{
		{"export", "text/html; charset=utf-8", false},
		{"export", "application/octet-stream", false},
		{"export", "", false},
		{"export", "application/x-ndjson", true},
		{"export", "application/x-ndjson; charset=utf-8", true},
		{"backup", "text/html", false},
		{"backup", "application/x-ndjson", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{c.contentType} // "" too: net/http would sniff
			w.Write([]byte(page))
		}))
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		status, stdout, stderr := runCLI(t, c.cmd, "--url", srv.URL, "--token", "tb_x", "--out", out)
		srv.Close()
		got, err := os.ReadFile(out)
		if c.ok && (status != 0 || string(got) != page) {
			t.Errorf("%s answered as %q: status %d, %q written\nstderr: %s", c.cmd, c.contentType, status, got, stderr)
		}
		if !c.ok && (status != exitFailed || err == nil || !strings.Contains(stderr, "Content-Type")) {
			t.Errorf("%s answered as %q: status %d, out left: %v\nstdout: %s\nstderr: %s", c.cmd, c.contentType, status, err == nil, stdout, stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 1 {
			t.Errorf("%s answered as %q left %d files", c.cmd, c.contentType, len(entries))
		}
	}
}

// TestStreamsInterruptedLeaveNoPartialFile: backup and export --out stopped by SIGINT
// (an operator's Ctrl-C) in the middle of the answer remove the temporary file they were
// filling, leave FILE as it was and exit 1: they used to die with the temporary file, as
// large as what had come of the database, left beside FILE. So does one stopped while it
// waits for the answer's headers (a backup's come after the server spooled the database;
// found by mutation testing).
func TestStreamsInterruptedLeaveNoPartialFile(t *testing.T) {
	cleanEnv(t)
	for _, c := range []struct {
		cmd          string
		beforeHeader bool
	}{{"backup", false}, {"export", false}, {"backup", true}, {"export", true}} {
		cmd := c.cmd
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !c.beforeHeader {
				w.Header().Set("Content-Type", streamType(r.URL.Path))
				w.Write([]byte("{\"seq\":1}\n"))
				w.(http.Flusher).Flush()
			}
			syscall.Kill(os.Getpid(), syscall.SIGINT)
			<-r.Context().Done()
		}))
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		if err := os.WriteFile(out, []byte("the previous file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		status, _, stderr := runCLIGuarded(t, cmd+" after SIGINT", cmd, "--url", srv.URL, "--token", "tb_x", "--out", out)
		srv.Close()
		got, _ := os.ReadFile(out)
		entries, _ := os.ReadDir(dir)
		if status != exitFailed || !strings.Contains(stderr, "interrupted") || string(got) != "the previous file\n" || len(entries) != 1 {
			t.Errorf("%s interrupted (before the headers: %v): status %d, FILE holds %q, %d files in its directory\nstderr: %s",
				cmd, c.beforeHeader, status, got, len(entries), stderr)
		}
	}
}

// TestSecondSignalEndsTheCommand: a SIGTERM starts loadgen's clean-up as a SIGINT does, and
// a second signal (SIGINT) ends a command whose clean-up hangs (revoking its token on a
// server that never answers) at once, as SIGINT ends any program, instead of waiting it out
// (found by mutation testing: nothing tested either). It runs the binary: the signal's
// default action ends the process.
func TestSecondSignalEndsTheCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	credited, revoking := make(chan struct{}), make(chan struct{})
	var creditOnce, revokeOnce sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodDelete: // the revocation hangs
			revokeOnce.Do(func() { close(revoking) })
			<-r.Context().Done()
			return
		case r.URL.Path == "/v1/tokens":
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id":"tok_00000000000000aa","token":"tb_station-secret","role":"station"}`))
			return
		case r.URL.Path == "/v1/credits":
			creditOnce.Do(func() { close(credited) })
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close) // after the process is killed, which ends the hung revocation
	cmd := exec.Command(bin, "loadgen", "--url", srv.URL, "--token", "tb_admin", "--clients", "1", "--residents", "1",
		"--warmup", "0s", "--duration", "1h")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	guard := time.After(20 * time.Second) // under the revocation's 30 s timeout
	for _, step := range []struct {
		reached chan struct{}
		then    os.Signal
	}{{credited, syscall.SIGTERM}, {revoking, syscall.SIGINT}} {
		select {
		case <-step.reached:
		case err := <-exited:
			t.Fatalf("loadgen ended before its revocation: %v", err)
		case <-guard:
			t.Fatal("loadgen did not get as far as a credit and its revocation in 20 s")
		}
		cmd.Process.Signal(step.then)
	}
	// The first signal's handler is let go just after it came: until the process ends, the
	// second is sent again now and then, in case it came before.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
				t.Fatalf("loadgen ended with %v after a second SIGINT, want killed by it", err)
			}
			return
		case <-tick.C:
			cmd.Process.Signal(syscall.SIGINT)
		case <-guard:
			t.Fatal("loadgen still waits on its revocation after a second SIGINT")
		}
	}
}

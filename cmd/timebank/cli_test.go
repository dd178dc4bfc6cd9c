package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// These tests run the command line in-process (run, as main does), against ledgers in
// t.TempDir() and the real API over httptest; e2e_test.go runs the built binary.

// runCLI runs timebank with args and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	status = run(args, &out, &errw)
	return status, out.String(), errw.String()
}

// runCLIGuarded is runCLI for a command that must end by itself (a client giving up on a
// stalled or rate-limited server, an interrupted command): it fails the test, saying what
// hung, when the command still runs after 20 s, far above every limit such tests set.
func runCLIGuarded(t *testing.T, what string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		status, stdout, stderr = runCLI(t, args...)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still running after 20 s", what)
	}
	return status, stdout, stderr
}

// cleanEnv unsets the developer's TIMEBANK_* variables for the test (t.Setenv restores them).
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TIMEBANK_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// ledgerFiles is a stopped ledger: its data directory, an export, a checkpoint and its key.
type ledgerFiles struct {
	data, export, checkpoint, key string
}

// newLedger makes a ledger (its genesis entry) in a temporary directory and writes its export
// and checkpoint next to it.
func newLedger(t *testing.T) ledgerFiles {
	t.Helper()
	tmp := t.TempDir()
	f := ledgerFiles{data: filepath.Join(tmp, "data"), export: filepath.Join(tmp, "export.ndjson"),
		checkpoint: filepath.Join(tmp, "checkpoint")}
	f.key = filepath.Join(f.data, "checkpoint.vkey")
	led, err := store.Open(f.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	var export bytes.Buffer
	if err := led.Export(context.Background(), 0, &export); err != nil {
		t.Fatal(err)
	}
	ckpt, err := led.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.export, export.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.checkpoint, ckpt, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// testServer is the real API over a fresh ledger, with an admin token.
type testServer struct {
	url, admin string
	led        *store.Ledger
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerIn(t, t.TempDir())
}

// newTestServerIn is newTestServer with its data directory in dir.
func newTestServerIn(t *testing.T, dir string) *testServer {
	t.Helper()
	led, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	admin := "tb_test-admin-secret"
	if err := led.EnsureAdminToken(admin); err != nil {
		t.Fatal(err)
	}
	srv := api.New(led, api.Options{Logger: slog.New(slog.DiscardHandler)})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{url: hs.URL, admin: admin, led: led}
}

// closedURL returns the URL of a server that has stopped: nothing listens there.
func closedURL(t *testing.T) string {
	hs := httptest.NewServer(nil)
	hs.Close()
	return hs.URL
}

// TestUsageErrorsExit2 checks that a command line that cannot work exits 2 with a usage hint,
// for kong's parse errors and the commands' own checks alike, and that verify does not call
// it FAILED (which would tell an auditor the ledger differs).
func TestUsageErrorsExit2(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	for _, args := range [][]string{
		{},
		{"verify"},
		{"verify", "--bogus"},
		{"verify", "--export", f.export},
		{"verify", "--export", f.export, "--checkpoint", f.checkpoint},
		{"verify", "--url", "http://127.0.0.1:1"},
		{"verify", "--url", "http://127.0.0.1:1", "--token", "t", "--checkpoint", f.checkpoint},
		{"verify", "--data", f.data, "--checkpoint", f.checkpoint},
		{"verify", "--data", f.data, "--key", f.key},
		{"verify", "--data", f.data, "--url", "http://127.0.0.1:1", "--token", "t"},
		{"export"},
		{"export", "--data", f.data, "--url", "http://127.0.0.1:1"},
		{"export", "--url", "http://127.0.0.1:1"},
		{"export", "--after-seq", "x", "--data", f.data},
		{"backup", "--token", "t"},
		{"token", "list"},
		{"token", "revoke", "--token", "t"},
		{"token", "create", "--token", "t", "--role", "king"},
		{"loadgen", "--token", "t", "--clients", "0"},
		// 4 × 2^62 residents wraps around to 0 in an int: loadgen opened accounts without end.
		{"loadgen", "--token", "t", "--url", "http://127.0.0.1:1", "--clients", "4", "--residents", "4611686018427387904"},
		// The raw client writes plain HTTP/1.1 on a TCP connection: to an https server's port
		// every request failed.
		{"loadgen", "--token", "t", "--url", "https://127.0.0.1:1", "--client", "raw"},
		{"loadgen", "--token", "t", "--url", "HTTPS://127.0.0.1:1", "--client", "raw"}, // a scheme is case-insensitive
		{"serve", "--log-level", "loud"},
		// A server address without its scheme, as serve prints its --addr: nothing can be sent.
		{"verify", "--url", "127.0.0.1:1", "--token", "t"},
		{"export", "--url", "localhost:1", "--token", "t"},
		{"token", "list", "--url", "127.0.0.1:1", "--token", "t"},
		{"backup", "--url", "localhost:1", "--token", "t", "--out", f.export + ".copy"},
		// A rate limit that is no rate (it used to turn the limit off in silence). --data is a
		// file, so that a serve that does not refuse it fails at once instead of serving.
		{"serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit=-5"},
		{"serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit", "NaN"},
		{"serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit", "+Inf"},
		// Below one request in 100 s, which the limiter does not keep (api.MinRateLimit): it
		// used to promise a Retry-After of up to 10^300 seconds, or +Inf.
		{"serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit", "0.0099"},
		{"serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit", "1e-300"},
		{"nosuchcommand"},
	} {
		status, stdout, stderr := runCLI(t, args...)
		if status != exitUsage || !strings.Contains(stderr, "timebank: usage: ") || !strings.Contains(stderr, "--help") ||
			strings.Contains(stderr+stdout, "FAILED") {
			t.Errorf("timebank %s: status %d, want %d with a usage hint and no FAILED\nstdout: %s\nstderr: %s",
				strings.Join(args, " "), status, exitUsage, stdout, stderr)
		}
	}
}

// TestSmallestRateLimitServes: --rate-limit 0.01, the smallest taken, is no usage error
// (--data is a file, so serve fails there instead of serving).
func TestSmallestRateLimitServes(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	status, stdout, stderr := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--data", f.export, "--rate-limit", "0.01")
	if status == exitUsage || status == 0 || strings.Contains(stderr, "--rate-limit") {
		t.Errorf("serve --rate-limit 0.01: status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
}

// TestLoadgenLargestResidentsTaken: --residents up to 2^20 / --clients is no usage error
// (the loadgen here fails on the closed --url instead; found by mutation testing).
func TestLoadgenLargestResidentsTaken(t *testing.T) {
	cleanEnv(t)
	url := closedURL(t)
	for _, c := range [][2]string{{"1", "1048576"}, {"4", "262144"}, {"4096", "256"}} {
		status, stdout, stderr := runCLI(t, "loadgen", "--url", url, "--token", "t", "--clients", c[0], "--residents", c[1])
		if status == exitUsage || status == 0 {
			t.Errorf("loadgen --clients %s --residents %s: status %d\nstdout: %s\nstderr: %s", c[0], c[1], status, stdout, stderr)
		}
	}
}

// TestUsageHintNamesTheCommand checks that the hint points at the command's own --help.
func TestUsageHintNamesTheCommand(t *testing.T) {
	cleanEnv(t)
	_, _, stderr := runCLI(t, "verify", "--bogus")
	if !strings.Contains(stderr, `"timebank verify --help"`) {
		t.Errorf("verify --bogus: %s", stderr)
	}
	_, _, stderr = runCLI(t, "token", "revoke", "--token", "t")
	if !strings.Contains(stderr, `"timebank token revoke --help"`) {
		t.Errorf("token revoke without an id: %s", stderr)
	}
}

// TestVerifyHelpTellsExitStatuses checks that verify --help exits 0 and lists the statuses.
func TestVerifyHelpTellsExitStatuses(t *testing.T) {
	cleanEnv(t)
	status, stdout, _ := runCLI(t, "verify", "--help")
	if status != 0 {
		t.Errorf("verify --help: status %d", status)
	}
	for _, want := range []string{"Exit status", "0  verified", "1  FAILED", "2  wrong usage", "3  not verified"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify --help lacks %q:\n%s", want, stdout)
		}
	}
}

// TestVerifyStatuses checks 0 for a whole ledger, 1 (FAILED) for a difference, 3 (NOT
// VERIFIED, never FAILED) for a source that cannot be read.
func TestVerifyStatuses(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srv := newTestServer(t)
	tampered := filepath.Join(t.TempDir(), "tampered.ndjson")
	b, _ := os.ReadFile(f.export)
	os.WriteFile(tampered, bytes.Replace(b, []byte(`"seq":1`), []byte(`"seq":2`), 1), 0o600)
	missing := filepath.Join(t.TempDir(), "missing")
	file := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "f")
		os.WriteFile(p, b, 0o600)
		return p
	}
	empty, huge, garbage := file(nil), file(make([]byte, 64<<10+1)), file([]byte("not a checkpoint\n"))
	other := newLedger(t) // another ledger's checkpoint and key
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/checkpoint/key" { // the preflight passes
			w.Write([]byte(srv.led.VerifierKey() + "\n"))
			return
		}
		http.Error(w, "internal", http.StatusInternalServerError)
	}))
	defer failing.Close()

	heldDir := t.TempDir() // as by a running server
	held, err := store.Open(heldDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"data", []string{"verify", "--data", f.data}, 0},
		{"data with checkpoint", []string{"verify", "--data", f.data, "--checkpoint", f.checkpoint, "--key", f.key}, 0},
		{"export", []string{"verify", "--export", f.export, "--checkpoint", f.checkpoint, "--key", f.key}, 0},
		{"url", []string{"verify", "--url", srv.url, "--token", srv.admin}, 0},
		{"tampered export", []string{"verify", "--export", tampered, "--checkpoint", f.checkpoint, "--key", f.key}, exitFailed},
		{"pinned key differs", []string{"verify", "--url", srv.url, "--token", srv.admin, "--key", f.key}, exitFailed},
		{"missing data dir", []string{"verify", "--data", missing}, exitNotVerified},
		{"held database", []string{"verify", "--data", heldDir}, exitNotVerified},
		{"missing export", []string{"verify", "--export", missing, "--checkpoint", f.checkpoint, "--key", f.key}, exitNotVerified},
		{"missing key file", []string{"verify", "--export", f.export, "--checkpoint", f.checkpoint, "--key", missing}, exitNotVerified},
		{"empty key file", []string{"verify", "--export", f.export, "--checkpoint", f.checkpoint, "--key", empty}, exitNotVerified},
		{"key file over 64 KiB", []string{"verify", "--export", f.export, "--checkpoint", f.checkpoint, "--key", huge}, exitNotVerified},
		{"malformed key file", []string{"verify", "--export", f.export, "--checkpoint", f.checkpoint, "--key", garbage}, exitNotVerified},
		{"empty checkpoint file", []string{"verify", "--export", f.export, "--checkpoint", empty, "--key", f.key}, exitNotVerified},
		{"checkpoint file over 64 KiB", []string{"verify", "--data", f.data, "--checkpoint", huge, "--key", f.key}, exitNotVerified},
		{"malformed checkpoint file", []string{"verify", "--export", f.export, "--checkpoint", garbage, "--key", f.key}, exitNotVerified},
		{"checkpoint signed by another key", []string{"verify", "--export", f.export, "--checkpoint", other.checkpoint, "--key", f.key}, exitFailed},
		{"unreachable url", []string{"verify", "--url", closedURL(t), "--token", "t"}, exitNotVerified},
		{"server answering 500", []string{"verify", "--url", failing.URL, "--token", "t"}, exitNotVerified},
		{"refused token", []string{"verify", "--url", srv.url, "--token", "tb_wrong"}, exitNotVerified},
	} {
		status, stdout, stderr := runCLI(t, c.args...)
		failed := strings.Contains(stderr, "timebank verify: FAILED")
		notVerified := strings.Contains(stderr, "timebank verify: NOT VERIFIED")
		if status != c.want || failed != (c.want == exitFailed) || notVerified != (c.want == exitNotVerified) {
			t.Errorf("%s: status %d, want %d\nstdout: %s\nstderr: %s", c.name, status, c.want, stdout, stderr)
		}
	}
}

// TestSourceFromCommandLineWinsOverEnvironment checks the rule for the TIMEBANK_* variables,
// which every command shares: a source the command line names wins over ones that came only
// from the environment (TIMEBANK_URL and TIMEBANK_TOKEN exported for the token commands,
// TIMEBANK_DATA for serve); two from the same place are a usage error.
func TestSourceFromCommandLineWinsOverEnvironment(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srv := newTestServer(t)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want int
		says string // in the output
	}{
		{"verify --data under the token commands' env",
			map[string]string{"TIMEBANK_URL": srv.url, "TIMEBANK_TOKEN": srv.admin},
			[]string{"verify", "--data", f.data}, 0, "data " + f.data},
		{"export --data under the token commands' env",
			map[string]string{"TIMEBANK_URL": srv.url, "TIMEBANK_TOKEN": srv.admin},
			[]string{"export", "--data", f.data}, 0, `"seq":1`},
		{"verify --url under serve's env",
			map[string]string{"TIMEBANK_DATA": filepath.Join(t.TempDir(), "serve")},
			[]string{"verify", "--url", srv.url, "--token", srv.admin}, 0, "server " + srv.url},
		{"export --url under serve's env",
			map[string]string{"TIMEBANK_DATA": f.data},
			[]string{"export", "--url", srv.url, "--token", srv.admin}, 0, `"seq":1`},
		{"verify --export under env of all three, with checkpoint and key from env",
			map[string]string{"TIMEBANK_DATA": f.data, "TIMEBANK_URL": srv.url, "TIMEBANK_TOKEN": srv.admin,
				"TIMEBANK_CHECKPOINT": f.checkpoint, "TIMEBANK_KEY": f.key},
			[]string{"verify", "--export", f.export}, 0, "export " + f.export},
		{"verify --url ignores a checkpoint from env",
			map[string]string{"TIMEBANK_CHECKPOINT": f.checkpoint},
			[]string{"verify", "--url", srv.url, "--token", srv.admin}, 0, "server " + srv.url},
		{"verify --data ignores a key from env without a checkpoint",
			map[string]string{"TIMEBANK_KEY": f.key},
			[]string{"verify", "--data", f.data}, 0, "data " + f.data},
		{"a source from env alone still works",
			map[string]string{"TIMEBANK_DATA": f.data},
			[]string{"verify"}, 0, "data " + f.data},
		{"two sources from env",
			map[string]string{"TIMEBANK_DATA": f.data, "TIMEBANK_URL": srv.url, "TIMEBANK_TOKEN": srv.admin},
			[]string{"verify"}, exitUsage, "the environment sets TIMEBANK_DATA and TIMEBANK_URL"},
		{"two sources from env, export",
			map[string]string{"TIMEBANK_DATA": f.data, "TIMEBANK_URL": srv.url},
			[]string{"export"}, exitUsage, "the environment sets TIMEBANK_DATA and TIMEBANK_URL"},
		{"two sources on the command line, a third from env",
			map[string]string{"TIMEBANK_URL": srv.url},
			[]string{"verify", "--data", f.data, "--export", f.export}, exitUsage, "the command line names --data and --export"},
		{"a flag the source does not use, named",
			map[string]string{"TIMEBANK_URL": srv.url},
			[]string{"verify", "--data", f.data, "--token", srv.admin}, exitUsage, "verify --data does not use --token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			status, stdout, stderr := runCLI(t, c.args...)
			if status != c.want || !strings.Contains(stdout+stderr, c.says) {
				t.Errorf("status %d, want %d saying %q\nstdout: %s\nstderr: %s", status, c.want, c.says, stdout, stderr)
			}
		})
	}
}

// TestTokenListTable checks the table of token list against the real API: every column
// filled, CREATED with the token's creation time.
func TestTokenListTable(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	status, stdout, stderr := runCLI(t, "token", "create", "--url", srv.url, "--token", srv.admin,
		"--role", "auditor", "--label", "year-end audit")
	if status != 0 {
		t.Fatalf("token create: %d\n%s%s", status, stdout, stderr)
	}
	var created struct {
		ID        string `json:"id"`
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(stdout), &created); err != nil || created.ID == "" || created.CreatedAt == "" {
		t.Fatalf("token create printed %s (%v)", stdout, err)
	}
	status, stdout, stderr = runCLI(t, "token", "list", "--url", srv.url, "--token", srv.admin)
	if status != 0 {
		t.Fatalf("token list: %d\n%s%s", status, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID ROLE ACCOUNT CREATED LABEL" {
		t.Fatalf("token list: want a header and two tokens (bootstrap admin, auditor):\n%s", stdout)
	}
	for _, line := range lines[1:] {
		cols := strings.Fields(line)
		if len(cols) < 5 {
			t.Errorf("token list row %q has %d columns, want 5", line, len(cols))
			continue
		}
		if _, err := time.Parse(time.RFC3339, cols[3]); err != nil {
			t.Errorf("token list row %q: CREATED %q is not a time", line, cols[3])
		}
		if cols[0] == created.ID && (cols[3] != created.CreatedAt || cols[1] != "auditor" || cols[2] != "-" ||
			strings.Join(cols[4:], " ") != "year-end audit") {
			t.Errorf("token list row %q, want the created token %+v", line, created)
		}
	}
}

// TestOutReplacedOnlyWhenWhole checks export --out and backup --out: an export or backup
// that fails leaves an existing FILE as it was (no truncation, no temporary file left); one
// that succeeds replaces it.
func TestOutReplacedOnlyWhenWhole(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srv := newTestServer(t)
	heldDir := t.TempDir()
	held, err := store.Open(heldDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	want, _ := os.ReadFile(f.export)
	const old = "the previous export\n"

	for _, c := range []struct {
		name string
		args []string
		ok   bool
		want []byte // FILE afterwards, when ok
	}{
		{"export of a held data dir", []string{"export", "--data", heldDir}, false, nil},
		{"export of a missing data dir", []string{"export", "--data", filepath.Join(t.TempDir(), "missing")}, false, nil},
		{"export with a refused token", []string{"export", "--url", srv.url, "--token", "tb_wrong"}, false, nil},
		{"export of an unreachable server", []string{"export", "--url", closedURL(t), "--token", "t"}, false, nil},
		{"backup with a refused token", []string{"backup", "--url", srv.url, "--token", "tb_wrong"}, false, nil},
		{"export", []string{"export", "--data", f.data}, true, want},
		{"backup", []string{"backup", "--url", srv.url, "--token", srv.admin}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if err := os.WriteFile(out, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			status, stdout, stderr := runCLI(t, append(c.args, "--out", out)...)
			got, _ := os.ReadFile(out)
			switch {
			case (status == 0) != c.ok:
				t.Errorf("status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
			case !c.ok && string(got) != old:
				t.Errorf("a failed run left FILE as %q, want it untouched", got)
			case c.ok && string(got) == old:
				t.Error("FILE was not replaced")
			case c.want != nil && !bytes.Equal(got, c.want):
				t.Errorf("FILE holds %q, want %q", got, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the directory holds %d files, want only FILE (no temporary file left)", len(entries))
			}
		})
	}
}

// TestTokenRevokeRefusesSecret checks that token revoke refuses a secret (and anything that
// is not a token id) with a usage error, sending nothing: the server would log the secret
// in the path, answer 404 and leave the token valid. Given the id, it revokes.
func TestTokenRevokeRefusesSecret(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	var requests atomic.Int64
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer counting.Close()
	tok, secret, err := srv.led.CreateToken(ledger.RoleAuditor, "", "to revoke")
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{secret, srv.admin, "my-own-admin-secret"} {
		status, stdout, stderr := runCLI(t, "token", "revoke", "--url", counting.URL, "--token", srv.admin, arg)
		if status != exitUsage || !strings.Contains(stderr, "tok_") || strings.Contains(stdout+stderr, arg) {
			t.Errorf("token revoke %s: status %d, want %d naming tok_ ids and not echoing the secret\nstdout: %s\nstderr: %s",
				arg, status, exitUsage, stdout, stderr)
		}
	}
	_, _, stderr := runCLI(t, "token", "revoke", "--url", counting.URL, "--token", srv.admin, secret)
	if !strings.Contains(stderr, "that is the token's secret; revoke takes its id tok_") {
		t.Errorf("token revoke SECRET says %s", stderr)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("token revoke sent %d requests for arguments that are not ids", n)
	}
	if _, ok := srv.led.Authenticate(secret); !ok {
		t.Fatal("the token stopped working before it was revoked")
	}
	if status, stdout, stderr := runCLI(t, "token", "revoke", "--url", srv.url, "--token", srv.admin, tok.ID); status != 0 {
		t.Fatalf("token revoke %s: %d\n%s%s", tok.ID, status, stdout, stderr)
	}
	if _, ok := srv.led.Authenticate(secret); ok {
		t.Error("the token still works after token revoke ID")
	}
}

// TestLoadgenDescribesFailures checks loadgen's first-error line: the status and the error
// code of a refused request (not "422 <nil>"), taken from the real API's answer to a credit
// whose session the resident already has; a transport error as it is.
func TestLoadgenDescribesFailures(t *testing.T) {
	cleanEnv(t)
	srv := newTestServer(t)
	c := &loadgenCmd{clientFlags: clientFlags{URL: srv.url, Token: srv.admin}, Clients: 1, Residents: 1, Keys: "ordered"}
	hc := &http.Client{}
	fx, err := c.setup(context.Background(), hc)
	if err != nil {
		t.Fatal(err)
	}
	first := fx.request("credits", srv.url)(0)
	body, _ := io.ReadAll(first.Body)
	first.Body = io.NopCloser(bytes.NewReader(body))
	if status, b, err := send(hc, first); status != 201 {
		t.Fatalf("the first credit: %d %s %v", status, b, err)
	}
	again, _ := http.NewRequest(http.MethodPost, first.URL.String(), bytes.NewReader(body))
	again.Header = first.Header.Clone()
	again.Header.Set("Idempotency-Key", "another-key")
	status, b, err := send(hc, again)
	if got := describeFailure(status, err, b); !strings.HasPrefix(got, "422 overlapping_session: ") {
		t.Errorf("the same session again is described as %q", got)
	}
	_, err = hc.Get(closedURL(t))
	if got := describeFailure(0, err, nil); !strings.Contains(got, "connection refused") {
		t.Errorf("a refused connection is described as %q", got)
	}
	if got := describeFailure(502, nil, []byte("bad gateway\n")); got != "502 bad gateway" {
		t.Errorf("a non-JSON answer is described as %q", got)
	}
}

// TestLoadgenHelpTellsSessions checks that --residents' help tells the real number of fresh
// sessions per resident.
func TestLoadgenHelpTellsSessions(t *testing.T) {
	cleanEnv(t)
	_, stdout, _ := runCLI(t, "loadgen", "--help")
	if want := fmt.Sprintf("each has %d fresh sessions", sessionsPerDay*sessionDays); !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
		t.Errorf("loadgen --help does not say %q:\n%s", want, stdout)
	}
}

// TestOutNeverReplacesALedger: --out is written by renaming a new file over it, so an --out
// naming a ledger's database replaced the ledger. `export --data DIR --out DIR/timebank.db`
// exited 0 with the database gone (the export in its place); `backup --out` (or `export
// --out`) naming a running server's database swapped the file under the server, which went
// on acknowledging writes into the unlinked file: all lost at its next start. Both are now
// refused as wrong usage, the files untouched, and so is an export over any database (a
// backup named by a TIMEBANK_OUT that was exported for backup) and any --out over a
// checkpoint signing key.
func TestOutNeverReplacesALedger(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srvDir := t.TempDir()
	srv := newTestServerIn(t, srvDir)
	live := filepath.Join(srvDir, store.DBFile)
	backupFile := filepath.Join(t.TempDir(), "backup.db")
	if status, _, stderr := runCLI(t, "backup", "--url", srv.url, "--token", srv.admin, "--out", backupFile); status != 0 {
		t.Fatal(stderr)
	}
	for _, c := range []struct {
		name string
		args []string
		out  string
	}{
		{"export over the database it reads", []string{"export", "--data", f.data}, filepath.Join(f.data, store.DBFile)},
		{"export over the signing key of the ledger it reads", []string{"export", "--data", f.data}, filepath.Join(f.data, store.KeyFile)},
		{"export over a running server's database", []string{"export", "--data", f.data}, live},
		{"export --url over the server's database", []string{"export", "--url", srv.url, "--token", srv.admin}, live},
		{"backup over the server's database", []string{"backup", "--url", srv.url, "--token", srv.admin}, live},
		// A signing key is the ledger's identity to auditors (they pin its verifier key): an
		// --out naming one, any ledger's, destroyed it, and the server refused its next start.
		{"export --url over a server's signing key", []string{"export", "--url", srv.url, "--token", srv.admin}, filepath.Join(srvDir, store.KeyFile)},
		{"backup over a server's signing key", []string{"backup", "--url", srv.url, "--token", srv.admin}, filepath.Join(srvDir, store.KeyFile)},
		// TIMEBANK_OUT exported for backup is also export's --out (README, Configuration).
		{"export over a backup", []string{"export", "--url", srv.url, "--token", srv.admin}, backupFile},
	} {
		before, err := os.Stat(c.out)
		if err != nil {
			t.Fatal(err)
		}
		status, _, stderr := runCLI(t, append(c.args, "--out", c.out)...)
		after, err := os.Stat(c.out)
		if status != exitUsage || err != nil || !os.SameFile(before, after) || after.Size() != before.Size() {
			t.Errorf("%s: status %d (want %d), %s replaced: %v\n%s", c.name, status, exitUsage, c.out, !os.SameFile(before, after), stderr)
		}
	}
	if status, _, stderr := runCLI(t, "verify", "--data", f.data); status != 0 {
		t.Errorf("the exported ledger no longer verifies: %s", stderr)
	}
}

// TestOutThroughASymbolicLink: an --out that is a symbolic link (backups/latest.db pointing
// at the day's file on a larger disk) gets the new content at the link's target, as cp would
// write it; the link stays a link. Replacing the link with a regular file put a whole backup
// on the link's file system, beside the link, and left the target as it was. A link that
// points at nothing yet gets its target made; one whose target is a ledger is refused as the
// ledger itself is.
func TestOutThroughASymbolicLink(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srvDir := t.TempDir()
	srv := newTestServerIn(t, srvDir)
	disk := t.TempDir() // the larger disk
	links := t.TempDir()
	for _, c := range []struct {
		name, target string
		args         []string
	}{
		{"backup", filepath.Join(disk, "day1.db"), []string{"backup", "--url", srv.url, "--token", srv.admin}},
		{"export --url", filepath.Join(disk, "day1.ndjson"), []string{"export", "--url", srv.url, "--token", srv.admin}},
		{"export --data", filepath.Join(disk, "data1.ndjson"), []string{"export", "--data", f.data}},
	} {
		for _, exists := range []bool{true, false} {
			os.Remove(c.target)
			if exists {
				if err := os.WriteFile(c.target, []byte("yesterday\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(links, "latest")
			os.Remove(link)
			// A relative link, read from the link's own directory, not the working one.
			rel, err := filepath.Rel(links, c.target)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(rel, link); err != nil {
				t.Fatal(err)
			}
			status, _, stderr := runCLI(t, append(c.args, "--out", link)...)
			if status != 0 {
				t.Fatalf("%s (target exists: %v): status %d\n%s", c.name, exists, status, stderr)
			}
			fi, err := os.Lstat(link)
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("%s (target exists: %v): --out is no longer a link (%v, %v)", c.name, exists, fi.Mode(), err)
			}
			got, err := os.ReadFile(c.target)
			if err != nil || len(got) < 100 || string(got) == "yesterday\n" {
				t.Fatalf("%s (target exists: %v): the link's target holds %d bytes (%v), not the new content", c.name, exists, len(got), err)
			}
			if left, _ := filepath.Glob(filepath.Join(links, "*partial*")); len(left) > 0 {
				t.Fatalf("%s: temporary files left beside the link: %v", c.name, left)
			}
		}
	}
	// A link to a running server's database is refused like the database itself.
	link := filepath.Join(links, "to-live")
	if err := os.Symlink(filepath.Join(srvDir, store.DBFile), link); err != nil {
		t.Fatal(err)
	}
	if status, _, stderr := runCLI(t, "backup", "--url", srv.url, "--token", srv.admin, "--out", link); status != exitUsage {
		t.Fatalf("backup --out a link to the live database: status %d, want %d\n%s", status, exitUsage, stderr)
	}
	// A loop of links is an error, not a hang.
	a, b := filepath.Join(links, "a"), filepath.Join(links, "b")
	os.Symlink(b, a)
	os.Symlink(a, b)
	if status, _, _ := runCLI(t, "export", "--data", f.data, "--out", a); status == 0 {
		t.Fatal("export --out a loop of links succeeded")
	}
}

// TestRawClientDialsPort80ByDefault: loadgen --client raw with a --url without a port
// (http://ledger.example) connects to port 80, as net/http does; it dialled the bare host
// name, which fails every request with "missing port in address".
func TestRawClientDialsPort80ByDefault(t *testing.T) {
	for raw, want := range map[string]string{
		"http://ledger.example":    "ledger.example:80",
		"http://ledger.example/":   "ledger.example:80",
		"http://127.0.0.1:8080/v1": "127.0.0.1:8080",
		"http://[::1]":             "[::1]:80",
		"http://[::1]:9000":        "[::1]:9000",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := dialAddress(u); got != want {
			t.Errorf("dialAddress(%s) = %q, want %q", raw, got, want)
		}
	}
}

// TestServeRefusesEmptyAddrAndData: an empty --addr or --data, as a TIMEBANK_ADDR or
// TIMEBANK_DATA set to nothing (an env file's `TIMEBANK_ADDR=`) gives, is wrong usage. kong
// takes a variable that is set but empty as the flag's value, not as unset: serve then
// listened on every interface at a random port instead of 127.0.0.1:8080 (net.Listen's ""),
// and an empty --data failed with "mkdir : no such file or directory". Empty values of the
// other flags were already refused (an enum, a bool, a number, a URL).
func TestServeRefusesEmptyAddrAndData(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	for _, c := range []struct {
		what string
		env  map[string]string
		args []string
		want string
	}{
		// --data is a file: a serve that does not refuse the address fails at once, not serves.
		{"TIMEBANK_ADDR=", map[string]string{"TIMEBANK_ADDR": ""}, []string{"serve", "--data", f.export}, "--addr"},
		{"--addr ''", nil, []string{"serve", "--addr", "", "--data", f.export}, "--addr"},
		{"TIMEBANK_DATA=", map[string]string{"TIMEBANK_DATA": ""}, []string{"serve", "--addr", "127.0.0.1:0"}, "--data"},
	} {
		t.Run(c.what, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			status, stdout, stderr := runCLI(t, c.args...)
			if status != exitUsage || !strings.Contains(stderr, "timebank: usage: serve: "+c.want+" is empty") {
				t.Errorf("timebank %s: status %d, want %d refusing an empty %s\nstdout: %s\nstderr: %s",
					strings.Join(c.args, " "), status, exitUsage, c.want, stdout, stderr)
			}
		})
	}
}

// TestOutRefusesADirectory: an --out that is a directory is wrong usage, refused before
// anything is read. --out is written by renaming a new file over it, which a directory
// refuses only at the end: backup downloaded the whole copy (beside the directory, in its
// parent) before failing. An empty TIMEBANK_OUT made backup's --out (a path flag) the
// working directory.
func TestOutRefusesADirectory(t *testing.T) {
	cleanEnv(t)
	f := newLedger(t)
	srv := newTestServer(t)
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  string // TIMEBANK_OUT, when set
		args []string
	}{
		{"backup --out DIR", "", []string{"backup", "--url", srv.url, "--token", srv.admin, "--out", dir}},
		{"export --out DIR", "", []string{"export", "--data", f.data, "--out", dir}},
		{"backup with TIMEBANK_OUT empty", "set", []string{"backup", "--url", srv.url, "--token", srv.admin}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("TIMEBANK_OUT", "")
				t.Chdir(dir)
			}
			status, _, stderr := runCLI(t, c.args...)
			if status != exitUsage || !strings.Contains(stderr, "is a directory") {
				t.Errorf("status %d, want %d refusing a directory\nstderr: %s", status, exitUsage, stderr)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
				t.Errorf("%s's parent holds %v, want the directory alone (no partial copy)", dir, entries)
			}
		})
	}
}

// TestTokenListJSONIsTheServersJSON: token list --json prints the server's answer only when
// it is JSON of a bounded size, as the table does: a proxy's sign-in page answered 200 was
// printed as the token list, and an endless answer copied for as long as it came.
func TestTokenListJSONIsTheServersJSON(t *testing.T) {
	cleanEnv(t)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Sign in</body></html>"))
	}))
	defer html.Close()
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"tokens":[`))
		row := []byte(`{"id":"tok_0000000000000000","role":"auditor","account":null,"label":"x","created_at":"2026-01-01T00:00:00Z"},`)
		for i := 0; i < (maxTokenListBytes/len(row))+2; i++ {
			if _, err := w.Write(row); err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	for _, srv := range []*httptest.Server{html, endless} {
		status, stdout, stderr := runCLI(t, "token", "list", "--json", "--url", srv.URL, "--token", "tb_x")
		if status != exitFailed || stdout != "" {
			t.Errorf("token list --json of %s: status %d, printed %d bytes\n%s", srv.URL, status, len(stdout), stderr)
		}
	}
	// The real server's answer is printed as it came.
	real := newTestServer(t)
	status, stdout, stderr := runCLI(t, "token", "list", "--json", "--url", real.url, "--token", real.admin)
	if want := fetch(t, real.url, real.admin, "/v1/tokens"); status != 0 || stdout != string(want) {
		t.Fatalf("token list --json: status %d, printed %q, want %q\n%s", status, stdout, want, stderr)
	}
}

// TestSigningKeyCheckOpensOnlyFiles: the check that --out is no signing key reads only a
// regular file. Opening a named pipe waits for a writer (export --out FIFO hung before
// writing anything), and what a pipe holds is no file --out would replace.
func TestSigningKeyCheckOpensOnlyFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // does not wait for a reader (Linux)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(signingKeyPrefix + "timebank+00000000+AAAA\n"); err != nil {
		t.Fatal(err)
	}
	if isSigningKey(fifo) {
		t.Fatal("a named pipe was opened and read as a signing key file")
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEndToEnd builds the real binary, starts `timebank serve` on a fresh directory, walks
// the README's walkthrough over HTTP and the CLI, stops the server with SIGTERM (exit 0
// within 15 s) and checks the stopped ledger with `timebank verify --data`.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	bin := buildBinary(t)
	data := filepath.Join(tmp, "data")
	srv := startServer(t, bin, data, "--debug-addr", "127.0.0.1:0")
	admin := readAdminToken(t, data)
	w := &walk{t: t, base: srv.url, bin: bin}

	// The profiler answers on its own listener only, never on the API's.
	if res, err := http.Get(srv.debugURL + "cmdline"); err != nil || res.StatusCode != 200 {
		t.Fatalf("profiler at %s: %v %v", srv.debugURL, res, err)
	}
	if res, err := http.Get(srv.url + "/debug/pprof/cmdline"); err != nil || res.StatusCode == 200 {
		t.Fatalf("the API's listener serves the profiler: %v %v", res, err)
	}

	// Accounts, tokens (through the CLI, as an operator would).
	for _, id := range []string{"station:s01", "resident:v1024", "outlet:shop1"} {
		w.post("/v1/accounts", admin, "open-"+id, `{"id":"`+id+`"}`, 201)
	}
	station := w.cliToken(admin, "station", "station:s01")
	resident := w.cliToken(admin, "resident", "resident:v1024")

	// A credit of 3 hours that ended an hour ago, a redemption, a hold and its settlement.
	end := time.Now().UTC().Add(-time.Hour)
	w.post("/v1/credits", station, "credit-1", fmt.Sprintf(`{"volunteer":"resident:v1024","hours":"3",
		"activity":{"id":"visit-0917","category":"elderly-care","started_at":%q,"ended_at":%q}}`,
		end.Add(-3*time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)), 201)
	redeem := `{"payee":"outlet:shop1","asset":"POINTS","amount":"20"}`
	w.post("/v1/redemptions", resident, "redeem-1", redeem, 201)
	var hold struct {
		HoldID uint64 `json:"hold_id"`
	}
	json.Unmarshal(w.post("/v1/holds", resident, "hold-1", `{"payee":"station:s01","asset":"HOURS","amount":"1.50"}`, 201), &hold)
	w.post(fmt.Sprintf("/v1/holds/%d/settle", hold.HoldID), station, "settle-1", `{"amount":"1.00"}`, 201)
	var acct struct {
		Balances map[string]map[string]string
	}
	json.Unmarshal(w.get("/v1/accounts/resident:v1024", resident, 200), &acct)
	if acct.Balances["HOURS"]["balance"] != "2.00" || acct.Balances["POINTS"]["balance"] != "25" {
		t.Errorf("balances after the walkthrough: %v", acct.Balances)
	}
	// The replay of the redemption, the export and the checkpoint.
	w.post("/v1/redemptions", resident, "redeem-1", redeem, 200)
	export := w.get("/v1/export", admin, 200)
	if n := bytes.Count(export, []byte("\n")); n != 8 {
		t.Errorf("export has %d lines, want 8 (genesis, 3 opens, credit, redemption, hold, settle)", n)
	}
	ckpt := w.get("/v1/checkpoint", admin, 200)
	w.run("token", "list", "--url", srv.url, "--token", admin)
	backupDir := filepath.Join(tmp, "restored")
	os.Mkdir(backupDir, 0o700)
	w.run("backup", "--url", srv.url, "--token", admin, "--out", filepath.Join(backupDir, "timebank.db"))
	// An auditor verifies the running server through its API, the key pinned out of band.
	vkey := filepath.Join(data, "checkpoint.vkey")
	t.Logf("timebank verify --url:\n%s", w.run("verify", "--url", srv.url, "--token", admin, "--key", vkey))
	// The load generator, briefly: each mode makes requests and none fails. Its credits are
	// real entries, which verify --data checks below; its bare ceiling runs as a child
	// process, which must be gone when it returns (else run would not return).
	lg := w.run("loadgen", "--url", srv.url, "--token", admin, "--clients", "4",
		"--duration", "500ms", "--warmup", "0s", "--mode", "bare,credits,reads")
	for _, mode := range []string{"bare", "credits", "reads"} {
		if !regexp.MustCompile(`(?m)^\s*` + mode + `\s+4\s+\S+\s+[1-9][0-9]*\s+0\s`).MatchString(lg) {
			t.Errorf("loadgen %s: no row with requests and no errors in\n%s", mode, lg)
		}
	}

	srv.stop(t)
	// verify exits 0 only when every entry, balance and hash agrees (run fails otherwise).
	t.Logf("timebank verify --data:\n%s", w.run("verify", "--data", data))
	w.run("verify", "--data", backupDir) // the hot backup is a whole, consistent ledger
	exportFile, ckptFile := filepath.Join(tmp, "export.ndjson"), filepath.Join(tmp, "checkpoint")
	os.WriteFile(exportFile, export, 0o600)
	os.WriteFile(ckptFile, ckpt, 0o600)
	w.run("verify", "--export", exportFile, "--checkpoint", ckptFile, "--key", vkey)

	// One changed byte in the export: exit 1, naming the entry.
	tampered := bytes.Replace(export, []byte(`"amount":"20"}]`), []byte(`"amount":"21"}]`), 1)
	if bytes.Equal(tampered, export) {
		t.Fatal("the redemption's posting was not found in the export")
	}
	os.WriteFile(exportFile, tampered, 0o600)
	out, err := exec.Command(bin, "verify", "--export", exportFile, "--checkpoint", ckptFile, "--key", vkey).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "entry 6") {
		t.Fatalf("verify of a tampered export: %v\n%s", err, out)
	}
}

type server struct {
	cmd      *exec.Cmd
	url      string
	debugURL string // with --debug-addr: the profiler's base URL
	done     chan error
	stderr   *bytes.Buffer // the server's log; read it only once done has answered
}

// startServer runs `timebank serve` with a clean environment (no TIMEBANK_* of the
// developer's) and waits for its "serving on" line.
func startServer(t *testing.T, bin, data string, extra ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, extra...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), stderr: &stderr}
	urls, debug := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "timebank: serving on "); ok {
				urls <- u
			}
			if u, ok := strings.CutPrefix(sc.Text(), "timebank: profiler on "); ok {
				debug <- u // printed before "serving on"
			}
		}
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case s.url = <-urls:
		select {
		case s.debugURL = <-debug:
		default:
		}
	case err := <-s.done:
		t.Fatalf("serve exited before serving: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", stderr.String())
	}
	return s
}

// stop sends SIGTERM and requires exit status 0 within SPEC §6's 15 seconds.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve did not exit 0 after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15 s of SIGTERM")
	}
}

func readAdminToken(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(data, "admin.token")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// walk sends the walkthrough's requests and runs the binary's subcommands.
type walk struct {
	t    *testing.T
	base string
	bin  string
}

func (w *walk) send(method, path, token, key, body string, want int) []byte {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, w.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		w.t.Fatalf("%s %s: want %d, got %d %s", method, path, want, res.StatusCode, b)
	}
	return b
}

func (w *walk) post(path, token, key, body string, want int) []byte {
	w.t.Helper()
	return w.send("POST", path, token, key, body, want)
}

func (w *walk) get(path, token string, want int) []byte {
	w.t.Helper()
	return w.send("GET", path, token, "", "", want)
}

func (w *walk) run(args ...string) string {
	w.t.Helper()
	out, err := exec.Command(w.bin, args...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("timebank %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (w *walk) cliToken(admin, role, account string) string {
	w.t.Helper()
	out := w.run("token", "create", "--url", w.base, "--token", admin, "--role", role, "--account", account)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
		w.t.Fatalf("token create printed %s", out)
	}
	return tok.Token
}

// TestSecondSignalStopsAtOnce: while a request keeps the graceful shutdown waiting (a body
// that never arrives), a second SIGTERM ends serve at once rather than after the grace
// period. Before, the second signal was swallowed and an operator could not force a quit.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, bin, data)
	admin := readAdminToken(t, data)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Idempotency-Key: slow\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", admin)
	time.Sleep(300 * time.Millisecond) // the handler is now waiting for the rest of the body

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		t.Fatalf("serve exited while a request was in flight, before its grace period: %v", err)
	case <-time.After(time.Second):
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(5 * time.Second): // the grace period is 10 s
		t.Fatal("serve did not stop within 5 s of a second SIGTERM")
	}
	if out, err := exec.Command(bin, "verify", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("verify after the forced stop: %v\n%s", err, out)
	}
}

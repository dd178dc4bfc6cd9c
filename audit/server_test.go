package audit_test

import (
	"bufio"
	"encoding/json"
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

// Running the real server, reached over HTTP only, to produce a ledger to check.

const adminToken = "audit-admin-0123456789abcdef0123"

type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	data string
	done chan error
}

// startServer builds ./cmd/timebank into a temporary directory and starts it on a free
// port with a fresh data directory; it returns once the server says where it serves.
func startServer(t *testing.T) *server {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "timebank")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/timebank/timebank/cmd/timebank").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := &server{t: t, data: filepath.Join(t.TempDir(), "data"), done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve", "--data", s.data, "--addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, "TIMEBANK_ADMIN_TOKEN="+adminToken)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "timebank: serving on "); ok {
				urls <- u
			}
		}
		io.Copy(io.Discard, stdout)
		s.done <- s.cmd.Wait()
	}()
	select {
	case s.url = <-urls:
	case err := <-s.done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30 s")
	}
	return s
}

// stop ends the server with SIGTERM, as an operator would, and waits for exit status 0.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		s.t.Fatal("serve did not stop within 15 s")
	}
}

// send makes one request and requires the status want.
func (s *server) send(method, path, token, key, body string, want int) []byte {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: want %d, got %d %s", method, path, want, res.StatusCode, b)
	}
	return b
}

// write posts one entry-making request and returns the seq of its entry.
func (s *server) write(path, token, key, body string) uint64 {
	s.t.Helper()
	var e struct{ Seq uint64 }
	if err := json.Unmarshal(s.send("POST", path, token, key, body, http.StatusCreated), &e); err != nil || e.Seq == 0 {
		s.t.Fatalf("POST %s: no seq in the answer (%v)", path, err)
	}
	return e.Seq
}

func (s *server) get(path, token string) []byte {
	s.t.Helper()
	return s.send("GET", path, token, "", "", http.StatusOK)
}

// token makes a token of a role for an account and returns its secret.
func (s *server) token(role, acct string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"role": role, "account": acct})
	if acct == "" {
		body, _ = json.Marshal(map[string]string{"role": role})
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(s.send("POST", "/v1/tokens", adminToken, "", string(body), http.StatusCreated), &tok); err != nil || tok.Token == "" {
		s.t.Fatalf("token for %s %s: %v", role, acct, err)
	}
	return tok.Token
}

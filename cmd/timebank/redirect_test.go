package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestTokenNotSentToAnotherServer: a server that redirects elsewhere (another port of the
// same host here; another scheme alike, https to http) must not get the command's bearer
// token sent there: Go's client forwards Authorization to any port and scheme of the same
// host name. Every command that talks to a server fails instead, naming where it was sent,
// and verify says NOT VERIFIED (exit 3): nothing was checked.
func TestTokenNotSentToAnotherServer(t *testing.T) {
	cleanEnv(t)
	var mu sync.Mutex
	var leaked []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			mu.Lock()
			leaked = append(leaked, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		http.Error(w, "{}", http.StatusTeapot)
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	out := filepath.Join(t.TempDir(), "out")
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"verify", "--url", redirecting.URL}, exitNotVerified},
		{[]string{"export", "--url", redirecting.URL, "--out", out}, exitFailed},
		{[]string{"backup", "--url", redirecting.URL, "--out", out}, exitFailed},
		{[]string{"token", "list", "--url", redirecting.URL}, exitFailed},
		{[]string{"token", "create", "--role", "auditor", "--url", redirecting.URL}, exitFailed},
		{[]string{"token", "revoke", "tok_0123456789abcdef", "--url", redirecting.URL}, exitFailed},
		{[]string{"loadgen", "--duration", "1ms", "--warmup", "0s", "--url", redirecting.URL}, exitFailed},
	} {
		status, _, stderr := runCLI(t, append(c.args, "--token", "tb_secret")...)
		if status != c.want || !strings.Contains(stderr, elsewhere.URL) {
			t.Errorf("%s: status %d, want %d naming %s\nstderr: %s", strings.Join(c.args[:2], " "), status, c.want, elsewhere.URL, stderr)
		}
	}
	if len(leaked) > 0 {
		t.Errorf("the token was sent to the server redirected to: %s", strings.Join(leaked, ", "))
	}
}

// TestTokenAnswersBounded: token create and token list read at most a bounded answer: an
// answer far larger than any token (here one with a label of 1 MiB) or list of them (65 of
// those) fails, saying so, instead of being read into memory for as long as the server
// sends (30 s at network speed is gigabytes).
func TestTokenAnswersBounded(t *testing.T) {
	cleanEnv(t)
	huge := `{"id":"tok_0123456789abcdef","token":"tb_x","role":"auditor","account":null,"label":"` + strings.Repeat("a", 1<<20) + `","created_at":"2026-11-29T00:00:00.000000Z"}`
	list := []byte(`{"tokens":[` + strings.Repeat(huge+",", 64) + huge + `]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(huge))
			return
		}
		w.Write(list)
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"token", "create", "--role", "auditor"},
		{"token", "list"},
	} {
		status, stdout, stderr := runCLI(t, append(args, "--url", srv.URL, "--token", "tb_secret")...)
		if status != exitFailed || !strings.Contains(stderr, "larger than") || len(stdout) > 1<<20 {
			t.Errorf("%s of an oversized answer: status %d, %d bytes out, stderr %.200s", strings.Join(args, " "), status, len(stdout), stderr)
		}
	}
}

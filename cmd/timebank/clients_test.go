package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
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

package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// TestBootstrapAdmin: an admin token is made only when none is live (the first start, or
// every admin token revoked), and a revoked secret never comes back. An audit found the
// bootstrap token re-created at every start, so a leaked and revoked one came back to life.
func TestBootstrapAdmin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := &serveCmd{Data: dir}
	const envSecret = "env-secret-0123456789abcdef"
	start := func() (*store.Ledger, error) {
		t.Helper()
		led, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { led.Close() })
		return led, c.ensureAdmin(led)
	}

	t.Setenv("TIMEBANK_ADMIN_TOKEN", "short")
	led, err := start()
	if err == nil || !strings.Contains(err.Error(), "24 to 256 bytes") {
		t.Fatalf("a 5-character admin secret: %v", err)
	}
	led.Close()

	// The bound is in bytes, as Authenticate reads them: 100 characters of 3 bytes each are
	// refused, and the message must not call them too few or too many characters.
	t.Setenv("TIMEBANK_ADMIN_TOKEN", strings.Repeat("时", 100))
	led, err = start()
	if err == nil || !strings.Contains(err.Error(), "24 to 256 bytes") || !strings.Contains(err.Error(), "300") {
		t.Fatalf("a 300-byte admin secret of 100 characters: %v", err)
	}
	led.Close()

	t.Setenv("TIMEBANK_ADMIN_TOKEN", envSecret)
	led, err = start()
	if err != nil || led.TokenStatus(envSecret) != store.TokenLive {
		t.Fatalf("first start: %v, status %v", err, led.TokenStatus(envSecret))
	}
	named, _, err := led.CreateToken(ledger.RoleAdmin, "", "named admin")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := led.Authenticate(envSecret)
	if err := led.RevokeToken(p.TokenID); err != nil {
		t.Fatal(err)
	}
	led.Close()

	// A restart with the revoked secret still set: nothing is made, the secret stays dead.
	led, err = start()
	if err != nil || led.TokenStatus(envSecret) != store.TokenRevoked {
		t.Fatalf("restart: %v, status %v", err, led.TokenStatus(envSecret))
	}
	if list, _ := led.ListTokens(); len(list) != 1 || list[0].ID != named.ID {
		t.Fatalf("tokens after restart %+v, want only the named admin", list)
	}
	// Every admin revoked: the revoked secret is refused, not restored.
	if err := led.RevokeToken(named.ID); err != nil {
		t.Fatal(err)
	}
	led.Close()
	led, err = start()
	if err == nil || !strings.Contains(err.Error(), "revoked") || led.HasLiveAdmin() {
		t.Fatalf("restart with only a revoked env secret: %v, live admin %v", err, led.HasLiveAdmin())
	}
	led.Close()

	// Without it, a new random secret is written to admin.token, mode 0600.
	os.Unsetenv("TIMEBANK_ADMIN_TOKEN")
	led, err = start()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, adminTokenFile)
	b, err := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if err != nil || led.TokenStatus(strings.TrimSpace(string(b))) != store.TokenLive || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v", err, fi.Mode())
	}
	// And a later start makes nothing more.
	led.Close()
	led, err = start()
	if list, _ := led.ListTokens(); err != nil || len(list) != 1 {
		t.Fatalf("a start with a live admin made tokens: %v %+v", err, list)
	}
}

// TestBootstrapAdminFileFirst: when the admin.token file cannot be written, no admin token is
// stored, so the next start makes one and writes it. Stored first (as it once was), the token
// stayed live with its secret nowhere, and no later start made another: the operator was
// locked out.
func TestBootstrapAdminFileFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	os.Unsetenv("TIMEBANK_ADMIN_TOKEN")
	c := &serveCmd{Data: dir}
	path := filepath.Join(dir, adminTokenFile)
	if err := os.MkdirAll(filepath.Join(path, "blocked"), 0o700); err != nil { // a directory where the file goes
		t.Fatal(err)
	}
	led, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureAdmin(led); err == nil {
		t.Fatal("admin.token could not be written, yet the start went on")
	}
	if led.HasLiveAdmin() {
		t.Fatal("an admin token was stored whose secret was written nowhere")
	}
	led.Close()

	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if led, err = store.Open(dir, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if err := c.ensureAdmin(led); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || led.TokenStatus(strings.TrimSpace(string(b))) != store.TokenLive {
		t.Fatalf("after the second start: admin.token %q (%v) is not a live token", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("data directory holds %d files, want 4 (no temporary left): %v", len(entries), entries)
	}
}

// TestServeBadFlagsLeaveNothing: a wrong --addr, --name or --debug-addr fails before the data
// directory is made. A --name the store refused used to leave a new directory holding an
// empty database, and a --debug-addr that could not listen a whole new ledger.
func TestServeBadFlagsLeaveNothing(t *testing.T) {
	for _, c := range []struct{ what, addr, name, debugAddr string }{
		{"--addr nonsense", "nonsense", "", ""},
		{"--name 'two words'", "127.0.0.1:0", "two words", ""},
		{"--name a+b", "127.0.0.1:0", "a+b", ""},
		{"--debug-addr nonsense", "127.0.0.1:0", "", "nonsense"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		err := (&serveCmd{Data: dir, Addr: c.addr, Name: c.name, DebugAddr: c.debugAddr, LogLevel: "error"}).Run()
		if err == nil {
			t.Fatalf("serve %s started", c.what)
		}
		if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
			t.Errorf("serve %s (%v) left %s behind: %v", c.what, err, dir, statErr)
		}
	}
}

// TestServeBadAdminSecretLeavesNothing: a first start refused for its TIMEBANK_ADMIN_TOKEN
// makes no data directory either. It used to make the whole ledger first (genesis entry,
// signing key, the ledger's name fixed) and refuse the secret after, so the corrected start
// found a ledger it had not made: with another --name, it refused to start.
func TestServeBadAdminSecretLeavesNothing(t *testing.T) {
	for _, secret := range []string{"short", " env-secret-0123456789abcdef", strings.Repeat("x", 257)} {
		t.Setenv("TIMEBANK_ADMIN_TOKEN", secret)
		dir := filepath.Join(t.TempDir(), "data")
		err := (&serveCmd{Data: dir, Addr: "127.0.0.1:0", LogLevel: "error"}).Run()
		if err == nil || !strings.Contains(err.Error(), "TIMEBANK_ADMIN_TOKEN") {
			t.Fatalf("serve with TIMEBANK_ADMIN_TOKEN %.30q: %v", secret, err)
		}
		if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
			t.Errorf("serve with TIMEBANK_ADMIN_TOKEN %.30q (%v) left %s behind: %v", secret, err, dir, statErr)
		}
	}
}

// TestLoosePermissionsWarned: a signing key others may read is named at start.
func TestLoosePermissionsWarned(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, store.KeyFile)
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	warnLoosePermissions(dir)
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if !strings.Contains(string(out), key) || strings.Count(string(out), "warning") != 1 {
		t.Fatalf("warnings: %q", out)
	}
}

// TestBootstrapAdminSecretUsable: a TIMEBANK_ADMIN_TOKEN that no client can send as it is
// (white space around it, a line break in it) is refused at start, or else a request that
// sends it logs in. An audit found " secret " stored as it was while the API trims the
// header: the only admin token was one nobody could present, and since an admin was live no
// later start made another, so the operator was locked out for good.
func TestBootstrapAdminSecretUsable(t *testing.T) {
	const secret = "env-secret-0123456789abcdef"
	for _, odd := range []string{" " + secret, secret + "\n", secret + " ", "env-secret\n0123456789abcdef"} {
		t.Run(fmt.Sprintf("%q", odd), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			led, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer led.Close()
			t.Setenv("TIMEBANK_ADMIN_TOKEN", odd)
			if err := (&serveCmd{Data: dir}).ensureAdmin(led); err != nil {
				if led.HasLiveAdmin() {
					t.Fatalf("refused (%v), yet an admin token was stored", err)
				}
				return
			}
			hs := httptest.NewServer(api.New(led, api.Options{Logger: slog.New(slog.DiscardHandler)}).Handler())
			defer hs.Close()
			req, _ := http.NewRequest(http.MethodGet, hs.URL+"/v1/tokens", nil)
			req.Header["Authorization"] = []string{"Bearer " + odd}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("taken as the admin's secret, but a client cannot send it: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("taken as the admin's secret, but sending it answers %s", res.Status)
			}
		})
	}
}

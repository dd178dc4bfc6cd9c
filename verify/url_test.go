package verify

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger/store"
)

// serveFixture serves the fixture's ledger through the real API, with rewrite (when set)
// changing the body of answers to the paths it names. It returns the URL and an admin token.
func serveFixture(t *testing.T, rewrite map[string]func([]byte) []byte) (string, string, string) {
	t.Helper()
	dir, _, _, vkey := fixture(t)
	l, err := store.Open(dir, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	const token = "tb_test_admin"
	if err := l.EnsureAdminToken(token); err != nil {
		t.Fatal(err)
	}
	h := api.New(l, api.Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }}).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn := rewrite[r.URL.EscapedPath()]
		if fn == nil {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		w.WriteHeader(rec.Code)
		w.Write(fn(rec.Body.Bytes()))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, token, vkey
}

func TestURLVerify(t *testing.T) {
	base, token, vkey := serveFixture(t, nil)
	sum, err := URL(base, token, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Entries != 21 || sum.Accounts != 7 || !strings.HasPrefix(sum.Source, "server ") {
		t.Fatalf("summary %+v", sum)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "7 accounts' balances and earned with the server's") {
		t.Fatalf("summary does not say the accounts were compared:\n%s", out.String())
	}
	if _, err := URL(base, token, "timebank+00000000+AAAA", nil); err == nil || !strings.Contains(err.Error(), "not the pinned key") {
		t.Fatalf("a pinned key other than the server's: got %v", err)
	}
	if _, err := URL(base, "wrong", "", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: got %v", err)
	}
}

// TestURLVerifyFindsMisreportedBalance: a server whose account answer disagrees with its own
// log is named, account and asset.
func TestURLVerifyFindsMisreportedBalance(t *testing.T) {
	base, token, vkey := serveFixture(t, map[string]func([]byte) []byte{
		"/v1/accounts/resident:bob": func(b []byte) []byte {
			// bob holds 2.00 HOURS (a transfer of 1 and a grant of 1): claim 3.00.
			if !bytes.Contains(b, []byte(`"balance":"2.00"`)) {
				t.Errorf("bob's answer has no balance 2.00: %s", b)
			}
			return bytes.Replace(b, []byte(`"balance":"2.00"`), []byte(`"balance":"3.00"`), 1)
		},
	})
	_, err := URL(base, token, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "account resident:bob HOURS") || !strings.Contains(err.Error(), "3.00") {
		t.Fatalf("got %v, want an error naming resident:bob's HOURS", err)
	}
}

// TestURLVerifyFindsTamperedExport: an export stream that differs from the signed checkpoint
// is refused.
func TestURLVerifyFindsTamperedExport(t *testing.T) {
	base, token, vkey := serveFixture(t, map[string]func([]byte) []byte{
		"/v1/export": func(b []byte) []byte {
			return bytes.Replace(b, []byte("tamper-me-3"), []byte("tamper-me-4"), 1)
		},
	})
	_, err := URL(base, token, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "the signed checkpoint says") {
		t.Fatalf("got %v, want the tree refused against the signed checkpoint", err)
	}
}

// TestFirstLines: the export of a busy server is cut after the checkpoint's size, however
// the stream is split into writes.
func TestFirstLines(t *testing.T) {
	stream := "1\n22\n333\n4444\n"
	for _, left := range []uint64{0, 1, 3, 4, 9} {
		for size := 1; size <= len(stream); size++ {
			var got bytes.Buffer
			l := &firstLines{w: &got, left: left}
			for p := stream; p != ""; p = p[min(size, len(p)):] {
				if n, err := l.Write([]byte(p[:min(size, len(p))])); err != nil || n != min(size, len(p)) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			want := strings.Join(strings.SplitAfter(stream, "\n")[:min(left, 4)], "")
			if got.String() != want {
				t.Fatalf("first %d lines in writes of %d bytes: got %q, want %q", left, size, got.String(), want)
			}
		}
	}
}

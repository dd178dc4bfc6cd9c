package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger/store"
)

// serveFixture serves the fixture's ledger through the real API, with rewrite (when set)
// changing the body of answers to the paths it names. It returns the URL and an admin token.
func serveFixture(t *testing.T, rewrite map[string]func([]byte) []byte) (string, string, string) {
	t.Helper()
	return serve(t, rewrite, nil)
}

// serve is serveFixture with before (when set) run on every request before it is served.
func serve(t *testing.T, rewrite map[string]func([]byte) []byte, before func(r *http.Request)) (string, string, string) {
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
	return tampering(t, h, rewrite, before), token, vkey
}

// tampering serves h, with before (when set) run on every request first and rewrite (when
// set) changing the body of answers to the paths it names; it returns the server's URL.
func tampering(t *testing.T, h http.Handler, rewrite map[string]func([]byte) []byte, before func(r *http.Request)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if before != nil {
			before(r)
		}
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
	return srv.URL
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
	if !strings.Contains(out.String(), "7 accounts' balances, earned, status and opening time with the server's") {
		t.Fatalf("summary does not say the accounts were compared:\n%s", out.String())
	}
	if _, err := URL(base, token, otherKey(t), nil); err == nil || !strings.Contains(err.Error(), "not the pinned key") {
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

// TestURLVerifyFindsEveryMisreportedFigure: every asset's balance and earned of an account's
// answer is compared, not only the first asset's balance (found by mutation testing:
// comparing the first asset alone, or balances without earned, passed).
func TestURLVerifyFindsEveryMisreportedFigure(t *testing.T) {
	for _, c := range []struct{ asset, field, want string }{
		{"HOURS", "earned", "account resident:alice HOURS: the server shows balance"},
		{"POINTS", "balance", "account resident:alice POINTS: the server shows balance"},
	} {
		t.Run(c.asset+" "+c.field, func(t *testing.T) {
			base, token, vkey := serveFixture(t, map[string]func([]byte) []byte{
				"/v1/accounts/resident:alice": func(b []byte) []byte {
					var a map[string]any
					if err := json.Unmarshal(b, &a); err != nil {
						t.Errorf("alice's answer: %v: %s", err, b)
						return b
					}
					a["balances"].(map[string]any)[c.asset].(map[string]any)[c.field] = "999"
					out, _ := json.Marshal(a)
					return out
				},
			})
			_, err := URL(base, token, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "999") {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// TestURLVerifyRefusesAStatementNotAfterTheCheckpoint: when an account's answer differs from
// the replay, its first statement line after the checkpoint must be after it. A server that
// answers the line of the checkpoint's own last entry (bob's freeze, entry 21, which posts
// nothing) would otherwise make bob's replayed balance look like its balance since, and a
// misreported balance pass (found by mutation testing: ">=" for ">" passed).
func TestURLVerifyRefusesAStatementNotAfterTheCheckpoint(t *testing.T) {
	base, token, vkey := serve(t, map[string]func([]byte) []byte{
		"/v1/accounts/resident:bob": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"balance":"2.00"`), []byte(`"balance":"3.00"`), 1)
		},
	}, func(r *http.Request) {
		if r.URL.Path == "/v1/accounts/resident:bob/entries" {
			q := r.URL.Query()
			if q.Get("after_seq") == "21" {
				q.Set("after_seq", "20")
				r.URL.RawQuery = q.Encode()
			}
		}
	})
	_, err := URL(base, token, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "account resident:bob's statement after entry 21 begins with entry 21") {
		t.Fatalf("got %v, want bob's statement refused", err)
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

// writer posts entries through a served fixture as another client would, with the admin
// token: credits of 0.01 h, each session 72 s after the previous one (of any resident), so
// that none overlaps, none ends after t0 (the server's clock) and no day reaches its cap.
type writer struct {
	t     *testing.T
	base  string
	token string
	n     atomic.Int64
}

func (w *writer) post(path, body string) { w.postN(w.n.Add(1), path, body) }

// postN posts body with the n-th Idempotency-Key.
func (w *writer) postN(n int64, path, body string) {
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(body))
	if err != nil {
		w.t.Error(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprint("writer-", n))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Error(err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		var msg bytes.Buffer
		msg.ReadFrom(res.Body)
		w.t.Errorf("POST %s %s: %s %s", path, body, res.Status, msg.String())
	}
}

func (w *writer) credit(who string) {
	n := w.n.Add(1)
	start := t0.Add(-29*24*time.Hour + time.Duration(n)*72*time.Second)
	w.postN(n, "/v1/credits", fmt.Sprintf(`{"volunteer":%q,"station":"station:s1","hours":"0.01","activity":{"id":"w","category":"test","started_at":%q,"ended_at":%q}}`,
		who, start.Format(time.RFC3339), start.Add(36*time.Second).Format(time.RFC3339)))
}

// serveBusy serves the fixture (with rewrite) while it takes writes, as a server under
// timebank loadgen does: a goroutine credits residents (carol and dave, opened first, and
// erin, opened meanwhile) until the test ends, and before the export and before each
// account answer the server credits one more (alice first): every verify run sees the log
// grow after its checkpoint, and alice and the issuer change before they are read.
func serveBusy(t *testing.T, rewrite map[string]func([]byte) []byte) (string, string, string) {
	t.Helper()
	w := &writer{t: t}
	var k atomic.Int64
	compared := []string{"resident:alice", "resident:carol", "resident:dave"}
	base, token, vkey := serve(t, rewrite, func(r *http.Request) {
		p := r.URL.Path
		if r.Method == http.MethodGet && (p == "/v1/export" || strings.HasPrefix(p, "/v1/accounts/") && !strings.HasSuffix(p, "/entries")) {
			w.credit(compared[int(k.Add(1)-1)%len(compared)])
		}
	})
	w.base, w.token = base, token
	w.post("/v1/accounts", `{"id":"resident:carol"}`)
	w.post("/v1/accounts", `{"id":"resident:dave"}`)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.post("/v1/accounts", `{"id":"resident:erin"}`)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w.credit([]string{"resident:carol", "resident:dave", "resident:erin"}[i%3])
		}
	}()
	t.Cleanup(wg.Wait) // cleanups run last first: the writer stops before the server does
	t.Cleanup(func() { close(stop) })
	return base, token, vkey
}

// TestURLVerifyWhileWriting: verify --url passes on a server taking writes, run after run,
// and compares every account at the checkpoint's size.
func TestURLVerifyWhileWriting(t *testing.T) {
	base, token, vkey := serveBusy(t, nil)
	for run := 0; run < 5; run++ {
		sum, err := URL(base, token, vkey, nil)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if sum.Checkpoint.Size != sum.Entries || sum.Entries < 23 {
			t.Fatalf("run %d: replayed %d entries for a checkpoint of %d", run, sum.Entries, sum.Checkpoint.Size)
		}
		var out bytes.Buffer
		sum.Print(&out)
		if !strings.Contains(out.String(), fmt.Sprintf("at tree size %d", sum.Entries)) || !strings.Contains(out.String(), "statement") {
			t.Fatalf("run %d: the summary does not say at which size, nor that moved accounts were compared through their statements:\n%s", run, out.String())
		}
	}
}

// TestURLVerifyWhileWritingFindsMisreports: on a server taking writes, a misreported balance
// is still named, account and asset, as a difference (not as a reason to run again): bob's
// answer (an account nobody writes to) and alice's statement (an account being credited).
func TestURLVerifyWhileWritingFindsMisreports(t *testing.T) {
	for _, tc := range []struct {
		path string
		fn   func(t *testing.T) func([]byte) []byte
		want []string
	}{
		{"/v1/accounts/resident:bob", func(t *testing.T) func([]byte) []byte {
			return func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"balance":"2.00"`), []byte(`"balance":"3.00"`), 1)
			}
		}, []string{"account resident:bob HOURS", "3.00", "replaying the log"}},
		{"/v1/accounts/resident:alice/entries", func(t *testing.T) func([]byte) []byte {
			return func(b []byte) []byte {
				var page struct {
					Entries      []map[string]any `json:"entries"`
					NextAfterSeq *uint64          `json:"next_after_seq"`
				}
				if err := json.Unmarshal(b, &page); err != nil || len(page.Entries) == 0 {
					t.Errorf("alice's statement after the checkpoint is empty or not JSON: %s", b)
					return b
				}
				page.Entries[0]["balances_after"].(map[string]any)["HOURS"] = "999.00"
				out, _ := json.Marshal(page)
				return out
			}
		}, []string{"account resident:alice HOURS", "999.00", "replaying the log"}},
		// Every asset of the line is compared (found by mutation testing: HOURS alone passed).
		{"/v1/accounts/resident:alice/entries", func(t *testing.T) func([]byte) []byte {
			return func(b []byte) []byte {
				var page map[string]any
				if err := json.Unmarshal(b, &page); err != nil {
					t.Errorf("alice's statement after the checkpoint is not JSON: %s", b)
					return b
				}
				entries, _ := page["entries"].([]any)
				if len(entries) == 0 {
					t.Errorf("alice's statement after the checkpoint is empty: %s", b)
					return b
				}
				entries[0].(map[string]any)["balances_after"].(map[string]any)["POINTS"] = "999"
				out, _ := json.Marshal(page)
				return out
			}
		}, []string{"account resident:alice POINTS", "999", "replaying the log"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			base, token, vkey := serveBusy(t, map[string]func([]byte) []byte{tc.path: tc.fn(t)})
			_, err := URL(base, token, vkey, nil)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("got %v, want an error with %q", err, w)
				}
			}
		})
	}
}

// TestFirstLines: the export of a busy server is cut after the checkpoint's size, however
// the stream is split into writes.
func TestFirstLines(t *testing.T) {
	stream := "1\n22\n333\n4444\n"
	for _, left := range []uint64{0, 1, 3, 4, 9} {
		for size := 1; size <= len(stream); size++ {
			var got bytes.Buffer
			l := &firstLines{w: &got, left: left, tail: 1 << 20}
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

// TestURLVerifyWaitsOutRateLimit: a server run with --rate-limit answers 429 with
// Retry-After once verify's requests (the key, the checkpoint, the export, one per account)
// pass its burst. verify waits as told and asks again, within the minute it allows for an
// answer's headers; it used to give up at the first 429 (exit 3), so that a documented
// server option made verify --url impossible, and "retry on 3" never succeeded.
func TestURLVerifyWaitsOutRateLimit(t *testing.T) {
	var mu sync.Mutex
	refused := map[string]bool{}
	var limited atomic.Int64
	base, token, vkey := serve(t, nil, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !refused[r.URL.String()]
		refused[r.URL.String()] = true
		mu.Unlock()
		if first { // every request is refused once, as a rate limiter past its burst does
			limited.Add(1)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"rate_limited","message":"Too many requests.","details":{}}}`))
			return
		}
		req, _ := http.NewRequest(r.Method, base+r.URL.String(), nil)
		req.Header = r.Header
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	defer proxy.Close()
	sum, err := URL(proxy.URL, token, vkey, nil)
	if err != nil {
		t.Fatalf("verify --url of a rate-limited server: %v", err)
	}
	if sum.Entries != 21 || limited.Load() < 3 {
		t.Fatalf("summary %+v after %d answers 429", sum, limited.Load())
	}

	// A server that answers nothing but 429 is given up on, as one that never answers is.
	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer always.Close()
	lim := defaultLimits
	lim.header = 300 * time.Millisecond
	_, err = verifyURL(newClient(always.URL, token, lim), "", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("a server answering only 429: got %v, want a SourceError naming 429", err)
	}
}

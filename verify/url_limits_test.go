package verify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger/store"
)

// testLimits are netLimits short enough for tests that wait for them to run out.
var testLimits = netLimits{header: 300 * time.Millisecond, idle: 300 * time.Millisecond, small: time.Second, tail: 64 << 10}

// answeringLimits are for tests whose server answers: a second of silence allowed, since on
// two busy cores a scheduling delay alone once outlasted testLimits' 300 ms.
var answeringLimits = netLimits{header: time.Second, idle: time.Second, small: time.Second, tail: 64 << 10}

// hostile serves the fixture through the real API, but for the paths handlers names: what a
// stuck or hostile server answers there. It returns its URL, an admin token and the fixture's
// export.
func hostile(t *testing.T, handlers map[string]http.HandlerFunc) (string, string, []byte) {
	t.Helper()
	base, token, _ := serveFixture(t, nil)
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handlers[r.URL.EscapedPath()]; h != nil {
			h(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, token, exportOf(t, base, token)
}

// exportOf fetches the export from the real API.
func exportOf(t *testing.T, base, token string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drip writes b, then one byte of fill every gap until the client hangs up.
func drip(b []byte, fill byte, gap time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Write(b)
		for {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(gap):
			}
			if _, err := w.Write([]byte{fill}); err != nil {
				return
			}
		}
	}
}

func stall(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// TestURLLimits: a server that never answers, drips, stalls mid-export or streams without
// end is given up on after the limits (netLimits, short here), as a *SourceError: the
// source could not be read. Nothing is left in the temporary directory.
func TestURLLimits(t *testing.T) {
	var realExport []byte
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, c := range []struct {
		name     string
		handlers func() map[string]http.HandlerFunc
		want     string
	}{
		{"checkpoint never answered", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/checkpoint": stall}
		}, "timeout awaiting response headers"},
		{"checkpoint dripped a byte at a time", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/checkpoint": drip(nil, 'x', 50*time.Millisecond)}
		}, "GET /v1/checkpoint: no whole answer within 1s"},
		{"export stalls halfway", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/export": func(w http.ResponseWriter, r *http.Request) {
				w.Write(realExport[:len(realExport)/2])
				w.(http.Flusher).Flush()
				stall(w, r)
			}}
		}, "GET /v1/export: no byte of the answer for 300ms"},
		{"export never answered", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/export": stall}
		}, "timeout awaiting response headers"},
		{"an error status", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/export": func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			}}
		}, "GET /v1/export: 500 Internal Server Error: boom"},
		{"a checkpoint over 64 KiB", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/checkpoint": func(w http.ResponseWriter, r *http.Request) {
				w.Write(make([]byte, 64<<10+1))
			}}
		}, "GET /v1/checkpoint: the answer is larger than 64 KiB"},
		{"an account answer too deep", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/accounts/resident:bob": func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(deep))
			}}
		}, "exceeded max depth"},
		{"an account answer not JSON", func() map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"/v1/accounts/resident:bob": func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<html>"))
			}}
		}, "account resident:bob: the server's answer: invalid character"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			handlers := c.handlers()
			base, token, export := hostile(t, handlers)
			realExport = export
			start := time.Now()
			_, err := verifyURL(newClient(base, token, testLimits), "", nil)
			var se *SourceError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a *SourceError with %q", err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("gave up after %s", d)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left %s in the temporary directory", left[0].Name())
			}
		})
	}
}

// TestURLEndlessExportLine: an export whose first line never ends is refused once the line
// is longer than the replay would take (MaxLineBytes), while it is downloaded: not first
// copied to the disk without end. The temporary file is unlinked while it is written.
func TestURLEndlessExportLine(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var sent atomic.Int64
	var listed atomic.Value
	base, token, _ := hostile(t, map[string]http.HandlerFunc{"/v1/export": func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("a"), 64<<10)
		w.Write([]byte(`{"seq":1,"memo":"`))
		for i := 0; ; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if sent.Add(int64(len(chunk))); i == 8 { // half a MiB in: the download is under way
				left, _ := os.ReadDir(tmp)
				listed.Store(len(left))
			}
		}
	}})
	_, err := verifyURL(newClient(base, token, testLimits), "", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the export's line 1 is longer than 1048576 bytes") {
		t.Fatalf("got %v, want the line refused as too long", err)
	}
	if n := sent.Load(); n > 16<<20 {
		t.Errorf("the server sent %d MiB before verify hung up", n>>20)
	}
	if n, _ := listed.Load().(int); n != 0 {
		t.Errorf("%d files in the temporary directory while the export was downloaded", n)
	}
}

// TestURLSlowButFlowingExport: an export that keeps flowing is read to the end, however long
// it takes in all (here longer than the idle limit); one that runs on past the
// checkpoint's entries without end is cut after the tail limit, and verifies.
func TestURLSlowButFlowingExport(t *testing.T) {
	var realExport []byte
	for name, h := range map[string]http.HandlerFunc{
		"slow": func(w http.ResponseWriter, r *http.Request) {
			for _, line := range bytes.SplitAfter(realExport, []byte("\n")) {
				w.Write(line)
				w.(http.Flusher).Flush()
				time.Sleep(75 * time.Millisecond)
			}
		},
		"endless tail": func(w http.ResponseWriter, r *http.Request) {
			w.Write(realExport)
			drip([]byte("x"), '\n', 0)(w, r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			base, token, export := hostile(t, map[string]http.HandlerFunc{"/v1/export": h})
			realExport = export
			lim := answeringLimits
			start := time.Now()
			sum, err := verifyURL(newClient(base, token, lim), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Entries != 21 {
				t.Fatalf("replayed %d entries", sum.Entries)
			}
			if name == "slow" && time.Since(start) < lim.idle {
				t.Fatalf("the export took only %s", time.Since(start))
			}
		})
	}
}

// TestURLSummaryAndDifferences: without --key the summary says the key was the server's
// own; an account the server does not know is a difference, not an unreadable source; a
// checkpoint of size 0 is a difference named as such.
func TestURLSummaryAndDifferences(t *testing.T) {
	base, token, _ := hostile(t, nil)
	sum, err := verifyURL(newClient(base, token, answeringLimits), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "key          not pinned: the server's own key timebank+") {
		t.Fatalf("the summary does not say the key was not pinned:\n%s", out.String())
	}

	base, token, _ = hostile(t, map[string]http.HandlerFunc{"/v1/accounts/resident:bob": func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"not_found"}}`, http.StatusNotFound)
	}})
	_, err = verifyURL(newClient(base, token, answeringLimits), "", nil)
	var se *SourceError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "account resident:bob was opened by the log, but the server does not know it") {
		t.Fatalf("an account missing from the server: got %v", err)
	}

	ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", 0, emptyTreeHash))
	base, token, _ = hostile(t, map[string]http.HandlerFunc{
		"/v1/checkpoint/key": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(vkey + "\n")) },
		"/v1/checkpoint":     func(w http.ResponseWriter, r *http.Request) { w.Write(ckpt) },
	})
	_, err = verifyURL(newClient(base, token, answeringLimits), vkey, nil)
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "the server's checkpoint covers no entries") {
		t.Fatalf("a size-0 checkpoint: got %v", err)
	}
}

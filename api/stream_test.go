package api_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
)

// TestStreamsThatFail: an export or backup that fails must not look like a whole one to the
// client. Both answered 200 before reading anything, so a failure before the first byte
// (the store stopped, no disk space to spool the backup) was a clean empty 200: `timebank
// backup` wrote a 0-byte file and reported success. Now such a failure answers its error,
// and one after the first byte breaks the connection, so the client reads an unexpected EOF
// instead of a short body that ends as a whole one would.
func TestStreamsThatFail(t *testing.T) {
	stopped := ledger.Errorf(ledger.CodeUnavailable, "The ledger stopped.")
	for _, c := range []struct {
		name   string
		err    error
		prefix string
		status int // 0: the stream is cut
	}{
		{"unavailable before the first byte", stopped, "", http.StatusServiceUnavailable},
		{"internal before the first byte", errors.New("no space left on device"), "", http.StatusInternalServerError},
		{"after a line", stopped, "{\"seq\":1}\n", 0},
		{"after 64 KiB", stopped, strings.Repeat("{\"seq\":1}\n", 6554), 0}, // past net/http's buffer: the 200 went out
	} {
		var logs syncBuffer
		e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s, streamErr: c.err, streamPrefix: c.prefix}
		}, options: api.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}})
		ts := httptest.NewServer(e.srv.Handler())
		for _, path := range []string{"/v1/export", "/v1/backup"} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			res, err := ts.Client().Do(req)
			if err != nil {
				// Cut before net/http sent its buffered first bytes: no answer at all.
				if c.status != 0 || !errors.Is(err, io.EOF) {
					t.Errorf("%s, %s: %v", path, c.name, err)
				}
				continue
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			r := &resp{t: t, Status: res.StatusCode, Header: res.Header, Body: body}
			switch {
			case c.status != 0 && (r.Status != c.status || r.code() == "" || err != nil):
				t.Errorf("%s, %s: %.300s (read error %v), want %d with the error's JSON", path, c.name, r, err, c.status)
			case c.status == 0 && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("%s, %s: %.300s, read error %v; want the stream cut (unexpected EOF)", path, c.name, r, err)
			}
		}
		if c.status == 0 {
			m := e.do("GET", "/metrics", "", "")
			for _, route := range []string{"/v1/export", "/v1/backup"} {
				if want := `timebank_http_streams_cut_total{route="` + route + `"} 1`; !strings.Contains(string(m.Body), want) {
					t.Errorf("%s: /metrics lacks %s", c.name, want)
				}
			}
		}
		ts.Close()
		// The request line of a cut stream says so, at error level: its status, 200, is
		// what was sent, not how the answer ended.
		if cut := strings.Count(logs.String(), `"level":"ERROR","msg":"request"`); c.status == 0 && cut != 2 {
			t.Errorf("%s: %d request lines at error level for 2 cut streams:\n%s", c.name, cut, logs.String())
		}
	}
}

// syncBuffer is a bytes.Buffer for a log that the server's goroutines write while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package api_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s, streamErr: c.err, streamPrefix: c.prefix}
		}})
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
		ts.Close()
	}
}

package verify

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestURLExportCutInsideALine: an export that ends inside a line was cut on its way (an
// answer whose end is the connection's close ends without an error wherever it is cut),
// as one that breaks with an error is: the source could not be read (exit 3), not a
// difference in the ledger (exit 1), which a monitoring job would alert on.
func TestURLExportCutInsideALine(t *testing.T) {
	var realExport []byte
	base, token, export := hostile(t, map[string]http.HandlerFunc{"/v1/export": func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
		buf.Write(realExport[:len(realExport)/2])
		buf.Flush()
	}})
	realExport = export
	if strings.HasSuffix(string(export[:len(export)/2]), "\n") {
		t.Fatal("the fixture's export is cut at a line's end: cut it elsewhere")
	}
	_, err := verifyURL(newClient(base, token, answeringLimits), "", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the export ended inside line") {
		t.Fatalf("got %v, want a *SourceError saying the export was cut inside a line", err)
	}
}

// TestURLVerifyFindsMisreportedStatus: an account's status and opened_at are compared with
// the replay too, not only its balances: bob, frozen by the log's last entry, shown active,
// and alice shown opened at another time, are named as differences. Both used to pass.
func TestURLVerifyFindsMisreportedStatus(t *testing.T) {
	for _, c := range []struct {
		path, from, to, want string
	}{
		{"/v1/accounts/resident:bob", `"status":"frozen"`, `"status":"active"`, `account resident:bob: the server shows status "active", but replaying the log gives "frozen"`},
		{"/v1/accounts/resident:alice", `"opened_at":"2026-`, `"opened_at":"2025-`, `account resident:alice: the server shows it opened at "2025-`},
	} {
		t.Run(c.path, func(t *testing.T) {
			base, token, vkey := serveFixture(t, map[string]func([]byte) []byte{
				c.path: func(b []byte) []byte {
					if !bytes.Contains(b, []byte(c.from)) {
						t.Errorf("the answer has no %s: %s", c.from, b)
					}
					return bytes.Replace(b, []byte(c.from), []byte(c.to), 1)
				},
			})
			_, err := URL(base, token, vkey, nil)
			var se *SourceError
			if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a difference %q", err, c.want)
			}
		})
	}
}

// TestURLMalformedServedKey: a served verifier key that is not one (an error page, an
// answer cut short) is an answer not the one documented (exit 3), pinned key or not; only
// a well-formed key other than the pinned one is a difference (exit 1). With a pinned key
// it used to be FAILED.
func TestURLMalformedServedKey(t *testing.T) {
	_, _, _, vkey := fixture(t)
	for served, wantSource := range map[string]bool{
		"<html>":               true,
		vkey[:len(vkey)-4]:     true,
		"timebank+00000000+AA": true,
		otherKey(t):            false,
	} {
		base, token, _ := hostile(t, map[string]http.HandlerFunc{"/v1/checkpoint/key": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(served + "\n"))
		}})
		_, err := verifyURL(newClient(base, token, answeringLimits), vkey, nil)
		var se *SourceError
		if err == nil || errors.As(err, &se) != wantSource {
			t.Errorf("served key %q: got %v, want a SourceError %v", served, err, wantSource)
		}
	}

	// A pinned key (--key FILE) that is malformed is a key file that is not one (exit 3,
	// OPERATIONS), as with --export: it used to be compared with the served key, and FAILED.
	base, token, _ := hostile(t, nil)
	_, err := verifyURL(newClient(base, token, answeringLimits), "not a key", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "verifier key") {
		t.Errorf("a malformed pinned key: got %v, want a SourceError", err)
	}
}

// otherKey is a well-formed verifier key of another ledger of the same name.
func otherKey(t *testing.T) string {
	_, vkey := signText(t, "timebank", "timebank\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	return vkey
}

// TestURLDrippingTail: past the checkpoint's entries verify reads on only out of courtesy
// (so that the server does not log a cut export): a server that drips bytes there, each
// well within the idle limit, or stalls, must not hold verify, which has all it needs. The
// drip used to hold it until 64 MiB (64 KiB here) had come or the server stopped (here
// after 1000 bytes, a byte every 20 ms: 20 s), a stall made it give up (exit 3).
func TestURLDrippingTail(t *testing.T) {
	var realExport []byte
	var tail atomic.Int64
	for name, h := range map[string]http.HandlerFunc{
		"drip": func(w http.ResponseWriter, r *http.Request) {
			w.Write(realExport)
			for range 1000 {
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := w.Write([]byte{'x'}); err != nil {
					return
				}
				tail.Add(1)
			}
		},
		"stall": func(w http.ResponseWriter, r *http.Request) {
			w.Write(realExport)
			w.(http.Flusher).Flush()
			stall(w, r)
		},
	} {
		t.Run(name, func(t *testing.T) {
			tail.Store(0)
			base, token, export := hostile(t, map[string]http.HandlerFunc{"/v1/export": h})
			realExport = export
			sum, err := verifyURL(newClient(base, token, testLimits), "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Entries != 21 {
				t.Fatalf("replayed %d entries", sum.Entries)
			}
			if n := tail.Load(); n >= 500 { // 1 s of tail (testLimits.small) is about 50
				t.Fatalf("verify read %d bytes of a dripping tail", n)
			}
		})
	}
}

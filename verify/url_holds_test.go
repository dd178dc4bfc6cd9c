package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// serveHolds serves the fixture's ledger with a hold in every status at its checkpoint
// (25 entries): 14 settled, 16 open (HOURS 1.00 for 60 s), 22 voided, 24 expired (entry
// 25 came a µs before its expiry, so nothing can close it since) and 25 open (POINTS 1 for
// an hour).
// The server's clock is t0 until the test moves it. Before the export is served (after
// verify fetched the checkpoint), since runs, when set, with the ledger and the clock:
// what it writes lies past the replayed point. Answers to the paths of rewrite are
// rewritten as serve does, and before (when set) may change a request.
func serveHolds(t *testing.T, rewrite map[string]func([]byte) []byte, before func(r *http.Request),
	since func(l *store.Ledger, clock *atomic.Int64)) (string, string, string) {
	t.Helper()
	return serveHoldsGap(t, time.Microsecond, rewrite, before, since)
}

// serveHoldsGap is serveHolds with entry 25 gap before hold 24 expires.
func serveHoldsGap(t *testing.T, gap time.Duration, rewrite map[string]func([]byte) []byte, before func(r *http.Request),
	since func(l *store.Ledger, clock *atomic.Int64)) (string, string, string) {
	t.Helper()
	dir, _, _, vkey := fixture(t)
	var clock atomic.Int64 // UnixMicro
	clock.Store(t0.UnixMicro())
	now := func() time.Time { return time.UnixMicro(clock.Load()).UTC() }
	l, err := store.Open(dir, store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	n := 0
	do := func(p ledger.Principal, b ledger.Body) *ledger.Entry {
		n++
		e, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: fmt.Sprint("h", n), Body: b})
		if err != nil {
			t.Fatalf("%T: %v", b, err)
		}
		return e
	}
	if h := do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "POINTS", Amount: "1"}); h.Seq != 22 {
		t.Fatalf("the voided hold is entry %d, want 22", h.Seq)
	}
	do(o1, &ledger.VoidBody{HoldID: 22})
	h24 := do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "POINTS", Amount: "1", TTLSeconds: 1})
	// Entry 25 a µs before hold 24 expires: the next entry's time, the earliest a settle or
	// a void could carry, is its expiry (the boundary; found by mutation testing).
	clock.Store(h24.TimeMicros + time.Second.Microseconds() - gap.Microseconds())
	do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "POINTS", Amount: "1", TTLSeconds: 3600})
	const token = "tb_test_admin"
	if err := l.EnsureAdminToken(token); err != nil {
		t.Fatal(err)
	}
	h := api.New(l, api.Options{Logger: slog.New(slog.DiscardHandler), Now: now}).Handler()
	return tampering(t, h, rewrite, func(r *http.Request) {
		if since != nil && r.URL.Path == "/v1/export" {
			since(l, &clock)
		}
		if before != nil {
			before(r)
		}
	}), token, vkey
}

// TestURLVerifyComparesHolds: an honest server with a hold in every status passes, and the
// summary says the holds were compared. So does one where, after the checkpoint, hold 25
// was settled and hold 16 expired on the server's clock: a hold open at the replayed point
// may since have closed, which is no difference.
func TestURLVerifyComparesHolds(t *testing.T) {
	var settled atomic.Bool
	for _, c := range []struct {
		name  string
		since func(l *store.Ledger, clock *atomic.Int64)
		want  []string
	}{
		{"quiet", nil, []string{"5 holds' resident, payee, asset, amount, expiry and status with the server's at tree size 25"}},
		{"closed since", func(l *store.Ledger, clock *atomic.Int64) {
			if settled.Swap(true) {
				return // once
			}
			if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: o1, IdempotencyKey: "settle-25",
				Body: &ledger.SettleBody{HoldID: 25, Amount: "1"}}); err != nil {
				t.Errorf("settling hold 25: %v", err)
			}
			clock.Add(time.Hour.Microseconds())
		}, []string{
			"3 holds' resident, payee, asset, amount, expiry and status with the server's at tree size 25",
			"2 holds open at tree size 25 and settled, voided or expired since: their terms",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, token, vkey := serveHolds(t, nil, nil, c.since)
			sum, err := URL(base, token, vkey, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Entries != 25 || sum.Holds != 5 {
				t.Fatalf("summary %+v", sum)
			}
			var out bytes.Buffer
			sum.Print(&out)
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the summary does not say %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestURLVerifyFindsMisreportedHold: every field of a hold's answer is compared with the
// replay, and the first hold that differs is named; a hold the log placed that the server
// does not know (404) is a difference too. These all used to pass: verify --url read no hold.
func TestURLVerifyFindsMisreportedHold(t *testing.T) {
	for _, c := range []struct {
		hold         string
		field, value string
		want         string
	}{
		{"16", "resident", "resident:bob", `hold 16: the server shows resident "resident:bob"`},
		{"16", "payee", "station:s1", `hold 16: the server shows payee "station:s1"`},
		{"16", "asset", "POINTS", `hold 16: the server shows asset "POINTS"`},
		{"16", "amount", "2.00", `hold 16: the server shows amount "2.00"`},
		{"16", "expires_at", "2026-11-29T02:01:01Z", `hold 16: the server shows expires_at "2026-11-29T02:01:01Z"`},
		{"16", "hold_id", "17", `hold 16: the server shows hold_id 17`},
		{"16", "status", "settled", `hold 16: the server shows status "settled", but it was open at tree size 25 and its resident resident:alice has no entry since`},
		{"16", "status", "voided", `hold 16: the server shows status "voided", but it was open at tree size 25 and its resident resident:alice has no entry since`},
		{"16", "status", "expired", ""}, // on the server's clock, which verify cannot see: taken as it is
		{"16", "status", "pending", `hold 16: the server shows status "pending"`},
		{"14", "status", "voided", `hold 14: the server shows status "voided", but replaying the log gives "settled"`},
		{"14", "status", "open", `hold 14: the server shows status "open", but replaying the log gives "settled"`},
		{"22", "status", "expired", `hold 22: the server shows status "expired", but replaying the log gives "voided"`},
		{"24", "status", "open", `hold 24: the server shows status "open", but replaying the log gives "expired"`},
		{"25", "status", "open", ""}, // the truth: a control
	} {
		t.Run(c.hold+" "+c.field+" "+c.value, func(t *testing.T) {
			path := "/v1/holds/" + c.hold
			base, token, vkey := serveHolds(t, map[string]func([]byte) []byte{
				path: func(b []byte) []byte {
					var h map[string]any
					if err := json.Unmarshal(b, &h); err != nil {
						t.Errorf("hold %s's answer: %v: %s", c.hold, err, b)
						return b
					}
					if c.field == "hold_id" {
						h[c.field] = 17
					} else {
						h[c.field] = c.value
					}
					out, _ := json.Marshal(h)
					return out
				},
			}, nil, nil)
			_, err := URL(base, token, vkey, nil)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no difference", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if _, unreadable := err.(*SourceError); unreadable {
				t.Fatalf("got a SourceError (exit 3), want a difference (exit 1): %v", err)
			}
		})
	}
	t.Run("404", func(t *testing.T) {
		base, token, vkey := serveHolds(t, nil, func(r *http.Request) {
			if r.URL.Path == "/v1/holds/22" {
				r.URL.Path, r.URL.RawPath = "/v1/holds/999999", ""
			}
		}, nil)
		_, err := URL(base, token, vkey, nil)
		if err == nil || !strings.Contains(err.Error(), "hold 22 was placed by entry 22 of the log, but the server does not know it") {
			t.Fatalf("got %v, want hold 22 named as unknown to the server", err)
		}
		if _, unreadable := err.(*SourceError); unreadable {
			t.Fatalf("got a SourceError (exit 3), want a difference (exit 1): %v", err)
		}
	})
}

// TestURLVerifyHoldOpenJustPastTheCheckpoint: a hold that expires 2 µs after the last
// replayed entry was still open at the earliest time an entry after it could carry (1 µs
// later): the server showing it open is no difference. Judging its status 2 µs later, a
// µs too late, took it for expired (found by mutation testing).
func TestURLVerifyHoldOpenJustPastTheCheckpoint(t *testing.T) {
	base, token, vkey := serveHoldsGap(t, 2*time.Microsecond, nil, nil, nil)
	sum, err := URL(base, token, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if want := "5 holds' resident, payee, asset, amount, expiry and status with the server's at tree size 25"; !strings.Contains(out.String(), want) {
		t.Errorf("the summary does not say %q:\n%s", want, out.String())
	}
}

// TestURLVerifyOneHoldClosedSince: one hold open at the checkpoint and expired since on the
// server's clock is counted in the summary too (found by mutation testing: a summary that
// named only two or more passed).
func TestURLVerifyOneHoldClosedSince(t *testing.T) {
	base, token, vkey := serveHolds(t, nil, nil, func(_ *store.Ledger, clock *atomic.Int64) {
		clock.Add(2 * time.Minute.Microseconds()) // hold 16 (60 s) expires, hold 25 (an hour) not
	})
	sum, err := URL(base, token, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.Print(&out)
	for _, want := range []string{
		"4 holds' resident, payee, asset, amount, expiry and status with the server's at tree size 25",
		"1 holds open at tree size 25 and settled, voided or expired since",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary does not say %q:\n%s", want, out.String())
		}
	}
}

// TestURLVerifyClosedHoldNeedsItsResidentsEntry: a hold open at the checkpoint and shown
// voided since needs an entry of its resident since; one of its payee's alone (the outlet
// frozen) does not close it (found by mutation testing).
func TestURLVerifyClosedHoldNeedsItsResidentsEntry(t *testing.T) {
	var frozen atomic.Bool
	base, token, vkey := serveHolds(t, map[string]func([]byte) []byte{
		"/v1/holds/16": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"status":"open"`), []byte(`"status":"voided"`), 1)
		},
	}, nil, func(l *store.Ledger, _ *atomic.Int64) {
		if frozen.Swap(true) {
			return
		}
		if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: admin, IdempotencyKey: "freeze-o1",
			Body: &ledger.FreezeBody{Account: "outlet:o1", Reason: "audit"}}); err != nil {
			t.Errorf("freezing outlet:o1: %v", err)
		}
	})
	_, err := URL(base, token, vkey, nil)
	const want = `hold 16: the server shows status "voided", but it was open at tree size 25 and its resident resident:alice has no entry since`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestURLVerifyUnreadableHold: a hold's answer that is an error status or not JSON is a
// server that cannot be read (a SourceError, exit 3) named by what went wrong, not a
// difference (found by mutation testing).
func TestURLVerifyUnreadableHold(t *testing.T) {
	t.Run("400", func(t *testing.T) {
		base, token, vkey := serveHolds(t, nil, func(r *http.Request) {
			if r.URL.Path == "/v1/holds/22" {
				r.URL.Path, r.URL.RawPath = "/v1/holds/x", ""
			}
		}, nil)
		_, err := URL(base, token, vkey, nil)
		if _, unreadable := err.(*SourceError); !unreadable || !strings.Contains(err.Error(), "GET /v1/holds/22: 400") {
			t.Fatalf("got %v, want a SourceError naming the 400 of GET /v1/holds/22", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		base, token, vkey := serveHolds(t, map[string]func([]byte) []byte{
			"/v1/holds/16": func([]byte) []byte { return []byte("<html>sign in</html>") },
		}, nil, nil)
		_, err := URL(base, token, vkey, nil)
		if _, unreadable := err.(*SourceError); !unreadable || !strings.Contains(err.Error(), "hold 16: the server's answer") {
			t.Fatalf("got %v, want a SourceError naming hold 16's answer", err)
		}
	})
}

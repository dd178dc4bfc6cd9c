package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
)

// specStatus is SPEC §7's table, written out again so that the code's table is checked
// against the document, not against itself.
var specStatus = map[int]string{
	400: "malformed_json unknown_field invalid_field invalid_amount invalid_account invalid_time invalid_policy missing_idempotency_key",
	401: "unauthenticated",
	403: "forbidden",
	404: "not_found",
	409: "account_exists already_reversed hold_not_open request_in_progress",
	413: "body_too_large",
	415: "unsupported_media_type",
	422: "insufficient_balance balance_cap_exceeded entry_cap_exceeded daily_cap_exceeded duration_exceeded overlapping_session " +
		"backdate_window_exceeded future_time unknown_account account_frozen invalid_payee transfer_not_allowed " +
		"conversion_disabled inexact_conversion hold_expired settle_exceeds_hold not_reversible reversal_window_passed idempotency_key_reused",
	429: "rate_limited",
	503: "unavailable",
	500: "internal",
}

func TestStatusTableCoversEveryCode(t *testing.T) {
	want := map[ledger.Code]int{}
	for status, codes := range specStatus {
		for _, c := range strings.Fields(codes) {
			want[ledger.Code(c)] = status
		}
	}
	if len(want) != len(ledger.Codes) {
		t.Errorf("SPEC §7 lists %d codes, ledger.Codes %d", len(want), len(ledger.Codes))
	}
	for _, c := range ledger.Codes {
		if got := api.StatusOf(c); got != want[c] {
			t.Errorf("%s: status %d, SPEC says %d", c, got, want[c])
		}
	}
}

// policyWith returns the policy in force as JSON with one replacement applied.
func (e *env) policyWith(old, new string) string {
	e.t.Helper()
	p := string(e.must(e.do("GET", "/v1/policy", "admin", ""), 200).Body)
	if !strings.Contains(p, old) {
		e.t.Fatalf("policy has no %s: %s", old, p)
	}
	return strings.Replace(p, old, new, 1)
}

func (e *env) hold(who, payee, asset, amount string, ttl int) uint64 {
	e.t.Helper()
	r := e.must(e.write("POST", "/v1/holds", who, fmt.Sprintf(`{"payee":%q,"asset":%q,"amount":%q,"ttl_seconds":%d}`, payee, asset, amount, ttl)), 201)
	var h struct {
		HoldID uint64 `json:"hold_id"`
	}
	r.decode(&h)
	return h.HoldID
}

// TestEveryErrorCode reaches each code of SPEC §7 over HTTP, each on a fresh ledger.
func TestEveryErrorCode(t *testing.T) {
	h := time.Hour
	cases := []struct {
		code string
		opts envOptions
		run  func(e *env) *resp
	}{
		{"malformed_json", envOptions{}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "admin", `{"id":`) }},
		{"unknown_field", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:x1","extra":1}`)
		}},
		{"invalid_field", envOptions{}, func(e *env) *resp { return e.do("GET", "/v1/entries?limit=501", "admin", "") }},
		{"invalid_amount", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"1e3"}`)
		}},
		{"invalid_account", envOptions{}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:Bad"}`) }},
		{"invalid_time", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/credits", "station", `{"volunteer":"resident:r01","hours":"1","activity":{"id":"a","category":"elderly-care","started_at":"yesterday","ended_at":"2026-03-02T10:00:00+08:00"}}`)
		}},
		{"invalid_policy", envOptions{}, func(e *env) *resp {
			return e.write("PUT", "/v1/policy", "admin", e.policyWith(`"Asia/Shanghai"`, `"Mars/Olympus"`))
		}},
		{"missing_idempotency_key", envOptions{}, func(e *env) *resp {
			return e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`)
		}},
		{"unauthenticated", envOptions{}, func(e *env) *resp { return e.do("GET", "/v1/policy", "raw:Bearer nope", "") }},
		{"forbidden", envOptions{}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "auditor", `{"id":"resident:x1"}`) }},
		{"not_found", envOptions{}, func(e *env) *resp { return e.do("GET", "/v1/accounts/resident:ghost", "admin", "") }},
		{"account_exists", envOptions{}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:r01"}`) }},
		{"already_reversed", envOptions{}, func(e *env) *resp {
			seq := e.must(e.credit("station", "resident:r01", "2", h, 2*h), 201).seqOf()
			body := fmt.Sprintf(`{"seq":%d,"reason":"typed the wrong volunteer"}`, seq)
			e.must(e.write("POST", "/v1/reversals", "admin", body), 201)
			return e.write("POST", "/v1/reversals", "admin", body)
		}},
		{"hold_not_open", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			id := e.hold("resident", "station:s01", "HOURS", "1.00", 0)
			e.must(e.write("POST", fmt.Sprintf("/v1/holds/%d/void", id), "resident", `{}`), 201)
			return e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "station", `{"amount":"1.00"}`)
		}},
		{"request_in_progress", envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s}
		}}, func(e *env) *resp {
			f := e.srv.Service().(*failing)
			entered, release := make(chan struct{}), make(chan struct{})
			f.entered, f.release = entered, release // armed after seeding
			done := make(chan *resp)
			go func() {
				done <- e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Idempotency-Key", "same")
			}()
			<-entered
			r := e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Idempotency-Key", "same")
			close(release)
			e.must(<-done, 201)
			return r
		}},
		{"body_too_large", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:x1","pad":"`+strings.Repeat("x", 70<<10)+`"}`)
		}},
		{"unsupported_media_type", envOptions{}, func(e *env) *resp {
			return e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Content-Type", "text/plain", "Idempotency-Key", "k")
		}},
		{"insufficient_balance", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"10"}`)
		}},
		{"balance_cap_exceeded", envOptions{}, func(e *env) *resp {
			e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`"upper":"1500"`, `"upper":"5"`)), 201)
			return e.credit("station", "resident:r01", "6", h, 6*h)
		}},
		{"entry_cap_exceeded", envOptions{}, func(e *env) *resp { return e.credit("station", "resident:r01", "13", h, 14*h) }},
		{"daily_cap_exceeded", envOptions{}, func(e *env) *resp {
			// Both sessions start on 2026-03-01 in Shanghai (UTC+8): 8 + 8 hours > 12.
			day := time.Date(2026, 2, 28, 17, 0, 0, 0, time.UTC)
			e.must(e.write("POST", "/v1/credits", "station", e.creditBody("resident:r01", "8", day, day.Add(8*h))), 201)
			return e.write("POST", "/v1/credits", "station", e.creditBody("resident:r01", "8", day.Add(9*h), day.Add(17*h)))
		}},
		{"duration_exceeded", envOptions{}, func(e *env) *resp { return e.credit("station", "resident:r01", "3", h, 2*h) }},
		{"overlapping_session", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "2", 3*h, 2*h), 201)
			return e.credit("station2", "resident:r01", "1", 2*h, 2*h)
		}},
		{"backdate_window_exceeded", envOptions{}, func(e *env) *resp { return e.credit("station", "resident:r01", "2", 40*24*h, 2*h) }},
		{"future_time", envOptions{}, func(e *env) *resp { return e.credit("station", "resident:r01", "2", -h, 2*h) }},
		{"unknown_account", envOptions{}, func(e *env) *resp { return e.credit("station", "resident:ghost", "2", h, 2*h) }},
		{"account_frozen", envOptions{}, func(e *env) *resp {
			e.must(e.write("POST", "/v1/accounts/resident:r01/freeze", "admin", `{"reason":"card lost"}`), 201)
			return e.credit("station", "resident:r01", "2", h, 2*h)
		}},
		{"invalid_payee", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			return e.write("POST", "/v1/redemptions", "resident", `{"payee":"resident:r02","asset":"HOURS","amount":"1"}`)
		}},
		{"transfer_not_allowed", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			return e.write("POST", "/v1/transfers", "resident", `{"to":"resident:r02","asset":"POINTS","amount":"5"}`)
		}},
		{"conversion_disabled", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`"convert":{"points_per_hour":"10"}`, `"convert":{"points_per_hour":"0"}`)), 201)
			return e.write("POST", "/v1/conversions", "resident", `{"hours":"1"}`)
		}},
		{"inexact_conversion", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			return e.write("POST", "/v1/conversions", "resident", `{"hours":"0.05"}`)
		}},
		{"hold_expired", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			id := e.hold("resident", "station:s01", "HOURS", "1.00", 60)
			e.clk.Advance(2 * time.Minute)
			return e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "station", `{"amount":"1.00"}`)
		}},
		{"settle_exceeds_hold", envOptions{}, func(e *env) *resp {
			e.must(e.credit("station", "resident:r01", "3", h, 3*h), 201)
			id := e.hold("resident", "station:s01", "HOURS", "1.00", 0)
			return e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "station", `{"amount":"2.00"}`)
		}},
		{"not_reversible", envOptions{}, func(e *env) *resp {
			return e.write("POST", "/v1/reversals", "admin", `{"seq":2,"reason":"an open cannot be reversed"}`)
		}},
		{"reversal_window_passed", envOptions{}, func(e *env) *resp {
			seq := e.must(e.credit("station", "resident:r01", "2", h, 2*h), 201).seqOf()
			e.clk.Advance(8 * 24 * h)
			return e.write("POST", "/v1/reversals", "station", fmt.Sprintf(`{"seq":%d,"reason":"late"}`, seq))
		}},
		{"idempotency_key_reused", envOptions{}, func(e *env) *resp {
			e.must(e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`, "Idempotency-Key", "k1"), 201)
			return e.do("POST", "/v1/accounts", "admin", `{"id":"resident:x2"}`, "Idempotency-Key", "k1")
		}},
		{"rate_limited", envOptions{options: api.Options{RateLimit: 1, RateBurst: 1}, noSeed: true}, func(e *env) *resp {
			e.must(e.do("GET", "/v1/policy", "admin", ""), 200)
			return e.do("GET", "/v1/policy", "admin", "")
		}},
		{"unavailable", envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s, healthErr: errors.New("disk full")}
		}}, func(e *env) *resp { return e.do("GET", "/healthz", "", "") }},
		{"internal", envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s, submitErr: errors.New("disk on fire at /var/lib/secret")}
		}, noSeed: true}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`) }},
		// A catalogue error coded internal is answered as any other internal error: its
		// message is for the log, never the client.
		{"internal", envOptions{wrap: func(s ledger.Service) ledger.Service {
			return &failing{Service: s, submitErr: &ledger.Error{Code: ledger.CodeInternal, Message: "disk on fire at /var/lib/secret"}}
		}, noSeed: true}, func(e *env) *resp { return e.write("POST", "/v1/accounts", "admin", `{"id":"resident:x1"}`) }},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.code] = true
		t.Run(c.code, func(t *testing.T) {
			e := newEnv(t, c.opts)
			r := c.run(e)
			if r.code() != c.code || r.Status != api.StatusOf(ledger.Code(c.code)) {
				t.Fatalf("want %d %s, got %s", api.StatusOf(ledger.Code(c.code)), c.code, r)
			}
			var body struct {
				Error struct {
					Message string
					Details map[string]any
				}
			}
			r.decode(&body)
			if body.Error.Message == "" || body.Error.Details == nil {
				t.Errorf("error answer lacks message or details: %s", r.Body)
			}
			if c.code == "internal" && (strings.Contains(string(r.Body), "disk") || body.Error.Details["request_id"] != r.Header.Get("X-Request-Id")) {
				t.Errorf("internal error shows internals or lacks the request id: %s", r.Body)
			}
		})
	}
	for _, c := range ledger.Codes {
		if !seen[string(c)] {
			t.Errorf("no test reaches %s over HTTP", c)
		}
	}
}

// TestRateLimitRetryAfter: a 429 says in Retry-After how many whole seconds the limiter
// takes to allow one more request; the answers it lets through do not carry the header.
func TestRateLimitRetryAfter(t *testing.T) {
	for perSecond, want := range map[float64]string{0.1: "10", 0.4: "3", 1: "1", 2: "1"} {
		e := newEnv(t, envOptions{options: api.Options{RateLimit: perSecond, RateBurst: 1}, noSeed: true})
		if r := e.must(e.do("GET", "/v1/policy", "admin", ""), 200); r.Header.Get("Retry-After") != "" {
			t.Errorf("rate %v: a 200 carries Retry-After %q", perSecond, r.Header.Get("Retry-After"))
		}
		r := e.must(e.do("GET", "/v1/policy", "admin", ""), 429)
		if got := r.Header.Get("Retry-After"); got != want {
			t.Errorf("rate %v per second: Retry-After %q, want %q", perSecond, got, want)
		}
	}
}

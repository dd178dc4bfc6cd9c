package api_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
)

// TestSecretsStayOutOfLogs: a token's secret sent where its id belongs (DELETE
// /v1/tokens/SECRET, an easy slip after token create prints both) is refused, revokes
// nothing, and is not written to the log; a token's secret is answered with no-store.
func TestSecretsStayOutOfLogs(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{options: api.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}})
	r := e.must(e.write("POST", "/v1/tokens", "admin", `{"role":"auditor","label":"office"}`), 201)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("token create: Cache-Control %q, want no-store", got)
	}
	var tok struct{ ID, Token string }
	r.decode(&tok)
	r = e.do("DELETE", "/v1/tokens/"+tok.Token, "admin", "")
	if r.code() != "invalid_field" || !strings.Contains(string(r.Body), "secret, not its id") {
		t.Fatalf("DELETE by secret: %s", r)
	}
	// The same slip with a character escaped (%74 is "t") is the same secret in the URL.
	r = e.do("DELETE", "/v1/tokens/%74"+tok.Token[1:], "admin", "")
	if r.code() != "invalid_field" || !strings.Contains(string(r.Body), "secret, not its id") {
		t.Fatalf("DELETE by an escaped secret: %s", r)
	}
	e.must(e.do("GET", "/v1/policy", "raw:Bearer "+tok.Token, ""), 200) // still live
	if strings.Contains(logs.String(), tok.Token[1:]) {
		t.Fatalf("the log holds the escaped secret:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), tok.Token) || !strings.Contains(logs.String(), "tb_[redacted]") {
		t.Fatalf("the log holds the secret, or no redacted path:\n%s", logs.String())
	}
	e.must(e.do("DELETE", "/v1/tokens/"+tok.ID, "admin", ""), 204)
}

// TestUnauthorizedSaysHow: a 401 names the scheme it wants (RFC 6750).
func TestUnauthorizedSaysHow(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/policy", "", "")
	if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without WWW-Authenticate: Bearer: %d %v", r.Status, r.Header)
	}
}

// panicky panics when an account is read.
type panicky struct{ ledger.Service }

func (panicky) Account(ledger.AccountID) (*ledger.Account, error) { panic("injected panic") }

// TestPanicIsLoggedWithItsRequest: a handler's panic answers a plain 500 naming the request
// id, and the server's own log has the panic and its stack under that id.
func TestPanicIsLoggedWithItsRequest(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{noSeed: true, wrap: func(s ledger.Service) ledger.Service { return panicky{s} },
		options: api.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}})
	r := e.do("GET", "/v1/accounts/resident:r01", "admin", "")
	if r.Status != 500 || r.code() != "internal" || strings.Contains(string(r.Body), "injected") {
		t.Fatalf("panic answered %s", r)
	}
	var body struct {
		Error struct {
			Details struct {
				RequestID string `json:"request_id"`
			}
		}
	}
	r.decode(&body)
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"panic"`) && strings.Contains(line, body.Error.Details.RequestID) &&
			strings.Contains(line, "injected panic") && strings.Contains(line, "goroutine") {
			found = true
		}
	}
	if body.Error.Details.RequestID == "" || !found {
		t.Fatalf("no panic line with request id %q and a stack in the log:\n%s", body.Error.Details.RequestID, logs.String())
	}
}

// TestForwardedForIsNotTrusted: the rate limiter and the log take the client's address from
// the TCP peer, never from X-Forwarded-For or X-Real-IP, which any client can write: a
// client changing them at each request is still one address, limited as one.
func TestForwardedForIsNotTrusted(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{noSeed: true, options: api.Options{RateLimit: 0.001, RateBurst: 1,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}})
	e.must(e.do("GET", "/v1/policy", "admin", "", "X-Forwarded-For", "203.0.113.1", "X-Real-IP", "203.0.113.1"), 200)
	e.must(e.do("GET", "/v1/policy", "admin", "", "X-Forwarded-For", "203.0.113.2", "X-Real-IP", "203.0.113.2"), 429)
	if strings.Contains(logs.String(), "203.0.113.") || !strings.Contains(logs.String(), `"remote_ip":"192.0.2.1"`) {
		t.Fatalf("the log took a forwarded address for the client's:\n%s", logs.String())
	}
}

package api_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/timebank/timebank/ledger"
)

// parking holds the next Submit after arm, between the request's authentication and the
// sequencer, as a long queue or a slow commit ahead of it would.
type parking struct {
	ledger.Service
	armed            atomic.Bool
	entered, release chan struct{}
}

func (p *parking) Submit(ctx context.Context, req ledger.Request) (*ledger.Entry, bool, error) {
	if p.armed.CompareAndSwap(true, false) {
		close(p.entered)
		<-p.release
	}
	return p.Service.Submit(ctx, req)
}

// TestRevokeAtOnceForWritesInFlight: a write whose token is revoked (204) while it waits for
// the sequencer is refused with 401, not committed under the revoked token afterwards.
func TestRevokeAtOnceForWritesInFlight(t *testing.T) {
	park := &parking{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service { park.Service = s; return park }})
	var tok struct{ ID, Token string }
	e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"admin","label":"leaked"}`), http.StatusCreated).decode(&tok)
	e.tok["leaked"] = tok.Token
	size := e.led.TreeSize()
	park.armed.Store(true)
	done := make(chan *resp, 1)
	go func() { done <- e.write("POST", "/v1/accounts", "leaked", `{"id":"resident:late"}`) }()
	<-park.entered // authenticated, not yet handed to the store
	e.must(e.do("DELETE", "/v1/tokens/"+tok.ID, "admin", ""), http.StatusNoContent)
	close(park.release)
	r := <-done
	if r.Status != http.StatusUnauthorized || r.code() != "unauthenticated" {
		t.Errorf("a write by a token revoked while it was in flight: %s; want 401 unauthenticated", r)
	}
	if got := e.led.TreeSize(); got != size {
		t.Errorf("tree grew by %d entries after the token was revoked", got-size)
	}
}

// parkedAuth holds a request authenticated with secret, armed once, right after its
// authentication, as a request waiting for the token index behind a revocation would be.
type parkedAuth struct {
	ledger.Service
	secret           string
	armed            atomic.Bool
	entered, release chan struct{}
}

func (p *parkedAuth) Authenticate(secret string) (ledger.Principal, bool) {
	pr, ok := p.Service.Authenticate(secret)
	if secret == p.secret && p.armed.CompareAndSwap(true, false) {
		close(p.entered)
		<-p.release
	}
	return pr, ok
}

// TestRevokeAtOnceForTokenChangesInFlight: a token change (create, revoke) sent with a token
// that is revoked (204) while the change waits is refused with 401, as an entry is: a leaked
// admin token racing its revocation must not mint a new admin token, nor revoke others,
// after DELETE /v1/tokens/{id} answered.
func TestRevokeAtOnceForTokenChangesInFlight(t *testing.T) {
	for _, c := range []struct {
		name         string
		method, path string
		body         string
	}{
		{"create", "POST", "/v1/tokens", `{"role":"admin","label":"minted"}`},
		{"revoke", "DELETE", "/v1/tokens/", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			park := &parkedAuth{entered: make(chan struct{}), release: make(chan struct{})}
			e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service { park.Service = s; return park }})
			var leaked, other struct{ ID, Token string }
			e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"admin","label":"leaked"}`), http.StatusCreated).decode(&leaked)
			e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"auditor","label":"other"}`), http.StatusCreated).decode(&other)
			e.tok["leaked"] = leaked.Token
			path := c.path
			if c.method == "DELETE" {
				path += other.ID
			}
			park.secret = leaked.Token
			park.armed.Store(true)
			done := make(chan *resp, 1)
			go func() { done <- e.do(c.method, path, "leaked", c.body) }()
			<-park.entered // authenticated, the change not yet made
			e.must(e.do("DELETE", "/v1/tokens/"+leaked.ID, "admin", ""), http.StatusNoContent)
			close(park.release)
			if r := <-done; r.Status != http.StatusUnauthorized || r.code() != "unauthenticated" {
				t.Errorf("a token %s by a token revoked while it was in flight: %s; want 401 unauthenticated", c.name, r)
			}
			var list struct{ Tokens []struct{ ID, Label string } }
			e.must(e.do("GET", "/v1/tokens", "admin", ""), http.StatusOK).decode(&list)
			live := map[string]bool{}
			for _, tok := range list.Tokens {
				live[tok.Label] = true
			}
			if live["minted"] || !live["other"] || live["leaked"] {
				t.Errorf("live tokens after the revocation: %v; want other, not minted nor leaked", list.Tokens)
			}
		})
	}
}

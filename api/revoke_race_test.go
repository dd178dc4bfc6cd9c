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

package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

// TestRevokeStopsQueuedWrites: a write authenticated just before its token is revoked, and
// still waiting for the sequencer when RevokeToken returns, must not be committed afterwards
// under the revoked token (SPEC §3: DELETE /v1/tokens/{id} revokes at once). The sequencer
// is held between two batches (OnCommit) so that the write waits in the queue while the
// revocation commits.
func TestRevokeStopsQueuedWrites(t *testing.T) {
	var hold atomic.Bool
	parked, release := make(chan struct{}), make(chan struct{})
	l, _ := openTest(t, Options{OnCommit: func(int, time.Duration) {
		if hold.CompareAndSwap(true, false) {
			close(parked)
			<-release
		}
	}})
	tok, secret, err := l.CreateToken(ledger.RoleAdmin, "", "leaked")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := l.Authenticate(secret)
	if !ok {
		t.Fatal("a new token does not authenticate")
	}
	hold.Store(true)
	go submit(l, admin, &ledger.OpenBody{ID: "resident:first"})
	<-parked // the sequencer is between batches, outside any transaction
	type answer struct {
		e   *ledger.Entry
		err error
	}
	done := make(chan answer, 1)
	go func() {
		e, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: "late", Body: &ledger.OpenBody{ID: "resident:late"}})
		done <- answer{e, err}
	}()
	for len(l.queue) == 0 { // the write is authenticated and queued
		time.Sleep(time.Millisecond)
	}
	if err := l.RevokeToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	close(release)
	a := <-done
	if a.err == nil {
		t.Fatalf("entry %d (%s) was committed by token %s after RevokeToken returned", a.e.Seq, a.e.Actor, tok.ID)
	}
	wantCode(t, a.err, ledger.CodeUnauthenticated)
	if acc, _ := l.Account("resident:late"); acc != nil {
		t.Fatal("the revoked token's account was opened")
	}
}

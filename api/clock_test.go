package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestReadsJudgeHoldsAsTheNextWriteWould: the wall clock steps back (an NTP correction, a
// host restored from a snapshot) after an entry was written at a later time. The next
// entry's time is then max(now, last + 1 µs), so a settle is judged after the hold's
// expires_at and refused 422 hold_expired; reads judged by the wall clock alone and showed
// the hold open again, and counted it in held (an expired hold came back to life in every
// read until the clock caught up). SPEC §3: an expired hold no longer counts in held, a
// settle answers hold_expired, GET /v1/holds/{id} shows expired: the three must agree.
func TestReadsJudgeHoldsAsTheNextWriteWould(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "2", time.Hour, 2*time.Hour), http.StatusCreated)
	id := e.must(e.write("POST", "/v1/holds", "resident", `{"payee":"outlet:o01","asset":"HOURS","amount":"1","ttl_seconds":60}`),
		http.StatusCreated).seqOf()
	e.clk.Advance(2 * time.Minute) // the hold expires; an entry is written after it
	e.must(e.write("POST", "/v1/accounts", "admin", `{"id":"resident:r09"}`), http.StatusCreated)
	e.clk.Advance(-90 * time.Second) // the clock steps back 90 s: behind the hold's expiry, within MaxClockSkew

	var hold struct{ Status string }
	e.must(e.do("GET", fmt.Sprintf("/v1/holds/%d", id), "resident", ""), http.StatusOK).decode(&hold)
	var acct struct {
		Balances map[string]struct{ Held, Available string }
	}
	e.must(e.do("GET", "/v1/accounts/resident:r01", "resident", ""), http.StatusOK).decode(&acct)
	settle := e.write("POST", fmt.Sprintf("/v1/holds/%d/settle", id), "outlet", `{"amount":"1"}`)
	if settle.Status != http.StatusUnprocessableEntity || settle.code() != "hold_expired" {
		t.Fatalf("settle: %s, want 422 hold_expired", settle)
	}
	if hold.Status != "expired" || acct.Balances["HOURS"].Held != "0.00" || acct.Balances["HOURS"].Available != "2.00" {
		t.Fatalf("a settle is refused hold_expired, but reads show the hold %s, held %s, available %s",
			hold.Status, acct.Balances["HOURS"].Held, acct.Balances["HOURS"].Available)
	}
}

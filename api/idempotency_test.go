package api_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
)

func TestIdempotentReplay(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	body := `{"payee":"outlet:o01","asset":"POINTS","amount":"5","memo":"tea"}`
	first := e.must(e.do("POST", "/v1/redemptions", "resident", body, "Idempotency-Key", "r-1"), 201)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first answer marked as replay")
	}
	size := e.led.TreeSize()
	// Same JSON value, other whitespace and key order: a replay.
	again := e.must(e.do("POST", "/v1/redemptions", "resident", "{ \"memo\":\"tea\", \"amount\":\"5\",\n \"asset\":\"POINTS\",\"payee\":\"outlet:o01\" }", "Idempotency-Key", "r-1"), 200)
	if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) {
		t.Errorf("replay: header %q, body %s, want the original %s", again.Header.Get("Idempotent-Replayed"), again.Body, first.Body)
	}
	// Same key, other body: 422.
	if r := e.do("POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"POINTS","amount":"6"}`, "Idempotency-Key", "r-1"); r.code() != "idempotency_key_reused" {
		t.Errorf("reused key: want idempotency_key_reused, got %s", r)
	}
	// Keys belong to their principal: another resident's r-1 is a new request.
	e.must(e.credit("station", "resident:r02", "3", ledgerHours(5), ledgerHours(3)), 201)
	e.must(e.do("POST", "/v1/redemptions", "resident2", body, "Idempotency-Key", "r-1"), 201)
	if got := e.led.TreeSize(); got != size+2 {
		t.Errorf("tree grew by %d entries, want 2 (credit and the other resident's redemption)", got-size)
	}
}

func TestRejectedRequestLeavesKeyFree(t *testing.T) {
	e := newEnv(t)
	body := `{"payee":"outlet:o01","asset":"POINTS","amount":"5"}`
	size := e.led.TreeSize()
	if r := e.do("POST", "/v1/redemptions", "resident", body, "Idempotency-Key", "k"); r.code() != "insufficient_balance" {
		t.Fatalf("want insufficient_balance, got %s", r)
	}
	if e.led.TreeSize() != size {
		t.Fatalf("a rejected request left an entry")
	}
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	e.must(e.do("POST", "/v1/redemptions", "resident", body, "Idempotency-Key", "k"), 201)
}

// TestConcurrentDuplicates: many copies of one request at once make exactly one entry; the
// others get the replay or 409 request_in_progress.
func TestConcurrentDuplicates(t *testing.T) {
	e := newEnv(t)
	size := e.led.TreeSize()
	const n = 24
	answers := make([]*resp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.do("POST", "/v1/accounts", "admin", `{"id":"resident:twin"}`, "Idempotency-Key", "twin")
		}()
	}
	wg.Wait()
	created, seqs := 0, map[uint64]bool{}
	for _, r := range answers {
		switch {
		case r.Status == 201:
			created++
			seqs[r.seqOf()] = true
		case r.Status == 200 && r.Header.Get("Idempotent-Replayed") == "true":
			seqs[r.seqOf()] = true
		case r.Status == 409 && r.code() == "request_in_progress":
		default:
			t.Errorf("unexpected answer %s", r)
		}
	}
	if created != 1 || len(seqs) != 1 || e.led.TreeSize() != size+1 {
		t.Errorf("created %d, distinct seqs %d, tree grew by %d; want 1, 1, 1", created, len(seqs), e.led.TreeSize()-size)
	}
}

// TestReplayAfterPolicyChange: a client that retries a hold after the policy lowered
// hold.max_ttl_seconds gets its hold back (SPEC §3: the same key and body answer 200 and
// the original entry), not 400 invalid_field: the hold was made, its funds are reserved,
// and a 400 would tell the client it was not. The edge judged ttl_seconds against the
// policy in force before the key was looked up (found by TestModel).
func TestReplayAfterPolicyChange(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	body := `{"payee":"outlet:o01","asset":"HOURS","amount":"1","ttl_seconds":86400}`
	first := e.must(e.do("POST", "/v1/holds", "resident", body, "Idempotency-Key", "h-1"), 201)

	var pol map[string]any
	e.must(e.do("GET", "/v1/policy", "admin", ""), 200).decode(&pol)
	pol["hold"] = map[string]any{"default_ttl_seconds": 300, "max_ttl_seconds": 600}
	doc, _ := json.Marshal(pol)
	e.must(e.write("PUT", "/v1/policy", "admin", string(doc)), 201)

	again := e.do("POST", "/v1/holds", "resident", body, "Idempotency-Key", "h-1")
	if again.Status != 200 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("replay after the policy change: got %s, want 200 replaying %s", again, first.Body)
	}
	// A new hold over the new maximum is still refused.
	if r := e.write("POST", "/v1/holds", "resident", body); r.Status != 400 || r.code() != "invalid_field" {
		t.Fatalf("a new hold of 86400 s under a 600 s maximum: got %s, want 400 invalid_field", r)
	}
}

package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"pgregory.net/rapid"

	"github.com/timebank/timebank/verify"
)

// The reads of the model test: an account (SPEC §4: owner, admin, auditor; 404 for the
// rest, as if it did not exist) and a hold (its resident and payee, admin, auditor), each
// against the model; and at the end every account.

// wireAccount is GET /v1/accounts/{id}'s answer.
type wireAccount struct {
	ID, Kind, Status string
	Balances         map[string]struct{ Balance, Held, Available, Earned string }
}

// readers are the principals a read is drawn for.
var readers = []string{"admin", "auditor", "station", "station2", "outlet", "resident", "resident2", "resident3"}

// accountIDs are the model's accounts, sorted, and one that does not exist.
func (h *harness) accountIDs() []string {
	ids := []string{"resident:ghost"}
	for id := range h.m.accts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (h *harness) readAccount() {
	who := rapid.SampledFrom(readers).Draw(h.t, "who")
	id := rapid.SampledFrom(h.accountIDs()).Draw(h.t, "account")
	h.checkAccount(who, id)
}

// checkAccount reads account id as who and compares it with the model.
func (h *harness) checkAccount(who, id string) {
	r := h.e.do("GET", "/v1/accounts/"+id, who, "")
	a := h.m.accts[id]
	if !h.visibleOrNotFound(r, a != nil && (seesAll(who) || accountOf(who) == id), "GET "+id+" by "+who) {
		return
	}
	var got wireAccount
	r.decode(&got)
	now := h.m.nextTime(h.e.clk.Now()) // decision 0003: reads judge holds as the next entry would
	status := "active"
	if a.frozen {
		status = "frozen"
	}
	if got.ID != id || got.Kind != a.kind || got.Status != status {
		h.t.Fatalf("GET %s: got %s %s %s, want %s %s", id, got.ID, got.Kind, got.Status, a.kind, status)
	}
	for _, asset := range assets {
		s, held := scaleOf(asset), h.m.held(id, asset, now)
		want := [4]string{fmtMinor(a.bal[asset], s), fmtMinor(held, s), fmtMinor(a.bal[asset]-held, s), fmtMinor(a.earned[asset], s)}
		b := got.Balances[asset]
		if have := [4]string{b.Balance, b.Held, b.Available, b.Earned}; have != want {
			h.t.Fatalf("GET %s %s at %s: got balance, held, available, earned %v, want %v",
				id, asset, now.Format(time.RFC3339Nano), have, want)
		}
	}
}

// wireHold is GET /v1/holds/{id}'s answer.
type wireHold struct {
	HoldID                         uint64 `json:"hold_id"`
	Resident, Payee, Asset, Amount string
	Status                         string
	ExpiresAt                      time.Time `json:"expires_at"`
}

func (h *harness) readHold() {
	who := rapid.SampledFrom(readers).Draw(h.t, "who")
	id := h.drawHoldID()
	r := h.e.do("GET", "/v1/holds/"+strconv.FormatUint(id, 10), who, "")
	hd := h.m.holds[id]
	acct := accountOf(who)
	visible := hd != nil && (seesAll(who) || acct == hd.resident || acct == hd.payee)
	if !h.visibleOrNotFound(r, visible, fmt.Sprintf("GET hold %d by %s", id, who)) {
		return
	}
	var got wireHold
	r.decode(&got)
	now := h.m.nextTime(h.e.clk.Now())
	want := wireHold{id, hd.resident, hd.payee, hd.asset, fmtMinor(hd.amount, scaleOf(hd.asset)), hd.statusAt(now), hd.expires}
	if got.HoldID != want.HoldID || got.Resident != want.Resident || got.Payee != want.Payee || got.Asset != want.Asset ||
		got.Amount != want.Amount || got.Status != want.Status || !got.ExpiresAt.Equal(want.ExpiresAt) {
		h.t.Fatalf("GET hold %d at %s: got %+v, want %+v", id, now.Format(time.RFC3339Nano), got, want)
	}
}

// checkAll compares every account with the model, and the log's length with its seq.
func (h *harness) checkAll() {
	for _, id := range h.accountIDs() {
		h.checkAccount("admin", id)
	}
	if size := h.e.led.TreeSize(); size != h.m.seq {
		h.t.Fatalf("the log holds %d entries, the model %d", size, h.m.seq)
	}
	// timebank verify replays the same rules: the run's ledger must replay to its state.
	if err := h.e.led.Close(); err != nil {
		h.t.Fatal(err)
	}
	if _, err := verify.Data(h.dir, nil, "", nil); err != nil {
		h.t.Fatalf("verify --data after the run: %v", err)
	}
}

// seesAll reports whether who reads every account and hold (admin, auditor).
func seesAll(who string) bool { return roleOf(who) == "admin" || roleOf(who) == "auditor" }

// visibleOrNotFound checks that r is 200 when the object is visible to its reader, else
// 404 not_found exactly as a missing one (SPEC §2), and reports which it was.
func (h *harness) visibleOrNotFound(r *resp, visible bool, what string) bool {
	if !visible {
		if r.Status != http.StatusNotFound || r.code() != "not_found" {
			h.t.Fatalf("%s: got %s, want 404 not_found", what, r)
		}
		return false
	}
	if r.Status != http.StatusOK {
		h.t.Fatalf("%s: got %s, want 200", what, r)
	}
	return true
}

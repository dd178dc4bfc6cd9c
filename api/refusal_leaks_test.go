package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRefusalsHideOthersFigures: a refused write tells a resident or a station nothing of
// an account it may not read (SPEC §2: a resident reads its own account only, a station
// its own): not another resident's balance in balance_cap_exceeded, not a resident's
// available hours in the insufficient_balance of a station's reversal, not another
// station's credit in overlapping_session. The admin, who reads every account, still gets
// the figures.
func TestRefusalsHideOthersFigures(t *testing.T) {
	h := time.Hour
	e := newEnv(t)
	e.must(e.write("PUT", "/v1/policy", "admin", e.policyWith(`"upper":"1500"`, `"upper":"5"`)), 201)
	e.must(e.write("POST", "/v1/links", "admin", `{"a":"resident:r01","b":"resident:r02","relation":"spouse"}`), 201)
	e.must(e.credit("station", "resident:r01", "3", 30*h, 3*h), 201)
	e.must(e.credit("station2", "resident:r02", "4.25", 20*h, 5*h), 201) // r02's balance: 4.25 HOURS
	secret := func(r *resp, code string, figures ...string) {
		t.Helper()
		if r.code() != code {
			t.Fatalf("want %s, got %s", code, r)
		}
		for _, f := range figures {
			if strings.Contains(string(r.Body), f) {
				t.Errorf("the refusal shows %s, a figure of an account the principal may not read: %s", f, r)
			}
		}
	}
	// A resident paying another over its cap: 4.25 + 1.50 > 5.
	secret(e.write("POST", "/v1/transfers", "resident", `{"to":"resident:r02","asset":"HOURS","amount":"1.50"}`),
		"balance_cap_exceeded", "4.25", "5.75", `"balance"`)
	// A station crediting a resident over its cap.
	secret(e.credit("station", "resident:r02", "1.5", 10*h, 2*h), "balance_cap_exceeded", "4.25", "5.75", `"balance"`)
	// A station reversing its credit after the resident spent part of it: 3.00 − 1.75.
	e.must(e.write("POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"HOURS","amount":"1.75"}`), 201)
	credit := e.must(e.credit("station", "resident:r01", "1", 40*h, h), 201).seqOf() // r01: 2.25 HOURS
	e.must(e.write("POST", "/v1/redemptions", "resident", `{"payee":"outlet:o01","asset":"HOURS","amount":"1.50"}`), 201)
	secret(e.write("POST", "/v1/reversals", "station", fmt.Sprintf(`{"seq":%d,"reason":"wrong volunteer"}`, credit)),
		"insufficient_balance", "0.75", `"available"`)
	// A station crediting a session that overlaps another station's credit (25h to 20h ago).
	secret(e.credit("station", "resident:r02", "1", 21*h, 2*h), "overlapping_session",
		t0.Add(-25*h).Format("2006-01-02T15:04"), t0.Add(-20*h).Format("2006-01-02T15:04"), `"seq"`)
	// The admin reads every account: its refusals keep the figures.
	if r := e.write("POST", "/v1/reversals", "admin", fmt.Sprintf(`{"seq":%d,"reason":"wrong volunteer"}`, credit)); !strings.Contains(string(r.Body), "0.75") {
		t.Errorf("the admin's refusal lost the available figure: %s", r)
	}
	// So does a station whose own credit the session overlaps.
	if r := e.credit("station2", "resident:r02", "1", 21*h, 2*h); r.code() != "overlapping_session" || !strings.Contains(string(r.Body), `"seq"`) {
		t.Errorf("the station's overlapping_session lost its own entry it overlaps: %s", r)
	}
	end := t0.Add(-21 * h)
	body := strings.Replace(e.creditBody("resident:r02", "1", end.Add(-2*h), end), `{`, `{"station":"station:s01",`, 1)
	if r := e.write("POST", "/v1/credits", "admin", body); r.code() != "overlapping_session" || !strings.Contains(string(r.Body), `"seq"`) {
		t.Errorf("the admin's overlapping_session lost the entry it overlaps: %s", r)
	}
}

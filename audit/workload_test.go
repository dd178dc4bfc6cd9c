package audit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The workload: every entry type, over HTTP, as SPEC §3 describes the requests. Text that
// FORMAT.md's escaping rules single out (quotes, backslashes, U+2028, <>&, non-ASCII) is
// sent in memos, reasons and an Idempotency-Key, and times in the forms a request may use.

type tokens struct{ s1, s2, shop, alice, bob, carol, dave, auditor string }

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// session is an interval of hours h ending at 05:00 UTC daysAgo days back, in the form
// given (the offset form says the same instant in +08:00).
func session(daysAgo, hours int, offset bool) (string, string) {
	end := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -daysAgo).Add(5 * time.Hour)
	start := end.Add(-time.Duration(hours) * time.Hour)
	if offset {
		return start.In(time.FixedZone("", 8*3600)).Format("2006-01-02T15:04:05-07:00"),
			end.Format("2006-01-02T15:04:05") + ".25Z"
	}
	return start.Format(time.RFC3339), end.Format(time.RFC3339)
}

func credit(volunteer, hours, category string, daysAgo, span int, offset bool, extra map[string]any) string {
	start, end := session(daysAgo, span, offset)
	b := map[string]any{"volunteer": volunteer, "hours": hours,
		"activity": map[string]string{"id": fmt.Sprintf("act-%d", daysAgo), "category": category, "started_at": start, "ended_at": end}}
	for k, v := range extra {
		b[k] = v
	}
	return jsonBody(b)
}

func openAll(s *server) tokens {
	for i, id := range []string{"station:s1", "station:s2", "outlet:shop1", "resident:alice",
		"resident:bob", "resident:carol", "resident:dave", "pool:public"} {
		s.write("/v1/accounts", adminToken, fmt.Sprintf("open-%02d", i), jsonBody(map[string]string{"id": id}))
	}
	return tokens{s.token("station", "station:s1"), s.token("station", "station:s2"),
		s.token("outlet", "outlet:shop1"), s.token("resident", "resident:alice"),
		s.token("resident", "resident:bob"), s.token("resident", "resident:carol"),
		s.token("resident", "resident:dave"), s.token("auditor", "")}
}

// runWorkload writes the ledger; it returns when carol's one-second hold has expired.
func runWorkload(s *server) tokens {
	tk := openAll(s)
	s.write("/v1/links", adminToken, "link-1", `{"a":"resident:alice","b":"resident:bob","relation":"spouse"}`)
	memo := "He said \"thanks\" \\ 好 <b>&</b> / \u2028 end"
	s.write("/v1/credits", tk.s1, `c"1\x`, credit("resident:alice", "3", "elderly-care", 3, 4, true, map[string]any{"memo": memo}))
	s.write("/v1/credits", tk.s1, "c2", credit("resident:bob", "2.5", "cleaning", 4, 3, false, nil))
	s.write("/v1/credits", adminToken, "c3", credit("resident:carol", "0.75", "cleaning", 5, 1, false, map[string]any{"station": "station:s2"}))
	dave := s.write("/v1/credits", tk.s1, "c4", credit("resident:dave", "1", "cleaning", 6, 1, false, nil))
	redeem := s.write("/v1/redemptions", tk.alice, "r1", `{"payee":"outlet:shop1","asset":"POINTS","amount":"20","memo":"弁当"}`)
	s.write("/v1/redemptions", tk.alice, "r2", `{"payee":"station:s1","asset":"HOURS","amount":"0.5"}`)
	h1 := s.write("/v1/holds", tk.alice, "h1", `{"payee":"station:s1","asset":"HOURS","amount":"1.5"}`)
	s.write(fmt.Sprintf("/v1/holds/%d/settle", h1), tk.s1, "st1", `{"amount":"1"}`)
	h2 := s.write("/v1/holds", tk.bob, "h2", `{"payee":"outlet:shop1","asset":"POINTS","amount":"5","ttl_seconds":600}`)
	s.write(fmt.Sprintf("/v1/holds/%d/void", h2), tk.bob, "v2", `{}`)
	carolHold := s.write("/v1/holds", tk.carol, "h3", `{"payee":"outlet:shop1","asset":"POINTS","amount":"3","ttl_seconds":1}`)
	s.write("/v1/holds", tk.alice, "h4", `{"payee":"outlet:shop1","asset":"POINTS","amount":"4"}`)
	s.write("/v1/transfers", tk.alice, "t1", `{"to":"resident:bob","asset":"HOURS","amount":"0.25","memo":"for you"}`)
	donation := `{"pool":"pool:public","asset":"HOURS","amount":"1"}`
	s.write("/v1/donations", tk.bob, "d1", donation)
	s.write("/v1/grants", adminToken, "g1", `{"pool":"pool:public","to":"resident:carol","asset":"HOURS","amount":"0.50","memo":"winter help"}`)
	s.write("/v1/conversions", tk.alice, "x1", `{"hours":"1"}`)
	s.write("/v1/reversals", adminToken, "rv1", jsonBody(map[string]any{"seq": redeem, "reason": "refund: item \"out of stock\""}))
	s.write("/v1/reversals", tk.s1, "rv2", jsonBody(map[string]any{"seq": dave, "reason": "entered twice"}))
	changePolicy(s)
	s.write("/v1/credits", tk.s2, "c5", credit("resident:carol", "2", "tutoring", 7, 2, false, nil))
	s.write("/v1/transfers", tk.carol, "t2", `{"to":"resident:alice","asset":"POINTS","amount":"3"}`)
	for i, path := range []string{"freeze", "unfreeze", "freeze"} {
		s.write("/v1/accounts/resident:dave/"+path, adminToken, fmt.Sprintf("f%d", i), `{"reason":"moved \\ away"}`)
	}
	// A replay makes no entry; neither does a refused request.
	s.send("POST", "/v1/donations", tk.bob, "d1", donation, http.StatusOK)
	s.send("POST", "/v1/redemptions", tk.carol, "r9", `{"payee":"outlet:shop1","asset":"HOURS","amount":"999"}`, http.StatusUnprocessableEntity)
	waitExpired(s, tk.carol, carolHold)
	return tk
}

// waitExpired polls a hold until the server calls it expired, so that the server and the
// verifier, which judges expiry by this machine's clock too, agree on it afterwards.
func waitExpired(s *server, token string, id uint64) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var h struct{ Status string }
		if json.Unmarshal(s.get(fmt.Sprintf("/v1/holds/%d", id), token), &h) == nil && h.Status == "expired" {
			return
		}
	}
	s.t.Fatalf("hold %d did not expire within 10 s", id)
}

// changePolicy puts a policy that differs from the default in a category, a transfer
// rule and figures written with and without decimals.
func changePolicy(s *server) {
	p := `{"timezone":"Asia/Shanghai","assets":{"POINTS":{"scale":0},"HOURS":{"scale":2}},
	"credit":{"max_hours_per_entry":"12.00","max_hours_per_day":"12","backdate_days":30,"points_per_hour":"10",
	"categories":{"tutoring":{"points_per_hour":"12.5"},"elderly-care":{"points_per_hour":"15"}}},
	"limits":{"resident":{"HOURS":{"upper":"1500"},"POINTS":{"upper":"100000"}}},
	"transfer":{"HOURS":"family","POINTS":"any"},"convert":{"points_per_hour":"10"},
	"hold":{"default_ttl_seconds":900,"max_ttl_seconds":86400},"reverse":{"station_window_days":7}}`
	s.send("PUT", "/v1/policy", adminToken, "p1", p, http.StatusCreated)
}

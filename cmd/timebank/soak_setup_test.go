package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// setup creates, with the bootstrap admin token, what a scheme has: a policy, stations,
// outlets, pools, residents (some linked as family, some the admin will freeze), a token
// for each of them, a second admin token, an auditor token and two credits per resident.
// It returns the clients' runs.
func (s *soak) setup(bootstrap string) []func() {
	var list struct {
		Tokens []struct{ ID, Role string }
	}
	if err := json.Unmarshal(s.get("/v1/tokens", bootstrap), &list); err != nil || len(list.Tokens) != 1 {
		s.t.Fatalf("the bootstrap token list: %v %+v", err, list)
	}
	s.tokens["admin"] = bootstrap
	adm := s.newClient("setup", bootstrap, "admin:"+list.Tokens[0].ID, 0)
	adm.plain = true
	must := func(r *soakReq) {
		r.expect = allow("201")
		if res := adm.write(r); res.outcome != "201" {
			s.t.Fatalf("setup: %s %s %s: %d %s", r.method, r.path, r.body, res.status, res.answer)
		}
	}
	must(policyReq(policyDoc("10", "none", 7)))
	s.stations = []string{"station:s1", "station:s2", "station:s3"}
	s.outlets = []string{"outlet:shop1", "outlet:shop2"}
	s.pools = []string{"pool:public", "pool:elderly"}
	for i := 1; i <= 12; i++ {
		s.residents = append(s.residents, fmt.Sprintf("resident:r%02d", i))
	}
	for _, id := range append(append(append(append([]string{}, s.stations...), s.outlets...), s.pools...), s.residents...) {
		must(openReq(id, "setup"))
	}
	s.prone = map[string]bool{"resident:r04": true, "resident:r08": true, "resident:r12": true}
	for _, l := range [][3]string{{"r01", "r02", "spouse"}, {"r02", "r03", "child"}, {"r04", "r05", "other"},
		{"r05", "r06", "sibling"}, {"r07", "r08", "parent"}, {"r08", "r09", "sibling"}, {"r09", "r10", "grandparent"},
		{"r11", "r12", "spouse"}} {
		a, b := "resident:"+l[0], "resident:"+l[1]
		must(linkReq(a, b, l[2], "setup"))
		s.addFamily(a, b)
		addPair(s.setupFamily, a, b)
	}
	for _, id := range append(append(append([]string{}, s.stations...), s.outlets...), s.residents...) {
		_, s.tokens[id] = s.createToken(bootstrap, strings.Split(id, ":")[0], id)
	}
	admin2, secret := s.createToken(bootstrap, "admin", "")
	s.tokens["admin2"] = secret
	auditorID, auditor := s.createToken(bootstrap, "auditor", "")
	s.tokens["auditor"] = auditor
	s.volunteers = append([]string{}, s.residents...)
	adminSlots := newSlots(20, s.now0)
	for i, vol := range s.residents {
		for range 2 {
			slot, _ := adminSlots.take(adm.rng, vol)
			start, end := adminSlots.interval(slot)
			must(creditReq(s.stations[i%3], vol, 75, "elderly-care", start, end, "setup"))
		}
	}
	return s.workers(admin2, adminSlots, auditorID)
}

// get answers GET path with token (200 or the test fails); main goroutine only.
func (s *soak) get(path, token string) []byte {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %v %s", path, res.StatusCode, err, clip(b))
	}
	return b
}

// createToken makes a token (SPEC §3, Tokens) and returns its id and secret.
func (s *soak) createToken(admin, role, account string) (id, secret string) {
	s.t.Helper()
	body := map[string]any{"role": role, "label": "soak " + role}
	if account != "" {
		body["account"] = account
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/tokens", bytes.NewReader(mustJSON(body)))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ ID, Token string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 201 || tok.Token == "" {
		s.t.Fatalf("POST /v1/tokens %s: %d %v", body, res.StatusCode, err)
	}
	return tok.ID, tok.Token
}

func addPair(m map[string]map[string]bool, a, b string) {
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if m[p[0]] == nil {
			m[p[0]] = map[string]bool{}
		}
		m[p[0]][p[1]] = true
	}
}

func (s *soak) addFamily(a, b string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addPair(s.family, a, b)
}

// policyDoc is SPEC §3's default policy but for a cap on pools' hours (so that donations
// meet balance_cap_exceeded) and the three figures the admin toggles while the clients run.
func policyDoc(convert, pointsTransfer string, windowDays int) map[string]any {
	type m = map[string]any
	return m{
		"timezone": "Asia/Shanghai",
		"assets":   m{"HOURS": m{"scale": 2}, "POINTS": m{"scale": 0}},
		"credit": m{"max_hours_per_entry": "12", "max_hours_per_day": "12", "backdate_days": 30,
			"points_per_hour": "10", "categories": m{"elderly-care": m{"points_per_hour": "15"}}},
		"limits":   m{"resident": m{"HOURS": m{"upper": "1500"}}, "pool": m{"HOURS": m{"upper": "20"}}},
		"transfer": m{"HOURS": "family", "POINTS": pointsTransfer},
		"convert":  m{"points_per_hour": convert},
		"hold":     m{"default_ttl_seconds": 900, "max_ttl_seconds": 86400},
		"reverse":  m{"station_window_days": windowDays},
	}
}

// pointsPerHour is policyDoc's credit rate of category (never changed while the soak runs).
func pointsPerHour(category string) int64 {
	if category == "elderly-care" {
		return 15
	}
	return 10
}

func jsonReq(typ, variant, method, path string, body any) *soakReq {
	return &soakReq{typ: typ, variant: variant, method: method, path: path, body: mustJSON(body), ctype: "application/json"}
}

func policyReq(doc map[string]any) *soakReq {
	return jsonReq("policy", "policy", http.MethodPut, "/v1/policy", doc)
}

func openReq(id, variant string) *soakReq {
	return jsonReq("open", variant, http.MethodPost, "/v1/accounts", map[string]any{"id": id})
}

func linkReq(a, b, relation, variant string) *soakReq {
	return jsonReq("link", variant, http.MethodPost, "/v1/links", map[string]any{"a": a, "b": b, "relation": relation})
}

// creditReq credits hours (minor units) to vol for a session; station "" is a station's own
// credit (the token names it). want is its postings: hours, and the points they earn.
func creditReq(station, vol string, hours int64, category string, start, end time.Time, variant string) *soakReq {
	body := map[string]any{"volunteer": vol, "hours": fmtAmt(hours, "HOURS"),
		"activity": map[string]any{"id": "visit-" + strconv.FormatInt(start.Unix()%100000, 10), "category": category,
			"started_at": start.Format(time.RFC3339), "ended_at": end.Format(time.RFC3339)}}
	if station != "" {
		body["station"] = station
	}
	r := jsonReq("credit", variant, http.MethodPost, "/v1/credits", body)
	r.want, r.wantSet = []wirePosting{{"issuer:HOURS", vol, "HOURS", fmtAmt(hours, "HOURS")}}, true
	if points := hours * pointsPerHour(category) / 100; points > 0 {
		r.want = append(r.want, wirePosting{"issuer:POINTS", vol, "POINTS", fmtAmt(points, "POINTS")})
	}
	return r
}

// slots is one crediting party's share of the volunteers' service time: four one-hour
// slots a day from firstHour, local time (Asia/Shanghai), on each of the 28 days before the
// soak's. They lie inside backdate_days (30), never overlap another party's, and sixteen
// slots of at most 0.75 h stay under max_hours_per_day (12) with room for one more
// quarter: a credit on a taken slot meets overlapping_session, not daily_cap_exceeded.
type slots struct {
	firstHour int
	day0      time.Time // local midnight of the soak's day
	used      map[string][]bool
}

const slotDays, slotsPerDay = 28, 4

var shanghai = time.FixedZone("CST", 8*3600) // no daylight saving time since 1991

func newSlots(firstHour int, now time.Time) *slots {
	y, m, d := now.In(shanghai).Date()
	return &slots{firstHour: firstHour, day0: time.Date(y, m, d, 0, 0, 0, 0, shanghai), used: map[string][]bool{}}
}

// take marks a free slot of vol taken and returns it.
func (sl *slots) take(rng *rand.Rand, vol string) (int, bool) {
	u := sl.used[vol]
	if u == nil {
		u = make([]bool, slotDays*slotsPerDay)
		sl.used[vol] = u
	}
	start := rng.IntN(len(u))
	for i := range u {
		if j := (start + i) % len(u); !u[j] {
			u[j] = true
			return j, true
		}
	}
	return 0, false
}

func (sl *slots) release(vol string, i int) { sl.used[vol][i] = false }

// interval is slot i's hour.
func (sl *slots) interval(i int) (start, end time.Time) {
	start = sl.dayOf(i).Add(time.Duration(sl.firstHour+i%slotsPerDay) * time.Hour)
	return start, start.Add(time.Hour)
}

// dayOf is the local midnight of slot i's day.
func (sl *slots) dayOf(i int) time.Time { return sl.day0.AddDate(0, 0, -1-i/slotsPerDay) }

var scales = map[string]int{"HOURS": 2, "POINTS": 0}

// fmtAmt writes v minor units of asset at its scale, as the ledger does: "0.50", "-3.25", "7".
func fmtAmt(v int64, asset string) string {
	if scales[asset] == 0 {
		return strconv.FormatInt(v, 10)
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// parseAmt reads an amount the ledger wrote (fmtAmt's form).
func parseAmt(s, asset string) (int64, error) {
	if scales[asset] == 2 {
		s = strings.Replace(s, ".", "", 1)
	}
	return strconv.ParseInt(s, 10, 64)
}

// spell writes v as a client may: at the asset's scale, or without its trailing zeros
// ("0.5", "2"): the ledger keeps the amount at scale either way.
func spell(rng *rand.Rand, v int64, asset string) string {
	s := fmtAmt(v, asset)
	if strings.Contains(s, ".") && rng.IntN(2) == 0 {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

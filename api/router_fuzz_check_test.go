package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/timebank/timebank/ledger"
)

// The checks of FuzzRouter: what every answer must be, whatever the request and the state.

// writeTypes maps each entry-creating route ("METHOD /path" as registered) to the type of
// the entries it writes. TestRouterSeeds checks that it names every such route.
var writeTypes = map[string]ledger.Type{
	"POST /v1/accounts":              ledger.TypeOpen,
	"POST /v1/accounts/:id/freeze":   ledger.TypeFreeze,
	"POST /v1/accounts/:id/unfreeze": ledger.TypeUnfreeze,
	"POST /v1/links":                 ledger.TypeLink,
	"POST /v1/credits":               ledger.TypeCredit,
	"POST /v1/redemptions":           ledger.TypeRedemption,
	"POST /v1/holds":                 ledger.TypeHold,
	"POST /v1/holds/:id/settle":      ledger.TypeSettle,
	"POST /v1/holds/:id/void":        ledger.TypeVoid,
	"POST /v1/transfers":             ledger.TypeTransfer,
	"POST /v1/donations":             ledger.TypeDonation,
	"POST /v1/grants":                ledger.TypeGrant,
	"POST /v1/conversions":           ledger.TypeConversion,
	"POST /v1/reversals":             ledger.TypeReversal,
	"PUT /v1/policy":                 ledger.TypePolicy,
}

// check asserts what SPEC promises of the answer rec to s, sent when the log held before
// entries.
func (w *fuzzWorld) check(t *testing.T, s sent, rec *httptest.ResponseRecorder, before uint64) {
	t.Helper()
	route, logged, errs := w.probe.take()
	status := rec.Code
	if len(errs) > 0 {
		t.Fatalf("%s\nanswered %d %.600s\nthe server logged at level Error: %q", s.desc, status, rec.Body, errs)
	}
	// No 5xx: this target runs one request at a time on a healthy store in a temporary
	// directory, and its requests' contexts are never cancelled, so nothing justifies even
	// 503 unavailable here.
	if status >= 500 {
		t.Fatalf("%s\nanswered %d: %.600s", s.desc, status, rec.Body)
	}
	if logged != int64(status) {
		t.Fatalf("%s\nanswered %d, but the request log says %d", s.desc, status, logged)
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Fatalf("%s\nanswered %d without X-Request-Id", s.desc, status)
	}
	r := &resp{t: t, Status: status, Header: rec.Header(), Body: rec.Body.Bytes()}
	validateResponse(t, s.req, r)
	writeType, isWrite := writeTypes[s.req.Method+" "+route]
	grown := int(w.e.led.TreeSize() - before)
	switch {
	case status < 200 || status > 299:
		checkError(t, s, r)
		if isWrite && (status == http.StatusConflict || status == http.StatusUnprocessableEntity) {
			w.checkRefusedAgain(t, s, r)
		}
	case isWrite:
		w.checkWrite(t, s, r, writeType, before)
		if status == http.StatusCreated {
			w.checkReplay(t, s, r)
		}
		return
	default:
		w.checkOther(t, s, r, route)
	}
	if grown != 0 {
		t.Fatalf("%s\nanswered %s, yet the log grew by %d entries", s.desc, r, grown)
	}
}

// errorCodes is SPEC §7's table by status (errors_test.go writes it out from the SPEC).
var errorCodes = func() map[int][]string {
	m := map[int][]string{}
	for status, codes := range specStatus {
		m[status] = strings.Fields(codes)
	}
	return m
}()

// maxMessageBytes bounds an error message: one sentence a clerk can act on, which quotes
// at most a short prefix of what was sent. The longest a body can provoke names the path of
// an unknown key under two policy map keys, three keys of at most 64 bytes that %q may
// write four times as long (\x01): about 830 bytes.
const maxMessageBytes = 1024

// checkError asserts that a non-2xx answer is exactly {"error":{"code","message","details"}}
// with a code SPEC §7 lists for its status.
func checkError(t *testing.T, s sent, r *resp) {
	t.Helper()
	codes, ok := errorCodes[r.Status]
	if !ok {
		t.Fatalf("%s\nanswered %s: a status SPEC §7 has no code for", s.desc, r)
	}
	if s.req.Method == http.MethodHead {
		if len(r.Body) != 0 {
			t.Fatalf("%s\nanswered HEAD with a body: %s", s.desc, r)
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s\nanswered %s as %q, not JSON", s.desc, r, ct)
	}
	var top map[string]json.RawMessage
	var obj map[string]json.RawMessage
	if json.Unmarshal(r.Body, &top) != nil || len(top) != 1 || json.Unmarshal(top["error"], &obj) != nil || len(obj) != 3 {
		t.Fatalf("%s\nanswered %s: not exactly {\"error\":{\"code\",\"message\",\"details\"}}", s.desc, r)
	}
	var code, message string
	var details map[string]any
	if json.Unmarshal(obj["code"], &code) != nil || json.Unmarshal(obj["message"], &message) != nil ||
		json.Unmarshal(obj["details"], &details) != nil || details == nil {
		t.Fatalf("%s\nanswered %s: code and message must be strings, details an object", s.desc, r)
	}
	if !slices.Contains(codes, code) {
		t.Fatalf("%s\nanswered %s: SPEC §7 gives %d the codes %v only", s.desc, r, r.Status, codes)
	}
	if message == "" || len(message) > maxMessageBytes || !utf8.ValidString(message) {
		t.Fatalf("%s\nanswered %s: the message must be one clear sentence (at most %d bytes)", s.desc, r, maxMessageBytes)
	}
	if r.Status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("%s\nanswered 401 without WWW-Authenticate: Bearer", s.desc)
	}
}

// entryAnswer is an entry as a write answers it; the hold fields only for a hold.
type entryAnswer struct {
	Seq            uint64          `json:"seq"`
	Time           string          `json:"time"`
	Type           ledger.Type     `json:"type"`
	Actor          string          `json:"actor"`
	IdempotencyKey string          `json:"idempotency_key"`
	Body           json.RawMessage `json:"body"`
	Postings       []struct {
		From, To, Asset, Amount string
	} `json:"postings"`
	HoldID    *uint64 `json:"hold_id"`
	ExpiresAt *string `json:"expires_at"`
}

// checkWrite asserts that a 2xx answer of an entry-creating route is an entry of its type:
// 201 a new one, the log one longer; 200 a replay, marked so, the log unchanged. GET
// /v1/entries/{seq} must read the same bytes back.
func (w *fuzzWorld) checkWrite(t *testing.T, s sent, r *resp, want ledger.Type, before uint64) {
	t.Helper()
	size := w.e.led.TreeSize()
	replayed := r.Header.Get("Idempotent-Replayed")
	e := decodeEntry(t, s, r)
	switch {
	case r.Status == http.StatusCreated && (replayed != "" || size != before+1 || e.Seq != size):
		t.Fatalf("%s\nanswered %s, Idempotent-Replayed %q; the log went from %d to %d entries", s.desc, r, replayed, before, size)
	case r.Status == http.StatusOK && (replayed != "true" || size != before || e.Seq > size):
		t.Fatalf("%s\nanswered %s, Idempotent-Replayed %q; the log went from %d to %d entries", s.desc, r, replayed, before, size)
	case r.Status != http.StatusCreated && r.Status != http.StatusOK:
		t.Fatalf("%s\nanswered %s: a write answers 201 or 200", s.desc, r)
	}
	if e.Type != want {
		t.Fatalf("%s\nanswered %s: a %s, but this route writes %s entries", s.desc, r, e.Type, want)
	}
	if e.IdempotencyKey != s.key || (s.actor != "" && e.Actor != s.actor) {
		t.Fatalf("%s\nanswered %s: want actor %q and key %q", s.desc, r, s.actor, s.key)
	}
	checkPostings(t, s, r, e)
	if want == ledger.TypeFreeze || want == ledger.TypeUnfreeze {
		var b struct {
			Account string `json:"account"`
		}
		if json.Unmarshal(e.Body, &b) != nil {
			t.Fatalf("%s\nanswered %s: a freeze's body names its account", s.desc, r)
		}
		checkNamedAccount(t, s, r, b.Account)
	}
	again := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/entries/"+strconv.FormatUint(e.Seq, 10), nil)
	req.Header.Set("Authorization", "Bearer "+w.secrets["admin"])
	w.e.srv.Handler().ServeHTTP(again, req)
	w.probe.take()
	if again.Code != http.StatusOK || !bytes.Equal(again.Body.Bytes(), r.Body) {
		t.Fatalf("%s\nanswered %s\nbut GET /v1/entries/%d answers %d %s", s.desc, r, e.Seq, again.Code, again.Body)
	}
}

// decodeEntry decodes an entry answer, refusing unknown and missing members.
func decodeEntry(t *testing.T, s sent, r *resp) entryAnswer {
	t.Helper()
	var members map[string]json.RawMessage
	var e entryAnswer
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if json.Unmarshal(r.Body, &members) != nil || dec.Decode(&e) != nil {
		t.Fatalf("%s\nanswered %s: not an entry", s.desc, r)
	}
	want := 7
	if e.Type == ledger.TypeHold {
		want = 9
	}
	tm, err := time.Parse(time.RFC3339Nano, e.Time)
	switch {
	case len(members) != want || e.Seq < 2 || e.Actor == "" || len(e.Body) == 0 || e.Body[0] != '{' || e.Postings == nil:
		t.Fatalf("%s\nanswered %s: an entry has seq > 1, time, type, actor, idempotency_key, a body object, postings", s.desc, r)
	case err != nil || !strings.HasSuffix(e.Time, "Z"):
		t.Fatalf("%s\nanswered %s: time must be UTC RFC 3339", s.desc, r)
	case e.Type == ledger.TypeHold && (e.HoldID == nil || *e.HoldID != e.Seq || e.ExpiresAt == nil):
		t.Fatalf("%s\nanswered %s: a hold's hold_id is its seq, and it has expires_at", s.desc, r)
	case e.Type == ledger.TypeHold:
		exp, err := time.Parse(time.RFC3339Nano, *e.ExpiresAt)
		if err != nil || !exp.After(tm) {
			t.Fatalf("%s\nanswered %s: a hold expires after it is made", s.desc, r)
		}
	}
	return e
}

// amountAt matches a posting's amount at each asset's scale (default policy: HOURS 2,
// POINTS 0; the scales are fixed at genesis).
var amountAt = map[string]*regexp.Regexp{
	ledger.AssetHours:  regexp.MustCompile(`^(0|[1-9][0-9]*)\.[0-9]{2}$`),
	ledger.AssetPoints: regexp.MustCompile(`^(0|[1-9][0-9]*)$`),
}

// postingCounts is how many postings each entry type makes: [min, max].
var postingCounts = map[ledger.Type][2]int{
	ledger.TypeCredit: {1, 2}, ledger.TypeRedemption: {1, 1}, ledger.TypeSettle: {1, 1},
	ledger.TypeTransfer: {1, 1}, ledger.TypeDonation: {1, 1}, ledger.TypeGrant: {1, 1},
	ledger.TypeConversion: {2, 2}, ledger.TypeReversal: {1, 2},
}

// checkPostings asserts that every posting moves a positive amount of a known asset between
// two accounts, as many as the entry's type makes.
func checkPostings(t *testing.T, s sent, r *resp, e entryAnswer) {
	t.Helper()
	n := postingCounts[e.Type]
	if len(e.Postings) < n[0] || len(e.Postings) > n[1] {
		t.Fatalf("%s\nanswered %s: a %s makes %d to %d postings", s.desc, r, e.Type, n[0], n[1])
	}
	for _, p := range e.Postings {
		re := amountAt[p.Asset]
		if re == nil || !re.MatchString(p.Amount) || strings.Trim(p.Amount, "0.") == "" || p.From == p.To ||
			p.From == "" || p.To == "" {
			t.Fatalf("%s\nanswered %s: a posting moves a positive amount between two accounts", s.desc, r)
		}
	}
}

// checkOther asserts what the 2xx answers of the other routes must be.
func (w *fuzzWorld) checkOther(t *testing.T, s sent, r *resp, route string) {
	t.Helper()
	if route == "/v1/accounts/:id" && r.Status == http.StatusOK {
		var a struct {
			ID string `json:"id"`
		}
		r.decode(&a)
		checkNamedAccount(t, s, r, a.ID)
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case s.req.Method == http.MethodOptions:
		if r.Status != http.StatusNoContent || r.Header.Get("Allow") == "" {
			t.Fatalf("%s\nanswered %s: OPTIONS answers 204 with Allow", s.desc, r)
		}
	case s.req.Method == http.MethodPost && route == "/v1/tokens":
		checkToken(t, s, r)
	case s.req.Method == http.MethodDelete && route == "/v1/tokens/:id":
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("%s\nanswered %s: a revocation answers 204", s.desc, r)
		}
	case s.req.Method != http.MethodGet && s.req.Method != http.MethodHead || r.Status != http.StatusOK:
		t.Fatalf("%s\nanswered %s: only GET (and HEAD) reads answer 200", s.desc, r)
	case strings.HasPrefix(ct, "application/json") && !json.Valid(r.Body):
		t.Fatalf("%s\nanswered %s: not JSON", s.desc, r)
	case ct == "application/x-ndjson":
		for _, line := range bytes.SplitAfter(r.Body, []byte("\n")) {
			if len(line) > 0 && (!json.Valid(line) || line[len(line)-1] != '\n') {
				t.Fatalf("%s\nanswered an export line %q", s.desc, line)
			}
		}
	}
}

// checkToken asserts that POST /v1/tokens answers 201 with {id, token, role, account,
// label, created_at}.
func checkToken(t *testing.T, s sent, r *resp) {
	t.Helper()
	var tok struct {
		ID        string      `json:"id"`
		Token     string      `json:"token"`
		Role      ledger.Role `json:"role"`
		Account   *string     `json:"account"`
		Label     string      `json:"label"`
		CreatedAt string      `json:"created_at"`
	}
	var members map[string]json.RawMessage
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &members) != nil || len(members) != 6 ||
		json.Unmarshal(r.Body, &tok) != nil || !strings.HasPrefix(tok.ID, ledger.TokenIDPrefix) ||
		!strings.HasPrefix(tok.Token, ledger.TokenSecretPrefix) || tok.Role == "" {
		t.Fatalf("%s\nanswered %s: not a new token", s.desc, r)
	}
}

// checkNamedAccount asserts that the account an answer is about, got, is the one the request
// path names: its /v1/accounts/{id} segment, percent-decoded once as RFC 3986 says (a
// client may write the colon as %3A; %253A is then "%3A", no account id).
func checkNamedAccount(t *testing.T, s sent, r *resp, got string) {
	t.Helper()
	segs := strings.Split(s.req.URL.EscapedPath(), "/")
	if len(segs) < 4 {
		t.Fatalf("%s\nanswered %s for a path of no account", s.desc, r)
	}
	want, err := url.PathUnescape(segs[3])
	if err != nil || got != want {
		t.Fatalf("%s\nanswered %s: about account %q, but the path names %q", s.desc, r, got, want)
	}
}

// checkReplay sends a new write again with the same key, its body's members in reverse
// order and without insignificant whitespace: the same JSON value, so SPEC §3 makes it a
// replay, 200 with the same entry and Idempotent-Replayed: true, the log as it was.
func (w *fuzzWorld) checkReplay(t *testing.T, s sent, first *resp) {
	t.Helper()
	size := w.e.led.TreeSize()
	body := reversedMembers(t, s.body)
	again := w.resend(t, s, body)
	if again.Code != http.StatusOK || again.Header().Get("Idempotent-Replayed") != "true" ||
		!bytes.Equal(again.Body.Bytes(), first.Body) || w.e.led.TreeSize() != size {
		t.Fatalf("%s\nanswered %s\nsent again as %s, it answered %d %s (Idempotent-Replayed %q), not the replay",
			s.desc, first, body, again.Code, again.Body, again.Header().Get("Idempotent-Replayed"))
	}
}

// checkRefusedAgain sends a write the ledger refused (409, 422) again: a refusal leaves no
// entry and its key free (SPEC §3), and nothing happened in between, so the same refusal
// answers.
func (w *fuzzWorld) checkRefusedAgain(t *testing.T, s sent, first *resp) {
	t.Helper()
	size := w.e.led.TreeSize()
	again := w.resend(t, s, s.body)
	r := &resp{t: t, Status: again.Code, Body: again.Body.Bytes()}
	if r.Status != first.Status || r.code() != first.code() || w.e.led.TreeSize() != size {
		t.Fatalf("%s\nanswered %s\nsent again, it answered %s", s.desc, first, r)
	}
}

// resend sends the request of s again with body and returns the answer, checking the log.
func (w *fuzzWorld) resend(t *testing.T, s sent, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req, ok := s.build(body)
	if !ok {
		t.Fatalf("%s\ncannot be built again", s.desc)
	}
	rec := httptest.NewRecorder()
	w.e.srv.Handler().ServeHTTP(rec, req)
	if _, _, errs := w.probe.take(); len(errs) > 0 {
		t.Fatalf("%s\nsent again, answered %d %.600s\nthe server logged at level Error: %q", s.desc, rec.Code, rec.Body, errs)
	}
	return rec
}

// reversedMembers returns the JSON object b, which the server accepted, with its members in
// reverse order of their names and no insignificant whitespace.
func reversedMembers(t *testing.T, b []byte) []byte {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatalf("an accepted body %q is not an object: %v", b, err)
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	slices.Reverse(names)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			out.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		out.Write(key)
		out.WriteByte(':')
		if err := json.Compact(&out, members[name]); err != nil {
			t.Fatal(err)
		}
	}
	out.WriteByte('}')
	return out.Bytes()
}

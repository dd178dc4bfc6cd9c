package api_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestModel is a model-based test of the HTTP API: rapid draws a sequence of calls by
// every kind of principal (admin, two stations, an outlet, three residents, an auditor)
// against the real router over a real store, with the env's clock moved between them;
// a small model of SPEC §2–§3 written apart from ledger/ (model_*_test.go) predicts each
// answer: the status and error code, or the entry's seq, time and postings; replays of
// an Idempotency-Key with the same body (200, Idempotent-Replayed, the original entry) or
// another (422 idempotency_key_reused); reads of accounts and holds. At the end every
// account's balance, held, available and earned per asset must be the model's, and
// verify.Data, replaying the stopped store from genesis, must find nothing to report.
//
// Covered: opening accounts (admin, stations, refused ids), freezes, links, credits (caps
// per entry and per local day, duration, future and backdated times, overlaps, the
// resident HOURS limit, category rates), redemptions, holds with settle, void and expiry,
// transfers under each mode, donations, grants, conversions, reversals by admin and by
// stations (window, already reversed, balances that would break), policy changes.
// Left out: malformed bodies, headers and tokens (FuzzRouter's), concurrency
// (TestConcurrentDuplicates, the soak), reads of the log and proofs.
//
// The default run is rapid's 100 checks of about 30 steps (1–2 s on tmpfs; every commit is
// fsynced, so more on a disk). Longer, with the disk spared the fsyncs:
//
//	TMPDIR=/dev/shm go test ./api -run TestModel -rapid.checks=5000 -rapid.steps=100 -v
//
// (-v also lists how often each code was predicted: a code never reached is a rule never
// tested.) A failure prints the shrunk sequence and the -rapid.seed to run it again.
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(t, rt)
		rt.Repeat(map[string]func(*rapid.T){
			"open":       func(*rapid.T) { h.write(h.drawOpen()) },
			"freeze":     func(*rapid.T) { h.write(h.drawFreeze()) },
			"link":       func(*rapid.T) { h.write(h.drawLink()) },
			"credit":     func(*rapid.T) { h.write(h.drawCredit()) },
			"credit2":    func(*rapid.T) { h.write(h.drawCredit()) },
			"credit3":    func(*rapid.T) { h.write(h.drawCredit()) },
			"redemption": func(*rapid.T) { h.write(h.drawRedemption()) },
			"hold":       func(*rapid.T) { h.write(h.drawHold()) },
			"settle":     func(*rapid.T) { h.write(h.drawSettle()) },
			"void":       func(*rapid.T) { h.write(h.drawVoid()) },
			"transfer":   func(*rapid.T) { h.write(h.drawTransfer()) },
			"transfer2":  func(*rapid.T) { h.write(h.drawTransfer()) },
			"settle2":    func(*rapid.T) { h.write(h.drawSettle()) },
			"donation":   func(*rapid.T) { h.write(h.drawDonation()) },
			"grant":      func(*rapid.T) { h.write(h.drawGrant()) },
			"conversion": func(*rapid.T) { h.write(h.drawConversion()) },
			"reversal":   func(*rapid.T) { h.write(h.drawReversal()) },
			"policy":     func(*rapid.T) { h.write(h.drawPolicy()) },
			"replay":     func(*rapid.T) { h.replay() },
			"tick":       func(*rapid.T) { h.tick() },
			"read":       func(*rapid.T) { h.readAccount() },
			"readHold":   func(*rapid.T) { h.readHold() },
		})
		h.checkAll()
	})
	if testing.Verbose() {
		var lines []string
		for k, n := range modelSeen {
			lines = append(lines, fmt.Sprintf("%-40s %6d", k, n))
		}
		slices.Sort(lines)
		t.Logf("answers the model predicted (entry type, code or 201):\n%s", strings.Join(lines, "\n"))
	}
}

// modelSeen counts the predicted answers by entry type and code, for -v: what the run
// reached (a code never reached is a rule never tested).
var modelSeen = map[string]int{}

// rapidTB lets env's helpers report to rapid (so that a failure shrinks) while the test's
// own testing.T provides the rest; each check's directory goes when the check ends.
type rapidTB struct {
	testing.TB
	rt  *rapid.T
	dir *string // the last directory TempDir made: the store's
}

func (r rapidTB) Helper()                   {}
func (r rapidTB) Errorf(f string, a ...any) { r.rt.Errorf(f, a...) }
func (r rapidTB) Error(a ...any)            { r.rt.Error(a...) }
func (r rapidTB) Fatalf(f string, a ...any) { r.rt.Fatalf(f, a...) }
func (r rapidTB) Fatal(a ...any)            { r.rt.Fatal(a...) }
func (r rapidTB) FailNow()                  { r.rt.FailNow() }
func (r rapidTB) Fail()                     { r.rt.Fail() }
func (r rapidTB) Failed() bool              { return r.rt.Failed() }
func (r rapidTB) Logf(f string, a ...any)   { r.rt.Logf(f, a...) }
func (r rapidTB) Log(a ...any)              { r.rt.Log(a...) }
func (r rapidTB) Cleanup(f func())          { r.rt.Cleanup(f) }
func (r rapidTB) TempDir() string {
	dir, err := os.MkdirTemp("", "timebank-model-")
	if err != nil {
		r.rt.Fatal(err)
	}
	r.rt.Cleanup(func() { os.RemoveAll(dir) })
	*r.dir = dir
	return dir
}

// accepted is a write the server took, for replays: who sent what with which key, and
// the entry it answered.
type accepted struct {
	who, method, path, key string
	body                   []byte
	answer                 []byte
}

type harness struct {
	t    *rapid.T
	e    *env
	dir  string // the store's directory, for verify
	m    *model
	keys map[string][]string // the keys each principal has sent, accepted or refused
	done map[string]accepted // by who and key
	log  []accepted
}

func newHarness(t *testing.T, rt *rapid.T) *harness {
	var dir string
	e := newEnv(rapidTB{t, rt, &dir})
	e.tok["resident3"] = e.newToken("resident", "resident:r03")
	h := &harness{t: rt, e: e, dir: dir, m: newModel(), keys: map[string][]string{}, done: map[string]accepted{}}
	// The model starts where env.seed left the ledger: genesis, then one open a fixture.
	h.m.seq, h.m.entries[1] = 1, &mEntry{typ: "genesis"}
	for _, f := range fixtures {
		var got wireEntry
		h.e.must(h.e.do("GET", "/v1/entries/"+strconv.FormatUint(h.m.seq+1, 10), "admin", ""), http.StatusOK).decode(&got)
		h.m.commit(accept(nil, nil), "open", "", got.Time).parties = []string{f.account}
		h.m.open(f.account)
	}
	// Some runs start days later, near New York's clock change (2026-03-08), which a
	// policy may make the daily cap's time zone.
	e.clk.Advance(rapid.SampledFrom([]time.Duration{0, 0, 132 * time.Hour, 144 * time.Hour}).Draw(rt, "start"))
	h.setup()
	return h
}

// setup gives every run something to spend, through the model like any call: eight hours
// of elderly care (120 points) for each fixture resident, on a day of its own two days
// back, and a family link between r01 and r02.
func (h *harness) setup() {
	end := h.e.clk.Now().Add(-48 * time.Hour)
	for i, vol := range []string{"resident:r01", "resident:r02", "resident:r03"} {
		end := end.Add(time.Duration(-24*i) * time.Hour)
		h.write(h.creditCall("station", "station:s01", vol, "elderly-care", 800, end.Add(-8*time.Hour), end))
	}
	h.write(h.linkCall("admin", "resident:r01", "resident:r02", "spouse"))
}

// wireEntry is an entry as the API answers it.
type wireEntry struct {
	Seq      uint64
	Time     time.Time
	Type     string
	Postings []struct{ From, To, Asset, Amount string }
}

// drawKey is a fresh Idempotency-Key, or one the principal sent before (a replay, a
// reuse with another body, or the free key of a refused request).
func (h *harness) drawKey(who string) string {
	if used := h.keys[who]; len(used) > 0 && rapid.IntRange(0, 4).Draw(h.t, "reuse_key") == 0 {
		return rapid.SampledFrom(used).Draw(h.t, "key")
	}
	key := fmt.Sprintf("k%d", len(h.keys[who]))
	h.keys[who] = append(h.keys[who], key)
	return key
}

// write sends c and checks the answer against the model's prediction.
func (h *harness) write(c call) {
	body, err := json.Marshal(c.body)
	if err != nil {
		h.t.Fatal(err)
	}
	key := h.drawKey(c.who)
	now := h.m.nextTime(h.e.clk.Now())
	want := c.predict(now)
	r := h.e.do(c.method, c.path, c.who, string(body), "Idempotency-Key", key)
	desc := fmt.Sprintf("%s %s by %s key %s %s at %s", c.method, c.path, c.who, key, body, now.Format(time.RFC3339Nano))
	// A key the principal used for an accepted write answers before the ledger looks at
	// anything: after the request's shape and the route's role, before visibility, the
	// ledger's finer role checks, accounts and rules (decision 0003).
	early := (want.status() == http.StatusBadRequest || want.status() == http.StatusForbidden) && !want.late
	if prev, ok := h.done[c.who+" "+key]; ok && !early {
		if prev.method+prev.path+canon(prev.body) == c.method+c.path+canon(body) {
			h.checkReplay(desc, r, prev)
		} else if r.Status != http.StatusUnprocessableEntity || r.code() != "idempotency_key_reused" {
			h.t.Fatalf("%s: got %s, want 422 idempotency_key_reused (key used for %s %s)", desc, r, prev.path, prev.body)
		}
		return
	}
	modelSeen[c.typ+" "+cmp.Or(want.code, "201")]++
	if r.Status != want.status() || r.code() != want.code {
		h.t.Fatalf("%s: got %s, want %d %s", desc, r, want.status(), want.code)
	}
	if want.code != "" {
		return
	}
	h.checkEntry(desc, r, c.typ, now, want.postings)
	h.m.commit(want, c.typ, accountOf(c.who), now)
	a := accepted{c.who, c.method, c.path, key, body, r.Body}
	h.done[c.who+" "+key] = a
	h.log = append(h.log, a)
}

// checkEntry compares a 201's entry with the model's: seq, time, type, postings.
func (h *harness) checkEntry(desc string, r *resp, typ string, now time.Time, ps []mPosting) {
	var got wireEntry
	r.decode(&got)
	want := []string{}
	for _, p := range ps {
		want = append(want, fmt.Sprintf("%s>%s %s %s", p.from, p.to, p.asset, fmtMinor(p.amount, scaleOf(p.asset))))
	}
	have := []string{}
	for _, p := range got.Postings {
		have = append(have, fmt.Sprintf("%s>%s %s %s", p.From, p.To, p.Asset, p.Amount))
	}
	slices.Sort(want)
	slices.Sort(have)
	if got.Seq != h.m.seq+1 || !got.Time.Equal(now) || got.Type != typ || !slices.Equal(have, want) {
		h.t.Fatalf("%s: got entry %d at %s, %s, postings %v; want %d at %s, %s, %v",
			desc, got.Seq, got.Time.Format(time.RFC3339Nano), got.Type, have, h.m.seq+1, now.Format(time.RFC3339Nano), typ, want)
	}
}

func (h *harness) checkReplay(desc string, r *resp, prev accepted) {
	if r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" || string(r.Body) != string(prev.answer) {
		h.t.Fatalf("%s: got %s (Idempotent-Replayed %q), want 200 replaying %s",
			desc, r, r.Header.Get("Idempotent-Replayed"), prev.answer)
	}
}

// replay sends an accepted write again, with the same key and the same JSON value in
// another layout (SPEC §3: whitespace and key order do not matter).
func (h *harness) replay() {
	if len(h.log) == 0 {
		return
	}
	a := rapid.SampledFrom(h.log).Draw(h.t, "replay")
	var v any
	json.Unmarshal(a.body, &v)
	body, _ := json.MarshalIndent(v, "", "   ")
	r := h.e.do(a.method, a.path, a.who, string(body), "Idempotency-Key", a.key)
	h.checkReplay(fmt.Sprintf("replay of %s %s by %s key %s", a.method, a.path, a.who, a.key), r, a)
}

// tick moves the clock: past hold lifetimes, local midnights, reversal windows.
func (h *harness) tick() {
	d := rapid.SampledFrom([]time.Duration{time.Minute, 30 * time.Minute, 5 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour}).Draw(h.t, "tick")
	h.e.clk.Advance(d)
}

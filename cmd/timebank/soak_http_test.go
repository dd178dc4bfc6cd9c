package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakReq is one request of the soak and what may answer it.
type soakReq struct {
	typ     string // the entry type the endpoint writes; read or token for the others
	variant string // what the request tries, for messages
	method  string
	path    string
	body    []byte
	ctype   string // Content-Type; empty: none
	key     string // Idempotency-Key; set by write unless noKey
	noKey   bool
	token   string   // instead of the client's
	expect  outcomes // the outcomes SPEC §3 and §7 allow for this request
	// want, when wantSet, is the postings an acknowledged entry must carry.
	want    []wirePosting
	wantSet bool
	// after runs in the client's goroutine once the request (and its duplicates) were
	// answered: res.entry is the entry its key made, if any.
	after func(res *soakRes)
}

// outcomes is a set of answers: "201", "200", "422 insufficient_balance", ….
type outcomes map[string]bool

func allow(os ...string) outcomes {
	o := outcomes{}
	for _, x := range os {
		o[x] = true
	}
	return o
}

// with returns o and xs (a new set).
func (o outcomes) with(xs ...string) outcomes {
	n := allow(xs...)
	for x := range o {
		n[x] = true
	}
	return n
}

// result is one answer.
type soakRes struct {
	status   int
	outcome  string // "201", "422 insufficient_balance", …
	answer   []byte
	replayed string // the Idempotent-Replayed header
	entry    *wireEntry
}

// client sends one token's requests, one at a time (but for its duplicates).
type client struct {
	s            *soak
	name         string // for keys
	token, actor string
	rng          *rand.Rand
	keys         int
	freeKey      string // a refused request's key, which the next write takes
	plain        bool   // no replays, reuses, duplicates (setup)
}

func (s *soak) newClient(name, token, actor string, stream uint64) *client {
	return &client{s: s, name: name, token: token, actor: actor, rng: rand.New(rand.NewPCG(s.seed, stream))}
}

// nextKey returns the freed key of a refused request, when there is one, else a new key. One
// key in eight has a quote and a backslash, which the canonical encoding escapes.
func (c *client) nextKey() string {
	if k := c.freeKey; k != "" {
		c.freeKey = ""
		c.s.count("idempotency", "freed key reused")
		return k
	}
	c.keys++
	if c.rng.IntN(8) == 0 {
		return fmt.Sprintf(`%s "q\%d`, c.name, c.keys)
	}
	return fmt.Sprintf("%s-%d", c.name, c.keys)
}

// write sends r, sometimes as concurrent duplicates, and sometimes follows an acknowledged
// one with a replay (same key, same body spelled otherwise: 200 and the same entry) or a
// reuse (same key, another body: 422 idempotency_key_reused). A refused request's key is
// sometimes taken by the next write: refused requests leave their keys free.
func (c *client) write(r *soakReq) *soakRes {
	if !r.noKey && r.key == "" {
		r.key = c.nextKey()
	}
	dice := c.rng.IntN(100)
	if c.plain {
		dice = 99
	}
	var res *soakRes
	if dice < 5 && r.key != "" {
		res = c.burst(r, 2+c.rng.IntN(3))
	} else {
		res = c.send(r)
	}
	if r.after != nil {
		r.after(res)
	}
	switch {
	case res.outcome == "201" && dice < 15:
		c.replay(r, res)
	case res.outcome == "201" && dice < 20:
		c.reuse(r)
	case res.entry == nil && r.key != "" && len(r.key) <= 128 && c.rng.IntN(2) == 0:
		c.freeKey = r.key
	}
	return res
}

// replay sends r again, its body spelled otherwise: the same entry must answer, 200.
func (c *client) replay(r *soakReq, first *soakRes) {
	again := *r
	again.variant, again.body, again.after = r.variant+"/replay", respell(r.body), nil
	again.expect = allow("200")
	res := c.send(&again)
	c.s.count("idempotency", "replays")
	if res.outcome == "200" && !bytes.Equal(res.answer, first.answer) {
		c.s.failf("%s: a replay of %s %s (key %q) answered\n%s\nnot the original\n%s", c.actor, r.method, r.path, r.key, res.answer, first.answer)
	}
}

// reuse sends another body under r's key: 422 idempotency_key_reused.
func (c *client) reuse(r *soakReq) {
	other := variantOf(r)
	other.variant, other.after, other.wantSet = r.variant+"/reuse", nil, false
	other.expect = allow("422 idempotency_key_reused")
	c.send(other)
	c.s.count("idempotency", "reuses")
}

// burst sends n copies of r at once, under one key: at most one may create the entry,
// the others get it replayed or 409 request_in_progress. It returns the creating answer
// when there is one.
func (c *client) burst(r *soakReq, n int) *soakRes {
	dup := *r
	dup.variant, dup.expect = r.variant+"/duplicate", r.expect.with("200", "409 request_in_progress")
	res := make([]*soakRes, n)
	var wg sync.WaitGroup
	for i := range res {
		wg.Go(func() { res[i] = c.send(&dup) })
	}
	wg.Wait()
	c.s.count("idempotency", "bursts")
	var created, acked *soakRes
	for _, x := range res {
		if x.outcome == "201" {
			if created != nil {
				c.s.failf("%s: %d duplicates of %s %s (key %q) created two entries:\n%s\n%s", c.actor, n, r.method, r.path, r.key, created.answer, x.answer)
			}
			created = x
		}
		if x.entry != nil && acked == nil {
			acked = x
		}
	}
	for _, x := range res {
		if x.entry != nil && !bytes.Equal(x.answer, acked.answer) {
			c.s.failf("%s: duplicates of %s %s (key %q) answered different entries:\n%s\n%s", c.actor, r.method, r.path, r.key, acked.answer, x.answer)
		}
	}
	switch {
	case created != nil:
		return created
	case acked != nil:
		return acked
	}
	return res[0]
}

// send sends r and judges the answer (judge).
func (c *client) send(r *soakReq) *soakRes {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.s.base+r.path, body)
	if err != nil {
		c.s.failf("%s %s: %v", r.method, r.path, err)
		return &soakRes{outcome: "no request"}
	}
	token := r.token
	if token == "" {
		token = c.token
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	resp, err := c.s.hc.Do(req)
	if err != nil {
		c.s.failf("%s: %s %s (%s): %v", c.actor, r.method, r.path, r.variant, err)
		return &soakRes{outcome: "no answer"}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.s.failf("%s: %s %s (%s): reading the answer: %v", c.actor, r.method, r.path, r.variant, err)
	}
	res := &soakRes{status: resp.StatusCode, answer: b, replayed: resp.Header.Get("Idempotent-Replayed")}
	c.s.judge(c, r, res, resp.Header.Get("Content-Type"))
	return res
}

// spec7 is SPEC §7's table: the codes each error status may carry.
var spec7 = map[int][]string{
	400: {"malformed_json", "unknown_field", "invalid_field", "invalid_amount", "invalid_account", "invalid_time", "invalid_policy", "missing_idempotency_key"},
	401: {"unauthenticated"},
	403: {"forbidden"},
	404: {"not_found"},
	409: {"account_exists", "already_reversed", "hold_not_open", "request_in_progress"},
	413: {"body_too_large"},
	415: {"unsupported_media_type"},
	422: {"insufficient_balance", "balance_cap_exceeded", "entry_cap_exceeded", "daily_cap_exceeded", "duration_exceeded",
		"overlapping_session", "backdate_window_exceeded", "future_time", "unknown_account", "account_frozen", "invalid_payee",
		"transfer_not_allowed", "conversion_disabled", "inexact_conversion", "hold_expired", "settle_exceeds_hold",
		"not_reversible", "reversal_window_passed", "idempotency_key_reused"},
	429: {"rate_limited"},
	503: {"unavailable"},
	500: {"internal"},
}

// wireError is SPEC §7's error answer, decoded strictly.
type wireError struct {
	Error struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	} `json:"error"`
}

// judge checks an answer: no 5xx; an error in SPEC §7's shape with a code its status may
// carry; an acknowledged write's entry (recordAck); the outcome among those r allows.
func (s *soak) judge(c *client, r *soakReq, res *soakRes, ctype string) {
	res.outcome = strconv.Itoa(res.status)
	what := func() string {
		return fmt.Sprintf("%s: %s %s (%s, key %q) body %s\nanswered %d %s", c.actor, r.method, r.path, r.variant, r.key,
			clip(r.body), res.status, clip(res.answer))
	}
	if res.status >= 500 {
		s.failf("a server error: %s", what())
	}
	if res.status >= 400 {
		code, err := errorCode(res.answer)
		switch {
		case err != nil:
			s.failf("not SPEC §7's error shape (%v): %s", err, what())
		case !strings.HasPrefix(ctype, "application/json"):
			s.failf("an error of Content-Type %q: %s", ctype, what())
		case !slices.Contains(spec7[res.status], code):
			s.failf("code %q is not one of SPEC §7's for status %d: %s", code, res.status, what())
		}
		res.outcome += " " + code
	}
	isWrite := r.method != http.MethodGet && r.typ != "token"
	if isWrite && (res.status == 200 || res.status == 201) {
		s.recordAck(c, r, res, what)
	}
	if !r.expect[res.outcome] {
		s.failf("outcome %q is not among %v: %s", res.outcome, keys(r.expect), what())
	}
	s.count(r.typ, res.outcome)
	if isWrite && res.status >= 400 && r.key != "" {
		s.mu.Lock()
		s.refused[c.actor+"\x00"+r.key] = true
		s.mu.Unlock()
	}
}

func errorCode(b []byte) (string, error) {
	var e wireError
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return "", err
	}
	if d.More() {
		return "", fmt.Errorf("data after the error object")
	}
	if e.Error.Code == "" || e.Error.Message == "" || len(e.Error.Details) == 0 || e.Error.Details[0] != '{' {
		return "", fmt.Errorf("code, message and details (an object) are required")
	}
	return e.Error.Code, nil
}

// recordAck checks an acknowledged write's answer, remembers its entry under (actor, key)
// and checks that every answer for that pair is the same entry.
func (s *soak) recordAck(c *client, r *soakReq, res *soakRes, what func() string) {
	e, err := decodeEntry(res.answer)
	if err != nil {
		s.failf("the answer is not an entry (%v): %s", err, what())
		return
	}
	res.entry = e
	if want := map[int]string{200: "true", 201: ""}[res.status]; res.replayed != want {
		s.failf("Idempotent-Replayed is %q: %s", res.replayed, what())
	}
	if e.Type != r.typ || e.Actor != c.actor || e.IdempotencyKey != r.key {
		s.failf("entry type %q actor %q key %q, not %q %q %q: %s", e.Type, e.Actor, e.IdempotencyKey, r.typ, c.actor, r.key, what())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := c.actor + "\x00" + r.key
	a := s.acks[k]
	if a == nil {
		a = &ack{actor: c.actor, key: r.key, answer: res.answer, entry: e, req: r}
		if r.wantSet && !slices.Equal(e.Postings, r.want) {
			s.failf("postings %v, but the request makes %v: %s", e.Postings, r.want, what())
		}
		if old := s.bySeq[e.Seq]; old != nil {
			s.failf("entry %d acknowledged for two keys, %q of %s and %q: %s", e.Seq, old.key, old.actor, r.key, what())
		}
		s.acks[k], s.bySeq[e.Seq] = a, a
		for m := s.maxAcked.Load(); e.Seq > m && !s.maxAcked.CompareAndSwap(m, e.Seq); m = s.maxAcked.Load() {
		}
		s.note(e)
	} else if !bytes.Equal(a.answer, res.answer) {
		s.failf("(actor %s, key %q) answered\n%s\nbefore, now: %s", c.actor, r.key, a.answer, what())
	}
	if res.status == 201 {
		if a.created++; a.created > 1 {
			s.failf("a second 201 for (actor %s, key %q): %s", c.actor, r.key, what())
		}
	}
}

// note files an acknowledged entry where the admin's reversals pick from (s.mu held).
func (s *soak) note(e *wireEntry) {
	switch e.Type {
	case "redemption", "transfer", "donation", "grant", "conversion", "settle":
		s.reversible = append(s.reversible, e.Seq)
	case "credit":
		if strings.HasPrefix(e.Actor, "admin:") {
			s.reversible = append(s.reversible, e.Seq)
		}
	case "open", "link", "freeze", "unfreeze", "hold", "void", "policy":
		s.inert = append(s.inert, e.Seq)
	}
}

func (s *soak) count(kind, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "idempotency" {
		s.idem[outcome]++
		return
	}
	if s.counts[kind] == nil {
		s.counts[kind] = map[string]int{}
	}
	s.counts[kind][outcome]++
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

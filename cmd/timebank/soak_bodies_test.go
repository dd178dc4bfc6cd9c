package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The bodies of the soak's idempotency checks and refusals: the same value spelled
// otherwise, another valid body, a body spoiled in one way.

// respell writes the JSON value of b again with its object members in reverse order and
// spaces between tokens: the same value, other bytes.
func respell(b []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return b
	}
	var out bytes.Buffer
	writeReversed(&out, v)
	return out.Bytes()
}

func writeReversed(w *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		ks := keys(x)
		slices.Reverse(ks)
		w.WriteString("{ ")
		for i, k := range ks {
			if i > 0 {
				w.WriteString(" ,\n ")
			}
			kb, _ := json.Marshal(k)
			w.Write(kb)
			w.WriteString(" : ")
			writeReversed(w, x[k])
		}
		w.WriteString(" }")
	default:
		b, _ := json.Marshal(x)
		w.Write(b)
	}
}

// variantOf returns r with another valid body (or, for a void, another hold): the same
// endpoint, the same key, a different request.
func variantOf(r *soakReq) *soakReq {
	o := *r
	if r.typ == "void" {
		o.path = "/v1/holds/987654321/void"
		return &o
	}
	m := map[string]any{}
	if json.Unmarshal(r.body, &m) != nil {
		return &o
	}
	switch {
	case r.typ == "policy":
		m["hold"].(map[string]any)["default_ttl_seconds"] = 901
	case m["memo"] != nil || r.typ == "credit" || r.typ == "redemption" || r.typ == "transfer":
		m["memo"] = "another request under the same key"
	case m["reason"] != nil:
		m["reason"] = "another reason"
	case m["relation"] != nil:
		m["relation"] = map[bool]string{true: "spouse", false: "other"}[m["relation"] == "other"]
	case m["id"] != nil:
		m["id"] = m["id"].(string) + "-other"
	case r.typ == "hold":
		ttl, _ := m["ttl_seconds"].(float64)
		m["ttl_seconds"] = 1 + max(ttl, 60)
	case m["amount"] != nil:
		m["amount"] = map[bool]string{true: "2", false: "1"}[m["amount"] == "1"]
	case m["hours"] != nil:
		m["hours"] = map[bool]string{true: "2", false: "1"}[m["hours"] == "1"]
	}
	o.body = mustJSON(m)
	return &o
}

// badAmounts are amounts SPEC §2 refuses by their shape, at any scale.
var badAmounts = []any{"1e3", "-1", ".5", "1.", "+1", "NaN", "1,5", "0", "01", "1234567890123", 5}

// malformed returns a copy of the valid write r spoiled in one way, with the one answer
// SPEC §3 and §7 give it: the request's own shape answers before anything else.
func (c *client) malformed(r *soakReq) *soakReq {
	m := *r
	m.after, m.wantSet = nil, false
	fields := map[string]any{}
	json.Unmarshal(r.body, &fields)
	set := func(k string, v any) []byte {
		fields[k] = v
		return mustJSON(fields)
	}
	var want string
	switch c.rng.IntN(12) {
	case 0:
		m.ctype, want = "text/plain", "415 unsupported_media_type"
	case 1:
		m.ctype, want = "application/json; charset=latin-1", "415 unsupported_media_type"
	case 2:
		m.noKey, want = true, "400 missing_idempotency_key"
	case 3:
		m.key, want = strings.Repeat("k", 129), "400 missing_idempotency_key"
	case 4:
		m.body, want = r.body[:len(r.body)/2], "400 malformed_json"
	case 5:
		m.body, want = append(bytes.Clone(r.body), "{}"...), "400 malformed_json"
	case 6:
		m.body, want = append(bytes.Clone(r.body), "{}"...), "400 malformed_json"
		if ks := keys(fields); len(ks) > 0 { // one key twice
			m.body = fmt.Appendf(nil, "{%q:%s,%s", ks[0], mustJSON(fields[ks[0]]), r.body[1:])
		}
	case 7:
		m.body, want = append([]byte(`{"extra":1,`), r.body[1:]...), "400 unknown_field"
	case 8:
		m.body, want = append([]byte("{\"\xff\":1,"), r.body[1:]...), "400 malformed_json"
	case 9:
		m.body, want = set("memo", strings.Repeat("x", 70<<10)), "413 body_too_large"
	case 10:
		m.token, want = "tb_not-a-token", "401 unauthenticated"
	default:
		switch {
		case fields["amount"] != nil:
			m.body, want = set("amount", badAmounts[c.rng.IntN(len(badAmounts))]), "400 invalid_amount"
		case fields["hours"] != nil:
			m.body, want = set("hours", badAmounts[c.rng.IntN(len(badAmounts))]), "400 invalid_amount"
		default:
			m.body, want = append([]byte(`{"extra":1,`), r.body[1:]...), "400 unknown_field"
		}
	}
	m.variant, m.expect = "malformed/"+want, allow(want)
	return &m
}

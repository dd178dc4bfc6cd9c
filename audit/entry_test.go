package audit_test

import (
	"bytes"
	"fmt"
	"time"
)

// An entry as FORMAT.md defines it, decoded into typed values and written back by the
// document's rules; decodeLine refuses a line unless the two are the same bytes.

type posting struct {
	from, to, asset string
	amount          int64 // minor units
}

type entry struct {
	seq             uint64
	time            time.Time
	typ, actor, key string
	body            body
	postings        []posting
	line            []byte // the canonical bytes, without the newline
}

// The members of each body, in FORMAT.md's order ("Bodies").
type fieldKind int

const (
	fStr fieldKind = iota
	fAmount
	fInt
	fActivity
)

type field struct {
	name string
	kind fieldKind
}

var bodySchemas = map[string][]field{
	"open":       {{"id", fStr}},
	"freeze":     {{"account", fStr}, {"reason", fStr}},
	"unfreeze":   {{"account", fStr}, {"reason", fStr}},
	"link":       {{"a", fStr}, {"b", fStr}, {"relation", fStr}},
	"credit":     {{"station", fStr}, {"volunteer", fStr}, {"hours", fAmount}, {"activity", fActivity}, {"memo", fStr}},
	"redemption": {{"payee", fStr}, {"asset", fStr}, {"amount", fAmount}, {"memo", fStr}},
	"hold":       {{"payee", fStr}, {"asset", fStr}, {"amount", fAmount}, {"ttl_seconds", fInt}},
	"settle":     {{"hold_id", fInt}, {"amount", fAmount}},
	"void":       {{"hold_id", fInt}},
	"transfer":   {{"to", fStr}, {"asset", fStr}, {"amount", fAmount}, {"memo", fStr}},
	"donation":   {{"pool", fStr}, {"asset", fStr}, {"amount", fAmount}},
	"grant":      {{"pool", fStr}, {"to", fStr}, {"asset", fStr}, {"amount", fAmount}, {"memo", fStr}},
	"conversion": {{"hours", fAmount}},
	"reversal":   {{"seq", fInt}, {"reason", fStr}},
}

type activity struct {
	id, category   string
	started, ended time.Time
}

// body holds a decoded body: the policy for genesis and policy entries, else its members.
type body struct {
	policy *policy
	strs   map[string]string
	amts   map[string]int64
	ints   map[string]uint64
	act    activity
	asset  string // the asset of the body's amount
}

// context is what decoding needs from earlier entries: the genesis assets and scales, and
// the asset of each hold (a settle's amount is at its hold's scale).
type context struct {
	scales     map[string]int
	holdAssets map[uint64]string
}

func decodeLine(line []byte, ctx *context) (*entry, error) {
	v, err := parseJSON(line)
	if err != nil {
		return nil, err
	}
	m, err := members(v, "seq", "time", "type", "actor", "idempotency_key", "body", "postings")
	if err != nil {
		return nil, err
	}
	e := &entry{line: line}
	if e.seq, err = asUint(m["seq"]); err != nil {
		return nil, fmt.Errorf("seq: %w", err)
	}
	if e.time, err = asTime(m["time"]); err != nil {
		return nil, fmt.Errorf("time: %w", err)
	}
	for name, dst := range map[string]*string{"type": &e.typ, "actor": &e.actor, "idempotency_key": &e.key} {
		if *dst, err = asString(m[name]); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if e.body, err = decodeBody(e.typ, m["body"], ctx); err != nil {
		return nil, fmt.Errorf("body of a %s: %w", e.typ, err)
	}
	if e.postings, err = decodePostings(m["postings"], ctx); err != nil {
		return nil, fmt.Errorf("postings: %w", err)
	}
	if again := encodeEntry(e, ctx); !bytes.Equal(again, line) {
		return nil, fmt.Errorf("not canonical: re-encoded from its values it is\n%s", again)
	}
	return e, nil
}

func decodePostings(v value, ctx *context) ([]posting, error) {
	if v.kind != kArr {
		return nil, fmt.Errorf("not an array")
	}
	ps := []posting{}
	for i, pv := range v.arr {
		m, err := members(pv, "from", "to", "asset", "amount")
		if err != nil {
			return nil, fmt.Errorf("posting %d: %w", i, err)
		}
		var p posting
		for name, dst := range map[string]*string{"from": &p.from, "to": &p.to, "asset": &p.asset} {
			if *dst, err = asString(m[name]); err != nil {
				return nil, fmt.Errorf("posting %d %s: %w", i, name, err)
			}
		}
		scale, ok := ctx.scales[p.asset]
		if !ok {
			return nil, fmt.Errorf("posting %d: asset %q is not one of genesis", i, p.asset)
		}
		if p.amount, err = asAmount(m["amount"], scale); err != nil {
			return nil, fmt.Errorf("posting %d: %w", i, err)
		}
		if p.amount <= 0 || p.from == p.to {
			return nil, fmt.Errorf("posting %d does not move a positive amount between two accounts", i)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func decodeBody(typ string, v value, ctx *context) (body, error) {
	if typ == "genesis" || typ == "policy" {
		p, err := decodePolicy(v)
		return body{policy: p}, err
	}
	schema, ok := bodySchemas[typ]
	if !ok {
		return body{}, fmt.Errorf("unknown type %q", typ)
	}
	names := make([]string, len(schema))
	for i, f := range schema {
		names[i] = f.name
	}
	m, err := members(v, names...)
	if err != nil {
		return body{}, err
	}
	b := body{strs: map[string]string{}, amts: map[string]int64{}, ints: map[string]uint64{}}
	for _, f := range schema { // strings and integers first: the amount's asset may need them
		switch f.kind {
		case fStr:
			b.strs[f.name], err = asString(m[f.name])
		case fInt:
			b.ints[f.name], err = asUint(m[f.name])
		case fActivity:
			b.act, err = decodeActivity(m[f.name])
		}
		if err != nil {
			return body{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	b.asset = amountAsset(typ, b, ctx)
	scale, ok := ctx.scales[b.asset]
	for _, f := range schema {
		if f.kind != fAmount {
			continue
		}
		if !ok {
			return body{}, fmt.Errorf("%s: no asset known for it (%q)", f.name, b.asset)
		}
		if b.amts[f.name], err = asAmount(m[f.name], scale); err != nil {
			return body{}, fmt.Errorf("%s: %w", f.name, err)
		}
		if b.amts[f.name] <= 0 {
			return body{}, fmt.Errorf("%s: not positive", f.name)
		}
	}
	return b, nil
}

// amountAsset: the body's own asset member; HOURS for the hours of credits and
// conversions; a settle's hold's asset.
func amountAsset(typ string, b body, ctx *context) string {
	switch typ {
	case "credit", "conversion":
		return "HOURS"
	case "settle":
		return ctx.holdAssets[b.ints["hold_id"]]
	}
	return b.strs["asset"]
}

func decodeActivity(v value) (activity, error) {
	m, err := members(v, "id", "category", "started_at", "ended_at")
	if err != nil {
		return activity{}, err
	}
	var a activity
	if a.id, err = asString(m["id"]); err != nil {
		return a, err
	}
	if a.category, err = asString(m["category"]); err != nil {
		return a, err
	}
	if a.started, err = asTime(m["started_at"]); err != nil {
		return a, fmt.Errorf("started_at: %w", err)
	}
	if a.ended, err = asTime(m["ended_at"]); err != nil {
		return a, fmt.Errorf("ended_at: %w", err)
	}
	return a, nil
}

func encodeEntry(e *entry, ctx *context) []byte {
	c := &canon{}
	c.raw("{")
	c.key("seq")
	c.uint(e.seq)
	c.key("time")
	c.time(e.time)
	c.key("type")
	c.str(e.typ)
	c.key("actor")
	c.str(e.actor)
	c.key("idempotency_key")
	c.str(e.key)
	c.key("body")
	encodeBody(c, e.typ, e.body, ctx)
	c.key("postings")
	c.raw("[")
	for i, p := range e.postings {
		if i > 0 {
			c.raw(",")
		}
		c.raw("{")
		c.key("from")
		c.str(p.from)
		c.key("to")
		c.str(p.to)
		c.key("asset")
		c.str(p.asset)
		c.key("amount")
		c.amount(p.amount, ctx.scales[p.asset])
		c.raw("}")
	}
	c.raw("]}")
	return c.b
}

func encodeBody(c *canon, typ string, b body, ctx *context) {
	if b.policy != nil {
		encodePolicy(c, b.policy)
		return
	}
	c.raw("{")
	for _, f := range bodySchemas[typ] {
		c.key(f.name)
		switch f.kind {
		case fStr:
			c.str(b.strs[f.name])
		case fInt:
			c.uint(b.ints[f.name])
		case fAmount:
			c.amount(b.amts[f.name], ctx.scales[b.asset])
		case fActivity:
			c.raw("{")
			c.key("id")
			c.str(b.act.id)
			c.key("category")
			c.str(b.act.category)
			c.key("started_at")
			c.time(b.act.started)
			c.key("ended_at")
			c.time(b.act.ended)
			c.raw("}")
		}
	}
	c.raw("}")
}

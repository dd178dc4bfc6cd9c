package ledger

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// parseEntry reads the canonical form of an entry from b, expecting each member literally
// in its canonical order with no whitespace: anything else is an error. It checks what the
// encoder cannot (known type, known assets, posting amounts positive and at scale) but not
// canonicity as a whole: DecodeEntry re-encodes the result and compares.
func parseEntry(b []byte, assets Assets) (*Entry, error) {
	p := parser{b: b}
	e := &Entry{}
	e.Seq = p.uint(`{"seq":`)
	if p.err != nil {
		return nil, fmt.Errorf("ledger: decode entry: %w", p.err)
	}
	e.TimeMicros = p.time(`,"time":`)
	typ := p.bytes(`,"type":`)
	e.Actor = p.str(`,"actor":`)
	e.IdempotencyKey = p.str(`,"idempotency_key":`)
	p.lit(`,"body":`)
	if p.err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: %w", e.Seq, p.err)
	}
	body := NewBody(Type(typ)) // no allocation: the conversion does not escape
	if body == nil {
		return nil, fmt.Errorf("ledger: decode entry %d: body: unknown entry type %q", e.Seq, typ)
	}
	e.Type = body.EntryType() // the constant, not a copy of typ
	e.Body = body
	parseBody(&p, body)
	if p.err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: body: %w", e.Seq, p.err)
	}
	var err error
	if e.Postings, err = parsePostings(&p, assets, e.Seq); err != nil {
		return nil, err
	}
	if p.lit(`}`); p.err == nil && p.i != len(b) {
		p.fail("the end of the entry")
	}
	if p.err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: %w", e.Seq, p.err)
	}
	return e, nil
}

// parsePostings reads `,"postings":[…]` and returns the postings, never nil.
func parsePostings(p *parser, assets Assets, seq uint64) ([]Posting, error) {
	var buf [4]Posting // most entries have one or two postings
	ps := buf[:0]
	if p.lit(`,"postings":[`); p.peek(']') {
		p.i++
	} else {
		for p.err == nil {
			q := Posting{From: AccountID(p.str(`{"from":`)), To: AccountID(p.str(`,"to":`)), Asset: p.asset(`,"asset":`)}
			amount := p.bytes(`,"amount":`)
			if p.err != nil {
				break
			}
			scale, ok := assets.Scale(q.Asset)
			if !ok {
				return nil, fmt.Errorf("ledger: decode entry %d: unknown asset %q", seq, q.Asset)
			}
			v, ok := parseDecimal(string(amount), scale)
			if !ok || v <= 0 {
				_, err := ParseAmount(string(amount), scale) // the error, now that there is one
				return nil, fmt.Errorf("ledger: decode entry %d: posting %d: %w", seq, len(ps), err)
			}
			q.Amount = v
			ps = append(ps, q)
			if p.lit(`}`); p.peek(']') {
				p.i++
				break
			}
			p.lit(`,`)
		}
	}
	if p.err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: postings: %w", seq, p.err)
	}
	return append(make([]Posting, 0, len(ps)), ps...), nil
}

// parser reads canonical JSON from b at i. It is sticky: after the first error (err) every
// method does nothing and returns zero values, so a body reads as a straight list of
// members.
//
// Each string it returns is a copy of its own: substrings of one copy of the line would save
// allocations but pin the whole line in memory for as long as any of them lives (account
// ids and hold payees live in the replayed state for the whole of a verify).
type parser struct {
	b   []byte
	i   int
	err error
}

func (p *parser) fail(want string) {
	if p.err == nil {
		p.err = fmt.Errorf("at byte %d: want %s", p.i, want)
	}
}

// lit consumes the literal l.
func (p *parser) lit(l string) bool {
	if p.err != nil {
		return false
	}
	if len(p.b)-p.i < len(l) || string(p.b[p.i:p.i+len(l)]) != l {
		p.fail("`" + l + "`")
		return false
	}
	p.i += len(l)
	return true
}

// peek reports whether the next byte is c.
func (p *parser) peek(c byte) bool {
	return p.err == nil && p.i < len(p.b) && p.b[p.i] == c
}

// str consumes prefix and then a JSON string, and returns its value.
func (p *parser) str(prefix string) string { return string(p.bytes(prefix)) }

// asset is str for an asset code, without an allocation for the two every ledger has.
func (p *parser) asset(prefix string) string {
	switch b := p.bytes(prefix); string(b) {
	case AssetHours:
		return AssetHours
	case AssetPoints:
		return AssetPoints
	default:
		return string(b)
	}
}

// bytes consumes prefix and then a JSON string, and returns its value: a part of b when the
// string has no escapes, which the caller must copy to keep.
func (p *parser) bytes(prefix string) []byte {
	if !p.lit(prefix) || !p.lit(`"`) {
		return nil
	}
	start := p.i
	for p.i < len(p.b) && !stringStop[p.b[p.i]] {
		p.i++
	}
	switch {
	case p.i == len(p.b):
		p.fail("a closing quote")
		return nil
	case p.b[p.i] == '"':
		p.i++
		return p.b[start : p.i-1]
	case p.b[p.i] == '\\':
		return p.escaped(start)
	}
	p.fail("no control character in a string")
	return nil
}

// stringStop tells the bytes at which bytes stops to look: '"', '\\' and the control
// characters, which JSON does not allow raw in a string.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escaped continues bytes at the first backslash of a string that began at start. It knows
// the escapes appendString writes and no others.
func (p *parser) escaped(start int) []byte {
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return buf
		case c < 0x20:
			p.fail("no control character in a string")
			return nil
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		r, n := canonicalEscape(p.b[p.i:])
		if n == 0 {
			p.fail("a canonical escape sequence")
			return nil
		}
		buf = utf8.AppendRune(buf, r)
		p.i += n
	}
	p.fail("a closing quote")
	return nil
}

// canonicalEscape decodes the escape sequence at the start of s (which begins with a
// backslash) if appendString could have written it, and returns its length, or 0.
func canonicalEscape(s []byte) (rune, int) {
	if len(s) < 2 {
		return 0, 0
	}
	switch s[1] {
	case '"', '\\':
		return rune(s[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if len(s) < 6 {
			return 0, 0
		}
		switch u := string(s[2:6]); u {
		case "2028":
			return '\u2028', 6
		case "2029":
			return '\u2029', 6
		default:
			hi, lo := strings.IndexByte("01", u[2]), strings.IndexByte(hexDigits, u[3])
			if u[:2] != "00" || hi < 0 || lo < 0 {
				return 0, 0
			}
			r := rune(hi<<4 | lo)
			if strings.ContainsRune("\b\f\n\r\t", r) {
				return 0, 0 // appendString writes these by name
			}
			return r, 6
		}
	}
	return 0, 0
}

// uint consumes prefix and then a decimal integer without sign or leading zeros that fits
// a uint64.
func (p *parser) uint(prefix string) uint64 {
	if !p.lit(prefix) {
		return 0
	}
	start := p.i
	var v uint64
	for ; p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9'; p.i++ {
		d := uint64(p.b[p.i] - '0')
		if v > (1<<64-1-d)/10 {
			p.fail("a number that fits 64 bits")
			return 0
		}
		v = v*10 + d
	}
	if n := p.i - start; n == 0 || (n > 1 && p.b[start] == '0') {
		p.fail("a decimal integer without leading zeros")
		return 0
	}
	return v
}

// int consumes prefix and then a decimal integer, negative with a minus sign, that fits an
// int64.
func (p *parser) int(prefix string) int64 {
	if !p.lit(prefix) {
		return 0
	}
	neg := p.peek('-')
	if neg {
		p.i++
	}
	u := p.uint("")
	switch {
	case p.err != nil:
		return 0
	case neg && u == 0, !neg && u > 1<<63-1, neg && u > 1<<63:
		p.fail("an integer that fits 64 bits, without -0")
		return 0
	case neg:
		return -int64(u-1) - 1 // -(1<<63) too
	}
	return int64(u)
}

// time consumes prefix and then a quoted time in TimeLayout, and returns it in UTC
// microseconds.
func (p *parser) time(prefix string) int64 {
	const n = len(TimeLayout)
	if !p.lit(prefix) {
		return 0
	}
	rest := p.b[p.i:]
	if len(rest) < n+2 || rest[0] != '"' || rest[n+1] != '"' {
		p.fail("a quoted time of the form " + TimeLayout)
		return 0
	}
	micros, ok := parseCanonicalTime(string(rest[1 : n+1]))
	if !ok {
		p.fail("a valid time of the form " + TimeLayout)
		return 0
	}
	p.i += n + 2
	return micros
}

// json consumes one JSON object and decodes it into v with strictUnmarshal.
func (p *parser) json(v any) {
	raw := p.object()
	if p.err != nil {
		return
	}
	if err := strictUnmarshal(raw, v); err != nil {
		p.err = err
	}
}

// object consumes one JSON object, only as far as to find its end: brackets outside
// strings. Whether it is valid JSON is strictUnmarshal's business.
func (p *parser) object() []byte {
	if !p.peek('{') {
		p.fail("{")
		return nil
	}
	start, depth, inString := p.i, 0, false
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case inString && c == '\\':
			p.i++ // the escaped byte: at worst one past the end, where the loop stops
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				p.i++
				return p.b[start:p.i]
			}
		}
	}
	p.i = len(p.b)
	p.fail("the end of the object")
	return nil
}

// parseCanonicalTime parses s in TimeLayout (year 0000 to 9999) into UTC microseconds,
// refusing dates and clock times that do not exist as time.Parse does.
func parseCanonicalTime(s string) (int64, bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	frac, ok7 := digits(s[20:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs*microsPerSecond + frac, true
}

// digits parses s, decimal digits only.
func digits(s string) (int64, bool) {
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, true
}

// daysIn returns the number of days of month in year (proleptic Gregorian).
func daysIn(year, month int64) int64 {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (month+month/8)%2
}

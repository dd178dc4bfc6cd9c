package audit_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict JSON reader (RFC 8259) that keeps the order of object members, refuses
// duplicate members and invalid UTF-8, and keeps numbers as their raw text, so that the
// typed decoding in entry_test.go can apply FORMAT.md's rules to them. It is written here
// rather than borrowed from encoding/json because encoding/json forgives duplicates and
// matches member names without regard to case.

type kind int

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
)

type value struct {
	kind kind
	str  string // a string's decoded text, a number's raw text, "true"/"false"
	arr  []value
	obj  []member
}

type member struct {
	key string
	val value
}

type reader struct {
	b []byte
	i int
}

func parseJSON(b []byte) (value, error) {
	r := &reader{b: b}
	v, err := r.value(0)
	if err != nil {
		return value{}, err
	}
	r.space()
	if r.i != len(r.b) {
		return value{}, fmt.Errorf("trailing data at byte %d", r.i)
	}
	return v, nil
}

func (r *reader) space() {
	for r.i < len(r.b) && strings.IndexByte(" \t\r\n", r.b[r.i]) >= 0 {
		r.i++
	}
}

func (r *reader) errf(format string, a ...any) error {
	return fmt.Errorf("byte %d: %s", r.i, fmt.Sprintf(format, a...))
}

func (r *reader) value(depth int) (value, error) {
	if depth > 32 {
		return value{}, r.errf("nested too deep")
	}
	r.space()
	if r.i >= len(r.b) {
		return value{}, r.errf("unexpected end")
	}
	switch c := r.b[r.i]; {
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		s, err := r.string()
		return value{kind: kStr, str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(string(r.b[r.i:]), lit) {
			r.i += len(lit)
			if lit == "null" {
				return value{kind: kNull}, nil
			}
			return value{kind: kBool, str: lit}, nil
		}
	}
	return value{}, r.errf("unexpected %q", r.b[r.i])
}

func (r *reader) object(depth int) (value, error) {
	v := value{kind: kObj}
	seen := map[string]bool{}
	r.i++ // {
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return v, nil
	}
	for {
		r.space()
		if r.i >= len(r.b) || r.b[r.i] != '"' {
			return v, r.errf("want a member name")
		}
		k, err := r.string()
		if err != nil {
			return v, err
		}
		if seen[k] {
			return v, r.errf("duplicate member %q", k)
		}
		seen[k] = true
		r.space()
		if r.i >= len(r.b) || r.b[r.i] != ':' {
			return v, r.errf("want ':'")
		}
		r.i++
		m, err := r.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.obj = append(v.obj, member{k, m})
		if done, err := r.next('}'); done || err != nil {
			return v, err
		}
	}
}

func (r *reader) array(depth int) (value, error) {
	v := value{kind: kArr}
	r.i++ // [
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return v, nil
	}
	for {
		e, err := r.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.arr = append(v.arr, e)
		if done, err := r.next(']'); done || err != nil {
			return v, err
		}
	}
}

// next consumes ',' (false) or the closing byte (true).
func (r *reader) next(closing byte) (bool, error) {
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ',' {
		r.i++
		return false, nil
	}
	if r.i < len(r.b) && r.b[r.i] == closing {
		r.i++
		return true, nil
	}
	return false, r.errf("want ',' or %q", closing)
}

func (r *reader) number() (value, error) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	if r.i < len(r.b) && r.b[r.i] == '0' {
		r.i++
	} else if digits() == 0 {
		return value{}, r.errf("bad number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return value{}, r.errf("bad fraction")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return value{}, r.errf("bad exponent")
		}
	}
	return value{kind: kNum, str: string(r.b[start:r.i])}, nil
}

func (r *reader) string() (string, error) {
	r.i++ // "
	var sb strings.Builder
	for {
		if r.i >= len(r.b) {
			return "", r.errf("unterminated string")
		}
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return sb.String(), nil
		case c < 0x20:
			return "", r.errf("raw control character in a string")
		case c == '\\':
			if err := r.escape(&sb); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			sb.WriteByte(c)
			r.i++
		default:
			ru, n := utf8.DecodeRune(r.b[r.i:])
			if ru == utf8.RuneError && n <= 1 {
				return "", r.errf("invalid UTF-8")
			}
			sb.WriteRune(ru)
			r.i += n
		}
	}
}

func (r *reader) escape(sb *strings.Builder) error {
	if r.i+1 >= len(r.b) {
		return r.errf("unterminated escape")
	}
	c := r.b[r.i+1]
	r.i += 2
	if k := strings.IndexByte(`"\/bfnrt`, c); k >= 0 {
		sb.WriteByte("\"\\/\b\f\n\r\t"[k])
		return nil
	}
	if c != 'u' {
		return r.errf("bad escape \\%c", c)
	}
	u1, err := r.hex4()
	if err != nil {
		return err
	}
	if !utf16.IsSurrogate(u1) {
		sb.WriteRune(u1)
		return nil
	}
	if r.i+1 >= len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
		return r.errf("lone surrogate")
	}
	r.i += 2
	u2, err := r.hex4()
	if err != nil {
		return err
	}
	ru := utf16.DecodeRune(u1, u2)
	if ru == utf8.RuneError {
		return r.errf("bad surrogate pair")
	}
	sb.WriteRune(ru)
	return nil
}

func (r *reader) hex4() (rune, error) {
	if r.i+4 > len(r.b) {
		return 0, r.errf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(r.b[r.i:r.i+4]), 16, 16)
	if err != nil {
		return 0, r.errf("bad \\u escape")
	}
	r.i += 4
	return rune(n), nil
}

// members returns an object's members by name, requiring exactly the names given: none
// missing, none unknown (order is left to the byte comparison of the re-encoding).
func members(v value, names ...string) (map[string]value, error) {
	if v.kind != kObj {
		return nil, errors.New("not an object")
	}
	m := make(map[string]value, len(v.obj))
	for _, mb := range v.obj {
		m[mb.key] = mb.val
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return nil, fmt.Errorf("member %q missing", n)
		}
	}
	if len(m) != len(names) {
		return nil, fmt.Errorf("unknown member among %q", keys(v))
	}
	return m, nil
}

func keys(v value) []string {
	var ks []string
	for _, mb := range v.obj {
		ks = append(ks, mb.key)
	}
	return ks
}

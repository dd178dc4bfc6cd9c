package audit_test

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The canonical writer: FORMAT.md, "The bytes", rule by rule.

type canon struct{ b []byte }

// str writes a JSON string escaped exactly as FORMAT.md lists.
func (c *canon) str(s string) {
	c.b = append(c.b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			c.b = append(c.b, `\"`...)
		case r == '\\':
			c.b = append(c.b, `\\`...)
		case r == '\b':
			c.b = append(c.b, `\b`...)
		case r == '\f':
			c.b = append(c.b, `\f`...)
		case r == '\n':
			c.b = append(c.b, `\n`...)
		case r == '\r':
			c.b = append(c.b, `\r`...)
		case r == '\t':
			c.b = append(c.b, `\t`...)
		case r < 0x20:
			c.b = append(c.b, fmt.Sprintf(`\u%04x`, r)...)
		case r == 0x2028 || r == 0x2029:
			c.b = append(c.b, fmt.Sprintf(`\u%04x`, r)...)
		default:
			c.b = append(c.b, string(r)...)
		}
	}
	c.b = append(c.b, '"')
}

func (c *canon) raw(s string) { c.b = append(c.b, s...) }

// key writes `"name":`, preceded by a comma unless it opens its object.
func (c *canon) key(name string) {
	if n := len(c.b); n > 0 && c.b[n-1] != '{' {
		c.b = append(c.b, ',')
	}
	c.str(name)
	c.b = append(c.b, ':')
}

func (c *canon) uint(n uint64) { c.b = strconv.AppendUint(c.b, n, 10) }

// amount writes minor units as a string with exactly scale fractional digits.
func (c *canon) amount(minor int64, scale int) { c.str(formatAmount(minor, scale)) }

func (c *canon) time(t time.Time) { c.str(t.UTC().Format(timeLayout)) }

// sortedKeys gives a map's keys in byte order, as FORMAT.md sorts policy maps.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks) // Go compares strings byte by byte
	return ks
}

// --- values: integers, amounts, times ---

const timeLayout = "2006-01-02T15:04:05.000000Z"

var (
	intRE  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	timeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$`)
)

func asString(v value) (string, error) {
	if v.kind != kStr {
		return "", errors.New("not a string")
	}
	return v.str, nil
}

// asUint reads a member FORMAT.md calls an integer: decimal, no sign, exponent or
// leading zero.
func asUint(v value) (uint64, error) {
	if v.kind != kNum || !intRE.MatchString(v.str) {
		return 0, fmt.Errorf("not a canonical integer: %q", v.str)
	}
	return strconv.ParseUint(v.str, 10, 64)
}

func asTime(v value) (time.Time, error) {
	s, err := asString(v)
	if err != nil {
		return time.Time{}, err
	}
	if !timeRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("time %q is not YYYY-MM-DDTHH:MM:SS.ffffffZ", s)
	}
	return time.Parse(timeLayout, s)
}

// parseAmount reads a string amount at exactly scale fractional digits into minor units.
func parseAmount(s string, scale int) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if dot != (scale > 0) || len(frac) != scale || !intRE.MatchString(whole) || len(whole) > 12 {
		return 0, fmt.Errorf("amount %q is not a plain decimal at scale %d", s, scale)
	}
	for _, d := range frac {
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("amount %q has a bad fraction", s)
		}
	}
	if scale > 6 {
		return 0, fmt.Errorf("scale %d is beyond this verifier's int64 minor units", scale)
	}
	return strconv.ParseInt(whole+frac, 10, 64)
}

func formatAmount(minor int64, scale int) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	for len(s) <= scale {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func asAmount(v value, scale int) (int64, error) {
	s, err := asString(v)
	if err != nil {
		return 0, err
	}
	return parseAmount(s, scale)
}

package ledger

import (
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEntry appends the canonical bytes of e to dst (docs/FORMAT.md). Its errors are
// EncodeEntry's.
func appendEntry(dst []byte, e *Entry, assets Assets) ([]byte, error) {
	dst = strconv.AppendUint(append(dst, `{"seq":`...), e.Seq, 10)
	dst = append(appendTime(append(dst, `,"time":"`...), e.TimeMicros), '"')
	dst = appendStr(dst, `,"type":`, string(e.Type))
	dst = appendStr(dst, `,"actor":`, e.Actor)
	dst = appendStr(dst, `,"idempotency_key":`, e.IdempotencyKey)
	dst, err := appendBody(append(dst, `,"body":`...), e.Body)
	if err != nil {
		return nil, err
	}
	dst = append(dst, `,"postings":[`...)
	for i, p := range e.Postings {
		scale, ok := assets.Scale(p.Asset)
		if !ok {
			return nil, fmt.Errorf("ledger: entry %d posts unknown asset %q", e.Seq, p.Asset)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStr(dst, `{"from":`, string(p.From))
		dst = appendStr(dst, `,"to":`, string(p.To))
		dst = appendStr(dst, `,"asset":`, p.Asset)
		dst = appendAmount(append(dst, `,"amount":"`...), p.Amount, scale)
		dst = append(dst, `"}`...)
	}
	return append(dst, "]}"...), nil
}

// canonicalBody is a body type with a hand-written canonical codec (codec_bodies.go). Every
// type NewBody returns is one (checked at compile time there); appendBody and parseBody
// dispatch to them (TestEveryTypeRoundTrips checks that they miss none).
type canonicalBody interface {
	Body
	// appendCanonical appends the body's canonical JSON, or null for a nil receiver.
	appendCanonical(dst []byte) []byte
	// parseCanonical reads the body's canonical JSON from p into the receiver.
	parseCanonical(p *parser)
}

// appendBody appends the canonical JSON of b: null for nil, encoding/json for a body type
// of another package (as the reference encoder did). The switch, not a call through
// canonicalBody, keeps dst on the caller's stack: escape analysis cannot see through an
// interface method.
func appendBody(dst []byte, b Body) ([]byte, error) {
	switch b := b.(type) {
	case nil:
		return append(dst, null...), nil
	case *GenesisBody:
		return b.appendCanonical(dst), nil
	case *PolicyBody:
		return b.appendCanonical(dst), nil
	case *OpenBody:
		return b.appendCanonical(dst), nil
	case *FreezeBody:
		return b.appendCanonical(dst), nil
	case *LinkBody:
		return b.appendCanonical(dst), nil
	case *CreditBody:
		return b.appendCanonical(dst), nil
	case *RedemptionBody:
		return b.appendCanonical(dst), nil
	case *HoldBody:
		return b.appendCanonical(dst), nil
	case *SettleBody:
		return b.appendCanonical(dst), nil
	case *VoidBody:
		return b.appendCanonical(dst), nil
	case *TransferBody:
		return b.appendCanonical(dst), nil
	case *DonationBody:
		return b.appendCanonical(dst), nil
	case *GrantBody:
		return b.appendCanonical(dst), nil
	case *ConversionBody:
		return b.appendCanonical(dst), nil
	case *ReversalBody:
		return b.appendCanonical(dst), nil
	}
	raw, err := marshalJSON(b)
	if err != nil {
		return nil, err
	}
	return append(dst, raw...), nil
}

// parseBody reads the canonical JSON of body's type from p into body, one that NewBody
// returned. A switch for the reason appendBody has one.
func parseBody(p *parser, body Body) {
	switch b := body.(type) {
	case *GenesisBody:
		b.parseCanonical(p)
	case *PolicyBody:
		b.parseCanonical(p)
	case *OpenBody:
		b.parseCanonical(p)
	case *FreezeBody:
		b.parseCanonical(p)
	case *LinkBody:
		b.parseCanonical(p)
	case *CreditBody:
		b.parseCanonical(p)
	case *RedemptionBody:
		b.parseCanonical(p)
	case *HoldBody:
		b.parseCanonical(p)
	case *SettleBody:
		b.parseCanonical(p)
	case *VoidBody:
		b.parseCanonical(p)
	case *TransferBody:
		b.parseCanonical(p)
	case *DonationBody:
		b.parseCanonical(p)
	case *GrantBody:
		b.parseCanonical(p)
	case *ConversionBody:
		b.parseCanonical(p)
	case *ReversalBody:
		b.parseCanonical(p)
	default:
		panic(fmt.Sprintf("ledger: no canonical parser for %T", body))
	}
}

// appendStr appends the member prefix and then s as a JSON string.
func appendStr(dst []byte, prefix, s string) []byte {
	return appendString(append(dst, prefix...), s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted and escaped exactly as encoding/json (go1.26, not the jsonv2
// experiment) does with SetEscapeHTML(false): `"` and `\` with a backslash; \b \f \n \r \t
// by name; other bytes below 0x20 as \u00xx in lower-case hex; U+2028 and U+2029 as
// \u2028 and \u2029; each byte of invalid UTF-8 as \ufffd; everything else as itself.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plainByte[s[i]] {
			i++
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}

// plainByte tells the bytes appendString copies as they are without looking further:
// printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendAmount appends FormatAmount(v, scale) (and panics as it does on a bad scale).
func appendAmount(dst []byte, v int64, scale int) []byte {
	if scale < 0 || scale > MaxScale {
		panic("ledger: FormatAmount scale out of range")
	}
	u := uint64(v)
	if v < 0 {
		u = uint64(-v) // two's complement: correct also for math.MinInt64
	}
	var b [24]byte // sign, 19 digits, point
	i := len(b)
	for range scale {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if scale > 0 {
		i--
		b[i] = '.'
	}
	for {
		i--
		b[i] = byte('0' + u%10)
		if u /= 10; u == 0 {
			break
		}
	}
	if v < 0 {
		i--
		b[i] = '-'
	}
	return append(dst, b[i:]...)
}

// The UTC microseconds of 1970-01-01 and of 10000-01-01: appendTime formats the times
// between by hand and leaves the rest (far outside any ledger) to package time.
const (
	fastTimeMinMicros = 0
	fastTimeEndMicros = 253402300800 * microsPerSecond
)

// appendTime appends FormatTime(micros) without the quotes.
func appendTime(dst []byte, micros int64) []byte {
	if micros < fastTimeMinMicros || micros >= fastTimeEndMicros {
		return time.UnixMicro(micros).UTC().AppendFormat(dst, TimeLayout)
	}
	secs, frac := micros/microsPerSecond, micros%microsPerSecond
	year, month, day := civilFromDays(secs / 86400)
	sod := secs % 86400
	dst = append4(dst, year)
	dst = append2(append(dst, '-'), month)
	dst = append2(append(dst, '-'), day)
	dst = append2(append(dst, 'T'), sod/3600)
	dst = append2(append(dst, ':'), sod/60%60)
	dst = append2(append(dst, ':'), sod%60)
	dst = append(dst, '.',
		byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
	return dst
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// civilFromDays converts days since 1970-01-01 (≥ 0) to the proleptic Gregorian date
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
func civilFromDays(days int64) (year, month, day int64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1
	mp := (5*doy + 2) / 153                                // [0, 11], March = 0
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// daysFromCivil is the inverse of civilFromDays, for any year ≥ 0 (negative results
// before 1970).
func daysFromCivil(year, month, day int64) int64 {
	if month <= 2 {
		year--
	}
	era := year
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := year - era*400
	mp := (month + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// appendMap appends m as encoding/json does: null when nil, else the members sorted by key
// (byte order), each value through appendV.
func appendMap[K ~string, V any](dst []byte, m map[K]V, appendV func([]byte, V) []byte) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, string(k))
		dst = appendV(append(dst, ':'), m[k])
	}
	return append(dst, '}')
}

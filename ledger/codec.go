package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TimeLayout is the canonical time format: UTC, always six fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime formats UTC microseconds in TimeLayout.
func FormatTime(micros int64) string {
	var b [len(TimeLayout) + 8]byte
	return string(appendTime(b[:0], micros))
}

// EntryTimeInRange reports whether an entry may have time micros: its canonical form has a
// four-digit year, so times from 0000-01-01 to 9999-12-31T23:59:59.999999Z.
func EntryTimeInRange(micros int64) bool {
	return minEntryTimeMicros <= micros && micros < fastTimeEndMicros
}

// minEntryTimeMicros is 0000-01-01T00:00:00Z in UTC microseconds.
const minEntryTimeMicros = -62167219200 * microsPerSecond

// ParseTime parses an RFC 3339 time (any offset, at most microsecond precision) into UTC
// microseconds. The instant's year in UTC must be 2000 to 9999, whatever the offset: the
// entry holds the time in UTC (TimeLayout, a four-digit year), and Apply and every replay
// parse that form again. Errors are *Error invalid_time naming field.
func ParseTime(field, s string) (int64, error) {
	if len(s) > 40 || !rfc3339Shape(s) {
		return 0, badTime(field, s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Nanosecond()%1000 != 0 {
		return 0, badTime(field, s)
	}
	if y := t.UTC().Year(); y < 2000 || y > 9999 {
		return 0, badTime(field, s)
	}
	return t.UnixMicro(), nil
}

// rfc3339Shape reports whether s has the shape of RFC 3339's date-time:
// YYYY-MM-DDTHH:MM:SS, an optional fraction (a period and digits, none past the sixth but
// zeros), then Z or ±HH:MM with an offset hour of 00 to 23 and minute of 00 to 59. time.Parse
// checks the ranges of the date and the clock, but its general parser, where it falls back,
// also takes a one-digit hour, a comma before the fraction, offsets of 24 hours or 60 minutes,
// and drops digits past the nanosecond.
func rfc3339Shape(s string) bool {
	const head = "2006-01-02T15:04:05"
	if len(s) <= len(head) {
		return false
	}
	for i := 0; i < len(head); i++ {
		if c := head[i]; c == '-' || c == 'T' || c == ':' {
			if s[i] != c {
				return false
			}
		} else if !isDigit(s[i]) {
			return false
		}
	}
	s = s[len(head):]
	if s[0] == '.' {
		n := 1
		for n < len(s) && isDigit(s[n]) {
			if n > 6 && s[n] != '0' {
				return false // past the microsecond
			}
			n++
		}
		if n == 1 {
			return false
		}
		s = s[n:]
	}
	if s == "Z" {
		return true
	}
	return len(s) == 6 && (s[0] == '+' || s[0] == '-') && isDigit(s[1]) && isDigit(s[2]) && s[3] == ':' &&
		isDigit(s[4]) && isDigit(s[5]) && (s[1]-'0')*10+(s[2]-'0') <= 23 && s[4] <= '5'
}

func badTime(field, s string) *Error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return Errorf(CodeInvalidTime, "%s %q is not a valid RFC 3339 time such as 2026-11-29T09:00:00+08:00.", field, s).
		With("field", field)
}

// The codec is hand-written for speed (the server encodes every entry on its hot path and
// `timebank verify` decodes every line of the log): codec_encode.go appends the canonical
// bytes without reflection, codec_decode.go expects them member by member, codec_bodies.go
// holds both directions of each body type side by side. The encoding/json implementation
// it replaced is kept as the reference in codec_ref_test.go, and FuzzCodecMatchesReference
// holds the two to the same bytes.

// entryBufBytes is the stack buffer an entry is encoded into before it is copied out; a
// credit is about 500 bytes. Longer entries still encode, on the heap.
const entryBufBytes = 1024

// EncodeEntry returns the canonical bytes of e (docs/FORMAT.md): JSON in a fixed field order,
// no insignificant whitespace, no HTML escaping, amounts as strings at their asset's scale,
// no trailing newline. These bytes are the Merkle leaf and the export line. The only error
// is a posting in an asset that assets does not know (or, for a Body type of another
// package, what encoding/json says of it).
func EncodeEntry(e *Entry, assets Assets) ([]byte, error) {
	var buf [entryBufBytes]byte
	b, err := appendEntry(buf[:0], e, assets)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// AppendEntry appends the canonical bytes of e to dst, as EncodeEntry returns them: for a
// caller that encodes entry after entry into one buffer (the store's sequencer, replay).
func AppendEntry(dst []byte, e *Entry, assets Assets) ([]byte, error) {
	return appendEntry(dst, e, assets)
}

// marshal returns the canonical JSON of v: for the body types of this package, the same
// bytes the entry holds; anything else through encoding/json with HTML escaping off.
func marshal(v any) ([]byte, error) {
	if b, ok := v.(Body); ok {
		return appendBody(nil, b)
	}
	return marshalJSON(v)
}

// marshalJSON is encoding/json with HTML escaping off and without the trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrNotCanonical reports bytes that decode but are not the canonical encoding of their entry.
var ErrNotCanonical = errors.New("ledger: entry bytes are not canonical")

// DecodeEntry parses canonical bytes back into an entry. It is strict: unknown fields, a
// body that does not fit its type, an amount not at its asset's scale, or any byte that the
// canonical encoding of the result would not reproduce is an error (ErrNotCanonical for
// the last). The entry keeps no reference to b.
func DecodeEntry(b []byte, assets Assets) (*Entry, error) {
	e, err := parseEntry(b, assets)
	if err != nil {
		return nil, err
	}
	// The parser accepts only canonical shapes, but the proof of canonicity is this
	// comparison: whatever it let through must encode back to exactly b.
	var buf [entryBufBytes]byte
	again, err := appendEntry(buf[:0], e, assets)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w (entry %d)", ErrNotCanonical, e.Seq)
	}
	return e, nil
}

// ParseEntry is DecodeEntry without its last step, the proof that b is canonical: for a
// caller that proves it another way. verify compares the encoding of the entry the rules
// re-decide from the result with b (CheckEntry), which only canonical bytes can equal.
func ParseEntry(b []byte, assets Assets) (*Entry, error) { return parseEntry(b, assets) }

// NewBody returns an empty body of entry type t, or nil for an unknown type.
func NewBody(t Type) Body {
	switch t {
	case TypeGenesis:
		return &GenesisBody{}
	case TypeOpen:
		return &OpenBody{}
	case TypeFreeze:
		return &FreezeBody{}
	case TypeUnfreeze:
		return &FreezeBody{Unfreeze: true}
	case TypeLink:
		return &LinkBody{}
	case TypeCredit:
		return &CreditBody{}
	case TypeRedemption:
		return &RedemptionBody{}
	case TypeHold:
		return &HoldBody{}
	case TypeSettle:
		return &SettleBody{}
	case TypeVoid:
		return &VoidBody{}
	case TypeTransfer:
		return &TransferBody{}
	case TypeDonation:
		return &DonationBody{}
	case TypeGrant:
		return &GrantBody{}
	case TypeConversion:
		return &ConversionBody{}
	case TypeReversal:
		return &ReversalBody{}
	case TypePolicy:
		return &PolicyBody{}
	}
	return nil
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

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
	return time.UnixMicro(micros).UTC().Format(TimeLayout)
}

// ParseTime parses an RFC 3339 time (any offset, at most microsecond precision) into UTC
// microseconds. Errors are *Error invalid_time naming field.
func ParseTime(field, s string) (int64, error) {
	if len(s) > 40 {
		return 0, badTime(field, s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Nanosecond()%1000 != 0 || t.Year() < 2000 || t.Year() > 9999 {
		return 0, badTime(field, s)
	}
	return t.UnixMicro(), nil
}

func badTime(field, s string) *Error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return Errorf(CodeInvalidTime, "%s %q is not a valid RFC 3339 time such as 2026-11-29T09:00:00+08:00.", field, s).
		With("field", field)
}

// wireEntry is the canonical JSON of an entry; its field order is the canonical order.
type wireEntry struct {
	Seq            uint64          `json:"seq"`
	Time           string          `json:"time"`
	Type           Type            `json:"type"`
	Actor          string          `json:"actor"`
	IdempotencyKey string          `json:"idempotency_key"`
	Body           json.RawMessage `json:"body"`
	Postings       []wirePosting   `json:"postings"`
}

type wirePosting struct {
	From   AccountID `json:"from"`
	To     AccountID `json:"to"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
}

// EncodeEntry returns the canonical bytes of e (docs/FORMAT.md): JSON in a fixed field order,
// no insignificant whitespace, no HTML escaping, amounts as strings at their asset's scale,
// no trailing newline. These bytes are the Merkle leaf and the export line.
func EncodeEntry(e *Entry, assets Assets) ([]byte, error) {
	body, err := marshal(e.Body)
	if err != nil {
		return nil, err
	}
	w := wireEntry{
		Seq: e.Seq, Time: FormatTime(e.TimeMicros), Type: e.Type, Actor: e.Actor,
		IdempotencyKey: e.IdempotencyKey, Body: body, Postings: make([]wirePosting, len(e.Postings)),
	}
	for i, p := range e.Postings {
		scale, ok := assets.Scale(p.Asset)
		if !ok {
			return nil, fmt.Errorf("ledger: entry %d posts unknown asset %q", e.Seq, p.Asset)
		}
		w.Postings[i] = wirePosting{From: p.From, To: p.To, Asset: p.Asset, Amount: FormatAmount(p.Amount, scale)}
	}
	return marshal(w)
}

func marshal(v any) ([]byte, error) {
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
// canonical encoding of the result would not reproduce is an error.
func DecodeEntry(b []byte, assets Assets) (*Entry, error) {
	var w wireEntry
	if err := strictUnmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("ledger: decode entry: %w", err)
	}
	t, err := time.Parse(TimeLayout, w.Time)
	if err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: time: %w", w.Seq, err)
	}
	body, err := decodeBody(w.Type, w.Body)
	if err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: body: %w", w.Seq, err)
	}
	e := &Entry{Seq: w.Seq, TimeMicros: t.UnixMicro(), Type: w.Type, Actor: w.Actor,
		IdempotencyKey: w.IdempotencyKey, Body: body, Postings: make([]Posting, len(w.Postings))}
	for i, p := range w.Postings {
		scale, ok := assets.Scale(p.Asset)
		if !ok {
			return nil, fmt.Errorf("ledger: decode entry %d: unknown asset %q", w.Seq, p.Asset)
		}
		v, err := ParseAmount(p.Amount, scale)
		if err != nil {
			return nil, fmt.Errorf("ledger: decode entry %d: posting %d: %w", w.Seq, i, err)
		}
		e.Postings[i] = Posting{From: p.From, To: p.To, Asset: p.Asset, Amount: v}
	}
	again, err := EncodeEntry(e, assets)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w (entry %d)", ErrNotCanonical, w.Seq)
	}
	return e, nil
}

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

func decodeBody(t Type, raw json.RawMessage) (Body, error) {
	body := NewBody(t)
	if body == nil {
		return nil, fmt.Errorf("unknown entry type %q", t)
	}
	if err := strictUnmarshal(raw, body); err != nil {
		return nil, err
	}
	return body, nil
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

package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The encoding/json codec that the hand-written one replaced, kept verbatim (renamed) as
// the reference that FuzzCodecMatchesReference holds the fast codec to. Do not "fix" it: it
// is the definition of the canonical bytes that the logs in the field were written with.

// refWireEntry is the canonical JSON of an entry; its field order is the canonical order.
type refWireEntry struct {
	Seq            uint64           `json:"seq"`
	Time           string           `json:"time"`
	Type           Type             `json:"type"`
	Actor          string           `json:"actor"`
	IdempotencyKey string           `json:"idempotency_key"`
	Body           json.RawMessage  `json:"body"`
	Postings       []refWirePosting `json:"postings"`
}

type refWirePosting struct {
	From   AccountID `json:"from"`
	To     AccountID `json:"to"`
	Asset  string    `json:"asset"`
	Amount string    `json:"amount"`
}

func refEncodeEntry(e *Entry, assets Assets) ([]byte, error) {
	body, err := refMarshal(e.Body)
	if err != nil {
		return nil, err
	}
	w := refWireEntry{
		Seq: e.Seq, Time: FormatTime(e.TimeMicros), Type: e.Type, Actor: e.Actor,
		IdempotencyKey: e.IdempotencyKey, Body: body, Postings: make([]refWirePosting, len(e.Postings)),
	}
	for i, p := range e.Postings {
		scale, ok := assets.Scale(p.Asset)
		if !ok {
			return nil, fmt.Errorf("ledger: entry %d posts unknown asset %q", e.Seq, p.Asset)
		}
		w.Postings[i] = refWirePosting{From: p.From, To: p.To, Asset: p.Asset, Amount: FormatAmount(p.Amount, scale)}
	}
	return refMarshal(w)
}

// refMarshal is marshalJSON written out again on purpose: the reference side of the
// differential tests must not share code with the encoder it checks (which falls back to
// marshalJSON for some bodies), so that a change to one is caught by the other.
func refMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func refDecodeEntry(b []byte, assets Assets) (*Entry, error) {
	var w refWireEntry
	if err := refStrictUnmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("ledger: decode entry: %w", err)
	}
	t, err := time.Parse(TimeLayout, w.Time)
	if err != nil {
		return nil, fmt.Errorf("ledger: decode entry %d: time: %w", w.Seq, err)
	}
	body, err := refDecodeBody(w.Type, w.Body)
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
	again, err := refEncodeEntry(e, assets)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w (entry %d)", ErrNotCanonical, w.Seq)
	}
	return e, nil
}

func refDecodeBody(t Type, raw json.RawMessage) (Body, error) {
	body := NewBody(t)
	if body == nil {
		return nil, fmt.Errorf("unknown entry type %q", t)
	}
	if err := refStrictUnmarshal(raw, body); err != nil {
		return nil, err
	}
	return body, nil
}

func refStrictUnmarshal(b []byte, v any) error {
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

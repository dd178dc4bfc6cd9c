package ledger

import (
	"bytes"
	"fmt"
)

// RequestOf rebuilds the request an entry was decided from: the principal from its actor, its
// key and its (normalised) body. Decide on the state before e must reproduce e exactly.
func RequestOf(e *Entry) (Request, error) {
	p, ok := ParseActor(e.Actor)
	if !ok {
		return Request{}, fmt.Errorf("entry %d: actor %q is not a principal", e.Seq, truncate(e.Actor, 80))
	}
	return Request{Principal: p, IdempotencyKey: e.IdempotencyKey, Body: e.Body}, nil
}

// Replayer re-decides logged entries one by one against a State and applies them: the heart
// of `timebank verify`. It checks that seqs are gapless, times strictly increase, and that
// every rule, given the policy in force at that seq, reproduces the entry byte for byte.
type Replayer struct {
	St       State
	Assets   Assets // nil until genesis is replayed
	LastSeq  uint64
	LastTime int64
	buf      []byte // the replayed entry's bytes, reused from entry to entry
}

// Step replays one entry whose canonical bytes are raw (nil: encode e). It returns an error
// naming the entry on the first difference. It is Decide, Check and Apply in turn; a caller
// may run Check on another goroutine (with CheckEntry), in entry order.
func (r *Replayer) Step(e *Entry, raw []byte) error {
	got, err := r.Decide(e)
	if err != nil {
		return err
	}
	if raw == nil {
		if raw, err = EncodeEntry(e, r.Assets); err != nil {
			return err
		}
	}
	if r.buf, err = CheckEntry(r.buf, got, raw, r.Assets); err != nil {
		return err
	}
	return r.Apply(got)
}

// Decide checks that e follows the last entry replayed (seq, time) and re-decides its
// request against the state: the entry the rules make of it, which Check compares with the
// logged bytes and Apply applies.
func (r *Replayer) Decide(e *Entry) (*Entry, error) {
	if e.Seq != r.LastSeq+1 {
		return nil, fmt.Errorf("entry %d: expected seq %d (entries missing or out of order)", e.Seq, r.LastSeq+1)
	}
	if e.Seq > 1 && e.TimeMicros <= r.LastTime {
		return nil, fmt.Errorf("entry %d: time %s is not after entry %d's", e.Seq, FormatTime(e.TimeMicros), r.LastSeq)
	}
	req, err := RequestOf(e)
	if err != nil {
		return nil, err
	}
	if err := r.actorExists(e, req.Principal); err != nil {
		return nil, err
	}
	got, err := Decide(r.St, req, e.Seq, e.TimeMicros)
	if err != nil {
		return nil, fmt.Errorf("entry %d (%s): the rules reject it on replay: %w", e.Seq, e.Type, err)
	}
	if e.Seq == 1 {
		r.Assets = got.Body.(*GenesisBody).Assets
	}
	return got, nil
}

// actorExists checks that the account a station, outlet or resident acted as is open: such a
// principal acts with a token, and a token names an existing account of its kind (SPEC §3), so
// no server writes an entry acted by an account the log has not opened. Most rules read the
// acting account and would refuse it anyway; `open` by a station does not.
func (r *Replayer) actorExists(e *Entry, p Principal) error {
	if p.Account == "" {
		return nil // the system (genesis) or an admin: no account
	}
	var a *Account
	var err error
	if pk, ok := r.St.(AccountPeeker); ok {
		a, err = pk.PeekAccount(p.Account)
	} else {
		a, err = r.St.Account(p.Account)
	}
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("entry %d (%s): actor %s is no account the log has opened: a %s acts with a token, which names an open account, so no server wrote this entry",
			e.Seq, e.Type, p.Account, p.Role)
	}
	return nil
}

// CheckEntry encodes got (an entry Decide made) into buf and compares it with the logged
// bytes raw; it returns buf for reuse. got and raw are only read.
func CheckEntry(buf []byte, got *Entry, raw []byte, assets Assets) ([]byte, error) {
	want, err := AppendEntry(buf[:0], got, assets)
	if err != nil {
		return buf, err
	}
	if !bytes.Equal(want, raw) {
		return want, fmt.Errorf("entry %d (%s): replay gives a different entry:\n logged:   %s\n replayed: %s", got.Seq, got.Type, raw, want)
	}
	return want, nil
}

// Apply applies got, the entry Decide made, to the state.
func (r *Replayer) Apply(got *Entry) error {
	if err := Apply(r.St, got); err != nil {
		return fmt.Errorf("entry %d: %w", got.Seq, err)
	}
	if m, ok := r.St.(*MemState); ok {
		m.Record(got)
	}
	r.LastSeq, r.LastTime = got.Seq, got.TimeMicros
	return nil
}

package ledger

import (
	"crypto/sha256"
	"slices"
)

// Fingerprint identifies a request for idempotency: SHA-256 of the entry type, a newline,
// and the canonical JSON of the body exactly as decoded (amounts as sent, before
// normalisation, path parameters included). Two requests with the same key are "the same"
// when their fingerprints are equal: whitespace and key order of the HTTP body do not
// matter, "2.5" and "2.50" do.
func Fingerprint(req Request) [32]byte {
	b, err := marshal(req.Body)
	if err != nil {
		// Bodies are plain structs of strings and integers: marshal cannot fail.
		panic("ledger: fingerprint: " + err.Error())
	}
	h := sha256.New()
	h.Write([]byte(req.Body.EntryType()))
	h.Write([]byte{'\n'})
	h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// Parties returns the accounts party to e, sorted and without repeats: every account of its
// postings, the acting account, and the accounts its body names (for settle and void, the
// hold's resident and payee, read from v; for a reversal, the parties of the entry it
// reverses, read from v). These are the accounts whose statements list e.
func Parties(v View, e *Entry) ([]AccountID, error) {
	return AppendParties(make([]AccountID, 0, 8), v, e)
}

// AppendParties appends Parties(v, e) to dst, for a caller that reuses one buffer from entry
// to entry (the store's sequencer, verify).
func AppendParties(dst []AccountID, v View, e *Entry) ([]AccountID, error) {
	// An entry names a handful of accounts: a small slice, sorted and compacted at the end,
	// costs far less than a map (this runs for every entry the store appends and verify replays).
	out := dst
	add := func(ids ...AccountID) {
		for _, id := range ids {
			if id != "" {
				out = append(out, id)
			}
		}
	}
	for _, p := range e.Postings {
		add(p.From, p.To)
	}
	if pr, ok := ParseActor(e.Actor); ok {
		add(pr.Account)
	}
	var holdID, reversed uint64
	switch b := e.Body.(type) {
	case *OpenBody:
		add(b.ID)
	case *FreezeBody:
		add(b.Account)
	case *LinkBody:
		add(b.A, b.B)
	case *CreditBody:
		add(b.Station, b.Volunteer)
	case *RedemptionBody:
		add(b.Payee)
	case *HoldBody:
		add(b.Payee)
	case *SettleBody:
		holdID = b.HoldID
	case *VoidBody:
		holdID = b.HoldID
	case *TransferBody:
		add(b.To)
	case *DonationBody:
		add(b.Pool)
	case *GrantBody:
		add(b.Pool, b.To)
	case *ReversalBody:
		reversed = b.Seq
	case *GenesisBody:
		for _, code := range b.Assets.Codes() {
			add(IssuerOf(code))
		}
	}
	if holdID != 0 {
		h, err := v.Hold(holdID)
		if err != nil {
			return nil, err
		}
		if h != nil {
			add(h.Resident, h.Payee)
		}
	}
	if reversed != 0 {
		// Reversals are not reversible, so this goes one entry deep.
		orig, err := v.Entry(reversed)
		if err != nil {
			return nil, err
		}
		if orig != nil {
			if out, err = AppendParties(out, v, orig); err != nil {
				return nil, err
			}
		}
	}
	mine := out[len(dst):]
	slices.Sort(mine)
	return out[:len(dst)+len(slices.Compact(mine))], nil
}

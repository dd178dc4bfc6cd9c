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
	a, b, holdID, reversed := bodyParties(e.Body)
	add(a, b)
	if g, ok := e.Body.(*GenesisBody); ok {
		for _, code := range g.Assets.Codes() {
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

// bodyParties returns the accounts body names (none, one or two; the issuers a genesis
// creates are the caller's), and the hold it settles or voids and the entry it reverses (0
// when none), whose parties are read from the state.
func bodyParties(body Body) (a, b AccountID, holdID, reversed uint64) {
	switch x := body.(type) {
	case *OpenBody:
		return x.ID, "", 0, 0
	case *FreezeBody:
		return x.Account, "", 0, 0
	case *LinkBody:
		return x.A, x.B, 0, 0
	case *CreditBody:
		return x.Station, x.Volunteer, 0, 0
	case *RedemptionBody:
		return x.Payee, "", 0, 0
	case *HoldBody:
		return x.Payee, "", 0, 0
	case *SettleBody:
		return "", "", x.HoldID, 0
	case *VoidBody:
		return "", "", x.HoldID, 0
	case *TransferBody:
		return x.To, "", 0, 0
	case *DonationBody:
		return x.Pool, "", 0, 0
	case *GrantBody:
		return x.Pool, x.To, 0, 0
	case *ReversalBody:
		return "", "", 0, x.Seq
	}
	return "", "", 0, 0
}

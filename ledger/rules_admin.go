package ledger

func decideGenesis(req Request, seq uint64, now int64) (*Entry, error) {
	b, ok := req.Body.(*GenesisBody)
	if seq != 1 || !ok || req.Principal.Role != RoleSystem {
		return nil, forbidden("Only the ledger itself writes the genesis entry, as entry 1.")
	}
	// The ledger writes it under this key and no other (docs/FORMAT.md): replay refuses a
	// genesis entry under another, which no server wrote.
	if req.IdempotencyKey != GenesisKey {
		return nil, forbidden("The genesis entry's Idempotency-Key is " + GenesisKey + ".")
	}
	n := &GenesisBody{Policy: b.Policy.withEmptyMaps()}
	if err := n.Policy.Compile(nil); err != nil {
		return nil, err
	}
	return &Entry{Seq: 1, TimeMicros: now, Type: TypeGenesis, Actor: req.Principal.Actor(),
		IdempotencyKey: req.IdempotencyKey, Body: n}, nil
}

func (d *decider) open(b *OpenBody) (Body, error) {
	n := *b
	var err error
	if n.ID, err = ParseAccountID(string(b.ID), false); err != nil {
		return nil, err
	}
	if err := d.role("open accounts", RoleAdmin, RoleStation); err != nil {
		return nil, err
	}
	if d.by.Role == RoleStation && n.ID.Kind() != KindResident {
		return nil, forbidden("A station may open resident accounts only.")
	}
	a, err := d.v.Account(n.ID)
	if err != nil {
		return nil, err
	}
	if a != nil {
		return nil, Errorf(CodeAccountExists, "Account %s already exists.", n.ID).With("account", string(n.ID))
	}
	return &n, nil
}

func (d *decider) freeze(b *FreezeBody) (Body, error) {
	n := *b
	var err error
	if n.Account, err = ParseAccountID(string(b.Account), false); err != nil {
		return nil, err
	}
	if err := CheckText("reason", b.Reason, MaxReasonChars, true); err != nil {
		return nil, err
	}
	if err := d.role("freeze or unfreeze accounts", RoleAdmin); err != nil {
		return nil, err
	}
	if _, err := d.account(n.Account); err != nil {
		return nil, err
	}
	return &n, nil
}

// Relations a link may name.
var relations = map[string]bool{"spouse": true, "parent": true, "child": true, "sibling": true,
	"grandparent": true, "grandchild": true, "other": true}

func (d *decider) link(b *LinkBody) (Body, error) {
	n := *b
	var err error
	if n.A, err = ParseRef("a", string(b.A), KindResident); err != nil {
		return nil, err
	}
	if n.B, err = ParseRef("b", string(b.B), KindResident); err != nil {
		return nil, err
	}
	if n.A == n.B {
		return nil, badField("b", "A resident cannot be linked to itself.")
	}
	if !relations[b.Relation] {
		return nil, badField("relation", "relation must be one of spouse, parent, child, sibling, grandparent, grandchild, other.")
	}
	if err := d.role("link accounts", RoleAdmin); err != nil {
		return nil, err
	}
	for _, id := range []AccountID{n.A, n.B} {
		if _, err := d.account(id); err != nil {
			return nil, err
		}
	}
	return &n, nil
}

func (d *decider) policy(b *PolicyBody) (Body, error) {
	n := &PolicyBody{Policy: b.Policy.withEmptyMaps()}
	if err := n.Policy.Compile(d.p.Assets); err != nil {
		return nil, err
	}
	if err := d.role("change the policy", RoleAdmin); err != nil {
		return nil, err
	}
	return n, nil
}

// Reversible entry types (SPEC §3).
var reversible = map[Type]bool{TypeCredit: true, TypeRedemption: true, TypeSettle: true, TypeTransfer: true,
	TypeDonation: true, TypeGrant: true, TypeConversion: true}

func (d *decider) reversal(b *ReversalBody) (Body, error) {
	n := *b
	if err := CheckText("reason", b.Reason, MaxReasonChars, true); err != nil {
		return nil, err
	}
	if err := d.role("reverse entries", RoleAdmin, RoleStation); err != nil {
		return nil, err
	}
	orig, err := d.v.Entry(b.Seq)
	if err != nil {
		return nil, err
	}
	if orig == nil || b.Seq >= d.e.Seq {
		return nil, Errorf(CodeNotFound, "Entry %d was not found.", b.Seq)
	}
	if d.by.Role == RoleStation {
		if err := d.stationMayReverse(orig); err != nil {
			return nil, err
		}
	}
	ps := make([]Posting, len(orig.Postings))
	ids := []AccountID{}
	for i, p := range orig.Postings {
		ps[i] = Posting{From: p.To, To: p.From, Asset: p.Asset, Amount: p.Amount}
		for _, id := range []AccountID{p.To, p.From} {
			if id.Kind() != KindIssuer {
				ids = append(ids, id)
			}
		}
	}
	if err := d.active(ids...); err != nil {
		return nil, err
	}
	if err := d.reversalRules(orig); err != nil {
		return nil, err
	}
	// A reversal restores earlier balances: upper limits do not apply, lower limits do.
	return &n, d.post(ps, false, nil)
}

// stationMayReverse lets a station reverse only its own credits: entries it is not party to
// are not_found, other entries forbidden.
func (d *decider) stationMayReverse(orig *Entry) error {
	parties, err := Parties(d.v, orig)
	if err != nil {
		return err
	}
	for _, id := range parties {
		if id == d.by.Account {
			if c, ok := orig.Body.(*CreditBody); ok && c.Station == d.by.Account {
				return nil
			}
			return forbidden("A station may reverse only its own credits.")
		}
	}
	return Errorf(CodeNotFound, "Entry %d was not found.", orig.Seq)
}

func (d *decider) reversalRules(orig *Entry) error {
	if !reversible[orig.Type] {
		return Errorf(CodeNotReversible, "Entry %d is %s %s entry, which cannot be reversed.", orig.Seq, article(string(orig.Type)), orig.Type).
			With("type", string(orig.Type))
	}
	by, err := d.v.ReversedBy(orig.Seq)
	if err != nil {
		return err
	}
	if by != 0 {
		return Errorf(CodeAlreadyReversed, "Entry %d was already reversed by entry %d.", orig.Seq, by).With("reversed_by", by)
	}
	if d.by.Role == RoleStation {
		window := d.p.mustCompiled().stationWindowMicros
		if d.now-orig.TimeMicros > window {
			return Errorf(CodeReversalWindowPassed, "Stations may reverse their credits for %d days; entry %d is older. Ask an admin.",
				d.p.Reverse.StationWindowDays, orig.Seq).With("station_window_days", d.p.Reverse.StationWindowDays)
		}
	}
	return nil
}

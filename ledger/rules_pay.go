package ledger

// payer returns the acting resident: payments always come from the token's account.
func (d *decider) payer(what string) (AccountID, error) {
	if err := d.role(what, RoleResident); err != nil {
		return "", err
	}
	return d.by.Account, nil
}

// target checks the account a payment names (of one of kinds) and its amount of asset;
// it returns them with the amount's normalised form.
func (d *decider) target(field string, id AccountID, asset, amount string, kinds ...Kind) (AccountID, int64, string, error) {
	to, err := ParseRef(field, string(id), kinds...)
	if err != nil {
		return "", 0, "", err
	}
	amt, norm, err := d.amount(asset, amount)
	if err != nil {
		return "", 0, "", err
	}
	return to, amt, norm, nil
}

// payTo checks that the acting resident may pay to, which the request names in field (what
// names the action for a refused role), that it is not paying itself, and that both
// accounts exist and are active; it returns the payer.
func (d *decider) payTo(what, field string, to AccountID) (AccountID, error) {
	from, err := d.payer(what)
	if err != nil {
		return "", err
	}
	if from == to {
		return "", badField(field, "An account cannot pay itself (%s).", to)
	}
	if err := d.active(from, to); err != nil {
		return "", err
	}
	return from, nil
}

func (d *decider) redemption(b *RedemptionBody) (Body, error) {
	n := *b
	var err error
	var amt int64
	if n.Payee, amt, n.Amount, err = d.target("payee", b.Payee, b.Asset, b.Amount, KindResident, KindStation, KindOutlet, KindPool); err != nil {
		return nil, err
	}
	if err := CheckText("memo", b.Memo, MaxMemoChars, false); err != nil {
		return nil, err
	}
	from, err := d.payTo("redeem", "payee", n.Payee)
	if err != nil {
		return nil, err
	}
	ps := []Posting{{From: from, To: n.Payee, Asset: n.Asset, Amount: amt}}
	// Funds come before the payee's kind in SPEC §3's order.
	if err := d.post(ps, false, nil); err != nil {
		return nil, err
	}
	if err := payeeKind(n.Payee); err != nil {
		return nil, err
	}
	return &n, d.post(ps, true, nil)
}

func payeeKind(payee AccountID) error {
	if k := payee.Kind(); k != KindStation && k != KindOutlet {
		return Errorf(CodeInvalidPayee, "%s cannot be paid for services or goods: the payee must be a station or an outlet.", payee).
			With("payee", string(payee))
	}
	return nil
}

func (d *decider) transfer(b *TransferBody) (Body, error) {
	n := *b
	var err error
	var amt int64
	if n.To, amt, n.Amount, err = d.target("to", b.To, b.Asset, b.Amount, KindResident); err != nil {
		return nil, err
	}
	if err := CheckText("memo", b.Memo, MaxMemoChars, false); err != nil {
		return nil, err
	}
	from, err := d.payTo("transfer", "to", n.To)
	if err != nil {
		return nil, err
	}
	switch mode := d.p.Transfer[n.Asset]; mode {
	case TransferAny:
	case TransferFamily:
		linked, err := d.v.Linked(from, n.To)
		if err != nil {
			return nil, err
		}
		if !linked {
			return nil, Errorf(CodeTransferNotAllowed, "%s may be transferred only between linked family members, and %s and %s are not linked.",
				n.Asset, from, n.To).With("asset", n.Asset).With("mode", mode)
		}
	default:
		return nil, Errorf(CodeTransferNotAllowed, "%s cannot be transferred under the current policy.", n.Asset).
			With("asset", n.Asset).With("mode", mode)
	}
	return &n, d.post([]Posting{{From: from, To: n.To, Asset: n.Asset, Amount: amt}}, true, nil)
}

func (d *decider) donation(b *DonationBody) (Body, error) {
	n := *b
	var err error
	var amt int64
	if n.Pool, amt, n.Amount, err = d.target("pool", b.Pool, b.Asset, b.Amount, KindPool); err != nil {
		return nil, err
	}
	from, err := d.payTo("donate", "pool", n.Pool) // a pool is never the paying resident
	if err != nil {
		return nil, err
	}
	return &n, d.post([]Posting{{From: from, To: n.Pool, Asset: n.Asset, Amount: amt}}, true, nil)
}

func (d *decider) grant(b *GrantBody) (Body, error) {
	n := *b
	var err error
	var amt int64
	if n.Pool, err = ParseRef("pool", string(b.Pool), KindPool); err != nil {
		return nil, err
	}
	if n.To, amt, n.Amount, err = d.target("to", b.To, b.Asset, b.Amount, KindResident); err != nil {
		return nil, err
	}
	if err := CheckText("memo", b.Memo, MaxMemoChars, true); err != nil {
		return nil, err
	}
	if err := d.role("make grants", RoleAdmin); err != nil {
		return nil, err
	}
	if err := d.active(n.Pool, n.To); err != nil {
		return nil, err
	}
	return &n, d.post([]Posting{{From: n.Pool, To: n.To, Asset: n.Asset, Amount: amt}}, true, nil)
}

func (d *decider) conversion(b *ConversionBody) (Body, error) {
	n := *b
	var err error
	var hours int64
	if hours, n.Hours, err = d.amount(AssetHours, b.Hours); err != nil {
		return nil, err
	}
	from, err := d.payer("convert")
	if err != nil {
		return nil, err
	}
	if err := d.active(from); err != nil {
		return nil, err
	}
	rate := d.p.mustCompiled().convert
	if rate.IsZero() {
		return nil, Errorf(CodeConversionDisabled, "Converting hours into points is disabled by the current policy.")
	}
	points, exact, ok := rate.Apply(hours, d.p.Assets[AssetHours].Scale, d.p.Assets[AssetPoints].Scale)
	if !ok {
		return nil, Errorf(CodeBalanceCapExceeded, "%s hours at %s points per hour is more points than the ledger can hold; convert fewer hours.",
			n.Hours, d.p.Convert.PointsPerHour).With("points_per_hour", d.p.Convert.PointsPerHour)
	}
	if !exact || points <= 0 {
		return nil, Errorf(CodeInexactConversion, "%s hours at %s points per hour is not a whole number of points; choose another amount.",
			n.Hours, d.p.Convert.PointsPerHour).With("points_per_hour", d.p.Convert.PointsPerHour)
	}
	ps := []Posting{
		{From: from, To: IssuerOf(AssetHours), Asset: AssetHours, Amount: hours},
		{From: IssuerOf(AssetPoints), To: from, Asset: AssetPoints, Amount: points},
	}
	return &n, d.post(ps, true, nil)
}

package ledger

func (d *decider) hold(b *HoldBody) (Body, error) {
	n := *b
	var err error
	var amt int64
	if n.Payee, amt, n.Amount, err = d.target("payee", b.Payee, b.Asset, b.Amount, KindResident, KindStation, KindOutlet, KindPool); err != nil {
		return nil, err
	}
	if n.TTLSeconds == 0 {
		n.TTLSeconds = d.p.Hold.DefaultTTLSeconds
	}
	if n.TTLSeconds < 1 || n.TTLSeconds > d.p.Hold.MaxTTLSeconds {
		return nil, badField("ttl_seconds", "ttl_seconds must be 1 to %d (or absent or 0 for the policy's default).", d.p.Hold.MaxTTLSeconds).
			With("max_ttl_seconds", d.p.Hold.MaxTTLSeconds)
	}
	from, err := d.payTo("place holds", "payee", n.Payee)
	if err != nil {
		return nil, err
	}
	if avail := d.cached(from).Available(n.Asset, d.now); avail < amt {
		return nil, d.insufficient(from, n.Asset, avail, amt)
	}
	if err := payeeKind(n.Payee); err != nil {
		return nil, err
	}
	return &n, nil
}

// visibleHold returns hold id if the principal may see it (its resident, its payee, an
// admin or an auditor), else not_found exactly as if it did not exist.
func (d *decider) visibleHold(id uint64) (*Hold, error) {
	if id == 0 {
		return nil, notFound("Hold 0")
	}
	h, err := d.v.Hold(id)
	if err != nil {
		return nil, err
	}
	if h == nil || !CanSeeHold(d.by, h) {
		return nil, Errorf(CodeNotFound, "Hold %d was not found.", id)
	}
	return h, nil
}

// CanSeeHold reports whether p may see hold h.
func CanSeeHold(p Principal, h *Hold) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	}
	return p.Account != "" && (p.Account == h.Resident || p.Account == h.Payee)
}

func holdNotOpen(h *Hold, now int64) *Error {
	return Errorf(CodeHoldNotOpen, "Hold %d is %s, not open.", h.ID, h.StatusAt(now)).With("status", string(h.StatusAt(now)))
}

func (d *decider) settle(b *SettleBody) (Body, error) {
	n := *b
	// The amount's shape is checked at the widest scale first; its scale once the hold's
	// asset is known.
	if _, err := ParseAmount(b.Amount, MaxScale); err != nil {
		return nil, err
	}
	if err := d.role("settle holds", RoleStation, RoleOutlet, RoleResident, RoleAdmin); err != nil {
		return nil, err
	}
	h, err := d.visibleHold(b.HoldID)
	if err != nil {
		return nil, err
	}
	if d.by.Account != h.Payee {
		return nil, forbidden("Only the hold's payee settles it.")
	}
	var amt int64
	if amt, n.Amount, err = d.amount(h.Asset, b.Amount); err != nil {
		return nil, err
	}
	if err := d.active(h.Resident, h.Payee); err != nil {
		return nil, err
	}
	if h.Status != HoldOpen {
		return nil, holdNotOpen(h, d.now)
	}
	if d.now >= h.ExpiresAt {
		return nil, Errorf(CodeHoldExpired, "Hold %d expired at %s; ask the resident for a new hold.", h.ID, FormatTime(h.ExpiresAt)).
			With("expires_at", FormatTime(h.ExpiresAt))
	}
	if amt > h.Amount {
		return nil, Errorf(CodeSettleExceedsHold, "Hold %d reserves %s %s; settle at most that.", h.ID, d.fmtAmount(h.Asset, h.Amount), h.Asset).
			With("held", d.fmtAmount(h.Asset, h.Amount))
	}
	rel := &release{account: h.Resident, asset: h.Asset, amount: h.Amount}
	return &n, d.post([]Posting{{From: h.Resident, To: h.Payee, Asset: h.Asset, Amount: amt}}, true, rel)
}

func (d *decider) void(b *VoidBody) (Body, error) {
	n := *b
	if err := d.role("void holds", RoleStation, RoleOutlet, RoleResident, RoleAdmin); err != nil {
		return nil, err
	}
	h, err := d.visibleHold(b.HoldID)
	if err != nil {
		return nil, err
	}
	if err := d.active(h.Resident, h.Payee); err != nil && CodeOf(err) != CodeAccountFrozen {
		return nil, err // a frozen party may still have its hold released
	}
	if h.StatusAt(d.now) != HoldOpen {
		return nil, holdNotOpen(h, d.now)
	}
	return &n, nil
}

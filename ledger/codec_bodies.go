package ledger

import "strconv"

// The canonical codec of each body type, both directions side by side: the member
// prefixes of appendCanonical and parseCanonical must be the same, in the same order as the
// struct fields and docs/FORMAT.md. A nil receiver encodes as null (as encoding/json
// does); the parser never sees one (NewBody).

var (
	_ canonicalBody = (*GenesisBody)(nil)
	_ canonicalBody = (*PolicyBody)(nil)
	_ canonicalBody = (*OpenBody)(nil)
	_ canonicalBody = (*FreezeBody)(nil)
	_ canonicalBody = (*LinkBody)(nil)
	_ canonicalBody = (*CreditBody)(nil)
	_ canonicalBody = (*RedemptionBody)(nil)
	_ canonicalBody = (*HoldBody)(nil)
	_ canonicalBody = (*SettleBody)(nil)
	_ canonicalBody = (*VoidBody)(nil)
	_ canonicalBody = (*TransferBody)(nil)
	_ canonicalBody = (*DonationBody)(nil)
	_ canonicalBody = (*GrantBody)(nil)
	_ canonicalBody = (*ConversionBody)(nil)
	_ canonicalBody = (*ReversalBody)(nil)
)

const null = "null"

func (b *OpenBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	return append(appendStr(w, `{"id":`, string(b.ID)), '}')
}

func (b *OpenBody) parseCanonical(p *parser) {
	b.ID = AccountID(p.str(`{"id":`))
	p.lit(`}`)
}

// FreezeBody's Unfreeze is not encoded: the entry type says it.
func (b *FreezeBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"account":`, string(b.Account))
	return append(appendStr(w, `,"reason":`, b.Reason), '}')
}

func (b *FreezeBody) parseCanonical(p *parser) {
	b.Account = AccountID(p.str(`{"account":`))
	b.Reason = p.str(`,"reason":`)
	p.lit(`}`)
}

func (b *LinkBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"a":`, string(b.A))
	w = appendStr(w, `,"b":`, string(b.B))
	return append(appendStr(w, `,"relation":`, b.Relation), '}')
}

func (b *LinkBody) parseCanonical(p *parser) {
	b.A = AccountID(p.str(`{"a":`))
	b.B = AccountID(p.str(`,"b":`))
	b.Relation = p.str(`,"relation":`)
	p.lit(`}`)
}

func (b *CreditBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"station":`, string(b.Station))
	w = appendStr(w, `,"volunteer":`, string(b.Volunteer))
	w = appendStr(w, `,"hours":`, b.Hours)
	w = appendStr(w, `,"activity":{"id":`, b.Activity.ID)
	w = appendStr(w, `,"category":`, b.Activity.Category)
	w = appendStr(w, `,"started_at":`, b.Activity.StartedAt)
	w = appendStr(w, `,"ended_at":`, b.Activity.EndedAt)
	return append(appendStr(w, `},"memo":`, b.Memo), '}')
}

func (b *CreditBody) parseCanonical(p *parser) {
	b.Station = AccountID(p.str(`{"station":`))
	b.Volunteer = AccountID(p.str(`,"volunteer":`))
	b.Hours = p.str(`,"hours":`)
	b.Activity.ID = p.str(`,"activity":{"id":`)
	b.Activity.Category = p.str(`,"category":`)
	b.Activity.StartedAt = p.str(`,"started_at":`)
	b.Activity.EndedAt = p.str(`,"ended_at":`)
	b.Memo = p.str(`},"memo":`)
	p.lit(`}`)
}

func (b *RedemptionBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"payee":`, string(b.Payee))
	w = appendStr(w, `,"asset":`, b.Asset)
	w = appendStr(w, `,"amount":`, b.Amount)
	return append(appendStr(w, `,"memo":`, b.Memo), '}')
}

func (b *RedemptionBody) parseCanonical(p *parser) {
	b.Payee = AccountID(p.str(`{"payee":`))
	b.Asset = p.str(`,"asset":`)
	b.Amount = p.str(`,"amount":`)
	b.Memo = p.str(`,"memo":`)
	p.lit(`}`)
}

func (b *HoldBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"payee":`, string(b.Payee))
	w = appendStr(w, `,"asset":`, b.Asset)
	w = appendStr(w, `,"amount":`, b.Amount)
	return append(strconv.AppendInt(append(w, `,"ttl_seconds":`...), b.TTLSeconds, 10), '}')
}

func (b *HoldBody) parseCanonical(p *parser) {
	b.Payee = AccountID(p.str(`{"payee":`))
	b.Asset = p.str(`,"asset":`)
	b.Amount = p.str(`,"amount":`)
	b.TTLSeconds = p.int(`,"ttl_seconds":`)
	p.lit(`}`)
}

func (b *SettleBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = strconv.AppendUint(append(w, `{"hold_id":`...), b.HoldID, 10)
	return append(appendStr(w, `,"amount":`, b.Amount), '}')
}

func (b *SettleBody) parseCanonical(p *parser) {
	b.HoldID = p.uint(`{"hold_id":`)
	b.Amount = p.str(`,"amount":`)
	p.lit(`}`)
}

func (b *VoidBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	return append(strconv.AppendUint(append(w, `{"hold_id":`...), b.HoldID, 10), '}')
}

func (b *VoidBody) parseCanonical(p *parser) {
	b.HoldID = p.uint(`{"hold_id":`)
	p.lit(`}`)
}

func (b *TransferBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"to":`, string(b.To))
	w = appendStr(w, `,"asset":`, b.Asset)
	w = appendStr(w, `,"amount":`, b.Amount)
	return append(appendStr(w, `,"memo":`, b.Memo), '}')
}

func (b *TransferBody) parseCanonical(p *parser) {
	b.To = AccountID(p.str(`{"to":`))
	b.Asset = p.str(`,"asset":`)
	b.Amount = p.str(`,"amount":`)
	b.Memo = p.str(`,"memo":`)
	p.lit(`}`)
}

func (b *DonationBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"pool":`, string(b.Pool))
	w = appendStr(w, `,"asset":`, b.Asset)
	return append(appendStr(w, `,"amount":`, b.Amount), '}')
}

func (b *DonationBody) parseCanonical(p *parser) {
	b.Pool = AccountID(p.str(`{"pool":`))
	b.Asset = p.str(`,"asset":`)
	b.Amount = p.str(`,"amount":`)
	p.lit(`}`)
}

func (b *GrantBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = appendStr(w, `{"pool":`, string(b.Pool))
	w = appendStr(w, `,"to":`, string(b.To))
	w = appendStr(w, `,"asset":`, b.Asset)
	w = appendStr(w, `,"amount":`, b.Amount)
	return append(appendStr(w, `,"memo":`, b.Memo), '}')
}

func (b *GrantBody) parseCanonical(p *parser) {
	b.Pool = AccountID(p.str(`{"pool":`))
	b.To = AccountID(p.str(`,"to":`))
	b.Asset = p.str(`,"asset":`)
	b.Amount = p.str(`,"amount":`)
	b.Memo = p.str(`,"memo":`)
	p.lit(`}`)
}

func (b *ConversionBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	return append(appendStr(w, `{"hours":`, b.Hours), '}')
}

func (b *ConversionBody) parseCanonical(p *parser) {
	b.Hours = p.str(`{"hours":`)
	p.lit(`}`)
}

func (b *ReversalBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	w = strconv.AppendUint(append(w, `{"seq":`...), b.Seq, 10)
	return append(appendStr(w, `,"reason":`, b.Reason), '}')
}

func (b *ReversalBody) parseCanonical(p *parser) {
	b.Seq = p.uint(`{"seq":`)
	b.Reason = p.str(`,"reason":`)
	p.lit(`}`)
}

// Policy bodies are rare (genesis and each policy change): they are decoded by
// encoding/json, strictly, and encoded by hand so that no entry needs reflection.

func (b *GenesisBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	return append(w, appendPolicy(nil, &b.Policy)...)
}

func (b *GenesisBody) parseCanonical(p *parser) { p.json(b) }

func (b *PolicyBody) appendCanonical(w []byte) []byte {
	if b == nil {
		return append(w, null...)
	}
	return append(w, appendPolicy(nil, &b.Policy)...)
}

func (b *PolicyBody) parseCanonical(p *parser) { p.json(b) }

// appendPolicy appends pol as encoding/json does: the fields in struct order, maps sorted
// by key, nil maps as null. Its callers give it a buffer of its own: the closures of
// appendMap would move the entry's buffer to the heap.
func appendPolicy(w []byte, pol *Policy) []byte {
	w = appendStr(w, `{"timezone":`, pol.Timezone)
	w = appendMap(append(w, `,"assets":`...), pol.Assets, func(w []byte, a AssetSpec) []byte {
		return append(strconv.AppendInt(append(w, `{"scale":`...), int64(a.Scale), 10), '}')
	})
	cr := &pol.Credit
	w = appendStr(w, `,"credit":{"max_hours_per_entry":`, cr.MaxHoursPerEntry)
	w = appendStr(w, `,"max_hours_per_day":`, cr.MaxHoursPerDay)
	w = strconv.AppendInt(append(w, `,"backdate_days":`...), cr.BackdateDays, 10)
	w = appendStr(w, `,"points_per_hour":`, cr.PointsPerHour)
	w = appendMap(append(w, `,"categories":`...), cr.Categories, func(w []byte, c CategoryPolicy) []byte {
		return append(appendStr(w, `{"points_per_hour":`, c.PointsPerHour), '}')
	})
	w = appendMap(append(w, `},"limits":`...), pol.Limits, func(w []byte, byAsset map[string]LimitPolicy) []byte {
		return appendMap(w, byAsset, func(w []byte, l LimitPolicy) []byte {
			return append(appendStr(w, `{"upper":`, l.Upper), '}')
		})
	})
	w = appendMap(append(w, `,"transfer":`...), pol.Transfer, appendString)
	w = appendStr(w, `,"convert":{"points_per_hour":`, pol.Convert.PointsPerHour)
	w = strconv.AppendInt(append(w, `},"hold":{"default_ttl_seconds":`...), pol.Hold.DefaultTTLSeconds, 10)
	w = strconv.AppendInt(append(w, `,"max_ttl_seconds":`...), pol.Hold.MaxTTLSeconds, 10)
	w = strconv.AppendInt(append(w, `},"reverse":{"station_window_days":`...), pol.Reverse.StationWindowDays, 10)
	return append(w, "}}"...)
}

package ledger

// release is an amount an entry frees before its postings run: a settle releases its hold.
type release struct {
	account AccountID
	asset   string
	amount  int64
}

type acctAsset struct {
	id    AccountID
	asset string
}

// post checks postings against the accounts' balances and, when caps is set, their upper
// limits, and makes them the entry's postings. Every posting is applied in order to running
// balances: a non-issuer payer must have the amount available (balance − held, plus rel),
// and afterwards no non-issuer receiver may be above its upper limit. Funds are checked for
// all postings before any limit (SPEC §3 orders them so).
func (d *decider) post(ps []Posting, caps bool, rel *release) error {
	var bal running
	balance := func(id AccountID, asset string) (int64, error) {
		k := acctAsset{id, asset}
		if v, ok := bal.get(k); ok {
			return v, nil
		}
		a, err := d.account(id)
		if err != nil {
			return 0, err
		}
		v := a.Balances[asset].Balance
		bal.set(k, v)
		return v, nil
	}
	for _, p := range ps {
		from, err := balance(p.From, p.Asset)
		if err != nil {
			return err
		}
		to, err := balance(p.To, p.Asset)
		if err != nil {
			return err
		}
		if p.From.Kind() != KindIssuer {
			avail := from - d.cached(p.From).Held(p.Asset, d.now)
			if rel != nil && rel.account == p.From && rel.asset == p.Asset {
				avail += rel.amount
			}
			if avail < p.Amount {
				return d.insufficient(p.From, p.Asset, avail, p.Amount)
			}
		}
		newFrom, ok1 := addChecked(from, -p.Amount)
		newTo, ok2 := addChecked(to, p.Amount)
		if !ok1 || !ok2 {
			return Errorf(CodeBalanceCapExceeded, "This entry would overflow the balance of %s or %s.", p.From, p.To)
		}
		bal.set(acctAsset{p.From, p.Asset}, newFrom)
		bal.set(acctAsset{p.To, p.Asset}, newTo)
	}
	if caps {
		for _, p := range ps {
			after, _ := bal.get(acctAsset{p.To, p.Asset})
			if err := d.checkCap(p.To, p.Asset, after); err != nil {
				return err
			}
		}
	}
	d.e.Postings = ps
	return nil
}

// mayRead reports whether the principal may read account id (SPEC §4: its owner, an admin,
// an auditor). A refusal names the figures of an account (its balance, what it has
// available) only to one who may read them: a resident paying another resident, or a
// station crediting a resident or reversing its credit, must not learn that account's
// balance from the refusal.
func (d *decider) mayRead(id AccountID) bool {
	return d.by.Role == RoleAdmin || d.by.Role == RoleAuditor || d.by.Account == id
}

func (d *decider) checkCap(id AccountID, asset string, after int64) error {
	upper, ok := d.p.UpperLimit(id.Kind(), asset)
	if !ok || after <= upper {
		return nil
	}
	if !d.mayRead(id) {
		return Errorf(CodeBalanceCapExceeded, "%s may hold at most %s %s; this entry would take it over that limit.",
			id, d.fmtAmount(asset, upper), asset).
			With("account", string(id)).With("asset", asset).With("upper", d.fmtAmount(asset, upper))
	}
	before := d.cached(id).Balances[asset].Balance
	return Errorf(CodeBalanceCapExceeded,
		"%s holds %s %s and may hold at most %s; this entry would bring it to %s.",
		id, d.fmtAmount(asset, before), asset, d.fmtAmount(asset, upper), d.fmtAmount(asset, after)).
		With("account", string(id)).With("asset", asset).
		With("balance", d.fmtAmount(asset, before)).With("upper", d.fmtAmount(asset, upper))
}

func (d *decider) insufficient(id AccountID, asset string, avail, need int64) *Error {
	if !d.mayRead(id) {
		return Errorf(CodeInsufficientBalance, "%s does not have the %s %s this entry needs available.",
			id, d.fmtAmount(asset, need), asset).
			With("account", string(id)).With("asset", asset).With("required", d.fmtAmount(asset, need))
	}
	if avail < 0 {
		avail = 0
	}
	return Errorf(CodeInsufficientBalance, "%s has %s %s available; this entry needs %s.",
		id, d.fmtAmount(asset, avail), asset, d.fmtAmount(asset, need)).
		With("account", string(id)).With("asset", asset).
		With("available", d.fmtAmount(asset, avail)).With("required", d.fmtAmount(asset, need))
}

// running holds the running balances of one decision's postings. An entry moves a handful:
// they live in a fixed array (on the stack), the rest, never seen in practice, in a slice.
type running struct {
	n     int
	fixed [8]runningBalance
	more  []runningBalance
}

type runningBalance struct {
	k acctAsset
	v int64
}

func (r *running) find(k acctAsset) *runningBalance {
	for i := range r.fixed[:r.n] {
		if r.fixed[i].k == k {
			return &r.fixed[i]
		}
	}
	for i := range r.more {
		if r.more[i].k == k {
			return &r.more[i]
		}
	}
	return nil
}

func (r *running) get(k acctAsset) (int64, bool) {
	if e := r.find(k); e != nil {
		return e.v, true
	}
	return 0, false
}

func (r *running) set(k acctAsset, v int64) {
	switch e := r.find(k); {
	case e != nil:
		e.v = v
	case r.n < len(r.fixed):
		r.fixed[r.n] = runningBalance{k, v}
		r.n++
	default:
		r.more = append(r.more, runningBalance{k, v})
	}
}

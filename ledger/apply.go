package ledger

import "fmt"

// Apply changes st as entry e says. e must have come from Decide on the same state (or be a
// logged entry that Decide reproduced): Apply checks nothing a user could get wrong, and
// returns only I/O errors of st or an error naming an entry that contradicts the state
// (which a correct Decide never makes).
func Apply(st State, e *Entry) error {
	a := &applier{st: st, e: e}
	if err := a.body(); err != nil {
		return err
	}
	for _, p := range e.Postings {
		if err := a.posting(p); err != nil {
			return err
		}
	}
	return a.flush()
}

// accountLender is a State whose accounts Apply may change in place, saving a copy per
// account and entry: MemState, whose Apply never fails half-way except on a log that verify
// rejects anyway.
type accountLender interface {
	lendAccount(id AccountID) *Account
}

// applier gathers the accounts an entry changes and writes each once.
type applier struct {
	st State
	e  *Entry
	// The accounts in the order first touched: an entry touches a handful, so an array
	// scanned in order costs less than a map (Apply runs for every entry the store appends
	// and verify replays); more holds any beyond the array's room.
	n     int
	fixed [6]touchedAccount
	more  []touchedAccount
}

// touched returns the touched accounts in the order first touched.
func (a *applier) touched() []touchedAccount {
	if a.more == nil {
		return a.fixed[:a.n]
	}
	return append(a.fixed[:a.n:a.n], a.more...)
}

func (a *applier) touch(id AccountID, acc *Account) {
	if a.n < len(a.fixed) {
		a.fixed[a.n] = touchedAccount{id, acc}
		a.n++
		return
	}
	a.more = append(a.more, touchedAccount{id, acc})
}

type touchedAccount struct {
	id  AccountID
	acc *Account
}

func (a *applier) account(id AccountID) (*Account, error) {
	for _, t := range a.touched() {
		if t.id == id {
			return t.acc, nil
		}
	}
	var acc *Account
	var err error
	if l, ok := a.st.(accountLender); ok {
		acc = l.lendAccount(id)
	} else if acc, err = a.st.Account(id); err != nil { // a copy
		return nil, err
	}
	if acc == nil {
		return nil, fmt.Errorf("ledger: apply entry %d: account %s does not exist", a.e.Seq, id)
	}
	a.touch(id, acc)
	return acc, nil
}

func (a *applier) create(id AccountID) {
	acc := &Account{ID: id, Kind: id.Kind(), OpenedSeq: a.e.Seq, OpenedAt: a.e.TimeMicros, Balances: map[string]Balance{}}
	a.touch(id, acc)
}

func (a *applier) posting(p Posting) error {
	from, err := a.account(p.From)
	if err != nil {
		return err
	}
	to, err := a.account(p.To)
	if err != nil {
		return err
	}
	fb, tb := from.Balances[p.Asset], to.Balances[p.Asset]
	fb.Balance -= p.Amount
	tb.Balance += p.Amount
	if a.e.Type == TypeCredit {
		tb.Earned += p.Amount
	}
	from.Balances[p.Asset] = fb
	to.Balances[p.Asset] = tb
	return nil
}

// flush writes every touched account, dropping open holds that expired by the entry's time
// (a deterministic prune: replay drops the same ones).
func (a *applier) flush() error {
	for _, t := range a.touched() {
		acc := t.acc
		kept := acc.Holds[:0]
		for _, h := range acc.Holds {
			if a.e.TimeMicros < h.ExpiresAt {
				kept = append(kept, h)
			}
		}
		acc.Holds = kept
		if len(acc.Holds) == 0 {
			acc.Holds = nil
		}
		if err := a.st.PutAccount(acc); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) body() error {
	switch b := a.e.Body.(type) {
	case *GenesisBody:
		p := b.Policy
		if err := p.Compile(nil); err != nil {
			return err
		}
		for _, code := range p.Assets.Codes() {
			a.create(IssuerOf(code))
		}
		return a.st.SetPolicy(&p)
	case *PolicyBody:
		p := b.Policy
		if err := p.Compile(a.st.Policy().Assets); err != nil {
			return err
		}
		return a.st.SetPolicy(&p)
	case *OpenBody:
		a.create(b.ID)
	case *FreezeBody:
		acc, err := a.account(b.Account)
		if err != nil {
			return err
		}
		acc.Frozen = !b.Unfreeze
	case *LinkBody:
		return a.st.PutLink(b.A, b.B, b.Relation)
	case *CreditBody:
		return a.credit(b)
	case *HoldBody:
		return a.hold(b)
	case *SettleBody:
		return a.closeHold(b.HoldID, HoldSettled)
	case *VoidBody:
		return a.closeHold(b.HoldID, HoldVoided)
	case *ReversalBody:
		return a.reversal(b)
	}
	return nil
}

func (a *applier) credit(b *CreditBody) error {
	start, err1 := ParseTime("started_at", b.Activity.StartedAt)
	end, err2 := ParseTime("ended_at", b.Activity.EndedAt)
	hours, err3 := ParseAmount(b.Hours, a.st.Policy().Assets[AssetHours].Scale)
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("ledger: apply entry %d: credit body not normalised", a.e.Seq)
	}
	return a.st.AddSession(b.Volunteer, Session{Start: start, End: end, Seq: a.e.Seq, Hours: hours})
}

func (a *applier) hold(b *HoldBody) error {
	scale := a.st.Policy().Assets[b.Asset].Scale
	amt, err := ParseAmount(b.Amount, scale)
	if err != nil {
		return fmt.Errorf("ledger: apply entry %d: hold amount: %w", a.e.Seq, err)
	}
	resident := AccountID(a.e.Actor)
	acc, err := a.account(resident)
	if err != nil {
		return err
	}
	expires := a.e.TimeMicros + b.TTLSeconds*microsPerSecond
	acc.Holds = append(acc.Holds, OpenHold{ID: a.e.Seq, Asset: b.Asset, Amount: amt, ExpiresAt: expires})
	return a.st.PutHold(&Hold{ID: a.e.Seq, Resident: resident, Payee: b.Payee, Asset: b.Asset, Amount: amt,
		ExpiresAt: expires, Status: HoldOpen})
}

func (a *applier) closeHold(id uint64, status HoldStatus) error {
	h, err := a.st.Hold(id)
	if err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("ledger: apply entry %d: hold %d does not exist", a.e.Seq, id)
	}
	acc, err := a.account(h.Resident)
	if err != nil {
		return err
	}
	for i, oh := range acc.Holds {
		if oh.ID == id {
			acc.Holds = append(acc.Holds[:i:i], acc.Holds[i+1:]...)
			break
		}
	}
	c := *h
	c.Status, c.ClosedSeq = status, a.e.Seq
	return a.st.PutHold(&c)
}

func (a *applier) reversal(b *ReversalBody) error {
	orig, err := a.st.Entry(b.Seq)
	if err != nil {
		return err
	}
	if orig == nil {
		return fmt.Errorf("ledger: apply entry %d: reverses missing entry %d", a.e.Seq, b.Seq)
	}
	if c, ok := orig.Body.(*CreditBody); ok {
		start, _ := ParseTime("started_at", c.Activity.StartedAt)
		end, _ := ParseTime("ended_at", c.Activity.EndedAt)
		hours, _ := ParseAmount(c.Hours, a.st.Policy().Assets[AssetHours].Scale)
		if err := a.st.DeleteSession(c.Volunteer, Session{Start: start, End: end, Seq: orig.Seq, Hours: hours}); err != nil {
			return err
		}
		// A reversed credit takes back what it earned.
		for _, p := range orig.Postings {
			acc, err := a.account(p.To)
			if err != nil {
				return err
			}
			bal := acc.Balances[p.Asset]
			bal.Earned -= p.Amount
			acc.Balances[p.Asset] = bal
		}
	}
	return a.st.SetReversed(b.Seq, a.e.Seq)
}

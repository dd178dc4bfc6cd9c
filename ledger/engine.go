package ledger

import "fmt"

// Decide checks req against the state v at entry time now (UTC microseconds, assigned by the
// sequencer) and returns the entry it makes, with Seq and TimeMicros set, or a *Error.
// It only reads v and is deterministic: the same (v, req, seq, now) always gives the same
// answer. The server and `timebank verify` both run it. Checks run in the order of SPEC §3:
// the request's shape, the principal's role, visibility, referenced accounts, then the rules
// of the entry type in the order the SPEC lists them. Other errors are I/O failures of v.
func Decide(v View, req Request, seq uint64, now int64) (*Entry, error) {
	if req.Body == nil {
		return nil, badField("body", "The request has no body.")
	}
	if seq == 1 || req.Principal.Role == RoleSystem {
		return decideGenesis(req, seq, now)
	}
	if !ValidIdempotencyKey(req.IdempotencyKey) {
		return nil, missingKey()
	}
	d := &decider{v: v, p: v.Policy(), req: req, now: now, by: req.Principal}
	d.e = &Entry{Seq: seq, TimeMicros: now, Type: req.Body.EntryType(), Actor: req.Principal.Actor(),
		IdempotencyKey: req.IdempotencyKey}
	if d.by.Role == RoleAuditor || d.by.Role == "" {
		return nil, forbidden("An auditor token can read the ledger but not write to it.")
	}
	body, err := d.decide(req.Body)
	if err != nil {
		return nil, err
	}
	d.e.Body = body
	return d.e, nil
}

// decider carries one decision: the state, the policy in force, the request and the entry
// being built.
type decider struct {
	v   View
	p   *Policy
	req Request
	now int64
	by  Principal
	e   *Entry
	// accts caches the few accounts read during this decision (copies: the view is never
	// changed); a slice, not a map: a decision touches two to four accounts.
	accts []*Account
}

func (d *decider) decide(body Body) (Body, error) {
	switch b := body.(type) {
	case *OpenBody:
		return d.open(b)
	case *FreezeBody:
		return d.freeze(b)
	case *LinkBody:
		return d.link(b)
	case *CreditBody:
		return d.credit(b)
	case *RedemptionBody:
		return d.redemption(b)
	case *HoldBody:
		return d.hold(b)
	case *SettleBody:
		return d.settle(b)
	case *VoidBody:
		return d.void(b)
	case *TransferBody:
		return d.transfer(b)
	case *DonationBody:
		return d.donation(b)
	case *GrantBody:
		return d.grant(b)
	case *ConversionBody:
		return d.conversion(b)
	case *ReversalBody:
		return d.reversal(b)
	case *PolicyBody:
		return d.policy(b)
	case *GenesisBody:
		return nil, forbidden("Only the ledger itself writes the genesis entry.")
	}
	return nil, fmt.Errorf("ledger: no rules for body %T", body)
}

// role checks that the principal has one of roles.
func (d *decider) role(what string, roles ...Role) error {
	for _, r := range roles {
		if d.by.Role == r {
			return nil
		}
	}
	return forbidden(fmt.Sprintf("A %s token may not %s.", d.by.Role, what))
}

func forbidden(msg string) *Error { return &Error{Code: CodeForbidden, Message: msg} }

func notFound(what string) *Error {
	return Errorf(CodeNotFound, "%s was not found.", what)
}

// account returns account id (a View hands out copies), or unknown_account.
func (d *decider) account(id AccountID) (*Account, error) {
	if a := d.cached(id); a != nil {
		return a, nil
	}
	var a *Account
	var err error
	if p, ok := d.v.(AccountPeeker); ok {
		a, err = p.PeekAccount(id)
	} else {
		a, err = d.v.Account(id)
	}
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, Errorf(CodeUnknownAccount, "Account %s does not exist; open it first.", id).With("account", string(id))
	}
	d.accts = append(d.accts, a)
	return a, nil
}

// AccountPeeker is a View that can lend an account without copying it. Decide uses it when
// present: it never changes what it reads.
type AccountPeeker interface {
	PeekAccount(id AccountID) (*Account, error)
}

// cached returns account id if this decision has read it, else nil.
func (d *decider) cached(id AccountID) *Account {
	for _, a := range d.accts {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// active loads every account of ids (unknown_account first, in order), then checks that none
// is frozen (account_frozen).
func (d *decider) active(ids ...AccountID) error {
	for _, id := range ids {
		if _, err := d.account(id); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if d.cached(id).Frozen {
			return Errorf(CodeAccountFrozen, "Account %s is frozen: it can neither pay nor be paid until an admin unfreezes it.", id).
				With("account", string(id))
		}
	}
	return nil
}

// scale returns the scale of asset, or invalid_field.
func (d *decider) scale(asset string) (int, error) {
	s, ok := d.p.Assets.Scale(asset)
	if !ok {
		return 0, badField("asset", "Asset %q is not one of %v.", truncate(asset, 20), d.p.Assets.Codes())
	}
	return s, nil
}

// amount parses amount s of asset and returns it with its normalised form.
func (d *decider) amount(asset, s string) (int64, string, error) {
	scale, err := d.scale(asset)
	if err != nil {
		return 0, "", err
	}
	v, err := ParseAmount(s, scale)
	if err != nil {
		return 0, "", err
	}
	return v, FormatAmount(v, scale), nil
}

// ParseRef parses an account id a request names in field and checks its kind is one of
// kinds: 400 invalid_account for the syntax, then 400 invalid_field for the kind.
func ParseRef(field, s string, kinds ...Kind) (AccountID, error) {
	id, err := ParseAccountID(s, false)
	if err != nil {
		return "", err
	}
	for _, k := range kinds {
		if id.Kind() == k {
			return id, nil
		}
	}
	return "", badField(field, "%s must be %s account, not %s.", field, KindsText(kinds), id)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (d *decider) fmtAmount(asset string, v int64) string {
	s, _ := d.p.Assets.Scale(asset)
	return FormatAmount(v, s)
}

package api

import (
	"math"
	"strconv"

	"github.com/timebank/timebank/ledger"
)

// The shape checks of SPEC §3 run before authentication, so a request's own faults answer
// first (400) whoever sends it. They mirror the engine's shape checks (same codes, same
// fields, same order); the engine checks again when it decides, which is harmless. Every
// check looks at lengths before doing work, so hostile input costs microseconds.

// relations are the family relations a link may name.
var relations = map[string]bool{"spouse": true, "parent": true, "child": true, "sibling": true,
	"grandparent": true, "grandchild": true, "other": true}

// ref checks an account id a body names (ledger.ParseRef): before authentication, as SPEC
// §3 orders, and again in the ledger.
func ref(field string, id ledger.AccountID, kinds ...ledger.Kind) error {
	_, err := ledger.ParseRef(field, string(id), kinds...)
	return err
}

// amount checks an amount string of asset: a known asset (invalid_field), then the amount
// syntax at the asset's scale (invalid_amount).
func (s *Server) amount(asset, amount string) error {
	scale, ok := s.svc.Assets().Scale(asset)
	if !ok {
		shown := asset
		if len(shown) > 20 {
			shown = shown[:20] + "…"
		}
		return invalidField("asset", "Asset %q is not one of %v.", shown, s.svc.Assets().Codes())
	}
	_, err := parseAmount(amount, scale)
	return err
}

var payeeKinds = []ledger.Kind{ledger.KindResident, ledger.KindStation, ledger.KindOutlet, ledger.KindPool}

// shape checks body as its entry type requires. It reads only the asset table (fixed at
// genesis), never the policy: what the policy decides is the ledger's, after the
// Idempotency-Key's lookup, so that a replay answers its entry whatever policy came since.
func (s *Server) shape(body ledger.Body) error {
	switch b := body.(type) {
	case *ledger.OpenBody:
		_, err := ledger.ParseAccountID(string(b.ID), false)
		return err
	case *ledger.FreezeBody:
		if _, err := ledger.ParseAccountID(string(b.Account), false); err != nil {
			return err
		}
		return ledger.CheckText("reason", b.Reason, ledger.MaxReasonChars, true)
	case *ledger.LinkBody:
		return shapeLink(b)
	case *ledger.CreditBody:
		return s.shapeCredit(b)
	case *ledger.RedemptionBody:
		return firstErr(ref("payee", b.Payee, payeeKinds...), s.amount(b.Asset, b.Amount),
			ledger.CheckText("memo", b.Memo, ledger.MaxMemoChars, false))
	case *ledger.HoldBody:
		return s.shapeHold(b)
	case *ledger.SettleBody:
		// The hold's asset, and so its scale, is known only once the hold is found to be
		// visible (SPEC §3's order): here the shape at the widest scale, the scale after.
		if _, err := parseAmount(b.Amount, ledger.MaxScale); err != nil {
			shown := b.Amount
			if len(shown) > 32 {
				shown = shown[:32] + "…"
			}
			return ledger.Errorf(ledger.CodeInvalidAmount,
				"Amount %q is not valid: write a positive plain decimal such as \"1.50\", at the scale of the hold's asset.", shown)
		}
		return nil
	case *ledger.VoidBody:
		return nil
	case *ledger.TransferBody:
		return firstErr(ref("to", b.To, ledger.KindResident), s.amount(b.Asset, b.Amount),
			ledger.CheckText("memo", b.Memo, ledger.MaxMemoChars, false))
	case *ledger.DonationBody:
		return firstErr(ref("pool", b.Pool, ledger.KindPool), s.amount(b.Asset, b.Amount))
	case *ledger.GrantBody:
		return firstErr(ref("pool", b.Pool, ledger.KindPool), ref("to", b.To, ledger.KindResident),
			s.amount(b.Asset, b.Amount), ledger.CheckText("memo", b.Memo, ledger.MaxMemoChars, true))
	case *ledger.ConversionBody:
		return s.amount(ledger.AssetHours, b.Hours)
	case *ledger.ReversalBody:
		if b.Seq == 0 {
			return invalidField("seq", "seq must be the number of the entry to reverse.")
		}
		return ledger.CheckText("reason", b.Reason, ledger.MaxReasonChars, true)
	case *ledger.PolicyBody:
		return b.Policy.Compile(s.svc.Assets())
	}
	return invalidField("body", "This request has no shape check (%T).", body)
}

// firstErr returns the first non-nil error. Its arguments are all evaluated, which is fine
// for checks that cost nanoseconds; their order is the order errors answer in.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func shapeLink(b *ledger.LinkBody) error {
	if err := ref("a", b.A, ledger.KindResident); err != nil {
		return err
	}
	if err := ref("b", b.B, ledger.KindResident); err != nil {
		return err
	}
	if b.A == b.B {
		return invalidField("b", "A resident cannot be linked to itself.")
	}
	if !relations[b.Relation] {
		return invalidField("relation", "relation must be one of spouse, parent, child, sibling, grandparent, grandchild, other.")
	}
	return nil
}

func (s *Server) shapeCredit(b *ledger.CreditBody) error {
	if b.Station != "" {
		if err := ref("station", b.Station, ledger.KindStation); err != nil {
			return err
		}
	}
	if err := ref("volunteer", b.Volunteer, ledger.KindResident); err != nil {
		return err
	}
	if err := s.amount(ledger.AssetHours, b.Hours); err != nil {
		return err
	}
	if err := ledger.CheckText("activity.id", b.Activity.ID, ledger.MaxActivityIDChars, true); err != nil {
		return err
	}
	if !validCategory(b.Activity.Category) {
		return invalidField("activity.category", "activity.category must match ^[a-z0-9][a-z0-9._-]{0,63}$, e.g. elderly-care.")
	}
	start, err := ledger.ParseTime("activity.started_at", b.Activity.StartedAt)
	if err != nil {
		return err
	}
	end, err := ledger.ParseTime("activity.ended_at", b.Activity.EndedAt)
	if err != nil {
		return err
	}
	if end <= start {
		return ledger.Errorf(ledger.CodeInvalidTime, "activity.ended_at must be after activity.started_at.").
			With("field", "activity.ended_at")
	}
	return ledger.CheckText("memo", b.Memo, ledger.MaxMemoChars, false)
}

func (s *Server) shapeHold(b *ledger.HoldBody) error {
	if err := ref("payee", b.Payee, payeeKinds...); err != nil {
		return err
	}
	if err := s.amount(b.Asset, b.Amount); err != nil {
		return err
	}
	// Only the sign is the request's own shape. The maximum is the policy's, judged by the
	// ledger with the policy in force for the entry, after the Idempotency-Key is looked
	// up: a retry of a hold made before the maximum was lowered gets its hold back, not 400.
	if b.TTLSeconds < 0 {
		return invalidField("ttl_seconds", "ttl_seconds must not be negative (absent or 0 means the policy's default).")
	}
	return nil
}

// validCategory reports whether s matches ^[a-z0-9][a-z0-9._-]{0,63}$.
func validCategory(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// parseUint parses a decimal path or query number of at most 19 digits (400 invalid_field).
func parseUint(field, s string) (uint64, error) {
	if len(s) == 0 {
		return 0, invalidField(field, "%s must be a whole number.", field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, invalidField(field, "%s must be a whole number.", field)
		}
	}
	// Digits only, checked above: the only error left is a number too large for 64 bits.
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, invalidField(field, "%s is too large: it must be a whole number of at most %d.", field, uint64(math.MaxUint64))
	}
	return v, nil
}

package ledger

import (
	"strings"
	"testing"
	"time"
)

// TestMessagesReadWell: SPEC §7 wants a sentence a station clerk can act on; these once
// printed Go values ("a open entry", "[resident]", "1h0m0s", "at most 0 decimal places").
func TestMessagesReadWell(t *testing.T) {
	b := standard(t)
	_, amountErr := ParseAmount("1.5", 0)
	_, hoursErr := ParseAmount("1.555", 2)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"not reversible", try(b, admin, &ReversalBody{Seq: 2, Reason: "x"}), "Entry 2 is an open entry, which cannot be reversed."},
		{"kind of a target", try(b, alice, &TransferBody{To: "station:s1", Asset: AssetHours, Amount: "1"}),
			"to must be a resident account, not station:s1."},
		{"kinds of a payee", try(b, alice, &RedemptionBody{Payee: "resident:bob", Asset: AssetHours, Amount: "1"}),
			"a station or an outlet"},
		{"duration", try(b, s1, credit("resident:bob", "2", -3*time.Hour, -2*time.Hour)), "The session lasted 1 h 00 min but credits 2.00 hours"},
		{"whole points", amountErr, `write a positive whole number such as "10".`},
		{"hours at scale", hoursErr, `such as "2.50", with at most 2 decimal places.`},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: message %v, want it to contain %q", c.name, c.err, c.want)
		}
	}
	if got := spokenDuration((45*60 + 30) * microsPerSecond); got != "0 h 45 min 30 s" {
		t.Errorf("spokenDuration: %q", got)
	}
}

func try(b *book, p Principal, body Body) error {
	_, err := b.try(p, body)
	return err
}

// TestSelfPaymentNamesItsField: details.field of "an account cannot pay itself" names the
// field of the request that named the payer's own account, which a client's form marks:
// "payee" for redemptions and holds (which have no "to"), "to" for transfers.
func TestSelfPaymentNamesItsField(t *testing.T) {
	b := standard(t)
	for _, c := range []struct {
		body Body
		want string
	}{
		{&RedemptionBody{Payee: "resident:alice", Asset: AssetHours, Amount: "1"}, "payee"},
		{&HoldBody{Payee: "resident:alice", Asset: AssetHours, Amount: "1"}, "payee"},
		{&TransferBody{To: "resident:alice", Asset: AssetHours, Amount: "1"}, "to"},
	} {
		err := try(b, alice, c.body)
		if e, ok := err.(*Error); !ok || e.Code != CodeInvalidField || e.Details["field"] != c.want {
			t.Errorf("%T to itself: got %#v, want invalid_field naming %q", c.body, err, c.want)
		}
	}
}

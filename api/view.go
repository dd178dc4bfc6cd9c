package api

import "github.com/timebank/timebank/ledger"

// serviceView adapts a ledger.Service to the ledger.View that ledger.Parties reads: Parties
// needs only holds (for settle and void entries); the other methods answer "nothing", which
// Parties never asks for.
type serviceView struct{ svc ledger.Service }

var _ ledger.View = serviceView{}

func (v serviceView) Policy() *ledger.Policy                                         { return v.svc.Policy() }
func (v serviceView) Account(id ledger.AccountID) (*ledger.Account, error)           { return v.svc.Account(id) }
func (v serviceView) Hold(id uint64) (*ledger.Hold, error)                           { return v.svc.Hold(id) }
func (v serviceView) Entry(seq uint64) (*ledger.Entry, error)                        { return v.svc.Entry(seq) }
func (v serviceView) Linked(a, b ledger.AccountID) (bool, error)                     { return false, nil }
func (v serviceView) ReversedBy(seq uint64) (uint64, error)                          { return 0, nil }
func (v serviceView) SessionBefore(ledger.AccountID, int64) (*ledger.Session, error) { return nil, nil }
func (v serviceView) SessionsIn(ledger.AccountID, int64, int64) ([]ledger.Session, error) {
	return nil, nil
}

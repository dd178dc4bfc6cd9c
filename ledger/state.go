package ledger

// Balance is one account's figures for one asset, in minor units.
type Balance struct {
	Balance int64 // posted
	Earned  int64 // brought in by credit entries, net of their reversals
}

// OpenHold is a hold as its resident's account remembers it, to compute held.
type OpenHold struct {
	ID        uint64
	Asset     string
	Amount    int64
	ExpiresAt int64 // UTC microseconds
}

// Account is the derived state of one account. Values handed out by a View are copies the
// caller may change; changes take effect only through State.PutAccount.
type Account struct {
	ID        AccountID
	Kind      Kind
	Frozen    bool
	OpenedSeq uint64
	OpenedAt  int64 // UTC microseconds
	Balances  map[string]Balance
	Holds     []OpenHold // holds not settled or voided; expired ones may linger until pruned
}

// Held is the sum of the account's open, unexpired holds of asset at time now.
func (a *Account) Held(asset string, now int64) int64 {
	var sum int64
	for _, h := range a.Holds {
		if h.Asset == asset && now < h.ExpiresAt {
			sum += h.Amount
		}
	}
	return sum
}

// Available is balance − held for asset at time now.
func (a *Account) Available(asset string, now int64) int64 {
	return a.Balances[asset].Balance - a.Held(asset, now)
}

// Clone returns a deep copy of a.
func (a *Account) Clone() *Account {
	c := *a
	c.Balances = make(map[string]Balance, len(a.Balances))
	for k, v := range a.Balances {
		c.Balances[k] = v
	}
	c.Holds = append([]OpenHold(nil), a.Holds...)
	return &c
}

// HoldStatus is the stored status of a hold; "expired" is derived from time (Hold.StatusAt).
type HoldStatus string

// Hold statuses.
const (
	HoldOpen    HoldStatus = "open"
	HoldSettled HoldStatus = "settled"
	HoldVoided  HoldStatus = "voided"
	HoldExpired HoldStatus = "expired"
)

// Hold is the derived state of one hold; its ID is the seq of the hold entry.
type Hold struct {
	ID        uint64
	Resident  AccountID
	Payee     AccountID
	Asset     string
	Amount    int64
	ExpiresAt int64 // UTC microseconds
	Status    HoldStatus
	ClosedSeq uint64 // the settle or void entry, 0 while open
}

// StatusAt is the hold's status at time now: an open hold at or past ExpiresAt is expired.
func (h *Hold) StatusAt(now int64) HoldStatus {
	if h.Status == HoldOpen && now >= h.ExpiresAt {
		return HoldExpired
	}
	return h.Status
}

// Session is one unreversed credited service interval [Start, End) of a volunteer.
type Session struct {
	Start int64 // UTC microseconds
	End   int64
	Seq   uint64 // the credit entry
	Hours int64  // minor units of HOURS
}

// View is what the rules read. Implementations: the bbolt store (inside its write
// transaction, seeing the batch's earlier entries) and the in-memory replay of verify.
// Read methods return nil (and no error) for a missing object; errors are I/O failures.
type View interface {
	// Policy is the policy in force for the next entry.
	Policy() *Policy
	Account(id AccountID) (*Account, error)
	Hold(id uint64) (*Hold, error)
	Linked(a, b AccountID) (bool, error)
	// SessionBefore returns the volunteer's session with the greatest Start < t, or nil.
	SessionBefore(volunteer AccountID, t int64) (*Session, error)
	// SessionsIn returns the volunteer's sessions with from ≤ Start < to, in Start order.
	// The slice may be the state's own: the caller must not change its elements.
	SessionsIn(volunteer AccountID, from, to int64) ([]Session, error)
	// Entry returns entry seq, or nil when there is none.
	Entry(seq uint64) (*Entry, error)
	// ReversedBy returns the seq of the reversal of entry seq, or 0.
	ReversedBy(seq uint64) (uint64, error)
}

// State is a View that Apply can change. Changes must be visible to later reads at once.
type State interface {
	View
	PutAccount(a *Account) error
	PutHold(h *Hold) error
	AddSession(volunteer AccountID, s Session) error
	DeleteSession(volunteer AccountID, s Session) error
	PutLink(a, b AccountID, relation string) error
	SetReversed(seq, by uint64) error
	SetPolicy(p *Policy) error
}

package ledger

import "sort"

// EntrySource gives back logged entries by seq (reversals read the entry they mirror).
type EntrySource interface {
	Entry(seq uint64) (*Entry, error)
}

// MemState is an in-memory State: the replay target of `timebank verify` and the reference
// model of the tests. Its memory grows with accounts, holds and credited sessions; the
// entries themselves stay in their EntrySource.
type MemState struct {
	policy   *Policy
	accounts map[AccountID]*memAccount
	holds    map[uint64]*Hold
	links    map[[2]AccountID]string
	reversed map[uint64]uint64
	src      EntrySource
	own      map[uint64]*Entry // entries kept when there is no source
}

// memAccount is what the state knows of one account id: the account (nil until opened) and
// its credited sessions, in Start order. One record per id, so that a credit's rules find
// the volunteer's account and sessions with one lookup in a map that, with many accounts,
// misses the CPU cache.
type memAccount struct {
	acct     *Account
	sessions sessionList
}

// rec returns id's record, made empty when missing.
func (m *MemState) rec(id AccountID) *memAccount {
	r := m.accounts[id]
	if r == nil {
		r = &memAccount{}
		m.accounts[id] = r
	}
	return r
}

var _ State = (*MemState)(nil)

// NewMemState returns an empty state. With a nil src it keeps every entry Recorded into it.
func NewMemState(src EntrySource) *MemState {
	return &MemState{accounts: map[AccountID]*memAccount{}, holds: map[uint64]*Hold{},
		links: map[[2]AccountID]string{}, reversed: map[uint64]uint64{}, src: src, own: map[uint64]*Entry{}}
}

// Record keeps e for later Entry lookups when the state has no EntrySource.
func (m *MemState) Record(e *Entry) {
	if m.src == nil {
		m.own[e.Seq] = e
	}
}

func (m *MemState) Policy() *Policy { return m.policy }

func (m *MemState) Account(id AccountID) (*Account, error) {
	if a := m.lendAccount(id); a != nil {
		return a.Clone(), nil
	}
	return nil, nil
}

// PeekAccount returns account id without copying it; the caller must not change it.
func (m *MemState) PeekAccount(id AccountID) (*Account, error) { return m.lendAccount(id), nil }

func (m *MemState) Hold(id uint64) (*Hold, error) {
	if h, ok := m.holds[id]; ok {
		c := *h
		return &c, nil
	}
	return nil, nil
}

func linkKey(a, b AccountID) [2]AccountID {
	if b < a {
		a, b = b, a
	}
	return [2]AccountID{a, b}
}

func (m *MemState) Linked(a, b AccountID) (bool, error) {
	_, ok := m.links[linkKey(a, b)]
	return ok, nil
}

func (m *MemState) SessionBefore(v AccountID, t int64) (*Session, error) {
	if r := m.accounts[v]; r != nil {
		return r.sessions.last(t), nil
	}
	return nil, nil
}

func (m *MemState) SessionsIn(v AccountID, from, to int64) ([]Session, error) {
	if r := m.accounts[v]; r != nil {
		return r.sessions.in(from, to), nil
	}
	return nil, nil
}

func (m *MemState) Entry(seq uint64) (*Entry, error) {
	if m.src != nil {
		return m.src.Entry(seq)
	}
	return m.own[seq], nil
}

func (m *MemState) ReversedBy(seq uint64) (uint64, error) { return m.reversed[seq], nil }

// PutAccount stores a; the state takes ownership of it (Apply hands over its own copy).
func (m *MemState) PutAccount(a *Account) error {
	m.rec(a.ID).acct = a
	return nil
}

func (m *MemState) lendAccount(id AccountID) *Account {
	if r := m.accounts[id]; r != nil {
		return r.acct
	}
	return nil
}

func (m *MemState) PutHold(h *Hold) error {
	c := *h
	m.holds[h.ID] = &c
	return nil
}

func (m *MemState) AddSession(v AccountID, s Session) error {
	m.rec(v).sessions.add(s)
	return nil
}

func (m *MemState) DeleteSession(v AccountID, s Session) error {
	r := m.accounts[v]
	if r == nil {
		return nil
	}
	r.sessions.remove(s)
	if r.sessions.n == 0 && r.acct == nil {
		delete(m.accounts, v)
	}
	return nil
}

func (m *MemState) PutLink(a, b AccountID, relation string) error {
	m.links[linkKey(a, b)] = relation
	return nil
}

func (m *MemState) SetReversed(seq, by uint64) error {
	m.reversed[seq] = by
	return nil
}

func (m *MemState) SetPolicy(p *Policy) error {
	m.policy = p
	return nil
}

// Accounts returns every account, sorted by id (copies).
func (m *MemState) Accounts() []*Account {
	out := make([]*Account, 0, len(m.accounts))
	for _, r := range m.accounts {
		if r.acct != nil {
			out = append(out, r.acct.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Holds returns every hold, sorted by id (copies).
func (m *MemState) Holds() []Hold {
	out := make([]Hold, 0, len(m.holds))
	for _, h := range m.holds {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Sessions returns every volunteer's sessions (copies), volunteers sorted.
func (m *MemState) Sessions() map[AccountID][]Session {
	out := map[AccountID][]Session{}
	for v, r := range m.accounts {
		if r.sessions.n > 0 {
			out[v] = r.sessions.all()
		}
	}
	return out
}

// Links returns every link as "a|b" → relation with a < b.
func (m *MemState) Links() map[[2]AccountID]string {
	out := make(map[[2]AccountID]string, len(m.links))
	for k, v := range m.links {
		out[k] = v
	}
	return out
}

// Reversals returns the reversed seqs and the reversals that reversed them.
func (m *MemState) Reversals() map[uint64]uint64 {
	out := make(map[uint64]uint64, len(m.reversed))
	for k, v := range m.reversed {
		out[k] = v
	}
	return out
}

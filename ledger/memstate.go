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
	accounts map[AccountID]*Account
	holds    map[uint64]*Hold
	links    map[[2]AccountID]string
	sessions map[AccountID][]Session // sorted by Start
	reversed map[uint64]uint64
	src      EntrySource
	own      map[uint64]*Entry // entries kept when there is no source
}

var _ State = (*MemState)(nil)

// NewMemState returns an empty state. With a nil src it keeps every entry Recorded into it.
func NewMemState(src EntrySource) *MemState {
	return &MemState{accounts: map[AccountID]*Account{}, holds: map[uint64]*Hold{},
		links: map[[2]AccountID]string{}, sessions: map[AccountID][]Session{},
		reversed: map[uint64]uint64{}, src: src, own: map[uint64]*Entry{}}
}

// Record keeps e for later Entry lookups when the state has no EntrySource.
func (m *MemState) Record(e *Entry) {
	if m.src == nil {
		m.own[e.Seq] = e
	}
}

func (m *MemState) Policy() *Policy { return m.policy }

func (m *MemState) Account(id AccountID) (*Account, error) {
	if a, ok := m.accounts[id]; ok {
		return a.Clone(), nil
	}
	return nil, nil
}

// PeekAccount returns account id without copying it; the caller must not change it.
func (m *MemState) PeekAccount(id AccountID) (*Account, error) { return m.accounts[id], nil }

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
	ss := m.sessions[v]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Start >= t })
	if i == 0 {
		return nil, nil
	}
	s := ss[i-1]
	return &s, nil
}

func (m *MemState) SessionsIn(v AccountID, from, to int64) ([]Session, error) {
	ss := m.sessions[v]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Start >= from })
	j := sort.Search(len(ss), func(i int) bool { return ss[i].Start >= to })
	return ss[i:j:j], nil // capacity clipped: an append by the caller copies
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
	m.accounts[a.ID] = a
	return nil
}

func (m *MemState) lendAccount(id AccountID) *Account { return m.accounts[id] }

func (m *MemState) PutHold(h *Hold) error {
	c := *h
	m.holds[h.ID] = &c
	return nil
}

func (m *MemState) AddSession(v AccountID, s Session) error {
	ss := m.sessions[v]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Start > s.Start })
	ss = append(ss, Session{})
	copy(ss[i+1:], ss[i:])
	ss[i] = s
	m.sessions[v] = ss
	return nil
}

func (m *MemState) DeleteSession(v AccountID, s Session) error {
	ss := m.sessions[v]
	for i := range ss {
		if ss[i].Seq == s.Seq {
			m.sessions[v] = append(ss[:i:i], ss[i+1:]...)
			break
		}
	}
	if len(m.sessions[v]) == 0 {
		delete(m.sessions, v)
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
	for _, a := range m.accounts {
		out = append(out, a.Clone())
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
	out := make(map[AccountID][]Session, len(m.sessions))
	for v, ss := range m.sessions {
		out[v] = append([]Session(nil), ss...)
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

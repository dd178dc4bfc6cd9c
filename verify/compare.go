package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/timebank/timebank/ledger"
)

// The slow path: when the digests differ, every stored record is compared with the
// replay's, one kind at a time, to name the first difference.

// state compares every stored record of derived state with the replay's, one kind at a
// time, and names the first that differs: the slow path, taken when the digests differ.
func (d *dataCheck) state() error {
	st := d.r.st
	if err := d.accounts(st); err != nil {
		return err
	}
	if err := d.holds(st); err != nil {
		return err
	}
	if err := d.sessions(st); err != nil {
		return err
	}
	if err := d.links(st); err != nil {
		return err
	}
	if err := d.reversals(st); err != nil {
		return err
	}
	return d.walkIndexes()
}

// policy compares the stored policy in force with the replay's.
func (d *dataCheck) policy() error {
	want, _ := json.Marshal(d.r.st.Policy())
	got, _ := json.Marshal(d.l.Policy())
	if !bytes.Equal(want, got) {
		return fmt.Errorf("the stored policy in force differs from the replay's:\n stored:   %s\n replayed: %s", got, want)
	}
	return nil
}

// normal drops zero balances and empty hold lists, which encodings may or may not keep.
func normal(a *ledger.Account) *ledger.Account {
	c := a.Clone()
	for k, b := range c.Balances {
		if b == (ledger.Balance{}) {
			delete(c.Balances, k)
		}
	}
	if len(c.Holds) == 0 {
		c.Holds = nil
	}
	return c
}

func (d *dataCheck) accounts(st *ledger.MemState) error {
	want := map[ledger.AccountID]*ledger.Account{}
	for _, a := range st.Accounts() {
		want[a.ID] = normal(a)
	}
	err := d.l.ForEachAccount(func(a *ledger.Account) error {
		w, ok := want[a.ID]
		if !ok {
			return fmt.Errorf("account %s is stored but no entry opened it", a.ID)
		}
		if g := normal(a); !reflect.DeepEqual(g, w) {
			return fmt.Errorf("account %s differs:\n stored:   %+v\n replayed: %+v", a.ID, *g, *w)
		}
		delete(want, a.ID)
		return nil
	})
	if err == nil && len(want) > 0 {
		missing := make([]string, 0, len(want))
		for id := range want {
			missing = append(missing, string(id))
		}
		sort.Strings(missing)
		err = fmt.Errorf("account %s was opened by the log but is not stored (%d missing)", missing[0], len(missing))
	}
	return err
}

func (d *dataCheck) holds(st *ledger.MemState) error {
	want := st.Holds()
	i := 0
	err := d.l.ForEachHold(func(h *ledger.Hold) error {
		if i >= len(want) || *h != want[i] {
			return fmt.Errorf("hold %d differs from the replay's", h.ID)
		}
		i++
		return nil
	})
	if err == nil && i != len(want) {
		err = fmt.Errorf("the store holds %d holds, the replay %d", i, len(want))
	}
	return err
}

func (d *dataCheck) sessions(st *ledger.MemState) error {
	want := st.Sessions()
	n, total := 0, 0
	for _, ss := range want {
		total += len(ss)
	}
	err := d.l.ForEachSession(func(v ledger.AccountID, s ledger.Session) error {
		ss := want[v]
		found := false
		for _, w := range ss {
			if w == s {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("session of %s from entry %d is stored but not in the replay", v, s.Seq)
		}
		n++
		return nil
	})
	if err == nil && n != total {
		err = fmt.Errorf("the store holds %d credited sessions, the replay %d", n, total)
	}
	return err
}

func (d *dataCheck) links(st *ledger.MemState) error {
	want := st.Links()
	n := 0
	err := d.l.ForEachLink(func(a, b ledger.AccountID, rel string) error {
		k := [2]ledger.AccountID{a, b}
		if b < a {
			k = [2]ledger.AccountID{b, a}
		}
		if want[k] != rel {
			return fmt.Errorf("link %s–%s (%s) differs from the replay's", a, b, rel)
		}
		n++
		return nil
	})
	if err == nil && n != 2*len(want) {
		err = fmt.Errorf("the store holds %d link records, the replay makes %d", n, 2*len(want))
	}
	return err
}

func (d *dataCheck) reversals(st *ledger.MemState) error {
	want := st.Reversals()
	n := 0
	err := d.l.ForEachReversal(func(seq, by uint64) error {
		if want[seq] != by {
			return fmt.Errorf("entry %d is stored as reversed by %d, the replay says %d", seq, by, want[seq])
		}
		n++
		return nil
	})
	if err == nil && n != len(want) {
		err = fmt.Errorf("the store holds %d reversals, the replay %d", n, len(want))
	}
	return err
}

package ledger

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exportOf returns the canonical lines of every entry of b.
func exportOf(t tb, b *book) [][]byte {
	var lines [][]byte
	for seq := uint64(1); seq <= b.seq; seq++ {
		e, _ := b.st.Entry(seq)
		raw, err := EncodeEntry(e, DefaultPolicy().Assets)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, raw)
	}
	return lines
}

// replayLines decodes and replays lines into a fresh state.
func replayLines(lines [][]byte) (*MemState, error) {
	st := NewMemState(nil)
	r := &Replayer{St: st}
	for _, raw := range lines {
		e, err := DecodeEntry(raw, DefaultPolicy().Assets)
		if err != nil {
			return nil, err
		}
		if err := r.Step(e, raw); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func busyBook(t *testing.T) *book {
	b := standard(t)
	linkAliceBob(b)
	b.must(alice, &TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "1.25"})
	h := holdFor(b, "2", 0)
	b.must(o1, &SettleBody{HoldID: h, Amount: "1.5"})
	holdFor(b, "1", 30)
	b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetPoints, Amount: "7"})
	b.must(admin, &GrantBody{Pool: "pool:public", To: "resident:carol", Asset: AssetPoints, Amount: "3", Memo: "winter"})
	b.must(alice, &ConversionBody{Hours: "0.5"})
	e := b.must(s2, credit("resident:carol", "3", -5*time.Hour, -2*time.Hour))
	b.must(s2, &ReversalBody{Seq: e.Seq, Reason: "duplicate sheet"})
	p := *b.st.Policy()
	p.Transfer = map[string]string{AssetHours: TransferAny, AssetPoints: TransferAny}
	b.must(admin, &PolicyBody{Policy: p})
	b.must(alice, &TransferBody{To: "resident:carol", Asset: AssetPoints, Amount: "1"})
	b.now += 60_000_000 // the 30 s hold expires
	b.must(admin, &FreezeBody{Account: "resident:carol", Reason: "moved away"})
	return b
}

func TestReplayReproducesState(t *testing.T) {
	b := busyBook(t)
	st, err := replayLines(exportOf(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if !statesEqual(st, b.st) {
		t.Fatal("replayed state differs")
	}
}

func statesEqual(a, b *MemState) bool {
	return deepEqual(a.Accounts(), b.Accounts()) && deepEqual(a.Holds(), b.Holds()) &&
		deepEqual(a.Sessions(), b.Sessions()) && deepEqual(a.Links(), b.Links()) && deepEqual(a.Reversals(), b.Reversals())
}

// timeField is an entry's time field in its canonical bytes.
var timeField = regexp.MustCompile(`"time":"[^"]*"`)

func TestReplayFindsTampering(t *testing.T) {
	b := busyBook(t)
	lines := exportOf(t, b)
	tamper := map[string]func([][]byte) [][]byte{
		"changed amount": func(l [][]byte) [][]byte {
			l[10] = bytes.Replace(l[10], []byte(`"amount":"1.25"}]`), []byte(`"amount":"1.26"}]`), 1) // posting only
			return l
		},
		"body not normalised": func(l [][]byte) [][]byte {
			l[8] = bytes.Replace(l[8], []byte(`"hours":"10.00"`), []byte(`"hours":"10.0"`), 1)
			return l
		},
		"dropped line": func(l [][]byte) [][]byte { return append(l[:5:5], l[6:]...) },
		"swapped lines": func(l [][]byte) [][]byte {
			l[10], l[11] = l[11], l[10]
			return l
		},
		"changed actor": func(l [][]byte) [][]byte {
			l[8] = bytes.Replace(l[8], []byte(`"actor":"station:s1"`), []byte(`"actor":"station:s2"`), 1)
			return l
		},
		// The last entry (a freeze) passes the rules without the one before it: only the
		// seq check finds the gap.
		"gap before the last entry": func(l [][]byte) [][]byte { return append(l[:len(l)-2:len(l)-2], l[len(l)-1]) },
		// The last entry at its predecessor's time: only the time check finds it.
		"time not after the previous entry's": func(l [][]byte) [][]byte {
			last, prev := l[len(l)-1], l[len(l)-2]
			l[len(l)-1] = timeField.ReplaceAll(last, timeField.Find(prev))
			return l
		},
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			cp := make([][]byte, len(lines))
			for i := range lines {
				cp[i] = append([]byte(nil), lines[i]...)
			}
			if _, err := replayLines(f(cp)); err == nil {
				t.Fatal("tampered log replayed cleanly")
			} else if !strings.Contains(err.Error(), "entry") {
				t.Fatalf("error does not name the entry: %v", err)
			}
		})
	}
}

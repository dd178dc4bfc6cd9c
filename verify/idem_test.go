package verify

import (
	"bytes"
	"strings"
	"testing"

	"github.com/timebank/timebank/ledger"
)

// TestRepeatedIdempotencyKey: a log in which an actor's Idempotency-Key makes a second entry
// is not one the server wrote (it answers a repeated request with the first entry, or
// refuses it), however well the entry passes the rules; both entries are named. The first
// difference in the log is still the one named, and entries beyond the checkpoint are
// checked as well.
func TestRepeatedIdempotencyKey(t *testing.T) {
	_, export, _, _ := fixture(t)
	// Entries 14 and 16 are alice's two holds, made with the keys k13 and k15.
	for _, k := range []string{`{"seq":14,`, `"idempotency_key":"k13"`, `{"seq":16,`, `"idempotency_key":"k15"`} {
		if !bytes.Contains(export, []byte(k)) {
			t.Fatalf("the fixture's export has no %s", k)
		}
	}
	repeated := bytes.Replace(export, []byte(`"idempotency_key":"k15"`), []byte(`"idempotency_key":"k13"`), 1)
	const want = `entry 16 (hold): actor resident:alice and Idempotency-Key "k13" are those of entry 14`
	lines := bytes.SplitAfter(repeated, []byte("\n"))
	for name, signed := range map[string][]byte{
		"within the checkpoint": repeated,
		"beyond the checkpoint": bytes.Join(lines[:15], nil),
	} {
		t.Run(name, func(t *testing.T) {
			ckpt, vkey := signLog(t, signed)
			_, _, err := Export(writeFile(t, repeated), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want %q", err, want)
			}
		})
	}
	t.Run("through --url", func(t *testing.T) {
		ckpt, vkey := signLog(t, repeated)
		base, token, _ := serveFixture(t, map[string]func([]byte) []byte{
			"/v1/checkpoint/key": func([]byte) []byte { return []byte(vkey + "\n") },
			"/v1/checkpoint":     func([]byte) []byte { return ckpt },
			"/v1/export":         func([]byte) []byte { return repeated },
		})
		_, err := URL(base, token, vkey, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want %q", err, want)
		}
	})
	t.Run("another actor's key", func(t *testing.T) {
		other := bytes.Replace(export, []byte(`"idempotency_key":"k15"`), []byte(`"idempotency_key":"k14"`), 1) // outlet o1's settle
		ckpt, vkey := signLog(t, other)
		if _, _, err := Export(writeFile(t, other), ckpt, vkey, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an earlier difference first", func(t *testing.T) {
		forged := bytes.Replace(repeated, []byte(`"asset":"POINTS","amount":"22"}`), []byte(`"asset":"POINTS","amount":"23"}`), 1)
		ckpt, vkey := signLog(t, forged)
		_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
		if err == nil || !strings.Contains(err.Error(), "entry 7 (credit): replay gives a different entry") {
			t.Fatalf("got %v, want entry 7 named", err)
		}
	})
}

// TestIdemIndexCollision: two different pairs that share a hash are told apart by reading
// the earlier entry back, and a repeat of either is still found.
func TestIdemIndexCollision(t *testing.T) {
	a := &ledger.Entry{Seq: 2, Type: ledger.TypeOpen, Actor: "admin:tok_a", IdempotencyKey: "x"}
	b := &ledger.Entry{Seq: 3, Type: ledger.TypeOpen, Actor: "admin:tok_b", IdempotencyKey: "y"}
	lines := map[int64]*ledger.Entry{200: a, 300: b} // by offset
	x := newIdemIndex(func(offset int64) (*ledger.Entry, error) { return lines[offset], nil })
	if err := x.add(a, 2, 200); err != nil {
		t.Fatal(err)
	}
	// Make b's hash collide with a's: file a's line under b's hash too.
	x.h.Reset()
	x.h.WriteString(b.Actor)
	x.h.WriteByte(0)
	x.h.WriteString(b.IdempotencyKey)
	x.first[x.h.Sum64()] = 200
	if err := x.add(b, 3, 300); err != nil {
		t.Fatalf("a pair that only shares a hash: %v", err)
	}
	if err := x.add(b, 4, 400); err == nil || !strings.Contains(err.Error(), "entry 4 (open): actor admin:tok_b and Idempotency-Key \"y\" are those of entry 3") {
		t.Fatalf("b's pair again: got %v", err)
	}
	if err := x.add(a, 5, 500); err == nil || !strings.Contains(err.Error(), "entry 5 (open): actor admin:tok_a and Idempotency-Key \"x\" are those of entry 2") {
		t.Fatalf("a's pair again: got %v", err)
	}
}

// TestIdemIndexCollisionComparesBothHalves: a pair that shares a hash with an earlier one is
// a repeat only when both its actor and its key are the earlier entry's: another actor's
// use of the same key, or the same actor's other key, is not (found by mutation testing:
// comparing the key alone passed).
func TestIdemIndexCollisionComparesBothHalves(t *testing.T) {
	a := &ledger.Entry{Seq: 2, Type: ledger.TypeOpen, Actor: "admin:tok_a", IdempotencyKey: "x"}
	for name, e := range map[string]*ledger.Entry{
		"another actor, the same key": {Seq: 3, Type: ledger.TypeOpen, Actor: "admin:tok_b", IdempotencyKey: "x"},
		"the same actor, another key": {Seq: 3, Type: ledger.TypeOpen, Actor: "admin:tok_a", IdempotencyKey: "y"},
	} {
		x := newIdemIndex(func(offset int64) (*ledger.Entry, error) { return a, nil })
		if err := x.add(a, 2, 200); err != nil {
			t.Fatal(err)
		}
		x.h.Reset() // file a's line under e's hash too
		x.h.WriteString(e.Actor)
		x.h.WriteByte(0)
		x.h.WriteString(e.IdempotencyKey)
		x.first[x.h.Sum64()] = 200
		if err := x.add(e, 3, 300); err != nil {
			t.Errorf("%s, sharing a hash with an earlier pair: %v", name, err)
		}
	}
}

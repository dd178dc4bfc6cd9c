package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

var (
	admin = ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_admin"}
	s1    = ledger.Principal{Role: ledger.RoleStation, Account: "station:s1"}
	o1    = ledger.Principal{Role: ledger.RoleOutlet, Account: "outlet:o1"}
	alice = ledger.Principal{Role: ledger.RoleResident, Account: "resident:alice"}
)

func at(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

// fixture writes a ledger with every kind of entry into a fresh directory, stops it and
// returns the directory, its export and its signed checkpoint.
func fixture(t testing.TB) (dir string, export []byte, ckpt []byte, vkey string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	l, err := store.Open(dir, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	do := func(p ledger.Principal, b ledger.Body) *ledger.Entry {
		n++
		e, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: fmt.Sprint("k", n), Body: b})
		if err != nil {
			t.Fatalf("%T: %v", b, err)
		}
		return e
	}
	for _, id := range []ledger.AccountID{"station:s1", "outlet:o1", "pool:public", "resident:alice", "resident:bob"} {
		do(admin, &ledger.OpenBody{ID: id})
	}
	for i := 0; i < 5; i++ {
		do(s1, &ledger.CreditBody{Volunteer: "resident:alice", Hours: "1.5", Memo: fmt.Sprint("tamper-me-", i),
			Activity: ledger.Activity{ID: "a", Category: "elderly-care", StartedAt: at(time.Duration(-30+2*i) * time.Hour), EndedAt: at(time.Duration(-28+2*i) * time.Hour)}})
	}
	do(admin, &ledger.LinkBody{A: "resident:alice", B: "resident:bob", Relation: "sibling"})
	do(alice, &ledger.TransferBody{To: "resident:bob", Asset: "HOURS", Amount: "1"})
	h := do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "POINTS", Amount: "20"})
	do(o1, &ledger.SettleBody{HoldID: h.Seq, Amount: "15"})
	do(alice, &ledger.HoldBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "1", TTLSeconds: 60})
	do(alice, &ledger.DonationBody{Pool: "pool:public", Asset: "HOURS", Amount: "2"})
	do(admin, &ledger.GrantBody{Pool: "pool:public", To: "resident:bob", Asset: "HOURS", Amount: "1", Memo: "winter coats"})
	do(alice, &ledger.ConversionBody{Hours: "1"})
	do(s1, &ledger.ReversalBody{Seq: 7, Reason: "duplicate"})
	do(admin, &ledger.FreezeBody{Account: "resident:bob", Reason: "audit"})
	ckpt, err = l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(context.Background(), 0, &buf); err != nil {
		t.Fatal(err)
	}
	vkey = l.VerifierKey()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, buf.Bytes(), ckpt, vkey
}

func writeFile(t testing.TB, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDataAndExportVerify(t *testing.T) {
	dir, export, ckpt, vkey := fixture(t)
	var shown uint64 // the progress bar's last count: the whole log, also below 4,096 entries
	sum, err := Data(dir, ckpt, vkey, func(n uint64) { shown = n })
	if err != nil {
		t.Fatal(err)
	}
	if shown != sum.Entries {
		t.Errorf("progress ended at %d of %d entries", shown, sum.Entries)
	}
	if sum.Entries != 21 || sum.ByType[ledger.TypeCredit] != 5 || sum.Accounts != 7 {
		t.Fatalf("summary %+v", sum)
	}
	// 5 credits of 1.5 h, one reversed, one hour converted: 5 h outstanding.
	if sum.Supply["HOURS"] != 500 {
		t.Fatalf("HOURS supply %d", sum.Supply["HOURS"])
	}
	sum2, _, err := Export(writeFile(t, export), ckpt, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Root != sum.Root {
		t.Fatal("export and data roots differ")
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "OK") || !strings.Contains(out.String(), "5.00 HOURS") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

func TestExportTamperingFails(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	lines := bytes.SplitAfter(export, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty tail after the last newline
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	cases := map[string][]byte{
		"one changed byte": bytes.Replace(export, []byte("tamper-me-3"), []byte("tamper-me-4"), 1),
		"dropped line":     join(append(append([][]byte{}, lines[:10]...), lines[11:]...)),
		"swapped lines":    join(append(append(append([][]byte{}, lines[:10]...), lines[11], lines[10]), lines[12:]...)),
		"truncated":        join(lines[:15]),
		"no final newline": export[:len(export)-1],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Export(writeFile(t, data), ckpt, vkey, nil); err == nil {
				t.Fatal("verify accepted a tampered export")
			}
		})
	}
	t.Run("checkpoint from another key", func(t *testing.T) {
		_, _, ckpt2, vkey2 := fixture(t)
		if _, _, err := Export(writeFile(t, export), ckpt2, vkey, nil); err == nil {
			t.Fatal("accepted a checkpoint signed by another key")
		}
		_ = vkey2
	})
}

// TestUnterminatedLastLineBeyondTheCheckpoint: an export whose last line has no newline is
// cut short (an export that was truncated), also where the checkpoint does not reach that
// line and the tree would not miss it (found by mutation testing: without the check, the
// line was dropped as if it were not there and the export verified).
func TestUnterminatedLastLineBeyondTheCheckpoint(t *testing.T) {
	_, export, _, _ := fixture(t)
	lines := bytes.SplitAfter(export, []byte("\n"))
	ckpt, vkey := signLog(t, bytes.Join(lines[:18], nil))
	_, _, err := Export(writeFile(t, export[:len(export)-1]), ckpt, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "line 21 does not end in a newline") {
		t.Fatalf("got %v, want line 21 named", err)
	}
}

func TestDataTamperingFails(t *testing.T) {
	dir, _, ckpt, vkey := fixture(t)
	db := filepath.Join(dir, store.DBFile)
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// Change every copy: bbolt's copy-on-write leaves earlier versions of the entries' page
	// in free pages, and the first copy in the file need not be the live one.
	n := bytes.Count(raw, []byte("tamper-me-2"))
	if n == 0 {
		t.Fatal("entry bytes not found in the file")
	}
	raw = bytes.ReplaceAll(raw, []byte("tamper-me-2"), []byte("tamper-me-7"))
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Data(dir, ckpt, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "entry 9") {
		t.Fatalf("got %v, want an error naming entry 9", err)
	}
}

// countingReader is a tlog.HashReader that records the indexes it is asked for.
type countingReader struct{ asked []int64 }

func (c *countingReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	c.asked = append(c.asked, idx...)
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i][0] = byte(x)
	}
	return out, nil
}

// TestLeafCache: the leaf hash checkHashes remembers is answered from memory, also among
// other indexes (tlog asks for the previous leaf and higher hashes in one call), in place.
func TestLeafCache(t *testing.T) {
	under := &countingReader{}
	c := &leafCache{HashReader: under, index: 7, hash: tlog.Hash{0xee}}
	got, err := c.ReadHashes([]int64{3, 7, 9})
	if err != nil {
		t.Fatal(err)
	}
	if got[0][0] != 3 || got[1] != (tlog.Hash{0xee}) || got[2][0] != 9 || !slices.Equal(under.asked, []int64{3, 9}) {
		t.Fatalf("got %x %x %x, underlying reader asked for %v", got[0][:1], got[1][:1], got[2][:1], under.asked)
	}
}

// signLog signs a checkpoint of the given export lines with a fresh key: what a server that
// wrote (or an operator who rewrote) those very entries would publish.
func signLog(t *testing.T, export []byte) (ckpt []byte, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, "timebank")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var f Tree
	n := uint64(0)
	for _, line := range bytes.Split(bytes.TrimSuffix(export, []byte("\n")), []byte("\n")) {
		f.Add(tlog.RecordHash(line))
		n++
	}
	ckpt, err = note.Sign(&note.Note{Text: store.CheckpointText("timebank", n, f.Root())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return ckpt, vkey
}

// TestReplayFindsEntriesTheRulesDidNotMake: logs whose Merkle tree and signed checkpoint agree
// with their bytes, but whose entries are not what the rules make of their requests. Only the
// replay can find these; each is named with its seq.
func TestReplayFindsEntriesTheRulesDidNotMake(t *testing.T) {
	_, export, _, _ := fixture(t)
	// Entry 7 is the first credit (after genesis and five opens): 1.5 elderly-care hours to
	// alice and 22 points (floor 1.5 × 15).
	cases := map[string]struct{ old, new, want string }{
		"more points than the category's rate": {`"asset":"POINTS","amount":"22"}`, `"asset":"POINTS","amount":"23"}`, "entry 7 (credit): replay gives a different entry"},
		"hours credited to another resident":   {`"to":"resident:alice","asset":"HOURS","amount":"1.50"}`, `"to":"resident:bob","asset":"HOURS","amount":"1.50"}`, "entry 7 (credit): replay gives a different entry"},
		"a credit over the entry cap":          {`"hours":"1.50"`, `"hours":"13.00"`, "entry 7 (credit): the rules reject it on replay: entry_cap_exceeded"},
		// The same entry in bytes that are not canonical (an escape JSON does not need): the
		// strict parser refuses it, and were it let through, the comparison would.
		"a needless escape": {`"memo":"tamper-me-0"`, `"memo":"tamper-m\u0065-0"`, "entry 7: ledger: decode entry 7"},
		// Times strictly increase, from genesis on (found by mutation testing: "<" for "<=",
		// a check from entry 3 on, or a last time never updated all passed).
		"a time equal to the previous entry's": {`"time":"2026-11-29T02:00:00.000012Z"`, `"time":"2026-11-29T02:00:00.000011Z"`, "entry 13: time 2026-11-29T02:00:00.000011Z is not after entry 12's"},
		"entry 2 at genesis's time":            {`"time":"2026-11-29T02:00:00.000001Z"`, `"time":"2026-11-29T02:00:00.000000Z"`, "entry 2: time 2026-11-29T02:00:00.000000Z is not after entry 1's"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(export, []byte(c.old)) {
				t.Fatalf("the fixture's export has no %s", c.old)
			}
			forged := bytes.Replace(export, []byte(c.old), []byte(c.new), 1)
			ckpt, vkey := signLog(t, forged)
			_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	// The first difference is named even when a later entry stops the replay itself (the
	// comparison of --export runs on its own goroutine, behind the replay).
	t.Run("a later entry out of order too", func(t *testing.T) {
		forged := bytes.Replace(export, []byte(`"asset":"POINTS","amount":"22"}`), []byte(`"asset":"POINTS","amount":"23"}`), 1)
		forged = bytes.Replace(forged, []byte(`{"seq":20,`), []byte(`{"seq":99,`), 1)
		ckpt, vkey := signLog(t, forged)
		_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
		if err == nil || !strings.Contains(err.Error(), "entry 7 (credit): replay gives a different entry") {
			t.Fatalf("got %v, want entry 7 named", err)
		}
	})
	// A gap in the seqs, where the entries after it still pass the rules: entry 20 (a
	// reversal) dropped, entry 21 (a freeze) follows entry 19 (found by mutation testing:
	// without the seq check this log verified).
	t.Run("a missing entry", func(t *testing.T) {
		lines := bytes.SplitAfter(export, []byte("\n"))
		if !bytes.HasPrefix(lines[19], []byte(`{"seq":20,`)) {
			t.Fatalf("line 20 of the fixture's export: %s", lines[19])
		}
		forged := bytes.Join(append(append([][]byte{}, lines[:19]...), lines[20:]...), nil)
		ckpt, vkey := signLog(t, forged)
		_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
		if err == nil || !strings.Contains(err.Error(), "entry 21: expected seq 20") {
			t.Fatalf("got %v, want entry 21 named", err)
		}
	})
	// The unforged log, signed the same way, passes: the forgeries above fail for what they
	// changed, not for how they were signed.
	ckpt, vkey := signLog(t, export)
	if _, _, err := Export(writeFile(t, export), ckpt, vkey, nil); err != nil {
		t.Fatalf("the fixture's own log, signed by the test: %v", err)
	}
}

// TestReplayFindsActorsNoServerHas: entries whose bytes follow the rules of their body but
// whose actor or key no server writes. Genesis is written by the ledger itself under the key
// `genesis` (docs/FORMAT.md); a station, outlet or resident acts with a token, which names an
// existing account of its kind (SPEC §3), so an entry acted by an account the log never
// opened is forged. Before, verify accepted both: the rules of genesis ignored its key, and
// those of `open` never read the acting station's account.
func TestReplayFindsActorsNoServerHas(t *testing.T) {
	_, export, _, _ := fixture(t)
	const openAlice = `"actor":"admin:tok_admin","idempotency_key":"k4","body":{"id":"resident:alice"}`
	cases := map[string]struct{ old, new, want string }{
		"genesis under another key": {`"idempotency_key":"genesis"`, `"idempotency_key":"x"`, "entry 1 (genesis): the rules reject it"},
		"genesis under no key":      {`"idempotency_key":"genesis"`, `"idempotency_key":""`, "entry 1 (genesis): the rules reject it"},
		"an account opened by a station never opened": {openAlice,
			`"actor":"station:ghost","idempotency_key":"k4","body":{"id":"resident:alice"}`, "entry 5 (open): actor station:ghost"},
		"an account opened by a station that is an outlet": {openAlice,
			`"actor":"station:o1","idempotency_key":"k4","body":{"id":"resident:alice"}`, "entry 5 (open): actor station:o1"},
		"an account opened by a station id no account can have": {openAlice,
			`"actor":"station:Ghost Town","idempotency_key":"k4","body":{"id":"resident:alice"}`, "entry 5 (open): actor station:Ghost Town"},
		// An admin acts with a token whose id is tok_ and a few letters or digits (16 hex
		// digits as the ledger makes them); no rule read the id, so an admin entry could
		// carry an actor of nearly a megabyte and verify held 256 such entries a batch.
		"an admin token id that is not one": {openAlice,
			`"actor":"admin:root","idempotency_key":"k4","body":{"id":"resident:alice"}`, `entry 5: actor "admin:root" is not a principal`},
		"an admin token id of 100 KB": {openAlice,
			`"actor":"admin:tok_` + strings.Repeat("a", 100<<10) + `","idempotency_key":"k4","body":{"id":"resident:alice"}`, `entry 5: actor "admin:tok_aaaa`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			forged := bytes.Replace(export, []byte(c.old), []byte(c.new), 1)
			if bytes.Equal(forged, export) {
				t.Fatalf("the fixture's export has no %s", c.old)
			}
			ckpt, vkey := signLog(t, forged)
			_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

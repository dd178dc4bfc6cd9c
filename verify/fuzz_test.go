package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// The fuzz targets of this file hold verify --export to what an auditor relies on, for any
// bytes a hostile or broken server may send: it never panics or hangs, and it says OK only
// for a log a correct server could have written and signed. Run one with, for example,
//
//	GOMAXPROCS=1 go test ./verify -run '^$' -fuzz '^FuzzExport$' -fuzztime 10m \
//		-fuzzminimizetime 50x -parallel 2
//
// The replay's goroutines make coverage vary from run to run, so many inputs look new and
// are minimized: with a time limit there (the default is 60 s), the fuzzer spends nearly
// all its time minimizing, restarting workers that overrun it, and runs a few inputs a
// second. A count limit and one thread per worker give about a thousand a second.
// Their seeds (and the crashers kept in testdata/fuzz) run with every `go test`.

// fuzzBase is the valid export the fuzzers mutate: the fixture's ledger (the same bytes in
// every process: its clock is fixed) and two keys that sign its checkpoints, made from fixed
// seeds. The seeds of a fuzz target are made in the coordinating process and run in worker
// processes: a key made at random in each would not check the others' checkpoints.
type fuzzBase struct {
	export []byte
	lines  [][]byte // the export's lines, without their "\n"
	keys   [2]fuzzKey
}

// fuzzKey is a signer and its verifier key.
type fuzzKey struct {
	signer note.Signer
	vkey   string
}

var (
	fuzzOnce sync.Once
	fuzzB    *fuzzBase
)

// fuzzFixture builds the base once per process: a fuzzing worker runs many inputs.
func fuzzFixture(tb testing.TB) *fuzzBase {
	fuzzOnce.Do(func() {
		_, export, _, _ := fixture(tb)
		lines := bytes.Split(bytes.TrimSuffix(export, []byte("\n")), []byte("\n"))
		fuzzB = &fuzzBase{export: export, lines: lines}
		for i := range fuzzB.keys {
			seed := bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 64))
			skey, vkey, err := note.GenerateKey(seed, "timebank")
			if err != nil {
				tb.Fatal(err)
			}
			signer, err := note.NewSigner(skey)
			if err != nil {
				tb.Fatal(err)
			}
			fuzzB.keys[i] = fuzzKey{signer, vkey}
		}
	})
	if fuzzB == nil {
		tb.Fatal("the fuzz fixture could not be built")
	}
	return fuzzB
}

// checkpointOf returns a checkpoint of the base's first n entries and its key: the first
// key signs the whole log, the second any shorter prefix.
func (b *fuzzBase) checkpointOf(tb testing.TB, n int) ([]byte, string) {
	n = min(n, len(b.lines))
	k := b.keys[0]
	if n < len(b.lines) {
		k = b.keys[1]
	}
	var tr Tree
	for _, l := range b.lines[:n] {
		tr.Add(tlog.RecordHash(l))
	}
	ckpt, err := note.Sign(&note.Note{Text: store.CheckpointText("timebank", uint64(n), tr.Root())}, k.signer)
	if err != nil {
		tb.Fatal(err)
	}
	return ckpt, k.vkey
}

// fuzzTimeout is how long one verification of a small input may take before it counts
// as a hang (a fixture's export verifies in about a millisecond).
const fuzzTimeout = 20 * time.Second

// exportWithin runs Export on path and fails tb if it does not return within fuzzTimeout.
func exportWithin(tb testing.TB, path string, ckpt []byte, vkey string) (*Summary, error) {
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, _, err := Export(path, ckpt, vkey, nil)
		done <- result{sum, err}
	}()
	select {
	case r := <-done:
		return r.sum, r.err
	case <-time.After(fuzzTimeout):
		tb.Fatalf("verify did not return within %s", fuzzTimeout)
		return nil, nil
	}
}

// FuzzExport mutates the export (and how many of its entries the checkpoint covers) and
// compares verify with a plain sequential reading of docs/FORMAT.md's "Checking a log"
// (referenceCheck): the two must agree on every input. So verify says OK exactly when the
// export begins with the checkpoint's entries, byte for byte, and every entry after them is
// one the rules make; and every refusal is a difference (exit 1), never a source that
// could not be read, since the checkpoint and key are good.
func FuzzExport(f *testing.F) {
	b := fuzzFixture(f)
	n := uint8(len(b.lines))
	f.Add(b.export, n)
	f.Add(b.export, uint8(18))
	f.Add(b.export, uint8(0))
	f.Add(b.export[:len(b.export)-1], uint8(18))
	f.Add(append(bytes.Clone(b.export), b.lines[20]...), n)
	f.Fuzz(func(t *testing.T, export []byte, covered uint8) {
		cov := min(int(covered), len(b.lines))
		ckpt, vkey := b.checkpointOf(t, cov)
		path := filepath.Join(t.TempDir(), "export")
		if err := os.WriteFile(path, export, 0o600); err != nil {
			t.Fatal(err)
		}
		sum, err := exportWithin(t, path, ckpt, vkey)
		want := referenceCheck(export, b.lines[:cov])
		switch {
		case err == nil && want != nil:
			t.Fatalf("verify accepted an export the reference refuses (%v)", want)
		case err != nil && want == nil:
			t.Fatalf("verify refused an export the reference accepts: %v", err)
		case err == nil && sum.Entries != uint64(bytes.Count(export, []byte("\n"))):
			t.Fatalf("verify says %d entries, the export has %d lines", sum.Entries, bytes.Count(export, []byte("\n")))
		}
		var srcErr *SourceError
		var pathErr *fs.PathError
		if errors.As(err, &srcErr) || errors.As(err, &pathErr) {
			t.Fatalf("a difference in the export reported as a source that could not be read: %v", err)
		}
	})
}

// FuzzExportLine is FuzzExport with the mutations aimed at one entry: the line at index
// (of the base's export) is replaced with line, and the checkpoint covers the entries before
// it, so that every entry after the replaced one is replayed past a changed state (a
// genesis with other assets or scales, a hold that is not there). Seeded with each line.
func FuzzExportLine(f *testing.F) {
	b := fuzzFixture(f)
	for i, l := range b.lines {
		f.Add(uint8(i), l)
	}
	f.Fuzz(func(t *testing.T, index uint8, line []byte) {
		i := int(index) % len(b.lines)
		lines := append(append(slices.Clone(b.lines[:i]), line), b.lines[i+1:]...)
		export := append(bytes.Join(lines, []byte("\n")), '\n')
		ckpt, vkey := b.checkpointOf(t, i)
		path := filepath.Join(t.TempDir(), "export")
		if err := os.WriteFile(path, export, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := exportWithin(t, path, ckpt, vkey)
		if want := referenceCheck(export, b.lines[:i]); (err == nil) != (want == nil) {
			t.Fatalf("verify says %v, the reference %v", err, want)
		}
	})
}

// referenceCheck checks export the slow, obvious way: whole lines, the first of which are
// exactly signed (the checkpoint's entries), each line at most MaxLineBytes, strictly
// decoded, re-decided by the rules from genesis and equal to the re-decided entry, no
// (actor, Idempotency-Key) twice.
func referenceCheck(export []byte, signed [][]byte) error {
	if len(export) == 0 {
		return errors.New("empty")
	}
	if export[len(export)-1] != '\n' {
		return errors.New("the last line has no newline")
	}
	lines := bytes.Split(export[:len(export)-1], []byte("\n"))
	if len(lines) < len(signed) {
		return errors.New("shorter than the checkpoint")
	}
	for i, l := range signed {
		if !bytes.Equal(lines[i], l) {
			return fmt.Errorf("line %d is not the signed one", i+1)
		}
	}
	r := &ledger.Replayer{St: ledger.NewMemState(nil)}
	keys := map[string]bool{}
	for i, l := range lines {
		if len(l)+1 > MaxLineBytes {
			return fmt.Errorf("line %d too long", i+1)
		}
		assets := r.Assets
		if assets == nil {
			assets = ledger.Assets{}
		}
		e, err := ledger.DecodeEntry(l, assets)
		if err != nil {
			return err
		}
		if k := e.Actor + "\x00" + e.IdempotencyKey; keys[k] {
			return errors.New("a repeated key")
		} else {
			keys[k] = true
		}
		if err := r.Step(e, l); err != nil {
			return err
		}
	}
	return nil
}

// FuzzNotes mutates the checkpoint and the verifier key file of the base's whole export.
// verify must never panic or hang, and must say OK only for a checkpoint one of the two
// keys signed (its size and root), checked by that key (its name and hash).
func FuzzNotes(f *testing.F) {
	b := fuzzFixture(f)
	ckpt, vkey := b.checkpointOf(f, len(b.lines))
	pckpt, pvkey := b.checkpointOf(f, 3)
	f.Add(ckpt, []byte(vkey+"\n"))
	f.Add(ckpt, []byte(pvkey))
	f.Add(pckpt, []byte(pvkey))
	path := writeFile(f, b.export)
	signed := map[uint32]Checkpoint{} // key hash → the checkpoint that key signed
	for _, s := range []struct {
		ckpt []byte
		vkey string
	}{{ckpt, vkey}, {pckpt, pvkey}} {
		cp, err := OpenCheckpoint(s.ckpt, s.vkey)
		v, verr := note.NewVerifier(s.vkey)
		if err != nil || verr != nil {
			f.Fatal(err, verr)
		}
		signed[v.KeyHash()] = *cp
	}
	f.Fuzz(func(t *testing.T, ckpt, key []byte) {
		sum, err := exportWithin(t, path, ckpt, string(key))
		if err != nil {
			return
		}
		v, err := note.NewVerifier(strings.TrimSpace(string(key)))
		if err != nil || v.Name() != "timebank" {
			t.Fatalf("verify accepted key %q (%v)", key, err)
		}
		if want, ok := signed[v.KeyHash()]; !ok || *sum.Checkpoint != want {
			t.Fatalf("verify accepted checkpoint %+v with key %q, which signed %+v", *sum.Checkpoint, key, want)
		}
	})
}

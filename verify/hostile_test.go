package verify

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// Hostile exports the fuzzers are unlikely to build on their own: each must end in a clear
// error, soon, in bounded memory.

// TestGenesisScaleOutOfRange: the genesis entry sets the assets' scales, and the entries
// after it are decoded with them (on the prefetching goroutine, ahead of the replay that
// refuses the genesis). A scale out of the policy's range must be refused as a difference of
// entry 1; before, a negative scale panicked (strings.Repeat in the invalid_amount message)
// and a huge one tried to allocate a message of that many bytes.
func TestGenesisScaleOutOfRange(t *testing.T) {
	_, export, _, _ := fixture(t)
	for _, scale := range []int64{-1, 7, 1 << 62} {
		t.Run(fmt.Sprint(scale), func(t *testing.T) {
			forged := bytes.Replace(export, []byte(`"HOURS":{"scale":2}`), []byte(fmt.Sprintf(`"HOURS":{"scale":%d}`, scale)), 1)
			if bytes.Equal(forged, export) {
				t.Fatal("the fixture's genesis has no HOURS scale 2")
			}
			ckpt, vkey := signLog(t, forged)
			_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), "entry 1 (genesis): the rules reject it") {
				t.Fatalf("got %v, want entry 1 refused", err)
			}
		})
	}
}

// allocatedDuring returns the bytes the process allocated while fn ran (all goroutines):
// an upper bound on how far fn grew the heap.
func allocatedDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// hostileLimitBytes bounds what verify may allocate on any of the hostile exports below,
// which are refused at their first bad line: a few line buffers of MaxLineBytes, not the
// file.
const hostileLimitBytes = 16 << 20

// exportRefused runs Export on the file at path with the fixture's checkpoint and key and
// fails t unless it refuses it as a difference naming want, in bounded memory and soon.
func exportRefused(t *testing.T, path string, ckpt []byte, vkey, want string) {
	t.Helper()
	var err error
	start := time.Now()
	n := allocatedDuring(func() { _, _, err = Export(path, ckpt, vkey, nil) })
	took := time.Since(start)
	t.Logf("%s: %d KiB allocated in %s: %v", filepath.Base(path), n>>10, took.Round(time.Millisecond), err)
	var srcErr *SourceError
	if err == nil || !strings.Contains(err.Error(), want) || errors.As(err, &srcErr) {
		t.Fatalf("got %v, want a difference naming %q", err, want)
	}
	if n > hostileLimitBytes {
		t.Errorf("verify allocated %d MiB, more than %d MiB", n>>20, hostileLimitBytes>>20)
	}
	if took > 10*time.Second {
		t.Errorf("verify took %s to refuse it", took)
	}
}

// sparseFile writes b to a new file and extends it with zeros (no newline) to size bytes,
// without writing them: the file system keeps the hole.
func sparseFile(t *testing.T, name string, b []byte, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExportEndlessLine: a line of hundreds of megabytes without a newline, at the start
// of the export or after the checkpoint's entries, is refused after its first MaxLineBytes.
func TestExportEndlessLine(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	const size = 512 << 20
	exportRefused(t, sparseFile(t, "zeros", nil, size), ckpt, vkey, "line 1 is longer than 1048576 bytes")
	exportRefused(t, sparseFile(t, "log-then-zeros", export, size), ckpt, vkey, "line 22 is longer than 1048576 bytes")
}

// TestExportManyTinyLines: millions of empty lines, alone or after the log, are refused at
// the first: nothing is kept per line before it is decoded.
func TestExportManyTinyLines(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	tiny := bytes.Repeat([]byte("\n"), 8<<20)
	exportRefused(t, writeFile(t, tiny), ckpt, vkey, "entry 1: ledger: decode entry")
	exportRefused(t, writeFile(t, append(bytes.Clone(export), tiny...)), ckpt, vkey, "entry 22: ledger: decode entry")
}

// TestExportDeepNesting: a body nested as deep as a line allows (the policy of genesis is
// the one body decoded as JSON; the others are read member by member) is refused.
func TestExportDeepNesting(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	const depth = 500_000 // two bytes each: within MaxLineBytes
	nested := `{"seq":1,"time":"2026-11-29T02:00:00.000000Z","type":"genesis","actor":"system","idempotency_key":"genesis","body":{"timezone":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `},"postings":[]}` + "\n"
	rest := export[bytes.IndexByte(export, '\n')+1:]
	exportRefused(t, writeFile(t, append([]byte(nested), rest...)), ckpt, vkey, "entry 1: ledger: decode entry 1: body")
	credit := bytes.Replace(export, []byte(`"activity":{"id":"a"`), []byte(`"activity":{"id":`+strings.Repeat("[", depth)+`"a"`), 1)
	exportRefused(t, writeFile(t, credit), ckpt, vkey, "entry 7: ledger: decode entry 7: body")
}

// TestExportHugeNumbers: integers past what the log can hold, each in an export whose
// checkpoint signs it (so that only the entry is at fault), are refused naming the entry.
func TestExportHugeNumbers(t *testing.T) {
	_, export, _, _ := fixture(t)
	const maxUint = "18446744073709551615"
	cases := []struct{ old, new, want string }{
		{`{"seq":2,`, `{"seq":` + strings.Repeat("9", 40) + `,`, "entry 2: ledger: decode entry"},
		{`{"seq":2,`, `{"seq":` + maxUint + `,`, "entry 18446744073709551615: expected seq 2"},
		{`"ttl_seconds":900`, `"ttl_seconds":9223372036854775807`, "entry 14 (hold): the rules reject it"},
		{`"ttl_seconds":900`, `"ttl_seconds":` + maxUint, "entry 14: ledger: decode entry 14"},
		{`"hold_id":14`, `"hold_id":` + maxUint, "entry 15 (settle): the rules reject it"},
		{`"body":{"seq":7,`, `"body":{"seq":` + maxUint + `,`, "entry 20 (reversal): the rules reject it"},
		{`"amount":"1.00","memo":""}`, `"amount":"999999999999.99","memo":""}`, "entry 13 (transfer): the rules reject it"},
		{`"amount":"1.00","memo":""}`, `"amount":"` + strings.Repeat("9", 5000) + `","memo":""}`, "entry 13"},
	}
	for _, c := range cases {
		t.Run(c.new[:min(len(c.new), 40)], func(t *testing.T) {
			forged := bytes.Replace(export, []byte(c.old), []byte(c.new), 1)
			if bytes.Equal(forged, export) {
				t.Fatalf("the fixture's export has no %s", c.old)
			}
			ckpt, vkey := signLog(t, forged)
			exportRefused(t, writeFile(t, forged), ckpt, vkey, c.want)
		})
	}
}

// TestCheckpointOfHugeSize: a signed checkpoint that claims 2^63 (or 2^64-1) entries is a
// difference once the log ends (entries are missing); nothing is sized by the claim.
func TestCheckpointOfHugeSize(t *testing.T) {
	_, export, _, _ := fixture(t)
	path := writeFile(t, export)
	for _, size := range []uint64{1 << 63, 1<<64 - 1} {
		ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", size, emptyTreeHash))
		exportRefused(t, path, ckpt, vkey, fmt.Sprintf("the checkpoint covers %d entries but the log has only 21", size))
	}
}

// TestPolicyMapsWrittenNull: a map of the policy document is an object, `{}` when empty
// (docs/FORMAT.md), and the API refuses a null one (400 invalid_policy). encoding/json
// decodes `null` to a nil map, which the encoder wrote back as `null`, so verify accepted a
// log whose genesis or policy entry held `null` for a map: a second encoding of the same
// policy, which no server writes and a verifier written from FORMAT.md refuses.
func TestPolicyMapsWrittenNull(t *testing.T) {
	_, export, _, _ := fixture(t)
	const limits = `"limits":{"resident":{"HOURS":{"upper":"1500"}}}`
	for _, forgedLimits := range []string{`"limits":null`, `"limits":{"resident":null}`} {
		t.Run(forgedLimits, func(t *testing.T) {
			forged := bytes.Replace(export, []byte(limits), []byte(forgedLimits), 1)
			if bytes.Equal(forged, export) {
				t.Fatalf("the fixture's genesis has no %s", limits)
			}
			ckpt, vkey := signLog(t, forged)
			_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), "entry 1 (genesis): replay gives a different entry") {
				t.Fatalf("got %v, want entry 1 named", err)
			}
		})
	}
	// The same policy with its empty maps written `{}`, as the server writes it, verifies.
	forged := bytes.Replace(export, []byte(limits), []byte(`"limits":{"resident":{}}`), 1)
	ckpt, vkey := signLog(t, forged)
	if _, _, err := Export(writeFile(t, forged), ckpt, vkey, nil); err != nil {
		t.Fatalf("a genesis with an empty map of limits: %v", err)
	}
}

// countingLines counts the lines read through it.
type countingLines struct {
	Lines
	n int
}

func (c *countingLines) Next() ([]byte, error) {
	c.n++
	return c.Lines.Next()
}

// readWithCount runs the export in b through run with a line counter, as exportFile does,
// and returns the number of lines read and run's error.
func readWithCount(t *testing.T, b []byte) (int, error) {
	t.Helper()
	f, err := os.Open(writeFile(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := &countingLines{Lines: NewLines(f)}
	src := &fileSource{f: f, offsets: []int64{0}}
	r := newReplay(src, nil, nil)
	src.assets = func() ledger.Assets { return r.rp.Assets }
	err = run(r, lines, f, func(it item) { src.offsets = append(src.offsets, it.end) })
	return lines.n, err
}

// readLimit bounds the lines read past a difference: the batches in flight between the
// reading, the replay and the comparison (channels of 8 batches), with room to spare.
const readLimit = 32 * prefetchBatch

// TestReplayErrorStopsTheReading: once the replay finds a difference, the entries after it
// are not read. The prefetching goroutine was told to stop only after it had read the
// whole export (the replay drained its batches first): an export of many gigabytes with a
// forged entry near its start was read and decoded to its end before verify named the entry.
// It may run ahead of the replay by the batches in flight, no further.
func TestReplayErrorStopsTheReading(t *testing.T) {
	_, export, _, _ := fixture(t)
	forged := bytes.Replace(export, []byte(`"hours":"1.50"`), []byte(`"hours":"13.00"`), 1) // entry 7 over the cap
	// Then many entries that decode (the rules would refuse them all, were they replayed).
	const more = 50_000
	var b bytes.Buffer
	b.Write(forged)
	for seq := 22; seq < 22+more; seq++ {
		fmt.Fprintf(&b, `{"seq":%d,"time":"2026-11-29T03:00:00.000000Z","type":"void","actor":"resident:alice","idempotency_key":"v%d","body":{"hold_id":1},"postings":[]}`+"\n", seq, seq)
	}
	n, err := readWithCount(t, b.Bytes())
	if err == nil || !strings.Contains(err.Error(), "entry 7 (credit): the rules reject it on replay: entry_cap_exceeded") {
		t.Fatalf("got %v, want entry 7 named", err)
	}
	if n > readLimit {
		t.Fatalf("verify read %d lines, stopping at entry 7; want at most %d", n, readLimit)
	}
}

// TestDifferenceStopsTheReplay: an entry the rules accept but whose logged bytes differ from
// what they make (the comparison runs on its own goroutine, behind the replay) stops the
// replay too. The replay went on to the end of the export, however long, and only then
// named the entry.
func TestDifferenceStopsTheReplay(t *testing.T) {
	_, export, _, _ := fixture(t)
	forged := bytes.Replace(export, []byte(`"asset":"POINTS","amount":"22"}`), []byte(`"asset":"POINTS","amount":"23"}`), 1)
	const more = 50_000 // entries the rules accept
	var b bytes.Buffer
	b.Write(forged)
	for seq := 22; seq < 22+more; seq++ {
		fmt.Fprintf(&b, `{"seq":%d,"time":"2026-11-29T03:00:00.%06dZ","type":"open","actor":"admin:tok_admin","idempotency_key":"o%d","body":{"id":"resident:r%d"},"postings":[]}`+"\n", seq, seq, seq, seq)
	}
	n, err := readWithCount(t, b.Bytes())
	if err == nil || !strings.Contains(err.Error(), "entry 7 (credit): replay gives a different entry") {
		t.Fatalf("got %v, want entry 7 named", err)
	}
	if n > readLimit {
		t.Fatalf("verify read %d lines, stopping at entry 7; want at most %d", n, readLimit)
	}
}

// TestExportOfHugeLinesTheRulesRefuse: lines of nearly MaxLineBytes that decode (a reason of
// a megabyte: only the rules bound its length) are read ahead of the replay in batches. A
// batch held 256 entries whatever their size, so verify read a quarter of a gigabyte of such
// lines, twice over (the line and its decoded string), before the replay saw the first and
// refused it. The batches in flight are bounded in bytes too.
func TestExportOfHugeLinesTheRulesRefuse(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	lines := bytes.SplitAfter(export, []byte("\n"))
	var b bytes.Buffer
	for _, l := range lines[:6] {
		b.Write(l)
	}
	reason := strings.Repeat("a", MaxLineBytes-300)
	for seq := 7; seq < 7+100; seq++ {
		fmt.Fprintf(&b, `{"seq":%d,"time":"2026-11-29T03:00:00.%06dZ","type":"freeze","actor":"admin:tok_admin","idempotency_key":"f%d","body":{"account":"resident:bob","reason":"%s"},"postings":[]}`+"\n", seq, seq, seq, reason)
	}
	path := writeFile(t, b.Bytes())
	var err error
	n := allocatedDuring(func() { _, _, err = Export(path, ckpt, vkey, nil) })
	if err == nil || !strings.Contains(err.Error(), "entry 7 (freeze): the rules reject it on replay: invalid_field") {
		t.Fatalf("got %v, want entry 7 refused", err)
	}
	t.Logf("%d MiB allocated", n>>20)
	if limit := uint64(64 << 20); n > limit {
		t.Fatalf("verify allocated %d MiB to refuse entry 7 of an export of %d MiB, more than %d MiB", n>>20, b.Len()>>20, limit>>20)
	}
}

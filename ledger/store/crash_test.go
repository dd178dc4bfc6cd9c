package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// crashDefaultCycles is TestCrash's default number of cycles, which is enough for every
// kind of entry and the common refusals to occur (coverage).
const crashDefaultCycles = 20

var (
	crashCycles = flag.Int("crash.cycles", crashDefaultCycles, "kill-and-reopen cycles of TestCrash")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrash's kill times and workloads (0: from the clock)")
)

// The child's environment: the data directory, the cycle number, the base time of the
// credited sessions (µs) and the seed of its workload.
const (
	crashDirEnv   = "TIMEBANK_CRASH_DIR"
	crashCycleEnv = "TIMEBANK_CRASH_CYCLE"
	crashBaseEnv  = "TIMEBANK_CRASH_BASE"
	crashSeedEnv  = "TIMEBANK_CRASH_SEED"
)

// crashWorkers is the number of goroutines submitting in each child.
const crashWorkers = 16

// crashRequests bounds the requests of one worker in one child: far more than it can send
// before the kill.
const crashRequests = 20000

// TestCrash re-executes the test binary as a child whose goroutines send every kind of write,
// valid and not (crash_mix_test.go), and print each answer; it SIGKILLs the child at a random
// moment and reopens the store. Then every acknowledged entry must be there byte for byte
// (and every retry's answer), no refused request may have left an idempotency record, the
// log must be gapless and extend the one of the last reopen, the stored Merkle hashes must
// be those of the entries, and the whole stored state must equal a replay of the log, the
// entries no one was answered for included (what verify --data does after a crash).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (again: go test ./ledger/store -run TestCrash -args -crash.seed %d)", seed, seed)
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []ledger.AccountID{"station:s1", "outlet:o1", "pool:public"} {
		must(t, l, admin, &ledger.OpenBody{ID: id})
	}
	run := &crashRun{acked: map[uint64][32]byte{}, refused: map[ledger.Code]int{}, rc: newReplayCheck()}
	run.size, run.root = l.Root()
	l.Close()
	base := time.Now().Add(-29 * 24 * time.Hour).UnixMicro()
	rng := rand.New(rand.NewPCG(seed, 1))
	for cycle := 0; cycle < *crashCycles; cycle++ {
		kill := time.Duration(50+rng.IntN(600)) * time.Millisecond
		childSeed := rng.Uint64()
		rep := crashChild(t, dir, cycle, base, childSeed, kill)
		run.record(t, cycle, rep)
		size := run.check(t, dir, rep, cycle == *crashCycles-1)
		t.Logf("cycle %d (child seed %d): killed after %v, %d acknowledged, %d replayed, %d refused, tree size %d",
			cycle, childSeed, kill, len(rep.acks), len(rep.replays), len(rep.naks), size)
	}
	run.coverage(t)
}

// crashReport is what one child printed.
type crashReport struct {
	acks    map[uint64][32]byte // the entries it made, by seq: the SHA-256 of their bytes
	replays map[uint64][32]byte // the entries its retries were answered with
	naks    []crashNak          // the requests the rules refused
}

type crashNak struct {
	code       ledger.Code
	actor, key string
}

// crashChild runs one child, kills it after d, and returns what it printed.
func crashChild(t *testing.T, dir string, cycle int, base int64, seed uint64, d time.Duration) *crashReport {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle),
		crashBaseEnv+"="+strconv.FormatInt(base, 10), crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	cmd.Wait()
	rep := &crashReport{acks: map[uint64][32]byte{}, replays: map[uint64][32]byte{}}
	for _, line := range lines {
		if err := rep.add(line); err != nil {
			t.Fatalf("cycle %d: %v\nstderr: %s", cycle, err, stderr.Bytes())
		}
	}
	return rep
}

// add parses one line the child printed (crash_mix_test.go lists them).
func (rep *crashReport) add(line string) error {
	f := strings.Fields(line)
	switch {
	case len(f) == 4 && f[0] == "nak":
		rep.naks = append(rep.naks, crashNak{ledger.Code(f[1]), f[2], f[3]})
		return nil
	case len(f) != 3 || f[0] != "ack" && f[0] != "replay":
		return fmt.Errorf("the child said %q", line)
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	sum, err2 := hex.DecodeString(f[2])
	if err != nil || err2 != nil || seq == 0 || len(sum) != sha256.Size {
		return fmt.Errorf("the child said %q", line)
	}
	m := rep.acks
	if f[0] == "replay" {
		m = rep.replays
	}
	if old, dup := m[seq]; dup && (f[0] == "ack" || old != [32]byte(sum)) {
		return fmt.Errorf("entry %d was answered twice, differently (%q)", seq, line)
	}
	m[seq] = [32]byte(sum)
	return nil
}

// crashRun is what TestCrash knows across cycles.
type crashRun struct {
	acked   map[uint64][32]byte // every entry acknowledged, by seq
	refused map[ledger.Code]int // refusals, by code
	size    uint64              // the tree size at the last reopen
	root    tlog.Hash           // and its root
	rc      *replayCheck        // the log replayed up to size
}

// record adds a child's acknowledgements to the run's; a seq acknowledged in two cycles
// means the store gave one seq to two entries.
func (run *crashRun) record(t *testing.T, cycle int, rep *crashReport) {
	for seq, sum := range rep.acks {
		if _, dup := run.acked[seq]; dup {
			t.Fatalf("cycle %d: seq %d acknowledged twice", cycle, seq)
		}
		run.acked[seq] = sum
	}
	for _, n := range rep.naks {
		run.refused[n.code]++
	}
}

// check reopens dir and checks it against everything known; it returns the tree size. With
// full set, it also replays the whole log from scratch (the statement lines of the entries
// of earlier cycles included).
func (run *crashRun) check(t *testing.T, dir string, rep *crashReport, full bool) uint64 {
	ro, err := Open(dir, Options{ReadOnly: true}) // what verify --data does after a crash
	if err != nil {
		t.Fatalf("read-only open after kill: %v", err)
	}
	roSize, roRoot := ro.Root()
	ro.Close()
	l, err := Open(dir, Options{}) // writable: the dead child's lock must be gone
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer l.Close()
	raw := allEntries(t, l) // checks seqs are gapless
	size, root := l.Root()
	if uint64(len(raw)) != size || size != roSize || root != roRoot {
		t.Fatalf("%d entries stored, tree size %d (read-only: %d)", len(raw), size, roSize)
	}
	tree := buildTree(t, raw)
	if old, _ := tlog.TreeHash(int64(run.size), tree); size < run.size || old != run.root {
		t.Fatalf("tree size %d: the %d entries of the last reopen are not all there unchanged", size, run.size)
	}
	checkAnswers(t, l, raw, run.acked, rep)
	// Each worker waits for its answer before it sends again: at the kill, at most one
	// request a worker was in flight, and only those may have been stored unanswered.
	if unanswered := int(size-run.size) - len(rep.acks); unanswered < 0 || unanswered > crashWorkers {
		t.Fatalf("%d entries appended, %d acknowledged: %d stored that no one was waiting for",
			size-run.size, len(rep.acks), unanswered)
	}
	if want, _ := tlog.TreeHash(int64(size), tree); want != root {
		t.Fatalf("stored root %v is not the root of the stored entries %v", root, want)
	}
	checkStoredHashes(t, l, tree)
	run.rc.advance(t, l, raw)
	run.rc.compare(t, l)
	if full {
		compareWithReplay(t, l)
	}
	run.size, run.root = size, root
	return size
}

// checkAnswers checks that every entry ever acknowledged, and every entry a retry of this
// cycle was answered with, is stored byte for byte, and that the requests the rules refused
// left no idempotency record (but for idempotency_key_reused: its key's first request did).
func checkAnswers(t *testing.T, l *Ledger, raw [][]byte, acked map[uint64][32]byte, rep *crashReport) {
	size := uint64(len(raw))
	for _, m := range []map[uint64][32]byte{acked, rep.replays} {
		for seq, sum := range m {
			if seq > size || sha256.Sum256(raw[seq-1]) != sum {
				t.Fatalf("acknowledged entry %d is missing or changed (tree size %d)", seq, size)
			}
		}
	}
	for _, n := range rep.naks {
		seq, _, ok, err := l.IdempotencyRecord(n.actor, n.key)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (n.code == ledger.CodeIdempotencyKeyReused) {
			t.Fatalf("refused (%s) request %s %s: idempotency record %v (entry %d)", n.code, n.actor, n.key, ok, seq)
		}
	}
}

// checkStoredHashes checks the stored Merkle hashes against tree, recomputed from the entries.
func checkStoredHashes(t *testing.T, l *Ledger, tree memHashes) {
	err := l.StoredHashes(func(r tlog.HashReader) error {
		idx := make([]int64, len(tree))
		for i := range idx {
			idx[i] = int64(i)
		}
		stored, err := r.ReadHashes(idx)
		for i := range stored {
			if stored[i] != tree[i] {
				return fmt.Errorf("stored hash %d differs from the recomputed one", i)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashTypes and crashCodes are what a run of the default length must have seen: every
// kind of entry written, and the commonest of the rules' refusals the workload sets out to
// make (a -race run on a loaded machine sees tens of each at least).
var (
	crashTypes = []ledger.Type{ledger.TypeOpen, ledger.TypeFreeze, ledger.TypeUnfreeze, ledger.TypeLink,
		ledger.TypeCredit, ledger.TypeRedemption, ledger.TypeHold, ledger.TypeSettle, ledger.TypeVoid,
		ledger.TypeTransfer, ledger.TypeDonation, ledger.TypeGrant, ledger.TypeConversion, ledger.TypeReversal,
		ledger.TypePolicy}
	crashCodes = []ledger.Code{ledger.CodeInsufficientBalance, ledger.CodeHoldNotOpen, ledger.CodeSettleExceedsHold,
		ledger.CodeNotReversible, ledger.CodeAlreadyReversed, ledger.CodeOverlappingSession, ledger.CodeEntryCapExceeded,
		ledger.CodeTransferNotAllowed, ledger.CodeIdempotencyKeyReused, ledger.CodeAccountExists, ledger.CodeInvalidPayee,
		ledger.CodeAccountFrozen, ledger.CodeInexactConversion, ledger.CodeBackdateWindowExceeded}
)

// coverage fails t when the run tested nothing, or, in a run of the default length or
// longer, missed a kind of entry or refusal.
func (run *crashRun) coverage(t *testing.T) {
	if len(run.acked) == 0 {
		t.Fatal("no child acknowledged anything: the test tested nothing")
	}
	t.Logf("entries by type %v; refusals by code %v", run.rc.types, run.refused)
	if *crashCycles < crashDefaultCycles {
		return // a child killed early may not have sent every kind
	}
	var missing []string
	for _, ty := range crashTypes {
		if run.rc.types[ty] == 0 {
			missing = append(missing, string(ty))
		}
	}
	for _, c := range crashCodes {
		if run.refused[c] == 0 {
			missing = append(missing, string(c))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%d entries acknowledged, but none of %v", len(run.acked), missing)
	}
}

// TestCrashChild is the child of TestCrash; it does nothing unless TestCrash started it.
// crashWorkers goroutines send the workload of crash_mix_test.go, printing every answer,
// until they are killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash only")
	}
	cycle, _ := strconv.Atoi(os.Getenv(crashCycleEnv))
	base, _ := strconv.ParseInt(os.Getenv(crashBaseEnv), 10, 64)
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	l, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) { // one write per line: a kill cuts no line
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	var wg sync.WaitGroup
	for g := range crashWorkers {
		wg.Go(func() { newCrashWorker(l, say, cycle, g, time.UnixMicro(base), seed).run(crashRequests) })
	}
	wg.Wait()
	select {} // wait for the kill
}

package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

var (
	crashCycles = flag.Int("crash.cycles", 20, "kill-and-reopen cycles of TestCrash")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrash's kill times (0: from the clock)")
)

// The child's environment: the data directory, the cycle number, and the base time of the
// credited sessions (µs).
const (
	crashDirEnv   = "TIMEBANK_CRASH_DIR"
	crashCycleEnv = "TIMEBANK_CRASH_CYCLE"
	crashBaseEnv  = "TIMEBANK_CRASH_BASE"
)

// crashWorkers is the number of goroutines submitting in each child.
const crashWorkers = 16

// TestCrash re-executes the test binary as a child that appends credits from many goroutines
// and prints each acknowledged seq with the SHA-256 of its canonical bytes; it SIGKILLs the
// child at a random moment and reopens the store. Then every acknowledged entry must be
// there byte for byte, the log must be gapless and extend the one of the last reopen, the
// stored Merkle hashes must be those of the entries, and the whole stored state must equal
// a replay of the log, the entries no one was answered for included (what verify --data
// does after a crash).
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
	must(t, l, admin, &ledger.OpenBody{ID: "station:s1"})
	run := &crashRun{acked: map[uint64][32]byte{}, rc: newReplayCheck()}
	run.size, run.root = l.Root()
	l.Close()
	base := time.Now().Add(-29 * 24 * time.Hour).UnixMicro()
	rng := rand.New(rand.NewPCG(seed, 1))
	for cycle := 0; cycle < *crashCycles; cycle++ {
		kill := time.Duration(50+rng.IntN(600)) * time.Millisecond
		rep := crashChild(t, dir, cycle, base, kill)
		run.record(t, cycle, rep)
		size := run.check(t, dir, rep, cycle == *crashCycles-1)
		t.Logf("cycle %d: killed after %v, %d acknowledged, tree size %d", cycle, kill, len(rep.acks), size)
	}
	if len(run.acked) == 0 {
		t.Fatal("no child acknowledged anything: the test tested nothing")
	}
}

// crashReport is what one child printed.
type crashReport struct {
	acks map[uint64][32]byte // the entries it made, by seq: the SHA-256 of their bytes
}

// crashChild runs one child, kills it after d, and returns what it printed.
func crashChild(t *testing.T, dir string, cycle int, base int64, d time.Duration) *crashReport {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle),
		crashBaseEnv+"="+strconv.FormatInt(base, 10))
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
	rep := &crashReport{acks: map[uint64][32]byte{}}
	for _, line := range lines {
		if err := rep.add(line); err != nil {
			t.Fatalf("cycle %d: %v\nstderr: %s", cycle, err, stderr.Bytes())
		}
	}
	return rep
}

// add parses one line the child printed: ack <seq> <sha256>.
func (rep *crashReport) add(line string) error {
	var seq uint64
	var sum []byte
	if _, err := fmt.Sscanf(line, "ack %d %x", &seq, &sum); err != nil || seq == 0 || len(sum) != sha256.Size {
		return fmt.Errorf("the child said %q", line)
	}
	if _, dup := rep.acks[seq]; dup {
		return fmt.Errorf("seq %d acknowledged twice", seq)
	}
	rep.acks[seq] = [32]byte(sum)
	return nil
}

// crashRun is what TestCrash knows across cycles.
type crashRun struct {
	acked map[uint64][32]byte // every entry acknowledged, by seq
	size  uint64              // the tree size at the last reopen
	root  tlog.Hash           // and its root
	rc    *replayCheck        // the log replayed up to size
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
	for seq, sum := range run.acked {
		if seq > size || sha256.Sum256(raw[seq-1]) != sum {
			t.Fatalf("acknowledged entry %d is missing or changed (tree size %d)", seq, size)
		}
	}
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

// TestCrashChild is the child of TestCrash; it does nothing unless TestCrash started it.
// crashWorkers goroutines each open a resident of their own, then credit it 0.1 h at a
// time in 12-minute slots (120 a day, exactly the daily cap), printing every
// acknowledgement, until they are killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash only")
	}
	cycle, _ := strconv.Atoi(os.Getenv(crashCycleEnv))
	base, _ := strconv.ParseInt(os.Getenv(crashBaseEnv), 10, 64)
	l, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	ack := func(e *ledger.Entry) {
		b, err := ledger.EncodeEntry(e, l.Assets())
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Printf("ack %d %x\n", e.Seq, sha256.Sum256(b))
	}
	var wg sync.WaitGroup
	for g := 0; g < crashWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vol := ledger.AccountID(fmt.Sprintf("resident:c%d-%d", cycle, g))
			e, _, err := l.Submit(t.Context(), ledger.Request{Principal: admin,
				IdempotencyKey: fmt.Sprintf("c%d-%d-open", cycle, g), Body: &ledger.OpenBody{ID: vol}})
			for j := 0; err == nil && j < 29*120; j++ {
				ack(e)
				start := time.UnixMicro(base).Add(time.Duration(j) * 12 * time.Minute)
				body := &ledger.CreditBody{Volunteer: vol, Hours: "0.1", Activity: ledger.Activity{ID: "a", Category: "cleaning",
					StartedAt: start.Format(time.RFC3339Nano), EndedAt: start.Add(12 * time.Minute).Format(time.RFC3339Nano)}}
				e, _, err = l.Submit(t.Context(), ledger.Request{Principal: s1,
					IdempotencyKey: fmt.Sprintf("c%d-%d-%d", cycle, g, j), Body: body})
			}
			if err != nil {
				mu.Lock()
				fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {} // wait for the kill
}

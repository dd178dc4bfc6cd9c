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

var crashCycles = flag.Int("crash.cycles", 20, "kill-and-reopen cycles of TestCrash")

// The child's environment: the data directory, the cycle number, and the base time of the
// credited sessions (µs).
const (
	crashDirEnv   = "TIMEBANK_CRASH_DIR"
	crashCycleEnv = "TIMEBANK_CRASH_CYCLE"
	crashBaseEnv  = "TIMEBANK_CRASH_BASE"
)

// TestCrash re-executes the test binary as a child that appends credits from many goroutines
// and prints each acknowledged seq with the SHA-256 of its canonical bytes; it SIGKILLs the
// child at a random moment, reopens the store, and checks that every acknowledged entry is
// there byte for byte, that the log is gapless, that the stored Merkle hashes are those of
// the entries, and (every few cycles) that the stored state equals a replay of the log.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	must(t, l, admin, &ledger.OpenBody{ID: "station:s1"})
	l.Close()
	base := time.Now().Add(-29 * 24 * time.Hour).UnixMicro()
	acked := map[uint64][32]byte{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for cycle := 0; cycle < *crashCycles; cycle++ {
		kill := time.Duration(50+rng.IntN(600)) * time.Millisecond
		n := crashChild(t, dir, cycle, base, kill, acked)
		size := checkAfterCrash(t, dir, acked, cycle%5 == 4 || cycle == *crashCycles-1)
		t.Logf("cycle %d: killed after %v, %d acknowledged, tree size %d", cycle, kill, n, size)
	}
	if len(acked) == 0 {
		t.Fatal("no child acknowledged anything: the test tested nothing")
	}
}

// crashChild runs one child, kills it after d, and records the acknowledgements it printed.
func crashChild(t *testing.T, dir string, cycle int, base int64, d time.Duration, acked map[uint64][32]byte) int {
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
	n := 0
	for _, line := range lines {
		var seq uint64
		var sum []byte
		if _, err := fmt.Sscanf(line, "ack %d %x", &seq, &sum); err != nil || len(sum) != 32 {
			t.Fatalf("cycle %d: child said %q\nstderr: %s", cycle, line, stderr.Bytes())
		}
		if _, dup := acked[seq]; dup {
			t.Fatalf("cycle %d: seq %d acknowledged twice", cycle, seq)
		}
		acked[seq] = [32]byte(sum)
		n++
	}
	return n
}

// checkAfterCrash reopens dir and checks it against the acknowledgements; with replay set,
// also every stored record against a replay. It returns the tree size.
func checkAfterCrash(t *testing.T, dir string, acked map[uint64][32]byte, replay bool) uint64 {
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
	for seq, sum := range acked {
		if seq > size || sha256.Sum256(raw[seq-1]) != sum {
			t.Fatalf("acknowledged entry %d is missing or changed (tree size %d)", seq, size)
		}
	}
	tree := buildTree(t, raw)
	if want, _ := tlog.TreeHash(int64(size), tree); want != root {
		t.Fatalf("stored root %v is not the root of the stored entries %v", root, want)
	}
	err = l.StoredHashes(func(r tlog.HashReader) error {
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
	if replay {
		compareWithReplay(t, l)
	}
	return size
}

// TestCrashChild is the child of TestCrash; it does nothing unless TestCrash started it.
// 16 goroutines each open a resident of their own, then credit it 0.1 h at a time in
// 12-minute slots (120 a day, exactly the daily cap), printing every acknowledgement,
// until they are killed.
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
	for g := 0; g < 16; g++ {
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

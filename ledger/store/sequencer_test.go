package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
	"go.etcd.io/bbolt"
)

// TestGroupCommitConcurrent: 64 callers credit at once; every credit gets its own seq, the
// seqs are gapless, and the balances add up.
func TestGroupCommitConcurrent(t *testing.T) {
	l, _ := openTest(t, Options{})
	must(t, l, admin, &ledger.OpenBody{ID: "station:s1"})
	const callers, each = 64, 20
	vol := func(g int) ledger.AccountID { return ledger.AccountID(fmt.Sprintf("resident:v%d", g)) }
	run(t, callers, func(g int) error {
		_, err := submit(l, admin, &ledger.OpenBody{ID: vol(g)})
		return err
	})
	before := l.TreeSize()
	commits := l.Stats().Commits
	var mu sync.Mutex
	var seqs []uint64
	run(t, callers, func(g int) error {
		for j := 0; j < each; j++ {
			start := -time.Duration(j+1) * time.Hour
			e, err := submit(l, s1, credit(vol(g), "0.5", start, start+30*time.Minute))
			if err != nil {
				return err
			}
			mu.Lock()
			seqs = append(seqs, e.Seq)
			mu.Unlock()
		}
		return nil
	})
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != before+1+uint64(i) {
			t.Fatalf("seqs not distinct and gapless: position %d has seq %d, want %d", i, s, before+1+uint64(i))
		}
	}
	if l.TreeSize() != before+callers*each {
		t.Fatalf("tree size %d, want %d", l.TreeSize(), before+callers*each)
	}
	for g := 0; g < callers; g++ {
		if b := balance(t, l, vol(g), "HOURS"); b != each*50 {
			t.Fatalf("%s has %d HOURS, want %d", vol(g), b, each*50)
		}
	}
	if b := balance(t, l, "issuer:HOURS", "HOURS"); b != -callers*each*50 {
		t.Fatalf("issuer:HOURS %d, want %d", b, -callers*each*50)
	}
	t.Logf("%d credits in %d commits", callers*each, l.Stats().Commits-commits)
}

// run calls fn(0..n-1) in n goroutines and fails the test on the first error.
func run(t *testing.T, n int, fn func(g int) error) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn(g)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func req(p ledger.Principal, body ledger.Body) ledger.Request {
	return ledger.Request{Principal: p, IdempotencyKey: nextKey(), Body: body}
}

// oneBatch runs reqs as exactly one batch through the sequencer's own code path and returns
// their results in order. The sequencer goroutine is idle: nothing else submits.
func oneBatch(l *Ledger, reqs ...ledger.Request) []result {
	ws := make([]*waiter, len(reqs))
	for i, r := range reqs {
		ws[i] = mustWaiter(context.Background(), r)
	}
	l.process(ws)
	out := make([]result, len(ws))
	for i, w := range ws {
		out[i] = <-w.res
	}
	return out
}

func mustWaiter(ctx context.Context, r ledger.Request) *waiter {
	w, err := newWaiter(ctx, r)
	if err != nil {
		panic(err)
	}
	return w
}

func TestBatchMixesValidAndRejected(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	size, commits := l.TreeSize(), l.Stats().Commits
	res := oneBatch(l,
		req(s1, credit("resident:bob", "2", -5*time.Hour, -3*time.Hour)),
		req(s1, credit("resident:nobody", "1", -5*time.Hour, -4*time.Hour)),
		req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "11"}),
		req(admin, &ledger.OpenBody{ID: "resident:carol"}),
		req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "4"}),
		req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "7"}), // 6 left after the one before
	)
	wantCodes := []ledger.Code{"", ledger.CodeUnknownAccount, ledger.CodeInsufficientBalance, "", "", ledger.CodeInsufficientBalance}
	next := size + 1
	for i, r := range res {
		if wantCodes[i] != "" {
			wantCode(t, r.err, wantCodes[i])
			if r.e != nil {
				t.Fatalf("request %d was rejected but returned an entry", i)
			}
			continue
		}
		if r.err != nil || r.e.Seq != next {
			t.Fatalf("request %d: %+v, %v; want seq %d", i, r.e, r.err, next)
		}
		next++
	}
	if l.TreeSize() != size+3 || l.Stats().Commits != commits+1 {
		t.Fatalf("tree size %d commits %d; want %d and %d", l.TreeSize(), l.Stats().Commits, size+3, commits+1)
	}
	if a, b := balance(t, l, "resident:alice", "HOURS"), balance(t, l, "resident:bob", "HOURS"); a != 600 || b != 200 {
		t.Fatalf("alice %d bob %d, want 600 and 200", a, b)
	}

	// A batch of nothing but rejects commits nothing.
	res = oneBatch(l, req(bob, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "99"}))
	wantCode(t, res[0].err, ledger.CodeInsufficientBalance)
	if l.Stats().Commits != commits+1 {
		t.Fatal("a batch of rejects committed")
	}
}

// TestApplyPanicFailsOnlyThatRequest: a request that fails half-way through its writes
// dirties the transaction; it alone fails, and the rest of its batch is committed.
func TestApplyPanicFailsOnlyThatRequest(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	testHookAfterApply = func(e *ledger.Entry) {
		if b, ok := e.Body.(*ledger.CreditBody); ok && b.Volunteer == "resident:bob" {
			panic("injected")
		}
	}
	defer func() { testHookAfterApply = nil }()
	size := l.TreeSize()
	bobCredit := req(s1, credit("resident:bob", "2", -5*time.Hour, -3*time.Hour))
	res := oneBatch(l,
		req(s1, credit("resident:alice", "1", -5*time.Hour, -4*time.Hour)),
		bobCredit,
		req(admin, &ledger.OpenBody{ID: "resident:carol"}),
	)
	if res[0].err != nil || res[2].err != nil || res[0].e.Seq != size+1 || res[2].e.Seq != size+2 {
		t.Fatalf("the others in the batch: %+v / %+v", res[0], res[2])
	}
	if res[1].err == nil || ledger.CodeOf(res[1].err) != ledger.CodeInternal {
		t.Fatalf("the failing request: %v", res[1].err)
	}
	if l.TreeSize() != size+2 {
		t.Fatalf("tree size %d, want %d", l.TreeSize(), size+2)
	}
	if b := balance(t, l, "resident:bob", "HOURS"); b != 0 {
		t.Fatalf("bob has %d HOURS after a failed credit", b)
	}
	var sessions []ledger.Session
	l.View(func(v ledger.View) error {
		sessions, _ = v.SessionsIn("resident:bob", t0.Add(-24*time.Hour).UnixMicro(), t0.UnixMicro())
		return nil
	})
	if len(sessions) != 0 {
		t.Fatalf("bob has sessions after a failed credit: %+v", sessions)
	}
	testHookAfterApply = nil
	e, replayed, err := l.Submit(context.Background(), bobCredit)
	if err != nil || replayed || e.Seq != size+3 {
		t.Fatalf("retry of the failed request: %+v %v %v (its key must be free)", e, replayed, err)
	}
}

func TestIdempotency(t *testing.T) {
	l, dir := openTest(t, Options{})
	standard(t, l)
	ctx := context.Background()
	give := func(p ledger.Principal, key, amount string) (*ledger.Entry, bool, error) {
		return l.Submit(ctx, ledger.Request{Principal: p, IdempotencyKey: key,
			Body: &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: amount}})
	}
	e1, replayed, err := give(alice, "pay-1", "1.5")
	if err != nil || replayed {
		t.Fatal(err, replayed)
	}
	e2, replayed, err := give(alice, "pay-1", "1.5")
	if err != nil || !replayed || !sameEntry(t, l, e1, e2) {
		t.Fatalf("replay: %+v %v %v", e2, replayed, err)
	}
	if b := balance(t, l, "resident:alice", "HOURS"); b != 850 {
		t.Fatalf("alice paid twice: %d", b)
	}
	_, _, err = give(alice, "pay-1", "1.50") // same value, different request: fingerprints differ
	wantCode(t, err, ledger.CodeIdempotencyKeyReused)
	_, _, err = give(alice, "pay-1", "2")
	wantCode(t, err, ledger.CodeIdempotencyKeyReused)

	// A rejected request leaves its key free.
	_, _, err = give(bob, "pay-1", "1")
	wantCode(t, err, ledger.CodeInsufficientBalance)
	must(t, l, s1, credit("resident:bob", "3", -5*time.Hour, -2*time.Hour))
	if _, replayed, err := give(bob, "pay-1", "1"); err != nil || replayed {
		t.Fatalf("bob's key after his rejected request: %v %v", err, replayed)
	}

	// Keys survive a restart.
	l.Close()
	l2, err := Open(dir, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	l = l2
	e3, replayed, err := give(alice, "pay-1", "1.5")
	if err != nil || !replayed || !sameEntry(t, l, e1, e3) {
		t.Fatalf("replay after reopen: %+v %v %v", e3, replayed, err)
	}
}

func sameEntry(t *testing.T, l *Ledger, a, b *ledger.Entry) bool {
	t.Helper()
	ab, err1 := ledger.EncodeEntry(a, l.Assets())
	bb, err2 := ledger.EncodeEntry(b, l.Assets())
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

// TestConcurrentDuplicates: the same request sent 32 times at once makes one entry; the
// others get request_in_progress or the replay.
func TestConcurrentDuplicates(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	size := l.TreeSize()
	r := req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "1"})
	start := make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(start) }) // a barrier: all wait, then go
	var mu sync.Mutex
	fresh, replays, busy := 0, 0, 0
	run(t, 32, func(int) error {
		<-start
		e, replayed, err := l.Submit(context.Background(), r)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ledger.CodeOf(err) == ledger.CodeRequestInProgress:
			busy++
		case err != nil:
			return err
		case e.Seq != size+1:
			return fmt.Errorf("seq %d, want %d", e.Seq, size+1)
		case replayed:
			replays++
		default:
			fresh++
		}
		return nil
	})
	if fresh != 1 || l.TreeSize() != size+1 || fresh+replays+busy != 32 {
		t.Fatalf("fresh %d replays %d busy %d, tree size %d", fresh, replays, busy, l.TreeSize())
	}
	t.Logf("replays %d, request_in_progress %d", replays, busy)
}

func TestCancelledRequestsAreNeverWritten(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	size := l.TreeSize()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := req(alice, &ledger.RedemptionBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "1"})
	for i := 0; i < 50; i++ {
		if _, _, err := l.Submit(ctx, r); !errors.Is(err, context.Canceled) {
			t.Fatalf("submit with a cancelled context: %v", err)
		}
	}
	// The sequencer drops a request whose caller left before it was taken.
	ws := mustWaiter(ctx, r)
	l.process([]*waiter{ws})
	if err := (<-ws.res).err; !errors.Is(err, context.Canceled) {
		t.Fatalf("taken after its caller left: %v", err)
	}
	if l.TreeSize() != size {
		t.Fatalf("tree size %d, want %d: a cancelled request was written", l.TreeSize(), size)
	}
	if _, replayed, err := l.Submit(context.Background(), r); err != nil || replayed {
		t.Fatalf("the key after cancelled attempts: %v %v", err, replayed)
	}
}

// TestCloseDrains: requests racing Close either commit (and are on disk after reopening) or
// get unavailable; none is lost or half-known.
func TestCloseDrains(t *testing.T) {
	l, dir := openTest(t, Options{})
	var mu sync.Mutex
	acked := map[uint64]*ledger.Entry{}
	var wg sync.WaitGroup
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := submit(l, admin, &ledger.OpenBody{ID: ledger.AccountID(fmt.Sprintf("resident:c%d", g))})
			switch {
			case ledger.CodeOf(err) == ledger.CodeUnavailable:
			case err != nil:
				t.Error(err)
			default:
				mu.Lock()
				acked[e.Seq] = e
				mu.Unlock()
			}
		}()
		if g == 50 {
			go l.Close()
		}
	}
	wg.Wait()
	l.Close()
	if _, err := submit(l, admin, &ledger.OpenBody{ID: "resident:late"}); ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("submit after close: %v", err)
	}
	if l.Healthy() == nil {
		t.Fatal("a closed store reports healthy")
	}
	l2, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.TreeSize() != 1+uint64(len(acked)) {
		t.Fatalf("tree size %d after reopen, %d acknowledged", l2.TreeSize(), len(acked))
	}
	for seq, e := range acked {
		got, err := l2.Entry(seq)
		if err != nil || got == nil || !sameEntry(t, l2, got, e) {
			t.Fatalf("acknowledged entry %d: %+v %v", seq, got, err)
		}
	}
	t.Logf("%d of 100 committed before close", len(acked))
}

// TestCommitFailure: a failed commit answers its whole batch with unavailable (503), leaves
// nothing behind, makes Healthy report it, and the next good commit clears it.
func TestCommitFailure(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)
	size := l.TreeSize()
	l.db.MaxSize = 1 // every page beyond the free list now fails to allocate
	var reqs []ledger.Request
	for i := 0; i < 400; i++ {
		reqs = append(reqs, req(admin, &ledger.OpenBody{ID: ledger.AccountID(fmt.Sprintf("resident:f%d", i))}))
	}
	for i, r := range oneBatch(l, reqs...) {
		if r.err == nil || ledger.CodeOf(r.err) != ledger.CodeUnavailable {
			t.Fatalf("request %d of the failed batch: %+v %v", i, r.e, r.err)
		}
	}
	if l.Healthy() == nil {
		t.Fatal("Healthy is nil after a failed commit")
	}
	if l.TreeSize() != size {
		t.Fatalf("tree size %d after a failed commit, want %d", l.TreeSize(), size)
	}
	if a, _ := l.Account("resident:f0"); a != nil {
		t.Fatal("an account of the failed batch exists")
	}
	l.db.MaxSize = 0
	e := must(t, l, admin, &ledger.OpenBody{ID: "resident:f0"})
	if e.Seq != size+1 || l.Healthy() != nil {
		t.Fatalf("after recovery: seq %d, healthy %v", e.Seq, l.Healthy())
	}
}

// TestUncertainCommitStops: a commit that fails inside bbolt's own commit, after the meta
// page was written (a failed fdatasync, simulated by an Update that commits and then
// reports EIO), may or may not be on disk, and is visible in the memory map either way. The
// store must not tell the caller nothing was written, nor publish, sign or build on that
// commit: it answers unavailable with the outcome unknown and stops writing and reading.
// After a restart, a retry with the same Idempotency-Key finds the entry if the disk kept it.
func TestUncertainCommitStops(t *testing.T) {
	l, dir := openTest(t, Options{})
	standard(t, l)
	size := l.TreeSize()
	ckpt, _ := l.Checkpoint()
	l.update = func(fn func(*bbolt.Tx) error) error {
		if err := l.db.Update(fn); err != nil {
			return err
		}
		return syscall.EIO
	}
	first := ledger.Request{Principal: admin, IdempotencyKey: "uncertain", Body: &ledger.OpenBody{ID: "resident:u1"}}
	_, _, err := l.Submit(context.Background(), first)
	if ledger.CodeOf(err) != ledger.CodeUnavailable || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("the uncertain commit answered %v; want unavailable, outcome unknown", err)
	}
	if l.TreeSize() != size {
		t.Fatalf("tree size %d after an uncertain commit, want %d: the head took a commit the disk may not hold", l.TreeSize(), size)
	}
	if c, _ := l.Checkpoint(); !bytes.Equal(c, ckpt) {
		t.Fatalf("the checkpoint changed after an uncertain commit:\n%s", c)
	}
	if l.Healthy() == nil {
		t.Fatal("Healthy is nil after an uncertain commit")
	}
	l.update = l.db.Update // the disk is back: the store must stay stopped anyway
	if _, err := submit(l, admin, &ledger.OpenBody{ID: "resident:u2"}); ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("a write after the store stopped: %v", err)
	}
	if _, err := l.Account("resident:s1"); ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("a read after the store stopped: %v", err)
	}
	if _, _, err := l.CreateToken(ledger.RoleAdmin, "", "after"); ledger.CodeOf(err) != ledger.CodeUnavailable {
		t.Fatalf("a token created after the store stopped: %v", err)
	}
	if l.Healthy() == nil {
		t.Fatal("Healthy is nil after the store stopped")
	}
	l.Close()

	l2, err := Open(dir, Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	e, replayed, err := l2.Submit(context.Background(), first)
	if err != nil || !replayed || e.Seq != size+1 {
		t.Fatalf("the retry after the restart: entry %+v, replayed %v, %v; want entry %d, replayed", e, replayed, err, size+1)
	}
	if a, _ := l2.Account("resident:u2"); a != nil {
		t.Fatal("a write refused after the store stopped was written")
	}
	compareWithReplay(t, l2)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	soakDuration = flag.Duration("soak.duration", 3*time.Second, "how long TestSoak's clients write")
	soakSeed     = flag.Uint64("soak.seed", 0, "TestSoak's random seed (0: from the clock)")
)

// TestSoak runs the real binary under concurrent clients, one per station, outlet, group of
// residents, admin and auditor, each with its own role's token, sending a seeded-random mix
// of every write of SPEC §3: accepted ones, ones the rules refuse, malformed ones, replays
// and reuses of Idempotency-Keys and concurrent duplicates. It checks every answer as it
// comes (soak_http_test.go: status and code allowed for the case, SPEC §7's error shape,
// the entry an acknowledged write answers), durability and the log's growth while writing
// (the auditor), `timebank verify --url` while writing, then the export against every
// acknowledged write, the balances against the postings, a stop by SIGTERM and
// `timebank verify --data` (soak_check_test.go).
//
// The clients write for -soak.duration (3 s) and past it until every write kind has been
// both acknowledged and refused and one verify --url has run whole while they wrote. A
// failure names the seed; -soak.seed replays the same choices (not the same interleaving).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("TestSoak failed with seed %d: go test ./cmd/timebank -run TestSoak -soak.seed %d -soak.duration %s",
				seed, seed, *soakDuration)
		}
	})
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, bin, data, "--log-level", "warn") // errors still logged, not a line per request
	s := newSoak(t, srv.url, seed)
	defer s.hc.CloseIdleConnections()
	w := s.setup(readAdminToken(t, data))
	setupEntries := s.entriesAcked()

	vkey := filepath.Join(data, "checkpoint.vkey")
	verified := s.verifyWhileWriting(bin, vkey)
	started := time.Now()
	var wg sync.WaitGroup
	for _, run := range w {
		wg.Go(run)
	}
	s.waitForCoverage(started, verified)
	s.stop.Store(true)
	wg.Wait()
	ran := time.Since(started)
	<-verified.done
	if t.Failed() {
		s.summary(ran, setupEntries, verified)
		return
	}

	export := s.get("/v1/export", s.tokens["admin"])
	s.checkExport(export)
	s.checkBalances()
	s.checkHolds()
	// A connection the client dialled but never used counts as busy for 5 s in net/http's
	// Shutdown (no request read yet); closing them keeps the stop prompt.
	s.hc.CloseIdleConnections()
	srv.stop(t)
	if strings.Contains(srv.stderr.String(), `"level":"ERROR"`) {
		t.Errorf("the server logged errors:\n%s", errorLines(srv.stderr.String()))
	}
	walker := &walk{t: t, base: srv.url, bin: bin}
	t.Logf("timebank verify --data:\n%s", walker.run("verify", "--data", data))
	s.summary(ran, setupEntries, verified)
}

// soak is the state the clients share: the scheme, what was answered, the registries the
// clients pick their next requests from.
type soak struct {
	t    *testing.T
	base string
	hc   *http.Client
	seed uint64
	now0 time.Time // the soak's start: the slots of service time hang from its local day
	stop atomic.Bool

	// The scheme setup made; fixed once the clients run.
	stations, outlets, pools []string
	residents                []string          // the residents with tokens
	prone                    map[string]bool   // residents the admin freezes and unfreezes
	tokens                   map[string]string // account, "admin", "admin2" or "auditor" → token
	setupFamily              map[string]map[string]bool

	mu         sync.Mutex
	counts     map[string]map[string]int // entry type (or read, token) → outcome → requests
	idem       map[string]int            // replays, reuses, bursts, freed keys reused
	acks       map[string]*ack           // actor \x00 key → the entry acknowledged
	bySeq      map[uint64]*ack
	refused    map[string]bool // actor \x00 key of refused writes
	volunteers []string        // every resident: those with tokens and those stations opened
	opened     []string        // residents stations opened (the admin links them)
	family     map[string]map[string]bool
	open       []*holdRef // holds acknowledged and not known to be closed
	allHolds   []*holdRef
	credits    map[string][]uint64 // station → credits naming it
	reversible []uint64            // entries the admin may reverse (none a station reverses)
	inert      []uint64            // entries of types that cannot be reversed
	au         *auditor            // its reads of the export, which must stay a prefix of the log
	maxAcked   atomic.Uint64
	failures   atomic.Int64
}

// ack is an acknowledged write: the entry its (actor, key) made, and the answer it gave.
type ack struct {
	actor, key string
	answer     []byte
	entry      *wireEntry
	req        *soakReq
	created    int // 201 answers for this (actor, key): exactly one, by the end
}

func newSoak(t *testing.T, base string, seed uint64) *soak {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 128, 128 // no new connection per request
	return &soak{t: t, base: base, hc: &http.Client{Transport: tr}, seed: seed, now0: time.Now(),
		tokens: map[string]string{}, prone: map[string]bool{}, setupFamily: map[string]map[string]bool{},
		counts: map[string]map[string]int{}, idem: map[string]int{}, acks: map[string]*ack{},
		bySeq: map[uint64]*ack{}, refused: map[string]bool{}, family: map[string]map[string]bool{},
		credits: map[string][]uint64{}}
}

// maxFailures bounds the failures reported one by one; the rest are counted.
const maxFailures = 30

// failf reports a failure from any goroutine (t.Errorf is safe there; t.Fatal is not).
func (s *soak) failf(format string, args ...any) {
	s.t.Helper()
	if n := s.failures.Add(1); n <= maxFailures {
		s.t.Errorf(format, args...)
	} else if n == maxFailures+1 {
		s.t.Errorf("more failures follow; only their number is reported")
	}
}

func (s *soak) entriesAcked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks) + 1 // and genesis
}

// writeKinds are the entry types of SPEC §3's writes.
var writeKinds = []string{"open", "freeze", "unfreeze", "link", "credit", "redemption", "hold", "settle",
	"void", "transfer", "donation", "grant", "conversion", "reversal", "policy"}

// uncovered lists the write kinds not yet both acknowledged (201) and refused (4xx).
func (s *soak) uncovered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	for _, k := range writeKinds {
		created, refused := false, false
		for o, n := range s.counts[k] {
			created = created || o == "201" && n > 0
			refused = refused || o[0] == '4' && n > 0
		}
		if !created || !refused {
			missing = append(missing, k)
		}
	}
	return missing
}

// waitForCoverage returns once the duration has passed, every write kind has been both
// acknowledged and refused, and a verify --url has run whole while the clients wrote; or
// after four times the duration and 20 s, failing, or as soon as a failure is seen.
func (s *soak) waitForCoverage(started time.Time, v *verifyLoop) {
	hard := started.Add(4**soakDuration + 20*time.Second)
	logged := false
	for {
		time.Sleep(50 * time.Millisecond)
		if s.failures.Load() > 0 {
			return
		}
		if time.Since(started) < *soakDuration {
			continue
		}
		missing := s.uncovered()
		if len(missing) == 0 && v.passed.Load() > 0 {
			return
		}
		if !logged {
			s.t.Logf("after %s, still waiting for write kinds %v to be both acknowledged and refused, and verify --url (%d passed)",
				*soakDuration, missing, v.passed.Load())
			logged = true
		}
		if time.Now().After(hard) {
			s.failf("after %s: write kinds not both acknowledged and refused: %v; verify --url runs passed: %d",
				time.Since(started).Round(time.Millisecond), missing, v.passed.Load())
			return
		}
	}
}

// verifyLoop runs `timebank verify --url` again and again while the clients write.
type verifyLoop struct {
	passed atomic.Int64
	done   chan struct{}
	last   string
}

func (s *soak) verifyWhileWriting(bin, vkey string) *verifyLoop {
	v := &verifyLoop{done: make(chan struct{})}
	go func() {
		defer close(v.done)
		time.Sleep(200 * time.Millisecond) // let the clients begin
		for !s.stop.Load() && s.failures.Load() == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			out, err := exec.CommandContext(ctx, bin, "verify", "--url", s.base, "--token", s.tokens["auditor"],
				"--key", vkey).CombinedOutput()
			cancel()
			if err != nil {
				s.failf("timebank verify --url while the clients write: %v\n%s", err, out)
				return
			}
			v.last = string(out)
			v.passed.Add(1)
		}
	}()
	return v
}

// summary logs the requests by kind and outcome.
func (s *soak) summary(ran time.Duration, setupEntries int, v *verifyLoop) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds := make([]string, 0, len(s.counts))
	total := 0
	for k, m := range s.counts {
		kinds = append(kinds, k)
		for _, n := range m {
			total += n
		}
	}
	sort.Strings(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests in %s (seed %d); %d entries: %d from setup, %d since; verify --url passed %d times while writing\n",
		total, ran.Round(time.Millisecond), s.seed, len(s.acks)+1, setupEntries, len(s.acks)+1-setupEntries, v.passed.Load())
	for _, k := range kinds {
		outs := make([]string, 0, len(s.counts[k]))
		n := 0
		for o, c := range s.counts[k] {
			outs = append(outs, fmt.Sprintf("%s ×%d", o, c))
			n += c
		}
		slices.Sort(outs)
		fmt.Fprintf(&b, "  %-10s %6d  %s\n", k, n, strings.Join(outs, ", "))
	}
	fmt.Fprintf(&b, "  idempotency: %v\n", s.idem)
	if v.last != "" {
		fmt.Fprintf(&b, "last verify --url:\n%s", v.last)
	}
	s.t.Log(b.String())
}

// errorLines returns the lines of log at level ERROR.
func errorLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

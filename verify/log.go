// Package verify replays a timebank ledger from genesis and checks it: the Merkle tree
// against a signed checkpoint, every entry against the rules with the policy in force at its
// seq, and (for a data directory) every stored balance, hold and index against the replay.
// It runs the same ledger.Decide and ledger.Apply as the server.
package verify

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// MaxLineBytes bounds one export line; a canonical entry is far smaller (bodies ≤ 64 KiB).
const MaxLineBytes = 1 << 20

// Checkpoint is a verified signed tree head.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
}

// OpenCheckpoint verifies a signed note with the verifier key vkey and parses its C2SP
// tlog-checkpoint text (origin, size, base64 root; extension lines are ignored). The origin
// must be the key's name (docs/FORMAT.md), the size canonical decimal and the root canonical
// base64. A note not signed by the key (another key's, or altered since it was signed) is a
// difference; a malformed key or note, or a signed text that is not a checkpoint of the
// key's ledger, is a *SourceError.
func OpenCheckpoint(msg []byte, vkey string) (*Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, sourceErrorf("verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("checkpoint signature: %w", err)
		}
		return nil, sourceErrorf("checkpoint: %w%s", err, noteHint(msg))
	}
	cp, err := parseCheckpoint(n.Text, v.Name())
	if err != nil {
		return nil, &SourceError{err}
	}
	return cp, nil
}

// noteHint says what a malformed note's bytes suggest went wrong on its way from the server:
// a note's lines end in LF only, and its last signature line ends the file.
func noteHint(msg []byte) string {
	switch {
	case bytes.Contains(msg, []byte("\r\n")):
		return " (its lines end in CRLF: save GET /v1/checkpoint's answer byte for byte, without converting line ends)"
	case bytes.HasSuffix(msg, []byte("\n\n")) || len(msg) > 0 && msg[len(msg)-1] != '\n':
		return " (it must end with its last signature line and one newline: save GET /v1/checkpoint's answer byte for byte)"
	}
	return ""
}

// parseCheckpoint parses the signed text of a checkpoint by the key named name.
func parseCheckpoint(text, name string) (*Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return nil, errors.New("checkpoint text has fewer than three lines")
	}
	if lines[0] != name {
		return nil, fmt.Errorf("checkpoint origin %q is not the verifier key's name %q (a checkpoint of another log)", lines[0], name)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("checkpoint size %q: %w", lines[1], err)
	}
	if strconv.FormatUint(size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint size %q is not canonical decimal", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != lines[2] {
		return nil, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	return &Checkpoint{Origin: lines[0], Size: size, Root: tlog.Hash(raw)}, nil
}

// emptyTreeHash is the root of the tree of no entries: SHA-256 of nothing (RFC 6962 §2.1).
// A checkpoint of size 0 is legal C2SP; every timebank log holds genesis, so it can only
// match a log's prefix of no entries.
var emptyTreeHash = tlog.Hash(sha256.Sum256(nil))

// Tree computes RFC 6962 tree heads incrementally with tlog's hash functions, keeping only
// the roots of the complete subtrees on the right edge (at most 64 hashes): memory does not
// grow with the log. Add each entry's leaf hash (tlog.RecordHash of its canonical bytes).
type Tree struct {
	n     uint64
	stack []tlog.Hash
}

func (f *Tree) Add(leaf tlog.Hash) {
	h := leaf
	for k := f.n; k&1 == 1; k >>= 1 {
		h = tlog.NodeHash(f.stack[len(f.stack)-1], h)
		f.stack = f.stack[:len(f.stack)-1]
	}
	f.stack = append(f.stack, h)
	f.n++
}

// Size is the number of leaves added.
func (f *Tree) Size() uint64 { return f.n }

// Root is the tree head of the leaves added (the empty tree's for none).
func (f *Tree) Root() tlog.Hash {
	if len(f.stack) == 0 {
		return emptyTreeHash
	}
	h := f.stack[len(f.stack)-1]
	for i := len(f.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.stack[i], h)
	}
	return h
}

// Summary is what a verification found; Print writes it as one screen.
type Summary struct {
	Source     string
	Entries    uint64
	Root       tlog.Hash
	Checkpoint *Checkpoint
	Accounts   int
	Holds      int
	ByType     map[ledger.Type]uint64
	Supply     map[string]int64 // outstanding: the negated issuer balance
	Assets     ledger.Assets
	Compared   []string // what was compared with stored or served state
	// ServedKey, for --url without --key, is the server's own verifier key, which checked
	// its checkpoint: not pinned, so the signature proves nothing against that server.
	ServedKey string
	Elapsed   time.Duration
}

// Print writes the summary.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "timebank verify: OK (%s)\n", s.Source)
	rate := float64(s.Entries) / s.Elapsed.Seconds()
	fmt.Fprintf(w, "  entries      %d replayed in %s (%.0f entries/s)\n", s.Entries, s.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "  tree root    %s\n", base64.StdEncoding.EncodeToString(s.Root[:]))
	if cp := s.Checkpoint; cp != nil {
		fmt.Fprintf(w, "  checkpoint   %q size %d: signature and root match\n", cp.Origin, cp.Size)
		if s.Entries > cp.Size {
			fmt.Fprintf(w, "  unsigned     %d entries (%d to %d) lie beyond the checkpoint: covered by no signature\n", s.Entries-cp.Size, cp.Size+1, s.Entries)
		}
		if s.ServedKey != "" {
			fmt.Fprintf(w, "  key          not pinned: the server's own key %s checked its checkpoint (pin one with --key)\n", s.ServedKey)
		}
	} else {
		fmt.Fprintf(w, "  checkpoint   none given: tree checked against the stored hashes and root, not a signature\n")
	}
	types := make([]string, 0, len(s.ByType))
	for t, n := range s.ByType {
		types = append(types, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(types)
	fmt.Fprintf(w, "  by type      %s\n", strings.Join(types, ", "))
	fmt.Fprintf(w, "  accounts     %d, holds %d\n", s.Accounts, s.Holds)
	for _, code := range s.Assets.Codes() {
		fmt.Fprintf(w, "  supply       %s %s outstanding\n", ledger.FormatAmount(s.Supply[code], s.Assets[code].Scale), code)
	}
	for _, c := range s.Compared {
		fmt.Fprintf(w, "  compared     %s\n", c)
	}
}

// Lines yields canonical entry lines in order; Next returns io.EOF at the end. The slice is
// valid until the next call.
type Lines interface {
	Next() ([]byte, error)
}

// readerLines reads newline-terminated lines from an io.Reader.
type readerLines struct {
	br *bufio.Reader
	n  uint64
}

// NewLines reads export lines (each ending in "\n") from r.
func NewLines(r io.Reader) Lines { return &readerLines{br: bufio.NewReaderSize(r, 1<<20)} }

func (l *readerLines) Next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > MaxLineBytes {
		return nil, fmt.Errorf("line %d is longer than %d bytes", l.n+1, MaxLineBytes)
	}
	if err == io.EOF && len(line) > 0 {
		return nil, fmt.Errorf("line %d does not end in a newline (truncated export?)", l.n+1)
	}
	if err != nil {
		return nil, err
	}
	l.n++
	return bytes.TrimSuffix(line, []byte("\n")), nil
}

// replay is one run over a log: the replayer, the tree and the counters.
type replay struct {
	st       *ledger.MemState
	rp       *ledger.Replayer
	tree     Tree
	sum      *Summary
	ckpt     *Checkpoint
	ckptRoot tlog.Hash // the root of the first ckpt.Size entries, once replayed
	progress func(n uint64)
	// after, when set, runs after each entry is applied (comparisons with stored state).
	after func(e *ledger.Entry, raw []byte) error
	// check compares re-decided entries with the logged bytes on its own goroutine; whoever
	// replays must call check.wait at the end, and name its error first.
	check *checker
}

func newReplay(src ledger.EntrySource, ckpt *Checkpoint, progress func(uint64)) *replay {
	st := ledger.NewMemState(src)
	return &replay{st: st, rp: &ledger.Replayer{St: st}, ckpt: ckpt, ckptRoot: emptyTreeHash, progress: progress,
		check: newChecker(), sum: &Summary{ByType: map[ledger.Type]uint64{}, Checkpoint: ckpt}}
}

// errCheckFailed stops a replay whose comparison found a difference; check.wait names it.
var errCheckFailed = errors.New("verify: an entry replayed differs from its logged bytes")

// step checks one decoded entry against the rules and adds it to the tree. It stops once
// the comparison, behind it, has found a difference: going on to the end of the log would
// only delay naming it.
func (r *replay) step(it item) error {
	if r.check.failed.Load() {
		return errCheckFailed
	}
	e, raw := it.e, it.raw
	got, err := r.rp.Decide(e)
	if err != nil {
		return err
	}
	r.check.add(got, raw, r.rp.Assets)
	if err := r.rp.Apply(got); err != nil {
		return err
	}
	r.tree.Add(it.leaf)
	if r.ckpt != nil && r.tree.n == r.ckpt.Size {
		r.ckptRoot = r.tree.Root()
	}
	r.sum.ByType[e.Type]++
	if r.after != nil {
		if err := r.after(e, raw); err != nil {
			return err
		}
	}
	if r.progress != nil && r.tree.n%4096 == 0 {
		r.progress(r.tree.n)
	}
	return nil
}

// finish checks the checkpoint and fills the summary.
func (r *replay) finish() error {
	if r.tree.n == 0 {
		return errors.New("the log is empty: no genesis entry")
	}
	if r.progress != nil {
		r.progress(r.tree.n) // the count since the last multiple of 4,096
	}
	if r.ckpt != nil {
		if r.ckpt.Size > r.tree.n {
			return fmt.Errorf("the checkpoint covers %d entries but the log has only %d: entries are missing", r.ckpt.Size, r.tree.n)
		}
		if r.ckptRoot != r.ckpt.Root {
			return fmt.Errorf("the tree of the first %d entries has root %s, but the signed checkpoint says %s: the log was changed",
				r.ckpt.Size, base64.StdEncoding.EncodeToString(r.ckptRoot[:]), base64.StdEncoding.EncodeToString(r.ckpt.Root[:]))
		}
	}
	s := r.sum
	s.Entries, s.Root, s.Assets = r.tree.n, r.tree.Root(), r.rp.Assets
	s.Supply = map[string]int64{}
	accts := r.st.Accounts()
	s.Accounts, s.Holds = len(accts), len(r.st.Holds())
	for _, a := range accts {
		if a.Kind == ledger.KindIssuer {
			for code, b := range a.Balances {
				s.Supply[code] = -b.Balance
			}
		}
	}
	return nil
}

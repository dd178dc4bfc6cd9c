package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/timebank/timebank/ledger/store"
	"github.com/timebank/timebank/verify"
)

// verifyCmd replays a ledger from genesis and checks it (SPEC §5).
type verifyCmd struct {
	Data       string `help:"A stopped server's data directory (or one holding a backup as timebank.db)." placeholder:"DIR"`
	Export     string `help:"An export file (canonical NDJSON); needs --checkpoint and --key." placeholder:"FILE"`
	Checkpoint string `help:"A signed checkpoint (GET /v1/checkpoint). Optional with --data." placeholder:"FILE"`
	Key        string `help:"The verifier key file (DIR/checkpoint.vkey), pinned out of band." placeholder:"FILE"`
	URL        string `name:"url" help:"A running server to verify through its API." placeholder:"URL"`
	Token      string `help:"An admin or auditor token for --url."`
}

// verifyGCPercent is the garbage collector's target in verify when GOGC is not set. The
// replay keeps every account and credited session live (about 150 MiB at a million entries)
// while it allocates per entry; at the default (100) the collector re-marks that heap
// about twenty times over 1M entries. 200 made verify --data 8 % faster there for about
// 140 MB more memory (docs/PERFORMANCE.md, Verify).
const verifyGCPercent = 200

// Help is the detail of `timebank verify --help`: the exit statuses.
func (c *verifyCmd) Help() string {
	return `Give one source: --data, --export (with --checkpoint and --key) or --url (with --token).

Exit status:

	0  verified: every entry, hash, balance and index agrees
	1  FAILED: a difference, named (the first entry, account or hold that differs), or a
	   damaged database file
	2  wrong usage: a flag missing, unknown or in conflict; nothing was read
	3  not verified: the source could not be read or is not one (a missing, unreadable,
	   empty or malformed file, checkpoint or key, a database held by a running server,
	   a server unreachable, refusing the token, silent for a minute, or answering an
	   error or an answer too large or malformed)`
}

// Run verifies; see Help for its exit statuses.
func (c *verifyCmd) Run(inv *invocation) error {
	if err := c.checkUsage(inv.given); err != nil {
		return err
	}
	gcPercentUnlessSet(verifyGCPercent)
	ckpt, vkey, err := c.readFiles()
	if err == nil {
		err = c.preflight()
	}
	if err != nil && errors.Is(err, store.ErrCorrupt) {
		// A damaged database file is a ledger that is not intact: a difference, not a
		// source that could not be read.
		fmt.Fprintln(inv.stderr, "timebank verify: FAILED")
		return &exitError{exitFailed, err}
	}
	if err != nil {
		return notVerified(inv, err)
	}
	progress, done := progressBar(inv.stderr)
	sum, err := c.verify(ckpt, vkey, progress)
	done()
	if err != nil {
		if unreadable(err) {
			return notVerified(inv, err)
		}
		fmt.Fprintln(inv.stderr, "timebank verify: FAILED")
		return &exitError{exitFailed, err}
	}
	sum.Print(inv.stdout)
	return nil
}

// checkUsage picks the source and refuses a command line that cannot verify: no source or
// two, a source without the flags it needs or named with flags it does not use. Flags that
// came only from the environment and do not apply to the source are ignored (cleared).
func (c *verifyCmd) checkUsage(given map[string]bool) error {
	src, err := oneSource(given, "verify", flagRef{"data", &c.Data}, flagRef{"export", &c.Export}, flagRef{"url", &c.URL})
	if err != nil {
		return err
	}
	var unused []flagRef
	switch {
	case src == "url":
		// The server serves its checkpoint; --key pins the key it signs with.
		unused = []flagRef{{"checkpoint", &c.Checkpoint}}
	case src == "data" && c.Checkpoint == "":
		unused = []flagRef{{"token", &c.Token}, {"key", &c.Key}} // the key checks a checkpoint
	default:
		unused = []flagRef{{"token", &c.Token}}
	}
	if err := dropUnused(given, "verify --"+src, unused...); err != nil {
		return err
	}
	switch {
	case src == "data" && c.Checkpoint != "" && c.Key == "":
		return usagef("verify --data: --checkpoint needs --key (the key checks the checkpoint's signature)")
	case src == "export" && (c.Checkpoint == "" || c.Key == ""):
		return usagef("verify --export needs --checkpoint and --key")
	case src == "url" && c.Token == "":
		return usagef("verify --url needs --token (an admin or auditor token)")
	case src == "url":
		return checkURL("verify", c.URL)
	}
	return nil
}

// readFiles reads --checkpoint and --key, when given, each at most verify.MaxNoteBytes: a
// path to something endless (/dev/zero) is refused, not read into memory.
func (c *verifyCmd) readFiles() (ckpt []byte, vkey string, err error) {
	if c.Checkpoint != "" {
		if ckpt, err = readNote(c.Checkpoint, "checkpoint"); err != nil {
			return nil, "", err
		}
	}
	if c.Key != "" {
		raw, err := readNote(c.Key, "verifier key")
		if err != nil {
			return nil, "", err
		}
		if vkey = strings.TrimSpace(string(raw)); vkey == "" {
			return nil, "", fmt.Errorf("the verifier key file %s is empty", c.Key)
		}
	}
	return ckpt, vkey, nil
}

// readNote reads a checkpoint or verifier key file of at most verify.MaxNoteBytes.
func readNote(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, verify.MaxNoteBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > verify.MaxNoteBytes {
		return nil, fmt.Errorf("%s is larger than %d KiB: not a %s", path, verify.MaxNoteBytes>>10, what)
	}
	return b, nil
}

// preflight opens the source before verifying, so that a source that cannot be read is told
// apart from a difference: the store says "in use by another process" in words only. With
// --data it opens the store read-only as verify.Data will (and closes it). An export file
// is opened by verify.Export, whose error is an *fs.PathError (unreadable); verify.URL
// calls a server that cannot be read (unreachable, refusing the token, answering an error
// status) a *verify.SourceError, and waits out a rate limit's 429 as a request made here
// did not.
func (c *verifyCmd) preflight() error {
	if c.Data == "" {
		return nil
	}
	l, err := store.Open(c.Data, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	return l.Close()
}

// unreadable reports whether err is a failure to read the source (a file or the network)
// or a source that is not one (a malformed checkpoint or key, a server's error status or
// malformed answer: *verify.SourceError), not a difference: the verify package passes
// those on as they are, or wrapped with %w.
func unreadable(err error) bool {
	var pathErr *fs.PathError
	var netErr net.Error
	var srcErr *verify.SourceError
	return errors.As(err, &pathErr) || errors.As(err, &netErr) || errors.As(err, &srcErr)
}

// notVerified reports a source that could not be read: exit 3, and no "FAILED", which
// would tell an auditor the ledger differs.
func notVerified(inv *invocation, err error) error {
	fmt.Fprintln(inv.stderr, "timebank verify: NOT VERIFIED: the source could not be read")
	return &exitError{exitNotVerified, err}
}

// verify runs the replay of the one source; checkUsage has checked the flags.
func (c *verifyCmd) verify(ckpt []byte, vkey string, progress func(uint64)) (*verify.Summary, error) {
	switch {
	case c.Data != "":
		return verify.Data(c.Data, ckpt, vkey, progress)
	case c.Export != "":
		sum, _, err := verify.Export(c.Export, ckpt, vkey, progress)
		return sum, err
	default:
		return verify.URL(c.URL, c.Token, vkey, progress)
	}
}

// progressBar shows entries replayed when w is a terminal; elsewhere it shows nothing.
func progressBar(w io.Writer) (func(uint64), func()) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("replaying entries"), progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100e6))
	var last uint64
	return func(n uint64) {
			bar.Add64(int64(n - last))
			last = n
		}, func() {
			bar.Finish()
			fmt.Fprintln(f)
		}
}

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

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

// Run verifies; it exits 1 on the first difference, naming the entry or account.
func (c *verifyCmd) Run() error {
	gcPercentUnlessSet(verifyGCPercent)
	sources := 0
	for _, s := range []string{c.Data, c.Export, c.URL} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return &exitError{2, errors.New("verify: give exactly one of --data, --export or --url")}
	}
	progress, done := progressBar(c)
	sum, err := c.verify(progress)
	done()
	if err != nil {
		fmt.Fprintln(os.Stderr, "timebank verify: FAILED")
		return &exitError{1, err}
	}
	sum.Print(os.Stdout)
	return nil
}

func (c *verifyCmd) verify(progress func(uint64)) (*verify.Summary, error) {
	var ckpt []byte
	var vkey string
	var err error
	if c.Checkpoint != "" {
		if ckpt, err = os.ReadFile(c.Checkpoint); err != nil {
			return nil, err
		}
	}
	if c.Key != "" {
		raw, err := os.ReadFile(c.Key)
		if err != nil {
			return nil, err
		}
		vkey = strings.TrimSpace(string(raw))
	}
	switch {
	case c.Data != "":
		if ckpt != nil && vkey == "" {
			return nil, errors.New("--checkpoint needs --key")
		}
		return verify.Data(c.Data, ckpt, vkey, progress)
	case c.Export != "":
		if ckpt == nil || vkey == "" {
			return nil, errors.New("--export needs --checkpoint and --key")
		}
		sum, _, err := verify.Export(c.Export, ckpt, vkey, progress)
		return sum, err
	default:
		if c.Token == "" {
			return nil, errors.New("--url needs --token")
		}
		return verify.URL(c.URL, c.Token, vkey, progress)
	}
}

// progressBar shows entries replayed on a terminal; elsewhere it shows nothing.
func progressBar(c *verifyCmd) (func(uint64), func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("replaying entries"), progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100e6))
	var last uint64
	return func(n uint64) {
			bar.Add64(int64(n - last))
			last = n
		}, func() {
			bar.Finish()
			fmt.Fprintln(os.Stderr)
		}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/internal/durable"
	"github.com/timebank/timebank/ledger/store"
	"github.com/timebank/timebank/verify"
)

// exportCmd writes the canonical NDJSON of a ledger: from a stopped server's directory or a
// running server's API.
type exportCmd struct {
	Data     string `help:"A stopped server's data directory." placeholder:"DIR"`
	URL      string `name:"url" help:"A running server." placeholder:"URL"`
	Token    string `help:"An admin or auditor token for --url."`
	AfterSeq uint64 `name:"after-seq" default:"0" help:"Only entries after this seq."`
	Out      string `help:"Write to FILE instead of standard output; FILE is replaced only once the export is whole." placeholder:"FILE"`
}

// Run exports.
func (c *exportCmd) Run(inv *invocation) error {
	src, err := oneSource(inv.given, "export", flagRef{"data", &c.Data}, flagRef{"url", &c.URL})
	if err != nil {
		return err
	}
	if src == "data" {
		if err := dropUnused(inv.given, "export --data", flagRef{"token", &c.Token}); err != nil {
			return err
		}
	} else if c.Token == "" {
		return usagef("export --url needs --token (an admin or auditor token)")
	} else if err := checkURL("export", c.URL); err != nil {
		return err
	}
	out, err := checkOut("export", c.Out, c.Data)
	if err != nil {
		return err
	}
	c.Out = out
	// With --out, Ctrl-C removes the temporary file, as a failure does. Without, a signal
	// ends the process as it would any filter's: a write to a pipe nobody reads would not
	// notice it.
	ctx := context.Background()
	if c.Out != "" {
		var stop context.CancelFunc
		ctx, stop = interruptible()
		defer stop()
	}
	export := func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var err error
		if src == "data" {
			err = interrupted(ctx, "export", exportData(ctx, c.Data, c.AfterSeq, bw))
		} else {
			err = interrupted(ctx, "export", exportURL(ctx, c.URL, c.Token, c.AfterSeq, bw))
		}
		if err != nil {
			return err
		}
		return bw.Flush()
	}
	if c.Out == "" {
		return export(inv.stdout)
	}
	// An export that cannot run (a held or missing data directory, a refused token) must
	// not leave --out truncated: it replaces the file only once it is whole.
	return durable.WriteFile(c.Out, 0o644, export)
}

// exportData writes the entries of a stopped server's directory. A whole export (from seq
// 1) is checked against the stored tree root as it goes: a database damaged in a way its
// reads do not notice (an audit changed one entry's postings) must not export quietly.
func exportData(ctx context.Context, dir string, after uint64, w io.Writer) error {
	l, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer l.Close()
	if after > 0 {
		return l.Export(ctx, after, w)
	}
	size, root := l.Root()
	h := &lineHasher{w: w}
	if err := l.Export(ctx, 0, h); err != nil {
		return err
	}
	if h.partial != nil || h.tree.Size() != size || h.tree.Root() != root {
		return fmt.Errorf("the %d exported entries do not hash to the stored tree root of %d entries: "+
			"the database is damaged; run timebank verify --data %s", h.tree.Size(), size, dir)
	}
	return nil
}

// lineHasher passes lines on to w and adds each one's leaf hash to a tree.
type lineHasher struct {
	w       io.Writer
	tree    verify.Tree
	partial []byte // a line begun in an earlier Write
}

func (h *lineHasher) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			h.partial = append(h.partial, rest...)
			break
		}
		line := rest[:i]
		if h.partial != nil {
			line = append(h.partial, line...)
			h.partial = nil
		}
		h.tree.Add(tlog.RecordHash(line))
		rest = rest[i+1:]
	}
	return h.w.Write(p)
}

func exportURL(ctx context.Context, url, token string, after uint64, w io.Writer) error {
	a := &apiClient{base: strings.TrimRight(url, "/"), token: token}
	resp, err := a.stream(ctx, fmt.Sprintf("/v1/export?after_seq=%d", after), streamWait.header, "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	lw := &lastByte{w: w}
	if _, err := io.Copy(lw, resp.Body); err != nil {
		return err
	}
	// An answer whose end is the connection's close ends without an error wherever it is
	// cut: every line of an export ends in a newline, so one that does not was cut.
	if lw.n > 0 && lw.last != '\n' {
		return fmt.Errorf("the export was cut after %d bytes, inside a line", lw.n)
	}
	return nil
}

// lastByte passes bytes on to w, keeping the count and the last one.
type lastByte struct {
	w    io.Writer
	n    int64
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.n += int64(n)
		l.last = p[n-1]
	}
	return n, err
}

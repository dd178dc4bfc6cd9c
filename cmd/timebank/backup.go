package main

import (
	"fmt"
	"io"

	"github.com/timebank/timebank/internal/durable"
	"github.com/timebank/timebank/ledger/store"
)

// backupCmd copies the database of a running server (GET /v1/backup, admin): a consistent
// hot copy, written to a temporary file, synced and renamed into place, so --out is either
// the whole copy or untouched.
type backupCmd struct {
	clientFlags `embed:""`
	Out         string `required:"" type:"path" placeholder:"FILE" help:"File to write the copy to (replaced atomically)."`
}

// Run streams the backup into Out.
func (c *backupCmd) Run(inv *invocation) error {
	out, err := checkOut("backup", c.Out, "")
	if err != nil {
		return err
	}
	c.Out = out
	ctx, stop := interruptible() // Ctrl-C removes the temporary file, as a failure does
	defer stop()
	res, err := c.client(0).stream(ctx, "/v1/backup", streamWait.backupHeader, "application/octet-stream")
	if err != nil {
		return interrupted(ctx, "backup", err)
	}
	defer res.Body.Close()
	var n int64
	// 0600: the copy holds the tokens' hashes, like the database it copies.
	err = durable.WriteFile(c.Out, 0o600, func(w io.Writer) error {
		copied := &store.CopyCheck{W: w}
		if n, err = io.Copy(copied, res.Body); err != nil {
			return fmt.Errorf("backup cut after %d bytes: %w", n, err)
		}
		// An answer whose end is the connection's close ends without an error wherever
		// it is cut: the copy's own meta page tells whether it is whole.
		if err := copied.Whole(); err != nil {
			return fmt.Errorf("backup of %d bytes refused: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return interrupted(ctx, "backup", err)
	}
	fmt.Fprintf(inv.stdout, "backup: %d bytes written to %s\n", n, c.Out)
	return nil
}

package main

import (
	"fmt"
	"io"

	"github.com/timebank/timebank/internal/durable"
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
	if err := checkOut("backup", c.Out, ""); err != nil {
		return err
	}
	res, err := c.client(0).stream("/v1/backup", streamWait.backupHeader)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var n int64
	// 0600: the copy holds the tokens' hashes, like the database it copies.
	err = durable.WriteFile(c.Out, 0o600, func(w io.Writer) error {
		if n, err = io.Copy(w, res.Body); err != nil {
			return fmt.Errorf("backup cut after %d bytes: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "backup: %d bytes written to %s\n", n, c.Out)
	return nil
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// backupCmd copies the database of a running server (GET /v1/backup, admin): a consistent
// hot copy, written to a temporary file, synced and renamed into place, so --out is either
// the whole copy or untouched.
type backupCmd struct {
	clientFlags `embed:""`
	Out         string `required:"" type:"path" help:"File to write the copy to (replaced atomically)."`
}

// Run streams the backup into Out.
func (c *backupCmd) Run() error {
	// No overall timeout: a large ledger takes as long as it takes; the server cuts a
	// stalled stream with its own timeouts.
	res, err := c.client(0).do(http.MethodGet, "/v1/backup", nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(c.Out), filepath.Base(c.Out)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err := io.Copy(tmp, res.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup cut after %d bytes: %w", n, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.Out); err != nil {
		return err
	}
	fmt.Printf("backup: %d bytes written to %s\n", n, c.Out)
	return nil
}

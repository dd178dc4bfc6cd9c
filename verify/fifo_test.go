//go:build unix

package verify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExportFromAPipe: verify reads entries back by their offset in the export (a
// reversal's entry, an earlier entry of the same key hash), which a pipe cannot give. An
// export through one (--export <(curl …), /dev/stdin) is refused before anything is read,
// as a source verify cannot read (exit 3) that names the remedy; before, it failed at the
// first reversal, as "the rules reject it on replay: … illegal seek".
func TestExportFromAPipe(t *testing.T) {
	_, export, ckpt, vkey := fixture(t)
	path := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	go func() {
		// Blocks until verify opens the pipe; verify may close it without reading.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err == nil {
			f.Write(export)
			f.Close()
		}
	}()
	_, _, err := Export(path, ckpt, vkey, nil)
	var srcErr *SourceError
	if !errors.As(err, &srcErr) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("got %v, want a SourceError saying the export is not a regular file", err)
	}
}

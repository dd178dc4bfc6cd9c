// Package durable writes files and makes directories so that they last through a crash or a
// power loss: file contents are synced before they are named, and a directory is synced
// after an entry is added to it, since a new or renamed file survives only once its
// directory does. The store's key files, `serve`'s admin.token, and the CLI's export and
// backup outputs are written through it.
package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// syncDir is SyncDir; a variable so that the tests can see which directories are synced.
var syncDir = SyncDir

// SyncDir syncs the directory dir, making its entries (files created, renamed or removed
// in it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile writes the file at path through write, so that path is either the whole new
// content or as it was: write fills a temporary file in path's directory (a rename within
// one file system is atomic), which is synced, renamed over path, and the directory synced
// so that the rename lasts too. If write or any step fails, the temporary file is removed and
// path is left untouched. perm is as for os.WriteFile: the umask narrows it.
func WriteFile(path string, perm fs.FileMode, write func(io.Writer) error) error {
	tmp, err := createTemp(path, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// createTemp creates a new file next to path, named path.partial-N. Unlike os.CreateTemp
// (always 0600) it takes perm, which the umask narrows as it would for path itself.
func createTemp(path string, perm fs.FileMode) (*os.File, error) {
	for range 100 {
		name := fmt.Sprintf("%s.partial-%d", path, rand.Uint32())
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name next to %s", path)
}

// MakeDir creates dir and any missing parents with perm, then syncs the parent of each
// directory it created: a new directory is an entry of its parent, and without that sync a
// power loss could take a data directory, with every acknowledged entry in it, although the
// database file itself was synced.
func MakeDir(dir string, perm fs.FileMode) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// maxLinks is the most symbolic links Target follows, as Linux's own limit (ELOOP).
const maxLinks = 40

// Target follows the symbolic links at path, one whose target does not exist yet too, and
// returns the name the content of path lives at: WriteFile renames over its argument, which
// replaces a link with a regular file beside it. The CLI's --out goes through it, so that a
// link (backups/latest.db to the day's file on another disk) is written through, as cp
// writes. The ledger's own files are not: a link planted in a data directory must not
// redirect its secrets.
func Target(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

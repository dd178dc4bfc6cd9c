package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// writeAtomically writes the file at path through write, so that path is either the whole
// new content or as it was: write fills a temporary file in path's directory (a rename
// within one file system is atomic), which is synced, renamed over path, and the directory
// synced so that the rename lasts too. If write or any step fails, the temporary file is
// removed and path is left untouched. perm is as for os.WriteFile (before the umask).
func writeAtomically(path string, perm fs.FileMode, write func(io.Writer) error) error {
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

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
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

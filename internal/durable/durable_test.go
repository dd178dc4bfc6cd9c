package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recordSyncs makes syncDir note the directories it syncs, for the length of the test.
func recordSyncs(t *testing.T) *[]string {
	var synced []string
	syncDir = func(dir string) error { synced = append(synced, dir); return SyncDir(dir) }
	t.Cleanup(func() { syncDir = SyncDir })
	return &synced
}

// TestMakeDirSyncsParents: a directory MakeDir creates is an entry of its parent, so the
// parent of each created directory is synced, or a power loss could take the directory with
// every acknowledged entry in it. A directory that exists is left alone, nothing synced.
func TestMakeDirSyncsParents(t *testing.T) {
	synced := recordSyncs(t)
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "data")
	if err := MakeDir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(base, "a", "b"), filepath.Join(base, "a"), base}
	if !slices.Equal(*synced, want) {
		t.Fatalf("synced %q, want %q", *synced, want)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode() != 0o700|os.ModeDir {
		t.Fatalf("%s: %v %v", dir, fi.Mode(), err)
	}
	*synced = nil
	if err := MakeDir(dir, 0o700); err != nil || len(*synced) != 0 {
		t.Fatalf("MakeDir of an existing directory: %v, synced %q", err, *synced)
	}
}

// TestWriteFile: the file is replaced whole, its directory synced after the rename; when
// write fails the old content stays and no temporary file is left.
func TestWriteFile(t *testing.T) {
	synced := recordSyncs(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("cut")
	err := WriteFile(path, 0o600, func(w io.Writer) error { io.WriteString(w, "half"); return failed })
	if !errors.Is(err, failed) {
		t.Fatalf("a failed write returned %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" || len(*synced) != 0 {
		t.Fatalf("after a failed write: %q, synced %q", b, *synced)
	}
	if err := WriteFile(path, 0o640, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" || !slices.Equal(*synced, []string{dir}) {
		t.Fatalf("after a write: %q, synced %q", b, *synced)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files in the directory, want 1 (no temporary left)", len(entries))
	}
}

// TestTarget: links are followed through a chain, relative ones from their own directory,
// to a target that may not exist yet; a path that is no link is itself; a loop is an error.
func TestTarget(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(sub, "final")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("final", filepath.Join(sub, "l2")))                  // relative, in sub
	must(os.Symlink("sub/l2", filepath.Join(dir, "l1")))                 // relative, in dir
	must(os.Symlink(filepath.Join(dir, "l1"), filepath.Join(dir, "l0"))) // absolute
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "l0"), final},
		{filepath.Join(dir, "plain"), filepath.Join(dir, "plain")},
	} {
		if got, err := Target(c.path); err != nil || got != c.want {
			t.Errorf("Target(%s) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	must(os.WriteFile(final, nil, 0o600))
	if got, err := Target(filepath.Join(dir, "l0")); err != nil || got != final {
		t.Errorf("Target through an existing target = %q, %v", got, err)
	}
	must(os.Symlink("loop", filepath.Join(dir, "loop")))
	if got, err := Target(filepath.Join(dir, "loop")); err == nil {
		t.Errorf("Target of a loop = %q, no error", got)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// raceBinary is set (race_test.go) when the tests run with -race: the binary under test is
// then built with -race too, so that a data race in the server makes it exit 66 when it
// stops, which fails the test that stopped it (server.stop wants exit status 0).
var raceBinary bool

// built is the timebank binary the tests run, built once for all of them.
var built struct {
	once      sync.Once
	dir, path string
	out       []byte
	err       error
}

// TestMain removes the binary the tests built, once they have all run.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinary builds the timebank binary at the first call and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "timebank-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "timebank")
		args := []string{"build", "-o", built.path}
		if raceBinary {
			args = append(args, "-race")
		}
		built.out, built.err = exec.Command("go", append(args, ".")...).CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.path
}

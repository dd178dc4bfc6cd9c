package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
		cgo := "CGO_ENABLED=0" // as README builds it: the static binary
		if raceBinary {
			args, cgo = append(args, "-race"), "CGO_ENABLED=1" // the race detector needs cgo
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Env = append(os.Environ(), cgo)
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.path
}

// TestBinaryIsStatic: the binary README builds is the one static binary of SPEC §1, linked
// against no C library, so that it runs on any Linux of its architecture (a distroless or
// Alpine image included). With cgo enabled (go build's default where a C compiler is found)
// net and os/user link glibc dynamically: the binary needed /lib64/ld-linux-x86-64.so.2 and
// libc.so.6, and failed to start elsewhere. The race detector needs cgo, so -race is exempt.
func TestBinaryIsStatic(t *testing.T) {
	if raceBinary || runtime.GOOS != "linux" {
		t.Skip("a -race binary links libc; static linking is checked on Linux")
	}
	f, err := elf.Open(buildBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			libs, _ := f.ImportedLibraries()
			t.Fatalf("the binary is dynamically linked (program header %v; libraries %v): build it with CGO_ENABLED=0", p.Type, libs)
		}
	}
}

package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAPIImportsNoStore: api knows the ledger only through ledger.Service (STYLE.md: cmd
// wires the store). Its tests may use the store; the package itself must not.
func TestAPIImportsNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "go.etcd.io/bbolt" || strings.HasPrefix(dep, "github.com/timebank/timebank/ledger/store") {
			t.Errorf("package api depends on %s", dep)
		}
	}
}

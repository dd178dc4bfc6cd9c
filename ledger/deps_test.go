package ledger

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImportsNoAdapter keeps the domain free of the store and the HTTP framework
// (STYLE.md: arrows point inward only).
func TestDomainImportsNoAdapter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "go.etcd.io/bbolt") || strings.Contains(dep, "labstack/echo") ||
			strings.Contains(dep, "timebank/ledger/store") || strings.Contains(dep, "timebank/api") {
			t.Errorf("package ledger depends on %s", dep)
		}
	}
}

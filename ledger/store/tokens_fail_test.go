package store

import (
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// TestTokenWriteWithUncertainCommit: a token create or revoke whose commit fails inside
// bbolt's own commit (a failed fdatasync) stops the store, as an entry's does, and its
// caller must be told so as SPEC §7 says of a store that cannot write (503 unavailable, the
// outcome unknown until the restart), not with an uncoded error that the API can only
// answer as a 500 internal error.
func TestTokenWriteWithUncertainCommit(t *testing.T) {
	for _, write := range []struct {
		name string
		do   func(l *Ledger, id string) error
	}{
		{"create", func(l *Ledger, _ string) error {
			_, _, err := l.CreateToken(ledger.RoleAuditor, "", "late")
			return err
		}},
		{"revoke", func(l *Ledger, id string) error { return l.RevokeToken(id) }},
	} {
		t.Run(write.name, func(t *testing.T) {
			l, _ := openTest(t, Options{})
			tok, _, err := l.CreateToken(ledger.RoleAuditor, "", "victim")
			if err != nil {
				t.Fatal(err)
			}
			l.update = func(fn func(*bbolt.Tx) error) error {
				if err := l.db.Update(fn); err != nil {
					return err
				}
				return syscall.EIO // the meta page's fdatasync failed
			}
			err = write.do(l, tok.ID)
			if ledger.CodeOf(err) != ledger.CodeUnavailable || !strings.Contains(err.Error(), "unknown") {
				t.Fatalf("a token %s whose commit failed answered %v; want unavailable, the outcome unknown", write.name, err)
			}
			if l.Healthy() == nil {
				t.Fatal("Healthy is nil after the uncertain commit")
			}
		})
	}
}

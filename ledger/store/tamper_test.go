package store_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
	"github.com/timebank/timebank/verify"
)

// TestVerifyFindsTamperedIndexes changes derived state behind the store's back, one record
// at a time, and expects verify --data to name what differs.
func TestVerifyFindsTamperedIndexes(t *testing.T) {
	cases := []struct {
		name string
		edit func(b *bbolt.Bucket)
		want string
	}{
		{"statement line deleted", func(b *bbolt.Bucket) { b.Delete(key("resident:alice", 'E', 4)) }, "resident:alice"},
		{"statement line changed", func(b *bbolt.Bucket) {
			v := append([]byte(nil), b.Get(key("resident:alice", 'E', 4))...)
			v[len(v)-1] ^= 1
			b.Put(key("resident:alice", 'E', 4), v)
		}, "resident:alice"},
		{"idempotency record deleted", func(b *bbolt.Bucket) {
			b.Delete(append([]byte("station:s1\x00I"), "k3"...))
		}, "station:s1"},
		{"account deleted", func(b *bbolt.Bucket) { b.Delete([]byte("resident:alice\x00A")) }, "resident:alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := ledgerWithCredit(t)
			db, err := bbolt.Open(filepath.Join(dir, store.DBFile), 0o600, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bbolt.Tx) error { tc.edit(tx.Bucket([]byte("state"))); return nil }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = verify.Data(dir, nil, "", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify --data: %v; want an error naming %s", err, tc.want)
			}
		})
	}
}

func key(owner string, tag byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(owner), 0, tag), seq)
}

// ledgerWithCredit: genesis, station:s1 (2), resident:alice (3), a credit by s1 (4).
func ledgerWithCredit(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "data")
	t0 := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	l, err := store.Open(dir, store.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	admin := ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_a"}
	s1 := ledger.Principal{Role: ledger.RoleStation, Account: "station:s1"}
	reqs := []ledger.Request{
		{Principal: admin, IdempotencyKey: "k1", Body: &ledger.OpenBody{ID: "station:s1"}},
		{Principal: admin, IdempotencyKey: "k2", Body: &ledger.OpenBody{ID: "resident:alice"}},
		{Principal: s1, IdempotencyKey: "k3", Body: &ledger.CreditBody{Volunteer: "resident:alice", Hours: "2",
			Activity: ledger.Activity{ID: "a", Category: "cleaning", StartedAt: "2026-11-29T00:00:00Z", EndedAt: "2026-11-29T02:00:00Z"}}},
	}
	for _, r := range reqs {
		if _, _, err := l.Submit(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Data(dir, nil, "", nil); err != nil {
		t.Fatalf("untouched ledger: %v", err)
	}
	return dir
}

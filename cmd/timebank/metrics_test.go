package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// TestCommitHistograms: every commit's entries and duration reach /metrics' histograms
// (issue 3 asks for batch sizes and commit latency; running totals give only means).
func TestCommitHistograms(t *testing.T) {
	reg := api.NewRegistry()
	led, err := store.Open(filepath.Join(t.TempDir(), "data"), store.Options{OnCommit: commitHistograms(reg)})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	for i := range 3 {
		req := ledger.Request{Principal: ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_t"}, IdempotencyKey: fmt.Sprint(i),
			Body: &ledger.OpenBody{ID: ledger.AccountID(fmt.Sprintf("resident:r%d", i))}}
		if _, _, err := led.Submit(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{} // name → count, sum
	for _, f := range families {
		if h := f.GetMetric()[0].GetHistogram(); h != nil {
			got[f.GetName()] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
		}
	}
	st := led.Stats()
	if e := got["timebank_commit_entries"]; e[0] != float64(st.Commits) || e[1] != float64(st.Entries) || e[1] != 4 {
		t.Fatalf("commit_entries count/sum %v, want %d commits of %d entries (genesis and 3 opens)", e, st.Commits, st.Entries)
	}
	if d := got["timebank_commit_duration_seconds"]; d[0] != float64(st.Commits) || d[1] <= 0 {
		t.Fatalf("commit_duration_seconds count/sum %v, want %d commits taking some time", d, st.Commits)
	}
}

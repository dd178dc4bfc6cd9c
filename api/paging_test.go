package api_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/timebank/timebank/ledger"
)

// links appends n link entries between resident:r01 and resident:r02 straight through the
// store, from a few goroutines so that the sequencer commits them in groups: each is an
// entry of the log and a line of both residents' statements.
func (e *env) links(n int) {
	e.t.Helper()
	admin := ledger.Principal{Role: ledger.RoleAdmin}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				_, _, err := e.led.Submit(context.Background(), ledger.Request{Principal: admin,
					IdempotencyKey: fmt.Sprintf("link-%d", e.keyN.Add(1)),
					Body:           &ledger.LinkBody{A: "resident:r01", B: "resident:r02", Relation: "spouse"}})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

type pageOfSeqs struct {
	Entries []struct{ Seq uint64 }
	Next    *uint64 `json:"next_after_seq"`
}

// TestFullPages asks both paged routes for the largest page SPEC §4 allows, 500: a full
// page with more to come names its last seq; a full page that is the rest of the ledger,
// and a short last page, name none; 501 is refused by the API's own invalid_field.
func TestFullPages(t *testing.T) {
	e := newEnv(t)
	e.links(600)
	size := e.led.TreeSize()
	var statement []uint64 // r01's statement, every seq
	for after := uint64(0); ; {
		var p pageOfSeqs
		e.must(e.do("GET", fmt.Sprintf("/v1/accounts/resident:r01/entries?limit=100&after_seq=%d", after), "resident", ""), 200).decode(&p)
		for _, l := range p.Entries {
			statement = append(statement, l.Seq)
		}
		if p.Next == nil {
			break
		}
		after = *p.Next
	}
	if size <= 600 || len(statement) != 601 { // open + 600 links
		t.Fatalf("ledger of %d entries, r01's statement of %d lines", size, len(statement))
	}
	n := uint64(len(statement))
	for _, c := range []struct {
		name, path string
		all        []uint64 // the seq of every line of the route, oldest first
		afters     []uint64 // more than 500 follow; exactly 500 remain; 99 remain
	}{
		{"entries", "/v1/entries?limit=%d&after_seq=%d", seqsUpTo(size), []uint64{0, size - 500, size - 99}},
		{"statement", "/v1/accounts/resident:r01/entries?limit=%d&after_seq=%d", statement,
			[]uint64{0, statement[n-501], statement[n-100]}},
	} {
		for _, after := range c.afters {
			var rest []uint64
			for _, seq := range c.all {
				if seq > after {
					rest = append(rest, seq)
				}
			}
			want, wantNext := rest[:min(len(rest), 500)], len(rest) > 500
			var p pageOfSeqs
			r := e.do("GET", fmt.Sprintf(c.path, 500, after), "admin", "")
			if r.Status != 200 {
				t.Errorf("%s after_seq=%d limit=500: %s", c.name, after, r)
				continue
			}
			r.decode(&p)
			var got []uint64
			for _, l := range p.Entries {
				got = append(got, l.Seq)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s after_seq=%d: %d lines, want %d (%d remain)", c.name, after, len(got), len(want), len(rest))
			}
			switch {
			case !wantNext && p.Next != nil:
				t.Errorf("%s after_seq=%d: next_after_seq %d with only %d remaining", c.name, after, *p.Next, len(rest))
			case wantNext && (p.Next == nil || *p.Next != want[len(want)-1]):
				t.Errorf("%s after_seq=%d: next_after_seq %v, want %d", c.name, after, p.Next, want[len(want)-1])
			}
		}
		r := e.do("GET", fmt.Sprintf(c.path, 501, 0), "admin", "")
		var body struct {
			Error struct {
				Code    string
				Message string
				Details map[string]any
			}
		}
		r.decode(&body)
		if r.Status != 400 || body.Error.Code != "invalid_field" || body.Error.Message != "limit must be 1 to 500." ||
			body.Error.Details["field"] != "limit" || body.Error.Details["max"] != float64(500) {
			t.Errorf("%s limit=501: %s", c.name, r)
		}
	}
}

// seqsUpTo is 1, 2, …, n.
func seqsUpTo(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i) + 1
	}
	return out
}

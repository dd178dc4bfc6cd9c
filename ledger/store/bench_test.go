package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// prefillEnv names a cache directory for the 1,000,000-entry ledger of BenchmarkCredits: built
// there once (about a minute), then copied for every run. Unset, the 1M cases are skipped.
const prefillEnv = "TIMEBANK_BENCH_1M"

const (
	prefillResidents = 100_000
	prefillCredits   = 900_000 // 9 per resident; with genesis, the station and the opens: 1,000,002 entries
	emptyResidents   = 4096
	residentStride   = 7919 // prime, coprime with both resident counts: spreads consecutive credits over the key space
)

// benchT0 is the benchmarks' clock: entry times are benchT0 + 1 µs per entry, so the cached
// ledger stays valid however old it is.
var benchT0 = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

// BenchmarkCredits measures durable credits per second through Submit: callers goroutines
// submit credits, each to a different resident than the credits around it, and each is
// answered after its batch's fsync. entries/s is the throughput; B/entry is the data size of
// the file (pages in use) per entry, file-B/entry the file size per entry.
//
//	go test ./ledger/store -run '^$' -bench Credits -benchtime 20000x
//	TIMEBANK_BENCH_1M=/var/tmp/tb1m go test ./ledger/store -run '^$' -bench 'Credits/ledger=1M' -benchtime 50000x
func BenchmarkCredits(b *testing.B) {
	for _, size := range []string{"empty", "1M"} {
		for _, callers := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("ledger=%s/callers=%d", size, callers), func(b *testing.B) {
				benchCredits(b, size == "1M", callers)
			})
		}
	}
}

func benchCredits(b *testing.B, big bool, callers int) {
	dir := filepath.Join(b.TempDir(), "data")
	residents, first := emptyResidents, 0
	if big {
		cache := os.Getenv(prefillEnv)
		if cache == "" {
			b.Skipf("set %s to a cache directory to run the 1,000,000-entry cases", prefillEnv)
		}
		prefill(b, cache)
		copyDir(b, cache, dir)
		residents, first = prefillResidents, prefillCredits
	}
	l, err := Open(dir, Options{Now: func() time.Time { return benchT0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if !big {
		openResidents(b, l, residents)
	}
	start := l.TreeSize()
	b.ResetTimer()
	if err := credits(l, callers, residents, first, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := l.TreeSize() - start; got != uint64(b.N) {
		b.Fatalf("%d entries appended, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	dataBytes, fileBytes := sizes(b, l, dir)
	b.ReportMetric(float64(dataBytes)/float64(l.TreeSize()), "B/entry")
	b.ReportMetric(float64(fileBytes)/float64(l.TreeSize()), "file-B/entry")
	b.ReportMetric(float64(b.N)/float64(l.Stats().Commits), "entries/commit")
}

// credits submits n credits numbered from first on, from callers goroutines. Credit k goes to
// resident (k·stride mod residents) for the k/residents-th 12-minute slot of its volunteer
// (120 slots a day of 0.1 h: exactly the daily cap), so no two credits of one resident overlap.
func credits(l *Ledger, callers, residents, first, n int) error {
	var next atomic.Int64
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				k := first + int(i)
				vol := ledger.AccountID(fmt.Sprintf("resident:v%06d", k*residentStride%residents))
				start := benchT0.Add(-29*24*time.Hour + time.Duration(k/residents)*12*time.Minute)
				body := &ledger.CreditBody{Volunteer: vol, Hours: "0.1", Activity: ledger.Activity{
					ID: fmt.Sprintf("a%d", k), Category: "elderly-care",
					StartedAt: start.Format(time.RFC3339), EndedAt: start.Add(12 * time.Minute).Format(time.RFC3339)}}
				_, _, err := l.Submit(context.Background(), ledger.Request{Principal: s1,
					IdempotencyKey: fmt.Sprintf("c%d", k), Body: body})
				if err != nil {
					errs <- fmt.Errorf("credit %d: %w", k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// openResidents opens station:s1 and residents v000000… from 256 goroutines.
func openResidents(b *testing.B, l *Ledger, residents int) {
	b.Helper()
	if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: admin, IdempotencyKey: "open-s1",
		Body: &ledger.OpenBody{ID: "station:s1"}}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for c := 0; c < 256; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(residents); i = next.Add(1) - 1 {
				id := ledger.AccountID(fmt.Sprintf("resident:v%06d", i))
				if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: admin,
					IdempotencyKey: "open-" + string(id), Body: &ledger.OpenBody{ID: id}}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
}

// prefill builds the 1,000,000-entry ledger in cache unless it is there already.
func prefill(b *testing.B, cache string) {
	b.Helper()
	want := uint64(2 + prefillResidents + prefillCredits)
	if l, err := Open(cache, Options{ReadOnly: true}); err == nil {
		size := l.TreeSize()
		l.Close()
		if size == want {
			return
		}
		b.Fatalf("%s holds a ledger of %d entries, not %d: remove it", cache, size, want)
	}
	start := time.Now()
	l, err := Open(cache, Options{MaxBatch: 8192, Now: func() time.Time { return benchT0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	openResidents(b, l, prefillResidents)
	if err := credits(l, 1024, prefillResidents, 0, prefillCredits); err != nil {
		b.Fatal(err)
	}
	if l.TreeSize() != want {
		b.Fatalf("prefill made %d entries, want %d", l.TreeSize(), want)
	}
	b.Logf("prefilled %d entries in %v", want, time.Since(start).Round(time.Second))
}

func copyDir(b *testing.B, from, to string) {
	b.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{DBFile, KeyFile, VerifierKeyFile} {
		src, err := os.Open(filepath.Join(from, name))
		if err != nil {
			b.Fatal(err)
		}
		dst, err := os.OpenFile(filepath.Join(to, name), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(dst, src)
		if err == nil {
			err = dst.Sync() // else the first commits would wait for the copy's writeback
		}
		src.Close()
		if cerr := dst.Close(); err != nil || cerr != nil {
			b.Fatal(err, cerr)
		}
	}
}

// sizes returns the bytes of the pages in use and the size of the file.
func sizes(b *testing.B, l *Ledger, dir string) (data, file int64) {
	b.Helper()
	l.db.View(func(tx *bbolt.Tx) error {
		data = tx.Size() - int64(tx.DB().Stats().FreePageN)*int64(tx.DB().Info().PageSize)
		return nil
	})
	fi, err := os.Stat(filepath.Join(dir, DBFile))
	if err != nil {
		b.Fatal(err)
	}
	return data, fi.Size()
}

// BenchmarkHoldsOfOneResident measures a hold entry of a resident who already has open
// holds: an account's open holds live in its account record (docs/decisions/0002), which
// every entry touching the account reads, decides over and writes back whole, in the one
// sequencer, so each such entry costs in proportion to the open holds. Sequential, one
// entry per commit (fsync included):
//
//	go test ./ledger/store -run '^$' -bench HoldsOfOneResident -benchtime 500x
func BenchmarkHoldsOfOneResident(b *testing.B) {
	for _, open := range []int{0, 2000, 20000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			admin := ledger.Principal{Role: ledger.RoleAdmin, TokenID: "tok_bench"}
			resident := ledger.Principal{Role: ledger.RoleResident, TokenID: "tok_r", Account: "resident:r1"}
			var key atomic.Int64
			submit := func(p ledger.Principal, body ledger.Body) {
				if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: fmt.Sprint("k", key.Add(1)), Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			for _, id := range []ledger.AccountID{"station:s1", "resident:r1", "outlet:o1"} {
				submit(admin, &ledger.OpenBody{ID: id})
			}
			// 28 days of 12 hours: 33,600 holds of 0.01 hour.
			day := time.Now().UTC().Truncate(24 * time.Hour)
			for d := 1; d <= 28; d++ {
				start := day.AddDate(0, 0, -d).Add(2 * time.Hour)
				submit(admin, &ledger.CreditBody{Station: "station:s1", Volunteer: "resident:r1", Hours: "12",
					Activity: ledger.Activity{ID: fmt.Sprint("a", d), Category: "elderly-care",
						StartedAt: start.Format(time.RFC3339), EndedAt: start.Add(12 * time.Hour).Format(time.RFC3339)}})
			}
			hold := &ledger.HoldBody{Payee: "outlet:o1", Asset: "HOURS", Amount: "0.01", TTLSeconds: 86400}
			var wg sync.WaitGroup
			for w := range 64 { // the setup's holds, batched
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < open; i += 64 {
						submit(resident, hold)
					}
				}()
			}
			wg.Wait()
			if b.N+open > 33600 {
				b.Fatalf("the resident has hours for 33,600 holds of 0.01, not %d", b.N+open)
			}
			b.ResetTimer()
			for range b.N {
				submit(resident, hold)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/hold")
		})
	}
}

package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
	"github.com/timebank/timebank/ledger/store"
)

// benchEntries is the size of the ledger BenchmarkVerifyData replays:
// TIMEBANK_BENCH_ENTRIES, default 100,000 (the figure in docs/PERFORMANCE.md uses 1,000,000).
func benchEntries() int {
	if n, err := strconv.Atoi(os.Getenv("TIMEBANK_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// benchLedger builds (once, cached in the temp directory across runs) a stopped ledger of
// about n entries: one open and nine credits per resident.
func benchLedger(b *testing.B, n int) string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("timebank-bench-verify-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	l, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	residents := n / 10
	var next atomic.Int64
	var wg sync.WaitGroup
	now := time.Now().UTC().Truncate(time.Hour)
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= residents {
					return
				}
				id := ledger.AccountID(fmt.Sprintf("resident:v%07d", i))
				submitBench(b, l, admin, fmt.Sprint("open-", i), &ledger.OpenBody{ID: id})
				for k := 0; k < 9; k++ {
					start := now.Add(-time.Duration(48+k*5) * time.Hour)
					submitBench(b, l, s1, fmt.Sprint("c-", i, "-", k), &ledger.CreditBody{Volunteer: id, Hours: "1.25",
						Activity: ledger.Activity{ID: "a", Category: "elderly-care", StartedAt: start.Format(time.RFC3339),
							EndedAt: start.Add(2 * time.Hour).Format(time.RFC3339)}})
				}
			}
		}()
	}
	submitBench(b, l, admin, "open-s1", &ledger.OpenBody{ID: "station:s1"})
	wg.Wait()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "complete"), nil, 0o600)
	return dir
}

var stationOnce sync.Once

func submitBench(b *testing.B, l *store.Ledger, p ledger.Principal, key string, body ledger.Body) {
	if p.Role == ledger.RoleStation {
		stationOnce.Do(func() {
			l.Submit(context.Background(), ledger.Request{Principal: admin, IdempotencyKey: "open-s1", Body: &ledger.OpenBody{ID: "station:s1"}})
		})
	}
	if _, _, err := l.Submit(context.Background(), ledger.Request{Principal: p, IdempotencyKey: key, Body: body}); err != nil {
		b.Error(err)
	}
}

// BenchmarkVerifyData replays a stopped ledger with `verify --data`'s code and reports
// entries/s and the peak Go heap.
func BenchmarkVerifyData(b *testing.B) {
	dir := benchLedger(b, benchEntries())
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	b.ResetTimer()
	var entries uint64
	for i := 0; i < b.N; i++ {
		sum, err := Data(dir, nil, "", nil)
		if err != nil {
			b.Fatal(err)
		}
		entries += sum.Entries
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

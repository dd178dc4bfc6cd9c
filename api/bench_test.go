package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreditThroughHandler posts credits through the full Echo stack into the real
// store from 64 goroutines, without sockets: the API's and the store's cost per durable
// credit. Run: go test ./api -run X -bench CreditThrough -cpuprofile cpu.out
func BenchmarkCreditThroughHandler(b *testing.B) {
	e := newEnv(b)
	e.quiet = true
	const residents = 64
	for i := range residents {
		e.write("POST", "/v1/accounts", "admin", fmt.Sprintf(`{"id":"resident:b%d"}`, i))
	}
	base := t0.Add(-28 * 24 * time.Hour)
	var next atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := next.Add(1)
			r := k % residents
			n := k / residents
			start := base.Add(time.Duration(n/1200)*24*time.Hour + time.Duration(n%1200)*36*time.Second)
			body := fmt.Sprintf(`{"volunteer":"resident:b%d","hours":"0.01","activity":{"id":"x","category":"c","started_at":%q,"ended_at":%q}}`,
				r, start.Format(time.RFC3339), start.Add(36*time.Second).Format(time.RFC3339))
			req := httptest.NewRequest("POST", "/v1/credits", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.tok["station"])
			req.Header.Set("Idempotency-Key", fmt.Sprintf("k%d", k))
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != 201 {
				b.Errorf("%d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkBalanceRead reads an account through the full Echo stack from 64 goroutines.
func BenchmarkBalanceRead(b *testing.B) {
	e := newEnv(b)
	e.quiet = true
	e.credit("station", "resident:r01", "3", time.Hour, 3*time.Hour)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/v1/accounts/resident:r01", nil)
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Errorf("%d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

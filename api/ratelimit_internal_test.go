package api

import (
	"math"
	"testing"
	"time"
)

// TestRateMemoryOutlastsRetryAfter: the rate limiter remembers an address for longer than
// the longest Retry-After it sends (1/MinRateLimit seconds): one that forgot sooner would
// let a client that waited as told have a whole burst again (found by mutation testing).
func TestRateMemoryOutlastsRetryAfter(t *testing.T) {
	if longest := time.Duration(math.Ceil(1/MinRateLimit)) * time.Second; rateMemory <= longest {
		t.Fatalf("rateMemory %v, not past the longest Retry-After, %v", rateMemory, longest)
	}
}

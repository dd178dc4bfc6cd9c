package ledger

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecideCredit measures the rules for one credit on the in-memory state.
func BenchmarkDecideCredit(b *testing.B) {
	bk := standard(b)
	for i := 0; i < 1000; i++ {
		bk.must(admin, &OpenBody{ID: AccountID(fmt.Sprintf("resident:v%d", i))})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := credit(AccountID(fmt.Sprintf("resident:v%d", i%1000)), "1", -2*time.Hour, -1*time.Hour)
		if _, err := Decide(bk.st, Request{Principal: s1, IdempotencyKey: "k", Body: body}, bk.seq+1, bk.now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEntry(b *testing.B) {
	bk := standard(b)
	e, _ := bk.st.Entry(9)
	assets := DefaultPolicy().Assets
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := EncodeEntry(e, assets); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEntry(b *testing.B) {
	bk := standard(b)
	e, _ := bk.st.Entry(9)
	assets := DefaultPolicy().Assets
	raw, _ := EncodeEntry(e, assets)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeEntry(raw, assets); err != nil {
			b.Fatal(err)
		}
	}
}

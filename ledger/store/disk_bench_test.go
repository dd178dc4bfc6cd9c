package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDiskSync measures the machine, not timebank: writing N 4 KiB pages to a file that
// already holds data, then one Sync, with the pages scattered over the file (as bbolt's
// copy-on-write places a commit's dirty pages: it takes them from its free list wherever
// they are) or side by side. It is the disk fact behind the commit cost in
// docs/PERFORMANCE.md ("What the missed targets would take"): a sync costs about one device
// request per run of adjacent pages.
//
//	go test ./ledger/store -run '^$' -bench DiskSync -benchtime 300x
func BenchmarkDiskSync(b *testing.B) {
	const fileBytes = 64 << 20 // about the size of the empty-ledger HTTP runs' files
	path := filepath.Join(b.TempDir(), "sync.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := 0; i < fileBytes/len(chunk); i++ {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	page := make([]byte, 4096)
	const pages = fileBytes / 4096
	for _, n := range []int{1, 16, 48, 96} {
		for _, layout := range []string{"scattered", "contiguous"} {
			b.Run(fmt.Sprintf("pages=%d/layout=%s", n, layout), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				for b.Loop() {
					start := rng.Int64N(pages - int64(n))
					for i := 0; i < n; i++ {
						at := start + int64(i)
						if layout == "scattered" {
							at = rng.Int64N(pages)
						}
						if _, err := f.WriteAt(page, at*4096); err != nil {
							b.Fatal(err)
						}
					}
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

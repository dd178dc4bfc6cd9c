package verify

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Hostile exports the fuzzers are unlikely to build on their own: each must end in a clear
// error, soon, in bounded memory.

// TestGenesisScaleOutOfRange: the genesis entry sets the assets' scales, and the entries
// after it are decoded with them (on the prefetching goroutine, ahead of the replay that
// refuses the genesis). A scale out of the policy's range must be refused as a difference of
// entry 1; before, a negative scale panicked (strings.Repeat in the invalid_amount message)
// and a huge one tried to allocate a message of that many bytes.
func TestGenesisScaleOutOfRange(t *testing.T) {
	_, export, _, _ := fixture(t)
	for _, scale := range []int64{-1, 7, 1 << 62} {
		t.Run(fmt.Sprint(scale), func(t *testing.T) {
			forged := bytes.Replace(export, []byte(`"HOURS":{"scale":2}`), []byte(fmt.Sprintf(`"HOURS":{"scale":%d}`, scale)), 1)
			if bytes.Equal(forged, export) {
				t.Fatal("the fixture's genesis has no HOURS scale 2")
			}
			ckpt, vkey := signLog(t, forged)
			_, _, err := Export(writeFile(t, forged), ckpt, vkey, nil)
			if err == nil || !strings.Contains(err.Error(), "entry 1 (genesis): the rules reject it") {
				t.Fatalf("got %v, want entry 1 refused", err)
			}
		})
	}
}

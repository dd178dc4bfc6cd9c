package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestEntryPackerRoundTripsAndShrinks(t *testing.T) {
	p, err := newEntryPacker([]byte(defaultEntryDict))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	credit := `{"seq":280006,"time":"2026-11-29T00:00:00.280005Z","type":"credit","actor":"station:s1","idempotency_key":"01JDQ6ZK3M8X0R8WJ8ZQ4N2V7C","body":{"station":"station:s1","volunteer":"resident:v043757","hours":"0.10","activity":{"id":"a180003","category":"elderly-care","started_at":"2026-10-31T00:12:00.000000Z","ended_at":"2026-10-31T00:24:00.000000Z"},"memo":""},"postings":[{"from":"issuer:HOURS","to":"resident:v043757","asset":"HOURS","amount":"0.10"},{"from":"issuer:POINTS","to":"resident:v043757","asset":"POINTS","amount":"1"}]}`
	lines := append(strings.Split(strings.TrimSpace(defaultEntryDict), "\n"), credit, "x", strings.Repeat("é", 70000))
	for _, l := range lines {
		stored := p.pack([]byte("prefix"), []byte(l))
		if !bytes.HasPrefix(stored, []byte("prefix")) {
			t.Fatal("pack did not append to dst")
		}
		got, err := p.unpack([]byte("dst"), stored[len("prefix"):], 7)
		if err != nil || string(got) != "dst"+l {
			t.Fatalf("round trip of %.40q: %v", l, err)
		}
	}
	// The dictionary is what makes a lone entry small: without it zstd saves little.
	stored := p.pack(nil, []byte(credit))
	plain, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	without := plain.EncodeAll([]byte(credit), nil)
	if len(stored)*3 > len(credit) || len(stored)*2 > len(without) {
		t.Fatalf("a %d-byte credit packs to %d bytes (%d without the dictionary)", len(credit), len(stored), len(without))
	}
	t.Logf("credit: %d bytes, packed %d, without the dictionary %d", len(credit), len(stored), len(without))
}

// TestEntryPackerAppendsToLongBuffers: export expands entry after entry into one 2 MiB
// chunk; the size limit is per entry, whatever dst already holds (a regression: zstd counted
// dst's length against the limit, and export failed after 1 MiB).
func TestEntryPackerAppendsToLongBuffers(t *testing.T) {
	p, err := newEntryPacker([]byte(defaultEntryDict))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	entry := []byte(strings.Repeat(`{"seq":1}`, 50))
	stored := p.pack(nil, entry)
	for _, dst := range [][]byte{
		bytes.Repeat([]byte("x"), 3*maxEntryBytes),                                              // full: append must grow it
		append(make([]byte, 0, 4*maxEntryBytes), bytes.Repeat([]byte("y"), 2*maxEntryBytes)...), // room: expand in place
	} {
		before := len(dst)
		got, err := p.unpack(dst, stored, 3)
		if err != nil || len(got) != before+len(entry) || !bytes.Equal(got[before:], entry) || !bytes.Equal(got[:before], dst[:before]) {
			t.Fatalf("unpack after %d bytes: %v, %d bytes", before, err, len(got))
		}
	}
}

func TestEntryPackerRefusesBadFrames(t *testing.T) {
	p, err := newEntryPacker([]byte(defaultEntryDict))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	good := p.pack(nil, []byte(`{"seq":1}`))
	// A frame claiming more than maxEntryBytes is refused before it is expanded.
	big, _ := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	huge := big.EncodeAll(make([]byte, maxEntryBytes+1), nil)
	for name, v := range map[string][]byte{
		"empty": {}, "garbage": []byte("not a frame"), "truncated": good[:len(good)-2],
		"of nothing": p.pack(nil, nil),
		"too large":  huge, "trailing": append(append([]byte(nil), good...), 0x42),
	} {
		if _, err := p.unpack(nil, v, 9); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "entry 9") {
			t.Errorf("%s: %v, want ErrCorrupt naming entry 9", name, err)
		}
	}
	if _, err := newEntryPacker(nil); err == nil {
		t.Fatal("a missing dictionary was accepted")
	}
}

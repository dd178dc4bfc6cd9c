package store

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// The entries bucket holds each entry's canonical bytes as one zstd frame compressed with a
// raw-content dictionary (docs/decisions/0007-compressed-entries.md). The dictionary is
// written to meta "entry_dict" when the file is created and read from there ever after, so
// a file always expands with the dictionary it was written with; any zstd decoder does it
// (`zstd -d -D dict`). The Merkle leaves are the canonical bytes, never the frames.

// maxEntryBytes bounds an expanded entry: a frame claiming more is refused before any
// allocation. Request bodies are at most 64 KiB, and the envelope and escaping add little.
const maxEntryBytes = 1 << 20

// defaultEntryDict is the dictionary of new files: one entry of each common type, the
// commonest (credit) last, where zstd's offsets to it are shortest. Only its substrings
// matter; it need not be valid NDJSON, and changing it changes no existing file.
const defaultEntryDict = `{"seq":2,"time":"2026-11-29T00:00:00.000000Z","type":"open","actor":"admin:tok_admin","idempotency_key":"open-resident:","body":{"id":"resident:"},"postings":[]}
{"seq":3,"time":"2026-11-29T00:00:00.000000Z","type":"freeze","actor":"admin:","idempotency_key":"","body":{"account":"resident:","reason":""},"postings":[]}
{"seq":4,"time":"2026-11-29T00:00:00.000000Z","type":"link","actor":"admin:","idempotency_key":"","body":{"a":"resident:","b":"resident:","relation":"family"},"postings":[]}
{"seq":5,"time":"2026-11-29T00:00:00.000000Z","type":"hold","actor":"resident:","idempotency_key":"","body":{"payee":"outlet:","asset":"POINTS","amount":"","ttl_seconds":900},"postings":[]}
{"seq":6,"time":"2026-11-29T00:00:00.000000Z","type":"settle","actor":"outlet:","idempotency_key":"","body":{"hold_id":5,"amount":""},"postings":[{"from":"resident:","to":"outlet:","asset":"POINTS","amount":""}]}
{"seq":7,"time":"2026-11-29T00:00:00.000000Z","type":"void","actor":"outlet:","idempotency_key":"","body":{"hold_id":5},"postings":[]}
{"seq":8,"time":"2026-11-29T00:00:00.000000Z","type":"transfer","actor":"resident:","idempotency_key":"","body":{"to":"resident:","asset":"HOURS","amount":"","memo":""},"postings":[{"from":"resident:","to":"resident:","asset":"HOURS","amount":""}]}
{"seq":9,"time":"2026-11-29T00:00:00.000000Z","type":"donation","actor":"resident:","idempotency_key":"","body":{"pool":"pool:","asset":"HOURS","amount":""},"postings":[{"from":"resident:","to":"pool:","asset":"HOURS","amount":""}]}
{"seq":10,"time":"2026-11-29T00:00:00.000000Z","type":"grant","actor":"admin:","idempotency_key":"","body":{"pool":"pool:","to":"resident:","asset":"HOURS","amount":"","memo":""},"postings":[{"from":"pool:","to":"resident:","asset":"HOURS","amount":""}]}
{"seq":11,"time":"2026-11-29T00:00:00.000000Z","type":"conversion","actor":"resident:","idempotency_key":"","body":{"hours":"1.00"},"postings":[{"from":"resident:","to":"issuer:HOURS","asset":"HOURS","amount":"1.00"},{"from":"issuer:POINTS","to":"resident:","asset":"POINTS","amount":"10"}]}
{"seq":12,"time":"2026-11-29T00:00:00.000000Z","type":"reversal","actor":"station:","idempotency_key":"","body":{"seq":1,"reason":""},"postings":[{"from":"resident:","to":"issuer:HOURS","asset":"HOURS","amount":""}]}
{"seq":13,"time":"2026-11-29T00:00:00.000000Z","type":"redemption","actor":"resident:","idempotency_key":"","body":{"payee":"outlet:","asset":"POINTS","amount":"","memo":""},"postings":[{"from":"resident:","to":"outlet:","asset":"POINTS","amount":""}]}
{"seq":14,"time":"2026-11-29T00:00:00.000000Z","type":"credit","actor":"station:","idempotency_key":"","body":{"station":"station:","volunteer":"resident:","hours":"1.00","activity":{"id":"","category":"elderly-care","started_at":"2026-11-29T00:00:00.000000Z","ended_at":"2026-11-29T00:00:00.000000Z"},"memo":""},"postings":[{"from":"issuer:HOURS","to":"resident:","asset":"HOURS","amount":"1.00"},{"from":"issuer:POINTS","to":"resident:","asset":"POINTS","amount":"10"}]}
`

// entryPacker compresses canonical entries for the entries bucket and expands them again.
// Both directions are safe for concurrent use.
type entryPacker struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newEntryPacker(dict []byte) (*entryPacker, error) {
	if len(dict) == 0 {
		return nil, fmt.Errorf("%w: meta entry_dict is missing", ErrCorrupt)
	}
	// Dictionary id 0: the frames carry no dictionary id, as the zstd tool expects of a raw
	// dictionary. No frame checksum: the Merkle tree covers every expanded byte. Literals
	// stay raw: an entry's few literals (ids, times, amounts) gain almost nothing from a
	// Huffman table of their own (a credit 100 → 104 bytes), and reading that table was
	// most of the cost of expanding one (1.4 → 0.4 µs; compressing 5.1 → 3.5 µs).
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderDictRaw(0, dict),
		zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false),
		zstd.WithNoEntropyCompression(true))
	if err != nil {
		return nil, fmt.Errorf("store: entry compressor: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(0, dict),
		zstd.WithDecoderMaxMemory(maxEntryBytes), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("store: entry decompressor: %w", err)
	}
	return &entryPacker{enc: enc, dec: dec}, nil
}

// pack appends the stored form of canonical to dst.
func (p *entryPacker) pack(dst, canonical []byte) []byte { return p.enc.EncodeAll(canonical, dst) }

// unpack appends the canonical bytes of the stored value of entry seq to dst.
func (p *entryPacker) unpack(dst, stored []byte, seq uint64) ([]byte, error) {
	if len(stored) == 0 {
		return dst, fmt.Errorf("%w: entry %d is stored empty", ErrCorrupt, seq)
	}
	// DecodeAll counts what dst already holds against the size limit (klauspost/compress
	// v1.20.4, framedec.go): expand into dst's free tail, as an empty slice, instead.
	tail := dst[len(dst):]
	out, err := p.dec.DecodeAll(stored, tail)
	if err != nil {
		return dst, fmt.Errorf("%w: entry %d does not expand: %v", ErrCorrupt, seq, err)
	}
	if len(out) == 0 {
		return dst, fmt.Errorf("%w: entry %d expands to nothing", ErrCorrupt, seq)
	}
	if cap(tail) >= len(out) && &tail[:1][0] == &out[0] {
		return dst[:len(dst)+len(out)], nil // expanded in place
	}
	return append(dst, out...), nil
}

// close releases the decoder's resources.
func (p *entryPacker) close() { p.dec.Close() }

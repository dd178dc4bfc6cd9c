package ledger

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCodecSeedsReachDecode guards the differential fuzz test against passing vacuously:
// the generated entries must encode and decode, of every type, often enough.
func TestCodecSeedsReachDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	decodedTypes := map[Type]int{}
	encoded, decoded := 0, 0
	const runs = 3000
	for range runs {
		data := make([]byte, 200)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		out := checkCodec(t, data)
		if out.encoded {
			encoded++
		}
		if out.decoded {
			decoded++
			decodedTypes[out.typ]++
		}
	}
	for _, seed := range codecSeeds() {
		checkCodec(t, seed)
	}
	t.Logf("of %d entries %d encoded and %d decoded: %v", runs, encoded, decoded, decodedTypes)
	if encoded < runs/2 || decoded < runs/20 {
		t.Fatalf("of %d entries %d encoded and %d decoded", runs, encoded, decoded)
	}
	for _, typ := range allTypes {
		if decodedTypes[typ] == 0 {
			t.Errorf("no %s entry decoded", typ)
		}
	}
}

// TestEveryTypeRoundTrips: real entries of every type encode as the reference does and
// decode as it does.
func TestEveryTypeRoundTrips(t *testing.T) {
	assets := DefaultPolicy().Assets
	seen := map[Type]bool{}
	for _, e := range everyTypeEntries(t) {
		seen[e.Type] = true
		raw, err := EncodeEntry(e, assets)
		want, _ := refEncodeEntry(e, assets)
		if err != nil || !bytes.Equal(raw, want) {
			t.Fatalf("entry %d: %v\n got %s\nwant %s", e.Seq, err, raw, want)
		}
		// The reference's entry, not e: that has nil postings for none and its policy
		// compiled.
		back, err := DecodeEntry(raw, assets)
		if e, _ = refDecodeEntry(raw, assets); err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("entry %d: %v\n got %+v %#v\nwant %+v %#v", e.Seq, err, back, back.Body, e, e.Body)
		}
	}
	for _, typ := range allTypes {
		if !seen[typ] {
			t.Errorf("no %s entry", typ)
		}
	}
}

// TestDecodeRefusesNonCanonical: near misses of a canonical line that both decoders must
// refuse. Each is canonical JSON's equal in meaning, or a value out of range.
func TestDecodeRefusesNonCanonical(t *testing.T) {
	assets := DefaultPolicy().Assets
	var credit, hold, settle []byte
	for _, e := range everyTypeEntries(t) {
		raw, _ := EncodeEntry(e, assets)
		switch e.Type {
		case TypeCredit:
			credit = raw
		case TypeHold:
			if hold == nil {
				hold = raw
			}
		case TypeSettle:
			settle = raw
		}
	}
	edit := func(line []byte, old, new string) []byte {
		if !bytes.Contains(line, []byte(old)) {
			t.Fatalf("%s not in %s", old, line)
		}
		return bytes.Replace(line, []byte(old), []byte(new), 1)
	}
	for name, bad := range map[string][]byte{
		"space after colon":     edit(credit, `"seq":`, `"seq": `),
		"newline at the end":    append(bytes.Clone(credit), '\n'),
		"second entry":          append(bytes.Clone(credit), credit...),
		"leading zero":          edit(credit, `{"seq":`, `{"seq":0`),
		"seq as string":         edit(credit, `"seq":2`, `"seq":"2"`),
		"seq with exponent":     edit(credit, `"seq":2`, `"seq":2e0`),
		"seq overflows":         edit(credit, `"seq":2`, `"seq":18446744073709551616`),
		"negative seq":          edit(credit, `"seq":2`, `"seq":-2`),
		"member case":           edit(credit, `"actor"`, `"Actor"`),
		"unknown member":        edit(credit, `"memo":""`, `"memo":"","x":1`),
		"members swapped":       edit(credit, `"type":"credit","actor":"station:s2"`, `"actor":"station:s2","type":"credit"`),
		"escaped slash":         edit(credit, `station:s2"`, `station\/s2"`),
		"needless \\u escape":   edit(credit, `"actor":"station`, `"actor":"\u0073tation`),
		"time with comma":       edit(credit, `.`, `,`),
		"time with offset":      edit(credit, `Z","type"`, `+00:00","type"`),
		"time not UTC-normal":   edit(credit, `"time":"2026-11-29T`, `"time":"2026-11-31T`),
		"type unknown":          edit(credit, `"type":"credit"`, `"type":"credits"`),
		"type of other body":    edit(credit, `"type":"credit"`, `"type":"open"`),
		"null body":             append(bytes.Clone(credit[:bytes.Index(credit, []byte(`"body":`))+7]), `null,"postings":[]}`...),
		"null postings":         edit(credit, `"postings":[{"from":"issuer:HOURS","to":"resident:carol","asset":"HOURS","amount":"3.00"},{"from":"issuer:POINTS","to":"resident:carol","asset":"POINTS","amount":"30"}]`, `"postings":null`),
		"amount not at scale":   edit(credit, `"amount":"3.00"`, `"amount":"3.0"`),
		"amount as number":      edit(credit, `"amount":"30"`, `"amount":30`),
		"zero amount":           edit(credit, `"amount":"30"`, `"amount":"0"`),
		"unknown asset":         edit(credit, `"asset":"POINTS"`, `"asset":"PENCE"`),
		"trailing comma":        edit(credit, `"amount":"30"}]`, `"amount":"30"},]`),
		"ttl -0":                edit(hold, `"ttl_seconds":900`, `"ttl_seconds":-0`),
		"ttl overflows":         edit(hold, `"ttl_seconds":900`, `"ttl_seconds":9223372036854775808`),
		"hold_id with plus":     edit(settle, `"hold_id":`, `"hold_id":+`),
		"upper-case \\u escape": edit(credit, `"memo":""`, `"memo":"\u001F"`),
		"\\u0008 for \\b":       edit(credit, `"memo":""`, `"memo":"\u0008"`),
		"raw control character": edit(credit, `"memo":""`, "\"memo\":\"\x01\""),
		"raw U+2028":            edit(credit, `"memo":""`, "\"memo\":\"\u2028\""),
		"invalid UTF-8":         edit(credit, `"memo":""`, "\"memo\":\"\xff\""),
		"\\ufffd for bad UTF-8": edit(credit, `"memo":""`, `"memo":"\ufffd"`),
		"surrogate pair escape": edit(credit, `"memo":""`, `"memo":"\ud83d\ude00"`),
		"unterminated string":   credit[:bytes.Index(credit, []byte(`station:s2"`))+10],
		"empty":                 {},
		"truncated in the body": credit[:len(credit)/2],
		"truncated at the end":  credit[:len(credit)-1],
	} {
		if _, err := refDecodeEntry(bad, assets); err == nil {
			t.Errorf("%s: the reference accepts %s", name, bad)
		}
		if _, err := DecodeEntry(bad, assets); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}

// TestAppendStringExhaustive holds appendString to encoding/json on every rune, every byte
// alone and every pair of bytes.
func TestAppendStringExhaustive(t *testing.T) {
	var all []byte
	for r := rune(0); r <= utf8.MaxRune+1; r++ {
		all = utf8.AppendRune(all, r)
	}
	for b := range 256 {
		all = append(all, byte(b), 'x')
	}
	for b := range 1 << 16 {
		all = append(all, byte(b>>8), byte(b), 'x')
	}
	for _, s := range []string{"", string(all), string(all[:1000])} {
		want, _ := refMarshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("appendString differs from encoding/json at byte %d: %q vs %q", i, got[i:min(i+20, len(got))], want[i:min(i+20, len(want))])
		}
	}
}

// TestStringRoundTripsExhaustive: every string of one rune that encoding/json reads back
// as itself is read back by the parser too, to the same value.
func TestStringRoundTripsExhaustive(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := "a" + string(r) + "b"
		enc := appendString(nil, s)
		p := parser{b: enc}
		if got := p.str(""); p.err != nil || got != s || p.i != len(enc) {
			t.Fatalf("U+%04X: %q read as %q, %v", r, enc, got, p.err)
		}
		var viaJSON string
		if err := json.Unmarshal(enc, &viaJSON); err != nil || viaJSON != s {
			t.Fatalf("U+%04X: encoding/json reads %q as %q", r, enc, viaJSON)
		}
	}
}

// TestTimeMatchesPackageTime holds the hand-written time codec to package time at the edges
// of its fast path, of months and leap years, and at random.
func TestTimeMatchesPackageTime(t *testing.T) {
	micros := []int64{0, -1, 1, math.MinInt64, math.MaxInt64, year0Micros - 1, year0Micros, year0Micros + 1,
		year10000Micros - 1, year10000Micros, ledgerMicros}
	for _, s := range []string{"2000-02-29", "2024-02-29", "2100-02-28", "2100-03-01", "1969-12-31", "0000-02-29",
		"0400-02-29", "9999-12-31", "2026-12-31", "2027-01-01", "1600-03-01"} {
		d, _ := time.Parse(time.DateOnly, s)
		micros = append(micros, d.UnixMicro(), d.UnixMicro()-1, d.UnixMicro()+86400e6-1)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		micros = append(micros, year0Micros+rng.Int64N(year10000Micros-year0Micros), int64(rng.Uint64()))
	}
	for _, m := range micros {
		want := time.UnixMicro(m).UTC().Format(TimeLayout) // package time is the reference
		if got := string(appendTime(nil, m)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", m, got, want)
		}
		if got := FormatTime(m); got != want {
			t.Fatalf("FormatTime(%d) = %s, want %s", m, got, want)
		}
		if m < year0Micros || m >= year10000Micros {
			continue
		}
		if back, ok := parseCanonicalTime(want); !ok || back != m {
			t.Fatalf("parseCanonicalTime(%s) = %d, %v, want %d", want, back, ok, m)
		}
	}
	for _, s := range []string{"2026-02-29T00:00:00.000000Z", "2100-02-29T00:00:00.000000Z", "2026-04-31T00:00:00.000000Z",
		"2026-00-01T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-01-00T00:00:00.000000Z",
		"2026-01-01T24:00:00.000000Z", "2026-01-01T00:60:00.000000Z", "2026-01-01T00:00:60.000000Z",
		"2026-01-01T00:00:00.00000aZ", "2026-01-01 00:00:00.000000Z", "-026-01-01T00:00:00.000000Z",
		"2026-01-01T00:00:00,000000Z", "2026-1-01T00:00:00.0000000Z", "2026-01-01T00:00:00.000000z"} {
		if _, ok := parseCanonicalTime(s); ok {
			t.Errorf("parseCanonicalTime accepts %s", s)
		}
		if tm, err := time.Parse(TimeLayout, s); err == nil && tm.Format(TimeLayout) == s {
			t.Errorf("package time reads %s as canonical", s)
		}
	}
}

// TestMarshalMatchesReference: Fingerprint's marshal gives encoding/json's bytes for every
// body type, also for a typed nil, and for values that are not bodies.
func TestMarshalMatchesReference(t *testing.T) {
	values := []any{nil, (*CreditBody)(nil), (*GenesisBody)(nil), map[string]int{"b": 1, "a": 2}, "<&>\u2028"}
	for _, typ := range allTypes {
		values = append(values, NewBody(typ))
	}
	for _, e := range everyTypeEntries(t) {
		values = append(values, e.Body)
	}
	for _, v := range values {
		got, err := marshal(v)
		want, wantErr := refMarshal(v)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Errorf("marshal(%#v) = %s, %v; want %s, %v", v, got, err, want, wantErr)
		}
	}
}

// TestEncodeEntryAllocs pins EncodeEntry to one allocation (the bytes it returns) and
// DecodeEntry to those of the entry it returns.
func TestEncodeEntryAllocs(t *testing.T) {
	e := everyTypeEntries(t)[8] // the standard credit
	if e.Type != TypeCredit {
		t.Fatalf("entry 9 is a %s", e.Type)
	}
	assets := DefaultPolicy().Assets
	if n := testing.AllocsPerRun(100, func() { _, _ = EncodeEntry(e, assets) }); n > 1 {
		t.Errorf("EncodeEntry allocates %v times", n)
	}
	raw, _ := EncodeEntry(e, assets)
	// The entry, its body, its postings and its 13 non-empty strings other than asset codes.
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeEntry(raw, assets) }); n > 3+13 {
		t.Errorf("DecodeEntry allocates %v times", n)
	}
	if strings.Contains(string(raw), " ") {
		t.Fatal("whitespace in canonical bytes")
	}
}

// BenchmarkRefEncodeEntry and BenchmarkRefDecodeEntry measure the encoding/json reference,
// for a before-and-after on the same machine (BenchmarkEncodeEntry, BenchmarkDecodeEntry).
func BenchmarkRefEncodeEntry(b *testing.B) {
	bk := standard(b)
	e, _ := bk.st.Entry(9)
	assets := DefaultPolicy().Assets
	b.ReportAllocs()
	for b.Loop() {
		if _, err := refEncodeEntry(e, assets); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRefDecodeEntry(b *testing.B) {
	bk := standard(b)
	e, _ := bk.st.Entry(9)
	assets := DefaultPolicy().Assets
	raw, _ := refEncodeEntry(e, assets)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := refDecodeEntry(raw, assets); err != nil {
			b.Fatal(err)
		}
	}
}

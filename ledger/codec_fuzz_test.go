package ledger

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzCodecMatchesReference builds an entry from the fuzzer's bytes (every body type, odd
// strings, any amounts, seqs and times) and holds the hand-written codec to the
// encoding/json reference of codec_ref_test.go: the same bytes or the same refusal from
// EncodeEntry, the same entry or the same refusal from DecodeEntry, for the canonical bytes
// and for a mutation of them. The seed corpus runs with every `go test`.
func FuzzCodecMatchesReference(f *testing.F) {
	for _, seed := range codecSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCodec(t, data)
	})
}

// FuzzDecodeMatchesReference feeds raw bytes to both decoders: they must agree on
// acceptance and on the entry. Seeded with a line of every entry type.
func FuzzDecodeMatchesReference(f *testing.F) {
	assets := DefaultPolicy().Assets
	for _, e := range everyTypeEntries(f) {
		raw, err := EncodeEntry(e, assets)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecode(t, raw, assets)
	})
}

// everyTypeEntries returns an entry of every type, as the rules made them (and a memo
// that needs escapes).
func everyTypeEntries(t tb) []*Entry {
	b := standard(t)
	linkAliceBob(b)
	b.must(alice, &TransferBody{To: "resident:bob", Asset: AssetHours, Amount: "1.25", Memo: `"quoted" \ back<&>`})
	h := holdFor(b, "2", 0)
	b.must(o1, &SettleBody{HoldID: h, Amount: "1.5"})
	b.must(o1, &VoidBody{HoldID: holdFor(b, "1", 30)})
	b.must(alice, &RedemptionBody{Payee: "outlet:o1", Asset: AssetHours, Amount: "1", Memo: "soap 肥皂\u2028line\u2029para"})
	b.must(alice, &DonationBody{Pool: "pool:public", Asset: AssetPoints, Amount: "7"})
	b.must(admin, &GrantBody{Pool: "pool:public", To: "resident:carol", Asset: AssetPoints, Amount: "3", Memo: "winter"})
	b.must(alice, &ConversionBody{Hours: "0.5"})
	e := b.must(s2, credit("resident:carol", "3", -5*time.Hour, -2*time.Hour))
	b.must(s2, &ReversalBody{Seq: e.Seq, Reason: "duplicate sheet"})
	p := *b.st.Policy()
	p.Transfer = map[string]string{AssetHours: TransferAny, AssetPoints: TransferAny}
	b.must(admin, &PolicyBody{Policy: p})
	b.must(admin, &FreezeBody{Account: "resident:carol", Reason: "moved away"})
	b.must(admin, &FreezeBody{Account: "resident:carol", Reason: "back", Unfreeze: true})
	var entries []*Entry
	for seq := uint64(1); seq <= b.seq; seq++ {
		e, err := b.st.Entry(seq)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	return entries
}

// codecSeeds is the seed corpus of FuzzCodecMatchesReference: for each body choice of
// entropy.body (the first byte), a few deterministic random tails.
func codecSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var seeds [][]byte
	for kind := range bodyChoices {
		for variant := range 4 {
			seed := make([]byte, 1+32*(variant+1))
			for i := range seed {
				seed[i] = byte(rng.Uint32())
			}
			seed[0] = byte(kind)
			seeds = append(seeds, seed)
		}
	}
	return seeds
}

// codecOutcome says how far checkCodec got, for TestCodecSeedsReachDecode.
type codecOutcome struct {
	encoded, decoded bool
	typ              Type
}

// checkCodec is the body of FuzzCodecMatchesReference.
func checkCodec(t *testing.T, data []byte) codecOutcome {
	t.Helper()
	r := &entropy{b: data}
	e, assets := r.entry()
	want, wantErr := refEncodeEntry(e, assets)
	got, err := EncodeEntry(e, assets)
	if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("EncodeEntry(%+v):\n got %q, %v\nwant %q, %v", e, got, err, want, wantErr)
	}
	if e.Body != nil {
		wantBody, wantErr := refMarshal(e.Body)
		gotBody, err := marshal(e.Body)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(gotBody, wantBody) {
			t.Fatalf("marshal(%#v):\n got %q, %v\nwant %q, %v", e.Body, gotBody, err, wantBody, wantErr)
		}
	}
	if wantErr != nil {
		return codecOutcome{}
	}
	out := codecOutcome{encoded: true, typ: e.Type}
	out.decoded = checkDecode(t, want, assets)
	checkDecode(t, r.mutate(want), assets)
	return out
}

// checkDecode holds DecodeEntry to the reference on raw and reports whether it decoded.
func checkDecode(t *testing.T, raw []byte, assets Assets) bool {
	t.Helper()
	want, wantErr := refDecodeEntry(raw, assets)
	got, err := DecodeEntry(raw, assets)
	if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeEntry(%q):\n got %+v, %v\nwant %+v, %v", raw, got, err, want, wantErr)
	}
	return err == nil
}

// entropy hands out the fuzzer's bytes as choices; past their end every choice is zero.
// When clean, its strings are valid UTF-8 without control characters, so that entries
// with many strings (policies) still decode now and then.
type entropy struct {
	b     []byte
	clean bool
}

func (r *entropy) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// intn returns a choice in [0, n), n ≤ 256.
func (r *entropy) intn(n int) int { return int(r.byte()) % n }

func (r *entropy) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = r.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

// oddPieces are the strings an encoder gets wrong: escapes, every class of control
// character, HTML characters, the JavaScript line terminators, invalid and overlong UTF-8,
// and JSON syntax that a careless scanner would trip over.
var oddPieces = []string{
	`"`, `\`, "\x00", "\x01", "\b", "\t", "\n", "\v", "\f", "\r", "\x1b", "\x1f", "\x7f",
	"<", ">", "&", "/", "\u2028", "\u2029", "\u2027", "\u202a", "\ufffd", "\ufeff", "é",
	"肥皂", "😀", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80",
	`\u0041`, `\"`, `","`, `,"postings":[`, "{", "}", "[", "]", ":", "resident:alice",
	"issuer:HOURS", "HOURS", "POINTS", "10.00", "0", "1", "2026-11-29T02:00:00.008000Z",
}

// str returns a string of a few pieces: odd ones, printable ASCII, or any byte.
func (r *entropy) str() string {
	var sb strings.Builder
	for range r.intn(6) {
		switch k := int(r.byte()); {
		case r.clean && k < len(oddPieces) && (!utf8.ValidString(oddPieces[k]) || oddPieces[k] < " "):
			sb.WriteString("é")
		case r.clean && k >= 200:
			sb.WriteByte(byte(' ' + k%95))
		case k < len(oddPieces):
			sb.WriteString(oddPieces[k])
		case k < 200:
			sb.WriteByte(byte(' ' + k%95))
		default:
			sb.WriteByte(r.byte())
		}
	}
	return sb.String()
}

func (r *entropy) id() AccountID { return AccountID(r.str()) }

// i64 returns an integer that is often at an edge.
func (r *entropy) i64() int64 {
	switch r.intn(6) {
	case 0:
		return 0
	case 1:
		return int64(int8(r.byte()))
	case 2:
		return math.MaxInt64
	case 3:
		return math.MinInt64
	}
	return int64(r.u64())
}

// Microseconds at the edges of what FormatTime writes with four year digits.
const (
	year0Micros     = -62167219200 * microsPerSecond
	year10000Micros = 253402300800 * microsPerSecond
	ledgerMicros    = 1795917600008000 // 2026-11-29T02:00:00.008Z
)

// micros returns a time near a ledger's, at an edge of the fast path, or anywhere.
func (r *entropy) micros() int64 {
	switch r.intn(8) {
	case 0:
		return ledgerMicros + int64(r.u64()%(1<<45))
	case 1:
		return int64(r.byte()) - 128
	case 2:
		return year0Micros + int64(r.byte()) - 128
	case 3:
		return year10000Micros + int64(r.byte()) - 128
	case 4:
		return int64(r.u64() % uint64(year10000Micros))
	case 5:
		return year0Micros + int64(r.u64()%uint64(-year0Micros))
	}
	return r.i64()
}

// amount returns a posting amount: usually a valid one.
func (r *entropy) amount() int64 {
	if r.intn(4) == 0 {
		return r.i64()
	}
	return 1 + int64(r.u64()%1e12)
}

func (r *entropy) seq() uint64 {
	switch r.intn(4) {
	case 0:
		return uint64(r.byte())
	case 1:
		return math.MaxUint64
	}
	return r.u64()
}

// bodyChoices is the number of choices of entropy.body.
const bodyChoices = 19

// body returns a body of choice kind (or nil, or a typed nil) with odd field values.
func (r *entropy) body(kind int) Body {
	switch kind {
	case 0:
		return &OpenBody{ID: r.id()}
	case 1:
		return &FreezeBody{Account: r.id(), Reason: r.str(), Unfreeze: r.intn(2) == 0}
	case 2:
		return &LinkBody{A: r.id(), B: r.id(), Relation: r.str()}
	case 3:
		return &CreditBody{Station: r.id(), Volunteer: r.id(), Hours: r.str(),
			Activity: Activity{ID: r.str(), Category: r.str(), StartedAt: r.str(), EndedAt: r.str()}, Memo: r.str()}
	case 4:
		return &RedemptionBody{Payee: r.id(), Asset: r.str(), Amount: r.str(), Memo: r.str()}
	case 5:
		return &HoldBody{Payee: r.id(), Asset: r.str(), Amount: r.str(), TTLSeconds: r.i64()}
	case 6:
		return &SettleBody{HoldID: r.seq(), Amount: r.str()}
	case 7:
		return &VoidBody{HoldID: r.seq()}
	case 8:
		return &TransferBody{To: r.id(), Asset: r.str(), Amount: r.str(), Memo: r.str()}
	case 9:
		return &DonationBody{Pool: r.id(), Asset: r.str(), Amount: r.str()}
	case 10:
		return &GrantBody{Pool: r.id(), To: r.id(), Asset: r.str(), Amount: r.str(), Memo: r.str()}
	case 11:
		return &ConversionBody{Hours: r.str()}
	case 12:
		return &ReversalBody{Seq: r.seq(), Reason: r.str()}
	case 13:
		return &PolicyBody{Policy: r.policy()}
	case 14:
		return &GenesisBody{Policy: r.policy()}
	case 15:
		return nil
	case 16:
		return (*CreditBody)(nil)
	case 17:
		return (*PolicyBody)(nil)
	}
	return &OpenBody{ID: "resident:alice"} // under a random type below, mostly
}

// policy returns a policy with odd strings, odd numbers and nil, empty or full maps.
func (r *entropy) policy() Policy {
	return Policy{
		Timezone: r.str(),
		Assets:   randMap[string](r, func() AssetSpec { return AssetSpec{Scale: int(r.i64())} }),
		Credit: CreditPolicy{MaxHoursPerEntry: r.str(), MaxHoursPerDay: r.str(), BackdateDays: r.i64(),
			PointsPerHour: r.str(), Categories: randMap[string](r, func() CategoryPolicy { return CategoryPolicy{PointsPerHour: r.str()} })},
		Limits: randMap[Kind](r, func() map[string]LimitPolicy {
			return randMap[string](r, func() LimitPolicy { return LimitPolicy{Upper: r.str()} })
		}),
		Transfer: randMap[string](r, r.str),
		Convert:  ConvertPolicy{PointsPerHour: r.str()},
		Hold:     HoldPolicy{DefaultTTLSeconds: r.i64(), MaxTTLSeconds: r.i64()},
		Reverse:  ReversePolicy{StationWindowDays: r.i64()},
	}
}

// randMap returns nil, an empty map or a few entries with odd keys.
func randMap[K ~string, V any](r *entropy, value func() V) map[K]V {
	n := r.intn(5)
	if n == 0 {
		return nil
	}
	m := make(map[K]V)
	for range n - 1 {
		m[K(r.str())] = value()
	}
	return m
}

var allTypes = []Type{TypeGenesis, TypeOpen, TypeFreeze, TypeUnfreeze, TypeLink, TypeCredit, TypeRedemption,
	TypeHold, TypeSettle, TypeVoid, TypeTransfer, TypeDonation, TypeGrant, TypeConversion, TypeReversal, TypePolicy}

// entry returns an entry and the assets to code it with. The type is usually the body's,
// so that the entry can decode; the postings usually name known assets.
func (r *entropy) entry() (*Entry, Assets) {
	kind := r.intn(bodyChoices)
	r.clean = r.intn(3) == 0
	e := &Entry{Body: r.body(kind)}
	assets := DefaultPolicy().Assets
	if r.intn(4) == 0 {
		assets = Assets{AssetHours: {Scale: r.intn(MaxScale + 1)}, AssetPoints: {Scale: r.intn(MaxScale + 1)},
			r.str(): {Scale: r.intn(MaxScale + 1)}}
	}
	codes := assets.Codes()
	switch k := r.intn(16); {
	case k == 0:
		e.Type = Type(r.str())
	case k == 1, e.Body == nil, e.Body == (*CreditBody)(nil), e.Body == (*PolicyBody)(nil):
		e.Type = allTypes[r.intn(len(allTypes))]
	default:
		e.Type = e.Body.EntryType()
	}
	e.Seq, e.TimeMicros = r.seq(), r.micros()
	e.Actor, e.IdempotencyKey = r.str(), r.str()
	if n := r.intn(5); n > 0 {
		e.Postings = make([]Posting, n-1) // none, nil or empty
	}
	for i := range e.Postings {
		asset := codes[r.intn(len(codes))]
		if r.intn(8) == 0 {
			asset = r.str()
		}
		e.Postings[i] = Posting{From: r.id(), To: r.id(), Asset: asset, Amount: r.amount()}
	}
	return e, assets
}

// mutate returns a copy of b with one change: a byte flipped, inserted or deleted, a span
// repeated, or an odd piece put in.
func (r *entropy) mutate(b []byte) []byte {
	b = bytes.Clone(b)
	at := int(r.u64() % uint64(len(b)+1))
	switch r.intn(5) {
	case 0:
		if at < len(b) {
			b[at] ^= 1 << r.intn(8)
		}
	case 1:
		b = append(b[:at], append([]byte{r.byte()}, b[at:]...)...)
	case 2:
		if at < len(b) {
			b = append(b[:at], b[at+1:]...)
		}
	case 3:
		end := at + r.intn(16)
		end = min(end, len(b))
		b = append(b[:end], b[at:]...)
	default:
		b = append(b[:at], append([]byte(oddPieces[r.intn(len(oddPieces))]), b[at:]...)...)
	}
	return b
}

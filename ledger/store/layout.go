package store

// This file is the whole on-disk layout: every bucket name, key and value encoding of the
// bbolt file. docs/decisions/0002-storage-layout.md says why it looks like this. Nothing
// else in the package builds a key or a value by hand.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/timebank/timebank/ledger"
)

// formatVersion is stored under meta "format"; Open refuses a file of another version.
// Format 2 stores entries compressed (decision 0007) and no level-0 Merkle hashes.
const formatVersion = 2

// The buckets.
var (
	// entries: seq (8 bytes BE) → the entry's canonical bytes (ledger.EncodeEntry) as one
	// zstd frame with the dictionary in meta entry_dict (entrypack.go). Append-only.
	bucketEntries = []byte("entries")
	// tlog: stored hash index (8 bytes BE, tlog.StoredHashIndex) → 32-byte hash, for every
	// index of level 1 and above. Level-0 hashes (the leaves) are not stored: they are the
	// record hashes of the entries, computed from the entries bucket when read. Append-only.
	bucketTlog = []byte("tlog")
	// state: everything derived per account, keyed OWNER 0x00 TAG …, so that all of one
	// account's records share a key prefix and land on the same leaf pages.
	bucketState = []byte("state")
	// ilines: seq (8 bytes BE) → the statement lines of the issuer accounts party to entry
	// seq (issuer lines). The issuers are party to almost every entry; their lines are
	// appends, kept out of state, whose fill percent suits random inserts. Append-only.
	bucketIssuerLines = []byte("ilines")
	// holds: hold id = seq of the hold entry (8 bytes BE) → hold record.
	bucketHolds = []byte("holds")
	// rev: seq of a reversed entry (8 bytes BE) → uvarint seq of its reversal.
	bucketRev = []byte("rev")
	// meta: the keys below.
	bucketMeta = []byte("meta")
	// tokens: token id → token record. Credentials, not ledger state.
	bucketTokens = []byte("tokens")
)

// allBuckets is every bucket, created in the first transaction.
var allBuckets = [][]byte{bucketEntries, bucketTlog, bucketState, bucketIssuerLines, bucketHolds, bucketRev, bucketMeta, bucketTokens}

// The tags of the state bucket: the byte after OWNER 0x00.
const (
	tagAccount   = 'A' // ID 0x00 'A' → account record
	tagStatement = 'E' // ID 0x00 'E' seq(8 BE) → statement line (not of issuers: see ilines)
	tagSession   = 'S' // ID 0x00 'S' start(8 BE, sign bit flipped) seq(8 BE) → session
	tagLink      = 'L' // ID 0x00 'L' OTHER → relation (raw bytes); written both ways
	tagIdem      = 'I' // ACTOR 0x00 'I' KEY → idempotency record
)

// The keys of the meta bucket.
var (
	metaFormat   = []byte("format")     // uvarint formatVersion
	metaAssets   = []byte("assets")     // JSON of ledger.Assets, fixed at genesis
	metaPolicy   = []byte("policy")     // JSON of the policy in force for the next entry
	metaLastSeq  = []byte("last_seq")   // uvarint seq of the last entry
	metaLastTime = []byte("last_time")  // varint time (µs) of the last entry
	metaTreeSize = []byte("tree_size")  // uvarint number of leaves; always equals last_seq
	metaTreeRoot = []byte("tree_root")  // the 32-byte root of the tree of tree_size leaves
	metaDict     = []byte("entry_dict") // the zstd dictionary of the entries bucket, raw content
)

// seqKey is the 8-byte big-endian key of a seq, hold id or stored hash index: big-endian
// so that byte order is numeric order and appends go to the right edge of the tree.
func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func putSeqKey(dst []byte, n uint64) { binary.BigEndian.PutUint64(dst, n) }

func appendSeqKey(dst []byte, n uint64) []byte { return binary.BigEndian.AppendUint64(dst, n) }

func parseSeqKey(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: key of %d bytes, want 8", ErrCorrupt, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// ownerPrefix is OWNER 0x00 TAG with room for extra more bytes. Owners (account ids, actors)
// never contain 0x00, so one owner's prefix is never a prefix of another's.
func ownerPrefix(owner string, tag byte, extra int) []byte {
	return appendOwnerPrefix(make([]byte, 0, len(owner)+2+extra), owner, tag)
}

func appendOwnerPrefix(dst []byte, owner string, tag byte) []byte {
	return append(append(dst, owner...), 0, tag)
}

func accountKey(id ledger.AccountID) []byte { return ownerPrefix(string(id), tagAccount, 0) }

func statementPrefix(id ledger.AccountID) []byte {
	return ownerPrefix(string(id), tagStatement, 8)
}

func statementKey(id ledger.AccountID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(statementPrefix(id), seq)
}

// appendStatementKey appends statementKey(id, seq) to dst: the sequencer builds its keys in
// one scratch buffer (bbolt copies a key it keeps).
func appendStatementKey(dst []byte, id ledger.AccountID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendOwnerPrefix(dst, string(id), tagStatement), seq)
}

func sessionPrefix(volunteer ledger.AccountID) []byte {
	return ownerPrefix(string(volunteer), tagSession, 16)
}

// sessionStartKey is the session prefix and a start time; flipping the sign bit makes
// big-endian byte order equal signed numeric order.
func sessionStartKey(volunteer ledger.AccountID, start int64) []byte {
	return binary.BigEndian.AppendUint64(sessionPrefix(volunteer), uint64(start)^(1<<63))
}

func sessionKey(volunteer ledger.AccountID, start int64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(sessionStartKey(volunteer, start), seq)
}

// parseSessionRest decodes the 16 bytes after a session prefix.
func parseSessionRest(rest []byte) (start int64, seq uint64, err error) {
	if len(rest) != 16 {
		return 0, 0, fmt.Errorf("%w: session key", ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(rest) ^ (1 << 63)), binary.BigEndian.Uint64(rest[8:]), nil
}

func linkKey(a, b ledger.AccountID) []byte {
	return append(ownerPrefix(string(a), tagLink, len(b)), b...)
}

func idemKey(actor, key string) []byte {
	return append(ownerPrefix(actor, tagIdem, len(key)), key...)
}

// splitStateKey cuts a state key into its owner, tag and the bytes after the tag.
func splitStateKey(k []byte) (owner string, tag byte, rest []byte, err error) {
	i := bytes.IndexByte(k, 0)
	if i <= 0 || i+1 >= len(k) {
		return "", 0, nil, fmt.Errorf("%w: state key %q", ErrCorrupt, k)
	}
	return string(k[:i]), k[i+1], k[i+2:], nil
}

// assetTable numbers the assets fixed at genesis in sorted code order. State values store
// an asset's number, not its code: one byte instead of seven, in every statement line.
type assetTable struct {
	codes []string
	index map[string]uint64
}

func newAssetTable(a ledger.Assets) *assetTable {
	t := &assetTable{codes: a.Codes(), index: map[string]uint64{}}
	for i, c := range t.codes {
		t.index[c] = uint64(i)
	}
	return t
}

func (t *assetTable) num(code string) (uint64, error) {
	i, ok := t.index[code]
	if !ok {
		return 0, fmt.Errorf("store: asset %q is not one of the genesis assets", code)
	}
	return i, nil
}

// code reads an asset number from r and returns its code.
func (t *assetTable) code(r *reader) string {
	i := r.uvarint()
	if r.err == nil && i >= uint64(len(t.codes)) {
		r.fail("unknown asset number")
	}
	if r.err != nil {
		return ""
	}
	return t.codes[i]
}

// sortedNums returns the asset numbers of the codes of m, ascending.
func sortedNums[V any](t *assetTable, m map[string]V) ([]uint64, error) {
	nums := make([]uint64, 0, len(m))
	for code := range m {
		n, err := t.num(code)
		if err != nil {
			return nil, err
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

// kindCodes numbers the account kinds in account records; 0 is never written.
var kindCodes = []ledger.Kind{"", ledger.KindResident, ledger.KindStation, ledger.KindOutlet, ledger.KindPool, ledger.KindIssuer}

func kindCode(k ledger.Kind) (byte, error) {
	for i, c := range kindCodes {
		if i > 0 && c == k {
			return byte(i), nil
		}
	}
	return 0, fmt.Errorf("store: unknown account kind %q", k)
}

const flagFrozen = 1

// encodeAccount is the account record: flags(1) kind(1) uvarint openedSeq, varint openedAt,
// count, then per asset in number order: uvarint asset, varint balance, varint earned;
// count, then per open hold in slice order: uvarint id, uvarint asset, varint amount,
// varint expiresAt. The id is the key.
func encodeAccount(dst []byte, t *assetTable, a *ledger.Account) ([]byte, error) {
	kc, err := kindCode(a.Kind)
	if err != nil {
		return nil, err
	}
	var flags byte
	if a.Frozen {
		flags |= flagFrozen
	}
	dst = append(dst, flags, kc)
	dst = appendUvarint(dst, a.OpenedSeq)
	dst = appendVarint(dst, a.OpenedAt)
	nums, err := sortedNums(t, a.Balances)
	if err != nil {
		return nil, err
	}
	dst = appendUvarint(dst, uint64(len(nums)))
	for _, n := range nums {
		b := a.Balances[t.codes[n]]
		dst = appendVarint(appendVarint(appendUvarint(dst, n), b.Balance), b.Earned)
	}
	dst = appendUvarint(dst, uint64(len(a.Holds)))
	for _, h := range a.Holds {
		n, err := t.num(h.Asset)
		if err != nil {
			return nil, err
		}
		dst = appendVarint(appendVarint(appendUvarint(appendUvarint(dst, h.ID), n), h.Amount), h.ExpiresAt)
	}
	return dst, nil
}

func decodeAccount(id ledger.AccountID, t *assetTable, v []byte) (*ledger.Account, error) {
	r := &reader{b: v}
	flags, kc := r.byte(), r.byte()
	if r.err == nil && (flags&^flagFrozen != 0 || kc == 0 || int(kc) >= len(kindCodes)) {
		r.fail("account flags or kind")
	}
	a := &ledger.Account{ID: id, Frozen: flags&flagFrozen != 0, OpenedSeq: r.uvarint(), OpenedAt: r.varint()}
	if r.err == nil {
		a.Kind = kindCodes[kc]
	}
	a.Balances = decodeBalances(r, t, true)
	if nh := r.count(4); nh > 0 {
		a.Holds = make([]ledger.OpenHold, nh)
		for i := range a.Holds {
			a.Holds[i] = ledger.OpenHold{ID: r.uvarint(), Asset: t.code(r), Amount: r.varint(), ExpiresAt: r.varint()}
		}
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

// decodeBalances reads count, then per asset in strictly ascending number order: uvarint
// asset, varint balance and, when earned is set, varint earned.
func decodeBalances(r *reader, t *assetTable, earned bool) map[string]ledger.Balance {
	m := map[string]ledger.Balance{}
	readBalances(r, t, earned, func(code string, b ledger.Balance) { m[code] = b })
	return m
}

// readBalances is decodeBalances handing each balance to put instead of building a map.
func readBalances(r *reader, t *assetTable, earned bool, put func(code string, b ledger.Balance)) {
	n := r.count(2)
	prev := -1
	for i := 0; i < n && r.err == nil; i++ {
		code := t.code(r)
		if r.err == nil && int(t.index[code]) <= prev {
			r.fail("assets out of order")
		}
		prev = int(t.index[code])
		b := ledger.Balance{Balance: r.varint()}
		if earned {
			b.Earned = r.varint()
		}
		put(code, b)
	}
}

// encodeStatement is a statement line: the account's balance of each asset after the entry,
// as count, then per asset in number order: uvarint asset, varint balance.
func encodeStatement(dst []byte, t *assetTable, balances map[string]ledger.Balance) ([]byte, error) {
	nums, err := sortedNums(t, balances)
	if err != nil {
		return nil, err
	}
	dst = appendUvarint(dst, uint64(len(nums)))
	for _, n := range nums {
		dst = appendVarint(appendUvarint(dst, n), balances[t.codes[n]].Balance)
	}
	return dst, nil
}

func decodeStatement(t *assetTable, v []byte) (map[string]int64, error) {
	out := map[string]int64{}
	if err := decodeStatementInto(t, v, out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStatementInto decodes a statement line into out (empty), with decodeBalances' checks.
func decodeStatementInto(t *assetTable, v []byte, out map[string]int64) error {
	r := &reader{b: v}
	readBalances(r, t, false, func(code string, b ledger.Balance) { out[code] = b.Balance })
	if err := r.done(); err != nil {
		return fmt.Errorf("statement line: %w", err)
	}
	return nil
}

// issuerAsset is the asset number of issuer account id (issuer:CODE), which names it in
// issuer lines.
func (t *assetTable) issuerAsset(id ledger.AccountID) (uint64, error) {
	code, ok := strings.CutPrefix(string(id), string(ledger.KindIssuer)+":")
	if !ok {
		return 0, fmt.Errorf("store: %s is not an issuer account", id)
	}
	return t.num(code)
}

// issuerLine is one issuer's statement line in an ilines value.
type issuerLine struct {
	asset    uint64 // the issuer is issuer:CODE of this asset number
	balances map[string]ledger.Balance
}

// encodeIssuerLines is an ilines value: count, then per issuer in strictly ascending asset
// number: uvarint asset number, then the issuer's statement line (encodeStatement).
func encodeIssuerLines(dst []byte, t *assetTable, lines []issuerLine) ([]byte, error) {
	dst = appendUvarint(dst, uint64(len(lines)))
	for _, l := range lines {
		var err error
		if dst, err = encodeStatement(appendUvarint(dst, l.asset), t, l.balances); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// readIssuerLines splits an ilines value, handing each issuer's id and the bytes of its
// statement line (for decodeStatementInto) to put.
func readIssuerLines(t *assetTable, v []byte, put func(id ledger.AccountID, line []byte) error) error {
	r := &reader{b: v}
	n := r.count(2)
	if r.err == nil && n == 0 {
		r.fail("no issuer")
	}
	prev := -1
	for i := 0; i < n && r.err == nil; i++ {
		code := t.code(r)
		if r.err == nil && int(t.index[code]) <= prev {
			r.fail("issuers out of order")
		}
		if r.err != nil {
			break
		}
		prev = int(t.index[code])
		start := r.b
		readBalances(r, t, false, func(string, ledger.Balance) {})
		if r.err != nil {
			break
		}
		if err := put(ledger.IssuerOf(code), start[:len(start)-len(r.b)]); err != nil {
			return err
		}
	}
	if err := r.done(); err != nil {
		return fmt.Errorf("issuer lines: %w", err)
	}
	return nil
}

// encodeSession is a session's value: varint (end − start), varint hours. Start and seq
// are in the key.
func encodeSession(dst []byte, s ledger.Session) []byte {
	return appendVarint(appendVarint(dst, s.End-s.Start), s.Hours)
}

func decodeSession(start int64, seq uint64, v []byte) (ledger.Session, error) {
	r := &reader{b: v}
	s := ledger.Session{Start: start, Seq: seq, End: start + r.varint(), Hours: r.varint()}
	if err := r.done(); err != nil {
		return ledger.Session{}, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

// encodeIdem is an idempotency record: uvarint seq of the entry, then the request's
// 32-byte ledger.Fingerprint.
func encodeIdem(seq uint64, fp [32]byte) []byte {
	return append(appendUvarint(make([]byte, 0, 42), seq), fp[:]...)
}

func decodeIdem(v []byte) (seq uint64, fp [32]byte, err error) {
	r := &reader{b: v}
	seq = r.uvarint()
	copy(fp[:], r.bytes(32))
	if err := r.done(); err != nil {
		return 0, fp, fmt.Errorf("idempotency record: %w", err)
	}
	return seq, fp, nil
}

// holdStatusCodes numbers the stored hold statuses; expired is derived, never stored.
var holdStatusCodes = []ledger.HoldStatus{"", ledger.HoldOpen, ledger.HoldSettled, ledger.HoldVoided}

// encodeHold is a hold record: string resident, string payee, uvarint asset, varint amount,
// varint expiresAt, status(1), uvarint closedSeq. Strings are uvarint length and bytes.
func encodeHold(t *assetTable, h *ledger.Hold) ([]byte, error) {
	n, err := t.num(h.Asset)
	if err != nil {
		return nil, err
	}
	var sc byte
	for i, s := range holdStatusCodes {
		if i > 0 && s == h.Status {
			sc = byte(i)
		}
	}
	if sc == 0 {
		return nil, fmt.Errorf("store: hold %d has status %q", h.ID, h.Status)
	}
	dst := appendString(appendString(make([]byte, 0, 64), string(h.Resident)), string(h.Payee))
	dst = appendVarint(appendVarint(appendUvarint(dst, n), h.Amount), h.ExpiresAt)
	return appendUvarint(append(dst, sc), h.ClosedSeq), nil
}

func decodeHold(id uint64, t *assetTable, v []byte) (*ledger.Hold, error) {
	r := &reader{b: v}
	h := &ledger.Hold{ID: id, Resident: ledger.AccountID(r.str()), Payee: ledger.AccountID(r.str()),
		Asset: t.code(r), Amount: r.varint(), ExpiresAt: r.varint()}
	sc := r.byte()
	if r.err == nil && (sc == 0 || int(sc) >= len(holdStatusCodes)) {
		r.fail("hold status")
	}
	h.ClosedSeq = r.uvarint()
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("hold %d: %w", id, err)
	}
	h.Status = holdStatusCodes[sc]
	return h, nil
}

// encodeUvarint and decodeUvarint are the rev values and the integer meta values.
func encodeUvarint(v uint64) []byte { return appendUvarint(nil, v) }

func decodeUvarint(v []byte) (uint64, error) {
	r := &reader{b: v}
	n := r.uvarint()
	return n, r.done()
}

func encodeVarint(v int64) []byte { return appendVarint(nil, v) }

func decodeVarint(v []byte) (int64, error) {
	r := &reader{b: v}
	n := r.varint()
	return n, r.done()
}

// encodeToken is a token record: string role, string account, string label, varint
// createdAt, then the 32-byte SHA-256 of the secret. The id is the key.
// encodeToken writes a token's record; a revoked token's ends in the time it was revoked
// (a live token's record has no such field, as before revoked tokens were kept).
func encodeToken(tok *ledger.Token) []byte {
	dst := appendString(make([]byte, 0, 96), string(tok.Role))
	dst = appendString(appendString(dst, string(tok.Account)), tok.Label)
	dst = append(appendVarint(dst, tok.CreatedAt), tok.SecretSHA256[:]...)
	if tok.RevokedAt != 0 {
		dst = appendVarint(dst, tok.RevokedAt)
	}
	return dst
}

func decodeToken(id string, v []byte) (ledger.Token, error) {
	r := &reader{b: v}
	tok := ledger.Token{ID: id, Role: ledger.Role(r.str()), Account: ledger.AccountID(r.str()),
		Label: r.str(), CreatedAt: r.varint()}
	copy(tok.SecretSHA256[:], r.bytes(32))
	if r.err == nil && len(r.b) > 0 {
		if tok.RevokedAt = r.varint(); tok.RevokedAt == 0 && r.err == nil {
			r.fail("revoked at time 0")
		}
	}
	if err := r.done(); err != nil {
		return ledger.Token{}, fmt.Errorf("token %s: %w", id, err)
	}
	return tok, nil
}

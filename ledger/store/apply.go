package store

import (
	"cmp"
	"fmt"
	"runtime/debug"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger"
)

// submit runs one request inside the batch's transaction. A rejected request (a *ledger.Error,
// or a failure while deciding, which only reads) comes back in the result and has written
// nothing. A non-nil error means the request failed after it began writing: the transaction
// is dirty and must be rolled back.
func (st *txState) submit(req ledger.Request, fp [32]byte, nowMicros int64) (result, error) {
	if err := st.checkToken(req.Principal.TokenID); err != nil {
		return result{err: err}, nil
	}
	ik := idemKey(req.Principal.Actor(), req.IdempotencyKey)
	if v := st.state.Get(ik); v != nil {
		return st.replay(v, fp, req.IdempotencyKey), nil
	}
	seq, t := st.lastSeq+1, max(nowMicros, st.lastTime+1) // entry times strictly increase
	if !ledger.EntryTimeInRange(t) {
		// The canonical form could not hold the entry: refuse it, written nowhere.
		return result{err: ledger.Errorf(ledger.CodeUnavailable,
			"The ledger cannot time this entry: the next entry time, %s, is outside the years 0000 to 9999 its log can hold (check the server's clock); nothing was written.",
			ledger.FormatTime(t)), failed: true}, nil
	}
	e, err := decide(st, req, seq, t)
	if err != nil {
		return result{err: err}, nil
	}
	if err := st.append(e, req, seq, t, ik, fp); err != nil {
		return result{}, err
	}
	return result{e: e}, nil
}

// checkToken refuses a request whose token was revoked after the caller authenticated it.
// The token's record is read in the batch's own transaction, and RevokeToken writes it in a
// transaction of its own: bbolt runs one after the other, so a write is either committed
// before the revocation or refused, never committed after RevokeToken returned. A token id
// the file does not hold is not judged here (authentication is the caller's; tests make up
// principals).
func (st *txState) checkToken(id string) error {
	if id == "" {
		return nil
	}
	if _, ok := st.liveTokens[id]; ok {
		return nil
	}
	v := st.tx.Bucket(bucketTokens).Get([]byte(id))
	if v == nil {
		return nil
	}
	tok, err := decodeToken(id, v)
	if err != nil {
		return err
	}
	if tok.RevokedAt != 0 {
		return ledger.Errorf(ledger.CodeUnauthenticated,
			"The token this request was sent with was revoked before the request was written; nothing was written.")
	}
	if st.liveTokens == nil {
		st.liveTokens = map[string]struct{}{}
	}
	st.liveTokens[id] = struct{}{}
	return nil
}

// replay answers a request whose (actor, key) is already stored: the original entry when
// the fingerprints agree, else idempotency_key_reused.
func (st *txState) replay(v []byte, fp [32]byte, key string) result {
	seq, stored, err := decodeIdem(v)
	if err != nil {
		return result{err: err}
	}
	if stored != fp {
		return result{err: ledger.Errorf(ledger.CodeIdempotencyKeyReused,
			"Idempotency-Key %q was already used for a different request (entry %d); use a new key for a new request.", key, seq).
			With("seq", seq)}
	}
	e, err := st.Entry(seq)
	if err == nil && e == nil {
		err = fmt.Errorf("%w: idempotency record names entry %d, which is missing", ErrCorrupt, seq)
	}
	if err != nil {
		return result{err: err}
	}
	return result{e: e, replayed: true}
}

// append applies e and writes everything it makes, all in this transaction: the entry, its
// Merkle hashes, a statement line per party, the idempotency record.
func (st *txState) append(e *ledger.Entry, req ledger.Request, seq uint64, t int64, ik []byte, fp [32]byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: entry %d: panic: %v\n%s", seq, p, debug.Stack())
		}
	}()
	// Pair assertions: the idempotency record is found again under the entry's own actor
	// and key (verify looks it up that way), at the seq and time the sequencer assigned.
	if e == nil || e.Seq != seq || e.TimeMicros != t || e.Actor != req.Principal.Actor() || e.IdempotencyKey != req.IdempotencyKey {
		return fmt.Errorf("store: Decide returned an entry other than seq %d at %d by %s", seq, t, req.Principal.Actor())
	}
	if err := ledger.Apply(st, e); err != nil {
		return fmt.Errorf("store: apply entry %d: %w", seq, err)
	}
	if testHookAfterApply != nil {
		testHookAfterApply(e)
	}
	if st.table == nil {
		return fmt.Errorf("store: entry %d: no policy after applying it (genesis must set one)", seq)
	}
	b, err := ledger.AppendEntry(st.canon[:0], e, st.assets)
	if err != nil {
		return fmt.Errorf("store: encode entry %d: %w", seq, err)
	}
	st.canon = b // scratch: packed and hashed below, not kept
	st.packed = st.packer.pack(st.packed[:0], b)
	if err := st.entries.Put(seqKey(seq), st.copyValue(st.packed)); err != nil {
		return err
	}
	if err := st.putHashes(seq, b); err != nil {
		return err
	}
	parties, err := ledger.AppendParties(st.parties[:0], st, e)
	if err != nil {
		return err
	}
	st.parties = parties
	var issuers []issuerLine
	for _, id := range parties {
		if id.Kind() == ledger.KindIssuer {
			l, err := st.issuerLine(id)
			if err != nil {
				return err
			}
			issuers = append(issuers, l)
			continue
		}
		if err := st.putStatement(id, seq); err != nil {
			return err
		}
	}
	if len(issuers) > 0 {
		slices.SortFunc(issuers, func(a, b issuerLine) int { return cmp.Compare(a.asset, b.asset) })
		v, err := st.value(func(dst []byte) ([]byte, error) { return encodeIssuerLines(dst, st.table, issuers) })
		if err != nil {
			return err
		}
		if err := st.ilines.Put(seqKey(seq), v); err != nil {
			return err
		}
	}
	if err := st.state.Put(ik, encodeIdem(seq, fp)); err != nil {
		return err
	}
	st.lastSeq, st.lastTime = seq, t
	st.appended++
	return nil
}

// testHookAfterApply, when set by a test, runs after each Apply: a panic there stands for
// an Apply that failed half-way through its writes.
var testHookAfterApply func(e *ledger.Entry)

// putHashes stores the Merkle hashes that appending leaf seq−1 completes, but for the
// leaf's own (level 0), which is not stored: hashes() remembers it for the next append.
func (st *txState) putHashes(seq uint64, b []byte) error {
	n := int64(seq - 1)
	hr := st.hashes()
	hashes, err := tlog.StoredHashes(n, b, hr)
	if err != nil {
		return fmt.Errorf("store: stored hashes of entry %d: %w", seq, err)
	}
	base := uint64(tlog.StoredHashIndex(0, n))
	*hr.leaf = lastLeaf{index: int64(base), hash: hashes[0]}
	for i := 1; i < len(hashes); i++ {
		st.key = appendSeqKey(st.key[:0], base+uint64(i))
		if err := st.tlog.Put(st.key, hashes[i][:]); err != nil {
			return err
		}
	}
	return nil
}

// issuerLine is issuer account id's statement line as it is now.
func (st *txState) issuerLine(id ledger.AccountID) (issuerLine, error) {
	n, err := st.table.issuerAsset(id)
	if err != nil {
		return issuerLine{}, err
	}
	a, err := st.PeekAccount(id)
	if err != nil {
		return issuerLine{}, err
	}
	l := issuerLine{asset: n}
	if a != nil {
		l.balances = a.Balances
	}
	return l, nil
}

// putStatement writes the statement line of account id for entry seq: its balances after it.
func (st *txState) putStatement(id ledger.AccountID, seq uint64) error {
	a, err := st.PeekAccount(id)
	if err != nil {
		return err
	}
	var balances map[string]ledger.Balance
	if a != nil {
		balances = a.Balances
	}
	v, err := st.value(func(dst []byte) ([]byte, error) { return encodeStatement(dst, st.table, balances) })
	if err != nil {
		return err
	}
	st.key = appendStatementKey(st.key[:0], id, seq)
	return st.state.Put(st.key, v)
}

// decide is ledger.Decide with a panic turned into an error: Decide only reads, so a panic
// leaves nothing half-written and the batch goes on.
func decide(v ledger.View, req ledger.Request, seq uint64, t int64) (e *ledger.Entry, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("store: deciding entry %d: panic: %v\n%s", seq, p, debug.Stack())
		}
	}()
	return ledger.Decide(v, req, seq, t)
}

func fingerprint(req ledger.Request) (fp [32]byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: fingerprint: panic: %v", p)
		}
	}()
	return ledger.Fingerprint(req), nil
}

package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// Tokens are credentials, not ledger entries: they live in their own bucket, are written by
// their own small transactions, and are authenticated from memory.

const (
	maxLabelChars = 100
	// maxSecretBytes bounds what Authenticate hashes: our secrets are 46 bytes.
	maxSecretBytes = 256
)

// tokenIndex maps SHA-256(secret) to the live token, updated as soon as a create or revoke
// has committed. Revoked tokens stay in the bucket, marked, and their hashes in revoked: a
// revoked secret must never become a token again (serve's bootstrap would otherwise bring
// back a leaked TIMEBANK_ADMIN_TOKEN).
type tokenIndex struct {
	mu      sync.RWMutex
	byHash  map[[32]byte]ledger.Token
	revoked map[[32]byte]string // hash → the id it had
}

func (l *Ledger) loadTokens() error {
	m, revoked := map[[32]byte]ledger.Token{}, map[[32]byte]string{}
	err := l.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			tok, err := decodeToken(string(k), v)
			if tok.RevokedAt != 0 {
				revoked[tok.SecretSHA256] = tok.ID
			} else {
				m[tok.SecretSHA256] = tok
			}
			return err
		})
	})
	l.tokens.byHash, l.tokens.revoked = m, revoked
	return err
}

// CreateToken is CreateTokenAs by no token (the bootstrap, tests).
func (l *Ledger) CreateToken(role ledger.Role, account ledger.AccountID, label string) (ledger.Token, string, error) {
	return l.CreateTokenAs(ledger.Principal{}, role, account, label)
}

// CreateTokenAs makes a token and returns it with its secret, which is shown only now.
// role is admin, station, outlet, resident or auditor (else invalid_field); a station,
// outlet or resident token names an existing account of that kind (else unknown_account),
// an admin or auditor token names none (else invalid_field); label is at most 100 characters.
// by is the principal asking: when its token was revoked since it authenticated, nothing is
// made (unauthenticated).
func (l *Ledger) CreateTokenAs(by ledger.Principal, role ledger.Role, account ledger.AccountID, label string) (ledger.Token, string, error) {
	secret := NewSecret()
	tok, err := l.createToken(by, role, account, label, secret)
	return tok, secret, err
}

// NewSecret returns a new token secret: 32 random bytes (256 bits) in URL-safe base64.
func NewSecret() string {
	return ledger.TokenSecretPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// EnsureAdminToken makes secret an admin token (label "bootstrap") unless a live admin token
// has that secret already. A revoked secret, or a live token of another role's, is refused
// (invalid_field): a revoked one stays revoked. So is one that no request could present:
// empty, over maxSecretBytes (Authenticate refuses it unhashed), with white space at an end
// (the API trims the header) or a control character (clients refuse to send it); stored, it
// would be a live admin token nobody can use, and no later start would make another.
// serve calls it when no admin token is live (cmd/timebank, ensureAdmin).
func (l *Ledger) EnsureAdminToken(secret string) error {
	if secret == "" {
		return ledger.Errorf(ledger.CodeInvalidField, "The bootstrap admin token is empty.").With("field", "token")
	}
	if len(secret) > maxSecretBytes {
		return ledger.Errorf(ledger.CodeInvalidField, "The bootstrap admin token is over %d bytes: no request could present it.",
			maxSecretBytes).With("field", "token").With("limit_bytes", maxSecretBytes)
	}
	if strings.TrimSpace(secret) != secret || strings.ContainsFunc(secret, unicode.IsControl) {
		return ledger.Errorf(ledger.CodeInvalidField,
			"The bootstrap admin token begins or ends with white space or holds a control character: no request could present it.").
			With("field", "token")
	}
	switch l.TokenStatus(secret) {
	case TokenLive:
		if p, ok := l.Authenticate(secret); ok && p.Role != ledger.RoleAdmin {
			return ledger.Errorf(ledger.CodeInvalidField, "This secret is a live %s token's, not an admin's; choose another secret.", p.Role).
				With("field", "token")
		}
		return nil
	case TokenRevoked:
		return ledger.Errorf(ledger.CodeInvalidField, "This admin token was revoked; a revoked secret is never made a token again.").
			With("field", "token")
	}
	_, err := l.createToken(ledger.Principal{}, ledger.RoleAdmin, "", "bootstrap", secret)
	return err
}

// TokenState is what a secret is to the ledger.
type TokenState int

const (
	TokenUnknown TokenState = iota // no token ever had it
	TokenLive
	TokenRevoked
)

// TokenStatus says whether secret is a live token's, a revoked one's, or neither.
func (l *Ledger) TokenStatus(secret string) TokenState {
	h := sha256.Sum256([]byte(secret))
	l.tokens.mu.RLock()
	defer l.tokens.mu.RUnlock()
	if _, ok := l.tokens.byHash[h]; ok {
		return TokenLive
	}
	if _, ok := l.tokens.revoked[h]; ok {
		return TokenRevoked
	}
	return TokenUnknown
}

// HasLiveAdmin reports whether any admin token is live.
func (l *Ledger) HasLiveAdmin() bool {
	l.tokens.mu.RLock()
	defer l.tokens.mu.RUnlock()
	for _, t := range l.tokens.byHash {
		if t.Role == ledger.RoleAdmin {
			return true
		}
	}
	return false
}

func (l *Ledger) createToken(by ledger.Principal, role ledger.Role, account ledger.AccountID, label, secret string) (ledger.Token, error) {
	if err := l.checkToken(role, account, label); err != nil {
		return ledger.Token{}, err
	}
	tok := ledger.Token{ID: ledger.TokenIDPrefix + hex.EncodeToString(randomBytes(8)), Role: role, Account: account,
		Label: label, CreatedAt: l.opts.Now().UnixMicro(), SecretSHA256: sha256.Sum256([]byte(secret))}
	// Holding the index lock across the commit orders the map update after it.
	l.tokens.mu.Lock()
	defer l.tokens.mu.Unlock()
	if err := l.checkActing(by); err != nil {
		return ledger.Token{}, err
	}
	err := l.writeToken(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTokens).Put([]byte(tok.ID), encodeToken(&tok))
	}, "After the restart, revoke any token in GET /v1/tokens whose secret you do not have.")
	if err != nil {
		return ledger.Token{}, err
	}
	l.tokens.byHash[tok.SecretSHA256] = tok
	return tok, nil
}

func (l *Ledger) checkToken(role ledger.Role, account ledger.AccountID, label string) error {
	if l.opts.ReadOnly {
		return ledger.Errorf(ledger.CodeUnavailable, "The ledger is open read-only.")
	}
	if utf8.RuneCountInString(label) > maxLabelChars || !utf8.ValidString(label) {
		return ledger.Errorf(ledger.CodeInvalidField, "The label must be valid text of at most %d characters.", maxLabelChars).
			With("field", "label")
	}
	switch role {
	case ledger.RoleAdmin, ledger.RoleAuditor:
		if account != "" {
			return ledger.Errorf(ledger.CodeInvalidField, "An %s token is not bound to an account; leave account out.", role).
				With("field", "account")
		}
		return nil
	case ledger.RoleStation, ledger.RoleOutlet, ledger.RoleResident:
	default:
		return ledger.Errorf(ledger.CodeInvalidField, "The role must be admin, station, outlet, resident or auditor.").
			With("field", "role")
	}
	a, err := l.Account(account)
	if err != nil {
		return err
	}
	if a == nil || a.Kind != ledger.Kind(role) {
		return ledger.Errorf(ledger.CodeUnknownAccount, "A %s token needs an existing %s: account; %q is not one.", role, role, account).
			With("account", string(account))
	}
	return nil
}

// ListTokens returns every live token, without secrets, oldest first.
func (l *Ledger) ListTokens() ([]ledger.Token, error) {
	l.tokens.mu.RLock()
	out := make([]ledger.Token, 0, len(l.tokens.byHash))
	for _, t := range l.tokens.byHash {
		out = append(out, t)
	}
	l.tokens.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RevokeToken is RevokeTokenAs by no token (tests).
func (l *Ledger) RevokeToken(id string) error { return l.RevokeTokenAs(ledger.Principal{}, id) }

// RevokeTokenAs revokes token id: Authenticate refuses its secret from the moment it
// returns, no token change asked with it is made after (checkActing), and no token can be
// made with that secret again. An unknown or revoked id is not_found. by is the principal
// asking: when its token was revoked since it authenticated, nothing is revoked
// (unauthenticated).
func (l *Ledger) RevokeTokenAs(by ledger.Principal, id string) error {
	if l.opts.ReadOnly {
		return ledger.Errorf(ledger.CodeUnavailable, "The ledger is open read-only.")
	}
	l.tokens.mu.Lock()
	defer l.tokens.mu.Unlock()
	if err := l.checkActing(by); err != nil {
		return err
	}
	var tok ledger.Token
	for _, t := range l.tokens.byHash {
		if t.ID == id {
			tok = t
		}
	}
	if tok.ID == "" {
		return ledger.Errorf(ledger.CodeNotFound, "There is no token %q.", id).With("token", id)
	}
	tok.RevokedAt = max(l.opts.Now().UnixMicro(), 1)
	err := l.writeToken(func(tx *bbolt.Tx) error { return tx.Bucket(bucketTokens).Put([]byte(id), encodeToken(&tok)) },
		"After the restart, revoke it again: not_found then means it was revoked.")
	if err != nil {
		return err
	}
	delete(l.tokens.byHash, tok.SecretSHA256)
	l.tokens.revoked[tok.SecretSHA256] = id
	return nil
}

// checkActing refuses a token change asked by a principal whose token was revoked after
// the caller authenticated it: the change waited for the index lock behind the revocation,
// and must not be made after RevokeTokenAs returned (the sequencer refuses entries so,
// txState.checkToken). The caller holds l.tokens.mu. A principal without a token (the
// bootstrap) or with one the ledger never had (tests) is not judged here.
func (l *Ledger) checkActing(by ledger.Principal) error {
	if by.TokenID == "" {
		return nil
	}
	for _, id := range l.tokens.revoked {
		if id == by.TokenID {
			return ledger.Errorf(ledger.CodeUnauthenticated,
				"The token this request was sent with was revoked before the request was carried out; nothing was changed.")
		}
	}
	return nil
}

// writeToken is write for a token's record. A commit that failed inside bbolt's own commit
// stopped the store with the outcome unknown (write): its caller is told so, unavailable
// (SPEC §7: 503, store not writable) as a batch of entries is (stopWrites), with what to do
// after the restart, rather than an uncoded error that would answer 500.
func (l *Ledger) writeToken(fn func(*bbolt.Tx) error, afterRestart string) error {
	err := l.write(fn)
	if errors.As(err, new(*uncertainCommit)) {
		return ledger.Errorf(ledger.CodeUnavailable,
			"The ledger's storage failed while this token change was being written, so whether it was written is unknown, "+
				"and the ledger has stopped until it is restarted. %s", afterRestart)
	}
	return err
}

// Authenticate returns the principal of a live token's secret. The map is keyed by the
// secret's hash; the constant-time compare of the stored hash guards the lookup itself.
func (l *Ledger) Authenticate(secret string) (ledger.Principal, bool) {
	if secret == "" || len(secret) > maxSecretBytes {
		return ledger.Principal{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	l.tokens.mu.RLock()
	tok, ok := l.tokens.byHash[sum]
	l.tokens.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare(tok.SecretSHA256[:], sum[:]) != 1 {
		return ledger.Principal{}, false
	}
	return ledger.Principal{Role: tok.Role, Account: tok.Account, TokenID: tok.ID}, true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"sync"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// Tokens are credentials, not ledger entries: they live in their own bucket, are written by
// their own small transactions, and are authenticated from memory.

const (
	maxLabelChars = 100
	secretPrefix  = "tb_"
	idPrefix      = "tok_"
	// maxSecretBytes bounds what Authenticate hashes: our secrets are 46 bytes.
	maxSecretBytes = 256
)

// tokenIndex maps SHA-256(secret) to the live token, updated as soon as a create or revoke
// has committed.
type tokenIndex struct {
	mu     sync.RWMutex
	byHash map[[32]byte]ledger.Token
}

func (l *Ledger) loadTokens() error {
	m := map[[32]byte]ledger.Token{}
	err := l.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			tok, err := decodeToken(string(k), v)
			m[tok.SecretSHA256] = tok
			return err
		})
	})
	l.tokens.byHash = m
	return err
}

// CreateToken makes a token and returns it with its secret, which is shown only now.
// role is admin, station, outlet, resident or auditor (else invalid_field); a station,
// outlet or resident token names an existing account of that kind (else unknown_account),
// an admin or auditor token names none (else invalid_field); label is at most 100 characters.
func (l *Ledger) CreateToken(role ledger.Role, account ledger.AccountID, label string) (ledger.Token, string, error) {
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	tok, err := l.createToken(role, account, label, secret)
	return tok, secret, err
}

// EnsureAdminToken makes secret an admin token (label "bootstrap") unless a token with that
// secret exists already. serve calls it at start with TIMEBANK_ADMIN_TOKEN or DIR/admin.token.
func (l *Ledger) EnsureAdminToken(secret string) error {
	if secret == "" {
		return ledger.Errorf(ledger.CodeInvalidField, "The bootstrap admin token is empty.").With("field", "token")
	}
	l.tokens.mu.RLock()
	_, ok := l.tokens.byHash[sha256.Sum256([]byte(secret))]
	l.tokens.mu.RUnlock()
	if ok {
		return nil
	}
	_, err := l.createToken(ledger.RoleAdmin, "", "bootstrap", secret)
	return err
}

func (l *Ledger) createToken(role ledger.Role, account ledger.AccountID, label, secret string) (ledger.Token, error) {
	if err := l.checkToken(role, account, label); err != nil {
		return ledger.Token{}, err
	}
	tok := ledger.Token{ID: idPrefix + hex.EncodeToString(randomBytes(8)), Role: role, Account: account,
		Label: label, CreatedAt: l.opts.Now().UnixMicro(), SecretSHA256: sha256.Sum256([]byte(secret))}
	// Holding the index lock across the commit orders the map update after it.
	l.tokens.mu.Lock()
	defer l.tokens.mu.Unlock()
	err := l.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTokens).Put([]byte(tok.ID), encodeToken(&tok))
	})
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

// RevokeToken deletes token id; Authenticate refuses its secret from the moment it returns.
// An unknown id is not_found.
func (l *Ledger) RevokeToken(id string) error {
	if l.opts.ReadOnly {
		return ledger.Errorf(ledger.CodeUnavailable, "The ledger is open read-only.")
	}
	l.tokens.mu.Lock()
	defer l.tokens.mu.Unlock()
	var hash [32]byte
	found := false
	for h, t := range l.tokens.byHash {
		if t.ID == id {
			hash, found = h, true
		}
	}
	if !found {
		return ledger.Errorf(ledger.CodeNotFound, "There is no token %q.", id).With("token", id)
	}
	err := l.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketTokens).Delete([]byte(id)) })
	if err != nil {
		return err
	}
	delete(l.tokens.byHash, hash)
	return nil
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

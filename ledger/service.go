package ledger

import (
	"context"
	"io"

	"golang.org/x/mod/sumdb/tlog"
)

// Service is the ledger as the API and the command line use it. The bbolt store
// (ledger/store) implements it; the API knows nothing else.
type Service interface {
	// Submit decides req, appends its entry durably and returns it; replayed is true when
	// the same principal already sent the same key with the same body (Fingerprint).
	// It returns *Error for user errors; any other error is internal. A cancelled ctx stops
	// the wait, never the write: the entry is then either committed whole or not at all.
	Submit(ctx context.Context, req Request) (e *Entry, replayed bool, err error)

	// Assets returns the asset scales fixed at genesis.
	Assets() Assets
	// Policy returns the policy in force.
	Policy() *Policy
	// Account, Hold and Entry return nil, nil when the object does not exist.
	Account(id AccountID) (*Account, error)
	Hold(id uint64) (*Hold, error)
	Entry(seq uint64) (*Entry, error)
	// Entries returns up to limit entries with seq > afterSeq, oldest first.
	Entries(afterSeq uint64, limit int) ([]*Entry, error)
	// AccountEntries returns up to limit of the account's statement lines with seq > afterSeq.
	AccountEntries(id AccountID, afterSeq uint64, limit int) ([]StatementLine, error)
	// Export writes the canonical line of every entry with seq > afterSeq, streaming.
	Export(ctx context.Context, afterSeq uint64, w io.Writer) error

	// TreeSize is the number of committed entries.
	TreeSize() uint64
	// LastTime is the time of the last committed entry (UTC microseconds). The next entry's
	// time is max(now, LastTime + 1 µs), also when the wall clock went back.
	LastTime() int64
	// Checkpoint returns a signed note covering every entry committed so far.
	Checkpoint() ([]byte, error)
	// VerifierKey returns the note verifier key of the checkpoint signer.
	VerifierKey() string
	// InclusionProof proves entry seq in the tree of treeSize entries.
	InclusionProof(seq, treeSize uint64) (leaf tlog.Hash, proof tlog.RecordProof, err error)
	// ConsistencyProof proves the tree of oldSize entries is a prefix of the one of newSize.
	ConsistencyProof(oldSize, newSize uint64) (tlog.TreeProof, error)
	// Backup writes a consistent copy of the database file while serving.
	Backup(w io.Writer) (int64, error)

	// Tokens are credentials, not entries. CreateTokenAs returns the secret once. by is the
	// principal asking: a change asked with a token revoked since it authenticated is refused
	// (unauthenticated), so none is made under it after the revocation returned.
	CreateTokenAs(by Principal, role Role, account AccountID, label string) (Token, string, error)
	ListTokens() ([]Token, error)
	RevokeTokenAs(by Principal, id string) error
	// Authenticate returns the principal of a bearer secret, if it is a live token.
	Authenticate(secret string) (Principal, bool)

	// Healthy returns nil when the store is writable.
	Healthy() error
}

// StatementLine is an entry as one account's statement shows it.
type StatementLine struct {
	Entry         *Entry
	BalancesAfter map[string]int64 // the account's balance of each asset after the entry
}

// Token is a stored credential, without its secret (only its SHA-256 is kept).
// The shapes of tokens: a secret is TokenSecretPrefix and 43 characters of URL-safe
// base64 (32 random bytes); an id is TokenIDPrefix and 16 hex digits.
const (
	TokenSecretPrefix = "tb_"
	TokenIDPrefix     = "tok_"
)

type Token struct {
	ID           string    `json:"id"`
	Role         Role      `json:"role"`
	Account      AccountID `json:"account,omitempty"`
	Label        string    `json:"label"`
	CreatedAt    int64     `json:"-"` // UTC microseconds
	RevokedAt    int64     `json:"-"` // UTC microseconds; 0 while the token is live
	SecretSHA256 [32]byte  `json:"-"`
}

package store

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/timebank/timebank/internal/durable"
	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// The key files of the data directory.
const (
	KeyFile         = "checkpoint.key"  // note signer key, mode 0600
	VerifierKeyFile = "checkpoint.vkey" // note verifier key and a newline, mode 0644
	maxNameBytes    = 128
)

// loadKey reads the signing key, making one on the first writable open. Read-only opens
// never write: a backup directory may hold no key, and then Checkpoint fails.
func (l *Ledger) loadKey() error {
	b, err := os.ReadFile(filepath.Join(l.dir, KeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		l.name = l.opts.Name
		if l.name == "" {
			l.name = DefaultName
		}
		if err := checkName(l.name); err != nil {
			return err
		}
		if l.opts.ReadOnly {
			return l.readVerifierKey()
		}
		if has, err := l.hasEntries(); err != nil {
			return err
		} else if has && !l.opts.NewSigningKey {
			return fmt.Errorf("store: %s is missing, but %s holds a ledger: restore the key it was signed with "+
				"(a backup is restored with its %s); to sign with a new key on purpose, which every auditor must pin anew, "+
				"open it with a new signing key (serve --new-signing-key)",
				filepath.Join(l.dir, KeyFile), filepath.Join(l.dir, DBFile), KeyFile)
		} else if has {
			l.log.Warn("made a new signing key for a ledger that holds entries: auditors must pin its verifier key", "key", filepath.Join(l.dir, KeyFile))
		}
		return l.makeKey()
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	l.keyExisted = true
	return l.useKey(strings.TrimSpace(string(b)))
}

// hasEntries reports whether the file already holds entries (at least genesis).
func (l *Ledger) hasEntries() (bool, error) {
	var has bool
	err := l.view(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketEntries); b != nil {
			k, _ := b.Cursor().First()
			has = k != nil
		}
		return nil
	})
	return has, err
}

func (l *Ledger) makeKey() error {
	skey, vkey, err := note.GenerateKey(rand.Reader, l.name)
	if err != nil {
		return fmt.Errorf("store: generate signing key: %w", err)
	}
	// The verifier first: a crash between the two leaves a vkey without a key, which the
	// next open overwrites; the reverse would leave a key whose vkey nobody published.
	if err := writeFileAtomic(filepath.Join(l.dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.dir, KeyFile), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	return l.useKey(skey)
}

// useKey checks the key against Options.Name and the vkey file (a pair assertion: the
// published verifier must be this key's), writing the vkey file when it is missing.
func (l *Ledger) useKey(skey string) error {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return fmt.Errorf("store: %s: %w", filepath.Join(l.dir, KeyFile), err)
	}
	if l.opts.Name != "" && l.opts.Name != signer.Name() {
		return fmt.Errorf("store: the ledger in %s is named %q, not %q", l.dir, signer.Name(), l.opts.Name)
	}
	vkey, err := verifierOf(skey, signer.Name())
	if err != nil {
		return err
	}
	l.signer, l.name, l.vkey = signer, signer.Name(), vkey
	path := filepath.Join(l.dir, VerifierKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !l.opts.ReadOnly {
		return writeFileAtomic(path, []byte(vkey+"\n"), 0o644)
	}
	if err == nil && strings.TrimSpace(string(b)) != vkey {
		return fmt.Errorf("store: %s does not hold the verifier key of %s", path, KeyFile)
	}
	return nil
}

func (l *Ledger) readVerifierKey() error {
	b, err := os.ReadFile(filepath.Join(l.dir, VerifierKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	l.vkey = strings.TrimSpace(string(b))
	if v, err := note.NewVerifier(l.vkey); err == nil && l.opts.Name == "" {
		l.name = v.Name()
	}
	return nil
}

// verifierOf derives the verifier key of a note signer key
// (PRIVATE+KEY+NAME+HASH+base64(0x01 ‖ Ed25519 seed)).
func verifierOf(skey, name string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // base64 may hold '+'; the name may not
	if len(parts) != 5 {
		return "", errors.New("store: the signing key is not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("store: the signing key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(name, pub)
}

// checkName accepts a ledger name usable as a note key name and a checkpoint origin line.
func checkName(name string) error {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) ||
		strings.ContainsRune(name, '+') || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return fmt.Errorf("store: ledger name %q must be 1 to %d bytes without spaces or '+'", name, maxNameBytes)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file, fsyncs and renames it, and
// fsyncs the directory: after a crash, path holds either nothing or all of data. Its mode is
// then set to perm exactly, whatever the umask: the verifier key is meant to be readable.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	err := durable.WriteFile(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err == nil {
		err = os.Chmod(path, perm)
	}
	if err != nil {
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	return nil
}

package store

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

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
// fsyncs the directory: after a crash, path holds either nothing or all of data.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm) // the umask may have narrowed perm at creation
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// syncDir makes the entries of dir durable: a file created or renamed in dir survives a
// power loss only once dir itself is synced. A variable so that tests can see the calls.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// makeDir creates dir and any missing parents with mode 0700, then syncs the parent of each
// directory it created, parents last: a new directory is an entry of its parent, and without
// that sync a power loss could take the data directory, with every acknowledged entry in it,
// although the database file itself was synced.
func makeDir(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

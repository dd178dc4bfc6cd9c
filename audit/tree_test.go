package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The Merkle tree and the signed checkpoint: FORMAT.md, "Checkpoints and the verifier key"
// and step 1 of "Checking a log".

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

var sizeRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// openCheckpoint checks the note's signature with the pinned verifier key (with the note
// package, and once more by hand from FORMAT.md's description of the bytes) and parses
// its C2SP tlog-checkpoint text.
func openCheckpoint(msg []byte, vkey string) (checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return checkpoint{}, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	if err := checkSignatureByHand(msg, strings.TrimSpace(vkey)); err != nil {
		return checkpoint{}, err
	}
	lines := strings.SplitAfter(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return checkpoint{}, fmt.Errorf("checkpoint text is not three lines ending in newlines: %q", n.Text)
	}
	var c checkpoint
	c.origin = strings.TrimSuffix(lines[0], "\n")
	if c.origin != v.Name() {
		return c, fmt.Errorf("checkpoint origin %q is not the key's name %q", c.origin, v.Name())
	}
	size := strings.TrimSuffix(lines[1], "\n")
	if !sizeRE.MatchString(size) {
		return c, fmt.Errorf("checkpoint size %q is not canonical decimal", size)
	}
	if c.size, err = strconv.ParseInt(size, 10, 64); err != nil {
		return c, err
	}
	root := strings.TrimSuffix(lines[2], "\n")
	raw, err := base64.StdEncoding.DecodeString(root)
	if err != nil || len(raw) != 32 || base64.StdEncoding.EncodeToString(raw) != root {
		return c, fmt.Errorf("checkpoint root %q is not canonical base64 of 32 bytes", root)
	}
	copy(c.root[:], raw)
	return c, nil // lines[3:] are extension lines, which a verifier ignores
}

// checkSignatureByHand verifies what FORMAT.md says of the bytes: the key NAME+HASH+KEY
// with HASH the first 4 bytes of SHA-256(NAME‖"\n"‖0x01‖pk); a signature line "— NAME
// base64(hash‖sig)"; the signed message everything up to the blank line.
func checkSignatureByHand(msg []byte, vkey string) error {
	parts := strings.SplitN(vkey, "+", 3) // base64 may hold "+"
	if len(parts) != 3 {
		return fmt.Errorf("verifier key %q is not NAME+HASH+KEY", vkey)
	}
	name, keyb := parts[0], mustB64(parts[2])
	if len(keyb) != 33 || keyb[0] != 0x01 {
		return errors.New("verifier key is not 0x01 and 32 bytes")
	}
	h := sha256.Sum256(append([]byte(name+"\n"), keyb...))
	if want := fmt.Sprintf("%08x", binary.BigEndian.Uint32(h[:4])); parts[1] != want {
		return fmt.Errorf("verifier key hash %s, FORMAT.md's rule gives %s", parts[1], want)
	}
	text, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return errors.New("no blank line after the checkpoint text")
	}
	text = append(text, '\n')
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "\u2014 "+name+" ")
		if !ok {
			continue
		}
		sig := mustB64(rest)
		if len(sig) == 68 && bytes.Equal(sig[:4], h[:4]) && ed25519.Verify(keyb[1:], text, sig[4:]) {
			return nil
		}
	}
	return errors.New("no signature line verifies by FORMAT.md's description")
}

func mustB64(s string) []byte {
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}

// treeRoot hashes each line as an RFC 6962 leaf and returns the root of the tree of the
// first size lines.
func treeRoot(lines [][]byte, size int64) (tlog.Hash, error) {
	if size > int64(len(lines)) {
		return tlog.Hash{}, fmt.Errorf("the log holds %d entries, fewer than the checkpoint's %d", len(lines), size)
	}
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, line := range lines[:size] {
		hs, err := tlog.StoredHashes(int64(i), line, r)
		if err != nil {
			return tlog.Hash{}, err
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return root, err
	}
	if mine := rfc6962Root(lines[:size]); mine != root {
		return root, fmt.Errorf("tlog and the RFC 6962 definition disagree: %v, %v", root, mine)
	}
	return root, nil
}

// rfc6962Root is RFC 6962's MTH written out: leaf SHA-256(0x00‖d), node SHA-256(0x01‖l‖r),
// split at the largest power of two below n; the empty tree is SHA-256("").
func rfc6962Root(lines [][]byte) tlog.Hash {
	switch n := len(lines); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0x00}, lines[0]...))
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		l, r := rfc6962Root(lines[:k]), rfc6962Root(lines[k:])
		return sha256.Sum256(append(append([]byte{0x01}, l[:]...), r[:]...))
	}
}

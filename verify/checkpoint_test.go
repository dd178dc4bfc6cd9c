package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger/store"
)

// signText signs text (a checkpoint's, or anything) with a fresh key named name.
func signText(t *testing.T, name, text string) (ckpt []byte, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if ckpt, err = note.Sign(&note.Note{Text: text}, signer); err != nil {
		t.Fatal(err)
	}
	return ckpt, vkey
}

// TestSizeZeroCheckpoint: a checkpoint of the empty tree is legal C2SP. Its root must be
// SHA-256 of nothing, and any log begins with those zero entries. Another root is named,
// with the right one.
func TestSizeZeroCheckpoint(t *testing.T) {
	dir, export, _, _ := fixture(t)
	empty := sha256.Sum256(nil)
	ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", 0, empty))
	path := writeFile(t, export)
	sum, _, err := Export(path, ckpt, vkey, nil)
	if err != nil {
		t.Fatalf("--export: %v", err)
	}
	if sum.Entries != 21 {
		t.Fatalf("replayed %d entries", sum.Entries)
	}
	if _, err := Data(dir, ckpt, vkey, nil); err != nil {
		t.Fatalf("--data: %v", err)
	}

	wrong := tlog.Hash{1}
	ckpt, vkey = signText(t, "timebank", store.CheckpointText("timebank", 0, wrong))
	for name, verify := range map[string]func() error{
		"export": func() error { _, _, err := Export(path, ckpt, vkey, nil); return err },
		"data":   func() error { _, err := Data(dir, ckpt, vkey, nil); return err },
	} {
		err := verify()
		if err == nil || !strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(empty[:])) ||
			!strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(wrong[:])) {
			t.Errorf("--%s, a size-0 checkpoint with another root: got %v, want both roots named", name, err)
		}
	}
}

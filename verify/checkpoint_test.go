package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
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
// SHA-256 of nothing; any log begins with those zero entries, and the summary says that
// none of its entries is covered by the signature. Another root is named, with the right one.
func TestSizeZeroCheckpoint(t *testing.T) {
	dir, export, _, _ := fixture(t)
	empty := sha256.Sum256(nil)
	ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", 0, empty))
	path := writeFile(t, export)
	sum, _, err := Export(path, ckpt, vkey, nil)
	if err != nil {
		t.Fatalf("--export: %v", err)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "21 entries (1 to 21) lie beyond the checkpoint: covered by no signature") {
		t.Fatalf("the summary does not say the entries are not signed:\n%s", out.String())
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

// TestSummaryNamesUnsignedEntries: a log longer than the checkpoint verifies (the log grew
// since), and the summary counts the entries no signature covers.
func TestSummaryNamesUnsignedEntries(t *testing.T) {
	_, export, _, _ := fixture(t)
	lines := bytes.SplitAfter(export, []byte("\n"))
	ckpt, vkey := signLog(t, bytes.Join(lines[:18], nil))
	sum, _, err := Export(writeFile(t, export), ckpt, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), "3 entries (19 to 21) lie beyond the checkpoint") {
		t.Fatalf("summary:\n%s", out.String())
	}
	// One entry beyond is named too (found by mutation testing: "> cp.Size+1" passed).
	ckpt, vkey = signLog(t, bytes.Join(lines[:20], nil))
	if sum, _, err = Export(writeFile(t, export), ckpt, vkey, nil); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sum.Print(&out)
	if !strings.Contains(out.String(), "1 entries (21 to 21) lie beyond the checkpoint") {
		t.Fatalf("summary:\n%s", out.String())
	}
	ckpt, vkey = signLog(t, export)
	sum, _, err = Export(writeFile(t, export), ckpt, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sum.Print(&out)
	if strings.Contains(out.String(), "beyond") {
		t.Fatalf("a checkpoint of the whole log, and the summary speaks of entries beyond it:\n%s", out.String())
	}
}

// TestCheckpointForm: a checkpoint whose signed text is not a canonical checkpoint of the
// key's ledger, or a malformed key or note, is not a source to verify with (*SourceError,
// exit 3); a note the key did not sign, or signed and then altered, is a difference.
func TestCheckpointForm(t *testing.T) {
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, c := range []struct{ name, text, want string }{
		{"origin not the key's name", "other\n21\n" + root + "\n", `origin "other" is not the verifier key's name "timebank"`},
		{"size with a leading zero", "timebank\n021\n" + root + "\n", `size "021" is not canonical`},
		{"size with a sign", "timebank\n+21\n" + root + "\n", `size "+21"`},
		{"size out of range", "timebank\n18446744073709551616\n" + root + "\n", "size"},
		{"root not canonical base64", "timebank\n21\n" + root[:42] + "B=\n", "root"},
		{"root of 31 bytes", "timebank\n21\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n", "root"},
		{"two lines", "timebank\n21\n", "fewer than three lines"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ckpt, vkey := signText(t, "timebank", c.text)
			_, err := OpenCheckpoint(ckpt, vkey)
			var se *SourceError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a *SourceError with %q", err, c.want)
			}
		})
	}
	good, vkey := signText(t, "timebank", "timebank\n21\n"+root+"\n")
	if cp, err := OpenCheckpoint(good, vkey); err != nil || cp.Size != 21 || cp.Origin != "timebank" {
		t.Fatalf("a well-formed checkpoint: %+v, %v", cp, err)
	}
	for name, in := range map[string]struct {
		ckpt []byte
		vkey string
	}{
		"empty key":     {good, ""},
		"garbage key":   {good, "timebank+zzzz"},
		"empty note":    {nil, vkey},
		"no signatures": {[]byte("timebank\n21\n" + root + "\n\n"), vkey},
	} {
		var se *SourceError
		if _, err := OpenCheckpoint(in.ckpt, in.vkey); !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *SourceError", name, err)
		}
	}
	other, _ := signText(t, "timebank", "timebank\n21\n"+root+"\n")
	altered := bytes.Replace(good, []byte("\n21\n"), []byte("\n22\n"), 1)
	for name, ckpt := range map[string][]byte{"signed by another key": other, "altered after signing": altered} {
		var se *SourceError
		if _, err := OpenCheckpoint(ckpt, vkey); err == nil || errors.As(err, &se) {
			t.Errorf("%s: got %v, want a difference (not a *SourceError)", name, err)
		}
	}
}

// TestCheckpointLongerThanLog: a checkpoint that covers more entries than the log holds is
// named as such (entries are missing), also when its signed root happens to be the one the
// replay starts from (the empty tree's): the root of the first N entries is only known once
// N entries were replayed. Found by mutation testing: without the size check, a signed
// checkpoint of size 22 and the empty tree's root verified a log of 21 entries.
func TestCheckpointLongerThanLog(t *testing.T) {
	dir, export, ckpt, vkey := fixture(t)
	lines := bytes.SplitAfter(export, []byte("\n"))
	const want = "the checkpoint covers 21 entries but the log has only 20: entries are missing"
	if _, _, err := Export(writeFile(t, bytes.Join(lines[:20], nil)), ckpt, vkey, nil); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an export missing its last entry: got %v, want %q", err, want)
	}
	ckpt, vkey = signText(t, "timebank", store.CheckpointText("timebank", 22, emptyTreeHash))
	const want22 = "the checkpoint covers 22 entries but the log has only 21"
	if _, _, err := Export(writeFile(t, export), ckpt, vkey, nil); err == nil || !strings.Contains(err.Error(), want22) {
		t.Errorf("--export, a checkpoint of 22 entries with the empty tree's root: got %v, want %q", err, want22)
	}
	if _, err := Data(dir, ckpt, vkey, nil); err == nil || !strings.Contains(err.Error(), want22) {
		t.Errorf("--data, a checkpoint of 22 entries with the empty tree's root: got %v, want %q", err, want22)
	}
}

// TestEmptyLogIsRefused: an export of no entries is no ledger (every ledger holds genesis),
// even with a signed checkpoint of the empty tree, which it matches.
func TestEmptyLogIsRefused(t *testing.T) {
	ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", 0, emptyTreeHash))
	_, _, err := Export(writeFile(t, nil), ckpt, vkey, nil)
	if err == nil || !strings.Contains(err.Error(), "the log is empty: no genesis entry") {
		t.Fatalf("got %v, want the empty log refused", err)
	}
}

// TestMalformedCheckpointSaysWhy: a checkpoint whose line ends were converted, or that gained
// a blank line or lost its last newline, is refused as unreadable (exit 3) with words saying
// which, since an auditor holding such a file sees nothing wrong in it; the file as signed is
// accepted.
func TestMalformedCheckpointSaysWhy(t *testing.T) {
	ckpt, vkey := signText(t, "timebank", store.CheckpointText("timebank", 0, sha256.Sum256(nil)))
	if _, err := OpenCheckpoint(ckpt, vkey); err != nil {
		t.Fatalf("the checkpoint as signed: %v", err)
	}
	for name, c := range map[string]struct {
		msg  []byte
		hint string
	}{
		"CRLF":            {bytes.ReplaceAll(ckpt, []byte("\n"), []byte("\r\n")), "CRLF"},
		"a blank line":    {append(append([]byte(nil), ckpt...), '\n'), "one newline"},
		"no last newline": {ckpt[:len(ckpt)-1], "one newline"},
	} {
		_, err := OpenCheckpoint(c.msg, vkey)
		var se *SourceError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%s: %v; want a source error saying %q", name, err, c.hint)
		}
	}
}

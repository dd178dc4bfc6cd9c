package audit_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// refuseTampered: the verifier must refuse each altered copy of a good ledger.
func refuseTampered(t *testing.T, c capture) {
	lines := bytes.SplitAfter(c.export, []byte("\n"))
	lines = lines[:len(lines)-1] // SplitAfter leaves an empty tail
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	with := func(i int, l []byte) []byte {
		cp := append([][]byte(nil), lines...)
		cp[i] = l
		return join(cp)
	}
	n := len(lines)
	cases := map[string][]byte{
		"a flipped byte":         flip(c.export, bytes.Index(c.export, []byte(`"amount":"20"`))+11),
		"a flipped digit of seq": with(n/2, bytes.Replace(lines[n/2], []byte(`"seq":`), []byte(`"seq":9`), 1)),
		"a dropped line":         join(append(append([][]byte(nil), lines[:n/2]...), lines[n/2+1:]...)),
		"the last line dropped":  join(lines[:n-1]),
		"two swapped lines":      with(n/2, lines[n/2+1]),
		"a space added":          with(3, bytes.Replace(lines[3], []byte(`,"type"`), []byte(`, "type"`), 1)),
		"a non-canonical escape": with(3, bytes.Replace(lines[3], []byte(`"type"`), []byte(`"\u0074ype"`), 1)),
	}
	swapped := append([][]byte(nil), lines...)
	swapped[n/2], swapped[n/2+1] = swapped[n/2+1], swapped[n/2]
	cases["two swapped lines"] = join(swapped)
	for name, export := range cases {
		if bytes.Equal(export, c.export) {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		if _, err := verifyExport(export, c.ckpt, c.vkey); err == nil {
			t.Errorf("the verifier accepted %s", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := verifyExport(c.export, signedByOther(t, c.ckpt), c.vkey); err == nil {
		t.Error("the verifier accepted a checkpoint signed by another key of the same name")
	}
	if _, err := verifyExport(c.export, c.ckpt, otherKey(t)); err == nil {
		t.Error("the verifier accepted the checkpoint against another pinned key")
	}
}

func flip(b []byte, i int) []byte {
	cp := bytes.Clone(b)
	cp[i] ^= 0x01
	return cp
}

// signedByOther signs the checkpoint's text with a fresh key named like the ledger.
func signedByOther(t *testing.T, ckpt []byte) []byte {
	text, _, _ := strings.Cut(string(ckpt), "\n\n")
	skey, _, err := note.GenerateKey(rand.Reader, "timebank")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: text + "\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func otherKey(t *testing.T) string {
	_, vkey, err := note.GenerateKey(rand.Reader, "timebank")
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

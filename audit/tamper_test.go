package audit_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// refuseTampered: the verifier must refuse each altered copy of a good ledger, first
// against the server's checkpoint (the tree catches it), then against a checkpoint that a
// forger holding a signing key made over the altered copy (the pinned key is the forger's,
// so only the entry checks stand between the forgery and acceptance).
func refuseTampered(t *testing.T, c capture) {
	cases := tamperings(t, c.export)
	for name, export := range cases {
		if bytes.Equal(export, c.export) {
			t.Fatalf("%s: the tampering changed nothing", name)
		}
		if _, err := verifyExport(export, c.ckpt, c.vkey); err == nil {
			t.Errorf("the verifier accepted %s", name)
		}
		if name == "the last line dropped" {
			continue // a shorter log, signed anew, is a valid log: only the old checkpoint tells
		}
		ckpt, vkey := forge(t, export)
		if _, err := verifyExport(export, ckpt, vkey); err == nil {
			t.Errorf("the verifier accepted %s under a checkpoint signed over it", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	ckpt, vkey := forge(t, c.export)
	if _, err := verifyExport(c.export, ckpt, vkey); err != nil {
		t.Fatalf("the forge itself is wrong: %v", err)
	}
	if _, err := verifyExport(c.export, ckpt, c.vkey); err == nil {
		t.Error("the verifier accepted a checkpoint signed by another key of the same name")
	}
	if _, err := verifyExport(c.export, c.ckpt, vkey); err == nil {
		t.Error("the verifier accepted the checkpoint against another pinned key")
	}
}

// tamperings makes altered copies of the export, each by one change.
func tamperings(t *testing.T, export []byte) map[string][]byte {
	lines := bytes.SplitAfter(export, []byte("\n"))
	lines = lines[:len(lines)-1] // SplitAfter leaves an empty tail
	n := len(lines)
	find := func(s string) int {
		for i, l := range lines {
			if bytes.Contains(l, []byte(s)) {
				return i
			}
		}
		t.Fatalf("no line holds %s", s)
		return -1
	}
	edit := func(i int, f func([]byte) []byte) []byte {
		cp := append([][]byte(nil), lines...)
		cp[i] = f(bytes.Clone(cp[i]))
		return bytes.Join(cp, nil)
	}
	re := func(i int, pattern, repl string) []byte {
		return edit(i, func(l []byte) []byte { return regexp.MustCompile(pattern).ReplaceAll(l, []byte(repl)) })
	}
	swapped := append([][]byte(nil), lines...)
	swapped[n/2], swapped[n/2+1] = swapped[n/2+1], swapped[n/2]
	transfer, credit := find(`"type":"transfer"`), find(`"amount":"45"`)
	return map[string][]byte{
		"a flipped byte":          flip(export, bytes.Index(export, []byte(`"amount":"20"`))+11),
		"a changed seq":           re(n/2, `"seq":`, `"seq":9`),
		"a dropped line":          append(bytes.Join(lines[:n/2], nil), bytes.Join(lines[n/2+1:], nil)...),
		"the last line dropped":   bytes.Join(lines[:n-1], nil),
		"two swapped lines":       bytes.Join(swapped, nil),
		"a space added":           re(3, `,"type"`, `, "type"`),
		"a non-canonical escape":  re(3, `"type"`, `"\u0074ype"`),
		"an amount off its scale": re(transfer, `"0.25"`, `"0.250"`),
		"a time in milliseconds":  re(3, `("time":"[^"]*\.[0-9]{3})[0-9]{3}Z`, `${1}Z`),
		"members reordered":       re(3, `^\{("seq":[0-9]+),("time":"[^"]*")`, `{$2,$1`),
		"a duplicate member":      re(3, `^\{("seq":[0-9]+),`, `{$1,$1,`),
		"an unknown member":       re(3, `\}\n$`, `,"extra":""}`+"\n"),
		"an overdraft":            re(transfer, `"0.25"`, `"9.25"`),
		"postings not the body's": re(credit, `"amount":"45"`, `"amount":"46"`),
		"a reused key":            re(find(`"idempotency_key":"c2"`), `"c2"`, `"c\"1\\x"`),
		"genesis by someone else": re(0, `"actor":"system"`, `"actor":"admin:tok_x"`),
	}
}

func flip(b []byte, i int) []byte {
	cp := bytes.Clone(b)
	cp[i] ^= 0x01
	return cp
}

// forge signs a checkpoint of the whole export with a fresh key named like the ledger
// and returns it with the key's verifier key.
func forge(t *testing.T, export []byte) ([]byte, string) {
	lines := bytes.Split(bytes.TrimSuffix(export, []byte("\n")), []byte("\n"))
	root := rfc6962Root(lines)
	skey, vkey, err := note.GenerateKey(rand.Reader, "timebank")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("timebank\n%d\n%s\n", len(lines), tlog.Hash(root))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg, strings.TrimSpace(vkey)
}

package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/timebank/timebank/ledger"
)

// docs/FORMAT.md promises an auditor can write a verifier from it alone. Its examples are
// bytes, so they are tested as bytes: a wrong example there misleads every such verifier.
// (Its example credit entry is checked by ledger's TestCanonicalEncoding.)

// formatDocBlocks returns the contents of docs/FORMAT.md's fenced blocks.
func formatDocBlocks(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(doc), "```")
	var blocks []string
	for i := 1; i < len(parts); i += 2 {
		blocks = append(blocks, strings.TrimPrefix(parts[i], "\n"))
	}
	return blocks
}

func findBlock(t *testing.T, blocks []string, prefix string) string {
	t.Helper()
	for _, b := range blocks {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	t.Fatalf("docs/FORMAT.md has no example block starting %q", prefix)
	return ""
}

func TestFormatDocExamples(t *testing.T) {
	blocks := formatDocBlocks(t)
	assets := ledger.DefaultPolicy().Assets

	t.Run("default genesis body", func(t *testing.T) {
		body := strings.TrimSuffix(findBlock(t, blocks, `{"timezone":"Asia/Shanghai",`), "\n")
		g := &ledger.Entry{Seq: 1, Type: ledger.TypeGenesis, Actor: "system", IdempotencyKey: "genesis",
			Body: &ledger.GenesisBody{Policy: *ledger.DefaultPolicy()}}
		raw, err := ledger.EncodeEntry(g, assets)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, []byte(`"body":`+body+`,"postings":[]}`)) {
			t.Fatalf("the page's default genesis body is not what the ledger writes:\n page  %s\n entry %s", body, raw)
		}
	})

	t.Run("checkpoint verifies with the key", func(t *testing.T) {
		ckpt := findBlock(t, blocks, "timebank\n41\n")
		vkey := findBlock(t, blocks, "timebank+")
		c, err := OpenCheckpoint([]byte(ckpt), vkey)
		if err != nil {
			t.Fatalf("the page's checkpoint does not verify with the page's key: %v", err)
		}
		if c.Origin != "timebank" || c.Size != 41 ||
			base64.StdEncoding.EncodeToString(c.Root[:]) != "Ub46ZRc8yUj2AI/XpqBJGVuiaI/BAcoKwkzJlTaSg6I=" {
			t.Fatalf("checkpoint parsed as %+v", c)
		}
		// The key hash the page describes: the first 4 bytes of the signature are the key's.
		sig := strings.Fields(strings.Split(ckpt, "\n")[4])[2]
		raw, _ := base64.StdEncoding.DecodeString(sig)
		if len(raw) != 4+64 || !strings.Contains(vkey, "+"+hex.EncodeToString(raw[:4])+"+") {
			t.Fatalf("signature %q does not open with the key hash of %q", sig, vkey)
		}
	})
}

package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// tokenIDs are random; goldens hold a placeholder.
var tokenIDs = regexp.MustCompile(`tok_[0-9a-f]{16}`)

// golden compares an answer with testdata/golden/NAME.json (indented, token ids masked).
func golden(t *testing.T, name string, r *resp) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(r.Body), "", "  "); err != nil {
		t.Fatalf("%s: answer is not JSON: %s", name, r.Body)
	}
	got := tokenIDs.ReplaceAll(buf.Bytes(), []byte("tok_X"))
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n got: %s\nwant: %s", name, path, got, want)
	}
}

// TestGoldenAnswers pins representative answers byte for byte (the clock is fixed).
func TestGoldenAnswers(t *testing.T) {
	e := newEnv(t)
	golden(t, "credit", e.must(e.do("POST", "/v1/credits", "station",
		e.creditBody("resident:r01", "2.5", t0.Add(-ledgerHours(4)), t0.Add(-ledgerHours(1))), "Idempotency-Key", "credit-1"), 201))
	hold := e.must(e.do("POST", "/v1/holds", "resident",
		`{"payee":"station:s01","asset":"HOURS","amount":"1.5"}`, "Idempotency-Key", "hold-1"), 201)
	golden(t, "hold", hold)
	id := strconv.FormatUint(hold.seqOf(), 10)
	golden(t, "hold_view", e.must(e.do("GET", "/v1/holds/"+id, "resident", ""), 200))
	golden(t, "settle", e.must(e.do("POST", "/v1/holds/"+id+"/settle", "station", `{"amount":"1"}`, "Idempotency-Key", "settle-1"), 201))
	golden(t, "account", e.must(e.do("GET", "/v1/accounts/resident:r01", "resident", ""), 200))
	golden(t, "statement", e.must(e.do("GET", "/v1/accounts/resident:r01/entries?limit=2", "resident", ""), 200))
	golden(t, "entries_page", e.must(e.do("GET", "/v1/entries?after_seq=8&limit=2", "auditor", ""), 200))
	golden(t, "error_insufficient", e.do("POST", "/v1/redemptions", "resident",
		`{"payee":"outlet:o01","asset":"HOURS","amount":"100"}`, "Idempotency-Key", "r-1"))
	golden(t, "error_unknown_field", e.do("POST", "/v1/redemptions", "resident",
		`{"payee":"outlet:o01","asset":"HOURS","amount":"1","tip":"1"}`, "Idempotency-Key", "r-2"))
	golden(t, "policy", e.must(e.do("GET", "/v1/policy", "auditor", ""), 200))
}

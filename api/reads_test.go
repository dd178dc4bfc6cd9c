package api_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/timebank/timebank/ledger/store"
)

func TestStatementPaging(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.must(e.credit("station", "resident:r01", "1.25", ledgerHours(3*i+1), ledgerHours(2)), 201)
	}
	type line struct {
		Seq           uint64
		Type          string
		BalancesAfter map[string]string `json:"balances_after"`
	}
	var all []line
	after := ""
	for pages := 0; ; pages++ {
		var page struct {
			Entries []line
			Next    *uint64 `json:"next_after_seq"`
		}
		e.must(e.do("GET", "/v1/accounts/resident:r01/entries?limit=2"+after, "resident", ""), 200).decode(&page)
		all = append(all, page.Entries...)
		if page.Next == nil {
			break
		}
		if *page.Next != page.Entries[len(page.Entries)-1].Seq || pages > 5 {
			t.Fatalf("next_after_seq %d is not the page's last seq", *page.Next)
		}
		after = "&after_seq=" + strconv.FormatUint(*page.Next, 10)
	}
	// open + 4 credits, oldest first, with running balances.
	if len(all) != 5 || all[0].Type != "open" {
		t.Fatalf("statement: %+v", all)
	}
	want := []string{"0.00", "1.25", "2.50", "3.75", "5.00"}
	for i, l := range all[1:] {
		if l.BalancesAfter["HOURS"] != want[i+1] || (i > 0 && l.Seq <= all[i].Seq) {
			t.Errorf("line %d: %+v, want HOURS %s", i+1, l, want[i+1])
		}
	}
	var acct struct {
		Balances map[string]map[string]string
	}
	e.must(e.do("GET", "/v1/accounts/resident:r01", "resident", ""), 200).decode(&acct)
	if acct.Balances["HOURS"]["balance"] != "5.00" || acct.Balances["POINTS"]["earned"] != "72" {
		t.Errorf("balances %v", acct.Balances)
	}
	for _, bad := range []string{"limit=0", "limit=501", "limit=x", "after_seq=-1"} {
		if r := e.do("GET", "/v1/accounts/resident:r01/entries?"+bad, "resident", ""); r.code() != "invalid_field" {
			t.Errorf("%s: want invalid_field, got %s", bad, r)
		}
	}
}

func TestHeldAndAvailable(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	id := e.hold("resident", "station:s01", "HOURS", "1.20", 60)
	var acct struct{ Balances map[string]map[string]string }
	e.must(e.do("GET", "/v1/accounts/resident:r01", "resident", ""), 200).decode(&acct)
	if b := acct.Balances["HOURS"]; b["held"] != "1.20" || b["available"] != "1.80" || b["balance"] != "3.00" {
		t.Errorf("open hold: %v", b)
	}
	var h struct{ Status string }
	e.must(e.do("GET", fmt.Sprintf("/v1/holds/%d", id), "station", ""), 200).decode(&h)
	if h.Status != "open" {
		t.Errorf("hold status %s, want open", h.Status)
	}
	e.clk.Advance(61e9)
	e.must(e.do("GET", fmt.Sprintf("/v1/holds/%d", id), "station", ""), 200).decode(&h)
	e.must(e.do("GET", "/v1/accounts/resident:r01", "resident", ""), 200).decode(&acct)
	if h.Status != "expired" || acct.Balances["HOURS"]["held"] != "0.00" {
		t.Errorf("after expiry: hold %s, held %s", h.Status, acct.Balances["HOURS"]["held"])
	}
}

// TestExportProofsCheckpoint: the export lines are the entries' bytes, and each is a leaf
// of the signed tree the checkpoint names, as an auditor would check it.
func TestExportProofsCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	r := e.must(e.do("GET", "/v1/export", "auditor", ""), 200)
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("export content type %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
	if uint64(len(lines)) != e.led.TreeSize() {
		t.Fatalf("export has %d lines, tree %d", len(lines), e.led.TreeSize())
	}
	vkey := strings.TrimSpace(string(e.must(e.do("GET", "/v1/checkpoint/key", "resident", ""), 200).Body))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(e.must(e.do("GET", "/v1/checkpoint", "resident", ""), 200).Body, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	f := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(f[1], 10, 64)
	root, err := tlog.ParseHash(f[2])
	if err != nil || size != int64(len(lines)) {
		t.Fatalf("checkpoint %q", n.Text)
	}
	for i, l := range lines {
		seq := i + 1
		one := e.must(e.do("GET", fmt.Sprintf("/v1/entries/%d", seq), "admin", ""), 200)
		if !bytes.Equal(one.Body, []byte(l)) {
			t.Errorf("entry %d: GET answers %s, export %s", seq, one.Body, l)
		}
		var p struct {
			LeafHash string `json:"leaf_hash"`
			Proof    []string
		}
		e.must(e.do("GET", fmt.Sprintf("/v1/proofs/inclusion?seq=%d&tree_size=%d", seq, size), "auditor", ""), 200).decode(&p)
		proof := make(tlog.RecordProof, len(p.Proof))
		for j, h := range p.Proof {
			b, _ := base64.StdEncoding.DecodeString(h)
			copy(proof[j][:], b)
		}
		leaf := tlog.RecordHash([]byte(l))
		if p.LeafHash != base64.StdEncoding.EncodeToString(leaf[:]) {
			t.Errorf("entry %d: leaf hash %s is not the hash of its export line", seq, p.LeafHash)
		}
		if err := tlog.CheckRecord(proof, size, root, int64(i), leaf); err != nil {
			t.Errorf("entry %d: inclusion proof fails: %v", seq, err)
		}
	}
	var c struct{ Proof []string }
	e.must(e.do("GET", fmt.Sprintf("/v1/proofs/consistency?old_size=1&new_size=%d", size), "resident", ""), 200).decode(&c)
	if len(c.Proof) == 0 {
		t.Errorf("empty consistency proof")
	}
	after := e.must(e.do("GET", "/v1/export?after_seq=2", "admin", ""), 200)
	if got := strings.Count(string(after.Body), "\n"); got != len(lines)-2 {
		t.Errorf("export after 2: %d lines, want %d", got, len(lines)-2)
	}
	for _, bad := range []string{"seq=0", "seq=x", "seq=3&tree_size=2", fmt.Sprintf("seq=1&tree_size=%d", size+1)} {
		if r := e.do("GET", "/v1/proofs/inclusion?"+bad, "admin", ""); r.code() != "invalid_field" {
			t.Errorf("inclusion %s: want invalid_field, got %s", bad, r)
		}
	}
}

func TestBackupIsAConsistentLedger(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	r := e.must(e.do("GET", "/v1/backup", "admin", ""), 200)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, store.DBFile), r.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	copyLed, err := store.Open(dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer copyLed.Close()
	if copyLed.TreeSize() != e.led.TreeSize() {
		t.Errorf("backup has %d entries, ledger %d", copyLed.TreeSize(), e.led.TreeSize())
	}
}

func TestTokensLifecycle(t *testing.T) {
	e := newEnv(t)
	var tok struct{ ID, Token string }
	e.must(e.do("POST", "/v1/tokens", "admin", `{"role":"resident","account":"resident:r03","label":"r03 phone"}`), 201).decode(&tok)
	e.tok["r03"] = tok.Token
	e.must(e.do("GET", "/v1/accounts/resident:r03", "r03", ""), 200)
	list := e.must(e.do("GET", "/v1/tokens", "admin", ""), 200)
	if bytes.Contains(list.Body, []byte(tok.Token)) || !bytes.Contains(list.Body, []byte(tok.ID)) {
		t.Errorf("token list shows a secret or lacks the token: %s", list.Body)
	}
	e.must(e.do("DELETE", "/v1/tokens/"+tok.ID, "admin", ""), 204)
	if r := e.do("GET", "/v1/accounts/resident:r03", "r03", ""); r.code() != "unauthenticated" {
		t.Errorf("revoked token still works: %s", r)
	}
	for body, code := range map[string]string{
		`{"role":"resident","account":"resident:ghost"}`: "unknown_account",
		`{"role":"resident","account":"station:s01"}`:    "unknown_account",
		`{"role":"station"}`:                             "invalid_field",
		`{"role":"auditor","account":"resident:r01"}`:    "invalid_field",
		`{"role":"root"}`:                                "invalid_field",
		`{"role":"auditor","secret":"x"}`:                "unknown_field",
	} {
		if r := e.do("POST", "/v1/tokens", "admin", body); r.code() != code {
			t.Errorf("%s: want %s, got %s", body, code, r)
		}
	}
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	e := newEnv(t)
	if r := e.must(e.do("GET", "/healthz", "", ""), 200); string(r.Body) != `{"status":"ok"}` {
		t.Errorf("healthz %s", r.Body)
	}
	e.must(e.credit("station", "resident:r01", "1", ledgerHours(1), ledgerHours(1)), 201)
	m := string(e.must(e.do("GET", "/metrics", "", ""), 200).Body)
	for _, want := range []string{`timebank_http_requests_total{method="POST",route="/v1/credits",status="201"} 1`,
		`timebank_http_request_duration_seconds_bucket{method="POST",route="/v1/credits"`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	y := e.must(e.do("GET", "/openapi.yaml", "", ""), 200)
	for _, r := range e.srv.Echo().Routes() {
		path := r.Path
		for _, p := range []string{":id", ":seq"} {
			path = strings.Replace(path, p, "{"+p[1:]+"}", 1)
		}
		if !bytes.Contains(y.Body, []byte("\n  "+path+":\n")) {
			t.Errorf("openapi.yaml does not describe %s", path)
		}
	}
}

package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// genesisBody is the default policy's genesis body, copied from docs/FORMAT.md.
const genesisBody = `{"timezone":"Asia/Shanghai","assets":{"HOURS":{"scale":2},"POINTS":{"scale":0}},"credit":{"max_hours_per_entry":"12","max_hours_per_day":"12","backdate_days":30,"points_per_hour":"10","categories":{"elderly-care":{"points_per_hour":"15"}}},"limits":{"resident":{"HOURS":{"upper":"1500"}}},"transfer":{"HOURS":"family","POINTS":"none"},"convert":{"points_per_hour":"10"},"hold":{"default_ttl_seconds":900,"max_ttl_seconds":86400},"reverse":{"station_window_days":7}}`

// formatExample is FORMAT.md's example credit line, checked by the canonical encoder too.
const formatExample = `{"seq":9,"time":"2026-11-29T02:00:00.008000Z","type":"credit","actor":"station:s1","idempotency_key":"k8","body":{"station":"station:s1","volunteer":"resident:alice","hours":"10.00","activity":{"id":"act-1","category":"cleaning","started_at":"2026-11-28T06:00:00.000000Z","ended_at":"2026-11-28T16:00:00.000000Z"},"memo":""},"postings":[{"from":"issuer:HOURS","to":"resident:alice","asset":"HOURS","amount":"10.00"},{"from":"issuer:POINTS","to":"resident:alice","asset":"POINTS","amount":"100"}]}`

type capture struct {
	export, ckpt []byte
	vkey         string
	data         string
}

// TestIndependentVerifier drives the server, then verifies what it published, compares
// the balances with its answers, reads its stopped database, and refuses tampered copies.
func TestIndependentVerifier(t *testing.T) {
	s := startServer(t)
	tk := runWorkload(s)
	// A checkpoint, one more entry, then the checkpoint that covers it and the export.
	early := s.get("/v1/checkpoint", tk.auditor)
	s.write("/v1/accounts", adminToken, "open-late", `{"id":"resident:erin"}`)
	c := capture{ckpt: s.get("/v1/checkpoint", tk.auditor), data: s.data}
	c.export = s.get("/v1/export", tk.auditor)
	c.vkey = string(s.get("/v1/checkpoint/key", tk.auditor))

	le, err := verifyExport(c.export, early, c.vkey)
	if err != nil || le.unsigned != 1 {
		t.Fatalf("against the earlier checkpoint: %v (want 1 entry beyond it)", err)
	}
	l, err := verifyExport(c.export, c.ckpt, c.vkey)
	if err != nil {
		t.Fatalf("the verifier refused the server's ledger: %v", err)
	}
	if l.unsigned != 0 {
		t.Errorf("%d entries beyond the checkpoint on a quiet server", l.unsigned)
	}
	checkProofs(t, s, tk.auditor, l, le.ckpt)
	compareHolds(t, s, tk.auditor, l)
	checkCoverage(t, l)
	if got := bytesOfBody(l.entries[0].line); got != genesisBody {
		t.Errorf("genesis body\n%s\nFORMAT.md documents\n%s", got, genesisBody)
	}
	if err := l.sums(); err != nil {
		t.Error(err)
	}
	compareAccounts(t, s, tk.auditor, l)
	s.stop()
	compareDatabase(t, c)
	t.Run("tampered", func(t *testing.T) { refuseTampered(t, c) })
}

// TestFormatExample: FORMAT.md's example line is canonical by this verifier's reading.
func TestFormatExample(t *testing.T) {
	ctx := &context{scales: map[string]int{"HOURS": 2, "POINTS": 0}}
	if _, err := decodeLine([]byte(formatExample), ctx); err != nil {
		t.Fatal(err)
	}
	gen := `{"seq":1,"time":"2026-11-29T02:00:00.000000Z","type":"genesis","actor":"system","idempotency_key":"genesis","body":` + genesisBody + `,"postings":[]}`
	if _, err := decodeLine([]byte(gen), ctx); err != nil {
		t.Fatal(err)
	}
}

func bytesOfBody(line []byte) string {
	_, after, _ := bytes.Cut(line, []byte(`"body":`))
	body, _, _ := bytes.Cut(after, []byte(`,"postings":`))
	return string(body)
}

// checkCoverage: the workload reached every entry type.
func checkCoverage(t *testing.T, l *ledger) {
	seen := map[string]int{}
	for _, e := range l.entries {
		seen[e.typ]++
	}
	for _, typ := range []string{"genesis", "open", "freeze", "unfreeze", "link", "credit", "redemption",
		"hold", "settle", "void", "transfer", "donation", "grant", "conversion", "reversal", "policy"} {
		if seen[typ] == 0 {
			t.Errorf("no %s entry in the export", typ)
		}
	}
	t.Logf("verified %d entries: %v", len(l.entries), seen)
}

type accountAnswer struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	OpenedAt string `json:"opened_at"`
	Balances map[string]struct {
		Balance, Held, Available, Earned string
	} `json:"balances"`
}

// compareAccounts asks the server for every account the log opened and compares its
// answer with the state recomputed from the postings.
func compareAccounts(t *testing.T, s *server, token string, l *ledger) {
	now := time.Now()
	for id, a := range l.accounts {
		var got accountAnswer
		if err := json.Unmarshal(s.get("/v1/accounts/"+id, token), &got); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		status := map[bool]string{false: "active", true: "frozen"}[a.frozen]
		if got.ID != id || got.Kind != kindOf(id) || got.Status != status || got.OpenedAt != a.opened.Format(timeLayout) {
			t.Errorf("%s: server says %+v; the log makes kind %s, %s, opened at %s", id, got, kindOf(id), status, a.opened.Format(timeLayout))
		}
		for asset, scale := range l.ctx.scales {
			held := l.held(id, asset, now)
			want := fmt.Sprintf("%s/%s/%s/%s", formatAmount(a.balance[asset], scale), formatAmount(held, scale),
				formatAmount(a.balance[asset]-held, scale), formatAmount(a.earned[asset], scale))
			g, ok := got.Balances[asset]
			if have := fmt.Sprintf("%s/%s/%s/%s", g.Balance, g.Held, g.Available, g.Earned); !ok || have != want {
				t.Errorf("%s %s balance/held/available/earned: server %s (present %v), log %s", id, asset, have, ok, want)
			}
		}
	}
}

// compareHolds: each hold's status and expiry as GET /v1/holds/{id} tells them, against
// the log: expires_at is the hold entry's time plus ttl_seconds, and a hold is expired
// from that instant on.
func compareHolds(t *testing.T, s *server, token string, l *ledger) {
	now := time.Now()
	for id, h := range l.holds {
		var got struct {
			HoldID                         uint64 `json:"hold_id"`
			Resident, Payee, Asset, Amount string
			Status                         string
			ExpiresAt                      string `json:"expires_at"`
		}
		if err := json.Unmarshal(s.get(fmt.Sprintf("/v1/holds/%d", id), token), &got); err != nil {
			t.Fatal(err)
		}
		status := h.status
		if status == "open" && !now.Before(h.expires) {
			status = "expired"
		}
		want := fmt.Sprintf("%d %s %s %s %s %s %s", id, h.resident, h.payee, h.asset,
			formatAmount(h.amount, l.ctx.scales[h.asset]), status, h.expires.Format(timeLayout))
		have := fmt.Sprintf("%d %s %s %s %s %s %s", got.HoldID, got.Resident, got.Payee, got.Asset, got.Amount, got.Status, got.ExpiresAt)
		if have != want {
			t.Errorf("hold %d: server %s, log %s", id, have, want)
		}
	}
}

// TestFormatCheckpointExample: FORMAT.md's example checkpoint verifies with its example key.
func TestFormatCheckpointExample(t *testing.T) {
	const ckpt = "timebank\n41\nUb46ZRc8yUj2AI/XpqBJGVuiaI/BAcoKwkzJlTaSg6I=\n\n" +
		"\u2014 timebank +B0x3QIS7tvvovDYW8CKfZXJ7mDWbfzmzw+uSNGDBzMuCM9A6Hts5xJFCTmVqNp3bhn7T/DX1Wvy/b5xulC0tdxZaQQ=\n"
	const vkey = "timebank+f81d31dd+AXn/6QByrNo3vwyEMWqafVaetpjS1jSOpdmW9Oe1AdF4"
	c, err := openCheckpoint([]byte(ckpt), vkey)
	if err != nil {
		t.Fatal(err)
	}
	if c.size != 41 {
		t.Errorf("size %d", c.size)
	}
	if got := rfc6962Root(nil).String(); got != "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Errorf("the empty tree's root is %s, not FORMAT.md's", got)
	}
}

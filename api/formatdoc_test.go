package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFormatDocOnTheWire checks what docs/FORMAT.md says of bytes that only HTTP shapes: an
// entry's idempotency_key is the header's value without the spaces and tabs around it (so
// the key " k 1\t" is the key "k 1", replayed by a later "k 1"), and the verifier key is
// answered as one line ending in "\n". The requests are written by hand: Go's client trims
// header values itself, and the test's direct handler calls do not parse headers at all.
func TestFormatDocOnTheWire(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	send := func(key string) (int, []byte) {
		t.Helper()
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := `{"id":"resident:wire"}`
		fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nIdempotency-Key:%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			e.tok["admin"], key, len(body), body)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b
	}
	code, b := send(" \tk 1 \t")
	var entry struct {
		Key string `json:"idempotency_key"`
	}
	if err := json.Unmarshal(b, &entry); code != 201 || err != nil || entry.Key != "k 1" {
		t.Fatalf("Idempotency-Key \" \\tk 1 \\t\": %d %s; the page says the entry's key is \"k 1\"", code, b)
	}
	if code, b := send("k 1"); code != 200 {
		t.Fatalf("Idempotency-Key \"k 1\" after \" \\tk 1 \\t\": %d %s, want the replay", code, b)
	}

	vkey := e.must(e.do("GET", "/v1/checkpoint/key", "auditor", ""), 200).Body
	if string(vkey) != e.led.VerifierKey()+"\n" {
		t.Fatalf("GET /v1/checkpoint/key answered %q, the page says the key %q and \\n", vkey, e.led.VerifierKey())
	}
}

// TestFormatDocHoldTTLZero: the page says a hold's ttl_seconds is the policy's default both
// when not sent and when sent as 0, and the entry holds the figure filled in.
func TestFormatDocHoldTTLZero(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	for i, body := range []string{
		`{"payee":"station:s01","asset":"HOURS","amount":"1.00"}`,
		`{"payee":"station:s01","asset":"HOURS","amount":"1.00","ttl_seconds":0}`,
	} {
		r := e.must(e.do("POST", "/v1/holds", "resident", body, "Idempotency-Key", fmt.Sprint("ttl-", i)), 201)
		if !strings.Contains(string(r.Body), `"body":{"payee":"station:s01","asset":"HOURS","amount":"1.00","ttl_seconds":900}`) {
			t.Errorf("%s: entry %s, want ttl_seconds 900 (hold.default_ttl_seconds)", body, r.Body)
		}
	}
}

// TestFormatDocHoldAnswers: the page says every answer showing a whole entry holds its export
// line's bytes, except a hold's, which appends hold_id and expires_at before its last "}".
func TestFormatDocHoldAnswers(t *testing.T) {
	e := newEnv(t)
	e.must(e.credit("station", "resident:r01", "3", ledgerHours(1), ledgerHours(3)), 201)
	written := e.must(e.do("POST", "/v1/holds", "resident", `{"payee":"station:s01","asset":"HOURS","amount":"1.00","ttl_seconds":60}`,
		"Idempotency-Key", "h"), 201).Body
	export := strings.Split(strings.TrimSuffix(string(e.must(e.do("GET", "/v1/export", "auditor", ""), 200).Body), "\n"), "\n")
	hold := export[len(export)-1]
	var h struct {
		Seq       uint64 `json:"seq"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(written, &h); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(hold, "}") + fmt.Sprintf(`,"hold_id":%d,"expires_at":%q}`, h.Seq, h.ExpiresAt)
	if string(written) != want {
		t.Errorf("hold's write answer\n %s\nwant its export line with hold_id and expires_at appended\n %s", written, want)
	}
	page := string(e.must(e.do("GET", "/v1/entries?limit=500", "auditor", ""), 200).Body)
	for i, line := range export {
		one := string(e.must(e.do("GET", fmt.Sprintf("/v1/entries/%d", i+1), "auditor", ""), 200).Body)
		w := line
		if line == hold {
			w = want
		}
		if one != w {
			t.Errorf("GET /v1/entries/%d answered\n %s\nwant\n %s", i+1, one, w)
		}
		if !strings.Contains(page, w) {
			t.Errorf("GET /v1/entries does not show entry %d as %s", i+1, w)
		}
	}
}

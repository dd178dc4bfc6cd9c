package idle

import (
	"net/http"
	"testing"
)

// TestSameServer: a redirect within the server named is followed; one to another scheme,
// host or port (where Go's client would send the Authorization on) is refused.
func TestSameServer(t *testing.T) {
	first, _ := http.NewRequest(http.MethodGet, "https://ledger.example:8443/v1/export", nil)
	for to, ok := range map[string]bool{
		"https://ledger.example:8443/v1/export?after_seq=0": true,
		"https://LEDGER.example:8443/v2/export":             true,
		"http://ledger.example:8443/v1/export":              false,
		"https://ledger.example:9999/v1/export":             false,
		"https://ledger.example/v1/export":                  false,
		"https://evil.ledger.example:8443/v1/export":        false,
		"file:///etc/passwd":                                false,
	} {
		req, _ := http.NewRequest(http.MethodGet, to, nil)
		if err := SameServer(req, []*http.Request{first}); (err == nil) != ok {
			t.Errorf("redirect to %s: %v, want followed %v", to, err, ok)
		}
	}
}

func TestRedacted(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080":                  "http://127.0.0.1:8080",
		"https://ops:pw@ledger.example/base":     "https://ops:xxxxx@ledger.example/base",
		"https://ops@ledger.example":             "https://ops@ledger.example",
		"https://ops:p:w@ledger.example?next=@x": "https://ops:xxxxx@ledger.example?next=@x",
		"http://ops:pw@127.0.0.1:80a":            "http://ops:xxxxx@127.0.0.1:80a",
		"ops:pw@127.0.0.1:8080":                  "ops:xxxxx@127.0.0.1:8080",
		"http://host/path@x:y":                   "http://host/path@x:y",
	} {
		if got := Redacted(raw); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", raw, got, want)
		}
	}
}

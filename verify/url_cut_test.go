package verify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestURLExportCutInsideALine: an export that ends inside a line was cut on its way (an
// answer whose end is the connection's close ends without an error wherever it is cut),
// as one that breaks with an error is: the source could not be read (exit 3), not a
// difference in the ledger (exit 1), which a monitoring job would alert on.
func TestURLExportCutInsideALine(t *testing.T) {
	var realExport []byte
	base, token, export := hostile(t, map[string]http.HandlerFunc{"/v1/export": func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n")
		buf.Write(realExport[:len(realExport)/2])
		buf.Flush()
	}})
	realExport = export
	if strings.HasSuffix(string(export[:len(export)/2]), "\n") {
		t.Fatal("the fixture's export is cut at a line's end: cut it elsewhere")
	}
	_, err := verifyURL(newClient(base, token, answeringLimits), "", nil)
	var se *SourceError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the export ended inside line") {
		t.Fatalf("got %v, want a *SourceError saying the export was cut inside a line", err)
	}
}

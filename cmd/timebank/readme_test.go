package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWalkthrough runs README's "Five minutes with curl" as a new operator does: its
// shell blocks copied as they are, against the binary built as README builds it, in a
// directory where ./timebank-data is the server's data. The only change is the server's
// address (TB=), since the test's server listens on a free port. Every write must make its
// entry, the figures README's comments promise must come out, and both verify commands must
// pass. TestEndToEnd walks the same story in Go; this one catches the README itself drifting
// from the product (a field renamed, a route moved, a sed that no longer finds hold_id).
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl", "sed", "tee", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("README's commands need %s: %v", tool, err)
		}
	}
	if exec.Command("date", "-u", "-d", "-4 hours").Run() != nil {
		t.Skip("README's commands need GNU date (date -d)")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	build := shBlock(t, readme, "CGO_ENABLED=0 go build -o timebank ./cmd/timebank && ./timebank serve")
	if strings.TrimSpace(build) != "CGO_ENABLED=0 go build -o timebank ./cmd/timebank && ./timebank serve" {
		t.Fatalf("README's build-and-serve block changed; update this test to run it:\n%s", build)
	}
	walkthrough := shBlock(t, readme, "TB=http://127.0.0.1:8080\n")
	verifyCmds := shBlock(t, readme, "./timebank verify --data timebank-data\n")

	dir := t.TempDir()
	bin := buildBinary(t)
	if err := os.Symlink(bin, filepath.Join(dir, "timebank")); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, filepath.Join(dir, "timebank-data"))
	out := runShell(t, dir, strings.Replace(walkthrough, "TB=http://127.0.0.1:8080\n", "TB="+srv.url+"\n", 1))
	for _, want := range []struct{ what, re string }{
		{"three accounts opened", `(?s)("type":"open".*){3}`},
		{"a credit of 3.00 hours with 45 points", `"type":"credit".*"asset":"HOURS","amount":"3.00".*"asset":"POINTS","amount":"45"`},
		{"a redemption of 20 points", `"type":"redemption".*"amount":"20"`},
		{"the hold's id", `(?m)^hold [0-9]+$`},
		{"a settlement of 1.00", `"type":"settle".*"amount":"1.00"`},
		{"the balances", `"HOURS":\{"balance":"2.00","held":"0.00","available":"2.00","earned":"3.00"\},"POINTS":\{"balance":"25"`},
		{"the statement", `\{"entries":\[\{"seq":`},
		{"the replay", `(?m)^HTTP/1.1 200 OK\r?$`},
		{"the checkpoint", `(?m)^— timebank `},
	} {
		if !regexp.MustCompile(want.re).MatchString(out) {
			t.Errorf("README's walkthrough did not show %s; it printed:\n%s", want.what, out)
		}
	}
	if strings.Contains(out, `"error"`) {
		t.Errorf("README's walkthrough got an error answer:\n%s", out)
	}
	export, err := os.ReadFile(filepath.Join(dir, "ledger.ndjson"))
	if n := bytes.Count(export, []byte("\n")); err != nil || n != 8 {
		t.Errorf("ledger.ndjson: %d lines (%v), want 8: genesis, 3 opens, credit, redemption, hold, settle", n, err)
	}

	srv.stop(t) // README: "Stop the server with Ctrl-C"
	out = runShell(t, dir, "set -e\n"+verifyCmds)
	if n := strings.Count(out, "timebank verify: OK"); n != 2 {
		t.Errorf("README's verify commands: %d OK, want 2:\n%s", n, out)
	}
}

// shBlock returns the body of README's ```sh block that contains marker.
func shBlock(t *testing.T, readme []byte, marker string) string {
	t.Helper()
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(readme, -1) {
		if bytes.Contains(m[1], []byte(marker)) {
			return string(m[1])
		}
	}
	t.Fatalf("README has no sh block with %q", marker)
	return ""
}

// runShell runs script with bash in dir, without the developer's TIMEBANK_* variables, a
// proxy for curl (Go's clients never proxy a loopback address; curl does) or a ~/.curlrc,
// and returns what it printed; anything on standard error or a failing status fails the test.
func runShell(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEBANK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NO_PROXY=*", "no_proxy=*", "CURL_HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("README's commands: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	return stdout.String()
}

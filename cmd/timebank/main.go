// Command timebank is the ledger of volunteer time banks: one binary that serves the HTTP API
// over an embedded bbolt file, verifies a ledger offline, exports and backs it up.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

// cli is the command line. Every flag also reads TIMEBANK_<FLAG> (kong's DefaultEnvars).
type cli struct {
	Serve   serveCmd   `cmd:"" help:"Run the HTTP service."`
	Verify  verifyCmd  `cmd:"" help:"Replay a ledger from genesis and check every balance, rule and hash."`
	Export  exportCmd  `cmd:"" help:"Write every entry as canonical NDJSON."`
	Backup  backupCmd  `cmd:"" help:"Copy the database of a running server, consistently."`
	Token   tokenCmd   `cmd:"" help:"Create, list and revoke API tokens on a running server."`
	Loadgen loadgenCmd `cmd:"" help:"Load a running server with credits and balance reads and print throughput and latency."`
	// BareEcho is loadgen's child process for the HTTP ceiling; not for people.
	BareEcho bareEchoCmd `cmd:"" name:"bare-echo" hidden:"" help:"Serve loadgen's bare Echo handler (the HTTP ceiling)."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c,
		kong.Name("timebank"),
		kong.Description("A ledger for volunteer time banks and love-points schemes."),
		kong.DefaultEnvars("TIMEBANK"),
		kong.UsageOnError(),
	)
	if err := ctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "timebank:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a chosen exit status (verify exits 1 on a difference, 2 on bad usage).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

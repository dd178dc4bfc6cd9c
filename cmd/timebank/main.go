// Command timebank is the ledger of volunteer time banks: one binary that serves the HTTP API
// over an embedded bbolt file, verifies a ledger offline, exports and backs it up.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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

// Exit statuses, the same for every command (docs/OPERATIONS.md). verify gives 1 a narrower
// meaning (SPEC §5: a difference) and reports a source it could not read with 3.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitNotVerified = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// invocation is what a command's Run gets besides its flags: where to write.
type invocation struct {
	stdout, stderr io.Writer
}

// run parses args (without the program name), runs the command and returns its exit status.
// Usage errors, kong's and the commands' own, print a usage hint and give exitUsage.
func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	k, err := kong.New(&c,
		kong.Name("timebank"),
		kong.Description("A ledger for volunteer time banks and love-points schemes."),
		kong.DefaultEnvars("TIMEBANK"),
		kong.Writers(stdout, stderr),
		// --help prints, then asks to exit: unwind to parse instead of ending a test's process.
		kong.Exit(func(status int) { panic(exitNow(status)) }),
	)
	if err != nil {
		panic(err) // the grammar above is wrong: a programmer's error
	}
	kctx, status := parse(k, args)
	if kctx == nil {
		return status
	}
	inv := &invocation{stdout: stdout, stderr: stderr}
	err = kctx.Run(inv)
	var u *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		printUsageError(stderr, kctx.Command(), u)
		return exitUsage
	}
	fmt.Fprintln(stderr, "timebank:", err)
	var e *exitError
	if errors.As(err, &e) { // kong's Run wraps what a command returns (errors.Join)
		return e.code
	}
	return exitFailed
}

// exitNow is the panic that kong.Exit raises (after --help) for parse to recover.
type exitNow int

// parse parses args. Without a context to run, status is the exit status: kong answered
// --help itself, or the command line did not parse (a usage hint is printed and the status
// is exitUsage, not kong's own 80).
func parse(k *kong.Kong, args []string) (kctx *kong.Context, status int) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(exitNow)
			if !ok {
				panic(r)
			}
			kctx, status = nil, int(s)
		}
	}()
	kctx, err := k.Parse(args)
	if err != nil {
		var pe *kong.ParseError
		command := ""
		if errors.As(err, &pe) && pe.Context != nil {
			command = pe.Context.Command()
		}
		printUsageError(k.Stderr, command, &usageError{err})
		return nil, exitUsage
	}
	return kctx, 0
}

// usageError is a command line that cannot work as given: a flag missing, two that conflict,
// a value of the wrong shape. It exits with exitUsage, before anything was done.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef makes a usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// printUsageError tells what is wrong and where the command's flags are described.
func printUsageError(w io.Writer, command string, err error) {
	// Context.Command names positional arguments too ("token revoke <id>"): keep the words.
	var words []string
	for _, f := range strings.Fields(command) {
		if !strings.HasPrefix(f, "<") {
			words = append(words, f)
		}
	}
	help := strings.Join(append([]string{"timebank"}, append(words, "--help")...), " ")
	fmt.Fprintf(w, "timebank: usage: %v\nSee %q.\n", err, help)
}

// exitError carries a chosen exit status (verify: 1 on a difference, 3 when it could not read
// its source).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

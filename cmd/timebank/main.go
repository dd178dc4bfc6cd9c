// Command timebank is the ledger of volunteer time banks: one binary that serves the HTTP API
// over an embedded bbolt file, verifies a ledger offline, exports and backs it up.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/timebank/timebank/internal/durable"
	"github.com/timebank/timebank/internal/idle"
	"github.com/timebank/timebank/ledger/store"
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

// invocation is what a command's Run gets besides its flags: where to write, and which flags
// the command line named (the others have their default or a TIMEBANK_* value).
type invocation struct {
	stdout, stderr io.Writer
	given          map[string]bool // by flag name, e.g. "data"
}

// run parses args (without the program name), runs the command and returns its exit status.
// Usage errors, kong's and the commands' own, print a usage hint and give exitUsage.
func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	k := newParser(&c, stdout, stderr)
	kctx, status := parse(k, args)
	if kctx == nil {
		return status
	}
	inv := &invocation{stdout: stdout, stderr: stderr, given: givenFlags(kctx)}
	err := kctx.Run(inv)
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

// newParser returns the parser of the command line into c.
func newParser(c *cli, stdout, stderr io.Writer) *kong.Kong {
	k, err := kong.New(c,
		kong.Name("timebank"),
		kong.Description("A ledger for volunteer time banks and love-points schemes."),
		kong.DefaultEnvars("TIMEBANK"),
		kong.Writers(stdout, stderr),
		loadgenVars(),
		// --help prints, then asks to exit: unwind to parse instead of ending a test's process.
		kong.Exit(func(status int) { panic(exitNow(status)) }),
	)
	if err != nil {
		panic(err) // the grammar above is wrong: a programmer's error
	}
	return k
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

// givenFlags returns the names of the flags the command line named: kong records each in the
// context's path as it parses it, while values from TIMEBANK_* variables and defaults are
// filled in afterwards without a path element.
func givenFlags(kctx *kong.Context) map[string]bool {
	given := map[string]bool{}
	for _, p := range kctx.Path {
		if p.Flag != nil && !p.Resolved {
			given[p.Flag.Name] = true
		}
	}
	return given
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

// flagRef is a string flag of a command: its name and where kong put its value.
type flagRef struct {
	name  string
	value *string
}

// envName is the variable that also sets flag name (kong.DefaultEnvars("TIMEBANK")).
func envName(name string) string {
	return "TIMEBANK_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// oneSource picks the one source to read of a command that takes one of several (verify's
// --data, --export or --url) and clears the others. The TIMEBANK_* variables are shared by
// every command (TIMEBANK_URL for the token commands, TIMEBANK_DATA for serve), so a source
// the command line names wins over sources that came only from the environment; two from
// the same place, both named or both only in the environment, are a usage error.
func oneSource(given map[string]bool, command string, sources ...flagRef) (string, error) {
	var named, fromEnv []flagRef
	for _, s := range sources {
		switch {
		case *s.value == "":
		case given[s.name]:
			named = append(named, s)
		default:
			fromEnv = append(fromEnv, s)
		}
	}
	pick, where, label := named, "the command line names", func(f flagRef) string { return "--" + f.name }
	if len(named) == 0 {
		pick, where, label = fromEnv, "the environment sets", func(f flagRef) string { return envName(f.name) }
	} else {
		for _, f := range fromEnv {
			*f.value = ""
		}
	}
	var choices, names []string
	for _, f := range sources {
		choices = append(choices, "--"+f.name)
	}
	last := len(choices) - 1
	either := strings.Join(choices[:last], ", ") + " or " + choices[last]
	switch len(pick) {
	case 1:
		return pick[0].name, nil
	case 0:
		return "", usagef("%s: give one of %s", command, either)
	}
	for _, f := range pick {
		names = append(names, label(f))
	}
	return "", usagef("%s: give only one of %s (%s %s)", command, either, where, strings.Join(names, " and "))
}

// dropUnused clears the flags that what does not use when they came from the environment
// (shared by every command), and refuses them when the command line names them.
func dropUnused(given map[string]bool, what string, flags ...flagRef) error {
	for _, f := range flags {
		if *f.value == "" {
			continue
		}
		if given[f.name] {
			return usagef("%s does not use --%s", what, f.name)
		}
		*f.value = ""
	}
	return nil
}

// checkOut refuses an --out that is a directory, or that would replace a ledger: --out is
// written by renaming a new file over it. A database that a running server holds would be swapped under the server,
// which would go on acknowledging writes into the replaced file, all lost at its next start.
// An export replaces no database at all (a backup named by a TIMEBANK_OUT exported for
// backup), nor the signing key of the ledger it reads (data, when not empty). It returns the
// name to write: --out with its symbolic links followed (durable.Target), so that a link is
// written through and what it points at is what is checked.
func checkOut(command, out, data string) (string, error) {
	if out == "" {
		return "", nil
	}
	out, err := durable.Target(out)
	if err != nil {
		return "", usagef("%s: --out: %v", command, err)
	}
	// A directory refuses the rename only once the copy is whole, which for a backup of a
	// large ledger is minutes of download beside it. An empty TIMEBANK_OUT makes backup's
	// --out (a path flag) the working directory.
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return "", usagef("%s: --out %s is a directory; name the file to write", command, out)
	}
	if data != "" && sameFile(out, filepath.Join(data, store.KeyFile)) {
		return "", usagef("%s: --out %s is the %s of the ledger it reads; write to another file", command, out, store.KeyFile)
	}
	if isSigningKey(out) {
		return "", usagef("%s: --out %s is a checkpoint signing key, which auditors' pinned key depends on; write to another file", command, out)
	}
	switch database, inUse := store.Probe(out); {
	case inUse:
		return "", usagef("%s: --out %s is the database of a running server; replacing it would lose every entry the server writes after; write to another file", command, out)
	case database && command == "export":
		return "", usagef("%s: --out %s is a ledger's database or a backup, which an export would replace; write to another file", command, out)
	}
	return out, nil
}

// signingKeyPrefix opens every signing key of golang.org/x/mod/sumdb/note, checkpoint.key's
// format.
const signingKeyPrefix = "PRIVATE+KEY+"

// isSigningKey reports whether path is a file holding a note signing key: any ledger's
// checkpoint.key, not only the one of the directory exported. Replaced, the key is gone for
// good, its ledger's server refuses to start, and auditors must pin a new one. Only a regular
// file is read: opening a named pipe would wait for a writer.
func isSigningKey(path string) bool {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(signingKeyPrefix))
	_, err = io.ReadFull(f, head)
	return err == nil && string(head) == signingKeyPrefix
}

// sameFile reports whether the paths a and b name one existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// exitError carries a chosen exit status (verify: 1 on a difference, 3 when it could not read
// its source).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// checkURL refuses a server URL that no request can be sent to, before anything is sent:
// `127.0.0.1:8080`, the form serve's --addr takes, parses as a path, and `localhost:8080` as
// a URL of the scheme "localhost". The message starts with command when it is not empty, and
// names raw with its password, if any, redacted.
func checkURL(command, raw string) error {
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	if command != "" {
		command += ": "
	}
	return usagef("%s--url %q is not a server's base URL; give one like http://127.0.0.1:8080", command, idle.Redacted(raw))
}

// interruptible returns a context that ends at SIGINT or SIGTERM, which then do not end the
// process: a command that writes a temporary file (backup, export --out) or holds a
// credential on the server (loadgen's station token) cleans up and fails instead of dying.
// A second signal ends the process as it would have: a clean-up that hangs on the network
// can still be cut short.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// interrupted returns err, or when ctx ended (a signal), an error saying that command was
// interrupted.
func interrupted(ctx context.Context, command string, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: interrupted", command)
	}
	return err
}

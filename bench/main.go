// Command bench measures Volley: snapshot bandwidth on a deterministic arena trace,
// latency over real pion connections under simulated loss, delay and jitter, and how
// many clients one host carries.
//
//	go run ./bench bandwidth [-json]
//	go run ./bench latency   [-json]
//	go run ./bench scale     [-json]
//	go run ./bench churn     (honest connect time while attackers churn handshakes)
//
// go run ./bench -h lists the commands, go run ./bench <command> -h their flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

var commands = map[string]func(args []string) error{
	"bandwidth": runBandwidth,
	"latency":   runLatency,
	"scale":     runScale,
	"churn":     runChurn,
}

// summaries lists the commands bench -h shows, in order; a command missing here
// (the scale benchmark's load generator) is internal.
var summaries = []struct{ name, text string }{
	{"bandwidth", "bytes per second per client on a deterministic arena trace: msgpack against the snapshot codec"},
	{"latency", "snapshot age, command round trip and input to visible over pion with simulated loss, delay and jitter"},
	{"scale", "host tick work and snapshot send lag against the number of clients (load from a second process)"},
	{"churn", "connect time of an honest player through a lobby while attackers churn handshakes at the lobby's rate"},
}

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run runs the command line args and returns the exit status: 0, 1 when the command
// failed, 2 for a usage mistake.
func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stderr)
		return 0
	}
	cmd := commands[args[0]]
	if cmd == nil {
		fmt.Fprintf(stderr, "bench: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd(args[1:])
	var ue usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2 // already reported, with the command's usage
	default:
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: bench <command> [flags]\n\nCommands:\n")
	for _, s := range summaries {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.text)
	}
	fmt.Fprint(w, "\nbench <command> -h lists the command's flags.\n")
}

// usageError is a command-line mistake, already reported with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// parseFlags parses a command's flags, giving it a usage message with its summary.
// It rejects positional arguments. Its errors other than flag.ErrHelp are
// usageErrors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bench %s [flags]\n\n", fs.Name())
		for _, s := range summaries {
			if s.name == fs.Name() {
				fmt.Fprintf(fs.Output(), "Measures the %s.\n\n", s.text)
			}
		}
		fmt.Fprint(fs.Output(), "Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "bench %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// Command bench measures Volley: snapshot bandwidth on a deterministic arena trace,
// latency over real pion connections under simulated loss, delay and jitter, and how
// many clients one host carries, and whether churn leaves resources behind.
//
//	go run ./bench bandwidth [-json]
//	go run ./bench latency   [-json]
//	go run ./bench scale     [-json]
//	go run ./bench churn     (honest connect time while attackers churn handshakes)
//	go run ./bench recover   (recovery after an outage or a network switch, resumption after a hard restart)
//	go run ./bench soak      [-json] [-clients N] [-minutes M]
//	go run ./bench lagcomp   [-json]  (hit rates with and without lag compensation)
//	go run ./bench join      [-json]  (lobby join to first decoded snapshot)
//
// go run ./bench -h lists the commands, go run ./bench <command> -h their flags.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/volleynet/volley/internal/cli"
)

var commands = map[string]func(args []string) error{
	"bandwidth": runBandwidth,
	"latency":   runLatency,
	"scale":     runScale,
	"churn":     runChurn,
	"recover":   runRecover,
	"lagcomp":   runLagcomp,
	"join":      runJoin,
}

// summaries lists the commands bench -h shows, in order; a command missing here
// (the scale benchmark's load generator) is internal.
var summaries = []struct{ name, text string }{
	{"bandwidth", "bytes per second per client on a deterministic arena trace: msgpack against the snapshot codec"},
	{"latency", "snapshot age, command round trip and input to visible over pion with simulated loss, delay and jitter"},
	{"scale", "host tick work and snapshot send lag against the number of clients (load from a second process)"},
	{"churn", "connect time of an honest player through a lobby while attackers churn handshakes at the lobby's rate"},
	{"recover", "recovery after an outage or a network switch, and resumption after a hard restart"},
	{"soak", "heap, goroutines and open files of an arena host while clients join, play and leave, against its baseline"},
	{"lagcomp", "hit rates of shots at a moving target with and without lag compensation, over pion with simulated delay and jitter"},
	{"join", "time from joining a lobby room to the first decoded snapshot, with the arena's lobby and host over loopback"},
}

func main() { cli.Exit("bench", run(os.Args[1:], os.Stderr)) }

// run runs the command line args.
func run(args []string, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("%w: no command", cli.ErrUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stderr)
		return nil
	}
	cmd := commands[args[0]]
	if cmd == nil {
		fmt.Fprintf(stderr, "bench: unknown command %q\n\n", args[0])
		usage(stderr)
		return fmt.Errorf("%w: unknown command %q", cli.ErrUsage, args[0])
	}
	return cmd(args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: bench <command> [flags]\n\nCommands:\n")
	for _, s := range summaries {
		fmt.Fprintf(w, "  %-10s %s\n", s.name, s.text)
	}
	fmt.Fprint(w, "\nbench <command> -h lists the command's flags.\n")
}

// parseFlags parses a command's flags (cli.Parse), its usage naming its summary.
func parseFlags(fs *flag.FlagSet, args []string) error {
	description := "One of bench's internal commands."
	for _, s := range summaries {
		if s.name == fs.Name() {
			description = "Measures the " + s.text + "."
		}
	}
	return cli.Parse(fs, args, "bench "+fs.Name()+" [flags]", description)
}

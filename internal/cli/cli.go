// Package cli is what the module's commands share on the command line: one usage
// format, no stray arguments, and the exit statuses 0 for -h, 2 for a usage mistake
// and 1 for a failure.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// ErrUsage is wrapped by Parse's errors for a command-line mistake, which Parse has
// already reported together with the usage.
var ErrUsage = errors.New("usage")

// Parse gives fs a usage message ("Usage: " synopsis, the description, the flags),
// parses args and rejects positional arguments. It returns flag.ErrHelp after -h or
// -help (the usage printed), an error wrapping ErrUsage for a mistake (reported), or
// nil. fs should be flag.ContinueOnError.
func Parse(fs *flag.FlagSet, args []string, synopsis, description string) error {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, description)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q (no subcommands)\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

// Exit ends a command whose work returned err: status 0 for nil or flag.ErrHelp, 2
// for a usage mistake (already reported), else 1 after printing "name: err".
func Exit(name string, err error) {
	os.Exit(Status(name, err))
}

// Status is Exit's exit status; it prints the error as Exit does.
func Status(name string, err error) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	return 1
}

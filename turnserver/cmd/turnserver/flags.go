package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/turnserver"
)

type flags struct {
	fs        *flag.FlagSet
	relay     *turnserver.Flags
	secretEnv *string
	http      *string
	urlHost   *string
	debug     *bool
}

func newFlags(out io.Writer) *flags {
	fs := flag.NewFlagSet("turnserver", flag.ContinueOnError)
	fs.SetOutput(out)
	f := &flags{fs: fs, relay: turnserver.RegisterFlags(fs, "")}
	*f.relay.Listen = ":3478"
	fs.Lookup("listen").DefValue = ":3478"
	f.secretEnv = fs.String("secret-env", "LOBBY_TURN_SECRET", "environment variable holding the TURN REST secret shared with the lobby")
	f.http = fs.String("http", ":9478", "address of /metrics and /healthz")
	f.urlHost = fs.String("url-host", "", "host name in the logged TURN URLs (default: the relay IP)")
	f.debug = fs.Bool("debug", false, "log at debug level")
	return f
}

func (f *flags) parse(args []string) error {
	return cli.Parse(f.fs, args, "turnserver [flags]", `Runs Volley's TURN relay on its own, for players whose network blocks direct
WebRTC. It shares the lobby's TURN REST secret ($LOBBY_TURN_SECRET by default).`)
}

func (f *flags) level() slog.Level {
	if *f.debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (f *flags) config(getenv func(string) string) (turnserver.Config, error) {
	secret := getenv(*f.secretEnv)
	if secret == "" {
		return turnserver.Config{}, fmt.Errorf("set the TURN secret in $%s (the lobby's)", *f.secretEnv)
	}
	return f.relay.Config(secret)
}

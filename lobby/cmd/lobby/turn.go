package main

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/turnserver"
)

// startRelay starts the embedded TURN relay when -turn-listen is set and points the
// lobby at it: the lobby hands out the relay's URLs (unless -turn lists others) with
// credentials of the shared secret. Without a secret in the environment it makes one
// up, which only this instance knows: give every instance the same
// LOBBY_TURN_SECRET when several run.
func startRelay(f *turnserver.Flags, cfg *lobbyserver.Config, log *slog.Logger) (*turnserver.Server, error) {
	if !f.Enabled() {
		return nil, nil
	}
	if cfg.TURNSecret == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		cfg.TURNSecret = hex.EncodeToString(b[:])
		log.Warn("lobby: no TURN secret in the environment; the embedded relay uses a random one known to this instance only")
	}
	rc, err := f.Config(cfg.TURNSecret)
	if err != nil {
		return nil, err
	}
	rc.Logger = log.With("component", "turn")
	relay, err := turnserver.New(rc)
	if err != nil {
		return nil, err
	}
	if len(cfg.TURNURLs) == 0 {
		cfg.TURNURLs = relay.URLs("")
	}
	return relay, nil
}

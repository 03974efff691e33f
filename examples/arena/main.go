// Command arena runs the Volley sample game on one machine: a lobby, an arena host in
// a lobby room, a few native bots, and the browser client at http://localhost:8080.
//
//	go run ./examples/arena                 # then open http://localhost:8080
//	go run ./examples/arena -bots 8 -addr :9000
//	go run ./examples/arena -lobby ws://lobby.example:8080/ws -page-lobby wss://lobby.example/ws
//
// The browser client is compiled to wasm on start (cached between runs). WebRTC uses
// loopback only unless -public is given. Ctrl-C shuts everything down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/netcode"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "web server (and in-process lobby) listen address")
	bots := flag.Int("bots", 4, "native bots to run in the arena")
	lobbyURL := flag.String("lobby", "", "external lobby WebSocket URL for the host and bots (default: run a lobby here, at /ws)")
	pageLobby := flag.String("page-lobby", "", "lobby WebSocket URL the web page uses (default: this server's, or -lobby)")
	room := flag.String("room", "arena", "room name")
	secretEnv := flag.String("host-secret-env", "LOBBY_HOST_SECRET", "environment variable holding the lobby's host secret, if it requires one")
	public := flag.Bool("public", false, "gather ICE candidates on every interface instead of loopback only")
	cacheDir := flag.String("cache", "", "wasm build cache directory (default: examples/arena/.cache under the module)")
	noHost := flag.Bool("nohost", false, "run no game host: serve the lobby and the page only; players host games from their browser tabs")
	verbose := flag.Bool("v", false, "log debug details")
	large := flag.Bool("large", false, fmt.Sprintf("play a large map (%d×%d classic arenas) where each client receives only what is near it; %d bots unless -bots says otherwise", largeTiles, largeTiles, largeBots))
	if err := cli.Parse(flag.CommandLine, os.Args[1:], "arena [flags]", `Runs the Volley sample game on this machine: a lobby, an arena host in a lobby room,
native bots and the browser client (compiled to WebAssembly on the first start).`); err != nil {
		cli.Exit("arena", err)
	}
	var m *game.Map
	if *large {
		m = game.NewMap(largeTiles)
		botsSet := false
		flag.Visit(func(f *flag.Flag) { botsSet = botsSet || f.Name == "bots" })
		if !botsSet {
			*bots = largeBots
		}
	}

	// Listen before anything else: with the port taken, that is the only error.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "arena: %v (is an arena already running? -addr chooses another address)\n", err)
		os.Exit(1)
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := server.Config{
		Listener:     ln,
		LobbyURL:     *lobbyURL,
		PageLobbyURL: *pageLobby,
		RoomName:     *room,
		HostSecret:   os.Getenv(*secretEnv),
		Bots:         *bots,
		Map:          m,
		NoHost:       *noHost,
		CacheDir:     *cacheDir,
		Logger:       log,
		Transport:    netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: !*public}},
	}
	cfg.Compiling = func() {
		fmt.Fprintln(os.Stderr, "arena: compiling the browser client to WebAssembly (first start only: about a minute, see the README)")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = server.DefaultCacheDir()
	}
	err = server.Run(ctx, cfg, func(a *server.Arena) {
		if *noHost {
			fmt.Fprintf(os.Stderr, "arena: no host here: lobby %s, %d bots (they join rooms hosted from browser tabs)\n", a.LobbyURL, *bots)
		} else {
			fmt.Fprintf(os.Stderr, "arena: room %s on lobby %s, %d bots\n", a.RoomID, a.LobbyURL, *bots)
		}
		go func() {
			start := time.Now()
			if err := a.WaitWeb(ctx); err != nil {
				if ctx.Err() == nil {
					fmt.Fprintf(os.Stderr, "arena: the browser client is unavailable: %v\n", err)
				}
				return
			}
			fmt.Fprintf(os.Stderr, "arena: browser client ready in %s\n", time.Since(start).Round(100*time.Millisecond))
			fmt.Printf("Open %s to play (WASD or arrows to move, mouse to aim, click or space to shoot). Ctrl-C stops.\n", a.URL)
		}()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "arena:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "arena: stopped")
}

// The -large map: 4×4 classic arenas (256×144 units) and 60 bots.
const (
	largeTiles = 4
	largeBots  = 60
)

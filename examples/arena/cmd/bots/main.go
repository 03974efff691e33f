// Command bots joins an arena with N native bots that wander, aim and shoot, each a
// real netcode client over its own WebRTC connection, and prints a line of aggregate
// statistics every few seconds.
//
//	go run ./examples/arena/cmd/bots -n 32 -lobby ws://localhost:8080/ws
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/netcode"
)

func main() {
	n := flag.Int("n", 8, "number of bots")
	lobbyURL := flag.String("lobby", "ws://localhost:8080/ws", "lobby WebSocket URL")
	room := flag.String("room", "", "room ID to join (default: quick-join any open room)")
	prefix := flag.String("name", "bot", "bot name prefix")
	every := flag.Duration("every", 5*time.Second, "statistics interval")
	public := flag.Bool("public", false, "gather ICE candidates on every interface instead of loopback only")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed")
	verbose := flag.Bool("v", false, "log each bot's connection problems")
	if err := cli.Parse(flag.CommandLine, os.Args[1:], "bots [flags]", `Joins an arena with native bots, each a netcode client over its own WebRTC
connection, and prints their aggregate statistics every few seconds.`); err != nil {
		cli.Exit("bots", err)
	}

	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sw := bot.StartSwarm(ctx, bot.SwarmConfig{
		N:          *n,
		LobbyURL:   *lobbyURL,
		RoomID:     *room,
		NamePrefix: *prefix,
		Seed:       *seed,
		Client:     netcode.ClientConfig{Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: !*public}}},
		Logger:     log,
	})
	fmt.Fprintf(os.Stderr, "bots: %d bots joining %s (Ctrl-C stops)\n", *n, *lobbyURL)
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sw.Wait()
			fmt.Fprintln(os.Stderr, "bots: stopped")
			return
		case <-t.C:
			fmt.Println(time.Now().Format("15:04:05"), sw.Stats().Summary())
		}
	}
}

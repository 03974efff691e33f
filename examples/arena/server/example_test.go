package server_test

import (
	"context"
	"fmt"
	"time"

	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/netcode"
)

// Start runs the arena in-process: a lobby at /ws, a host in a room, bots, and the
// web client (skipped here with NoWeb, which would otherwise build the wasm client).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := server.Start(ctx, server.Config{
		NoWeb:     true,
		Bots:      2,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	fmt.Println("room open:", a.RoomID != "")
	for len(a.Host.Summary().Players) < 2 {
		select {
		case <-a.Host.Updated():
		case <-ctx.Done():
			panic("the bots did not join")
		}
	}
	fmt.Println("players:", len(a.Host.Summary().Players))
	// Output:
	// room open: true
	// players: 2
}

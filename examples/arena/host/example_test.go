package host_test

import (
	"context"
	"fmt"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// A host and one player on loopback: the player connects through an in-process
// signaling pipe (the lobby provides one Signaler per member in a real game) and
// appears in the host's state under its name.
func Example() {
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: loopback}})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	hostSig, playerSig := signaling.Pipe()
	defer hostSig.Close()
	go h.Accept(ctx, hostSig)
	s, err := client.Connect(ctx, client.Config{Name: "alice", Netcode: netcode.ClientConfig{Transport: loopback}}, playerSig)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	for {
		select {
		case <-h.Updated():
		case <-ctx.Done():
			panic("alice never showed up")
		}
		if p, ok := h.Summary().Player(s.ID()); ok && p.Name == "alice" {
			fmt.Printf("%s is in the arena with %d health\n", p.Name, p.Health)
			return
		}
	}
	// Output:
	// alice is in the arena with 100 health
}

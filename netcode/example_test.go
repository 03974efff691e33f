//go:build !js

package netcode_test

import (
	"context"
	"fmt"
	"time"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Ball is an entity type: its fields travel quantized in snapshots.
type Ball struct {
	X float32 `snap:"float,min=-100,max=100,prec=0.01"`
}

// Push is a command from a client.
type Push struct {
	DX float32 `msgpack:"dx"`
}

// A complete host and client over loopback WebRTC: the client pushes its ball, the
// host moves it, answers with an event, and the client sees the new position in a
// snapshot.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ball{}); err != nil {
		panic(err)
	}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}

	// The host. Step runs on the tick goroutine, 60 times a second; it owns t.World.
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry:  reg,
		Transport: loopback,
		Step: func(t *netcode.Tick) {
			for _, id := range t.Joined {
				t.World.Set(snapshot.EntityID(id), 1, Ball{})
			}
			for _, l := range t.Left { // l.Reason: netcode.ErrClientLeft, ErrTimeout, ...
				t.World.Remove(snapshot.EntityID(l.Client))
			}
			for _, c := range t.Commands {
				var p Push
				if c.Decode(&p) != nil {
					continue
				}
				var b Ball
				t.World.Get(snapshot.EntityID(c.Client), &b)
				b.X += p.DX
				t.World.Set(snapshot.EntityID(c.Client), 1, b)
				t.Send(c.Client, fmt.Sprintf("ball at %.2f", b.X)) // an event
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	// Host and client meet through a lobby (below) or, here, an in-process pipe.
	hostSig, clientSig := signaling.Pipe()
	go srv.Accept(ctx, hostSig)

	// The client.
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, clientSig)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if err := c.Send(Push{DX: 1.5}); err != nil { // a command: reliable, exactly once, in order
		panic(err)
	}
	var msg string
	if err := (<-c.Events()).Decode(&msg); err != nil {
		panic(err)
	}
	fmt.Println("event:", msg)

	view := snapshot.NewWorld(reg)
	for {
		<-c.Updates()
		var b Ball
		c.Latest(view)
		if ok, _ := view.Get(snapshot.EntityID(c.ID()), &b); ok && b.X != 0 {
			fmt.Printf("snapshot: ball at %.2f\n", b.X)
			break
		}
	}
	// Output:
	// event: ball at 1.50
	// snapshot: ball at 1.50
}

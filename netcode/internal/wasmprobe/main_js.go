//go:build js && wasm

// Command wasmprobe is the browser half of netcode's headless-Chromium test: a Go/wasm
// netcode.Client that signals through JavaScript functions the test drives, pushes
// its ball once, then asks the host to cut its path and waits for its quiet watch to
// restart ICE and the snapshots to come back, and reports what it saw.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall/js"
	"time"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Ball and Push match the test's host.
type Ball struct {
	X float32 `snap:"float,min=-100,max=100,prec=0.01"`
}

type Push struct {
	DX float32 `msgpack:"dx"`
}

// jsSignaler sends signals to the page (window.volleyPush) and receives them from it
// (window.volleyIn, installed here).
type jsSignaler struct{ in chan signaling.Signal }

func (s *jsSignaler) SendSignal(ctx context.Context, sg signaling.Signal) error {
	b, err := json.Marshal(sg)
	if err != nil {
		return err
	}
	js.Global().Call("volleyPush", string(b))
	return nil
}

func (s *jsSignaler) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	select {
	case sg := <-s.in:
		return sg, nil
	case <-ctx.Done():
		return signaling.Signal{}, ctx.Err()
	}
}

func main() {
	sig := &jsSignaler{in: make(chan signaling.Signal, 64)}
	js.Global().Set("volleyIn", js.FuncOf(func(this js.Value, args []js.Value) any {
		var sg signaling.Signal
		if err := json.Unmarshal([]byte(args[0].String()), &sg); err == nil {
			sig.in <- sg
		}
		return nil
	}))
	go func() {
		js.Global().Call("volleyFinish", run(sig))
	}()
	select {}
}

func run(sig signaling.Signaler) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ball{}); err != nil {
		return "error: " + err.Error()
	}
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg}, sig)
	if err != nil {
		return "error: dial: " + err.Error()
	}
	defer c.Close()
	if err := c.Send(Push{DX: 1.5}); err != nil {
		return "error: send: " + err.Error()
	}
	var msg string
	select {
	case ev := <-c.Events():
		if err := ev.Decode(&msg); err != nil {
			return "error: event: " + err.Error()
		}
	case <-c.Done():
		return fmt.Sprintf("error: disconnected waiting for the event: %v (stats %+v)", c.Err(), c.Stats())
	case <-ctx.Done():
		return fmt.Sprintf("error: no event (stats %+v)", c.Stats())
	}
	view := snapshot.NewWorld(reg)
	for {
		select {
		case <-c.Updates():
		case <-c.Done():
			return fmt.Sprintf("error: disconnected waiting for a snapshot: %v (stats %+v)", c.Err(), c.Stats())
		case <-ctx.Done():
			return fmt.Sprintf("error: no snapshot (stats %+v)", c.Stats())
		}
		c.Latest(view)
		var b Ball
		if ok, _ := view.Get(snapshot.EntityID(c.ID()), &b); ok && b.X != 0 {
			return fmt.Sprintf("ok event=%q x=%.2f %s", msg, b.X, cutOff(ctx, c))
		}
	}
}

// cutOff asks the host to cut its network (a negative push), waits for the quiet
// watch to restart ICE and for a snapshot after that, and reports the quiet restarts.
func cutOff(ctx context.Context, c *netcode.Client) string {
	if err := c.Send(Push{DX: -1}); err != nil {
		return "error: send: " + err.Error()
	}
	tick := time.NewTicker(20 * time.Millisecond) // Stats signals no event
	defer tick.Stop()
	for c.Stats().QuietRestarts == 0 {
		select {
		case <-tick.C:
		case <-c.Done():
			return fmt.Sprintf("error: disconnected waiting for a quiet restart: %v (stats %+v)", c.Err(), c.Stats())
		case <-ctx.Done():
			return fmt.Sprintf("error: no quiet restart (stats %+v)", c.Stats())
		}
	}
	for n := c.Stats().Snapshots; c.Stats().Snapshots == n || c.State() != netcode.LinkConnected; {
		select {
		case <-c.Updates():
		case <-tick.C:
		case <-c.Done():
			return fmt.Sprintf("error: disconnected after the restart: %v (stats %+v)", c.Err(), c.Stats())
		case <-ctx.Done():
			return fmt.Sprintf("error: no snapshot after the restart (state %v, stats %+v)", c.State(), c.Stats())
		}
	}
	return fmt.Sprintf("quiet restarts=%d", c.Stats().QuietRestarts)
}

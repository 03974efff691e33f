//go:build js && wasm

// Command wasmclient is the browser half of lobby's TestBrowserClient: it joins the
// lobby from a page through the browser's WebSocket, signals the room's host, and
// reports in window.lobbyResult.
package main

import (
	"context"
	"fmt"
	"syscall/js"
	"time"

	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

func main() {
	js.Global().Set("lobbyResult", play())
}

// play returns "ok: <answer>" or an error text.
func play() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := js.Global().Get("lobbyURL").String()
	c, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		return "error: " + err.Error()
	}
	defer c.Close()
	rooms, err := c.List(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	if len(rooms) != 1 {
		return fmt.Sprintf("error: rooms = %+v", rooms)
	}
	if _, err := c.Join(ctx, rooms[0].ID, "pw"); err != nil {
		return "error: " + err.Error()
	}
	sig := c.HostSignaler()
	mid, idx := "0", uint16(0)
	if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "offer from " + c.ID()}); err != nil {
		return "error: " + err.Error()
	}
	if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeICE, Candidate: "candidate:wasm", SDPMid: &mid, SDPMLineIndex: &idx}); err != nil {
		return "error: " + err.Error()
	}
	answer, err := sig.RecvSignal(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	if err := c.Leave(ctx); err != nil {
		return "error: " + err.Error()
	}
	return "ok: " + answer.SDP
}

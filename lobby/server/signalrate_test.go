package server

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/volleynet/volley/lobby"
)

// TestHostBudgetGrowsWithRoom: players signaling their host as fast as they are
// allowed, and a host answering each signal with three (an answer and candidates, as a
// netcode host does), must not get the host's connection closed for flooding. Without
// the host's budget growing with its room, or without the players' own signal limit,
// the host would stay throttled past ThrottleTimeout and be cut, ending the room.
func TestHostBudgetGrowsWithRoom(t *testing.T) {
	const (
		players   = 2
		perPlayer = 300 // over 3 s: longer than ThrottleTimeout
		replies   = 3
	)
	// Players may send 100 signals/s (of 400 messages/s); the host answers 3 each, so
	// it needs 600 messages/s: more than 400, less than 400 × (1 + 2 members).
	env := newEnv(t, Config{MessagesPerSecond: 400, MessageBurst: 20, SignalsPerSecond: 100, SignalBurst: 20})
	host := dialRaw(t, env.url)
	room := host.create("busy", players+1, "")
	ps := make([]*raw, players)
	for i := range ps {
		ps[i] = dialRaw(t, env.url)
		ps[i].join(room.ID, "")
		host.expect(lobby.TypeMemberJoined)
	}

	// The host answers every signal it gets until all have come.
	hostDone := make(chan error, 1)
	go func() {
		for got := 0; got < players*perPlayer; {
			var m lobby.Message
			select {
			case m = <-host.msgs:
			case <-host.closed:
				hostDone <- fmt.Errorf("host connection closed after %d signals: %v", got, host.closeErr)
				return
			}
			if m.Type != lobby.TypeSignal {
				continue
			}
			got++
			for i := range replies {
				data, _ := json.Marshal(lobby.Message{Type: lobby.TypeSignal, To: m.From, Signal: ice(i)})
				if err := host.c.WriteMessage(websocket.TextMessage, data); err != nil {
					hostDone <- fmt.Errorf("host write after %d signals: %w", got, err)
					return
				}
			}
		}
		hostDone <- nil
	}()
	for _, p := range ps {
		go func() {
			// At the most the server allows (just under SignalsPerSecond), as an
			// attacker would: faster, the player itself would be throttled and cut.
			pace := rate.NewLimiter(90, 1)
			for i := range perPlayer {
				if pace.Wait(context.Background()) != nil {
					return
				}
				data, _ := json.Marshal(lobby.Message{Type: lobby.TypeSignal, Signal: offer(fmt.Sprint(i))})
				if p.c.WriteMessage(websocket.TextMessage, data) != nil {
					return // the reader reports the close
				}
			}
		}()
	}
	for _, p := range ps {
		for n := 0; n < perPlayer*replies; {
			if m := p.recv(); m.Type == lobby.TypeSignal {
				n++
			}
		}
	}
	if err := <-hostDone; err != nil {
		t.Fatal(err)
	}
	host.roundTrip() // still connected
	if n := env.metric(t, "lobby_rejections_total", lobby.ReasonRateLimited); n != 0 {
		t.Fatalf("%v connections closed for flooding", n)
	}
}

// TestPlayerSignalRate: a player that signals its host faster than SignalsPerSecond is
// throttled and, once it has stayed throttled for ThrottleTimeout, closed with 1008,
// although the same number of other messages would pass.
func TestPlayerSignalRate(t *testing.T) {
	env := newEnv(t, Config{MessagesPerSecond: 1e6, MessageBurst: 1e6, SignalsPerSecond: 10, SignalBurst: 5})
	host := dialRaw(t, env.url)
	room := host.create("flooded", 4, "")

	calm := dialRaw(t, env.url)
	calm.join(room.ID, "")
	for range 200 {
		calm.send(lobby.Message{Type: lobby.TypeList})
	}
	calm.roundTrip() // 200 lists at once are not throttled

	flooder := dialRaw(t, env.url)
	flooder.join(room.ID, "")
	go func() {
		for i := range 200 { // 20 s at 10 per second
			data, _ := json.Marshal(lobby.Message{Type: lobby.TypeSignal, Signal: offer(fmt.Sprint(i))})
			if flooder.c.WriteMessage(websocket.TextMessage, data) != nil {
				return
			}
		}
	}()
	if err := flooder.waitClose(); closeCode(err) != websocket.ClosePolicyViolation {
		t.Fatalf("flooder closed with %v, want 1008", err)
	}
	if n := env.metric(t, "lobby_rejections_total", lobby.ReasonRateLimited); n != 1 {
		t.Fatalf("rate_limited rejections = %v, want 1", n)
	}
	calm.roundTrip()
	host.roundTrip()
}

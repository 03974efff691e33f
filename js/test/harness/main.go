// Command harness runs real Volley servers for the JS client's integration tests
// (js/test/session.test.js starts it with go run): the arena (lobby at /ws, host in a
// room, the JS page at /js/) and an "echo" game in a second room of the same lobby,
// all on loopback. It prints one JSON line when ready, then answers one JSON request
// per stdin line with one JSON line:
//
//	{"op":"arena"}                       the arena host's players
//	{"op":"echo"}                        what the echo host received, per client
//	{"op":"kick","id":N,"reason":"..."}  kick an echo client
//	{"op":"move","id":N,"x":X}           set an echo client's entity X
//
// A third room, "full", is hosted by an echo server with MaxClients 1 that the harness
// fills with a Go client of its own, so that joining it is refused (host_full).
//
// The echo game: each client owns entity <client ID> (type 1: X, N); a command
// {"seq": n} increments N and is answered with the event {"seq": n, "n": N}; an
// input's first byte (signed) moves X. It exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// Counter is the echo game's entity.
type Counter struct {
	X float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
	N int     `snap:"int,min=0,max=65535"`
}

type echoClient struct {
	Commands []int   `json:"commands"`
	Inputs   int     `json:"inputs"`
	Late     uint64  `json:"late"`   // inputs that arrived after their tick ran (the host's drop count)
	Future   uint64  `json:"future"` // inputs stamped too far ahead (the host's drop count)
	X        float32 `json:"x"`
	Left     string  `json:"left,omitempty"` // the departure reason
}

type echoGame struct {
	mu      sync.Mutex
	clients map[netcode.ClientID]*echoClient
	moves   map[netcode.ClientID]float32
}

func (g *echoGame) step(t *netcode.Tick) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range t.Joined {
		g.clients[id] = &echoClient{Commands: []int{}}
		_ = t.World.Set(snapshot.EntityID(id), 1, Counter{})
	}
	for _, l := range t.Left {
		if c := g.clients[l.Client]; c != nil {
			c.Left = l.Reason.Error()
		}
		t.World.Remove(snapshot.EntityID(l.Client))
	}
	for _, in := range t.Inputs {
		c := g.clients[in.Client]
		var e Counter
		if ok, _ := t.World.Get(snapshot.EntityID(in.Client), &e); !ok || c == nil || len(in.Data) == 0 {
			continue
		}
		c.Inputs++
		e.X += float32(int8(in.Data[0]))
		c.X = e.X
		_ = t.World.Set(snapshot.EntityID(in.Client), 1, e)
	}
	for id, x := range g.moves {
		var e Counter
		if ok, _ := t.World.Get(snapshot.EntityID(id), &e); ok {
			e.X = x
			g.clients[id].X = x
			_ = t.World.Set(snapshot.EntityID(id), 1, e)
		}
		delete(g.moves, id)
	}
	for _, cmd := range t.Commands {
		var m struct {
			Seq int `msgpack:"seq"`
		}
		c := g.clients[cmd.Client]
		if cmd.Decode(&m) != nil || c == nil {
			continue
		}
		c.Commands = append(c.Commands, m.Seq)
		var e Counter
		t.World.Get(snapshot.EntityID(cmd.Client), &e)
		e.N++
		_ = t.World.Set(snapshot.EntityID(cmd.Client), 1, e)
		_ = t.Send(cmd.Client, map[string]int{"seq": m.Seq, "n": e.N})
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	a, err := server.Start(ctx, server.Config{NoWeb: true, Transport: loopback})
	if err != nil {
		return err
	}
	defer a.Close()

	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Counter{}); err != nil {
		return err
	}
	g := &echoGame{clients: map[netcode.ClientID]*echoClient{}, moves: map[netcode.ClientID]float32{}}
	srv, err := netcode.NewServer(netcode.ServerConfig{Registry: reg, Transport: loopback, Step: g.step})
	if err != nil {
		return err
	}
	defer srv.Close()
	lc, err := lobby.Dial(ctx, a.LobbyURL, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer lc.Close()
	room, err := lc.Create(ctx, lobby.RoomOptions{Name: "echo", Capacity: 16})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	serve := func(lc *lobby.Client, srv *netcode.Server) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, sig, err := lc.AcceptMember(ctx)
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = srv.Accept(ctx, sig)
				}()
			}
		}()
	}
	serve(lc, srv)

	// The full room: one client already in, MaxClients 1.
	full, err := netcode.NewServer(netcode.ServerConfig{Registry: reg, Transport: loopback, MaxClients: 1})
	if err != nil {
		return err
	}
	defer full.Close()
	flc, err := lobby.Dial(ctx, a.LobbyURL, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer flc.Close()
	fullRoom, err := flc.Create(ctx, lobby.RoomOptions{Name: "full", Capacity: 16})
	if err != nil {
		return err
	}
	serve(flc, full)
	plc, err := lobby.Dial(ctx, a.LobbyURL, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer plc.Close()
	if _, err := plc.Join(ctx, fullRoom.ID, ""); err != nil {
		return err
	}
	player, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, plc.HostSignaler())
	if err != nil {
		return fmt.Errorf("filling the full room: %w", err)
	}
	defer player.Close()

	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]any{
		"ready": true, "lobby": a.LobbyURL, "page": a.URL + "js/", "arena": a.RoomID, "echo": room.ID, "full": fullRoom.ID,
		"echoSchema": json.RawMessage(reg.Schema().JSON()), "arenaFingerprint": game.NewRegistry().Fingerprint(),
	}); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var req struct {
			Op     string  `json:"op"`
			ID     uint32  `json:"id"`
			Reason string  `json:"reason"`
			X      float32 `json:"x"`
		}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return fmt.Errorf("bad request %q: %w", in.Text(), err)
		}
		var resp any
		switch req.Op {
		case "arena":
			resp = a.Host.Summary()
		case "echo":
			g.mu.Lock()
			for id, c := range g.clients {
				if st, ok := srv.ClientStats(id); ok {
					c.Late, c.Future = st.Drops[netcode.DropLateInput], st.Drops[netcode.DropFutureInput]
				}
			}
			b, _ := json.Marshal(g.clients)
			g.mu.Unlock()
			resp = json.RawMessage(b)
		case "kick":
			resp = errString(srv.Kick(netcode.ClientID(req.ID), req.Reason))
		case "move":
			g.mu.Lock()
			g.moves[netcode.ClientID(req.ID)] = req.X
			g.mu.Unlock()
			resp = "ok"
		default:
			resp = "unknown op " + req.Op
		}
		if err := out.Encode(map[string]any{"op": req.Op, "result": resp}); err != nil {
			return err
		}
	}
	if err := in.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	// Give clients that are still connected a goodbye before everything closes.
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return nil
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

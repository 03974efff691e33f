//go:build !js

package lobby_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// Ball is the entity of the README's first game (netcode's Example).
type Ball struct {
	X float32 `snap:"float,min=-100,max=100,prec=0.01"`
}

// Push is its command.
type Push struct {
	DX float32 `msgpack:"dx"`
}

// hostGame opens a room in the lobby at lobbyURL and, until the returned lobby
// client is closed, connects every member that starts signaling to srv.
func hostGame(ctx context.Context, lobbyURL string, srv *netcode.Server) (*lobby.Client, error) {
	lc, err := lobby.Dial(ctx, lobbyURL, lobby.ClientConfig{})
	if err != nil {
		return nil, err
	}
	// Game and GameVersion keep players of other games out of the room.
	room := lobby.RoomOptions{Name: "balls", Capacity: 16, Game: "balls", GameVersion: "1"}
	if _, err := lc.Create(ctx, room); err != nil {
		lc.Close()
		return nil, err
	}
	go func() {
		for {
			_, sig, err := lc.AcceptMember(ctx) // one Signaler per member that signals
			if err != nil {
				return // lc closed or ctx ended
			}
			go srv.Accept(ctx, sig)
		}
	}()
	return lc, nil
}

// joinGame quick-joins a room of this game in the lobby at lobbyURL and connects to
// its host. Keep the lobby client open while playing: it carries the signaling.
func joinGame(ctx context.Context, lobbyURL string, reg *snapshot.Registry) (*netcode.Client, *lobby.Client, error) {
	lc, err := lobby.Dial(ctx, lobbyURL, lobby.ClientConfig{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := lc.QuickJoinMatching(ctx, lobby.RoomFilter{Game: "balls", GameVersion: "1"}); err != nil {
		lc.Close()
		return nil, nil, err
	}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}} // as the host's
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, lc.HostSignaler())
	if err != nil {
		lc.Close()
		return nil, nil, err
	}
	return c, lc, nil
}

// The README's game through a lobby: the host opens a room, a player quick-joins it
// and connects over WebRTC, pushes its ball and gets the host's answer.
func Example_game() {
	// A lobby on a free port, as go run ./lobby/cmd/lobby serves at ws://localhost:8089/ws.
	ls := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(ls.Mux())
	defer ts.Close()
	defer ls.Close()
	lobbyURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ball{}); err != nil {
		panic(err)
	}
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry:  reg,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
		Step: func(t *netcode.Tick) {
			for _, c := range t.Commands {
				var p Push
				if c.Decode(&p) == nil {
					_ = t.Send(c.Client, fmt.Sprintf("pushed by %.1f", p.DX))
				}
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	host, err := hostGame(ctx, lobbyURL, srv)
	if err != nil {
		panic(err)
	}
	defer host.Close()
	c, player, err := joinGame(ctx, lobbyURL, reg)
	if err != nil {
		panic(err)
	}
	defer player.Close()
	defer c.Close()

	if err := c.Send(Push{DX: 1.5}); err != nil {
		panic(err)
	}
	var msg string
	if err := (<-c.Events()).Decode(&msg); err != nil {
		panic(err)
	}
	fmt.Println(msg)
	// Output: pushed by 1.5
}

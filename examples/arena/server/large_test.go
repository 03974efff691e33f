package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// TestLargeMap starts the arena on a 2×2 map with bots; a player joining through the
// lobby learns the map from the room, plays on it, and (interest management) receives
// fewer entities than the map holds once someone is far from it.
func TestLargeMap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	a, err := server.Start(ctx, server.Config{Bots: 6, NoWeb: true, Transport: loopback, Map: game.NewMap(2)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lc, sig, m, err := client.JoinRoom(ctx, a.LobbyURL, a.RoomID, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if m.Tiles != 2 {
		t.Fatalf("the room names a map of %d tiles, want 2", m.Tiles)
	}
	// Another schema, another version: classic-arena clients never quick-join it.
	page, err := lc.ListPage(ctx, lobby.ListOptions{Game: game.LobbyGame})
	if err != nil || len(page.Rooms) != 1 || page.Rooms[0].GameVersion != game.LobbyVersionFor(m) || page.Rooms[0].GameVersion == game.LobbyVersion {
		t.Errorf("arena rooms = %+v, %v; want one of version %s", page.Rooms, err, game.LobbyVersionFor(m))
	}
	sess, err := client.Connect(ctx, client.Config{Name: "me", Map: m, Netcode: client.WithLobbyICE(netcode.ClientConfig{Transport: loopback}, lc)}, sig)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	frames := time.NewTicker(time.Second / 60)
	defer frames.Stop()
	var f *client.Frame
	for {
		select {
		case <-frames.C:
		case <-ctx.Done():
			t.Fatalf("never received fewer entities than the map holds: last frame %+v, host %d players", f.Net, len(a.Host.Summary().Players))
		}
		sess.Poll()
		if err := sess.Input(game.ButtonRight, 0); err != nil {
			t.Fatal(err)
		}
		f = sess.Frame(1.0 / 60)
		players := len(a.Host.Summary().Players)
		if f.Connected && players == 7 && f.Net.Entities > 0 && f.Net.Entities < players {
			break
		}
	}
	t.Logf("receiving %d entities of a map with 7 players; bots: %v", f.Net.Entities, a.Bots().Stats().Summary())
}

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
	"github.com/volleynet/volley/signaling"
)

// A host creates a room, a player joins it, and they exchange an offer and an answer
// through the lobby: the same Signalers plug into netcode.
func Example() {
	srv := lobbyserver.New(lobbyserver.Config{}) // development defaults: anyone may host
	ts := httptest.NewServer(srv.Mux())
	defer ts.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	host, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer host.Close()
	room, _ := host.Create(ctx, lobby.RoomOptions{Name: "arena", Capacity: 8, Game: "mygame", GameVersion: "1"})

	player, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer player.Close()
	// Only rooms of this game and version: never another game's room.
	info, _ := player.QuickJoinMatching(ctx, lobby.RoomFilter{Game: "mygame", GameVersion: "1"})
	fmt.Println("joined", info.Name, info.ID == room.ID)

	// Player side: a Signaler to the host (what netcode.Dial takes).
	toHost := player.HostSignaler()
	toHost.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "v=0..."})

	// Host side: one Signaler per member that starts signaling (what a netcode host accepts).
	memberID, member, _ := host.AcceptMember(ctx)
	offer, _ := member.RecvSignal(ctx)
	fmt.Println("host got", offer.Type, "from the player:", memberID == player.ID())
	member.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: "v=0..."})

	answer, _ := toHost.RecvSignal(ctx)
	fmt.Println("player got", answer.Type)
	// Output:
	// joined arena true
	// host got offer from the player: true
	// player got answer
}

// Walking every room of a game, a page at a time.
func ExampleClient_ListPage() {
	srv := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(srv.Mux())
	defer ts.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"north", "south", "east"} {
		host, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
		defer host.Close()
		host.Create(ctx, lobby.RoomOptions{Name: name, Game: "mygame"})
	}

	c, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer c.Close()
	opts := lobby.ListOptions{Game: "mygame", Limit: 2}
	for {
		page, err := c.ListPage(ctx, opts)
		if err != nil {
			break
		}
		for _, r := range page.Rooms {
			fmt.Println(r.Name)
		}
		if page.Next == "" {
			break
		}
		opts.Cursor = page.Next
	}
	// Output:
	// north
	// south
	// east
}

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
	room, _ := host.Create(ctx, lobby.RoomOptions{Name: "arena", Capacity: 8})

	player, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer player.Close()
	info, _ := player.QuickJoin(ctx)
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

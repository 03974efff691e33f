package turnserver_test

import (
	"fmt"
	"net"

	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/turnserver"
)

// A lobby and its relay share one TURN secret: the relay accepts the credentials the
// lobby puts in its welcomes.
func Example() {
	const secret = "change-me" // in production: from the environment (LOBBY_TURN_SECRET)
	relay, err := turnserver.New(turnserver.Config{
		Secret:    secret,
		ListenUDP: "127.0.0.1:0", // ":3478" in production, with RelayIP the public IP
		ListenTCP: "127.0.0.1:0",
		RelayIP:   net.IPv4(127, 0, 0, 1),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer relay.Close()
	lob := lobbyserver.New(lobbyserver.Config{TURNURLs: relay.URLs(""), TURNSecret: secret})
	defer lob.Close()
	fmt.Println(len(relay.URLs("")), "TURN URLs (UDP and TCP)")
	// Output: 2 TURN URLs (UDP and TCP)
}

package client

import (
	"errors"
	"fmt"

	"github.com/volleynet/volley/netcode"
)

// ErrLobbyUnreachable is wrapped by JoinRoom's error when the lobby cannot be reached.
var ErrLobbyUnreachable = errors.New("cannot reach the lobby")

// Refusal explains, for the player, why the arena host refused the connection; ok is
// false when err is not a refusal (see netcode.RejectError).
func Refusal(err error) (why string, ok bool) {
	var r *netcode.RejectError
	if !errors.As(err, &r) {
		return "", false
	}
	switch {
	case errors.Is(err, netcode.ErrHostFull):
		return "The arena is full", true
	case errors.Is(err, netcode.ErrBusy):
		return "The arena host is busy with other players joining", true
	case errors.Is(err, netcode.ErrBadChannel):
		return "The arena host refused this client's connection settings", true
	case errors.Is(err, netcode.ErrServerClosed):
		return "The arena host is shutting down", true
	case errors.Is(err, netcode.ErrTimeout):
		return "The connection to the arena host took too long", true
	}
	return fmt.Sprintf("The arena host refused the connection (%s)", r.Code), true
}

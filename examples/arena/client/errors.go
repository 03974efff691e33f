package client

import "errors"

// ErrLobbyUnreachable is wrapped by JoinRoom's error when the lobby cannot be reached.
var ErrLobbyUnreachable = errors.New("cannot reach the lobby")

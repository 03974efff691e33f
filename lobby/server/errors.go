package server

import "errors"

// ErrRoomExists is returned by Store.CreateRoom when the room ID is taken. The other
// Store errors are lobby.ErrRoomNotFound, lobby.ErrRoomFull and
// lobby.ErrNoRoomAvailable, shared with the client.
var ErrRoomExists = errors.New("lobby: room ID already in use")

package client

import (
	"encoding/json"

	"github.com/volleynet/volley/examples/arena/game"
)

// roomMeta is the arena room's lobby metadata: which map the host plays.
type roomMeta struct {
	Tiles int `json:"tiles"`
}

// MapMetadata returns the lobby room metadata that names m (for lobby.RoomOptions).
func MapMetadata(m *game.Map) json.RawMessage {
	tiles := 1
	if m != nil {
		tiles = m.Tiles
	}
	b, _ := json.Marshal(roomMeta{Tiles: tiles})
	return b
}

// MapFromMetadata returns the map a room's metadata names: game.DefaultMap when it
// names none (or cannot be read), so that rooms of other hosts still work.
func MapFromMetadata(raw json.RawMessage) *game.Map {
	var rm roomMeta
	if len(raw) == 0 || json.Unmarshal(raw, &rm) != nil || rm.Tiles <= 1 {
		return game.DefaultMap
	}
	return game.NewMap(rm.Tiles)
}

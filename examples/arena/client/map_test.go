package client_test

import (
	"encoding/json"
	"testing"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
)

func TestMapMetadata(t *testing.T) {
	for _, tiles := range []int{1, 2, 4, game.MaxTiles} {
		if got := client.MapFromMetadata(client.MapMetadata(game.NewMap(tiles))); got.Tiles != tiles {
			t.Errorf("%d tiles came back as %d", tiles, got.Tiles)
		}
	}
	for _, raw := range []string{"", "null", `{"tiles":"x"}`, `[1]`, `{"tiles":-3}`, `{}`} {
		if got := client.MapFromMetadata(json.RawMessage(raw)); got != game.DefaultMap {
			t.Errorf("metadata %q: %d tiles, want the classic arena", raw, got.Tiles)
		}
	}
}

// FuzzMapFromMetadata: any room metadata gives a usable map.
func FuzzMapFromMetadata(f *testing.F) {
	f.Add([]byte(`{"tiles":4}`))
	f.Add([]byte(`{"tiles":1e9}`))
	f.Add([]byte(`{"tiles":2,"x":[1,2]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := client.MapFromMetadata(raw)
		if m == nil || m.Tiles < 1 || m.Tiles > game.MaxTiles {
			t.Fatalf("metadata %q gave %+v", raw, m)
		}
	})
}

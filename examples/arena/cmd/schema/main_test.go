package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/volleynet/volley/examples/arena/game"
)

// TestCheckedInSchemaFresh fails when the arena's entity types changed and the exported
// schema was not regenerated.
func TestCheckedInSchemaFresh(t *testing.T) {
	for name, want := range files(game.NewRegistry()) {
		got, err := os.ReadFile(filepath.Join("..", "..", "schema", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("examples/arena/schema/%s is stale: run go run ./examples/arena/cmd/schema", name)
		}
	}
}

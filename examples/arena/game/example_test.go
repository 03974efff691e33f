package game_test

import (
	"fmt"

	"github.com/volleynet/volley/examples/arena/game"
)

// A host steps the game with each tick's inputs; a client predicts its own player
// with the same movement code: from the host's state, it replays the inputs the host
// has not applied yet (the arena's client does it with a netcode.Predictor).
func Example() {
	const dt = 1.0 / 60
	var s game.State
	alice := s.AddPlayer(1, "alice")
	s.AddPlayer(2, "bob")
	alice.Pos = game.Vec{X: 4, Y: 13}

	// Host: alice walks right for half a second.
	for tick := uint32(1); tick <= 30; tick++ {
		game.Step(&s, map[game.PlayerID]game.Input{1: {Seq: tick, Buttons: game.ButtonRight}}, dt, nil)
	}
	fmt.Printf("host: alice at %.2f,%.2f after input %d\n", alice.Pos.X, alice.Pos.Y, alice.LastInput)

	// Client: it sent 35 inputs; the host has applied 30 of them.
	predicted := *alice
	for range 5 {
		game.MovePlayer(&predicted, game.Input{Buttons: game.ButtonRight}, dt)
	}
	fmt.Printf("client: alice at %.2f,%.2f with %d inputs pending\n", predicted.Pos.X, predicted.Pos.Y, 5)
	// Output:
	// host: alice at 9.10,13.00 after input 30
	// client: alice at 9.95,13.00 with 5 inputs pending
}

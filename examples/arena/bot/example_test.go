package bot_test

import (
	"fmt"

	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/game"
)

// A bot sees an enemy in range with nothing in between: it aims at it and shoots.
func ExampleBrain() {
	b := bot.NewBrain(1)
	self := game.Player{ID: 1, Pos: game.Vec{X: 4, Y: 4}, Alive: true, Health: 100}
	enemy := game.Player{ID: 2, Pos: game.Vec{X: 14, Y: 4}, Alive: true, Health: 100}
	buttons, aim := b.Think(self, []game.Player{self, enemy}, 1.0/60)
	fmt.Println("fire:", buttons&game.ButtonFire != 0)
	fmt.Printf("aims right: %v\n", aim > -0.2 && aim < 0.2)
	// Output:
	// fire: true
	// aims right: true
}

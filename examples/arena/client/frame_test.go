package client_test

import (
	"fmt"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
)

func ExampleFrame_Scoreboard() {
	f := client.Frame{Players: []client.PlayerView{
		{Player: game.Player{ID: 1, Name: "alice", Kills: 2, Deaths: 3}},
		{Player: game.Player{ID: 2, Name: "bob", Kills: 5, Deaths: 1}, Local: true},
		{Player: game.Player{ID: 3, Name: "carol", Kills: 2, Deaths: 0}},
	}}
	for _, p := range f.Scoreboard() {
		fmt.Println(p.Name, p.Kills, p.Deaths)
	}
	// Output:
	// bob 5 1
	// carol 2 0
	// alice 2 3
}

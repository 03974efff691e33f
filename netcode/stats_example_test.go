package netcode_test

import (
	"fmt"

	"github.com/volleynet/volley/netcode"
)

// Drop counts print labelled, so that logging a Stats shows which drops happened.
func ExampleDropCounts() {
	var d netcode.DropCounts
	fmt.Println(d)
	d[netcode.DropBackpressure] = 3
	d[netcode.DropStale]++
	fmt.Println(d)
	fmt.Printf("%+v\n", netcode.Stats{Drops: d}.Drops)
	// Output:
	// none
	// backpressure=3 stale=1
	// backpressure=3 stale=1
}

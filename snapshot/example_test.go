package snapshot_test

import (
	"fmt"

	"github.com/volleynet/volley/snapshot"
)

type Ship struct {
	X       float32 `snap:"float,min=-100,max=100,prec=0.01"`
	Y       float32 `snap:"float,min=-100,max=100,prec=0.01"`
	Heading float32 `snap:"angle,bits=10"`
	Health  int     `snap:"int,min=0,max=100,teleport"`
	Boost   bool    `snap:"bool"`
	Name    string  // not replicated
}

func Example() {
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ship{}); err != nil {
		panic(err)
	}

	// Host: the authoritative world and one encoder per client.
	world := snapshot.NewWorld(reg)
	enc := snapshot.NewEncoder(reg, snapshot.EncoderConfig{})
	// Client: one decoder.
	dec := snapshot.NewDecoder(reg)

	var pkts [][]byte
	for tick := uint32(1); tick <= 3; tick++ {
		world.Set(7, 1, Ship{X: float32(tick), Y: -2.5, Heading: 1.5, Health: 100})
		pkts, _ = enc.Encode(pkts[:0], world, tick)
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil { // sent over the unreliable channel
				panic(err)
			}
		}
		ack := snapshot.AppendAck(nil, dec.Ack()) // sent back to the host
		a, _, _ := snapshot.DecodeAck(ack)
		if err := enc.Ack(a); err != nil {
			panic(err)
		}
		fmt.Printf("tick %d: %d bytes\n", tick, len(pkts[0]))
	}

	var s Ship
	dec.World().Get(7, &s)
	fmt.Printf("X=%.2f Y=%.2f heading=%.3f health=%d equal=%v\n", s.X, s.Y, s.Heading, s.Health, dec.World().Equal(world))
	// Output:
	// tick 1: 19 bytes
	// tick 2: 16 bytes
	// tick 3: 13 bytes
	// X=3.00 Y=-2.50 heading=1.497 health=100 equal=true
}

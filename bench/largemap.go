package main

import (
	"fmt"
	"math"
	"time"

	"github.com/volleynet/volley/internal/arenatrace"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// The large-map trace: the arena trace's game with many more players on a larger map,
// where interest management matters. Its entity types are the trace's with wider
// ranges (the same Go fields, so the trace's values convert directly).
type largePlayer struct {
	ID     uint32  `snap:"-"`
	X      float32 `snap:"float,min=0,max=1000,prec=0.01"`
	Y      float32 `snap:"float,min=0,max=1000,prec=0.01"`
	Angle  float32 `snap:"angle,bits=10"`
	Health int     `snap:"int,min=0,max=100"`
	Score  int     `snap:"int,min=0,max=1023"`
	Alive  bool    `snap:"bool,teleport"`
}

type largeProjectile struct {
	ID    uint32  `snap:"-"`
	X     float32 `snap:"float,min=0,max=1000,prec=0.01"`
	Y     float32 `snap:"float,min=0,max=1000,prec=0.01"`
	Angle float32 `snap:"angle,bits=8"`
	Owner int     `snap:"int,min=0,max=1023"`
}

// largeOpts configures the large-map rows of the bandwidth command.
type largeOpts struct {
	players, clients int
	size, radius     float64
	budget           int // bytes per second of the budget row
}

// largeResult is one row of the large-map table.
type largeResult struct {
	Name        string  `json:"name"`
	BPS         float64 `json:"bps"`                    // bytes per second per client
	Entities    float64 `json:"entities_per_client"`    // entities a client holds, mean over sends
	EncodeUS    float64 `json:"encode_us_per_client"`   // per client per send: relevance, Encode, Ack
	PrepareUS   float64 `json:"prepare_us_per_send"`    // per send tick: the grid's index
	MaxPacket   int     `json:"max_packet_bytes"`       // largest packet
	Deferred    int     `json:"deferred_entities"`      // entities that waited for a later send
	MaxSecond   int     `json:"max_bytes_in_a_second"`  // most bytes one client got in 30 sends
	Mismatches  int     `json:"mismatches"`             // lossless sends after which a client differed
	SampleCount int     `json:"clients_measured"`       // clients encoded
	Radius      float64 `json:"radius,omitempty"`       // interest radius
	Budget      int     `json:"budget_bps,omitempty"`   // bandwidth budget
	Players     int     `json:"players"`                // players on the map
	Size        float64 `json:"map_side"`               // map side in units
	Seconds     int     `json:"seconds"`                // simulated seconds
	AckDelay    int     `json:"ack_delay_sends"`        // sends between a snapshot and its ack
	MeanWorld   float64 `json:"entities_in_world_mean"` // entities in the world, mean over sends
}

// largeMapRows runs the large-map trace with every entity sent to every client, with
// a Grid interest, and with the interest and a bandwidth budget.
func largeMapRows(o bandwidthOpts, lo largeOpts) ([]largeResult, error) {
	var rows []largeResult
	for _, r := range []struct {
		name     string
		interest bool
		budget   int
	}{
		{"every entity to every client", false, 0},
		{fmt.Sprintf("interest: grid, radius %.0f", lo.radius), true, 0},
		{fmt.Sprintf("interest, radius %.0f, budget %d B/s", lo.radius, lo.budget), true, lo.budget},
	} {
		res, err := largeMapRun(o, lo, r.interest, r.budget)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
		res.Name = r.name
		rows = append(rows, res)
	}
	return rows, nil
}

// largeMapRun encodes the large-map trace for lo.clients of its players (spread over
// the player IDs), sharing one EncodeCache as a host's clients do; acks arrive
// o.ackDelay sends late and nothing is lost.
func largeMapRun(o bandwidthOpts, lo largeOpts, interest bool, budget int) (largeResult, error) {
	res := largeResult{SampleCount: lo.clients, Players: lo.players, Size: lo.size, Seconds: o.seconds, AckDelay: o.ackDelay, Budget: budget}
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(arenatrace.PlayerType, largePlayer{}); err != nil {
		return res, err
	}
	if _, err := reg.Register(arenatrace.ProjectileType, largeProjectile{}); err != nil {
		return res, err
	}
	sim := arenatrace.New(arenatrace.Config{Players: lo.players, Seed: o.seed, Size: lo.size})
	world := snapshot.NewWorld(reg)
	var grid *netcode.Grid
	if interest {
		var err error
		if grid, err = netcode.NewGrid(netcode.GridConfig{Radius: lo.radius}); err != nil {
			return res, err
		}
		res.Radius = lo.radius
	}
	type client struct {
		id     netcode.ClientID
		enc    *snapshot.Encoder
		dec    *snapshot.Decoder
		acks   []*snapshot.Ack
		tokens float64
		window []int // bytes of the last 30 sends
		pkts   [][]byte
	}
	cache := snapshot.NewEncodeCache()
	step := max(lo.players/lo.clients, 1)
	cs := make([]*client, 0, lo.clients)
	for id := 1; id <= lo.players && len(cs) < lo.clients; id += step {
		cs = append(cs, &client{
			id:   netcode.ClientID(id),
			enc:  snapshot.NewEncoder(reg, snapshot.EncoderConfig{MaxPacketBytes: o.maxPacket, Cache: cache}),
			dec:  snapshot.NewDecoder(reg),
			acks: make([]*snapshot.Ack, o.ackDelay),
		})
	}
	res.SampleCount = len(cs)
	live := map[uint32]bool{}
	seen := map[uint32]bool{}
	var encodeTime, prepareTime time.Duration
	total, held, worldEnts, sends := 0, 0, 0, 0
	perSend := float64(budget) / arenatrace.SendRate
	for range o.seconds * arenatrace.TickRate {
		sim.Step()
		st := sim.State()
		for i := range st.Players {
			p := largePlayer(st.Players[i])
			if err := world.Set(snapshot.EntityID(p.ID), arenatrace.PlayerType, &p); err != nil {
				return res, err
			}
		}
		clear(seen)
		for i := range st.Projectiles {
			p := largeProjectile(st.Projectiles[i])
			if err := world.Set(snapshot.EntityID(p.ID), arenatrace.ProjectileType, &p); err != nil {
				return res, err
			}
			seen[p.ID] = true
		}
		for id := range live {
			if !seen[id] {
				world.Remove(snapshot.EntityID(id))
				delete(live, id)
			}
		}
		for id := range seen {
			live[id] = true
		}
		if sim.Tick()%(arenatrace.TickRate/arenatrace.SendRate) != 0 {
			continue
		}
		worldEnts += world.Len()
		if grid != nil {
			t0 := time.Now()
			grid.Prepare(world, sim.Tick())
			prepareTime += time.Since(t0)
		}
		for _, c := range cs {
			slot := sends % o.ackDelay
			t0 := time.Now()
			if a := c.acks[slot]; a != nil {
				if err := c.enc.Ack(*a); err != nil {
					return res, err
				}
			}
			var opt snapshot.EncodeOptions
			if grid != nil {
				opt.Interest = grid.Relevance(c.id)
			}
			if budget > 0 {
				// The host's bucket: a send's share of the budget, with at most one
				// packet carried over.
				c.tokens = math.Min(c.tokens+perSend, perSend+float64(o.maxPacket))
				opt.MaxBytes = max(int(c.tokens), 1)
			}
			var err error
			c.pkts, err = c.enc.EncodeWith(c.pkts[:0], world, sim.Tick(), opt)
			encodeTime += time.Since(t0)
			if err != nil {
				return res, err
			}
			n := 0
			for _, p := range c.pkts {
				n += len(p)
				res.MaxPacket = max(res.MaxPacket, len(p))
				if _, err := c.dec.Decode(p); err != nil {
					return res, err
				}
			}
			c.tokens -= float64(n)
			total += n
			res.Deferred += c.enc.Stats().Deferred
			held += c.dec.World().Len()
			c.window = append(c.window, n)
			if len(c.window) > arenatrace.SendRate {
				c.window = c.window[1:]
			}
			sum := 0
			for _, b := range c.window {
				sum += b
			}
			res.MaxSecond = max(res.MaxSecond, sum)
			if grid == nil && c.enc.Stats().Deferred == 0 && !c.dec.World().Equal(world) {
				res.Mismatches++
			}
			a := c.dec.Ack()
			c.acks[slot] = &a
		}
		sends++
	}
	sendCount := float64(sends)
	res.MeanWorld = float64(worldEnts) / sendCount
	res.BPS = float64(total) / float64(len(cs)) / float64(o.seconds)
	res.Entities = float64(held) / float64(len(cs)) / sendCount
	res.EncodeUS = float64(encodeTime.Microseconds()) / float64(len(cs)) / sendCount
	res.PrepareUS = float64(prepareTime.Microseconds()) / sendCount
	if res.Mismatches > 0 {
		return res, fmt.Errorf("a client differed from the host after %d lossless sends", res.Mismatches)
	}
	return res, nil
}

// printLargeMap prints the large-map table.
func printLargeMap(rows []largeResult, lo largeOpts) {
	r0 := rows[0]
	fmt.Printf("\nLarge map: %d players on %.0f×%.0f units, %.0f entities in the world on average; %d of the players measured as clients (one encode cache, as on a host), acks %d sends late, nothing lost. Encode cost is wall time on this machine.\n\n",
		r0.Players, r0.Size, r0.Size, r0.MeanWorld, r0.SampleCount, r0.AckDelay)
	fmt.Println("| encoding | bytes/s per client | entities per client | encode µs per client per send | grid µs per send | busiest second (bytes) | largest packet | deferred |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %.0f | %.1f | %.1f | %.1f | %d | %d | %d |\n", r.Name, r.BPS, r.Entities, r.EncodeUS, r.PrepareUS, r.MaxSecond, r.MaxPacket, r.Deferred)
	}
}

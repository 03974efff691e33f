package snapshot_test

import (
	"fmt"
	"testing"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/internal/arenatrace"
	"github.com/volleynet/volley/snapshot"
)

// scaleSends records what `go run ./bench scale` sends one client: the arena trace at
// about 200 entities, with examples/arena's entity types and IDs (players 1..n,
// projectiles at 1<<31+k), stepped at 60 Hz and encoded at 30 Hz against baselines acked
// two sends late (one in flight), so almost every entity is a predicted delta. It returns
// the packets of each send and the entities in the world at that send.
func scaleSends(b testing.TB, sends int) (*snapshot.Registry, [][][]byte, []int) {
	r := game.NewRegistry()
	sim := arenatrace.New(arenatrace.Config{Players: 110})
	w := snapshot.NewWorld(r)
	enc := snapshot.NewEncoder(r, snapshot.EncoderConfig{})
	dec := snapshot.NewDecoder(r)
	live := map[snapshot.EntityID]bool{}
	seen := map[snapshot.EntityID]bool{}
	var acks [2]snapshot.Ack
	var out [][][]byte
	var ents []int
	for len(out) < sends {
		sim.Step()
		if sim.Tick()%(arenatrace.TickRate/arenatrace.SendRate) != 0 {
			continue
		}
		st := sim.State()
		clear(seen)
		for i := range st.Players {
			p := &st.Players[i]
			e := game.PlayerEntity{X: float64(p.X) * 0.32, Y: float64(p.Y) * 0.18, Aim: float64(p.Angle),
				Health: p.Health, Kills: p.Score, Alive: p.Alive}
			if err := w.Set(snapshot.EntityID(p.ID), game.TypePlayer, &e); err != nil {
				b.Fatal(err)
			}
		}
		for i := range st.Projectiles {
			p := &st.Projectiles[i]
			id := game.ProjectileEntityID(p.ID)
			e := game.ProjectileEntity{X: float64(p.X) * 0.32, Y: float64(p.Y) * 0.18, Owner: uint32(p.Owner)}
			if err := w.Set(id, game.TypeProjectile, &e); err != nil {
				b.Fatal(err)
			}
			seen[id] = true
		}
		for id := range live {
			if !seen[id] {
				w.Remove(id)
				delete(live, id)
			}
		}
		for id := range seen {
			live[id] = true
		}
		s := len(out)
		if err := enc.Ack(acks[s%2]); err != nil {
			b.Fatal(err)
		}
		pkts, err := enc.Encode(nil, w, sim.Tick())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				b.Fatal(err)
			}
		}
		if !dec.World().Equal(w) {
			b.Fatalf("send %d: client differs", s)
		}
		acks[s%2] = dec.Ack()
		out = append(out, pkts)
		ents = append(ents, w.Len())
	}
	return r, out, ents
}

// BenchmarkDecodeScale measures the load generator of `go run ./bench scale`: each of
// `clients` decoders (one per simulated client, all in one process, so their records
// compete for the caches) decodes every send of the scaleSends stream. The first 120 sends
// (4 s: projectiles have spawned, expired and been purged, so records get reused) are
// decoded before timing starts. ns/entity is per entity in the host's world, per client.
func BenchmarkDecodeScale(b *testing.B) {
	const warm = 120
	r, sends, ents := scaleSends(b, 900)
	for _, clients := range []int{1, 200} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			decs := make([]*snapshot.Decoder, clients)
			start := func() {
				for c := range decs {
					decs[c] = snapshot.NewDecoder(r)
					for _, pkts := range sends[:warm] {
						for _, p := range pkts {
							if _, err := decs[c].Decode(p); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			}
			start()
			i, n, pk := warm, 0, 0
			b.ReportAllocs()
			for b.Loop() {
				if i == len(sends) {
					b.StopTimer()
					start()
					i = warm
					b.StartTimer()
				}
				for _, d := range decs {
					for _, p := range sends[i] {
						if _, err := d.Decode(p); err != nil {
							b.Fatal(err)
						}
					}
				}
				n += ents[i] * clients
				pk += len(sends[i]) * clients
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entity")
			b.ReportMetric(float64(n)/float64(pk), "entities/packet")
		})
	}
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/volleynet/volley/internal/arenatrace"
	"github.com/volleynet/volley/snapshot"
)

// bandwidthResult is one row of the bandwidth table.
type bandwidthResult struct {
	Name       string  `json:"name"`
	BPS        float64 `json:"bps"` // bytes per second per client
	Packets    int     `json:"packets"`
	MaxPacket  int     `json:"max_packet_bytes"`
	Sends      int     `json:"sends"`
	Deferred   int     `json:"deferred_entities"` // entities that waited for a later send
	Mismatches int     `json:"mismatches"`        // lossless sends after which client != host
	Loss       float64 `json:"loss"`
}

type bandwidthOpts struct {
	seconds, players, ackDelay, maxPacket int
	seed                                  uint64
}

// runBandwidth measures bytes per second per client on the arena trace: msgpack of the
// full state each send, the snapshot codec without deltas, and with deltas at 0%, 5% and
// 20% packet loss (acks lost at the same rate, seeded). Then the large-map trace (many
// more players on a larger map): every entity to every client, against interest
// management (netcode.Grid) and interest with a bandwidth budget.
func runBandwidth(args []string) error {
	fs := flag.NewFlagSet("bandwidth", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object instead of a Markdown table")
	var o bandwidthOpts
	fs.IntVar(&o.seconds, "seconds", 60, "simulated seconds of the trace")
	fs.IntVar(&o.players, "players", 64, "players in the arena")
	fs.IntVar(&o.ackDelay, "ack-delay", 3, "sends between a snapshot and its ack reaching the host (3 = 100 ms RTT at 30 Hz)")
	fs.IntVar(&o.maxPacket, "max-packet", snapshot.DefaultMaxPacketBytes, "packet size cap in bytes")
	fs.Uint64Var(&o.seed, "seed", 1, "trace and loss seed")
	var lo largeOpts
	fs.IntVar(&lo.players, "large-players", 256, "players on the large map")
	fs.Float64Var(&lo.size, "large-size", 400, "side of the large map in units")
	fs.Float64Var(&lo.radius, "radius", 100, "interest radius on the large map")
	fs.IntVar(&lo.clients, "large-clients", 16, "large-map players measured as clients")
	fs.IntVar(&lo.budget, "large-budget", 4000, "bandwidth budget of the last large-map row, bytes per second")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if lo.players < 1 || lo.players > 1023 || lo.clients < 1 || !(lo.size > 0 && lo.size <= 1000) || !(lo.radius > 0) || lo.budget <= 0 {
		return fmt.Errorf("bandwidth: -large-players must be in 1..1023, -large-size in (0, 1000], -large-clients, -radius and -large-budget positive")
	}
	if o.seconds <= 0 || o.ackDelay < 1 {
		return fmt.Errorf("bandwidth: -seconds and -ack-delay must be positive")
	}

	mpMap, mpMapMax, err := msgpackBPS(o, false)
	if err != nil {
		return err
	}
	mpArr, mpArrMax, err := msgpackBPS(o, true)
	if err != nil {
		return err
	}
	rows := []bandwidthResult{
		{Name: "msgpack full state (struct maps)", BPS: mpMap, MaxPacket: mpMapMax, Sends: o.seconds * arenatrace.SendRate, Packets: o.seconds * arenatrace.SendRate},
		{Name: "msgpack full state (as_array)", BPS: mpArr, MaxPacket: mpArrMax, Sends: o.seconds * arenatrace.SendRate, Packets: o.seconds * arenatrace.SendRate},
	}
	runs := []struct {
		name    string
		noDelta bool
		loss    float64
	}{
		{"snapshot, no deltas", true, 0},
		{"snapshot, deltas, 0% loss", false, 0},
		{"snapshot, deltas, 5% loss", false, 0.05},
		{"snapshot, deltas, 20% loss", false, 0.20},
	}
	maxPkt := 0
	for _, r := range runs {
		res, err := codecBPS(o, r.noDelta, r.loss)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		res.Name = r.name
		rows = append(rows, res)
		maxPkt = max(maxPkt, res.MaxPacket)
	}
	// The same lossless trace with acks arriving 1, 3, 6 and 9 sends after their
	// snapshot (33 to 300 ms of round trip at 30 Hz).
	var ackRows []bandwidthResult
	for _, late := range []int{1, 3, 6, 9} {
		ao := o
		ao.ackDelay = late
		res, err := codecBPS(ao, false, 0)
		if err != nil {
			return fmt.Errorf("acks %d sends late: %w", late, err)
		}
		res.Name = fmt.Sprintf("snapshot, deltas, 0%% loss, acks %d sends late", late)
		if late == 1 {
			res.Name = "snapshot, deltas, 0% loss, acks 1 send late"
		}
		ackRows = append(ackRows, res)
		maxPkt = max(maxPkt, res.MaxPacket)
	}
	up := upstreamRows(o)
	large, err := largeMapRows(o, lo)
	if err != nil {
		return fmt.Errorf("large map: %w", err)
	}

	if *asJSON {
		out := map[string]any{
			"msgpack_full_bps":    rows[0].BPS,
			"msgpack_array_bps":   rows[1].BPS,
			"full_bps":            rows[2].BPS,
			"delta_0_bps":         rows[3].BPS,
			"delta_5_bps":         rows[4].BPS,
			"delta_20_bps":        rows[5].BPS,
			"max_packet_bytes":    maxPkt,
			"msgpack_max_message": mpMapMax,
			"delta_0_vs_msgpack":  rows[3].BPS / rows[0].BPS,
			"delta_5_vs_delta_0":  rows[4].BPS / rows[3].BPS,
			"delta_20_vs_delta_0": rows[5].BPS / rows[3].BPS,
			"full_packets":        rows[2].Packets,
			"delta_0_packets":     rows[3].Packets,
			"delta_5_packets":     rows[4].Packets,
			"delta_20_packets":    rows[5].Packets,
			"sends":               rows[3].Sends,
			"lossless_mismatches": rows[2].Mismatches + rows[3].Mismatches + rows[4].Mismatches + rows[5].Mismatches,
			"delta_0_ack1_bps":    ackRows[0].BPS,
			"delta_0_ack3_bps":    ackRows[1].BPS,
			"delta_0_ack6_bps":    ackRows[2].BPS,
			"delta_0_ack9_bps":    ackRows[3].BPS,
			"ack_rows":            ackRows,
			"upstream_acks_bps":   up[0].BPS,
			"upstream_inputs_bps": up[1].BPS,
			"upstream_rows":       up,
			"rows":                rows,
			"seconds":             o.seconds,
			"players":             o.players,
			"seed":                o.seed,
			"ack_delay_sends":     o.ackDelay,
			"send_rate_hz":        arenatrace.SendRate,
			"tick_rate_hz":        arenatrace.TickRate,
			"packet_cap_bytes":    o.maxPacket,
			"large_map":           large,
		}
		enc := json.NewEncoder(os.Stdout)
		return enc.Encode(out)
	}
	fmt.Printf("Arena trace: %d players, %d s, ticks %d Hz, sends %d Hz, seed %d, acks arrive %d sends later, packets <= %d bytes.\n\n",
		o.players, o.seconds, arenatrace.TickRate, arenatrace.SendRate, o.seed, o.ackDelay, o.maxPacket)
	fmt.Println("| encoding | bytes/s per client | vs msgpack | packets (msgpack: messages) | largest packet | deferred | lossless-send mismatches |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range append(rows, ackRows...) {
		fmt.Printf("| %s | %.0f | %.3f | %d | %d | %d | %d |\n", r.Name, r.BPS, r.BPS/rows[0].BPS, r.Packets, r.MaxPacket, r.Deferred, r.Mismatches)
	}
	fmt.Printf("\nUpstream, client to host, per client (netcode's update and ping layouts; %d Hz snapshots, round trip %d sends, pings every 250 ms):\n\n", arenatrace.SendRate, o.ackDelay)
	fmt.Println("| traffic | messages/s | bytes/s (payload) | bytes/s on the wire (est.) |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range up {
		fmt.Printf("| %s | %.0f | %.0f | %.0f |\n", r.Name, r.Rate, r.BPS, r.WireBPS)
	}
	printLargeMap(large, lo)
	return nil
}

// msgpackBPS marshals the whole state every send.
func msgpackBPS(o bandwidthOpts, asArray bool) (bps float64, maxMsg int, err error) {
	sim := arenatrace.New(arenatrace.Config{Players: o.players, Seed: o.seed})
	var buf bytesBuffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(asArray)
	total := 0
	for range o.seconds * arenatrace.TickRate {
		sim.Step()
		if sim.Tick()%(arenatrace.TickRate/arenatrace.SendRate) != 0 {
			continue
		}
		buf = buf[:0]
		if err := enc.Encode(sim.State()); err != nil {
			return 0, 0, err
		}
		total += len(buf)
		maxMsg = max(maxMsg, len(buf))
	}
	return float64(total) / float64(o.seconds), maxMsg, nil
}

// upstreamResult is one row of the upstream table.
type upstreamResult struct {
	Name    string  `json:"name"`
	Rate    float64 `json:"messages_per_sec"`
	BPS     float64 `json:"bps"`      // data channel payload bytes per second
	WireBPS float64 `json:"wire_bps"` // with estimated per-message SCTP, DTLS and UDP/IPv4 overhead
}

// Upstream layouts (docs/protocol.md): an update is kind, seq, the 7-byte ack, the
// input count and per input tick u32, len u8 and the bytes; a ping is 29 bytes.
const (
	updateFixedBytes = 1 + 4 + 7 + 1
	inputHeadBytes   = 4 + 1
	pingMsgBytes     = 29
	// wireOverheadBytes estimates what one small message adds on the wire: SCTP
	// common header and DATA chunk (12 + 16), DTLS 1.2 record with AES-GCM (13 + 8
	// + 16), UDP/IPv4 (28). SACKs, bundling and padding are not counted.
	wireOverheadBytes = 28 + 37 + 28
	arenaInputBytes   = 7 // the arena's input (game.InputSize)
)

// upstreamRows models what a netcode client sends per second: acknowledgements only
// (one update per snapshot, netcode's AckDelay of half a send interval), or the
// arena's 7-byte input every tick, each update repeating the inputs the host has not
// reported applied (InputRedundancy 16). The client stamps inputs one-way delay plus
// two ticks ahead (InputMargin) and learns what was applied from a snapshot one way
// later: about 2 × one-way + 3 ticks of inputs wait per update.
func upstreamRows(o bandwidthOpts) []upstreamResult {
	pings := 4.0
	acks := float64(arenatrace.SendRate)
	row := func(name string, msgs, bytes float64) upstreamResult {
		return upstreamResult{Name: name, Rate: msgs, BPS: bytes, WireBPS: bytes + msgs*wireOverheadBytes}
	}
	out := []upstreamResult{row("acks only (no inputs)", acks+pings, acks*updateFixedBytes+pings*pingMsgBytes)}
	// One-way delay in ticks: half the round trip of ackDelay sends.
	ticksPerSend := arenatrace.TickRate / arenatrace.SendRate
	oneWay := float64(o.ackDelay*ticksPerSend) / 2
	pending := min(16, int(2*oneWay+0.5)+3) // inputs carried by each update
	perUpdate := float64(updateFixedBytes + pending*(inputHeadBytes+arenaInputBytes))
	ups := float64(arenatrace.TickRate) // every ack rides with an input
	out = append(out, row(fmt.Sprintf("acks and inputs (%d B at %d Hz, %d per update)", arenaInputBytes, arenatrace.TickRate, pending),
		ups+pings, ups*perUpdate+pings*pingMsgBytes))
	return out
}

type bytesBuffer []byte

func (b *bytesBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// codecBPS runs the snapshot codec for one client over the trace with seeded loss of
// snapshot packets and of acks (acks travel ackDelay sends).
func codecBPS(o bandwidthOpts, noDelta bool, loss float64) (bandwidthResult, error) {
	res := bandwidthResult{Loss: loss}
	reg, err := arenaRegistry()
	if err != nil {
		return res, err
	}
	arena := newArenaWorld(reg, o.players, o.seed)
	sim, world := arena.sim, arena.World
	enc := snapshot.NewEncoder(reg, snapshot.EncoderConfig{MaxPacketBytes: o.maxPacket, DisableDelta: noDelta})
	dec := snapshot.NewDecoder(reg)
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	acks := make([]*snapshot.Ack, o.ackDelay) // in flight, by send index mod ackDelay
	var pkts [][]byte
	total := 0
	for range o.seconds * arenatrace.TickRate {
		if err := arena.Step(); err != nil {
			return res, err
		}
		if sim.Tick()%(arenatrace.TickRate/arenatrace.SendRate) != 0 {
			continue
		}
		slot := res.Sends % o.ackDelay
		if a := acks[slot]; a != nil {
			if err := enc.Ack(*a); err != nil {
				return res, err
			}
			acks[slot] = nil
		}
		pkts, err = enc.Encode(pkts[:0], world, sim.Tick())
		if err != nil {
			return res, err
		}
		res.Sends++
		res.Deferred += enc.Stats().Deferred
		lossless := true
		for _, p := range pkts {
			total += len(p)
			res.Packets++
			res.MaxPacket = max(res.MaxPacket, len(p))
			if rng.Float64() < loss {
				lossless = false
				continue
			}
			if _, err := dec.Decode(p); err != nil {
				return res, err
			}
		}
		if lossless && enc.Stats().Deferred == 0 && !dec.World().Equal(world) {
			res.Mismatches++
		}
		if rng.Float64() >= loss {
			wire := snapshot.AppendAck(nil, dec.Ack())
			a, _, err := snapshot.DecodeAck(wire)
			if err != nil {
				return res, err
			}
			acks[slot] = &a
		}
	}
	res.BPS = float64(total) / float64(o.seconds)
	if res.Mismatches > 0 {
		return res, fmt.Errorf("client state differed from host after %d lossless sends", res.Mismatches)
	}
	return res, nil
}

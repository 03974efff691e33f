package main

// Snapshot age on raw pion peers over a simulated link: the arena trace encoded
// with the snapshot codec (per-client acked baselines) and streamed on the
// unreliable channel, or the same snapshots on an ordered reliable channel (the
// TCP-like choice). The client decodes every packet and acknowledges it on the
// same channel.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/snapshot"
)

// snapAgeOpts says how the snapshot stream is driven.
type snapAgeOpts struct {
	Duration time.Duration // how long the host sends
	TickRate int           // host ticks per second
	SendRate int           // snapshots per second
	Players  int           // players in the arena trace
	Drain    time.Duration // how long to wait for stragglers after the last send
	Seed     int64
	Progress *progress
}

// snapAgeResult is the outcome on one channel.
type snapAgeResult struct {
	Dist       *Dist // age of each decoded packet
	Sent       int   // packets sent
	Bytes      int   // bytes of the packets sent
	DecodeErrs int
}

// ackQueue bounds the acks waiting for the host's loop; when it is full an ack
// is dropped, which only delays a baseline (the next ack covers it).
const ackQueue = 64

// measureSnapshotAge streams snapshots from a host peer to a client peer over a
// fresh link for c on a channel with init's settings, and measures each
// packet's age at the client: from the host's tick to the end of its decode.
func measureSnapshotAge(ctx context.Context, c condition, label string, init *webrtc.DataChannelInit, o snapAgeOpts) (snapAgeResult, error) {
	reg, err := arenaRegistry()
	if err != nil {
		return snapAgeResult{}, err
	}
	l, err := newLink(c, o.Seed)
	if err != nil {
		return snapAgeResult{}, err
	}
	defer l.Close()
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The client offers and creates the channel, as netcode's clients do.
	pp, err := newPeerPair(setupCtx, l.Client, l.Host, []channelSpec{{label, init}})
	if err != nil {
		return snapAgeResult{}, fmt.Errorf("%s pair: %w", label, err)
	}
	defer pp.Close()
	if err := l.Impair(); err != nil {
		return snapAgeResult{}, err
	}

	tickEvery := time.Second / time.Duration(o.TickRate)
	ticksPerSend := max(1, o.TickRate/o.SendRate)
	totalTicks := int(o.Duration / tickEvery)
	base := time.Now()
	// tickAt[t] is when tick t ran, in ns since base: written by the host loop
	// before the tick's packets leave, read by the client's handler.
	tickAt := make([]atomic.Int64, totalTicks+1)

	// The client: pion calls OnMessage from one goroutine, which owns dec.
	var mu sync.Mutex // guards d, decodeErrs
	d := &Dist{}
	decodeErrs := 0
	var received, sent atomic.Int64
	var sentDone atomic.Bool
	gotAll := make(chan struct{}, 1)
	dec := snapshot.NewDecoder(reg)
	client := pp.Offer[0]
	ackBuf := make([]byte, 0, snapshot.AckLen)
	client.OnMessage(func(m webrtc.DataChannelMessage) {
		info, err := dec.Decode(m.Data)
		now := time.Since(base)
		mu.Lock()
		if err != nil || int(info.Tick) > totalTicks {
			decodeErrs++
		} else {
			d.Add(now - time.Duration(tickAt[info.Tick].Load()))
		}
		mu.Unlock()
		if err == nil {
			ackBuf = snapshot.AppendAck(ackBuf[:0], dec.Ack())
			_ = client.Send(ackBuf)
		}
		if n := received.Add(1); sentDone.Load() && n >= sent.Load() {
			select {
			case gotAll <- struct{}{}:
			default:
			}
		}
	})

	// The host: acks go to the loop, which owns the encoder.
	host := pp.Answer[0]
	acks := make(chan snapshot.Ack, ackQueue)
	host.OnMessage(func(m webrtc.DataChannelMessage) {
		if a, _, err := snapshot.DecodeAck(m.Data); err == nil {
			select {
			case acks <- a:
			default:
			}
		}
	})
	arena := newArenaWorld(reg, o.Players, uint64(o.Seed))
	enc := snapshot.NewEncoder(reg, snapshot.EncoderConfig{MaxPacketBytes: 1100})
	var pkts [][]byte
	bytes := 0
	ticker := time.NewTicker(tickEvery)
	defer ticker.Stop()
	for t := 1; t <= totalTicks; t++ {
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return snapAgeResult{}, ctx.Err()
		}
		tickAt[t].Store(int64(time.Since(base)))
		if err := arena.Step(); err != nil {
			return snapAgeResult{}, err
		}
		if t%ticksPerSend != 0 {
			continue
		}
	drain:
		for {
			select {
			case a := <-acks:
				_ = enc.Ack(a)
			default:
				break drain
			}
		}
		pkts, err = enc.Encode(pkts[:0], arena.World, uint32(t))
		if err != nil {
			return snapAgeResult{}, fmt.Errorf("encode: %w", err)
		}
		for _, p := range pkts {
			if err := host.Send(p); err != nil {
				return snapAgeResult{}, fmt.Errorf("%s send: %w", label, err)
			}
			bytes += len(p)
			sent.Add(1)
		}
		if o.Progress != nil {
			o.Progress.Tick("%s: snapshot age on %s: %d/%d ticks", c.Name, label, t, totalTicks)
		}
	}
	sentDone.Store(true)
	if received.Load() < sent.Load() {
		// The unreliable channel never catches up on what it lost: wait only for
		// what is still in flight.
		wait := o.Drain
		if init.MaxRetransmits != nil || init.MaxPacketLifeTime != nil {
			wait = min(wait, c.OneWay()+c.Jitter+500*time.Millisecond)
		}
		drain := time.NewTimer(wait)
		select {
		case <-gotAll:
		case <-drain.C:
		case <-ctx.Done():
		}
		drain.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	out := &Dist{}
	for _, v := range d.Sorted() {
		out.AddMS(v)
	}
	return snapAgeResult{Dist: out, Sent: int(sent.Load()), Bytes: bytes, DecodeErrs: decodeErrs}, nil
}

//go:build !js

package netcode

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// dropLog records drops per client and wakes waiters.
type dropLog struct {
	mu     sync.Mutex
	counts map[ClientID]map[DropReason]int
	wake   chan struct{}
}

func (d *dropLog) add(id ClientID, r DropReason) {
	d.mu.Lock()
	if d.counts[id] == nil {
		d.counts[id] = map[DropReason]int{}
	}
	d.counts[id][r]++
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dropLog) wait(t *testing.T, id ClientID, r DropReason, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		got := d.counts[id][r]
		d.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-d.wake:
		case <-deadline.C:
			t.Fatalf("client %d: %d %v drops, want %d", id, got, r, n)
		}
	}
}

// TestBadInput sends every kind of bad input the host must survive, each counted
// under its reason, and checks that a well-behaved client is served throughout.
func TestBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newRecorder()
	drops := &dropLog{counts: map[ClientID]map[DropReason]int{}, wake: make(chan struct{}, 1)}
	cfg := ServerConfig{
		Registry:              reg,
		Transport:             loopback(),
		CommandRate:           50,
		CommandBurst:          20,
		MaxQueuedCommandBytes: 1 << 10, // about 100 small commands
		MaxBadMessages:        50,
		Step: func(tk *Tick) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, id := range tk.Joined {
				_ = tk.World.Set(snapshot.EntityID(id), playerType, Player{HP: 1})
			}
			for _, d := range tk.Left {
				rec.left = append(rec.left, d)
				tk.World.Remove(snapshot.EntityID(d.Client))
			}
			for _, c := range tk.Commands {
				var m cmdMsg
				if err := c.Decode(&m); err != nil {
					panic(err) // the guard lets only well-formed msgpack through
				}
				rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
				_ = tk.Send(c.Client, echoMsg{Client: uint32(c.Client), Seq: m.Seq})
			}
			for _, in := range tk.Inputs {
				rec.inputs[in.Client] = append(rec.inputs[in.Client], in.Tick)
			}
			if len(tk.Left)+len(tk.Commands) > 0 {
				rec.poke()
			}
		},
	}
	cfg.observeDrop = drops.add
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ccfg := ClientConfig{Registry: reg, Transport: loopback()}
	good, _ := connect(ctx, t, srv, ccfg)
	defer good.Close()
	bad, _ := connect(ctx, t, srv, ccfg)
	defer bad.Close()

	// Wait for a snapshot so that acks have something to refer to.
	waitWorld(t, bad, 10*time.Second, "first snapshot", func(*snapshot.World) bool { return true })

	reliable := []struct {
		name string
		msg  []byte
		want DropReason
	}{
		{"malformed msgpack", []byte{kindCommand, 0xc1}, DropMalformed},
		{"huge array claim", []byte{kindCommand, 0xdd, 0xff, 0xff, 0xff, 0xff}, DropMalformed},
		{"256 MB array claim", []byte{kindCommand, 0xdd, 0x01, 0x00, 0x00, 0x00}, DropMalformed},
		{"truncated string", []byte{kindCommand, 0xa5, 'a'}, DropMalformed},
		{"trailing bytes", []byte{kindCommand, 0x01, 0x02}, DropMalformed},
		{"oversized", append([]byte{kindCommand, 0xc6, 0, 1, 0, 0}, make([]byte, 65536-100)...), DropTooLarge},
		{"unknown kind", []byte{0x7f, 0x01}, DropUnknownKind},
		{"empty", []byte{}, DropMalformed},
	}
	for _, tc := range reliable {
		t.Run("reliable/"+tc.name, func(t *testing.T) {
			drops.mu.Lock()
			before := drops.counts[bad.ID()][tc.want]
			drops.mu.Unlock()
			if err := bad.sendRaw(tc.msg); err != nil {
				t.Fatal(err)
			}
			drops.wait(t, bad.ID(), tc.want, before+1)
		})
	}

	forged := appendUpdate(nil, 1000, snapshot.Ack{Latest: 60000, Mask: 0xffffffff}, nil)
	hostTick := srv.LoopStats().Tick
	future := appendUpdate(nil, 1001, snapshot.Ack{}, []inputMsg{{Tick: hostTick + 100_000, Data: []byte{1}}})
	late := appendUpdate(nil, 1002, snapshot.Ack{}, []inputMsg{{Tick: 1, Data: []byte{1}}})
	bigInput := appendHeader(nil, kindUpdate, 1003)
	bigInput = snapshot.AppendAck(bigInput, snapshot.Ack{})
	bigInput = append(bigInput, 1, 0, 0, 0, 1, 200)
	bigInput = append(bigInput, make([]byte, 200)...)
	unreliable := []struct {
		name string
		msg  []byte
		want DropReason
	}{
		{"short", []byte{kindUpdate, 0}, DropMalformed},
		{"unknown kind", appendHeader(nil, 0x55, 7), DropUnknownKind},
		{"bad ack version", append(appendHeader(nil, kindUpdate, 8), 9, 9, 9, 9, 9, 9, 9, 0), DropMalformed},
		{"forged ack", forged, DropBadAck},
		{"far-future input", future, DropFutureInput},
		{"late input", late, DropLateInput},
		{"oversized input", bigInput, DropTooLarge},
		{"oversized message", append(appendHeader(nil, kindUpdate, 9), make([]byte, 1200)...), DropTooLarge},
		{"truncated ping", appendHeader(nil, kindPing, 10), DropMalformed},
	}
	for _, tc := range unreliable {
		t.Run("unreliable/"+tc.name, func(t *testing.T) {
			drops.mu.Lock()
			before := drops.counts[bad.ID()][tc.want]
			drops.mu.Unlock()
			// The channel is lossless on loopback but unreliable by contract: resend
			// until counted.
			for {
				if err := bad.sendUnreliableRaw(tc.msg); err != nil {
					t.Fatal(err)
				}
				drops.mu.Lock()
				got := drops.counts[bad.ID()][tc.want]
				drops.mu.Unlock()
				if got > before {
					return
				}
				select {
				case <-drops.wake:
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
		})
	}
	if st, _ := srv.ClientStats(bad.ID()); st.Dropped(DropMalformed) == 0 || st.Dropped(DropBadAck) == 0 {
		t.Errorf("host stats of the bad client: %+v", st.Drops)
	}

	// A flood: commands far over the pace fill the queue, then the client is cut off.
	flooder, _ := connect(ctx, t, srv, ccfg)
	defer flooder.Close()
	for i := 0; i < 2000; i++ {
		if err := flooder.Send(cmdMsg{Seq: i}); err != nil {
			break // the host already hung up
		}
	}
	rec.waitFor(t, 20*time.Second, "the flooder's departure", func() bool {
		for _, d := range rec.left {
			if d.Client == flooder.ID() {
				return true
			}
		}
		return false
	})
	<-flooder.Done()
	if !errors.Is(flooder.Err(), ErrFlood) {
		t.Errorf("flooder ended with %v, want ErrFlood", flooder.Err())
	}
	rec.mu.Lock()
	for _, d := range rec.left {
		if d.Client == flooder.ID() && !errors.Is(d.Reason, ErrFlood) {
			t.Errorf("flooder left with %v", d.Reason)
		}
	}
	got := rec.commands[flooder.ID()]
	rec.mu.Unlock()
	// The commands the game got before the cut arrived once each, in order, with
	// no gaps.
	for i, seq := range got {
		if seq != i {
			t.Fatalf("flooder's commands out of order, repeated or missing: %v", got)
		}
	}
	drops.wait(t, flooder.ID(), DropQueueFull, 1)

	// Too many malformed messages: disconnected for a protocol violation.
	garbage, _ := connect(ctx, t, srv, ccfg)
	defer garbage.Close()
	for i := 0; i < 60; i++ {
		if garbage.sendRaw([]byte{kindCommand, 0xc1}) != nil {
			break
		}
	}
	<-garbage.Done()
	if !errors.Is(garbage.Err(), ErrProtocol) {
		t.Errorf("garbage client ended with %v, want ErrProtocol", garbage.Err())
	}
	// The client can see the host's bye before the host has removed its session:
	// wait for the departure the game sees, which follows the removal.
	rec.waitFor(t, 20*time.Second, "the garbage client's departure", func() bool {
		for _, d := range rec.left {
			if d.Client == garbage.ID() {
				return true
			}
		}
		return false
	})

	// The good client is still served: commands, events and snapshots.
	if err := good.Send(cmdMsg{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-good.Events():
		var e echoMsg
		if err := ev.Decode(&e); err != nil || e.Client != uint32(good.ID()) {
			t.Fatalf("good client event %+v %v", e, err)
		}
	case <-ctx.Done():
		t.Fatal("good client got no echo")
	}
	w := snapshot.NewWorld(reg)
	tick, _ := good.Latest(w)
	waitWorld(t, good, 10*time.Second, "fresh snapshots", func(*snapshot.World) bool {
		n, _ := good.Latest(w)
		return n > tick
	})
	if good.Err() != nil {
		t.Fatalf("good client: %v", good.Err())
	}
	if n := len(srv.Clients()); n != 2 {
		t.Errorf("%d clients connected, want 2 (good and bad)", n)
	}
}

// TestRejectsWrongChannels connects raw pion peers whose channels break the protocol:
// the host refuses them with ErrBadChannel.
func TestRejectsWrongChannels(t *testing.T) {
	ordered := true
	unordered := false
	zero := uint16(0)
	tests := []struct {
		name  string
		setup func(pc *webrtc.PeerConnection) error
	}{
		{"reliable snapshot channel", func(pc *webrtc.PeerConnection) error {
			if _, err := pc.CreateDataChannel(LabelUnreliable, &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
				return err
			}
			_, err := pc.CreateDataChannel(LabelReliable, nil)
			return err
		}},
		{"unknown label", func(pc *webrtc.PeerConnection) error {
			_, err := pc.CreateDataChannel("chat", nil)
			return err
		}},
		{"unreliable command channel", func(pc *webrtc.PeerConnection) error {
			if _, err := pc.CreateDataChannel(LabelUnreliable, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero}); err != nil {
				return err
			}
			_, err := pc.CreateDataChannel(LabelReliable, &webrtc.DataChannelInit{MaxRetransmits: &zero})
			return err
		}},
	}
	srv, err := NewServer(ServerConfig{Registry: testRegistry(t), Transport: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := rawOffer(ctx, srv, tc.setup)
			if !errors.Is(err, ErrBadChannel) {
				t.Fatalf("Accept = %v, want ErrBadChannel", err)
			}
		})
	}
}

// rawOffer runs Accept against a bare pion peer prepared by setup and returns
// Accept's error.
func rawOffer(ctx context.Context, srv *Server, setup func(*webrtc.PeerConnection) error) error {
	api, err := NewWebRTCAPI(loopback())
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	defer pc.Close()
	if err := setup(pc); err != nil {
		return err
	}
	hostSig, peerSig := signaling.Pipe()
	defer hostSig.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(ctx, hostSig)
		accepted <- err
	}()
	gathered := webrtc.GatheringCompletePromise(pc)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if err := peerSig.SendSignal(ctx, signaling.Signal{Type: "offer", SDP: pc.LocalDescription().SDP}); err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			s, err := peerSig.RecvSignal(rctx)
			if err != nil {
				return
			}
			switch s.Type {
			case signaling.TypeAnswer:
				_ = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
			case signaling.TypeICE:
				if s.Candidate != "" {
					_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: s.Candidate, SDPMid: s.SDPMid, SDPMLineIndex: s.SDPMLineIndex})
				}
			}
		}
	}()
	return <-accepted
}

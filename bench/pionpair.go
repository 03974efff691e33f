package main

// Raw pion peers in one process, for the floors and the channel comparison that
// need no netcode.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/netcode"
)

// sctpRTOMax caps pion's SCTP retransmission timeout (pion's own floor is about
// 1 s, which stalls an ordered channel for a second after each loss); 0 keeps
// netcode's default (TransportConfig.SCTPRTOMax). The latency command's
// -sctp-rto-max flag sets it for every raw pion peer and netcode session of the run.
var sctpRTOMax time.Duration

// maxMessageBytes caps data channel messages on both sides.
const maxMessageBytes = 64 << 10

// newAPI returns a pion API configured exactly as netcode configures its own
// peers (netcode.NewWebRTCAPI): on n (a vnet) when it is not nil, else on
// loopback only (DESIGN.md's recipe); SCTP RTO max 200 ms, capped messages.
func newAPI(n transport.Net) (*webrtc.API, error) {
	return netcode.NewWebRTCAPI(netcode.TransportConfig{
		ICE:             netcode.ICEConfig{LoopbackOnly: n == nil},
		Net:             n,
		MaxMessageBytes: maxMessageBytes,
		SCTPRTOMax:      sctpRTOMax,
	})
}

// Channel settings from DESIGN.md.
var (
	unreliableInit = &webrtc.DataChannelInit{Ordered: ptr(false), MaxRetransmits: ptr[uint16](0)}
	reliableInit   = &webrtc.DataChannelInit{Ordered: ptr(true)}
)

func ptr[T any](v T) *T { return &v }

// peerPair is two connected peers in one process. The offerer created the
// channels in-band; Offer[i] and Answer[i] are the two ends of channel i.
type peerPair struct {
	offerPC, answerPC *webrtc.PeerConnection
	Offer, Answer     []*webrtc.DataChannel
}

// channelSpec names a channel and its settings.
type channelSpec struct {
	Label string
	Init  *webrtc.DataChannelInit
}

// newPeerPair connects two peers on the given networks (nil: loopback) (non-trickle
// offer/answer in memory) and waits until every channel is open on both sides.
func newPeerPair(ctx context.Context, offerNet, answerNet transport.Net, specs []channelSpec) (*peerPair, error) {
	offerAPI, err := newAPI(offerNet)
	if err != nil {
		return nil, err
	}
	answerAPI, err := newAPI(answerNet)
	if err != nil {
		return nil, err
	}
	offerPC, err := offerAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	answerPC, err := answerAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		offerPC.Close()
		return nil, err
	}
	pp := &peerPair{offerPC: offerPC, answerPC: answerPC,
		Offer: make([]*webrtc.DataChannel, len(specs)), Answer: make([]*webrtc.DataChannel, len(specs))}
	fail := func(err error) (*peerPair, error) {
		pp.Close()
		return nil, err
	}

	opened := make(chan struct{}, 2*len(specs))
	index := map[string]int{}
	for i, s := range specs {
		index[s.Label] = i
		dc, err := offerPC.CreateDataChannel(s.Label, s.Init)
		if err != nil {
			return fail(err)
		}
		dc.OnOpen(func() { opened <- struct{}{} })
		pp.Offer[i] = dc
	}
	accepted := make(chan *webrtc.DataChannel, len(specs))
	answerPC.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnOpen(func() { opened <- struct{}{} })
		accepted <- dc
	})

	offer, err := offerPC.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerPC)
	if err := offerPC.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	if err := waitDone(ctx, gathered, "offer gathering"); err != nil {
		return fail(err)
	}
	if err := answerPC.SetRemoteDescription(*offerPC.LocalDescription()); err != nil {
		return fail(err)
	}
	answer, err := answerPC.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerPC)
	if err := answerPC.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	if err := waitDone(ctx, gathered, "answer gathering"); err != nil {
		return fail(err)
	}
	if err := offerPC.SetRemoteDescription(*answerPC.LocalDescription()); err != nil {
		return fail(err)
	}
	for range specs {
		select {
		case dc := <-accepted:
			i, ok := index[dc.Label()]
			if !ok {
				return fail(fmt.Errorf("unexpected channel %q", dc.Label()))
			}
			pp.Answer[i] = dc
		case <-ctx.Done():
			return fail(fmt.Errorf("waiting for channels: %w", ctx.Err()))
		}
	}
	for range 2 * len(specs) {
		select {
		case <-opened:
		case <-ctx.Done():
			return fail(fmt.Errorf("waiting for channels to open: %w", ctx.Err()))
		}
	}
	return pp, nil
}

func waitDone(ctx context.Context, done <-chan struct{}, what string) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// Close closes both peers.
func (pp *peerPair) Close() error {
	return errors.Join(pp.offerPC.Close(), pp.answerPC.Close())
}

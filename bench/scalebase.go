package main

// The scale benchmark's baseline: after the netcode steps, the same run connects,
// for each step, as many raw pion PeerConnections (the same two channels and
// transport settings, no netcode) and sends on them the messages the netcode step
// measured: the same number per second and the same average size, both ways, on
// the unreliable channel. The host process's CPU over the window is pion's own
// floor for that load, which the host's CPU is compared with.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// rawLoad is what each raw connection sends: msgs per second of size bytes.
type rawLoad struct {
	Rate float64
	Size int
}

// rawPeers holds one side's raw connections and sends the load on each of their
// unreliable channels from one goroutine, at the tick rate, as netcode's sending
// goroutine does.
type rawPeers struct {
	api  *webrtc.API
	mu   sync.Mutex // guards conns and load
	pcs  []*webrtc.PeerConnection
	out  []*webrtc.DataChannel
	load rawLoad
	more chan struct{} // closed (and replaced) when a connection is added
	recv atomic.Uint64 // messages received, all connections
	wg   sync.WaitGroup
	stop chan struct{}
}

func newRawPeers(tickRate int) (*rawPeers, error) {
	api, err := newAPI(nil)
	if err != nil {
		return nil, err
	}
	p := &rawPeers{api: api, stop: make(chan struct{}), more: make(chan struct{})}
	p.wg.Go(func() { p.send(tickRate) })
	return p, nil
}

// setLoad sets what every connection sends from now on.
func (p *rawPeers) setLoad(l rawLoad) {
	p.mu.Lock()
	p.load = l
	p.mu.Unlock()
}

func (p *rawPeers) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out)
}

// send sends each connection's messages, spread over the ticks: connection i's
// credit starts at i/n so that the connections do not all send on the same tick.
func (p *rawPeers) send(tickRate int) {
	t := time.NewTicker(time.Second / time.Duration(tickRate))
	defer t.Stop()
	var credit []float64
	var list []*webrtc.DataChannel
	var buf []byte
	for {
		select {
		case <-t.C:
		case <-p.stop:
			return
		}
		p.mu.Lock()
		list = append(list[:0], p.out...)
		l := p.load
		p.mu.Unlock()
		if len(buf) != l.Size {
			buf = make([]byte, l.Size)
		}
		for len(credit) < len(list) {
			credit = append(credit, float64(len(credit)%16)/16)
		}
		for i, dc := range list {
			credit[i] += l.Rate / float64(tickRate)
			for ; credit[i] >= 1; credit[i]-- {
				_ = dc.Send(buf)
			}
		}
	}
}

// add registers an open connection.
func (p *rawPeers) add(pc *webrtc.PeerConnection, unrel *webrtc.DataChannel) {
	p.mu.Lock()
	p.pcs = append(p.pcs, pc)
	p.out = append(p.out, unrel)
	close(p.more)
	p.more = make(chan struct{})
	p.mu.Unlock()
}

// waitCount waits until there are n connections (the host's side of a channel can
// open after the dialer's side) or timeout passes, and returns how many there are.
func (p *rawPeers) waitCount(ctx context.Context, n int, timeout time.Duration) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got, more := len(p.out), p.more
		p.mu.Unlock()
		if got >= n {
			return got
		}
		select {
		case <-more:
		case <-deadline.C:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

// Close stops sending and closes every connection.
func (p *rawPeers) Close() error {
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, pc := range p.pcs {
		errs = append(errs, pc.Close())
	}
	p.pcs, p.out = nil, nil
	return errors.Join(errs...)
}

// accept answers one raw connection's offer (complete, no trickle) on sig and
// registers it once its unreliable channel is open.
func (p *rawPeers) accept(ctx context.Context, sig *wsSignaler) error {
	offer, err := sig.RecvSignal(ctx)
	if err != nil {
		return err
	}
	if offer.Type != signaling.TypeOffer {
		return fmt.Errorf("raw: %q instead of an offer", offer.Type)
	}
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	opened := make(chan *webrtc.DataChannel, 2)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(webrtc.DataChannelMessage) { p.recv.Add(1) })
		dc.OnOpen(func() { opened <- dc })
	})
	fail := func(err error) error {
		pc.Close()
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return fail(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	if err := waitDone(ctx, gathered, "raw answer gathering"); err != nil {
		return fail(err)
	}
	if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: pc.LocalDescription().SDP}); err != nil {
		return fail(err)
	}
	for range 2 {
		select {
		case dc := <-opened:
			if dc.Label() == netcode.LabelUnreliable {
				p.add(pc, dc)
				return nil
			}
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	return fail(errors.New("raw: no unreliable channel"))
}

// dial connects one raw connection through the WebSocket at url: the client's two
// channels, a complete offer, the host's answer.
func (p *rawPeers) dial(ctx context.Context, url string) error {
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	defer conn.Close() // signaling ends with the answer
	sig := newWSSignaler(conn)
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	fail := func(err error) error {
		pc.Close()
		return err
	}
	unrel, err := pc.CreateDataChannel(netcode.LabelUnreliable, unreliableInit)
	if err != nil {
		return fail(err)
	}
	rel, err := pc.CreateDataChannel(netcode.LabelReliable, reliableInit)
	if err != nil {
		return fail(err)
	}
	opened := make(chan struct{}, 1)
	unrel.OnOpen(func() { opened <- struct{}{} })
	unrel.OnMessage(func(webrtc.DataChannelMessage) { p.recv.Add(1) })
	rel.OnMessage(func(webrtc.DataChannelMessage) { p.recv.Add(1) })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	if err := waitDone(ctx, gathered, "raw offer gathering"); err != nil {
		return fail(err)
	}
	if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: pc.LocalDescription().SDP}); err != nil {
		return fail(err)
	}
	answer, err := sig.RecvSignal(ctx)
	if err != nil {
		return fail(err)
	}
	if answer.Type != signaling.TypeAnswer {
		return fail(fmt.Errorf("raw: %q instead of an answer", answer.Type))
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.SDP}); err != nil {
		return fail(err)
	}
	select {
	case <-opened:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	p.add(pc, unrel)
	return nil
}

// dialMany connects raw connections until there are n, dialers at a time.
func (p *rawPeers) dialMany(ctx context.Context, url string, n, dialers int) error {
	need := n - p.count()
	sem := make(chan struct{}, dialers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range need {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var err error
			for range 3 { // a loaded machine sometimes loses a handshake
				if err = p.dial(dctx, url); err == nil || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d raw connections failed: %w", len(errs), need, errs[0])
	}
	return nil
}

// measureRawBaseline runs the baseline for each netcode step, in place: the load
// generator has closed its netcode clients and the host is closed. It fills in
// RawCPU, the host process's CPU (cores) with the step's raw connections.
func measureRawBaseline(ctx context.Context, cfg scaleConfig, steps []scaleStep, raw *rawPeers,
	ask func(req, wantPrefix string, timeout time.Duration) (string, error), prog *progress) error {
	for i := range steps {
		s := &steps[i]
		down, up := s.downLoad(), s.upLoad()
		prog.Printf("raw pion baseline: %d connections, %.1f msgs/s of %d B down, %.1f of %d B up", s.Clients, down.Rate, down.Size, up.Rate, up.Size)
		if _, err := ask(fmt.Sprintf("raw %d %g %d", s.Clients, up.Rate, up.Size), "ready", 90*time.Second+time.Duration(s.Clients)*200*time.Millisecond); err != nil {
			return fmt.Errorf("raw baseline, %d connections: %w", s.Clients, err)
		}
		if got := raw.waitCount(ctx, s.Clients, 30*time.Second); got < s.Clients {
			return fmt.Errorf("raw baseline: the host has %d of %d connections", got, s.Clients)
		}
		raw.setLoad(down)
		if err := sleepCtx(ctx, cfg.Warmup); err != nil {
			return err
		}
		cpu0, t0 := cpuTime(), time.Now()
		if err := sleepCtx(ctx, cfg.Window); err != nil {
			return err
		}
		s.RawCPU = (cpuTime() - cpu0).Seconds() / time.Since(t0).Seconds()
		prog.Printf("raw pion baseline, %d connections: host CPU %.0f%% (%.3f%% per connection); netcode %.3f%% per client, %.2f×",
			s.Clients, s.RawCPU*100, s.RawCPU*100/float64(s.Clients), s.HostCPU*100/float64(s.Clients), s.HostCPU/s.RawCPU)
	}
	return nil
}

// downLoad and upLoad are the step's unreliable traffic per client: messages per
// second and their average size.
func (s scaleStep) downLoad() rawLoad { return loadOf(s.OutPerClient, s.PktsOutPerClient) }
func (s scaleStep) upLoad() rawLoad   { return loadOf(s.InPerClient, s.PktsInPerClient) }

func loadOf(bytesPerSec, msgsPerSec float64) rawLoad {
	if msgsPerSec <= 0 {
		return rawLoad{}
	}
	return rawLoad{Rate: msgsPerSec, Size: int(bytesPerSec/msgsPerSec + 0.5)}
}

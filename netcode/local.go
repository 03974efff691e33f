package netcode

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/signaling"
)

// channel is what sessions and clients use of a data channel: pion's
// *webrtc.DataChannel, or one end of an in-process link (localEnd).
type channel interface {
	Send([]byte) error
	BufferedAmount() uint64
	Close() error
}

// Bounds of an in-process link's queues (one per channel and direction). The peer
// is in the same process, so a full queue means its goroutine is stuck or far behind.
const (
	// localUnreliableQueue: messages waiting on an unreliable direction; when full,
	// a new message is dropped, as a congested network would drop it (the host sees
	// the backlog in BufferedAmount first and skips snapshots: DropBackpressure).
	localUnreliableQueue = 256
	// localReliableBytes: bytes waiting on a reliable direction; a Send that would
	// exceed it fails with ErrSlowConsumer and closes the channel, since reliable
	// messages are never dropped silently. Hosts disconnect a client whose reliable
	// backlog passes ServerConfig.MaxReliableBuffered (1 MiB by default) before this.
	localReliableBytes = 8 << 20
)

// DialLocal connects a client to srv in the same process, with no network and no
// WebRTC: the two channels are in-memory queues, and everything else — the welcome,
// snapshots and their acknowledgements, inputs, commands, events, pings, byes,
// refusals — is the protocol a remote client speaks, so the host's game code cannot
// tell a local player from a remote one (it joins through Tick.Joined, and counts
// against MaxClients). A player hosting a game in its own process or browser tab plays
// through it. The unreliable queue never reorders and drops only when its reader
// falls localUnreliableQueue messages behind.
//
// cfg.Transport, cfg.Restart and cfg.Resume are not used: a local connection has no
// ICE to restart and cannot be lost. DialLocal returns once the host has welcomed the
// client, or the host's refusal (a *RejectError, as Dial returns).
func DialLocal(ctx context.Context, cfg ClientConfig, srv *Server) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Restart.Attempts, cfg.Resume = -1, nil
	res, err := newClientResume(cfg)
	if err != nil {
		return nil, err
	}
	c := newClient(cfg, res)
	// The client side's four queue goroutines are the client's: Done waits for them.
	link := newLocalLink(&c.wg)
	c.unrel, c.rel = link.client.unrel, link.client.rel
	link.client.unrel.onMessage(c.onUnreliable)
	link.client.rel.onMessage(c.onReliable)
	link.client.rel.onClose(func() {
		c.goneOnce.Do(func() { close(c.peerGone) })
		c.end(fmt.Errorf("%w: reliable channel closed", ErrConnectionLost))
	})
	c.opened.Store(2)
	close(c.open)

	sig := &localSignaler{link: link, client: c}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if _, err := srv.Accept(ctx, sig); err != nil {
			// Refused before the channels were attached: the reject signal
			// ended the client already. Anything else ends it here.
			c.end(err)
		}
	}()
	if err := c.awaitWelcome(ctx); err != nil {
		c.end(err)
		c.shutdown()
		<-c.done
		return nil, err
	}
	c.start()
	return c, nil
}

// localSignaler is the signaling path of a local client: Accept recognizes it and
// attaches the in-process channels instead of negotiating WebRTC, and a refusal
// before that (a reject signal) ends the client directly.
type localSignaler struct {
	link   *localLink
	client *Client
}

func (s *localSignaler) SendSignal(ctx context.Context, sg signaling.Signal) error {
	if sg.Type == signaling.TypeReject {
		s.client.end(&RejectError{Code: sg.Code, Reason: sg.Reason})
	}
	return nil
}

func (s *localSignaler) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	<-ctx.Done()
	return signaling.Signal{}, ctx.Err()
}

// attachLocal is the handshake of a local client: its channels are open at once.
func (sess *session) attachLocal(l *localLink) error {
	sess.chMu.Lock()
	sess.unrel, sess.rel = l.host.unrel, l.host.rel
	sess.opened = 2
	sess.chMu.Unlock()
	l.host.unrel.onMessage(sess.onUnreliable)
	l.host.rel.onMessage(sess.onReliable)
	l.host.rel.onClose(func() {
		sess.goneOnce.Do(func() { close(sess.peerGone) })
		sess.end(fmt.Errorf("%w: reliable channel closed", ErrConnectionLost))
	})
	close(sess.ready)
	return nil
}

// closeChannels closes a session's or client's channels where no peer connection
// owns them (a local link).
func closeChannels(chs ...channel) {
	for _, ch := range chs {
		if ch != nil {
			_ = ch.Close()
		}
	}
}

// localLink is an in-process connection: two channels, each a pair of directions
// (localPipe) with one delivering goroutine each.
type localLink struct {
	client, host struct{ unrel, rel *localEnd }
}

func newLocalLink(wg *sync.WaitGroup) *localLink {
	l := &localLink{}
	l.client.unrel, l.host.unrel = newLocalChannel(wg, false)
	l.client.rel, l.host.rel = newLocalChannel(wg, true)
	return l
}

// newLocalChannel returns the two ends of one channel and starts its two delivering
// goroutines, counted in wg.
func newLocalChannel(wg *sync.WaitGroup, reliable bool) (a, b *localEnd) {
	shared := &localShared{}
	ab := &localPipe{reliable: reliable, wake: make(chan struct{}, 1), shared: shared}
	ba := &localPipe{reliable: reliable, wake: make(chan struct{}, 1), shared: shared}
	shared.pipes = [2]*localPipe{ab, ba}
	a = &localEnd{out: ab, in: ba}
	b = &localEnd{out: ba, in: ab}
	wg.Add(2)
	go func() { defer wg.Done(); ab.run() }()
	go func() { defer wg.Done(); ba.run() }()
	return a, b
}

// localShared closes both directions of a channel together: closing either end
// closes the channel for both, as with a data channel.
type localShared struct {
	once  sync.Once
	pipes [2]*localPipe
}

func (s *localShared) close() {
	s.once.Do(func() {
		for _, p := range s.pipes {
			p.mu.Lock()
			p.closed = true
			p.mu.Unlock()
			p.signal()
		}
	})
}

// localEnd is one end of a local channel: it sends on out and receives from in.
type localEnd struct {
	out, in *localPipe
}

// Send queues a copy of b for the other end.
func (e *localEnd) Send(b []byte) error { return e.out.push(b) }

// BufferedAmount is the bytes this end has sent that the other end has not taken.
func (e *localEnd) BufferedAmount() uint64 {
	e.out.mu.Lock()
	defer e.out.mu.Unlock()
	return uint64(e.out.bytes)
}

// Close closes the channel for both ends; messages already queued are still
// delivered, then both ends' close handlers run.
func (e *localEnd) Close() error {
	e.out.shared.close()
	return nil
}

// onMessage sets the handler of this end's incoming messages; messages that arrive
// before it is set wait for it.
func (e *localEnd) onMessage(f func(webrtc.DataChannelMessage)) {
	e.in.mu.Lock()
	e.in.handler = f
	e.in.mu.Unlock()
	e.in.signal()
}

// onClose sets the handler called once when the channel has closed and this end's
// incoming messages have been delivered.
func (e *localEnd) onClose(f func()) {
	e.in.mu.Lock()
	e.in.closeHandler = f
	e.in.mu.Unlock()
}

// localPipe is one direction of a local channel. Its goroutine (run) owns the
// delivery; the mutex guards the queue, which senders append to.
type localPipe struct {
	reliable bool
	shared   *localShared
	wake     chan struct{} // size 1: the queue, handler or closed changed

	mu           sync.Mutex
	queue        [][]byte
	bytes        int
	closed       bool
	handler      func(webrtc.DataChannelMessage)
	closeHandler func()
}

func (p *localPipe) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *localPipe) push(b []byte) error {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return fmt.Errorf("%w: local channel closed", ErrConnectionLost)
	case !p.reliable && len(p.queue) >= localUnreliableQueue:
		p.mu.Unlock()
		return nil // dropped, as the network drops an unreliable message
	case p.reliable && p.bytes+len(b) > localReliableBytes:
		queued := p.bytes
		p.mu.Unlock()
		p.shared.close()
		return fmt.Errorf("%w: %d bytes queued on a local channel", ErrSlowConsumer, queued)
	}
	p.queue = append(p.queue, append([]byte(nil), b...))
	p.bytes += len(b)
	p.mu.Unlock()
	p.signal()
	return nil
}

// run delivers messages in order until the channel closes, then calls the close
// handler of the receiving end.
func (p *localPipe) run() {
	var batch [][]byte
	for range p.wake {
		p.mu.Lock()
		h, closed := p.handler, p.closed
		if h != nil || closed {
			batch = append(batch[:0], p.queue...)
			clear(p.queue)
			p.queue = p.queue[:0]
		}
		p.mu.Unlock()
		for _, b := range batch {
			if h != nil {
				h(webrtc.DataChannelMessage{Data: b})
			}
			p.mu.Lock()
			p.bytes -= len(b)
			p.mu.Unlock()
		}
		clear(batch)
		if closed {
			p.mu.Lock()
			f := p.closeHandler
			p.mu.Unlock()
			if f != nil {
				f()
			}
			return
		}
	}
}

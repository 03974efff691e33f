//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/internal/msgguard"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Inbound queue bounds of a host session.
const (
	// maxQueuedAcks: acks waiting for the tick goroutine; when full the oldest is
	// dropped (a later ack covers it: it carries a mask of earlier packets).
	maxQueuedAcks = 64
	// maxQueuedCommands: commands waiting for the tick goroutine; overflowing it
	// disconnects the client with ErrFlood, since commands are never dropped silently.
	maxQueuedCommands = 1024
)

// session is the host side of one client.
//
// Ownership: the pion callback goroutines of the two channels write the inbox (under
// mu) and their own receive state (rx, bucket: the unreliable and reliable callbacks
// respectively, each called from one goroutine); the tick goroutine owns future and
// lastInput; the encoder and the outgoing snapshot belong to the Server's sending
// goroutine, which the tick hands the client to on its send ticks (the tick creates
// the encoder at join, before the first hand-off); run owns the shutdown.
type session struct {
	srv   *Server
	id    ClientID
	pc    *webrtc.PeerConnection
	stats counters

	ctx    context.Context // the session's lifetime (signaling, writers)
	cancel context.CancelFunc
	sigw   *sigWriter
	cands  *remoteCandidates
	sigWG  sync.WaitGroup

	chMu     sync.Mutex
	unrel    *webrtc.DataChannel
	rel      *webrtc.DataChannel
	opened   int
	ready    chan struct{} // closed when both channels are open
	peerGone chan struct{} // closed when the reliable channel closes
	goneOnce sync.Once

	endOnce sync.Once
	ending  chan struct{}
	reason  error // set before ending closes
	done    chan struct{}

	lastHeard atomic.Int64 // clock UnixNano of the last valid update (ack)
	bad       atomic.Int64 // malformed or unknown messages
	txSeq     atomic.Uint32

	// Unreliable callback goroutine.
	rx        seqTracker
	highInput uint32 // highest input tick queued + 1
	inScratch []inputMsg
	pongBuf   []byte

	// Reliable callback goroutine.
	tokens     float64
	tokensAt   time.Time
	floodDrops int

	// Inbox, guarded by mu.
	mu       sync.Mutex
	acks     []snapshot.Ack
	inputs   []Input
	commands [][]byte

	// Tick goroutine.
	phase     uint32 // snapshots go out on ticks n with (n+phase)%sendEvery == 0
	worker    int    // the encoding group (see Server.caches)
	future    []Input
	lastInput uint32 // last applied input tick + 1

	// Sending goroutine (or the helper encoding the client's group), from the
	// tick that queued the client's snapshot until it is sent.
	enc       *snapshot.Encoder
	sendInput uint32 // lastInput when the snapshot was queued
	ackBuf    []snapshot.Ack
	pkts      [][]byte // the encoder's packets
	msgs      [][]byte // the packets with their headers

	life *hostLife // ICE restarts (lifecycle_host.go)
}

func newSession(s *Server, id ClientID) *session {
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{
		srv:      s,
		id:       id,
		ctx:      ctx,
		cancel:   cancel,
		sigw:     newSigWriter(),
		ready:    make(chan struct{}),
		peerGone: make(chan struct{}),
		ending:   make(chan struct{}),
		done:     make(chan struct{}),
		tokens:   float64(s.cfg.CommandBurst),
		tokensAt: s.clk.Now(),
	}
	sess.lastHeard.Store(s.clk.Now().UnixNano())
	sess.life = newHostLife(sess)
	return sess
}

// handshake answers the client's offer and waits until both channels are open.
func (sess *session) handshake(ctx context.Context, sig signaling.Signaler) error {
	s := sess.srv
	var offer *signaling.Signal
	var early []signaling.Signal
	for offer == nil {
		sg, err := sig.RecvSignal(ctx)
		if err != nil {
			return fmt.Errorf("%w: waiting for offer: %w", ErrSignaling, err)
		}
		if err := sg.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrSignaling, err)
		}
		switch sg.Type {
		case signaling.TypeOffer:
			offer = &sg
		case signaling.TypeICE:
			if len(early) >= maxQueuedSignals {
				return fmt.Errorf("%w: too many candidates before the offer", ErrSignaling)
			}
			early = append(early, sg)
		default:
			return fmt.Errorf("%w: %q before the offer", ErrSignaling, sg.Type)
		}
	}
	if err := sess.life.claim(sig, *offer); err != nil {
		return err
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.cfg.Transport.ICE.Servers})
	if err != nil {
		return fmt.Errorf("netcode: new peer connection: %w", err)
	}
	sess.pc = pc
	sess.cands = &remoteCandidates{pc: pc}
	pc.OnICECandidate(sess.sigw.candidate)
	pc.OnDataChannel(sess.onDataChannel)
	pc.OnICEConnectionStateChange(sess.life.onICEState)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		// A failed connection may come back with an ICE restart; the timeout
		// judges it.
		if st == webrtc.PeerConnectionStateClosed || st == webrtc.PeerConnectionStateFailed && !sess.life.cfg.enabled() {
			sess.end(fmt.Errorf("%w: peer connection %s", ErrConnectionLost, st))
		}
	})
	for _, c := range early {
		_ = sess.cands.add(c)
	}
	if err := sess.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%w: create answer: %w", ErrSignaling, err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("%w: set local description: %w", ErrSignaling, err)
	}
	sess.sigw.description(answer)
	sess.sigWG.Add(2)
	go func() {
		defer sess.sigWG.Done()
		sess.sigw.run(sess.ctx, sig)
	}()
	go func() {
		defer sess.sigWG.Done()
		sess.readSignals(sig)
	}()
	select {
	case <-sess.ready:
	case <-sess.ending:
		return sess.reason
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrSignaling, ctx.Err())
	}
	return sess.life.welcome(ctx)
}

// readSignals adds late trickled candidates until the session ends or signaling closes.
func (sess *session) readSignals(sig signaling.Signaler) {
	for {
		sg, err := sig.RecvSignal(sess.ctx)
		if err != nil {
			return
		}
		if sg.Validate() != nil {
			sess.srv.log.Debug("ignoring signal", "client", sess.id, "type", sg.Type)
			continue
		}
		switch sg.Type {
		case signaling.TypeOffer:
			if sess.life.onOffer(sig, sg) { // an ICE restart, or a new connection
				return
			}
			continue
		case signaling.TypeAnswer:
			sess.life.onAnswer(sg.SDP)
			continue
		}
		if err := sess.cands.add(sg); err != nil {
			sess.srv.log.Debug("bad candidate", "client", sess.id, "err", err)
		}
	}
}

// onDataChannel accepts exactly the two channels of the protocol.
func (sess *session) onDataChannel(dc *webrtc.DataChannel) {
	mr, mpl := dc.MaxRetransmits(), dc.MaxPacketLifeTime()
	sess.chMu.Lock()
	var ok bool
	switch dc.Label() {
	case LabelUnreliable:
		ok = sess.unrel == nil && !dc.Ordered() && mr != nil && *mr == 0 && mpl == nil
		if ok {
			sess.unrel = dc
			dc.OnMessage(sess.onUnreliable)
		}
	case LabelReliable:
		ok = sess.rel == nil && dc.Ordered() && mr == nil && mpl == nil
		if ok {
			sess.rel = dc
			dc.OnMessage(sess.onReliable)
			dc.OnClose(func() {
				sess.goneOnce.Do(func() { close(sess.peerGone) })
				sess.end(fmt.Errorf("%w: reliable channel closed", ErrConnectionLost))
			})
		}
	}
	sess.chMu.Unlock()
	if !ok {
		sess.srv.log.Warn("rejecting data channel", "client", sess.id, "label", dc.Label())
		_ = dc.Close()
		sess.end(fmt.Errorf("%w: %q (ordered %v)", ErrBadChannel, dc.Label(), dc.Ordered()))
		return
	}
	dc.OnOpen(func() {
		sess.chMu.Lock()
		sess.opened++
		both := sess.opened == 2
		sess.chMu.Unlock()
		if both {
			close(sess.ready)
		}
	})
}

// badMessage counts a malformed or unknown message and ends the session after too many.
func (sess *session) badMessage(r DropReason, err error) {
	sess.drop(r)
	if n := sess.bad.Add(1); n >= int64(sess.srv.cfg.MaxBadMessages) {
		sess.end(fmt.Errorf("%w: %d bad messages, last: %w", ErrProtocol, n, err))
	}
}

// parseDrop is the drop reason of a message that failed to parse with err.
func parseDrop(err error) DropReason {
	if errors.Is(err, ErrTooLarge) {
		return DropTooLarge
	}
	return DropMalformed
}

func (sess *session) onUnreliable(msg webrtc.DataChannelMessage) {
	b := msg.Data
	sess.stats.in(len(b))
	kind, seq, err := readHeader(b)
	if err != nil {
		sess.badMessage(parseDrop(err), err)
		return
	}
	switch kind {
	case kindUpdate:
		ack, inputs, err := decodeUpdate(b, sess.inScratch[:0])
		sess.inScratch = inputs[:0]
		if err != nil {
			sess.badMessage(parseDrop(err), err)
			return
		}
		sess.rx.add(seq)
		sess.heard()
		sess.queueUpdate(ack, inputs)
	case kindPing:
		p, err := decodePing(b)
		if err != nil {
			sess.badMessage(DropMalformed, err)
			return
		}
		sess.rx.add(seq) // a ping shows liveness, not acknowledgement: no heard()
		sess.stats.setLossOut(p.Recv, p.Lost)
		sess.stats.rtt.Store(int64(p.RTT) * int64(time.Microsecond))
		sess.stats.jitter.Store(int64(p.Jitter) * int64(time.Microsecond))
		recv, lost := sess.rx.counts()
		sess.stats.setLossIn(recv, lost)
		sess.pongBuf = appendPong(sess.pongBuf[:0], sess.txSeq.Add(1)-1, pongMsg{
			ClientTime: p.ClientTime,
			HostTime:   uint64(sess.srv.hostTime()),
			Recv:       recv,
			Lost:       lost,
		})
		sess.sendUnreliable(sess.pongBuf)
	default:
		sess.badMessage(DropUnknownKind, fmt.Errorf("%w: 0x%02x", ErrUnknownKind, kind))
	}
}

// drop counts a dropped message.
func (sess *session) drop(r DropReason) {
	sess.stats.drop(r)
	if sess.srv.cfg.observeDrop != nil {
		sess.srv.cfg.observeDrop(sess.id, r)
	}
}

func (sess *session) heard() { sess.lastHeard.Store(sess.srv.clk.Now().UnixNano()) }

// queueUpdate filters an update's inputs and queues them with the ack for the tick
// goroutine. Inputs repeat until acknowledged, so only ticks above the highest queued
// one are new; of those, ticks already run are late and ticks too far ahead are
// rejected.
func (sess *session) queueUpdate(ack snapshot.Ack, inputs []inputMsg) {
	cur := sess.srv.curTick.Load()
	lead := uint32(sess.srv.cfg.MaxInputLead)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.acks) == maxQueuedAcks {
		copy(sess.acks, sess.acks[1:])
		sess.acks = sess.acks[:maxQueuedAcks-1]
	}
	sess.acks = append(sess.acks, ack)
	for _, in := range inputs {
		if in.Tick+1 <= sess.highInput {
			continue // a repeat
		}
		if int32(in.Tick-cur) > int32(lead) {
			sess.drop(DropFutureInput)
			continue
		}
		sess.highInput = in.Tick + 1
		if int32(in.Tick-cur) <= 0 && in.Tick != cur {
			sess.drop(DropLateInput)
			continue
		}
		if len(sess.inputs) >= sess.srv.cfg.MaxInputLead+1 {
			sess.drop(DropQueueFull)
			continue
		}
		sess.inputs = append(sess.inputs, Input{Client: sess.id, Tick: in.Tick, Data: append([]byte(nil), in.Data...)})
	}
}

func (sess *session) onReliable(msg webrtc.DataChannelMessage) {
	b := msg.Data
	sess.stats.in(len(b))
	if len(b) == 0 || msg.IsString {
		sess.badMessage(DropMalformed, fmt.Errorf("%w: empty or text message", ErrMalformed))
		return
	}
	switch b[0] {
	case kindCommand:
		unlock, current := sess.life.commandIn()
		if !current {
			return
		}
		defer unlock()
		body := b[1:]
		cfg := &sess.srv.cfg
		if len(body) > cfg.MaxCommandBytes {
			sess.badMessage(DropTooLarge, fmt.Errorf("%w: command of %d bytes", ErrTooLarge, len(body)))
			return
		}
		if err := msgguard.Check(body, cfg.MaxCommandBytes); err != nil {
			sess.badMessage(DropMalformed, fmt.Errorf("%w: command: %w", ErrMalformed, err))
			return
		}
		now := sess.srv.clk.Now()
		sess.tokens = min(float64(cfg.CommandBurst), sess.tokens+now.Sub(sess.tokensAt).Seconds()*cfg.CommandRate)
		sess.tokensAt = now
		if sess.tokens < 1 {
			sess.drop(DropRateLimited)
			sess.floodDrops++
			if sess.floodDrops >= cfg.FloodLimit {
				sess.end(fmt.Errorf("%w: %d commands over the rate limit", ErrFlood, sess.floodDrops))
			}
			return
		}
		sess.tokens--
		sess.mu.Lock()
		full := len(sess.commands) >= maxQueuedCommands
		if !full {
			sess.commands = append(sess.commands, body)
		}
		sess.mu.Unlock()
		if full {
			sess.drop(DropQueueFull)
			sess.end(fmt.Errorf("%w: %d commands queued", ErrFlood, maxQueuedCommands))
		}
	case kindAck:
		sess.life.onAck(b[1:])
	case kindBye:
		var m bye
		_ = msgguard.Unmarshal(b[1:], 1024, &m)
		sess.end(fmt.Errorf("%w: %s", ErrClientLeft, m.Reason))
	default:
		sess.badMessage(DropUnknownKind, fmt.Errorf("%w: 0x%02x", ErrUnknownKind, b[0]))
	}
}

// collect moves the inbox into the tick: inputs due at tick n, commands (acks wait
// for the next encode). Runs on the tick goroutine.
func (sess *session) collect(n uint32, t *Tick) {
	sess.mu.Lock()
	sess.future = append(sess.future, sess.inputs...)
	clear(sess.inputs)
	sess.inputs = sess.inputs[:0]
	for _, c := range sess.commands {
		t.Commands = append(t.Commands, Command{Client: sess.id, Data: c, max: sess.srv.cfg.MaxCommandBytes})
	}
	clear(sess.commands)
	sess.commands = sess.commands[:0]
	sess.mu.Unlock()

	i := 0
	for ; i < len(sess.future); i++ {
		in := sess.future[i]
		if int32(in.Tick-n) > 0 {
			break
		}
		if in.Tick != n {
			sess.drop(DropLateInput)
			continue
		}
		t.Inputs = append(t.Inputs, in)
		sess.lastInput = n + 1
	}
	m := copy(sess.future, sess.future[i:])
	clear(sess.future[m:])
	sess.future = sess.future[:m]
	if int64(sess.bad.Load()) >= int64(sess.srv.cfg.MaxBadMessages) {
		sess.end(fmt.Errorf("%w: too many bad messages", ErrProtocol))
	}
}

// encodeSnapshot applies the acks that arrived since the last send and encodes the
// world for this client into sess.msgs, ready to send, unless the unreliable channel
// still holds earlier snapshots (then this one is dropped and counted, and sess.msgs
// is left empty). It runs on the sending goroutine or one of its helpers.
func (sess *session) encodeSnapshot(w *snapshot.World, n uint32) {
	sess.mu.Lock()
	sess.ackBuf = append(sess.ackBuf[:0], sess.acks...)
	sess.acks = sess.acks[:0]
	sess.mu.Unlock()
	for _, a := range sess.ackBuf {
		if err := sess.enc.Ack(a); err != nil {
			// Counted, not held against the client: an ack can be stale
			// rather than forged.
			sess.drop(DropBadAck)
		}
	}
	sess.msgs = sess.msgs[:0]
	limit := uint64(2 * sess.srv.cfg.MaxPacketsPerSend * MaxUnreliableBytes)
	if sess.unrel.BufferedAmount() > limit {
		sess.drop(DropBackpressure)
		return
	}
	pkts, err := sess.enc.Encode(sess.pkts[:0], w, n)
	sess.pkts = pkts
	if err != nil {
		sess.srv.log.Warn("snapshot encode failed", "client", sess.id, "tick", n, "err", err)
	}
	for i, p := range pkts {
		var m []byte
		if i < cap(sess.msgs) {
			m = sess.msgs[:i+1][i][:0]
		}
		m = appendSnapshotHeader(m, sess.txSeq.Add(1)-1, sess.sendInput)
		sess.msgs = append(sess.msgs[:i], append(m, p...))
	}
}

// sendSnapshot sends what encodeSnapshot encoded. It runs on the Server's sending
// goroutine.
func (sess *session) sendSnapshot() {
	for _, m := range sess.msgs {
		sess.stats.snaps.Add(1)
		sess.sendUnreliable(m)
	}
}

// sendUnreliable counts b before handing it to the channel: the client may receive
// it, leave, and have this session's counters folded into the host totals before
// Send returns. A failed Send (the channel is closing) is still counted as sent.
func (sess *session) sendUnreliable(b []byte) {
	sess.stats.out(len(b))
	_ = sess.unrel.Send(b)
}

// sendReliable sends one message on the reliable channel, ending the session if the
// client does not keep up.
func (sess *session) sendReliable(msg []byte) error {
	sess.chMu.Lock()
	rel := sess.rel
	sess.chMu.Unlock()
	if rel == nil {
		return ErrNotConnected
	}
	if rel.BufferedAmount() > uint64(sess.srv.cfg.MaxReliableBuffered) {
		err := fmt.Errorf("%w: %d bytes buffered", ErrSlowConsumer, rel.BufferedAmount())
		sess.end(err)
		return err
	}
	if err := rel.Send(msg); err != nil {
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	sess.stats.out(len(msg))
	return nil
}

// end starts the shutdown of the session with a reason; only the first call counts.
func (sess *session) end(reason error) {
	sess.endOnce.Do(func() {
		sess.reason = reason
		close(sess.ending)
	})
}

// run waits for the end of a registered session and shuts it down.
func (sess *session) run() {
	defer sess.srv.wg.Done()
	<-sess.ending
	reason := sess.reason
	if sess.srv.life.onEnd(sess, reason) {
		return // superseded, or suspended for resumption
	}
	if !errors.Is(reason, ErrClientLeft) && !errors.Is(reason, ErrConnectionLost) {
		// Say goodbye and give the client a moment to close first, so that it
		// learns the reason rather than seeing a dead connection.
		code := codeOf(reason)
		if msg, err := marshalMessage(kindBye, bye{Reason: reason.Error(), Code: code}); err == nil {
			if sess.sendReliable(msg) == nil {
				t := time.NewTimer(byeWait)
				select {
				case <-sess.peerGone:
				case <-t.C:
				}
				t.Stop()
			}
		}
	}
	sess.teardown()
	sess.srv.removeSession(sess, reason)
	sess.srv.log.Info("client disconnected", "client", sess.id, "reason", reason)
}

// teardown closes the connection and waits for the session's goroutines.
func (sess *session) teardown() {
	sess.end(ErrClosed)
	sess.life.abandon()
	if sess.pc != nil {
		_ = sess.pc.Close()
	}
	sess.cancel()
	sess.sigWG.Wait()
	close(sess.done)
}

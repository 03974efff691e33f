package netcode

import (
	"cmp"
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
	// maxQueuedCommands: commands waiting for the game (see
	// ServerConfig.MaxQueuedCommandBytes for their bytes); overflowing it disconnects
	// the client with ErrFlood, since commands are never dropped silently.
	maxQueuedCommands = 1024
)

// session is the host side of one client.
//
// Ownership: the pion callback goroutines of the two channels write the inbox (under
// mu); the unreliable callback owns its receive state (rx, pings); commands arrive on
// both channels and are numbered, checked and queued under the numbering lock (see
// command); the tick
// goroutine reads the inbox (under mu) and owns inBuf and lastInput; the encoder and
// the outgoing snapshot belong to the Server's sending goroutine, which the tick hands
// the client to on its send ticks (the tick creates the encoder at join, before the
// first hand-off); Accept owns a pending session's handshake, run a registered
// session's shutdown.
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

	// The pending handshake (see Server.Accept): its context, which end cancels,
	// and a new offer that ended it (set before ending closes).
	hctx    context.Context
	hcancel context.CancelFunc
	reoffer *signaling.Signal

	chMu     sync.Mutex
	unrel    channel // a *webrtc.DataChannel, or a local link's end (DialLocal)
	rel      channel
	opened   int
	ready    chan struct{} // closed when both channels are open
	peerGone chan struct{} // closed when the reliable channel closes
	goneOnce sync.Once

	endOnce      sync.Once
	ending       chan struct{}
	reason       error // set before ending closes
	done         chan struct{}
	teardownOnce sync.Once

	// Guarded by Server.mu.
	departed bool  // unregistered and reported to the tick (Server.departLocked)
	folded   Stats // the counters already added to the host's totals

	lastHeard atomic.Int64 // clock UnixNano of the last valid update (ack)
	bad       atomic.Int64 // malformed or unknown messages
	txSeq     atomic.Uint32

	// Unreliable callback goroutine.
	rx        seqTracker
	highInput uint32 // highest input tick queued (in time or late), if haveHigh
	haveHigh  bool
	inScratch []inputMsg
	pongBuf   []byte
	pings     tokenBucket

	// Commands, from either channel's callback, under the numbering lock (the
	// identity's mutex, or cmdMu for a session without one: see
	// hostLife.commandIn): relIn counts the command messages received on the
	// reliable channel (from the resumed count), cmdsIn the commands received
	// when there is no identity; cmdsSeen mirrors the count received for the
	// copies' acknowledgement.
	cmdMu    sync.Mutex
	relIn    uint32
	cmdsIn   uint32
	cmdsSeen atomic.Uint32

	copies    hostCopies // copies_host.go
	cpScratch [][]byte   // unreliable callback goroutine

	// Inbox, guarded by mu.
	mu       sync.Mutex
	acks     []snapshot.Ack
	inputs   []pendingInput // ticks not run yet, ascending; one version per tick
	next     uint32         // the next tick collect runs for this session
	commands [][]byte       // arrived, not yet handed to Step, in order
	cmdBytes int            // the bytes of commands

	// Tick goroutine.
	phase     uint32              // snapshots go out on ticks n with (n+phase)%sendEvery == 0
	worker    int                 // the encoding group (see Server.caches)
	inBuf     [MaxInputBytes]byte // this tick's input, handed to Step
	lastInput uint32              // last applied input tick + 1
	cmdTokens float64             // commands Step may receive now (ServerConfig.CommandRate)
	cmdTick   uint32              // the tick cmdTokens was last credited at

	// Sending goroutine (or the helper encoding the client's group), from the
	// tick that queued the client's snapshot until it is sent.
	enc       *snapshot.Encoder
	budget    budget // BytesPerSecond
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
	}
	now := s.clk.Now()
	sess.lastHeard.Store(now.UnixNano())
	sess.cmdTokens = float64(s.cfg.CommandBurst)
	sess.pings = newTokenBucket(s.cfg.PingBurst, now)
	sess.next = s.curTick.Load()
	sess.life = newHostLife(sess)
	return sess
}

// handshake answers the client's offer (read from sig, unless the caller has it) and
// waits until both channels are open, sess.hctx ends or the session ends (then it
// returns the session's reason).
func (sess *session) handshake(sig signaling.Signaler, offer *signaling.Signal) error {
	if l, ok := sig.(*localSignaler); ok {
		return sess.attachLocal(l.link)
	}
	s := sess.srv
	ctx := sess.hctx
	var early []signaling.Signal
	for offer == nil {
		sg, err := sig.RecvSignal(ctx)
		if err != nil {
			if sess.isEnding() {
				return sess.reason
			}
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
	pc, err := s.api.NewPeerConnection(s.cfg.Transport.ICE.rtcConfig())
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
		if sess.isEnding() {
			return sess.reason
		}
		return fmt.Errorf("%w: %w", ErrSignaling, ctx.Err())
	}
	return nil
}

// sendWelcome sends the welcome, the first reliable message: Accept registers the
// session for snapshots and events only after it. It carries the resume token; a
// resumption first takes its identity over (see hostLife.welcome).
func (sess *session) sendWelcome() error {
	s := sess.srv
	return sess.life.welcome(sess.hctx, welcome{
		ID: uint32(sess.id), TickRate: s.cfg.TickRate, SendRate: s.cfg.SendRate,
		Proto: cmp.Or(s.cfg.proto, ProtocolVersion), Schema: s.schema,
	})
}

// isReady reports whether both channels are open.
func (sess *session) isReady() bool {
	select {
	case <-sess.ready:
		return true
	default:
		return false
	}
}

// isEnding reports whether the session has ended (then sess.reason is set).
func (sess *session) isEnding() bool {
	select {
	case <-sess.ending:
		return true
	default:
		return false
	}
}

// readSignals adds late trickled candidates until the session ends or signaling
// closes. Before the channels open, a closed signaling path ends the session (the
// peer has left, and a handshake nobody completes only holds a pending slot) and a
// new offer ends it so that Accept restarts with the offer (sess.reoffer).
func (sess *session) readSignals(sig signaling.Signaler) {
	for {
		sg, err := sig.RecvSignal(sess.ctx)
		if err != nil {
			sess.sigw.readerSaw(err)
			if sess.ctx.Err() == nil && !sess.isReady() {
				sess.end(fmt.Errorf("%w: %w", errPeerLeft, err))
			}
			return
		}
		if sg.Validate() != nil {
			sess.srv.log.Debug("ignoring invalid signal", "client", sess.id, "type", sg.Type)
			continue
		}
		switch {
		case sg.Type == signaling.TypeOffer && !sess.isReady():
			sess.reoffer = &sg
			sess.end(errReoffer)
			return
		case sg.Type == signaling.TypeOffer:
			if sess.life.onOffer(sig, sg) { // an ICE restart, or a new connection
				return
			}
			continue
		case sg.Type == signaling.TypeAnswer:
			sess.life.onAnswer(sg.SDP)
			continue
		case sg.Type != signaling.TypeICE:
			sess.srv.log.Debug("ignoring signal", "client", sess.id, "type", sg.Type)
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
		if sess.isReady() {
			// Before that, the refusal closes the connection once the peer is told
			// (Server.refuse).
			_ = dc.Close()
		}
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
		sess.queueUpdate(seq, ack, inputs)
		if f := sess.srv.cfg.observeUpdate; f != nil {
			f(sess.id, seq)
		}
	case kindPing:
		p, err := decodePing(b)
		if err != nil {
			sess.badMessage(DropMalformed, err)
			return
		}
		sess.rx.add(seq) // a ping shows liveness, not acknowledgement: no heard()
		cfg := &sess.srv.cfg
		if !sess.pings.take(sess.srv.clk.Now(), cfg.PingRate, cfg.PingBurst) {
			sess.drop(DropPingLimited)
			return
		}
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
	case kindCommandCopies:
		sess.rx.add(seq)
		sess.onCommandCopies(b)
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

// pendingInput is the newest version received of one tick's input.
type pendingInput struct {
	tick uint32
	seq  uint32 // sequence number of the update that carried this version
	n    uint8
	data [MaxInputBytes]byte
}

// queueUpdate filters an update's inputs and queues them with the ack for the tick
// goroutine. Inputs repeat in every update until applied, and a tick's input may be
// revised (Client.SendInput called again for the same tick): for a tick that has not
// run, the version from the update with the highest sequence number wins. Ticks
// already run are late (counted once, their repeats ignored); ticks outside the
// window are dropped (DropFutureInput). Nothing is allocated once the queue has
// grown to its working size.
func (sess *session) queueUpdate(seq uint32, ack snapshot.Ack, inputs []inputMsg) {
	s := sess.srv
	lead := int64(s.cfg.MaxInputLead)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	cur := sess.next
	if len(sess.acks) == maxQueuedAcks {
		copy(sess.acks, sess.acks[1:])
		sess.acks = sess.acks[:maxQueuedAcks-1]
	}
	sess.acks = append(sess.acks, ack)
	for _, in := range inputs {
		d := serialDiff(in.Tick, cur)
		if d > lead || d < -s.lateTicks {
			sess.drop(DropFutureInput)
			continue
		}
		newest := !sess.haveHigh || serialAfter(in.Tick, sess.highInput)
		if newest {
			sess.highInput, sess.haveHigh = in.Tick, true
		}
		if d < 0 {
			if newest {
				sess.drop(DropLateInput)
			}
			continue // late, or a repeat of an input queued in time
		}
		sess.putInputLocked(in, seq)
	}
}

// putInputLocked stores in, carried by update seq, unless a newer update already
// carried that tick.
func (sess *session) putInputLocked(in inputMsg, seq uint32) {
	// Inputs mostly arrive for the newest ticks: search from the end.
	i := len(sess.inputs)
	for i > 0 && serialAfter(sess.inputs[i-1].tick, in.Tick) {
		i--
	}
	if i > 0 && sess.inputs[i-1].tick == in.Tick {
		p := &sess.inputs[i-1]
		if serialAfter(seq, p.seq) {
			p.seq, p.n = seq, uint8(copy(p.data[:], in.Data))
		}
		return
	}
	if len(sess.inputs) > sess.srv.cfg.MaxInputLead {
		sess.drop(DropQueueFull)
		return
	}
	sess.inputs = append(sess.inputs, pendingInput{})
	copy(sess.inputs[i+1:], sess.inputs[i:])
	p := &sess.inputs[i]
	p.tick, p.seq, p.n = in.Tick, seq, uint8(copy(p.data[:], in.Data))
}

func (sess *session) onReliable(msg webrtc.DataChannelMessage) {
	b := msg.Data
	sess.stats.in(len(b))
	if len(b) == 0 || msg.IsString {
		sess.badMessage(DropMalformed, fmt.Errorf("%w: empty or text message", ErrMalformed))
		return
	}
	if sess.srv.cfg.observeReliable != nil {
		sess.srv.cfg.observeReliable(b[0])
	}
	switch b[0] {
	case kindCommand:
		if !sess.srv.cfg.ignoreReliableCommands {
			sess.command(0, false, b[1:])
		}
	case kindAck:
		sess.life.onAck(b[1:])
	case kindBye:
		// Any bye is a clean leave; a client that refused our welcome says why.
		var m bye
		_ = msgguard.Unmarshal(b[1:], 1024, &m)
		switch why := errOfCode(m.Code); why {
		case ErrVersionMismatch, ErrSchemaMismatch:
			sess.end(fmt.Errorf("%w: %w: %s", ErrClientLeft, why, m.Reason))
		default:
			sess.end(fmt.Errorf("%w: %s", ErrClientLeft, m.Reason))
		}
	default:
		sess.badMessage(DropUnknownKind, fmt.Errorf("%w: 0x%02x", ErrUnknownKind, b[0]))
	}
}

// command checks and queues a command: num, from a copy (copied), or the next one
// on the reliable channel. It reports whether the command was new, and not already
// received on the other channel (then it was queued, or dropped and counted).
func (sess *session) command(num uint32, copied bool, body []byte) bool {
	unlock, ok := sess.life.commandIn(num, copied)
	if !ok {
		return false
	}
	defer unlock()
	cfg := &sess.srv.cfg
	if len(body) > cfg.MaxCommandBytes {
		sess.badMessage(DropTooLarge, fmt.Errorf("%w: command of %d bytes", ErrTooLarge, len(body)))
		return true
	}
	if err := msgguard.Check(body, cfg.MaxCommandBytes); err != nil {
		sess.badMessage(DropMalformed, fmt.Errorf("%w: command: %w", ErrMalformed, err))
		return true
	}
	// No rate check here: commands the network held up arrive together, and an
	// honest client must lose none. collect paces them into the game; a client
	// sending faster than that for long fills the queue.
	sess.mu.Lock()
	full := len(sess.commands) >= maxQueuedCommands || sess.cmdBytes+len(body) > cfg.MaxQueuedCommandBytes
	if !full {
		sess.commands = append(sess.commands, body)
		sess.cmdBytes += len(body)
	}
	n, bytes := len(sess.commands), sess.cmdBytes
	sess.mu.Unlock()
	if full {
		sess.drop(DropQueueFull)
		sess.end(fmt.Errorf("%w: %d commands (%d bytes) waiting for the game", ErrFlood, n, bytes))
	}
	return true
}

// collect moves the inbox into the tick: the input for tick n, commands (acks wait
// for the next encode). Runs on the tick goroutine.
func (sess *session) collect(n uint32, t *Tick) {
	sess.mu.Lock()
	sess.next = n + 1
	i := 0
	for ; i < len(sess.inputs); i++ {
		p := &sess.inputs[i]
		if d := serialDiff(p.tick, n); d > 0 {
			break
		} else if d < 0 {
			// Queued before the session's first tick, or skipped by the loop.
			sess.drop(DropLateInput)
			continue
		}
		in := sess.inBuf[:copy(sess.inBuf[:], p.data[:p.n])]
		t.Inputs = append(t.Inputs, Input{Client: sess.id, Tick: n, Data: in})
		sess.lastInput = n + 1
	}
	m := copy(sess.inputs, sess.inputs[i:])
	sess.inputs = sess.inputs[:m]
	// Pace commands into the game: CommandRate per second, CommandBurst at once.
	cfg := &sess.srv.cfg
	if d := serialDiff(n, sess.cmdTick); d > 0 {
		sess.cmdTokens = min(float64(cfg.CommandBurst), sess.cmdTokens+float64(d)*cfg.CommandRate/float64(cfg.TickRate))
	}
	sess.cmdTick = n
	k := min(len(sess.commands), int(sess.cmdTokens))
	sess.cmdTokens -= float64(k)
	for _, c := range sess.commands[:k] {
		t.Commands = append(t.Commands, Command{Client: sess.id, Data: c, max: cfg.MaxCommandBytes})
		sess.cmdBytes -= len(c)
	}
	rest := copy(sess.commands, sess.commands[k:])
	clear(sess.commands[rest:])
	sess.commands = sess.commands[:rest]
	sess.mu.Unlock()

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
	pkts, err := sess.enc.EncodeWith(sess.pkts[:0], w, n, sess.encodeOptions())
	sess.pkts = pkts
	if err != nil {
		sess.srv.log.Warn("snapshot encode failed", "client", sess.id, "tick", n, "err", err)
	}
	sess.afterEncode(n)
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
// It aborts a pending handshake.
func (sess *session) end(reason error) {
	sess.endOnce.Do(func() {
		sess.reason = reason
		close(sess.ending)
		if sess.hcancel != nil {
			sess.hcancel()
		}
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
		sess.sayBye(reason)
	}
	sess.teardown()
	sess.srv.removeSession(sess, reason)
	sess.srv.log.Info("client disconnected", "client", sess.id, "reason", reason)
}

// sayBye tells the client why the session ends, and gives it a moment to close first,
// so that it learns the reason rather than seeing a dead connection; a client that
// timed out is silent, so it gets the bye but no wait.
func (sess *session) sayBye(reason error) {
	msg, err := marshalMessage(kindBye, bye{Reason: reason.Error(), Code: codeOf(reason)})
	if err != nil || sess.sendReliable(msg) != nil || errors.Is(reason, ErrTimeout) {
		return
	}
	t := time.NewTimer(byeWait)
	select {
	case <-sess.peerGone:
	case <-t.C:
	}
	t.Stop()
}

// stopSignaling stops the goroutines that read and write the signaling path and
// waits for them.
func (sess *session) stopSignaling() {
	sess.cancel()
	sess.sigWG.Wait()
}

// teardown ends the session, stops its signaling, closes the connection and waits
// for the session's goroutines. Only the first call counts.
func (sess *session) teardown() {
	sess.teardownOnce.Do(func() {
		sess.end(ErrClosed)
		sess.life.abandon()
		sess.stopSignaling()
		if sess.pc != nil {
			_ = sess.pc.Close()
		} else {
			closeChannels(sess.unrel, sess.rel) // a local link
		}
		close(sess.done)
	})
}

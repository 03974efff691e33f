package netcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/internal/msgguard"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// clientInbox bounds the unreliable messages waiting for the client goroutine; when
// full, new ones are dropped (DropQueueFull): stale snapshots are worthless.
const clientInbox = 256

// Client is a connection to a host. Its methods are safe for concurrent use.
type Client struct {
	cfg         ClientConfig
	clk         Clock
	log         *slog.Logger
	pc          *webrtc.PeerConnection // nil for a local client (DialLocal)
	unrel       channel
	rel         channel
	sigw        *sigWriter
	cands       *remoteCandidates
	epoch       time.Time // local epoch of ping times
	stats       counters
	id          ClientID
	schema      string // cfg.Registry's fingerprint
	tickRate    int
	sendRate    int
	ackDelay    time.Duration // how long an ack may wait for an input to ride with (0: none)
	tickDur     time.Duration
	inputMargin time.Duration // added to an input's estimated arrival (ClientConfig.InputMargin)

	ctx    context.Context // lifetime of the client's goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	opened   atomic.Int32
	open     chan struct{}     // closed when both channels are open
	welcomed chan welcome      // the host's welcome, once
	gotHello atomic.Bool       // the welcome has arrived
	rejected chan *RejectError // the host's reject signal, once
	peerGone chan struct{}
	goneOnce sync.Once

	in      chan []byte // unreliable messages for run
	events  chan Event
	updates chan struct{}

	endOnce sync.Once
	ending  chan struct{}
	reason  error
	done    chan struct{}

	lastHeard atomic.Int64
	arrivals  atomic.Uint64 // messages received on either channel, counted on arrival
	txSeq     atomic.Uint32

	// run goroutine.
	dec *snapshot.Decoder
	rx  seqTracker

	// mu guards the clock estimate, the ack and the input queue.
	mu         sync.Mutex
	sync       clockSync
	ack        snapshot.Ack
	ackPending bool       // c.ack has not been sent yet
	pending    []inputMsg // unacknowledged inputs, ascending ticks
	lastStamp  uint32
	haveStamp  bool
	applied    uint32 // last input tick applied + 1, from the host
	updateBuf  []byte

	imu    sync.Mutex
	interp *interpBuffer

	life   *clientLife   // ICE restarts (lifecycle_client.go)
	resume *clientResume // resumption (lifecycle_resume.go)
	copies clientCopies  // copies of commands and events (copies_client.go)
}

// Dial connects to a host through sig: it creates both data channels, sends the offer,
// trickles candidates both ways and returns once the channels are open and the host's
// welcome has arrived. Late candidates keep being handled until the client closes.
//
// A host that refuses the connection says so (a reject signal, or a bye before its
// welcome), and Dial then returns at once a *[RejectError] matching [ErrRejected] and
// the code's error: [ErrHostFull] when the host is full, [ErrBusy] when it has too
// many handshakes in progress, [ErrBadChannel] for channels it does not accept. A host
// that speaks another protocol version or announces another schema fingerprint than
// cfg.Registry's is refused by the client at once (ErrVersionMismatch,
// ErrSchemaMismatch, naming both values), and told why in a bye.
func Dial(ctx context.Context, cfg ClientConfig, sig signaling.Signaler) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	res, err := newClientResume(cfg)
	if err != nil {
		return nil, err
	}
	api, err := NewWebRTCAPI(cfg.Transport)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(cfg.Transport.ICE.rtcConfig())
	if err != nil {
		return nil, fmt.Errorf("netcode: new peer connection: %w", err)
	}
	c := newClient(cfg, res)
	c.pc = pc
	c.cands = &remoteCandidates{pc: pc}
	if err := c.connect(ctx, sig); err != nil {
		c.end(err)
		c.shutdown()
		<-c.done
		return nil, err
	}
	c.start()
	return c, nil
}

// withDefaults validates cfg and applies its defaults.
func (cfg ClientConfig) withDefaults() (ClientConfig, error) {
	if cfg.Registry == nil {
		return cfg, fmt.Errorf("%w: Registry is required", ErrConfig)
	}
	if cfg.BufferedSnapshots <= 1 {
		cfg.BufferedSnapshots = 32
	}
	if cfg.InputRedundancy <= 0 {
		cfg.InputRedundancy = 16
	}
	if cfg.EventQueue <= 0 {
		cfg.EventQueue = 4096
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = 64 << 10
	}
	if cfg.CopyBytes == 0 {
		cfg.CopyBytes = defaultCopyBytes
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 250 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	return cfg, nil
}

// newClient returns a client that is not connected yet; cfg has its defaults.
func newClient(cfg ClientConfig, res *clientResume) *Client {
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		clk:      cfg.Clock,
		log:      cfg.Logger,
		sigw:     newSigWriter(),
		ctx:      cctx,
		cancel:   cancel,
		open:     make(chan struct{}),
		welcomed: make(chan welcome, 1),
		rejected: make(chan *RejectError, 1),
		peerGone: make(chan struct{}),
		in:       make(chan []byte, clientInbox),
		events:   make(chan Event, cfg.EventQueue),
		updates:  make(chan struct{}, 1),
		ending:   make(chan struct{}),
		done:     make(chan struct{}),
		schema:   cfg.Registry.Fingerprint(),
		dec:      snapshot.NewDecoder(cfg.Registry),
		interp:   newInterpBuffer(cfg.Registry, cfg.BufferedSnapshots),
		resume:   res,
	}
	c.copies.maxBody = max(cfg.CopyBytes, -1)
	c.copies.relEv = res.evIn.Load() // a resumption replays the events after these
	c.epoch = c.clk.Now()
	c.lastHeard.Store(c.epoch.UnixNano())
	c.life = newClientLife(c)
	return c
}

// start starts the goroutines of a connected client.
func (c *Client) start() {
	c.wg.Add(2)
	go c.run()
	go c.life.run()
}

func (c *Client) connect(ctx context.Context, sig signaling.Signaler) error {
	unordered := c.cfg.badChannels // tests: a channel the host refuses
	zero := uint16(0)
	unrel, err := c.pc.CreateDataChannel(LabelUnreliable, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero})
	if err != nil {
		return fmt.Errorf("netcode: create channel: %w", err)
	}
	rel, err := c.pc.CreateDataChannel(LabelReliable, nil)
	if err != nil {
		return fmt.Errorf("netcode: create channel: %w", err)
	}
	c.unrel, c.rel = unrel, rel
	onOpen := func() {
		if c.opened.Add(1) == 2 {
			close(c.open)
		}
	}
	unrel.OnOpen(onOpen)
	rel.OnOpen(func() {
		c.resume.hello(c) // a resuming client speaks first
		onOpen()
	})
	unrel.OnMessage(c.onUnreliable)
	rel.OnMessage(c.onReliable)
	rel.OnClose(func() {
		c.goneOnce.Do(func() { close(c.peerGone) })
		c.end(fmt.Errorf("%w: reliable channel closed", ErrConnectionLost))
	})
	c.pc.OnICECandidate(c.sigw.candidate)
	c.pc.OnICEConnectionStateChange(c.life.onICEState)
	c.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		// A failed connection is the lifecycle's to restart (or end).
		if st == webrtc.PeerConnectionStateClosed || st == webrtc.PeerConnectionStateFailed && !c.life.cfg.enabled() {
			c.end(fmt.Errorf("%w: peer connection %s", ErrConnectionLost, st))
		}
	})
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("%w: create offer: %w", ErrSignaling, err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("%w: set local description: %w", ErrSignaling, err)
	}
	c.sigw.describe(signaling.Signal{Type: signaling.TypeOffer, SDP: offer.SDP, Resume: c.resume.offerToken()})
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.sigw.run(c.ctx, sig)
	}()
	answered := make(chan error, 1)
	go func() {
		defer c.wg.Done()
		c.readSignals(sig, answered)
	}()
	select {
	case err := <-answered:
		if err != nil {
			return err
		}
	case <-c.ending:
		return c.dialFailure()
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for answer: %w", ErrSignaling, ctx.Err())
	}
	return c.awaitWelcome(ctx)
}

// awaitWelcome waits for the host's welcome and the channels to open, checks the
// welcome and applies it.
func (c *Client) awaitWelcome(ctx context.Context) error {
	var w welcome
	select {
	case w = <-c.welcomed:
	case <-c.ending:
		return c.dialFailure()
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the host: %w", ErrSignaling, ctx.Err())
	}
	select {
	case <-c.open:
	case <-c.ending:
		return c.dialFailure()
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for channels: %w", ErrSignaling, ctx.Err())
	}
	if err := w.check(c.schema); err != nil {
		return err
	}
	if w.TickRate <= 0 || w.SendRate <= 0 || w.SendRate > w.TickRate {
		return fmt.Errorf("%w: welcome with tick rate %d, send rate %d", ErrProtocol, w.TickRate, w.SendRate)
	}
	c.id, c.tickRate, c.sendRate = ClientID(w.ID), w.TickRate, w.SendRate
	switch d := c.cfg.AckDelay; {
	case d < 0:
		c.ackDelay = 0
	case d == 0:
		c.ackDelay = time.Second / time.Duration(2*w.SendRate)
	default:
		c.ackDelay = d
	}
	c.tickDur = time.Second / time.Duration(w.TickRate)
	c.inputMargin = c.cfg.InputMargin
	if c.inputMargin <= 0 {
		c.inputMargin = 2 * c.tickDur
	}
	return c.resume.welcomed(c, w)
}

// readSignals applies the answer (reported on answered) and then trickled candidates.
func (c *Client) readSignals(sig signaling.Signaler, answered chan<- error) {
	haveAnswer := false
	for {
		sg, err := sig.RecvSignal(c.ctx)
		if err != nil {
			c.sigw.readerSaw(err)
			if !haveAnswer {
				answered <- fmt.Errorf("%w: waiting for answer: %w", ErrSignaling, err)
			}
			return
		}
		if err := sg.Validate(); err != nil {
			c.log.Debug("ignoring invalid signal", "err", err)
			continue
		}
		switch sg.Type {
		case signaling.TypeAnswer:
			if haveAnswer {
				c.life.onAnswer(sg.SDP) // to an ICE restart
				continue
			}
			haveAnswer = true
			answered <- c.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sg.SDP})
		case signaling.TypeOffer:
			if haveAnswer {
				c.life.onOffer(sg.SDP) // the host restarts ICE
			}
		case signaling.TypeICE:
			if err := c.cands.add(sg); err != nil {
				c.log.Debug("bad candidate", "err", err)
			}
		case signaling.TypeReject:
			r := &RejectError{Code: sg.Code, Reason: sg.Reason}
			select {
			case c.rejected <- r:
			default:
			}
			c.end(r)
		}
	}
}

// rejectGrace is how long a Dial whose connection broke before the welcome waits for
// the host's reject signal: a refusing host sends it before closing the connection,
// but the signaling path may deliver it after the close is noticed.
const rejectGrace = time.Second

// dialFailure returns why connecting failed, once the client has ended: the host's
// reject, if it sends one.
func (c *Client) dialFailure() error {
	var r *RejectError
	if errors.As(c.reason, &r) || !errors.Is(c.reason, ErrConnectionLost) {
		return c.reason
	}
	t := time.NewTimer(rejectGrace)
	defer t.Stop()
	select {
	case r := <-c.rejected:
		return r
	case <-t.C:
		return c.reason
	}
}

func (c *Client) onUnreliable(msg webrtc.DataChannelMessage) {
	c.arrivals.Add(1)
	c.stats.in(len(msg.Data))
	select {
	case c.in <- msg.Data:
	default:
		c.stats.drop(DropQueueFull)
	}
}

func (c *Client) onReliable(msg webrtc.DataChannelMessage) {
	b := msg.Data
	c.arrivals.Add(1)
	c.stats.in(len(b))
	c.lastHeard.Store(c.clk.Now().UnixNano())
	if len(b) == 0 || msg.IsString {
		c.stats.drop(DropMalformed)
		return
	}
	body := b[1:]
	switch b[0] {
	case kindEvent:
		if !c.cfg.ignoreReliableEvents {
			c.deliverEvent(0, false, body)
		}
	case kindWelcome:
		var w welcome
		if err := msgguard.Unmarshal(body, 1024, &w); err != nil {
			c.end(fmt.Errorf("%w: welcome: %w", ErrProtocol, err))
			return
		}
		select {
		case c.welcomed <- w:
			c.gotHello.Store(true)
		default:
			c.stats.drop(DropUnknownKind)
		}
	case kindAck:
		c.resume.onAck(c, body)
	case kindBye:
		c.resume.stop()
		var m bye
		_ = msgguard.Unmarshal(body, 4096, &m)
		if !c.gotHello.Load() {
			// A bye before the welcome refuses the connection.
			if !signaling.ValidCode(m.Code) {
				m.Code = "error"
			}
			c.end(&RejectError{Code: m.Code, Reason: m.Reason})
			return
		}
		err := errOfCode(m.Code)
		switch {
		case errors.Is(err, ErrClosed):
			err = ErrServerClosed
		case errors.Is(err, ErrDraining):
			err = fmt.Errorf("%w: %w", ErrServerClosed, ErrDraining)
		}
		c.end(fmt.Errorf("%w: host says: %s", err, m.Reason))
	default:
		c.stats.drop(DropUnknownKind)
	}
}

// run is the client goroutine: it decodes snapshots, acknowledges them, pings, and
// watches for the host going quiet.
func (c *Client) run() {
	defer c.wg.Done()
	defer c.shutdown()
	ping := c.clk.NewTimer(0)
	defer ping.Stop()
	ackTimer := c.clk.NewTimer(time.Hour)
	ackTimer.Stop()
	defer ackTimer.Stop()
	ackArmed := false
	for {
		select {
		case <-c.ending:
			return
		case b := <-c.in:
			if c.handleUnreliable(b) && !ackArmed {
				ackTimer.Reset(c.ackDelay)
				ackArmed = true
			}
		case <-ackTimer.C():
			ackArmed = false
			c.mu.Lock()
			if c.ackPending {
				c.sendUpdateLocked()
			}
			c.mu.Unlock()
		case <-ping.C():
			now := c.clk.Now()
			if now.UnixNano()-c.lastHeard.Load() > c.cfg.Timeout.Nanoseconds() && !c.life.busy() {
				err := fmt.Errorf("%w: nothing heard for %v", ErrTimeout, c.cfg.Timeout)
				if !c.life.silent(err) { // a restart first, when they are on
					c.end(err)
					return
				}
			}
			c.sendPing(now)
			c.resume.ackEvents(c)
			c.stats.updateRates(now)
			ping.Reset(c.cfg.PingInterval)
		}
	}
}

// handleUnreliable handles one message from the host. It reports whether it left an
// acknowledgement waiting (ackPending) for the next input, or for run's ack timer.
func (c *Client) handleUnreliable(b []byte) (deferred bool) {
	kind, seq, err := readHeader(b)
	if err != nil {
		c.stats.drop(DropMalformed)
		return false
	}
	now := c.clk.Now()
	if c.cfg.observe != nil {
		c.cfg.observe(kind, seq, len(b))
	}
	switch kind {
	case kindSnapshot:
		lastInput, pkt, err := decodeSnapshotHeader(b)
		if err != nil {
			c.stats.drop(DropMalformed)
			return false
		}
		c.rx.add(seq)
		c.lastHeard.Store(now.UnixNano())
		info, err := c.dec.Decode(pkt)
		if err != nil {
			c.stats.drop(DropSnapshotDecode)
			return false
		}
		c.stats.snaps.Add(1)
		if info.Stale {
			c.stats.drop(DropStale)
			return false
		}
		c.imu.Lock()
		c.interp.store(info.Tick, c.dec.World())
		c.imu.Unlock()
		c.mu.Lock()
		c.ack = c.dec.Ack()
		if serialAfter(lastInput, c.applied) {
			c.applied = lastInput
		}
		c.trimInputsLocked()
		if c.ackDelay > 0 {
			c.ackPending, deferred = true, true
		} else {
			c.sendUpdateLocked()
		}
		c.mu.Unlock()
		select {
		case c.updates <- struct{}{}:
		default:
		}
	case kindPong:
		p, err := decodePong(b)
		if err != nil {
			c.stats.drop(DropMalformed)
			return false
		}
		c.rx.add(seq)
		c.lastHeard.Store(now.UnixNano())
		c.stats.setLossOut(p.Recv, p.Lost)
		recv, lost := c.rx.counts()
		c.stats.setLossIn(recv, lost)
		c.mu.Lock()
		c.sync.add(time.Duration(p.ClientTime), now.Sub(c.epoch), time.Duration(p.HostTime))
		c.stats.rtt.Store(int64(c.sync.rtt))
		c.stats.jitter.Store(int64(c.sync.jitter))
		c.mu.Unlock()
	case kindEventCopies:
		c.rx.add(seq)
		c.lastHeard.Store(now.UnixNano())
		c.onEventCopies(b)
	default:
		c.stats.drop(DropUnknownKind)
	}
	return deferred
}

func (c *Client) sendPing(now time.Time) {
	recv, lost := c.rx.counts()
	c.stats.setLossIn(recv, lost)
	c.mu.Lock()
	rtt, jitter := c.sync.rtt, c.sync.jitter
	c.mu.Unlock()
	var buf [pingBytes]byte
	msg := appendPing(buf[:0], c.txSeq.Add(1)-1, pingMsg{
		ClientTime: uint64(now.Sub(c.epoch)),
		Recv:       recv,
		Lost:       lost,
		RTT:        uint32(rtt.Microseconds()),
		Jitter:     uint32(jitter.Microseconds()),
	})
	c.sendUnreliable(msg)
}

func (c *Client) sendUnreliable(b []byte) {
	if c.unrel.BufferedAmount() > maxClientUnreliableBuffered {
		c.stats.drop(DropBackpressure)
		return
	}
	if err := c.unrel.Send(b); err == nil {
		c.stats.out(len(b))
	}
}

// maxClientUnreliableBuffered bounds what the client's unreliable channel may hold
// unsent. Updates and pings are superseded by the next ones (inputs repeat until the
// host applies them), so when a congested association holds more, new ones are
// dropped (DropBackpressure) rather than queued for seconds behind stale ones, which
// would also inflate the round-trip estimate.
const maxClientUnreliableBuffered = 16 << 10

// trimInputsLocked forgets inputs the host has applied (or whose tick has passed).
func (c *Client) trimInputsLocked() {
	i := 0
	for i < len(c.pending) && !serialAfter(c.pending[i].Tick+1, c.applied) {
		i++
	}
	if i > 0 {
		n := copy(c.pending, c.pending[i:])
		c.pending = c.pending[:n]
	}
}

// sendUpdateLocked sends an update: the newest ack and the pending inputs.
func (c *Client) sendUpdateLocked() {
	c.ackPending = false
	c.updateBuf = appendUpdate(c.updateBuf[:0], c.txSeq.Add(1)-1, c.ack, c.pending)
	c.sendUnreliable(c.updateBuf)
	c.resendCommands()
}

// ID returns the client's ID on its host.
func (c *Client) ID() ClientID { return c.id }

// TickRate returns the host's tick rate.
func (c *Client) TickRate() int { return c.tickRate }

// SendRate returns the host's snapshot send rate.
func (c *Client) SendRate() int { return c.sendRate }

// Send encodes v with msgpack and sends it to the host as a command, on the reliable
// channel: it arrives exactly once and in order, in Tick.Commands. A command of at
// most ClientConfig.CopyBytes also travels on the unreliable channel until the host
// acknowledges it (see "Copies" in the package doc).
func (c *Client) Send(v any) error {
	select {
	case <-c.ending:
		return fmt.Errorf("%w: %w", ErrNotConnected, c.reason)
	default:
	}
	msg, err := marshalMessage(kindCommand, v)
	if err != nil {
		return err
	}
	return c.resume.send(c, msg)
}

// sendRaw sends a message as is on the reliable channel.
func (c *Client) sendRaw(msg []byte) error {
	if len(msg) > c.cfg.Transport.withDefaults().MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(msg))
	}
	if err := c.rel.Send(msg); err != nil {
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	c.stats.out(len(msg))
	return nil
}

// sendUnreliableRaw sends a message as is on the unreliable channel (tests).
func (c *Client) sendUnreliableRaw(msg []byte) error { return c.unrel.Send(msg) }

// InputTick returns the host tick an input sent now should be stamped with: the
// estimated host tick when it arrives (half the round trip plus twice the jitter
// ahead, at most a second), plus a margin for one lost update
// (ClientConfig.InputMargin).
func (c *Client) InputTick() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inputTickLocked(c.clk.Now())
}

func (c *Client) inputTickLocked(now time.Time) uint32 {
	transit := min(c.sync.rtt/2+2*c.sync.jitter, maxInputTransit)
	host := now.Sub(c.epoch) + c.sync.offset + transit + c.inputMargin
	if host < 0 {
		return 0
	}
	return uint32(host / c.tickDur)
}

// maxInputTransit caps the transit time (half the round trip plus twice the jitter)
// an input is stamped ahead for. Estimates beyond it come from a process that stalled
// while pongs were in flight (a loaded machine) more often than from a network that
// slow, and stamping inputs seconds ahead would make the host drop them as too far in
// the future (ServerConfig.MaxInputLead, 2 s by default) or hold them that long.
const maxInputTransit = time.Second

// SendInput sends one tick's input (at most MaxInputBytes) on the unreliable channel,
// stamped with InputTick (never with an earlier tick than the previous call's), and
// repeats it in every update until the host has applied it. It returns the tick the
// input is for (for client-side prediction).
//
// Calling it again while InputTick has not moved on revises that tick's input: the
// new version replaces the old one here and at the host, which applies, for each tick
// it has not run yet, the version carried by the update with the highest sequence
// number it received. A revision that reaches the host after the tick ran is
// ignored (the tick keeps the version it was given).
func (c *Client) SendInput(data []byte) (uint32, error) {
	if len(data) > MaxInputBytes {
		return 0, fmt.Errorf("%w: input of %d bytes (max %d)", ErrTooLarge, len(data), MaxInputBytes)
	}
	select {
	case <-c.ending:
		return 0, fmt.Errorf("%w: %w", ErrNotConnected, c.reason)
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tick := c.inputTickLocked(c.clk.Now())
	if c.haveStamp && !serialAfter(tick, c.lastStamp) {
		tick = c.lastStamp
	}
	if n := len(c.pending); n > 0 && c.pending[n-1].Tick == tick {
		c.pending[n-1].Data = append(c.pending[n-1].Data[:0], data...)
	} else {
		if len(c.pending) >= c.cfg.InputRedundancy {
			n := copy(c.pending, c.pending[1:])
			c.pending = c.pending[:n]
		}
		c.pending = append(c.pending, inputMsg{Tick: tick, Data: append([]byte(nil), data...)})
	}
	c.lastStamp, c.haveStamp = tick, true
	c.sendUpdateLocked()
	return tick, nil
}

// LastAppliedInput returns the last input tick the host has applied, as reported in
// the newest snapshot; ok is false until the host applied one.
func (c *Client) LastAppliedInput() (tick uint32, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied == 0 {
		return 0, false
	}
	return c.applied - 1, true
}

// Events returns the events the host sent, in order. It is never closed: select on
// Done as well. Read it: if EventQueue
// events pile up unread the client disconnects with ErrSlowConsumer.
func (c *Client) Events() <-chan Event { return c.events }

// Updates returns a wake-up channel that receives (without blocking the sender; one
// pending signal at most) after each decoded snapshot.
func (c *Client) Updates() <-chan struct{} { return c.updates }

// Latest copies the newest decoded world into dst and returns its tick; ok is false
// before the first snapshot.
func (c *Client) Latest(dst *snapshot.World) (tick uint32, ok bool) {
	c.imu.Lock()
	defer c.imu.Unlock()
	e := c.interp.newest()
	if e == nil {
		return 0, false
	}
	dst.CopyFrom(e.world)
	return e.tick, true
}

// Clock returns the current estimate of the host clock.
func (c *Client) Clock() ClockEstimate {
	now := c.clk.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	host := now.Sub(c.epoch) + c.sync.offset
	return ClockEstimate{
		Synced:   c.sync.have,
		RTT:      c.sync.rtt,
		Jitter:   c.sync.jitter,
		Offset:   c.sync.offset,
		HostTick: float64(host) / float64(c.tickDur),
	}
}

// InterpolationDelay returns how far behind the estimated host time Interpolate
// renders: ClientConfig.InterpolationDelay, or by default two send intervals plus twice
// the jitter, at least 50 ms.
func (c *Client) InterpolationDelay() time.Duration {
	if c.cfg.InterpolationDelay > 0 {
		return c.cfg.InterpolationDelay
	}
	c.mu.Lock()
	j := c.sync.jitter
	c.mu.Unlock()
	return max(50*time.Millisecond, 2*time.Second/time.Duration(c.sendRate)+2*j)
}

// Interpolate writes into dst (a World on the same Registry) the world sampled at
// the render time, InterpolationDelay behind the estimated host time, and returns
// the (fractional) tick the world it wrote shows: the render time, or the tick of
// the newest (oldest) snapshot held when the render time lies past (before) them.
// That is the tick to stamp into an input for lag compensation (AppendView). Floats
// are blended linearly, angles the short way round; integers and booleans and
// entities whose teleport field changed are not blended. Before clock sync it returns
// the newest snapshot. ok is false before the first snapshot.
func (c *Client) Interpolate(dst *snapshot.World) (renderTick float64, ok bool) {
	est := c.Clock()
	delay := c.InterpolationDelay()
	c.imu.Lock()
	defer c.imu.Unlock()
	if !est.Synced {
		e := c.interp.newest()
		if e == nil {
			return 0, false
		}
		dst.CopyFrom(e.world)
		return float64(e.tick), true
	}
	rt := est.HostTick - float64(delay)/float64(c.tickDur)
	if !c.interp.sample(dst, rt) {
		return rt, false
	}
	return c.interp.shownTick(rt), true
}

// Stats returns the client's statistics.
func (c *Client) Stats() Stats { return c.stats.stats() }

// Done is closed once the client has disconnected and released everything.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client disconnected (nil while connected): wrapping ErrClosed
// after Close, ErrServerClosed, ErrKicked, ErrTimeout, ErrConnectionLost...
func (c *Client) Err() error {
	select {
	case <-c.ending:
		return c.dialFailure()
	default:
		return nil
	}
}

// Close says goodbye to the host, waits (at most a second) for it to close the
// connection, and releases everything. It returns nil.
func (c *Client) Close() error {
	c.end(ErrClosed)
	<-c.done
	return nil
}

func (c *Client) end(reason error) {
	c.endOnce.Do(func() {
		c.reason = reason
		close(c.ending)
	})
}

// shutdown runs once, on the run goroutine (or in Dial on failure).
func (c *Client) shutdown() {
	// Say goodbye on Close, and tell a host we refused why (so that it does not
	// wait for a timeout).
	b, sayBye := bye{Reason: "client closed", Code: codeOf(ErrClientLeft)}, errors.Is(c.reason, ErrClosed)
	if errors.Is(c.reason, ErrVersionMismatch) || errors.Is(c.reason, ErrSchemaMismatch) {
		b, sayBye = bye{Reason: c.reason.Error(), Code: codeOf(c.reason)}, true
	}
	if sayBye && c.opened.Load() == 2 {
		if msg, err := marshalMessage(kindBye, b); err == nil && c.sendRaw(msg) == nil {
			t := time.NewTimer(byeWait)
			select {
			case <-c.peerGone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	if c.pc != nil {
		_ = c.pc.Close()
	} else {
		closeChannels(c.unrel, c.rel)
	}
	c.cancel()
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
}

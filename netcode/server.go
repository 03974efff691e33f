package netcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/snapshot"
)

// Server is an authoritative game host: it accepts clients, runs the fixed-step tick
// loop that calls ServerConfig.Step, and streams snapshots of the world to every
// client. Its methods are safe for concurrent use.
type Server struct {
	cfg       ServerConfig
	api       *webrtc.API
	clk       Clock
	log       *slog.Logger
	udp       net.PacketConn // single-port mode
	mux       ice.UDPMux
	epoch     time.Time
	schema    string // the Registry's fingerprint, announced in every welcome
	tickDur   time.Duration
	sendEvery uint32
	// lateTicks is how far behind the host's tick an input can legitimately be:
	// a client is dropped after Timeout without an update, and stamps inputs at
	// most MaxInputLead ahead. An input further behind is out of the window, as
	// one too far ahead is (serial arithmetic cannot tell the two apart).
	lateTicks int64
	// Snapshots leave in a pipeline: on a send tick the tick goroutine copies the
	// world into the tick's slot with the clients due, and the sending goroutine
	// (sendLoop) encodes and hands them to pion while the simulation goes on. Clients
	// are split into len(caches) encoding groups (session.worker); the encoders of a
	// group share its delta cache, so one goroutine at a time encodes a group: the
	// sending goroutine offers the groups after the first to helper goroutines and
	// encodes any group no helper has claimed yet itself, so it never waits for a
	// helper that is not running. slots[n%sendEvery] serves tick n; a client's sends
	// all use one slot, so a slot's previous use is over before it is refilled.
	caches   []*snapshot.EncodeCache
	claims   []atomic.Uint64 // per group: tick<<1, |1 once claimed
	slots    []sendSlot
	sendQ    chan *sendSlot // never full: at most one entry per slot
	helpers  sync.WaitGroup // encoding helpers, including those that found no work
	sendDone chan struct{}

	hist           *History      // LagCompensation.Enabled; owned by the tick goroutine
	budgetDeferred atomic.Uint64 // entity updates a bandwidth budget pushed to a later send

	page    *pageHooks  // the browser tab a host runs in (page_js.go); nil natively
	life    *serverLife // resumption (lifecycle_resume_host.go)
	timings loopTimings
	curTick atomic.Uint32 // the tick being run, read by LoopStats and new sessions
	ticks   atomic.Uint64
	late    atomic.Uint64
	skipped atomic.Uint64

	mu        sync.Mutex
	sessions  map[ClientID]*session // registered sessions
	nextID    ClientID
	pending   int                 // handshakes in progress (Accepts before the welcome)
	byPeer    map[string]*session // pending handshakes by signaling peer, when known
	admitting int                 // handshakes done, welcome being sent: count as clients
	closed    bool
	draining  bool        // Drain has started: admit nobody new
	joins     []*session  // registered, not yet seen by the tick goroutine
	leaves    []Departure // gone, not yet seen by the tick goroutine
	totals    totals      // counters of departed sessions

	wg       sync.WaitGroup // Accepts and session goroutines
	closing  context.Context
	abort    context.CancelFunc // cancels closing: aborts handshakes in progress
	stop     chan struct{}
	loopDone chan struct{}
}

// NewServer validates cfg, applies its defaults and starts the tick loop. Close it to
// disconnect every client and stop the loop.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Registry == nil {
		return nil, fmt.Errorf("%w: Registry is required", ErrConfig)
	}
	if cfg.Step == nil {
		cfg.Step = func(*Tick) {}
	}
	if cfg.TickRate <= 0 {
		cfg.TickRate = 60
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = 30
	}
	if cfg.SendRate > cfg.TickRate {
		return nil, fmt.Errorf("%w: SendRate %d above TickRate %d", ErrConfig, cfg.SendRate, cfg.TickRate)
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = 5
	}
	if cfg.MaxPacketsPerSend <= 0 {
		cfg.MaxPacketsPerSend = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = defaultHandshakeTimeout
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 256
	}
	if cfg.MaxPendingHandshakes <= 0 {
		cfg.MaxPendingHandshakes = 32
	}
	if cfg.MaxCommandBytes <= 0 {
		cfg.MaxCommandBytes = 16 << 10
	}
	if cfg.CopyBytes == 0 {
		cfg.CopyBytes = defaultCopyBytes
	}
	if cfg.CommandRate <= 0 {
		cfg.CommandRate = 120
	}
	if cfg.CommandBurst <= 0 {
		cfg.CommandBurst = 240
	}
	if cfg.MaxQueuedCommandBytes <= 0 {
		cfg.MaxQueuedCommandBytes = 256 << 10
	}
	if cfg.PingRate <= 0 {
		cfg.PingRate = 10
	}
	if cfg.PingBurst <= 0 {
		cfg.PingBurst = 20
	}
	if cfg.MaxBadMessages <= 0 {
		cfg.MaxBadMessages = 100
	}
	if cfg.MaxInputLead <= 0 {
		cfg.MaxInputLead = 2 * cfg.TickRate
	}
	if cfg.MaxReliableBuffered <= 0 {
		cfg.MaxReliableBuffered = 1 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	cfg.Transport = cfg.Transport.withDefaults()
	s := &Server{
		cfg:       cfg,
		clk:       cfg.Clock,
		log:       cfg.Logger,
		schema:    cfg.Registry.Fingerprint(),
		tickDur:   time.Second / time.Duration(cfg.TickRate),
		sendEvery: uint32(cfg.TickRate / cfg.SendRate),
		lateTicks: int64(cfg.Timeout*time.Duration(cfg.TickRate)/time.Second) + int64(cfg.MaxInputLead),
		sessions:  make(map[ClientID]*session),
		byPeer:    make(map[string]*session),
		nextID:    1,
		stop:      make(chan struct{}),
		loopDone:  make(chan struct{}),
		sendDone:  make(chan struct{}),
	}
	if cfg.LagCompensation.Enabled {
		s.hist = NewHistory(cfg.Registry, cfg.TickRate, cfg.LagCompensation)
	}
	s.closing, s.abort = context.WithCancel(context.Background())
	life, err := newServerLife(s)
	if err != nil {
		s.abort()
		return nil, err
	}
	s.life = life
	workers := encodeWorkers()
	for range workers {
		s.caches = append(s.caches, snapshot.NewEncodeCache())
	}
	s.claims = make([]atomic.Uint64, workers)
	s.slots = make([]sendSlot, s.sendEvery)
	for i := range s.slots {
		s.slots[i].world = snapshot.NewWorld(cfg.Registry)
		s.slots[i].due = make([][]*session, workers)
	}
	s.sendQ = make(chan *sendSlot, len(s.slots))
	if cfg.ListenUDP != "" {
		var err error
		if cfg.Transport.Net != nil {
			s.udp, err = cfg.Transport.Net.ListenPacket("udp4", cfg.ListenUDP)
		} else {
			s.udp, err = net.ListenPacket("udp4", cfg.ListenUDP)
		}
		if err != nil {
			return nil, fmt.Errorf("netcode: listen %s: %w", cfg.ListenUDP, err)
		}
		s.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: s.udp, Net: cfg.Transport.Net})
	}
	api, err := newAPI(cfg.Transport, s.mux)
	if err != nil {
		s.closeMux()
		s.abort()
		return nil, err
	}
	s.api = api
	s.epoch = s.clk.Now()
	go s.run()
	s.page = startPage(s)
	return s, nil
}

// Addr returns the UDP address of single-port mode, or nil.
func (s *Server) Addr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

func (s *Server) closeMux() {
	if s.mux != nil {
		_ = s.mux.Close()
	}
	if s.udp != nil {
		_ = s.udp.Close()
	}
}

// Send encodes v with msgpack and sends it as an event to one client, on the reliable
// channel (exactly once, in order). A client whose reliable channel holds more than
// MaxReliableBuffered bytes is disconnected with ErrSlowConsumer.
func (s *Server) Send(id ClientID, v any) error {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("%w: %d", ErrUnknownClient, id)
	}
	msg, err := marshalMessage(kindEvent, v)
	if err != nil {
		return err
	}
	return sess.life.send(msg)
}

// Broadcast sends v as an event to every connected client.
func (s *Server) Broadcast(v any) error {
	msg, err := marshalMessage(kindEvent, v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	var errs []error
	for _, sess := range list {
		if err := sess.life.send(msg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kick disconnects a client; the reason reported to game code and to the client wraps
// ErrKicked.
func (s *Server) Kick(id ClientID, reason string) error {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return fmt.Errorf("%w: %d", ErrUnknownClient, id)
	}
	err := fmt.Errorf("%w: %s", ErrKicked, reason)
	if !s.life.kick(sess, err) {
		sess.end(err)
	}
	return nil
}

// Clients returns the IDs of the connected clients.
func (s *Server) Clients() []ClientID {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]ClientID, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	return ids
}

// ClientStats returns the statistics of one client's session as the host sees it.
func (s *Server) ClientStats(id ClientID) (Stats, bool) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		return Stats{}, false
	}
	return sess.stats.stats(), true
}

// LoopStats returns the tick loop's counters.
func (s *Server) LoopStats() LoopStats {
	s.mu.Lock()
	n, pending := len(s.sessions), s.pending
	s.mu.Unlock()
	return LoopStats{Tick: s.curTick.Load(), Ticks: s.ticks.Load(), Late: s.late.Load(), Skipped: s.skipped.Load(), Clients: n, Pending: pending}
}

// TickRate returns the configured tick rate.
func (s *Server) TickRate() int { return s.cfg.TickRate }

// Close says goodbye to every client (ErrServerClosed on their side, ErrClosed in
// Tick.Left... which no Step will see), closes their connections, stops the tick loop
// and waits for every goroutine the Server started.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.loopDone
		return nil
	}
	s.closed = true
	s.page.stop()
	s.abort()
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	for _, sess := range list {
		sess.end(ErrClosed)
	}
	s.wg.Wait()
	close(s.stop)
	<-s.loopDone
	s.closeMux()
	return nil
}

// hostTime is the host's clock as sent in pongs: time since tick 0.
func (s *Server) hostTime() time.Duration { return s.clk.Now().Sub(s.epoch) }

// departLocked unregisters a session and reports its departure to the next tick;
// only the first call for a session counts. The session's counters so far move into
// the host's totals (foldLocked adds what it counts afterwards, such as its bye).
// Called with s.mu held.
func (s *Server) departLocked(sess *session, reason error) {
	if sess.departed {
		return
	}
	sess.departed = true
	if s.sessions[sess.id] == sess { // not replaced by a resumption
		delete(s.sessions, sess.id)
	}
	s.life.gone(sess, reason)
	s.foldLocked(sess)
	if s.totals.departures == nil {
		s.totals.departures = map[string]uint64{}
	}
	s.totals.departures[codeOf(reason)]++
	s.leaves = append(s.leaves, Departure{Client: sess.id, Reason: reason})
}

// foldLocked adds to the host's totals what the session has counted since it was
// last folded. Called with s.mu held.
func (s *Server) foldLocked(sess *session) {
	st := sess.stats.stats()
	s.totals.addSince(st, sess.folded)
	sess.folded = st
}

// removeSession is called once by a registered session when it has shut down.
func (s *Server) removeSession(sess *session, reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.departLocked(sess, reason)
	s.foldLocked(sess)
}

// run is the tick goroutine. It owns the world, the Tick and each session's input
// schedule; it starts the sending goroutine and stops it when it ends.
func (s *Server) run() {
	defer close(s.loopDone)
	go s.sendLoop()
	defer func() {
		close(s.sendQ)
		<-s.sendDone
	}()
	sched := scheduler{epoch: s.epoch, rate: uint64(s.cfg.TickRate), maxCatchUp: uint64(s.cfg.MaxCatchUp)}
	world := snapshot.NewWorld(s.cfg.Registry)
	t := &Tick{World: world, srv: s, Dt: s.tickDur, History: s.hist}
	var active []*session
	timer := s.clk.NewTimer(0)
	defer timer.Stop()
	lastRates := s.clk.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-timer.C():
		}
		now := s.clk.Now()
		first, n, skipped := sched.due(now)
		if skipped > 0 {
			s.skipped.Add(skipped)
		}
		if n > 1 {
			s.late.Add(n - 1)
		}
		for i := uint64(0); i < n; i++ {
			start := now
			if i > 0 {
				start = s.clk.Now()
			}
			active = s.step(uint32(first+i), t, active, start)
			took := s.clk.Now().Sub(start)
			s.timings.tick.observe(took)
			if s.cfg.OnTick != nil {
				s.cfg.OnTick(uint32(first+i), took)
			}
		}
		if now.Sub(lastRates) >= time.Second {
			lastRates = now
			for _, sess := range active {
				sess.stats.updateRates(now)
			}
		}
		timer.ResetAt(sched.at(sched.next))
	}
}

// step runs one tick: gather joins, leaves, inputs and commands, call Step, check
// timeouts, and send snapshots on send ticks.
func (s *Server) step(n uint32, t *Tick, active []*session, start time.Time) []*session {
	s.curTick.Store(n)
	t.N = n
	t.Joined, t.Left, t.Inputs, t.Commands = t.Joined[:0], t.Left[:0], t.Inputs[:0], t.Commands[:0]
	t.Suspended, t.Resumed = t.Suspended[:0], t.Resumed[:0]

	s.mu.Lock()
	for _, sess := range s.joins {
		sess.phase = sendPhase(active, s.sendEvery, n)
		sess.worker = encodeWorker(active, sess.phase, len(s.caches))
		sess.enc = s.newEncoder(sess.worker)
		active = append(active, sess)
		t.Joined = append(t.Joined, sess.id)
	}
	clear(s.joins)
	s.joins = s.joins[:0]
	t.Left = append(t.Left, s.leaves...)
	clear(s.leaves)
	s.leaves = s.leaves[:0]
	s.mu.Unlock()
	if len(t.Left) > 0 {
		kept := active[:0]
		for _, sess := range active {
			gone := false
			for _, d := range t.Left {
				if d.Client == sess.id {
					gone = true
					break
				}
			}
			if !gone {
				kept = append(kept, sess)
			}
		}
		clear(active[len(kept):])
		active = kept
	}
	active = s.life.tick(n, t, active, start)

	for _, sess := range active {
		sess.collect(n, t)
	}
	s.cfg.Step(t)
	s.ticks.Add(1)
	for _, sess := range active {
		sess.flushCopies()
	}
	if s.hist != nil {
		s.hist.Record(n, t.World)
	}

	// A silent client is cut here, on the first tick past its deadline, and
	// reported to the next tick at once: its shutdown (a bye it will not answer,
	// closing the connection) goes on in the background.
	timeout := s.cfg.Timeout.Nanoseconds()
	for _, sess := range active {
		if start.UnixNano()-sess.lastHeard.Load() > timeout && !s.life.silent(sess, start) {
			sess.end(fmt.Errorf("%w: nothing heard for %v", ErrTimeout, s.cfg.Timeout))
			s.mu.Lock()
			s.departLocked(sess, sess.reason)
			s.mu.Unlock()
		}
	}
	s.queueSnapshots(t.World, n, start, active)
	return active
}

// maxEncodeWorkers bounds the groups whose snapshots are encoded in parallel.
const maxEncodeWorkers = 8

// encodeWorkers is how many encoding groups (and delta caches) there are: one per P,
// at most maxEncodeWorkers.
func encodeWorkers() int { return max(1, min(runtime.GOMAXPROCS(0), maxEncodeWorkers)) }

// sendSlot is one send tick's snapshots on their way out.
type sendSlot struct {
	tick    uint32
	start   time.Time       // when the tick started (for OnSent)
	world   *snapshot.World // the world as the tick left it
	due     [][]*session    // per encoding group: the clients due
	pending sync.WaitGroup  // the sending goroutine holds the slot
}

// queueSnapshots hands the clients due a snapshot at tick n to the sending goroutine,
// with a copy of the world: the next tick may change the world while they are encoded.
// start is when the tick started.
func (s *Server) queueSnapshots(w *snapshot.World, n uint32, start time.Time, active []*session) {
	slot := &s.slots[n%uint32(len(s.slots))]
	// The clients due now were last due sendEvery ticks ago, in this slot: that
	// send must be over before the slot and their encoders are used again.
	// Normally it ended long ago; waiting here is the backpressure of a sending
	// goroutine that cannot keep up.
	slot.pending.Wait()
	due := false
	for _, sess := range active {
		if (n+sess.phase)%s.sendEvery == 0 {
			sess.sendInput = sess.lastInput
			slot.due[sess.worker] = append(slot.due[sess.worker], sess)
			due = true
		}
	}
	if !due && s.cfg.OnSent == nil {
		return
	}
	if due {
		slot.world.CopyFrom(w)
	}
	slot.tick, slot.start = n, start
	slot.pending.Add(1)
	s.sendQ <- slot
}

// sendLoop is the sending goroutine: it encodes and sends the queued ticks'
// snapshots in order. Sending never blocks (pion queues the message; see
// encodeSnapshot for the limit).
func (s *Server) sendLoop() {
	defer close(s.sendDone)
	defer s.helpers.Wait()
	for slot := range s.sendQ {
		s.prepareInterest(slot)
		s.encodeSlot(slot)
		sent := false
		for i, list := range slot.due {
			for _, sess := range list {
				sess.sendSnapshot()
			}
			sent = sent || len(list) > 0
			clear(list)
			slot.due[i] = list[:0]
		}
		lag := s.clk.Now().Sub(slot.start)
		if sent {
			s.timings.sendLag.observe(lag)
		}
		if s.cfg.OnSent != nil {
			s.cfg.OnSent(slot.tick, lag)
		}
		slot.pending.Done()
	}
}

// encodeSlot encodes a slot's snapshots, its groups in parallel where a P is free:
// this goroutine encodes group 0, offers the others to helper goroutines, and
// encodes those that no helper has started; it waits only for the groups helpers
// are encoding.
func (s *Server) encodeSlot(slot *sendSlot) {
	w, n := slot.world, slot.tick
	encode := func(list []*session) {
		for _, sess := range list {
			sess.encodeSnapshot(w, n)
		}
	}
	open := uint64(n) << 1
	var helping sync.WaitGroup
	for i := 1; i < len(slot.due); i++ {
		if len(slot.due[i]) == 0 {
			continue
		}
		s.claims[i].Store(open)
		helping.Add(1)
		s.helpers.Add(1)
		go func() {
			defer s.helpers.Done()
			// A helper that starts after the group was taken back (or
			// reopened for a later tick) finds the claim gone.
			if s.claims[i].CompareAndSwap(open, open|1) {
				encode(slot.due[i])
				helping.Done()
			}
		}()
	}
	encode(slot.due[0])
	for i := 1; i < len(slot.due); i++ {
		if len(slot.due[i]) > 0 && s.claims[i].CompareAndSwap(open, open|1) {
			encode(slot.due[i])
			helping.Done()
		}
	}
	helping.Wait()
}

// encodeWorker picks the encoding goroutine of a joining client with send phase
// phase: the one with the fewest clients of that phase.
func encodeWorker(active []*session, phase uint32, workers int) int {
	if workers <= 1 {
		return 0
	}
	count := make([]int, workers)
	for _, sess := range active {
		if sess.phase == phase && sess.worker < workers {
			count[sess.worker]++
		}
	}
	best := 0
	for i := 1; i < workers; i++ {
		if count[i] < count[best] {
			best = i
		}
	}
	return best
}

// sendPhase picks the send phase of a client joining at tick n: the one fewest active
// clients have, so that snapshot encoding is spread evenly over the ticks between
// sends; among those, the one that sends at tick n, so that the client gets its first
// snapshot at once rather than a tick or more later.
func sendPhase(active []*session, sendEvery, n uint32) uint32 {
	if sendEvery <= 1 {
		return 0
	}
	var count [maxSpreadPhases]int
	for _, sess := range active {
		count[sess.phase%maxSpreadPhases]++
	}
	phases := min(sendEvery, maxSpreadPhases)
	now := (sendEvery - n%sendEvery) % sendEvery // (n+now)%sendEvery == 0
	best := uint32(0)
	if now < phases {
		best = now
	}
	for p := range phases {
		if count[p] < count[best] {
			best = p
		}
	}
	return best
}

// maxSpreadPhases bounds the phases clients are spread over (send every 16th tick
// or less often: the extra phases would not matter).
const maxSpreadPhases = 16

// Tick is what game code receives once per simulation step. It and its slices are
// valid only during the Step call.
type Tick struct {
	// N is the tick number: tick N is scheduled at N/TickRate seconds after the
	// host started. N skips ahead when the host falls more than MaxCatchUp ticks
	// behind.
	N uint32
	// Dt is the fixed step, 1/TickRate.
	Dt time.Duration
	// World is the authoritative state; Step mutates it and the host snapshots it.
	World *snapshot.World
	// Joined lists clients connected since the previous tick.
	Joined []ClientID
	// Left lists clients gone since the previous tick, with the reason.
	Left []Departure
	// Inputs holds the inputs stamped for this tick, at most one per client.
	Inputs []Input
	// Commands holds the commands that arrived since the previous tick, in arrival
	// order per client, each exactly once (across resumptions too).
	Commands []Command
	// History is the world at recent ticks, for lag compensation, when
	// ServerConfig.LagCompensation is enabled (nil otherwise). It holds the ticks
	// before this one; the host records this tick's world after Step returns.
	History *History
	// Suspended lists clients whose connection was lost since the previous tick
	// but whose game identity the host keeps for ServerConfig.ResumeWindow: keep
	// their entities and score; they send no inputs meanwhile, and events sent to
	// them wait (up to ResumeBytes). Each later appears in Resumed or, once the
	// window has passed, in Left.
	Suspended []ClientID
	// Resumed lists clients back since the previous tick, with the same ID: on
	// their own connection (an ICE restart, the network returning) or on a new
	// one with their resume token (then their snapshots start over from a full
	// one). A client that came back on a new connection before the host noticed
	// it was gone appears here without a Suspended first.
	Resumed []ClientID

	srv *Server
}

// Send sends an event to one client; see Server.Send.
func (t *Tick) Send(id ClientID, v any) error { return t.srv.Send(id, v) }

// Broadcast sends an event to every client; see Server.Broadcast.
func (t *Tick) Broadcast(v any) error { return t.srv.Broadcast(v) }

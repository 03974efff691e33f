package netcode

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// maxTombstones bounds the departed sessions whose fate a late resumption is told
// (ErrResumeOverflow rather than ErrResumeExpired); older ones are forgotten, oldest
// first, and then simply count as expired.
const maxTombstones = 1024

// ackEveryTicks is how often (in ticks) the host acknowledges commands, at most.
const ackEveryTicks = 15

// LifecycleStats counts the host's connection lifecycle (see "Connection lifecycle" in
// the package doc).
type LifecycleStats struct {
	// Suspended is the number of clients suspended now; Suspensions counts them
	// all so far.
	Suspended   int
	Suspensions uint64
	// Recovered counts suspended clients that came back on their own connection
	// (an ICE restart, or the network returning); Resumed those that came back on
	// a new one with their token.
	Recovered, Resumed uint64
	// Expired counts suspended clients that left when their window passed,
	// Overflowed those that left because their pending events outgrew
	// ResumeBytes, ResumeLost connected clients that lost their ability to resume
	// the same way.
	Expired, Overflowed, ResumeLost uint64
	// RestartsOffered counts ICE restarts the host offered, RestartsFailed those
	// that failed, RestartsAnswered the clients' restarts it answered.
	RestartsOffered, RestartsFailed, RestartsAnswered uint64
}

// serverLife is the host's side of resumption. Its fields after key are guarded by
// Server.mu; an identity's mutex may be taken while Server.mu is held, never the
// other way round.
type serverLife struct {
	s        *Server
	on       bool
	window   time.Duration
	maxBytes int
	key      []byte

	changes   []lifeChange // suspensions and resumptions for the tick goroutine
	suspended map[ClientID]*identity
	tombs     map[ClientID]error
	tombOrder []ClientID
	stats     LifecycleStats

	restartsAnswered atomic.Uint64
}

// lifeChange tells the tick goroutine about a suspension or resumption.
type lifeChange struct {
	kind     uint8
	ident    *identity
	sess     *session // the session suspended, or the new one
	old      *session // resumed: the session replaced
	recovery bool     // resumed on its own connection
}

const (
	changeSuspended uint8 = iota // reported to the game; a dead session leaves the tick's list
	changeResumed
)

// identity is a client's game identity, which outlives a connection: the session it
// runs on now, its resume token's generation and key, and the numbering of its
// commands and events.
type identity struct {
	id ClientID

	// Guarded by mu. cur changes only with Server.mu held too.
	mu        sync.Mutex
	cur       *session
	gen       uint32 // the current token's generation
	claimed   bool   // a resumption holds the token
	hasKey    bool
	keyHash   [sha256.Size]byte
	evOut     uint32   // events numbered
	evAcked   uint32   // events the client reported received
	evSent    uint32   // events handed to cur's channel
	log       [][]byte // events evAcked+1..evOut
	logBytes  int
	noResume  bool // the log outgrew ResumeBytes while connected
	cmdsIn    uint32
	cmdsAcked uint32 // last count sent to the client
	suspended bool
	dead      bool // cur's connection is torn down
	ended     bool // left for good
	since     time.Time
	reason    error
	stopWatch context.CancelFunc // ends the signal watch of a dead suspension
	reported  bool               // the game was told of the suspension (tick goroutine)
}

func newServerLife(s *Server) (*serverLife, error) {
	l := &serverLife{
		s:         s,
		on:        s.cfg.ResumeWindow >= 0,
		window:    s.cfg.ResumeWindow,
		maxBytes:  s.cfg.ResumeBytes,
		suspended: make(map[ClientID]*identity),
		tombs:     make(map[ClientID]error),
	}
	if l.window == 0 {
		l.window = 30 * time.Second
	}
	if l.maxBytes <= 0 {
		l.maxBytes = 256 << 10
	}
	if l.on {
		l.key = make([]byte, tokenKeyBytes)
		if _, err := rand.Read(l.key); err != nil {
			return nil, fmt.Errorf("netcode: resume key: %w", err)
		}
	}
	return l, nil
}

// resumable reports whether a session that ended with reason may be resumed.
func resumable(reason error) bool {
	return errors.Is(reason, ErrTimeout) || errors.Is(reason, ErrConnectionLost)
}

// refusal is the error a resumption of a departed session gets.
func refusal(reason error) error {
	if errors.Is(reason, ErrResumeOverflow) {
		return ErrResumeOverflow
	}
	return ErrResumeExpired
}

// claim checks a resume token and reserves its session for this handshake.
func (l *serverLife) claim(tok string) (*identity, error) {
	s := l.s
	if !l.on {
		return nil, l.refused(fmt.Errorf("%w: this host keeps no sessions", ErrResumeInvalid))
	}
	t, err := parseToken(l.key, tok)
	if err != nil {
		return nil, l.refused(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[t.id]
	var ident *identity
	if sess != nil {
		ident = sess.life.identity()
	}
	if ident == nil {
		if why := l.tombs[t.id]; why != nil {
			return nil, l.refusedLocked(fmt.Errorf("%w: client %d left: %w", refusal(why), t.id, why))
		}
		return nil, l.refusedLocked(fmt.Errorf("%w: client %d", ErrResumeExpired, t.id))
	}
	ident.mu.Lock()
	defer ident.mu.Unlock()
	switch {
	case ident.ended:
		return nil, l.refusedLocked(fmt.Errorf("%w: client %d left", ErrResumeExpired, t.id))
	case t.gen < ident.gen, ident.claimed:
		return nil, l.refusedLocked(fmt.Errorf("%w: client %d", ErrResumeReplayed, t.id))
	case t.gen != ident.gen:
		return nil, l.refusedLocked(fmt.Errorf("%w: unknown generation", ErrResumeInvalid))
	}
	ident.claimed = true
	return ident, nil
}

// refused and refusedLocked return a refusal (counted, by its code, where Accept
// refuses the peer: Totals().Refusals).
func (l *serverLife) refused(err error) error       { return err }
func (l *serverLife) refusedLocked(err error) error { return err }

// release gives a claimed token back after a failed resumption handshake.
func (ident *identity) release() {
	ident.mu.Lock()
	ident.claimed = false
	ident.mu.Unlock()
}

// welcome ends a handshake: a new session gets its identity and token; a resumption
// waits for the client's hello, takes the identity over from its old session and
// replays the events the client missed.
func (l *hostLife) welcome(ctx context.Context, w welcome) error {
	sess := l.sess
	s := sess.srv
	l.mu.Lock()
	ident := l.resumeOf
	l.mu.Unlock()
	if ident == nil {
		if s.life.on {
			l.setIdent(&identity{id: sess.id, gen: 1, cur: sess})
			w.Resume = signToken(s.life.key, resumeToken{id: sess.id, gen: 1})
			w.WindowMS = uint32(s.life.window.Milliseconds())
		}
		msg, err := marshalMessage(kindWelcome, w)
		if err != nil {
			return err
		}
		l.welcomed.Store(true)
		return sess.sendReliable(msg)
	}
	// A failed resumption gives the token back in teardown (abandon).
	var h ackMsg
	select {
	case h = <-l.hello:
	case <-sess.ending:
		return sess.reason
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the resuming client: %w", ErrSignaling, ctx.Err())
	}
	old, err := s.life.takeOver(sess, ident, h, &w)
	if err != nil {
		return err
	}
	if !old.life.isDead() {
		old.end(errSuperseded)
	}
	return nil
}

// errSuperseded ends a session whose client resumed on a new connection.
var errSuperseded = errors.New("netcode: resumed on a new connection")

// takeOver moves ident from its old session to sess, sends the welcome and the
// events the client missed, and registers sess. It returns the old session.
func (l *serverLife) takeOver(sess *session, ident *identity, h ackMsg, w *welcome) (*session, error) {
	s := l.s
	sum := sha256.Sum256(h.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	ident.mu.Lock()
	defer ident.mu.Unlock()
	switch {
	case ident.ended:
		return nil, l.refusedLocked(fmt.Errorf("%w: client %d left", ErrResumeExpired, ident.id))
	case !ident.hasKey || subtle.ConstantTimeCompare(sum[:], ident.keyHash[:]) != 1:
		return nil, l.refusedLocked(fmt.Errorf("%w: not this client's token", ErrResumeInvalid))
	case ident.noResume:
		return nil, l.refusedLocked(fmt.Errorf("%w: its events outgrew the resume buffer", ErrResumeOverflow))
	case h.Events < ident.evAcked || h.Events > ident.evOut:
		return nil, l.refusedLocked(fmt.Errorf("%w: client reports %d events, host sent %d (%d acknowledged)", ErrResumeInvalid, h.Events, ident.evOut, ident.evAcked))
	}
	old := ident.cur
	ident.gen++
	w.ID = uint32(ident.id)
	w.Resume = signToken(l.key, resumeToken{id: ident.id, gen: ident.gen})
	w.WindowMS = uint32(l.window.Milliseconds())
	w.Resumed = true
	w.Commands = ident.cmdsIn
	// The client resends the commands after these on the new reliable channel.
	sess.relIn = ident.cmdsIn
	sess.cmdsSeen.Store(ident.cmdsIn)
	msg, err := marshalMessage(kindWelcome, *w)
	if err != nil {
		return nil, err
	}
	// The session holds the identity before the welcome leaves: the client answers
	// it at once with the commands to resend, and commandIn must number them against
	// the identity (it waits on ident.mu until this takeover ends). Numbered against
	// the bare session, the first was dropped as out of sequence, and every command
	// after it too. A failed takeover gives the claim back for abandon to release.
	sess.life.setIdent(ident)
	done := false
	defer func() {
		if !done {
			sess.life.unsetIdent(ident)
		}
	}()
	sess.life.welcomed.Store(true)
	if err := sess.sendReliable(msg); err != nil {
		return nil, err
	}
	ident.trimLocked(h.Events)
	for _, ev := range ident.log {
		if err := sess.sendReliable(ev); err != nil {
			return nil, err
		}
	}
	ident.evSent = ident.evOut
	if s.cfg.observeTakeOver != nil {
		s.cfg.observeTakeOver()
	}
	// Commands the old connection delivered but the tick has not collected yet
	// go first: the client resends only those after them.
	old.mu.Lock()
	sess.mu.Lock()
	sess.commands = append(old.commands, sess.commands...)
	sess.cmdBytes += old.cmdBytes
	old.commands, old.cmdBytes = nil, 0
	sess.mu.Unlock()
	old.mu.Unlock()

	ident.cur = sess
	ident.claimed = false
	if ident.stopWatch != nil {
		ident.stopWatch()
		ident.stopWatch = nil
	}
	ident.suspended, ident.dead = false, false
	delete(l.suspended, ident.id)
	done = true
	sess.stats.resumes.Store(old.stats.resumes.Load() + 1)
	s.sessions[ident.id] = sess
	l.changes = append(l.changes, lifeChange{kind: changeResumed, ident: ident, sess: sess, old: old})
	l.stats.Resumed++
	return old, nil
}

// register adds a handshaken session to the Server: a new one joins at the next tick;
// a resumed one was registered by takeOver. Server.mu is held.
func (l *serverLife) register(sess *session) {
	if sess.life.resumed() {
		return
	}
	l.s.sessions[sess.id] = sess
	l.s.joins = append(l.s.joins, sess)
}

// trimLocked forgets the events the client reported received (n of them).
func (ident *identity) trimLocked(n uint32) {
	k := int(n - ident.evAcked)
	if k <= 0 {
		return
	}
	k = min(k, len(ident.log))
	for _, ev := range ident.log[:k] {
		ident.logBytes -= len(ev)
	}
	clear(ident.log[:k])
	ident.log = ident.log[k:]
	ident.evAcked = n
}

// sendEvent numbers an event, keeps it until the client acknowledges it, and sends it
// unless the client is suspended (then it waits in the log for the client's return).
func (l *serverLife) sendEvent(ident *identity, msg []byte) error {
	ident.mu.Lock()
	if ident.ended {
		ident.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrUnknownClient, ident.id)
	}
	overflow := false
	ident.evOut++
	// Events are kept once the client has sent its key (it does at once after its
	// welcome): a client that never does (an older one) cannot resume anyway.
	if !ident.noResume && ident.hasKey {
		ident.log = append(ident.log, msg)
		ident.logBytes += len(msg)
		if ident.logBytes > l.maxBytes {
			if ident.suspended {
				overflow = true
			} else {
				ident.noResume = true
				ident.log, ident.logBytes = nil, 0
				ident.cur.stats.resumeLost.Store(1)
				l.s.mu.Lock()
				l.stats.ResumeLost++
				l.s.mu.Unlock()
			}
		}
	}
	var err error
	if !ident.suspended || !ident.hasKey && !ident.dead {
		// Live, or a client that cannot resume (no key): its connection queues
		// the event, which arrives if it recovers.
		err = ident.cur.sendEvent(ident.evOut, msg)
		ident.evSent = ident.evOut
	}
	ident.mu.Unlock()
	if overflow {
		l.expire(ident, fmt.Errorf("%w: more than %d bytes of events waiting", ErrResumeOverflow, l.maxBytes))
	}
	return err
}

// commandIn numbers a command arriving on the session: num is the number a copy
// (0x05) carries (copied), or the command is the next one on the reliable channel.
// It reports whether the command is the next one the host has not received; then
// it holds, until unlock, the lock that serializes the numbering (the identity's, or
// the session's when the host keeps no identities), so that commands are queued in
// number order and a resumption's takeover sees each either queued or not yet
// counted. A command the other channel already brought, a copy that is not the next
// one (an earlier one is still missing), and a command arriving on a superseded
// session (its client resends it on the new connection) are not.
func (l *hostLife) commandIn(num uint32, copied bool) (unlock func(), ok bool) {
	sess := l.sess
	mu, in := &sess.cmdMu, &sess.cmdsIn
	ident := l.identity()
	if ident != nil {
		mu, in = &ident.mu, &ident.cmdsIn
	}
	mu.Lock()
	if ident != nil && ident.cur != sess {
		mu.Unlock()
		return nil, false
	}
	if !copied {
		sess.relIn++
		num = sess.relIn
	}
	if num != *in+1 {
		mu.Unlock()
		return nil, false
	}
	*in = num
	sess.cmdsSeen.Store(num)
	return mu.Unlock, true
}

// onAck handles a client's acknowledgement (0x14): its key and the events it
// received, or, while a resumption handshake waits, its hello.
func (l *hostLife) onAck(body []byte) {
	sess := l.sess
	a, err := decodeAck(body)
	if err != nil {
		sess.badMessage(parseDrop(err), err)
		return
	}
	if a.Restarts {
		l.clientRestarts.Store(true)
	}
	if a.Copies {
		sess.copies.on.Store(true)
	}
	if a.Events != 0 {
		sess.copies.ackEvents(a.Events)
	}

	l.mu.Lock()
	ident, waiting := l.ident, l.resumeOf != nil
	l.mu.Unlock()
	if waiting {
		select {
		case l.hello <- a:
		default:
			sess.drop(DropUnknownKind)
		}
		return
	}
	if ident == nil {
		return // the host keeps no sessions: nothing to acknowledge
	}
	ident.mu.Lock()
	defer ident.mu.Unlock()
	if len(a.Key) == resumeKeyBytes && !ident.hasKey {
		ident.keyHash, ident.hasKey = sha256.Sum256(a.Key), true
		// The events sent so far were not kept: count them as delivered.
		ident.evAcked = ident.evOut
	}
	if a.Events > ident.evSent {
		sess.badMessage(DropMalformed, fmt.Errorf("%w: %d events acknowledged, %d sent", ErrMalformed, a.Events, ident.evSent))
		return
	}
	ident.trimLocked(a.Events) // an older count (sent before the key's) trims nothing
}

// silent is the tick goroutine's timeout: a session silent for Timeout is suspended
// (its connection kept, for an ICE restart to revive) rather than ended, when it may
// resume. It reports whether the session is kept.
func (l *serverLife) silent(sess *session, now time.Time) bool {
	ident := sess.life.identity()
	if !l.on || ident == nil {
		return false
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ident.mu.Lock()
	defer ident.mu.Unlock()
	if ident.cur != sess {
		return true // superseded: the tick swaps it out
	}
	if ident.ended || ident.noResume {
		return false
	}
	if !ident.suspended {
		ident.suspended, ident.since = true, now
		ident.reason = fmt.Errorf("%w: nothing heard for %v", ErrTimeout, s.cfg.Timeout)
		l.suspended[ident.id] = ident
		l.changes = append(l.changes, lifeChange{kind: changeSuspended, ident: ident, sess: sess})
		l.stats.Suspensions++
		s.log.Info("client suspended", "client", ident.id, "reason", ident.reason)
	}
	return true
}

// onEnd is called by a registered session's run once it ended. It reports whether the
// lifecycle took the session over: a superseded session is only torn down, a lost one
// that may resume is torn down and suspended (if it was not already) without leaving.
func (l *serverLife) onEnd(sess *session, reason error) bool {
	ident := sess.life.identity()
	if ident == nil {
		return false
	}
	s := l.s
	s.mu.Lock()
	ident.mu.Lock()
	switch {
	case ident.cur != sess:
		ident.mu.Unlock()
		s.mu.Unlock()
		sess.teardown()
		return true
	case ident.ended || !l.on || ident.noResume || !resumable(reason) || s.closed:
		ident.ended = true
		ident.mu.Unlock()
		s.mu.Unlock()
		return false
	}
	ident.dead = true
	sess.life.markDead()
	if !ident.suspended {
		ident.suspended, ident.since, ident.reason = true, s.clk.Now(), reason
		l.suspended[ident.id] = ident
		l.stats.Suspensions++
	}
	l.changes = append(l.changes, lifeChange{kind: changeSuspended, ident: ident, sess: sess})
	ctx, cancel := context.WithCancel(s.closing)
	ident.stopWatch = cancel
	sig := sess.life.sig
	s.wg.Add(1)
	ident.mu.Unlock()
	s.mu.Unlock()
	s.log.Info("client suspended", "client", ident.id, "reason", reason)
	sess.teardown()
	go l.watch(ctx, ident, sess, sig)
	return true
}

// watch reads the signaling path of a suspended client whose connection is gone: a
// new offer on it is the client coming back (a reloaded page keeps its lobby
// identity, so its offer arrives here), and is accepted like any other.
func (l *serverLife) watch(ctx context.Context, ident *identity, old *session, sig signaling.Signaler) {
	defer l.s.wg.Done()
	if sig == nil {
		return
	}
	for {
		sg, err := sig.RecvSignal(ctx)
		if err != nil {
			return
		}
		if sg.Type != signaling.TypeOffer || sg.Validate() != nil {
			continue
		}
		if _, err := l.s.Accept(ctx, &prefixSignaler{Signaler: sig, first: &sg}); err == nil {
			return // the new session owns the path now
		}
		ident.mu.Lock()
		still := ident.cur == old && !ident.ended
		ident.mu.Unlock()
		if !still {
			return
		}
	}
}

// prefixSignaler is a Signaler whose first signal was already read.
type prefixSignaler struct {
	signaling.Signaler
	first *signaling.Signal
}

func (p *prefixSignaler) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	if f := p.first; f != nil {
		p.first = nil
		return *f, nil
	}
	return p.Signaler.RecvSignal(ctx)
}

// expire ends a suspended identity for good with reason: a session whose connection
// is gone leaves now, one whose connection lives on ends (and leaves) through run.
func (l *serverLife) expire(ident *identity, reason error) {
	s := l.s
	s.mu.Lock()
	ident.mu.Lock()
	if ident.ended {
		ident.mu.Unlock()
		s.mu.Unlock()
		return
	}
	ident.ended = true
	delete(l.suspended, ident.id)
	if errors.Is(reason, ErrResumeOverflow) {
		l.stats.Overflowed++
	} else {
		l.stats.Expired++
	}
	if ident.stopWatch != nil {
		ident.stopWatch()
	}
	cur, dead := ident.cur, ident.dead
	ident.log, ident.logBytes = nil, 0
	ident.mu.Unlock()
	s.mu.Unlock()
	if dead {
		s.removeSession(cur, reason)
		s.log.Info("client disconnected", "client", ident.id, "reason", reason)
		return
	}
	cur.end(reason)
}

// kick ends a suspended client whose connection is gone (Server.Kick); it reports
// whether it did.
func (l *serverLife) kick(sess *session, reason error) bool {
	ident := sess.life.identity()
	if ident == nil {
		return false
	}
	ident.mu.Lock()
	dead := ident.dead && !ident.ended
	ident.mu.Unlock()
	if dead {
		l.expire(ident, reason)
	}
	return dead
}

// gone records a departed session, so that a late resumption learns why. Server.mu
// is held.
func (l *serverLife) gone(sess *session, reason error) {
	ident := sess.life.identity()
	if ident == nil {
		return
	}
	ident.mu.Lock()
	ident.ended = true
	ident.mu.Unlock()
	if _, ok := l.tombs[ident.id]; !ok {
		if len(l.tombOrder) >= maxTombstones {
			delete(l.tombs, l.tombOrder[0])
			l.tombOrder = l.tombOrder[1:]
		}
		l.tombOrder = append(l.tombOrder, ident.id)
	}
	l.tombs[ident.id] = reason
}

// tick runs on the tick goroutine at the start of tick n: it reports suspensions and
// resumptions in t, swaps resumed sessions into the active list (with a new encoder:
// the client starts from a full snapshot), recovers suspended clients heard from
// again, expires those whose window has passed, and acknowledges commands.
func (l *serverLife) tick(n uint32, t *Tick, active []*session, now time.Time) []*session {
	if !l.on {
		return active
	}
	s := l.s
	var expired []*identity
	s.mu.Lock()
	changes := l.changes
	l.changes = nil
	for _, ident := range l.suspended {
		ident.mu.Lock()
		switch {
		case now.Sub(ident.since) >= l.window:
			expired = append(expired, ident)
		case !ident.dead && ident.cur.lastHeard.Load() > ident.since.UnixNano():
			// Heard again on its own connection: an ICE restart or the
			// network came back. Send what waited.
			ident.suspended = false
			delete(l.suspended, ident.id)
			if from := int(ident.evSent - ident.evAcked); ident.hasKey && from <= len(ident.log) {
				for _, ev := range ident.log[from:] {
					_ = ident.cur.sendReliable(ev)
				}
			}
			ident.evSent = ident.evOut
			changes = append(changes, lifeChange{kind: changeResumed, ident: ident, sess: ident.cur, old: ident.cur, recovery: true})
			l.stats.Recovered++
			s.log.Info("client recovered", "client", ident.id)
		}
		ident.mu.Unlock()
	}
	l.stats.Suspended = len(l.suspended)
	s.mu.Unlock()

	for _, c := range changes {
		switch c.kind {
		case changeSuspended:
			if !c.ident.reported {
				c.ident.reported = true
				t.Suspended = append(t.Suspended, c.ident.id)
			}
			if c.sess.life.isDead() {
				active = removeActive(active, c.sess)
			}
		case changeResumed:
			if !c.recovery || c.ident.reported {
				t.Resumed = append(t.Resumed, c.ident.id)
			}
			c.ident.reported = false
			if c.recovery {
				continue
			}
			c.sess.phase, c.sess.worker = c.old.phase, c.old.worker
			c.sess.enc = s.newEncoder(c.sess.worker)
			active = append(removeActive(active, c.old), c.sess)
		}
	}
	for _, ident := range expired {
		l.expire(ident, fmt.Errorf("%w (not resumed within %v)", ident.reason, l.window))
	}
	if n%ackEveryTicks == 0 {
		for _, sess := range active {
			sess.life.ackCommands()
		}
	}
	return active
}

// removeActive removes sess from the tick's list.
func removeActive(active []*session, sess *session) []*session {
	for i, a := range active {
		if a == sess {
			copy(active[i:], active[i+1:])
			active[len(active)-1] = nil
			return active[:len(active)-1]
		}
	}
	return active
}

// newEncoder returns a snapshot encoder for a client of encoding group worker.
func (s *Server) newEncoder(worker int) *snapshot.Encoder {
	return snapshot.NewEncoder(s.cfg.Registry, snapshot.EncoderConfig{
		MaxPacketBytes:    MaxSnapshotPacketBytes,
		MaxPacketsPerSend: s.cfg.MaxPacketsPerSend,
		Cache:             s.caches[worker],
	})
}

// ackCommands tells the client how many of its commands arrived, if that changed.
func (l *hostLife) ackCommands() {
	ident := l.identity()
	if ident == nil {
		return
	}
	ident.mu.Lock()
	n := ident.cmdsIn
	due := n != ident.cmdsAcked && ident.cur == l.sess && !ident.suspended
	if due {
		ident.cmdsAcked = n
	}
	ident.mu.Unlock()
	if !due {
		return
	}
	if msg, err := marshalMessage(kindAck, ackMsg{Commands: n}); err == nil {
		_ = l.sess.sendReliable(msg)
	}
}

// foreignOffer reports whether an offer arriving on a session's signaling path is a
// new connection (a resumption, or a client that started over) rather than an ICE
// restart of this one: it carries a resume token or another DTLS certificate.
func (l *hostLife) foreignOffer(sg signaling.Signal) bool {
	if sg.Resume != "" {
		return true
	}
	rd := l.sess.pc.RemoteDescription()
	return rd == nil || fingerprint(rd.SDP) != fingerprint(sg.SDP)
}

// fingerprint returns an SDP's first DTLS fingerprint line.
func fingerprint(sdp string) string {
	i := strings.Index(sdp, "a=fingerprint:")
	if i < 0 {
		return ""
	}
	sdp = sdp[i:]
	if j := strings.IndexAny(sdp, "\r\n"); j >= 0 {
		sdp = sdp[:j]
	}
	return sdp
}

// handOff accepts a new connection that arrived on this session's signaling path; it
// reports whether the new session now owns the path.
func (l *hostLife) handOff(sig signaling.Signaler, sg signaling.Signal) bool {
	s := l.sess.srv
	_, err := s.Accept(s.closing, &prefixSignaler{Signaler: sig, first: &sg})
	if err != nil {
		s.log.Info("new connection on a client's signaling path refused", "client", l.sess.id, "err", err)
	}
	return err == nil
}

// LifecycleStats returns the host's connection lifecycle counters.
func (s *Server) LifecycleStats() LifecycleStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.life.stats
	st.Suspended = len(s.life.suspended)
	st.RestartsOffered, st.RestartsFailed = s.totals.restarts, s.totals.restartsFailed
	for _, sess := range s.sessions {
		st.RestartsOffered += sess.stats.restarts.Load()
		st.RestartsFailed += sess.stats.restartsFailed.Load()
	}
	st.RestartsAnswered = s.life.restartsAnswered.Load()
	return st
}

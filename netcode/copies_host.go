package netcode

import (
	"sync"
	"sync/atomic"
)

// hostCopies is the host's side of copies for one session (see copies.go): the
// window of events to repeat on the unreliable channel, for a client that takes
// them, and the acknowledgement of its command copies.
//
// Ownership: mu guards evOut and win (event senders: the tick goroutine and any
// goroutine calling Server.Send or Broadcast; the unreliable callback, which applies
// the client's acknowledgements); buf belongs to the tick goroutine.
type hostCopies struct {
	on     atomic.Bool  // the client's first ack said it takes copies
	ackDue atomic.Bool  // command copies arrived since the last event copies went out
	held   atomic.Int32 // len(win.bodies), so that an idle tick takes no lock

	mu    sync.Mutex
	evOut uint32 // events numbered on this connection, when the host keeps no identities
	win   copyWindow
	added int // events added to win since the last flush
	buf   []byte
}

// keepEventLocked keeps a copy of event num (msg, kind byte included) for a client that
// takes copies; sess.copies.mu is held.
func (sess *session) keepEventLocked(num uint32, msg []byte) {
	c := &sess.copies
	if !c.on.Load() || sess.srv.cfg.CopyBytes < 0 {
		return
	}
	if !c.win.add(num, msg[1:], sess.srv.cfg.CopyBytes) {
		sess.stats.uncopied.Add(1)
		return
	}
	c.added++
	c.held.Store(int32(len(c.win.bodies)))
}

// sendEvent sends event num on the reliable channel and keeps its copy.
func (sess *session) sendEvent(num uint32, msg []byte) error {
	if err := sess.sendReliable(msg); err != nil {
		return err
	}
	sess.copies.mu.Lock()
	sess.keepEventLocked(num, msg)
	sess.copies.mu.Unlock()
	return nil
}

// sendEventNumbered numbers and sends an event of a session without an identity
// (the host keeps no sessions for resumption).
func (sess *session) sendEventNumbered(msg []byte) error {
	c := &sess.copies
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := sess.sendReliable(msg); err != nil {
		return err
	}
	c.evOut++
	sess.keepEventLocked(c.evOut, msg)
	return nil
}

// ackEvents forgets the event copies the client has: n events received.
func (c *hostCopies) ackEvents(n uint32) {
	c.mu.Lock()
	c.win.ack(n)
	c.held.Store(int32(len(c.win.bodies)))
	c.mu.Unlock()
}

// onCommandCopies handles a command copies message (0x05): the client's count of
// events received, and copies of its commands, each delivered unless the reliable
// channel (or an earlier copy) brought it first.
func (sess *session) onCommandCopies(b []byte) {
	acked, first, bodies, err := decodeCopies(b, sess.cpScratch[:0])
	defer func() {
		clear(bodies)
		sess.cpScratch = bodies[:0]
	}()
	if err != nil {
		sess.badMessage(DropMalformed, err)
		return
	}
	sess.copies.ackEvents(acked)
	for i, body := range bodies {
		if sess.command(first+uint32(i), true, body) {
			sess.stats.copiesFirst.Add(1)
		}
	}
	if len(bodies) > 0 {
		sess.copies.ackDue.Store(true)
	}
}

// flushCopies runs on the tick goroutine after Step: it sends the client an event
// copies message (0x06) when its command copies await an acknowledgement, and on
// every tick while its window holds an event added before this tick. An event's
// first copy waits for the next tick because a copy sent with the event would
// travel in the same SCTP packet as the event itself (pion bundles the chunks it
// has queued) and be lost with it.
func (sess *session) flushCopies() {
	c := &sess.copies
	if !c.on.Load() || c.held.Load() == 0 && !c.ackDue.Load() {
		return
	}
	if sess.unrel.BufferedAmount() > maxCopiesBacklog {
		sess.stats.copiesHeld.Add(1)
		return // the next tick tries again (ackDue stays set)
	}
	due := c.ackDue.Load() && c.ackDue.Swap(false)
	c.mu.Lock()
	old := len(c.win.bodies) - c.added
	c.added = 0
	if !due && old <= 0 {
		c.mu.Unlock()
		return
	}
	c.buf = appendCopies(c.buf[:0], kindEventCopies, sess.txSeq.Add(1)-1, sess.cmdsSeen.Load(), &c.win)
	c.mu.Unlock()
	sess.sendUnreliable(c.buf)
}

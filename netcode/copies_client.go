package netcode

import (
	"fmt"
	"sync"

	"github.com/volleynet/volley/internal/msgguard"
)

// clientCopies is the client's side of copies (see copies.go): the window of
// commands to repeat on the unreliable channel, and the delivery of events from
// either channel.
//
// Ownership: mu guards win and buf (Send's goroutine, which adds and sends while
// clientResume.mu numbers the command; updates; the client goroutine, which applies
// the host's acknowledgements); evMu serializes event delivery (the reliable
// channel's callback and the client goroutine) and guards relEv. Lock order:
// clientResume.mu, then Client.mu, then mu.
type clientCopies struct {
	maxBody int // ClientConfig.CopyBytes; negative: no copies

	mu  sync.Mutex
	win copyWindow
	buf []byte

	evMu  sync.Mutex
	relEv uint32 // event messages received on the reliable channel, numbered on from a resumed count
}

// on reports whether the client sends and takes copies.
func (cp *clientCopies) on() bool { return cp.maxBody >= 0 }

// keepCommand keeps a copy of command num (msg, kind byte included), to be sent with
// the next update: a copy sent with the command would travel in the same SCTP
// packet (pion bundles the chunks it has queued) and be lost with it. It runs while
// clientResume.mu numbers the command.
func (c *Client) keepCommand(num uint32, msg []byte) {
	cp := &c.copies
	if !cp.on() {
		return
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if !cp.win.add(num, msg[1:], cp.maxBody) {
		c.stats.uncopied.Add(1)
	}
}

// resendCommands repeats the commands the host has not acknowledged; it runs with
// every update.
func (c *Client) resendCommands() {
	cp := &c.copies
	if !cp.on() {
		return
	}
	cp.mu.Lock()
	if len(cp.win.bodies) > 0 {
		c.sendCopiesLocked()
	}
	cp.mu.Unlock()
}

// sendCopiesLocked sends a command copies message (0x05): the events received and
// the commands not yet acknowledged. cp.mu is held.
func (c *Client) sendCopiesLocked() {
	cp := &c.copies
	if c.unrel.BufferedAmount() > maxCopiesBacklog {
		c.stats.copiesHeld.Add(1)
		return // the next update tries again
	}
	cp.buf = appendCopies(cp.buf[:0], kindCommandCopies, c.txSeq.Add(1)-1, c.resume.evIn.Load(), &cp.win)
	c.sendUnreliable(cp.buf)
}

// ackCommands forgets the command copies the host has: n commands received.
func (cp *clientCopies) ackCommands(n uint32) {
	cp.mu.Lock()
	cp.win.ack(n)
	cp.mu.Unlock()
}

// onEventCopies handles an event copies message (0x06) on the client goroutine: the
// host's count of commands received, and copies of its events, each delivered
// unless the reliable channel (or an earlier copy) brought it first. Copies are
// acknowledged at once.
func (c *Client) onEventCopies(b []byte) {
	acked, first, bodies, err := decodeCopies(b, nil)
	if err != nil || !c.resume.hostHas(acked) {
		c.stats.drop(DropMalformed)
		return
	}
	c.copies.ackCommands(acked)
	for i, body := range bodies {
		c.deliverEvent(first+uint32(i), true, body)
	}
	if len(bodies) > 0 {
		c.copies.mu.Lock()
		c.sendCopiesLocked()
		c.copies.mu.Unlock()
	}
}

// deliverEvent delivers an event to Events: num, from a copy (copied), or the next
// one on the reliable channel; unless it was delivered already, or (a copy) an
// earlier one is still missing.
func (c *Client) deliverEvent(num uint32, copied bool, body []byte) {
	cp := &c.copies
	cp.evMu.Lock()
	defer cp.evMu.Unlock()
	if !copied {
		cp.relEv++
		num = cp.relEv
	}
	if num != c.resume.evIn.Load()+1 {
		return
	}
	c.resume.evIn.Store(num) // numbered even if dropped below, as the host numbers them
	if copied {
		c.stats.copiesFirst.Add(1)
	}
	if len(body) > c.cfg.MaxEventBytes {
		c.stats.drop(DropTooLarge)
		return
	}
	if err := msgguard.Check(body, c.cfg.MaxEventBytes); err != nil {
		c.stats.drop(DropMalformed)
		return
	}
	select {
	case c.events <- Event{Data: body, max: c.cfg.MaxEventBytes}:
	default:
		c.end(fmt.Errorf("%w: %d events unread", ErrSlowConsumer, cap(c.events)))
	}
}

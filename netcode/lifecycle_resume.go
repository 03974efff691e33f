package netcode

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/volleynet/volley/internal/msgguard"
)

// ResumeState is what a client needs to resume its session on a new connection once
// the old one is lost: pass it as ClientConfig.Resume. It is plain data; marshal it as
// JSON to keep it across a process or page restart (the arena keeps it in the
// browser's sessionStorage). Treat it as a secret.
type ResumeState struct {
	// Token is the host's resume token: opaque, single-use, signed by the host.
	Token string `json:"token"`
	// Key is the client's secret, which binds the token to this client: the
	// client proves it over the new connection's encrypted data channel, so a
	// token seen on the signaling path is useless without it.
	Key []byte `json:"key"`
	// Events is how many events the client received; the host replays the rest.
	Events uint32 `json:"events"`
	// Commands is how many commands the client sent. Unacked holds the newest of
	// them that the host had not acknowledged, oldest first (msgpack, as Send
	// encoded them): the resumption resends those the host did not receive.
	Commands uint32   `json:"commands"`
	Unacked  [][]byte `json:"unacked,omitempty"`
	// Resumes counts this session's resumptions so far (Stats.Resumes).
	Resumes uint64 `json:"resumes,omitempty"`
}

// resumeKeyBytes is the size of a client's key.
const resumeKeyBytes = 16

// maxAckBytes bounds an acknowledgement message (0x14).
const maxAckBytes = 64

// clientResume is the client's side of resumption: it numbers commands and keeps the
// unacknowledged ones, counts events and acknowledges them, and holds the token.
//
// Ownership: mu guards everything but evIn (written by the reliable channel's
// callback); Send holds mu while it numbers and sends a command, so the numbers
// follow the order on the wire.
type clientResume struct {
	maxBytes int
	from     *ResumeState // the session this client resumes, or nil
	key      []byte
	evIn     atomic.Uint32 // events received, every event message counted

	mu       sync.Mutex
	token    string
	off      bool // cannot resume (see Client.ResumeState)
	evAcked  uint32
	cmdSent  uint32
	cmdAcked uint32
	log      [][]byte // commands cmdAcked+1..cmdSent, kind byte included
	logBytes int
	resumes  uint64
}

func newClientResume(cfg ClientConfig) (*clientResume, error) {
	r := &clientResume{maxBytes: cfg.ResumeBytes, from: cfg.Resume}
	if r.maxBytes <= 0 {
		r.maxBytes = 256 << 10
	}
	if st := cfg.Resume; st != nil {
		if st.Token == "" || len(st.Key) != resumeKeyBytes || len(st.Unacked) > int(st.Commands) {
			return nil, fmt.Errorf("%w: incomplete ResumeState", ErrConfig)
		}
		r.key = append([]byte(nil), st.Key...)
		r.evIn.Store(st.Events)
		r.evAcked = st.Events
		r.resumes = st.Resumes
		return r, nil
	}
	r.key = make([]byte, resumeKeyBytes)
	if _, err := rand.Read(r.key); err != nil {
		return nil, fmt.Errorf("netcode: resume key: %w", err)
	}
	return r, nil
}

// offerToken is the token the offer carries ("" for a new session).
func (r *clientResume) offerToken() string {
	if r.from == nil {
		return ""
	}
	return r.from.Token
}

// hello is the first message of a resuming client on its reliable channel, sent as
// soon as it opens: the key and the events received. The host answers with its
// welcome.
func (r *clientResume) hello(c *Client) {
	if r.from == nil {
		return
	}
	if msg, err := marshalMessage(kindAck, ackMsg{Events: r.from.Events, Key: r.key, Restarts: c.life.cfg.enabled(), Copies: c.copies.on()}); err == nil {
		_ = c.sendRaw(msg)
	}
}

// welcomed takes in the host's welcome: the token, and on a resumption the commands
// to resend.
func (r *clientResume) welcomed(c *Client, w welcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.token = w.Resume
	if r.from == nil {
		if w.Resumed {
			return fmt.Errorf("%w: resumed welcome to a new session", ErrProtocol)
		}
		// The first acknowledgement carries the key that binds the token, and says
		// whether the client restarts ICE itself.
		first := ackMsg{Restarts: c.life.cfg.enabled(), Copies: c.copies.on()}
		if r.token == "" {
			r.off = true
		} else {
			first.Key = r.key
		}
		if !first.Restarts && first.Key == nil && !first.Copies {
			return nil
		}
		msg, err := marshalMessage(kindAck, first)
		if err != nil {
			return err
		}
		return c.sendRaw(msg)
	}
	if !w.Resumed || r.token == "" {
		return fmt.Errorf("%w: the host did not resume the session", ErrProtocol)
	}
	st := r.from
	r.cmdSent = st.Commands
	r.cmdAcked = st.Commands - uint32(len(st.Unacked))
	if w.Commands > r.cmdSent || w.Commands < r.cmdAcked {
		return fmt.Errorf("%w: host has %d commands, client sent %d (%d acknowledged)", ErrProtocol, w.Commands, r.cmdSent, r.cmdAcked)
	}
	r.resumes++
	c.stats.resumes.Store(r.resumes)
	for i, body := range st.Unacked {
		msg := append([]byte{kindCommand}, body...)
		r.log = append(r.log, msg)
		r.logBytes += len(msg)
		if r.cmdAcked+uint32(i)+1 <= w.Commands {
			continue // the host has it
		}
		if err := c.sendRaw(msg); err != nil {
			return err
		}
	}
	r.trimLocked(w.Commands)
	return nil
}

// send numbers a command, keeps it until acknowledged, and sends it.
func (r *clientResume) send(c *Client, msg []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := !r.off && r.token != ""
	if keep {
		r.log = append(r.log, msg)
		r.logBytes += len(msg)
	}
	if err := c.sendRaw(msg); err != nil {
		if keep {
			r.log = r.log[:len(r.log)-1]
			r.logBytes -= len(msg)
		}
		return err
	}
	r.cmdSent++
	c.keepCommand(r.cmdSent, msg)
	if keep && r.logBytes > r.maxBytes {
		r.stopLocked(c)
	}
	return nil
}

// trimLocked forgets the commands up to number n, which the host has.
func (r *clientResume) trimLocked(n uint32) {
	k := int(n - r.cmdAcked)
	if k <= 0 {
		return
	}
	k = min(k, len(r.log))
	for _, m := range r.log[:k] {
		r.logBytes -= len(m)
	}
	clear(r.log[:k])
	r.log = r.log[k:]
	r.cmdAcked = n
}

// stopLocked gives up resumption: the commands to resend are no longer all kept.
func (r *clientResume) stopLocked(c *Client) {
	if !r.off && r.token != "" && r.logBytes > r.maxBytes {
		c.stats.resumeLost.Store(1)
	}
	r.off = true
	r.log, r.logBytes = nil, 0
}

// stop gives up resumption: the session ended for good.
func (r *clientResume) stop() {
	r.mu.Lock()
	r.off = true
	r.log, r.logBytes = nil, 0
	r.mu.Unlock()
}

// decodeAck parses an acknowledgement (0x14) body.
func decodeAck(body []byte) (ackMsg, error) {
	var a ackMsg
	if len(body) > maxAckBytes {
		return a, fmt.Errorf("%w: ack of %d bytes", ErrTooLarge, len(body))
	}
	if err := msgguard.Unmarshal(body, maxAckBytes, &a); err != nil {
		return a, fmt.Errorf("%w: ack: %w", ErrMalformed, err)
	}
	if len(a.Key) != 0 && len(a.Key) != resumeKeyBytes {
		return a, fmt.Errorf("%w: key of %d bytes", ErrMalformed, len(a.Key))
	}
	return a, nil
}

// onAck handles the host's acknowledgement of commands.
func (r *clientResume) onAck(c *Client, body []byte) {
	a, err := decodeAck(body)
	if err != nil {
		c.stats.drop(DropMalformed)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Commands > r.cmdSent || int32(a.Commands-r.cmdAcked) < 0 {
		c.stats.drop(DropMalformed)
		return
	}
	r.trimLocked(a.Commands)
	c.copies.ackCommands(a.Commands)
}

// hostHas takes in the host's count of commands received from an event copies
// message, which may arrive late (an older count changes nothing). It reports
// false for a count above the commands sent.
func (r *clientResume) hostHas(n uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if serialAfter(n, r.cmdSent) {
		return false
	}
	if serialAfter(n, r.cmdAcked) {
		r.trimLocked(n)
	}
	return true
}

// ackEvents tells the host how many events arrived, if that changed.
func (r *clientResume) ackEvents(c *Client) {
	n := r.evIn.Load()
	r.mu.Lock()
	due := !r.off && r.token != "" && n != r.evAcked
	if due {
		r.evAcked = n
	}
	r.mu.Unlock()
	if !due {
		return
	}
	if msg, err := marshalMessage(kindAck, ackMsg{Events: n}); err == nil {
		_ = c.sendRaw(msg)
	}
}

// state is ResumeState's result.
func (r *clientResume) state() *ResumeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off || r.token == "" {
		return nil
	}
	st := &ResumeState{
		Token:    r.token,
		Key:      append([]byte(nil), r.key...),
		Events:   r.evIn.Load(),
		Commands: r.cmdSent,
		Resumes:  r.resumes,
	}
	for _, m := range r.log {
		st.Unacked = append(st.Unacked, append([]byte(nil), m[1:]...))
	}
	return st
}

// ResumeState returns what a new connection needs to resume this session
// (ClientConfig.Resume), or nil when it cannot be resumed: the host keeps no sessions
// (ServerConfig.ResumeWindow), the session ended for good (Close, or the host said
// goodbye: kicked, host closed...), or more than ClientConfig.ResumeBytes of commands
// were waiting for acknowledgement. Call it once the connection is lost (Done is
// closed and Err matches ErrConnectionLost or ErrTimeout), and read what Events
// still holds first: queued events count as received.
func (c *Client) ResumeState() *ResumeState {
	if err := c.Err(); err != nil && !errors.Is(err, ErrConnectionLost) && !errors.Is(err, ErrTimeout) {
		return nil
	}
	return c.resume.state()
}

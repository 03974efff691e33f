package lobby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Reconnection (see "Reconnecting" in the package doc). The reader goroutine owns it:
// when its WebSocket fails it dials again and resumes the connection with its token,
// then installs the new WebSocket; the writer waits for it meanwhile, and what it was
// writing is sent again on the new one.

// maxReconnectBackoff caps the pause between reconnection attempts.
const maxReconnectBackoff = 5 * time.Second

// resumeTimeout bounds one reconnection attempt: dial, welcome, resume, resumed.
const resumeTimeout = 10 * time.Second

// errClosedByServer wraps a transport's read error when the server closed the
// WebSocket with a close frame (shutdown, a limit): it meant it, so the client does
// not reconnect. A connection lost without one (1006) is reconnected.
var errClosedByServer = errors.New("lobby: closed by the server")

// ErrResumeFailed is wrapped by the error of a Client whose connection dropped and
// could not be resumed (the server's grace window passed, or it keeps none), and by
// Dial's error when ClientConfig.Resume is refused.
var ErrResumeFailed = errors.New("lobby: resume failed")

// ResumeToken returns the token that resumes this connection (its ID, room and seat)
// within the server's grace window after it drops: the Client reconnects with it by
// itself; keep it (e.g. in a browser's sessionStorage) to resume from a new Client
// with ClientConfig.Resume. It changes at every resumption; "" when the server keeps
// no connections.
func (c *Client) ResumeToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Reconnects returns how many times the client reconnected and resumed its connection.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// readMsg reads one server message, giving up (and closing t) when ctx ends.
func readMsg(ctx context.Context, t transport) (Message, error) {
	type result struct {
		m   Message
		err error
	}
	ch := make(chan result, 1)
	go func() {
		data, err := t.read()
		if err != nil {
			ch <- result{err: err}
			return
		}
		m, err := decodeServerMessage(data)
		ch <- result{m, err}
	}()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		_ = t.close()
		<-ch
		return Message{}, ctx.Err()
	}
}

// dialWelcome dials the lobby and reads its welcome.
func dialWelcome(ctx context.Context, url string, cfg *ClientConfig) (transport, Message, error) {
	t, err := dialTransport(ctx, url, cfg)
	if err != nil {
		return nil, Message{}, err
	}
	m, err := readMsg(ctx, t)
	if err == nil && m.Type != TypeWelcome {
		err = fmt.Errorf("%w: expected welcome, got %q", ErrBadMessage, m.Type)
	}
	if err != nil {
		_ = t.close()
		return nil, Message{}, fmt.Errorf("lobby: dial %s: %w", url, err)
	}
	return t, m, nil
}

// resumeOn sends "resume" with token on t and waits for "resumed". A refusal wraps
// ErrResumeFailed.
func resumeOn(ctx context.Context, t transport, token string) (Message, error) {
	data, err := json.Marshal(Message{Type: TypeResume, Ref: "resume", Token: token})
	if err != nil {
		return Message{}, err
	}
	if err := t.write(data); err != nil {
		return Message{}, err
	}
	m, err := readMsg(ctx, t)
	switch {
	case err != nil:
		return Message{}, err
	case m.Type == TypeError:
		return Message{}, fmt.Errorf("%w: %w", ErrResumeFailed, &Error{Code: m.Code, Message: m.Message})
	case m.Type != TypeResumed || m.ID == "":
		return Message{}, fmt.Errorf("%w: expected resumed, got %q", ErrBadMessage, m.Type)
	}
	return m, nil
}

// reconnect dials again and resumes the connection, with backoff, until it succeeds,
// the server refuses, the grace window has passed, the attempts run out or the client
// closes. cause is why the old WebSocket failed.
func (c *Client) reconnect(cause error) (transport, error) {
	c.mu.Lock()
	token, grace := c.token, c.grace
	c.mu.Unlock()
	if token == "" || c.cfg.ReconnectAttempts < 0 || errors.Is(cause, errClosedByServer) {
		return nil, fmt.Errorf("%w: %w", ErrClosed, cause)
	}
	deadline := time.Now().Add(grace)
	backoff := c.cfg.ReconnectBackoff
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return nil, c.closeErr
		}
		ctx, cancel := context.WithTimeout(c.ctx, resumeTimeout)
		tr, m, err := dialWelcome(ctx, c.url, &c.cfg)
		if err == nil {
			var r Message
			r, err = resumeOn(ctx, tr, token)
			if err != nil {
				_ = tr.close()
			} else {
				cancel()
				c.resumed(r)
				c.cfg.Logger.Info("lobby client: reconnected", "id", r.ID, "attempt", attempt, "welcome", m.ID)
				return tr, nil
			}
		}
		cancel()
		c.cfg.Logger.Info("lobby client: reconnect failed", "attempt", attempt, "err", err)
		switch {
		case errors.Is(err, ErrResumeFailed):
			return nil, err
		case attempt >= c.cfg.ReconnectAttempts || time.Now().After(deadline):
			return nil, fmt.Errorf("%w: %w: %d attempts: %w (connection lost: %w)", ErrClosed, ErrResumeFailed, attempt, err, cause)
		}
		backoff = min(2*backoff, maxReconnectBackoff)
	}
}

// resumed takes in a "resumed" reply: the new token and the room, on a Client
// reconnecting (the room state is kept) or dialing with ClientConfig.Resume (the room
// state comes from the reply).
func (c *Client) resumed(r Message) {
	c.mu.Lock()
	c.token = r.Token
	fresh := c.id != r.ID
	if fresh {
		c.id = r.ID
	}
	if fresh && r.Room != nil {
		if r.Room.Host == r.ID {
			c.room, c.host, c.hostID = r.Room.ID, true, r.ID
			c.hosting = make(chan struct{})
		} else {
			c.room, c.host, c.hostID = r.Room.ID, false, r.Room.Host
			c.hostSig = c.newSignaler(r.Room.Host)
		}
	}
	c.mu.Unlock()
	if !fresh {
		c.reconnects.Add(1)
		c.event(Event{Type: TypeResumed})
	}
}

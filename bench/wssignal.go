package main

// A signaling.Signaler over one loopback WebSocket, so that the scale host and
// its load-generating process can exchange offers, answers and candidates.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/volleynet/volley/signaling"
)

// wsSignalReadLimit bounds one signaling message: an SDP plus JSON overhead.
const wsSignalReadLimit = signaling.MaxSDPBytes + 4<<10

// wsSignaler carries signals as JSON text messages over a WebSocket. gorilla
// allows one concurrent reader and one concurrent writer, which is exactly what
// signaling.Signaler promises its callers.
type wsSignaler struct {
	conn *websocket.Conn
}

func newWSSignaler(conn *websocket.Conn) *wsSignaler {
	conn.SetReadLimit(wsSignalReadLimit)
	return &wsSignaler{conn: conn}
}

// SendSignal implements signaling.Signaler.
func (s *wsSignaler) SendSignal(ctx context.Context, sig signaling.Signal) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = s.conn.SetWriteDeadline(deadline)
	if err := s.conn.WriteJSON(sig); err != nil {
		return fmt.Errorf("%w: %w", signaling.ErrClosed, err)
	}
	return nil
}

// RecvSignal implements signaling.Signaler. A message that is not a valid
// signal is an error; the connection stays usable.
func (s *wsSignaler) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(time.Now()) })
	defer stop()
	_ = s.conn.SetReadDeadline(time.Time{})
	_, p, err := s.conn.ReadMessage()
	if err != nil {
		if ctx.Err() != nil {
			return signaling.Signal{}, ctx.Err()
		}
		return signaling.Signal{}, fmt.Errorf("%w: %w", signaling.ErrClosed, err)
	}
	var sig signaling.Signal
	if err := json.Unmarshal(p, &sig); err != nil {
		return signaling.Signal{}, fmt.Errorf("%w: %w", signaling.ErrInvalidSignal, err)
	}
	if err := sig.Validate(); err != nil {
		return signaling.Signal{}, err
	}
	return sig, nil
}

// Close closes the WebSocket.
func (s *wsSignaler) Close() error { return s.conn.Close() }

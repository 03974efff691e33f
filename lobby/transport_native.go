//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// maxServerMessage bounds frames from the server (a full room list with metadata).
const maxServerMessage = 4 << 20

type wsTransport struct {
	c            *websocket.Conn
	readTimeout  time.Duration
	writeTimeout time.Duration
}

func dialTransport(ctx context.Context, url string, cfg *ClientConfig) (transport, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, EnableCompression: false}
	var h http.Header
	if cfg.Origin != "" {
		h = http.Header{"Origin": {cfg.Origin}}
	}
	c, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("lobby: dial %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("lobby: dial %s: %w", url, err)
	}
	t := &wsTransport{c: c, readTimeout: cfg.ReadTimeout, writeTimeout: cfg.WriteTimeout}
	c.SetReadLimit(maxServerMessage)
	c.SetPingHandler(func(data string) error {
		_ = c.SetReadDeadline(time.Now().Add(t.readTimeout))
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(t.writeTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	return t, nil
}

func (t *wsTransport) read() ([]byte, error) {
	_ = t.c.SetReadDeadline(time.Now().Add(t.readTimeout))
	_, data, err := t.c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		err = fmt.Errorf("%w: %w", errClosedByServer, err)
	}
	return data, err
}

func (t *wsTransport) write(data []byte) error {
	_ = t.c.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	return t.c.WriteMessage(websocket.TextMessage, data)
}

func (t *wsTransport) close() error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = t.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return t.c.Close()
}

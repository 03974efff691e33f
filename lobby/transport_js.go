//go:build js && wasm

package lobby

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
)

// maxQueuedFrames bounds frames received from the browser but not yet read; more close
// the connection (the Go side has stopped reading).
const maxQueuedFrames = 4096

// jsTransport is the browser's WebSocket driven through syscall/js, so that a wasm
// client links neither net/http nor gorilla/websocket. Browser callbacks never block:
// they append to a bounded queue and wake the reader.
type jsTransport struct {
	ws    js.Value
	funcs []js.Func
	wake  chan struct{} // size 1, non-blocking sends

	mu     sync.Mutex
	queue  [][]byte // guarded by mu
	closed bool     // guarded by mu
	err    error    // guarded by mu
}

func dialTransport(ctx context.Context, url string, _ *ClientConfig) (tr transport, err error) {
	defer func() {
		if r := recover(); r != nil { // the WebSocket constructor throws on a bad URL
			err = fmt.Errorf("lobby: dial %s: %v", url, r)
		}
	}()
	t := &jsTransport{wake: make(chan struct{}, 1)}
	opened := make(chan struct{}, 1)
	t.ws = js.Global().Get("WebSocket").New(url)
	on := func(name string, f func(ev js.Value)) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		t.funcs = append(t.funcs, fn)
		t.ws.Set(name, fn)
	}
	on("onopen", func(js.Value) {
		select {
		case opened <- struct{}{}:
		default:
		}
	})
	on("onmessage", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			return // the lobby sends text frames only
		}
		t.mu.Lock()
		if len(t.queue) >= maxQueuedFrames {
			t.mu.Unlock()
			t.fail(errors.New("lobby: receive queue overflow"))
			t.ws.Call("close", 1008, "receive queue overflow")
			return
		}
		t.queue = append(t.queue, []byte(data.String()))
		t.mu.Unlock()
		t.signal()
	})
	on("onclose", func(ev js.Value) {
		err := fmt.Errorf("lobby: websocket closed: code %d %s", ev.Get("code").Int(), ev.Get("reason").String())
		if ev.Get("code").Int() != 1006 { // a close frame came: the server meant it
			err = fmt.Errorf("%w: %w", errClosedByServer, err)
		}
		t.fail(err)
	})
	on("onerror", func(js.Value) {}) // always followed by onclose

	for {
		select {
		case <-opened:
			return t, nil
		case <-t.wake:
			t.mu.Lock()
			closed, cerr := t.closed, t.err
			t.mu.Unlock()
			if closed {
				t.release()
				return nil, fmt.Errorf("lobby: dial %s: %w", url, cerr)
			}
		case <-ctx.Done():
			t.ws.Call("close")
			return nil, ctx.Err()
		}
	}
}

func (t *jsTransport) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *jsTransport) fail(err error) {
	t.mu.Lock()
	if !t.closed {
		t.closed, t.err = true, err
	}
	t.mu.Unlock()
	t.signal()
}

func (t *jsTransport) release() {
	for _, f := range t.funcs {
		f.Release()
	}
	t.funcs = nil
}

func (t *jsTransport) read() ([]byte, error) {
	for {
		t.mu.Lock()
		if len(t.queue) > 0 {
			data := t.queue[0]
			t.queue[0] = nil
			t.queue = t.queue[1:]
			t.mu.Unlock()
			return data, nil
		}
		if t.closed {
			err := t.err
			t.mu.Unlock()
			return nil, err
		}
		t.mu.Unlock()
		<-t.wake
	}
}

func (t *jsTransport) write(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil { // send throws while CONNECTING or after close
			err = fmt.Errorf("lobby: websocket send: %v", r)
		}
	}()
	t.mu.Lock()
	closed, cerr := t.closed, t.err
	t.mu.Unlock()
	if closed {
		return cerr
	}
	t.ws.Call("send", string(data))
	return nil
}

func (t *jsTransport) close() error {
	t.fail(errors.New("lobby: closed"))
	for _, name := range []string{"onopen", "onmessage", "onclose", "onerror"} {
		t.ws.Set(name, js.Null())
	}
	t.release()
	t.ws.Call("close", 1000)
	return nil
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/lobby"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const waitTimeout = 10 * time.Second

type testEnv struct {
	srv *Server
	ts  *httptest.Server
	url string // ws://.../ws
}

func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	srv := New(cfg)
	ts := httptest.NewServer(srv.Mux())
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &testEnv{srv: srv, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

// metric returns the value of the named counter or gauge with the given label value
// (label "" for unlabelled metrics), or 0 when absent.
func (e *testEnv) metric(t testing.TB, name, label string) float64 {
	t.Helper()
	mfs, err := e.srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabelValue(m, label) {
				continue
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func hasLabelValue(m *dto.Metric, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == v {
			return true
		}
	}
	return false
}

// raw is a protocol-level test client on a bare gorilla connection, speaking JSON as a
// client in another language would. A background goroutine reads into msgs.
type raw struct {
	t        testing.TB
	c        *websocket.Conn
	id       string
	welcome  lobby.Message
	msgs     chan lobby.Message
	closed   chan struct{}
	closeErr error // set before closed is closed
}

func dialRaw(t testing.TB, url string) *raw {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return wrapRaw(t, c)
}

// wrapRaw makes a raw client of a connection that has not read its welcome yet.
func wrapRaw(t testing.TB, c *websocket.Conn) *raw {
	t.Helper()
	r := &raw{t: t, c: c, msgs: make(chan lobby.Message, 20000), closed: make(chan struct{})}
	go func() {
		defer close(r.closed)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				r.closeErr = err
				return
			}
			var m lobby.Message
			if err := json.Unmarshal(data, &m); err != nil {
				r.closeErr = err
				return
			}
			r.msgs <- m
		}
	}()
	t.Cleanup(func() { r.close() })
	r.welcome = r.expect(lobby.TypeWelcome)
	r.id = r.welcome.ID
	return r
}

// close closes the connection as a client that leaves: a normal close (1000) first.
func (r *raw) close() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = r.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = r.c.Close()
	<-r.closed
}

// drop closes the connection abruptly, as a lost network does: no close frame.
func (r *raw) drop() {
	_ = r.c.Close()
	<-r.closed
}

func (r *raw) sendText(s string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *raw) send(m lobby.Message) {
	r.t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendText(string(data))
}

func (r *raw) recv() lobby.Message {
	r.t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-r.closed:
		select {
		case m := <-r.msgs:
			return m
		default:
		}
		r.t.Fatalf("%s: connection closed: %v", r.id, r.closeErr)
	case <-time.After(waitTimeout):
		r.t.Fatalf("%s: no message within %v", r.id, waitTimeout)
	}
	return lobby.Message{}
}

func (r *raw) expect(typ string) lobby.Message {
	r.t.Helper()
	m := r.recv()
	if m.Type != typ {
		r.t.Fatalf("%s: got %+v, want type %q", r.id, m, typ)
	}
	return m
}

func (r *raw) expectError(code string) lobby.Message {
	r.t.Helper()
	m := r.expect(lobby.TypeError)
	if m.Code != code {
		r.t.Fatalf("%s: error code %q (%s), want %q", r.id, m.Code, m.Message, code)
	}
	return m
}

// roundTrip sends a list request and waits for its reply, collecting what came before:
// the server handles one connection's messages in order, so every effect of earlier
// messages has been queued once the reply arrives.
func (r *raw) roundTrip() []lobby.Message {
	r.t.Helper()
	r.send(lobby.Message{Type: lobby.TypeList, Ref: "sync"})
	var before []lobby.Message
	for {
		m := r.recv()
		if m.Type == lobby.TypeRooms && m.Ref == "sync" {
			return before
		}
		before = append(before, m)
	}
}

// waitClose waits for the server to close the connection and returns the close error.
func (r *raw) waitClose() error {
	r.t.Helper()
	for {
		select {
		case <-r.msgs:
		case <-r.closed:
			return r.closeErr
		case <-time.After(waitTimeout):
			r.t.Fatalf("%s: not closed within %v", r.id, waitTimeout)
		}
	}
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func (r *raw) create(name string, capacity int, password string) lobby.RoomInfo {
	r.t.Helper()
	r.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Name: name, Capacity: capacity, Password: password})
	m := r.expect(lobby.TypeCreated)
	return *m.Room
}

func (r *raw) join(roomID, password string) lobby.RoomInfo {
	r.t.Helper()
	r.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: roomID, Password: password})
	m := r.expect(lobby.TypeJoined)
	return *m.Room
}

func dialClient(t testing.TB, url string) *lobby.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func strp(s string) *string { return &s }
func u16(v uint16) *uint16  { return &v }

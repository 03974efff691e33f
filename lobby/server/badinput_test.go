package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

// TestBadInput sends each kind of bad message and checks the error code, that it left no
// state behind, and that the other rooms were not disturbed.
func TestBadInput(t *testing.T) {
	env := newEnv(t, Config{MaxCapacity: 16, MaxNameBytes: 10, MaxMetadataBytes: 20})
	// Room A: full (capacity 1) with member mA. Room B: locked. Room C: host and member mC.
	hostA := dialRaw(t, env.url)
	roomA := hostA.create("a", 1, "")
	mA := dialRaw(t, env.url)
	mA.join(roomA.ID, "")
	hostA.expect(lobby.TypeMemberJoined)
	hostB := dialRaw(t, env.url)
	roomB := hostB.create("b", 4, "pw")
	hostC := dialRaw(t, env.url)
	roomC := hostC.create("c", 4, "")
	mC := dialRaw(t, env.url)
	mC.join(roomC.ID, "")
	hostC.expect(lobby.TypeMemberJoined)

	offer := `"signal":{"type":"offer","sdp":"v=0"}`
	tests := []struct {
		name  string
		actor func() *raw // a fresh connection unless stated
		frame string
		code  string
	}{
		{"malformed JSON", nil, `{"type":`, lobby.CodeBadMessage},
		{"not an object", nil, `[1,2]`, lobby.CodeBadMessage},
		{"binary garbage", nil, "\x00\xff", lobby.CodeBadMessage},
		{"wrong field type", nil, `{"type":"create","capacity":"8"}`, lobby.CodeBadMessage},
		{"missing type", nil, `{"ref":"1"}`, lobby.CodeUnknownType},
		{"unknown type", nil, `{"type":"teleport"}`, lobby.CodeUnknownType},
		{"server-only type", nil, `{"type":"welcome","id":"x"}`, lobby.CodeUnknownType},
		{"oversized ref", nil, `{"type":"list","ref":"` + strings.Repeat("r", 65) + `"}`, lobby.CodeBadRequest},
		{"signal before joining", nil, `{"type":"signal",` + offer + `}`, lobby.CodeNotInRoom},
		{"leave before joining", nil, `{"type":"leave"}`, lobby.CodeNotInRoom},
		{"join unknown room", nil, `{"type":"join","roomId":"r-nope"}`, lobby.CodeRoomNotFound},
		{"join without room", nil, `{"type":"join"}`, lobby.CodeBadRequest},
		{"join full room", nil, `{"type":"join","roomId":"` + roomA.ID + `"}`, lobby.CodeRoomFull},
		{"join without password", nil, `{"type":"join","roomId":"` + roomB.ID + `"}`, lobby.CodeWrongPassword},
		{"join wrong password", nil, `{"type":"join","roomId":"` + roomB.ID + `","password":"PW"}`, lobby.CodeWrongPassword},
		{"capacity too large", nil, `{"type":"create","capacity":17}`, lobby.CodeBadRequest},
		{"negative capacity", nil, `{"type":"create","capacity":-1}`, lobby.CodeBadRequest},
		{"name too long", nil, `{"type":"create","name":"abcdefghijk"}`, lobby.CodeBadRequest},
		{"metadata too large", nil, `{"type":"create","metadata":{"k":"0123456789abcdef"}}`, lobby.CodeBadRequest},
		{"host creates twice", func() *raw { return hostC }, `{"type":"create"}`, lobby.CodeAlreadyInRoom},
		{"host joins", func() *raw { return hostC }, `{"type":"join","roomId":"` + roomB.ID + `","password":"pw"}`, lobby.CodeAlreadyInRoom},
		{"member creates", func() *raw { return mC }, `{"type":"create"}`, lobby.CodeAlreadyInRoom},
		{"member quick-joins", func() *raw { return mC }, `{"type":"quick_join"}`, lobby.CodeAlreadyInRoom},
		{"signal without payload", func() *raw { return mC }, `{"type":"signal"}`, lobby.CodeInvalidSignal},
		{"signal of unknown type", func() *raw { return mC }, `{"type":"signal","signal":{"type":"bye"}}`, lobby.CodeInvalidSignal},
		{"offer without sdp", func() *raw { return mC }, `{"type":"signal","signal":{"type":"offer"}}`, lobby.CodeInvalidSignal},
		{"member signals a foreign host", func() *raw { return mC }, `{"type":"signal","to":"` + hostA.id + `",` + offer + `}`, lobby.CodePeerNotFound},
		{"member signals a member", func() *raw { return mC }, `{"type":"signal","to":"` + mA.id + `",` + offer + `}`, lobby.CodePeerNotFound},
		{"member signals itself", func() *raw { return mC }, `{"type":"signal","to":"` + mC.id + `",` + offer + `}`, lobby.CodePeerNotFound},
		{"host signals a foreign member", func() *raw { return hostC }, `{"type":"signal","to":"` + mA.id + `",` + offer + `}`, lobby.CodePeerNotFound},
		{"host signals itself", func() *raw { return hostC }, `{"type":"signal","to":"` + hostC.id + `",` + offer + `}`, lobby.CodePeerNotFound},
		{"host signals nobody", func() *raw { return hostC }, `{"type":"signal",` + offer + `}`, lobby.CodePeerNotFound},
		{"host signals an unknown peer", func() *raw { return hostC }, `{"type":"signal","to":"c-nope",` + offer + `}`, lobby.CodePeerNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *raw
			if tc.actor != nil {
				r = tc.actor()
			} else {
				r = dialRaw(t, env.url)
			}
			r.sendText(tc.frame)
			r.expectError(tc.code)
			// The connection survives and still works.
			if got := r.roundTrip(); len(got) != 0 {
				t.Fatalf("unexpected messages: %+v", got)
			}
		})
	}

	// Nothing was half-done: the rooms are as they were, and no host heard of anything.
	list := dialRaw(t, env.url)
	list.send(lobby.Message{Type: lobby.TypeList})
	rooms := list.expect(lobby.TypeRooms).Rooms
	if len(rooms) != 3 {
		t.Fatalf("rooms = %+v", rooms)
	}
	for _, r := range rooms {
		want := map[string]int{roomA.ID: 1, roomB.ID: 0, roomC.ID: 1}[r.ID]
		if r.Members != want {
			t.Errorf("room %s has %d members, want %d", r.Name, r.Members, want)
		}
	}
	for _, r := range []*raw{hostA, hostB, hostC, mA, mC} {
		if got := r.roundTrip(); len(got) != 0 {
			t.Errorf("%s got unexpected messages: %+v", r.id, got)
		}
	}
	// Room C still relays.
	mC.send(lobby.Message{Type: lobby.TypeSignal, Signal: &signaling.Signal{Type: "offer", SDP: "ok"}})
	if m := hostC.expect(lobby.TypeSignal); m.From != mC.id {
		t.Fatalf("signal = %+v", m)
	}
	if got := env.metric(t, "lobby_rejections_total", lobby.CodePeerNotFound); got != 7 {
		t.Errorf("peer_not_found rejections = %v, want 7", got)
	}
	if got := env.metric(t, "lobby_messages_received_total", "invalid"); got < 8 {
		t.Errorf("invalid messages = %v", got)
	}
}

func TestHostAuthorization(t *testing.T) {
	env := newEnv(t, Config{
		HostSecret: "s3cret",
		AuthorizeHost: func(_ context.Context, r *http.Request, _, _ string) error {
			if r.URL.Query().Get("banned") != "" {
				return errors.New("banned")
			}
			return nil
		},
	})
	r := dialRaw(t, env.url)
	r.send(lobby.Message{Type: lobby.TypeCreate})
	r.expectError(lobby.CodeForbidden)
	r.send(lobby.Message{Type: lobby.TypeCreate, Secret: "wrong"})
	r.expectError(lobby.CodeForbidden)
	r.send(lobby.Message{Type: lobby.TypeCreate, Secret: "s3cret"})
	r.expect(lobby.TypeCreated)

	banned := dialRaw(t, env.url+"?banned=1")
	banned.send(lobby.Message{Type: lobby.TypeCreate, Secret: "s3cret"})
	if m := banned.expectError(lobby.CodeForbidden); m.Message != "banned" {
		t.Fatalf("message = %q", m.Message)
	}
	// Joining needs no secret.
	banned.join(mustRoom(t, r), "")
}

func mustRoom(t *testing.T, r *raw) string {
	t.Helper()
	r.send(lobby.Message{Type: lobby.TypeList})
	rooms := r.expect(lobby.TypeRooms).Rooms
	if len(rooms) != 1 {
		t.Fatalf("rooms = %+v", rooms)
	}
	return rooms[0].ID
}

func TestOversizedFrame(t *testing.T) {
	env := newEnv(t, Config{ReadLimit: 1024})
	r := dialRaw(t, env.url)
	ok := dialRaw(t, env.url)
	ok.create("fine", 0, "")
	r.sendText(`{"type":"list","name":"` + strings.Repeat("x", 2000) + `"}`)
	if code := closeCode(r.waitClose()); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code = %d, want 1009", code)
	}
	// gorilla sends the 1009 close frame before the server's reader sees the error and
	// counts it: wait for the count (no event marks it).
	waitFor(t, waitTimeout, "lobby_rejections_total{reason=read_limit} = 1", func() bool {
		return env.metric(t, "lobby_rejections_total", lobby.ReasonReadLimit) == 1
	})
	if got := ok.roundTrip(); len(got) != 0 {
		t.Fatalf("other connection disturbed: %+v", got)
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no origin", nil, "", true},
		{"localhost", nil, "http://localhost:3000", true},
		{"loopback ip", nil, "http://127.0.0.1:8080", true},
		{"ipv6 loopback", nil, "http://[::1]:8080", true},
		{"same origin", nil, "http://{host}", true},
		{"foreign", nil, "https://evil.example", false},
		{"localhost lookalike", nil, "http://localhost.evil.example", false},
		{"garbage", nil, "::::", false},
		{"listed", []string{"https://game.example"}, "https://game.example", true},
		{"listed case-insensitive", []string{"https://game.example"}, "https://GAME.example", true},
		{"not listed", []string{"https://game.example"}, "http://localhost", false},
		{"wildcard", []string{"*"}, "https://anything.example", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, Config{AllowedOrigins: tc.allowed})
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", strings.ReplaceAll(tc.origin, "{host}", strings.TrimPrefix(env.ts.URL, "http://")))
			}
			c, resp, err := websocket.DefaultDialer.Dial(env.url, h)
			if tc.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("resp = %v, want 403", resp)
			}
			if got := env.metric(t, "lobby_rejections_total", lobby.ReasonOrigin); got != 1 {
				t.Fatalf("origin rejections = %v", got)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	env := newEnv(t, Config{MessagesPerSecond: 20, MessageBurst: 10, ThrottleTimeout: 200 * time.Millisecond})
	flooder := dialRaw(t, env.url)
	calm := dialRaw(t, env.url)
	calm.create("calm", 0, "")
	// Past the burst the server throttles: replies keep coming, only slower; once the
	// connection has stayed throttled for ThrottleTimeout it is closed.
	var writeErr error
	for i := 0; i < 200 && writeErr == nil; i++ {
		writeErr = flooder.c.WriteMessage(websocket.TextMessage, []byte(`{"type":"list"}`))
	}
	err := flooder.waitClose()
	if code := closeCode(err); code != websocket.ClosePolicyViolation {
		t.Fatalf("close = %v, want 1008", err)
	}
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonRateLimited); got != 1 {
		t.Fatalf("rate_limited rejections = %v", got)
	}
	if got := env.metric(t, "lobby_messages_received_total", lobby.TypeList); got < 10 || got >= 200 {
		t.Fatalf("lists handled = %v, want between the burst and the flood", got)
	}
	if got := calm.roundTrip(); len(got) != 0 {
		t.Fatalf("calm connection disturbed: %+v", got)
	}
}

// TestSlowConsumer: a member that stops reading is disconnected once its queue fills,
// and its host is told it left.
func TestSlowConsumer(t *testing.T) {
	// Small socket buffers on both sides of the lazy connection, so that the kernel does
	// not absorb megabytes before the queue fills.
	srv := New(Config{SendQueue: 16, MessagesPerSecond: 1e6, MessageBurst: 1e6})
	ts := httptest.NewUnstartedServer(srv.Mux())
	ts.Listener = smallBufListener{ts.Listener}
	ts.Start()
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	env := &testEnv{srv: srv, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
	ctx := testCtx(t)
	host := dialClient(t, env.url)
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	// A member that never reads after joining.
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	lazy, _, err := dialer.Dial(env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.Close()
	if _, _, err := lazy.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	if err := lazy.WriteJSON(lobby.Message{Type: lobby.TypeJoin, RoomID: room.ID}); err != nil {
		t.Fatal(err)
	}
	var lazyID string
	for lazyID == "" {
		select {
		case e := <-host.Events():
			if e.Type == lobby.TypeMemberJoined {
				lazyID = e.Peer
			}
		case <-ctx.Done():
			t.Fatal("member never joined")
		}
	}
	big := signaling.Signal{Type: signaling.TypeOffer, SDP: strings.Repeat("a", 16<<10)}
	for i := 0; ; i++ {
		if i == 5000 { // 80 MB: far beyond the socket buffers and the queue
			t.Fatal("slow member never dropped")
		}
		if err := host.Signal(ctx, lazyID, big); err != nil {
			t.Fatalf("signal %d: %v", i, err)
		}
		// One signal in flight at a time: the list reply comes after the server has
		// relayed the signal. Without it the host would queue hundreds of signals,
		// and once the member is dropped each would be answered with an error that
		// fills the host's own small queue (SendQueue is 16 here), so on a loaded
		// machine the host could be dropped as a slow consumer first.
		if _, err := host.List(ctx); err != nil {
			t.Fatalf("list after signal %d: %v", i, err)
		}
		select {
		case e := <-host.Events():
			if e.Type == lobby.TypeMemberLeft && e.Peer == lazyID {
				if got := env.metric(t, "lobby_rejections_total", lobby.ReasonSlowConsumer); got < 1 {
					t.Fatalf("slow_consumer rejections = %v", got)
				}
				return
			}
		default:
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	env := newEnv(t, Config{IdleTimeout: 50 * time.Millisecond, PingInterval: 20 * time.Millisecond, PongTimeout: 5 * time.Second})
	r := dialRaw(t, env.url)
	err := r.waitClose()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure || ce.Text != lobby.ReasonIdle {
		t.Fatalf("close = %v, want 1000 idle", err)
	}
}

// smallBufListener shrinks the socket send buffer of accepted connections.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// TestPongTimeout: a member whose connection answers nothing (not even pings) is
// closed after PongTimeout, and its host is told it left (at once without a grace
// window; after it with one, see TestGrace).
func TestPongTimeout(t *testing.T) {
	env := newEnv(t, Config{PingInterval: 100 * time.Millisecond, PongTimeout: time.Second, MemberGrace: -1})
	ctx := testCtx(t)
	host, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	room, err := host.Create(ctx, lobby.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mute, _, err := websocket.DefaultDialer.Dial(env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if err := mute.WriteJSON(lobby.Message{Type: lobby.TypeJoin, RoomID: room.ID}); err != nil {
		t.Fatal(err)
	}
	// mute never reads again, so it never answers a ping.
	var joined string
	for {
		select {
		case e, ok := <-host.Events():
			switch {
			case !ok:
				t.Fatalf("host disconnected: %v", host.Err())
			case e.Type == lobby.TypeMemberJoined:
				joined = e.Peer
			case e.Type == lobby.TypeMemberLeft && e.Peer == joined:
				return
			}
		case <-ctx.Done():
			t.Fatal("silent member never timed out")
		}
	}
}

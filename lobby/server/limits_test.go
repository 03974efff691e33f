package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

// newSmallBufEnv is newEnv with small kernel socket buffers on the server side, so that
// a client that stops reading fills the lobby's queue, not the kernel's.
func newSmallBufEnv(t *testing.T, cfg Config) *testEnv {
	srv := New(cfg)
	ts := httptest.NewUnstartedServer(srv.Mux())
	ts.Listener = smallBufListener{ts.Listener}
	ts.Start()
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &testEnv{srv: srv, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

// dialLazy connects a client that reads the welcome and then never reads again, with
// a small receive buffer.
func dialLazy(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	c, _, err := dialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	return c
}

// TestSendQueueBytes: a queue that may hold many messages but few bytes drops a client
// that asks for big replies and does not read them, long before the message count
// would (SendQueueBytes).
func TestSendQueueBytes(t *testing.T) {
	env := newSmallBufEnv(t, Config{SendQueue: 100000, SendQueueBytes: 256 << 10, MessagesPerSecond: 1000, MessageBurst: 1000})
	fillRooms(t, env.url, 20, 4096) // each list reply: about 60 KiB
	lazy := dialLazy(t, env.url)
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for i := 0; ; i++ {
		if env.metric(t, "lobby_rejections_total", lobby.ReasonSlowConsumer) >= 1 {
			t.Logf("dropped after %d lists", i)
			return
		}
		if i == 300 { // 18 MB of replies; the bound is 256 KiB
			t.Fatal("a client that never reads was not dropped after 300 lists")
		}
		if err := lazy.WriteMessage(websocket.TextMessage, []byte(`{"type":"list"}`)); err != nil {
			break // dropped: the metric follows
		}
		<-pace.C
	}
	waitFor(t, waitTimeout, "the slow consumer to be counted", func() bool {
		return env.metric(t, "lobby_rejections_total", lobby.ReasonSlowConsumer) >= 1
	})
}

// TestListPages: a list is paged by the limit the client asks for, by MaxListRooms and
// by MaxListBytes, and walked with cursors; filters apply before paging.
func TestListPages(t *testing.T) {
	env := newEnv(t, Config{MaxListRooms: 4, MaxListBytes: 2048})
	var ids []string
	for i := range 9 {
		h := dialRaw(t, env.url)
		game := "a"
		if i%3 == 2 {
			game = "b"
		}
		h.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Name: fmt.Sprint("r", i), Game: game, GameVersion: "1"})
		ids = append(ids, h.expect(lobby.TypeCreated).Room.ID)
	}
	c := dialRaw(t, env.url)
	walk := func(q lobby.Message) (pages [][]string) {
		t.Helper()
		for n := 0; n < 20; n++ {
			q.Type, q.Ref = lobby.TypeList, fmt.Sprint("l", n)
			c.send(q)
			m := c.expect(lobby.TypeRooms)
			var page []string
			for _, r := range m.Rooms {
				page = append(page, r.ID)
			}
			pages = append(pages, page)
			if m.Next == "" {
				return pages
			}
			q.Cursor = m.Next
		}
		t.Fatal("the cursor never ended")
		return nil
	}
	flat := func(pages [][]string) (out []string) {
		for _, p := range pages {
			out = append(out, p...)
		}
		return out
	}
	sizes := func(pages [][]string) (out []int) {
		for _, p := range pages {
			out = append(out, len(p))
		}
		return out
	}
	pages := walk(lobby.Message{})
	if got := sizes(pages); fmt.Sprint(got) != "[4 4 1]" || fmt.Sprint(flat(pages)) != fmt.Sprint(ids) {
		t.Fatalf("pages %v of %v; want [4 4 1] of %v", got, flat(pages), ids)
	}
	if got := sizes(walk(lobby.Message{Limit: 2})); fmt.Sprint(got) != "[2 2 2 2 1]" {
		t.Fatalf("limit 2: pages %v", got)
	}
	if got := sizes(walk(lobby.Message{Limit: 50})); fmt.Sprint(got) != "[4 4 1]" { // capped at MaxListRooms
		t.Fatalf("limit 50: pages %v", got)
	}
	pages = walk(lobby.Message{Game: "b"})
	if got := flat(pages); fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[5], ids[8]}) {
		t.Fatalf("game b: %v", got)
	}
	if got := walk(lobby.Message{Game: "c"}); len(got) != 1 || len(got[0]) != 0 {
		t.Fatalf("game c: %v", got)
	}
	// Rooms of 700 bytes of metadata: MaxListBytes (2048) ends a page after two.
	big := dialRaw(t, env.url)
	big.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Game: "big", Metadata: bigMetadata(700)})
	big.expect(lobby.TypeCreated)
	for range 2 {
		h := dialRaw(t, env.url)
		h.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Game: "big", Metadata: bigMetadata(700)})
		h.expect(lobby.TypeCreated)
	}
	if got := sizes(walk(lobby.Message{Game: "big"})); fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("big rooms: pages %v", got)
	}
	c.send(lobby.Message{Type: lobby.TypeList, Ref: "x", Cursor: "not a cursor"})
	c.expectError(lobby.CodeBadRequest)
}

// TestBinaryFrame: the protocol is text only; a binary frame is answered with a clear
// error and changes nothing.
func TestBinaryFrame(t *testing.T) {
	env := newEnv(t, Config{})
	r := dialRaw(t, env.url)
	if err := r.c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"create"}`)); err != nil {
		t.Fatal(err)
	}
	m := r.expectError(lobby.CodeBadMessage)
	if !strings.Contains(m.Message, "binary") {
		t.Fatalf("error message %q does not say why", m.Message)
	}
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonBinaryFrame); got != 1 {
		t.Fatalf("binary_frame rejections = %v", got)
	}
	if before := r.roundTrip(); len(before) != 0 {
		t.Fatalf("got %+v", before)
	}
	if env.metric(t, "lobby_rooms", "") != 0 {
		t.Fatal("the binary create made a room")
	}
}

// dialFrom connects through a trusted proxy on behalf of client address from.
func dialFrom(t *testing.T, url, from string) (*raw, error) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Forwarded-For": {"198.51.100.7, " + from}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return wrapRaw(t, c), nil
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("198.51.100.7/32")}

// TestMaxConnectionsPerIP: one address may hold MaxConnectionsPerIP connections; more
// get HTTP 429 before the upgrade; others are not affected; closing one frees a slot.
func TestMaxConnectionsPerIP(t *testing.T) {
	env := newEnv(t, Config{MaxConnectionsPerIP: 2, TrustedProxies: loopback})
	var held []*raw
	for range 2 {
		r, err := dialFrom(t, env.url, "203.0.113.1")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	if _, err := dialFrom(t, env.url, "203.0.113.1"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third connection: %v, want HTTP 429", err)
	}
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonIPConnections); got != 1 {
		t.Fatalf("ip_connections rejections = %v", got)
	}
	if _, err := dialFrom(t, env.url, "203.0.113.2"); err != nil { // another address
		t.Fatal(err)
	}
	if _, err := dialFrom(t, env.url, "2001:db8:1:2::9"); err != nil {
		t.Fatal(err)
	}
	held[0].close()
	waitFor(t, waitTimeout, "the closed connection's slot to be freed", func() bool {
		r, err := dialFrom(t, env.url, "203.0.113.1")
		if err == nil {
			r.close()
		}
		return err == nil
	})
}

// TestIPv6Slash64: IPv6 addresses count per /64.
func TestIPv6Slash64(t *testing.T) {
	env := newEnv(t, Config{MaxConnectionsPerIP: 1, TrustedProxies: loopback})
	if _, err := dialFrom(t, env.url, "2001:db8:1:2::1"); err != nil {
		t.Fatal(err)
	}
	if _, err := dialFrom(t, env.url, "2001:db8:1:2:ffff::1"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("same /64: %v, want HTTP 429", err)
	}
	if _, err := dialFrom(t, env.url, "2001:db8:1:3::1"); err != nil {
		t.Fatal(err)
	}
}

// TestPerIPRates: one address's creates and joins are rate-limited over all its
// connections ("rate_limited", counted); another address is not affected.
func TestPerIPRates(t *testing.T) {
	env := newEnv(t, Config{TrustedProxies: loopback,
		CreatesPerSecondPerIP: 0.001, CreateBurstPerIP: 2, JoinsPerSecondPerIP: 0.001, JoinBurstPerIP: 2})
	dial := func(from string) *raw {
		r, err := dialFrom(t, env.url, from)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a1, a2 := dial("203.0.113.1"), dial("203.0.113.1")
	room := a1.create("one", 8, "")
	a1.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
	a1.expect(lobby.TypeLeft)
	room = a1.create("two", 8, "")
	a2.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c"}) // the third from this address
	if m := a2.expectError(lobby.CodeRateLimited); !strings.Contains(m.Message, "retry in") {
		t.Fatalf("message %q does not say when to retry", m.Message)
	}
	dial("203.0.113.2").create("other address", 8, "")
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonIPCreates); got != 1 {
		t.Fatalf("ip_creates rejections = %v", got)
	}

	b1, b2 := dial("203.0.113.3"), dial("203.0.113.3")
	b1.join(room.ID, "")
	b1.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
	b1.expect(lobby.TypeLeft)
	b2.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
	b2.expect(lobby.TypeJoined)
	b1.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: room.ID})
	b1.expectError(lobby.CodeRateLimited)
	dial("203.0.113.4").join(room.ID, "")
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonIPJoins); got != 1 {
		t.Fatalf("ip_joins rejections = %v", got)
	}
}

// TestPasswordBackoff: wrong passwords are limited per address and per room: past the
// free failures, an attempt (even with the right password) is refused with
// "rate_limited" until the backoff ends.
func TestPasswordBackoff(t *testing.T) {
	env := newEnv(t, Config{TrustedProxies: loopback, PasswordFailuresPerIP: 2, PasswordFailuresPerRoom: 4,
		PasswordBackoff: time.Hour, PasswordBackoffMax: time.Hour}) // no attempt waits out the backoff here
	dial := func(from string) *raw {
		r, err := dialFrom(t, env.url, from)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	room := dialRaw(t, env.url).create("locked", 8, "secret")
	other := dialRaw(t, env.url).create("also locked", 8, "secret")
	try := func(r *raw, roomID, pw, code string) {
		t.Helper()
		r.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: roomID, Password: pw})
		if code == lobby.TypeJoined {
			r.expect(lobby.TypeJoined)
			r.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
			r.expect(lobby.TypeLeft)
			return
		}
		r.expectError(code)
	}
	// Per address: two free failures, then even the right password waits, on any room.
	g := dial("203.0.113.1")
	try(g, room.ID, "a", lobby.CodeWrongPassword)
	try(g, other.ID, "b", lobby.CodeWrongPassword)
	try(g, room.ID, "secret", lobby.CodeRateLimited)
	try(dial("203.0.113.1"), other.ID, "secret", lobby.CodeRateLimited) // reconnecting does not help
	// Per room: failures from many addresses add up (one so far on room).
	try(dial("203.0.113.2"), room.ID, "c", lobby.CodeWrongPassword)
	try(dial("203.0.113.3"), room.ID, "d", lobby.CodeWrongPassword)
	try(dial("203.0.113.4"), room.ID, "e", lobby.CodeWrongPassword) // the room's 4th
	try(dial("203.0.113.5"), room.ID, "secret", lobby.CodeRateLimited)
	try(dial("203.0.113.5"), other.ID, "secret", lobby.TypeJoined) // another room is open
	if got := env.metric(t, "lobby_rejections_total", lobby.ReasonPasswordBackoff); got != 3 {
		t.Fatalf("password_backoff rejections = %v", got)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	for _, tc := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"203.0.113.9:5000", "", trusted, "203.0.113.9"},
		{"203.0.113.9:5000", "198.51.100.1", trusted, "203.0.113.9"}, // not from a proxy: ignored
		{"10.1.2.3:5000", "198.51.100.1", nil, "10.1.2.3"},           // no trusted proxies: ignored
		{"10.1.2.3:5000", "198.51.100.1", trusted, "198.51.100.1"},
		{"10.1.2.3:5000", "6.6.6.6, 198.51.100.1, 192.0.2.1", trusted, "198.51.100.1"}, // spoofed left part skipped
		{"10.1.2.3:5000", "198.51.100.1, 10.9.9.9", trusted, "198.51.100.1"},
		{"10.1.2.3:5000", "garbage, 10.9.9.9", trusted, "10.9.9.9"},
		{"10.1.2.3:5000", "10.9.9.9", trusted, "10.9.9.9"},
		{"[::ffff:203.0.113.9]:5000", "", trusted, "203.0.113.9"},
		{"[2001:db8::1]:5000", "", trusted, "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, tc.trusted); got.String() != tc.want {
			t.Errorf("%s with X-Forwarded-For %q: %v, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// TestHTTPServer: the limits of HTTPServer on a plain route (/healthz) and on raw sockets.
func TestHTTPServer(t *testing.T) {
	lob := New(Config{})
	defer lob.Close()
	hs := HTTPServer(lob.Mux(), HTTPConfig{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		MaxSockets: 3, MaxBodyBytes: 100, Registerer: lob.Registry()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		hs.Close()
		<-served
	}()
	addr := ln.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closed waits for the server to close c (it reads whatever comes first).
	closed := func(c net.Conn, what string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("%s: not closed by the server: %v", what, err)
		}
	}

	t.Run("announced body never sent", func(t *testing.T) {
		c := dial()
		fmt.Fprintf(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
		closed(c, "a POST whose body never comes")
	})
	t.Run("idle socket", func(t *testing.T) {
		closed(dial(), "a socket that sends nothing")
	})
	t.Run("body too large", func(t *testing.T) {
		c := dial()
		fmt.Fprintf(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n%s", strings.Repeat("x", 101))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
	t.Run("socket cap", func(t *testing.T) {
		waitFor(t, waitTimeout, "the sockets closed above to be uncounted", func() bool {
			return (&testEnv{srv: lob}).metric(t, "lobby_http_sockets", "") == 0
		})
		var held []net.Conn
		for range 3 {
			c := dial()
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // kept alive after the answer
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			held = append(held, c)
		}
		closed(dial(), "a socket beyond MaxSockets")
		for _, c := range held {
			c.Close()
		}
	})
	mfs, err := lob.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "lobby_http_rejections_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got[httpRejectSockets] < 1 || got[httpRejectBody] != 1 {
		t.Fatalf("lobby_http_rejections_total = %v", got)
	}
	// A WebSocket through it still works, once the server has seen the held sockets
	// close (until then it is at MaxSockets and would refuse it).
	waitFor(t, waitTimeout, "the held sockets to be uncounted", func() bool {
		return (&testEnv{srv: lob}).metric(t, "lobby_http_sockets", "") == 0
	})
	c := dialClient(t, "ws://"+addr+"/ws")
	if _, err := c.List(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestJoinWhileHostLeaves races quick-joins against hosts that create rooms and leave
// at once: every player that joined a room learns that it closed, and every host hears
// "created" before anything about its room.
func TestJoinWhileHostLeaves(t *testing.T) {
	env := newEnv(t, Config{MessagesPerSecond: 1e6, MessageBurst: 1e6})
	const hosts, players, rounds = 4, 8, 10
	var hostsWG, playersWG sync.WaitGroup
	for range hosts {
		h := dialRaw(t, env.url)
		hostsWG.Add(1)
		go func() {
			defer hostsWG.Done()
			for range rounds {
				h.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Capacity: players})
				// Nothing about the room may come before "created".
				if m := h.recv(); m.Type != lobby.TypeCreated {
					t.Errorf("host got %+v before created", m)
					return
				}
				h.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
				for m := h.recv(); m.Type != lobby.TypeLeft; m = h.recv() {
					if m.Type != lobby.TypeMemberJoined && m.Type != lobby.TypeMemberLeft && m.Type != lobby.TypeSignal {
						t.Errorf("host got %+v", m)
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	for range players {
		p := dialRaw(t, env.url)
		playersWG.Add(1)
		go func() {
			defer playersWG.Done()
			pace := time.NewTicker(2 * time.Millisecond)
			defer pace.Stop()
			for {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				p.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
				m := p.recv()
				for m.Ref == "s" { // the refusal of a signal sent before (the room closed)
					m = p.recv()
				}
				if m.Type == lobby.TypeError && m.Code == lobby.CodeNoRoomAvailable {
					continue
				}
				if m.Type != lobby.TypeJoined {
					t.Errorf("quick join answered %+v", m)
					return
				}
				p.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: &signaling.Signal{Type: signaling.TypeOffer, SDP: "v=0"}})
				// Its host leaves soon: its room_closed must come.
				for m = p.recv(); m.Type != lobby.TypeRoomClosed; m = p.recv() {
					if m.Ref != "s" {
						t.Errorf("member got %+v while waiting for room_closed", m)
						return
					}
				}
			}
		}()
	}
	hostsWG.Wait() // every room is closed now
	close(stop)
	playersWG.Wait()
}

func TestBackoff(t *testing.T) {
	const free, base, max = 2, time.Second, 4 * time.Second
	t0 := time.Unix(1000, 0)
	var b backoff
	forget := 10 * max
	for i, step := range []struct {
		at   time.Duration // of the failure
		wait time.Duration // after it, from then
	}{{0, 0}, {0, base}, {base, 2 * base}, {3 * base, max}, {7 * base, max}} {
		b.fail(t0.Add(step.at), forget)
		if got := b.wait(t0.Add(step.at), free, base, max); got != step.wait {
			t.Fatalf("after failure %d: wait %v, want %v", i+1, got, step.wait)
		}
	}
	if got := b.wait(t0.Add(7*base+max), free, base, max); got != 0 {
		t.Fatalf("after the backoff: wait %v", got)
	}
	b.fail(t0.Add(7*base+forget+time.Second), forget) // a failure after a long quiet
	if b.fails != 1 {
		t.Fatalf("failures after a long quiet: %d, want 1", b.fails)
	}
}

// FuzzClientAddr: X-Forwarded-For is untrusted input; parsing it never panics and
// yields an address the limits can key on.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"", "198.51.100.1", "6.6.6.6, 198.51.100.1, 192.0.2.1", "garbage", ",,,", "::ffff:1.2.3.4, 10.0.0.1", "[::1]"} {
		f.Add(s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = "10.1.2.3:5000"
		r.Header.Set("X-Forwarded-For", xff)
		a := clientAddr(r, trusted)
		if !a.IsValid() || a.Is4In6() {
			t.Fatalf("X-Forwarded-For %q gave %v", xff, a)
		}
		_ = addrKey(a)
	})
}

// gateStore is a MemoryStore that, after chosen calls, stops until the test lets it go,
// to put other connections' actions exactly inside a handler's store call.
type gateStore struct {
	*MemoryStore
	mu      sync.Mutex
	gates   map[string]chan struct{} // op → closed by the test to let the call return
	reached chan string
}

func newGateStore() *gateStore {
	return &gateStore{MemoryStore: NewMemoryStore(), gates: map[string]chan struct{}{}, reached: make(chan string, 1)}
}

// hold makes the next call of op stop after the store did its work.
func (g *gateStore) hold(op string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := make(chan struct{})
	g.gates[op] = c
	return c
}

func (g *gateStore) gate(op string) {
	g.mu.Lock()
	c := g.gates[op]
	delete(g.gates, op)
	g.mu.Unlock()
	if c != nil {
		g.reached <- op
		<-c
	}
}

func (g *gateStore) CreateRoom(ctx context.Context, r Room) error {
	err := g.MemoryStore.CreateRoom(ctx, r)
	g.gate("create")
	return err
}

func (g *gateStore) AddMember(ctx context.Context, roomID, peer string) (Room, error) {
	r, err := g.MemoryStore.AddMember(ctx, roomID, peer)
	g.gate("add")
	return r, err
}

// TestHubRaces puts a room's close inside a join's store call, and a join inside the
// room's creation: the joiner still learns the room closed, and the host still hears
// "created" before its first member.
func TestHubRaces(t *testing.T) {
	st := newGateStore()
	env := newEnv(t, Config{Store: st})

	t.Run("room closes while a member joins", func(t *testing.T) {
		h := dialRaw(t, env.url)
		room := h.create("closing", 4, "")
		p := dialRaw(t, env.url)
		release := st.hold("add")
		p.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: room.ID})
		<-st.reached // p is a member in the store, not yet in the hub
		h.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
		h.expect(lobby.TypeLeft)
		close(release)
		p.expect(lobby.TypeJoined)
		if m := p.expect(lobby.TypeRoomClosed); m.RoomID != room.ID {
			t.Fatalf("room_closed = %+v", m)
		}
		p.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("x")})
		p.expectError(lobby.CodeNotInRoom)
	})
	t.Run("member joins while the room is created", func(t *testing.T) {
		h := dialRaw(t, env.url)
		release := st.hold("create")
		h.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c"})
		<-st.reached // the room is in the store; its host has not been told
		p := dialRaw(t, env.url)
		p.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
		p.expect(lobby.TypeJoined)
		p.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("early")})
		p.roundTrip() // the signal was handled
		close(release)
		h.expect(lobby.TypeCreated)
		if m := h.expect(lobby.TypeMemberJoined); m.Peer != p.id {
			t.Fatalf("member_joined = %+v", m)
		}
		expectSignal(t, h, p.id, offer("early"))
	})
}

// TestAddrLimitsForget: per-address state outlives the address's connections (so that
// reconnecting does not reset its limits) and is dropped once it limits nothing.
func TestAddrLimitsForget(t *testing.T) {
	cfg := Config{PasswordBackoffMax: time.Minute}.withDefaults()
	l := newAddrLimits(&cfg)
	t0 := time.Now()
	var states []*addrState
	for i := range 100 {
		a := l.acquire(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), t0)
		states = append(states, a)
	}
	l.passwordFailed(states[0], "r1", t0)
	if !states[1].joins.Allow() {
		t.Fatal("a fresh address may not join")
	}
	for _, a := range states {
		l.release(a)
	}
	l.acquire(netip.MustParseAddr("198.51.100.1"), t0.Add(sweepEvery+time.Second)) // sweeps
	// Kept: the one with a password failure, and the new one (the one that joined has
	// its token back by then).
	if n := len(l.addrs); n != 2 {
		t.Fatalf("%d addresses remembered after their connections left, want 2", n)
	}
	l.acquire(netip.MustParseAddr("198.51.100.1"), t0.Add(20*time.Minute)) // past 10 × PasswordBackoffMax
	if n, r := len(l.addrs), len(l.rooms); n != 1 || r != 0 {
		t.Fatalf("%d addresses and %d rooms remembered once forgotten, want 1 and 0", n, r)
	}
}

package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, typ, data string }

// sseStream reads a room feed in the background.
type sseStream struct {
	t        testing.TB
	resp     *http.Response
	cancel   context.CancelFunc
	events   chan sseEvent
	comments chan string
	done     chan struct{}
	lastID   string // of the last event taken with next
}

// feedURL is the room feed of env, with a query ("?game=g").
func (e *testEnv) feedURL(query string) string { return e.ts.URL + "/rooms/events" + query }

// getFeed requests the feed and returns the response, whatever its status.
func getFeed(t testing.TB, url string, hdr http.Header) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, cancel
}

// feedStatus requests the feed and returns its status code (for refusals).
func feedStatus(t testing.TB, url string, hdr http.Header) int {
	t.Helper()
	resp, cancel := getFeed(t, url, hdr)
	resp.Body.Close()
	cancel()
	return resp.StatusCode
}

// openFeed opens a stream (200 expected) and reads it until the test ends or close.
func openFeed(t testing.TB, url string, hdr http.Header) *sseStream {
	t.Helper()
	resp, cancel := getFeed(t, url, hdr)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	s := &sseStream{t: t, resp: resp, cancel: cancel, events: make(chan sseEvent, 1000), comments: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.typ != "" || len(data) > 0 {
					ev.data = strings.Join(data, "\n")
					s.events <- ev
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, ":"):
				s.comments <- line
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					ev.id = value
				case "event":
					ev.typ = value
				case "data":
					data = append(data, value)
				}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next waits for the next event and checks its type.
func (s *sseStream) next(typ string) sseEvent {
	s.t.Helper()
	select {
	case ev := <-s.events:
		if ev.typ != typ {
			s.t.Fatalf("feed event %q (id %s, data %s), want %q", ev.typ, ev.id, ev.data, typ)
		}
		if ev.id == "" {
			s.t.Fatalf("feed event %q without an id", ev.typ)
		}
		s.lastID = ev.id
		return ev
	case <-s.done:
		s.t.Fatalf("the feed ended waiting for %q", typ)
	case <-time.After(waitTimeout):
		s.t.Fatalf("no %q event within %v", typ, waitTimeout)
	}
	return sseEvent{}
}

// ended reports whether the server ended the stream within waitTimeout.
func (s *sseStream) ended() bool {
	for {
		select {
		case <-s.events:
		case <-s.done:
			return true
		case <-time.After(waitTimeout):
			return false
		}
	}
}

func roomOf(t testing.TB, ev sseEvent) lobby.RoomInfo {
	t.Helper()
	var r lobby.RoomInfo
	if err := json.Unmarshal([]byte(ev.data), &r); err != nil || r.ID == "" {
		t.Fatalf("%s event data %s: %v", ev.typ, ev.data, err)
	}
	return r
}

func roomsOf(t testing.TB, ev sseEvent) []lobby.RoomInfo {
	t.Helper()
	var l struct {
		Rooms []lobby.RoomInfo `json:"rooms"`
	}
	if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
		t.Fatalf("rooms event data %s: %v", ev.data, err)
	}
	return l.Rooms
}

func closedID(t testing.TB, ev sseEvent) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(ev.data), &c); err != nil || c.ID == "" {
		t.Fatalf("closed event data %s: %v", ev.data, err)
	}
	return c.ID
}

// leaveRoom leaves r's room, skipping what arrives before "left" (a host's
// member_joined, say).
func leaveRoom(r *raw) {
	r.t.Helper()
	r.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
	for r.recv().Type != lobby.TypeLeft {
	}
}

// createGame creates a room for a game on a raw client.
func createGame(r *raw, name, game string) lobby.RoomInfo {
	r.t.Helper()
	r.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Name: name, Game: game, GameVersion: "1"})
	return *r.expect(lobby.TypeCreated).Room
}

// TestRoomFeed reads the room feed of one instance: the full list on connect, created,
// updated and closed events as rooms come, fill and go, heartbeats, the game filter,
// and reconnection with Last-Event-ID (the missed events, or a full list when the ID
// is unknown).
func TestRoomFeed(t *testing.T) {
	e := newEnv(t, Config{FeedHeartbeat: 50 * time.Millisecond})
	before := dialRaw(t, e.url)
	old := createGame(before, "before", "g1")

	s := openFeed(t, e.feedURL(""), nil)
	if rooms := roomsOf(t, s.next(feedRooms)); len(rooms) != 1 || rooms[0].ID != old.ID || rooms[0].Game != "g1" {
		t.Fatalf("first list %+v, want the room %s", rooms, old.ID)
	}
	h := dialRaw(t, e.url)
	room := h.create("arena", 4, "")
	if r := roomOf(t, s.next(feedCreated)); r.ID != room.ID || r.Name != "arena" || r.Members != 0 || r.Host != h.id {
		t.Fatalf("created %+v, want room %s", r, room.ID)
	}
	p := dialRaw(t, e.url)
	p.join(room.ID, "")
	if r := roomOf(t, s.next(feedUpdated)); r.ID != room.ID || r.Members != 1 {
		t.Fatalf("after a join: updated %+v, want 1 member", r)
	}
	p.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
	p.expect(lobby.TypeLeft)
	if r := roomOf(t, s.next(feedUpdated)); r.ID != room.ID || r.Members != 0 {
		t.Fatalf("after a leave: updated %+v, want 0 members", r)
	}
	leaveRoom(h)
	if id := closedID(t, s.next(feedClosed)); id != room.ID {
		t.Fatalf("closed %s, want %s", id, room.ID)
	}
	select {
	case c := <-s.comments:
		if c != ": ping" {
			t.Errorf("comment %q, want a heartbeat", c)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no heartbeat")
	}

	// Filtered by game: another game's rooms never show.
	g2 := openFeed(t, e.feedURL("?game=g2"), nil)
	if rooms := roomsOf(t, g2.next(feedRooms)); len(rooms) != 0 {
		t.Fatalf("g2 list %+v, want none", rooms)
	}
	createGame(dialRaw(t, e.url), "other", "g1")
	want := createGame(dialRaw(t, e.url), "mine", "g2")
	if r := roomOf(t, g2.next(feedCreated)); r.ID != want.ID {
		t.Fatalf("g2 feed: created %+v, want only %s", r, want.ID)
	}
	s.next(feedCreated)
	s.next(feedCreated)

	// Reconnect with Last-Event-ID: exactly the missed event.
	last := s.lastID
	s.close()
	missed := createGame(dialRaw(t, e.url), "missed", "g1")
	again := openFeed(t, e.feedURL(""), http.Header{"Last-Event-Id": {last}})
	if ev := again.next(feedCreated); roomOf(t, ev).ID != missed.ID {
		t.Fatalf("resumed with %s: created %s, want %s", last, ev.data, missed.ID)
	}
	// The query parameter does the same, and an unknown ID gets a full list.
	q := openFeed(t, e.feedURL("?lastEventId="+last), nil)
	q.next(feedCreated)
	fresh := openFeed(t, e.feedURL(""), http.Header{"Last-Event-Id": {"nosuchepoch.3"}})
	if rooms := roomsOf(t, fresh.next(feedRooms)); len(rooms) != 4 {
		t.Fatalf("unknown Last-Event-ID: list of %d rooms, want 4", len(rooms))
	}
	if got := e.metric(t, "lobby_feed_streams", ""); got != 4 {
		t.Errorf("lobby_feed_streams = %v, want 4", got)
	}
}

// TestRoomFeedReplayLimit: an instance keeps FeedReplay events for resumption; a
// client that missed more gets a full list.
func TestRoomFeedReplayLimit(t *testing.T) {
	e := newEnv(t, Config{FeedReplay: 2})
	keep := openFeed(t, e.feedURL(""), nil) // keeps the list loaded
	keep.next(feedRooms)
	s := openFeed(t, e.feedURL(""), nil)
	s.next(feedRooms)
	last := s.lastID
	s.close()
	for _, name := range []string{"a", "b", "c"} {
		createGame(dialRaw(t, e.url), name, "g")
		keep.next(feedCreated)
	}
	again := openFeed(t, e.feedURL(""), http.Header{"Last-Event-Id": {last}})
	if rooms := roomsOf(t, again.next(feedRooms)); len(rooms) != 3 {
		t.Fatalf("3 events missed with FeedReplay 2: list of %d rooms, want all 3", len(rooms))
	}
	// One missed event is still in the ring.
	last = again.lastID
	again.close()
	d := createGame(dialRaw(t, e.url), "d", "g")
	keep.next(feedCreated)
	resumed := openFeed(t, e.feedURL(""), http.Header{"Last-Event-Id": {last}})
	if r := roomOf(t, resumed.next(feedCreated)); r.ID != d.ID {
		t.Fatalf("resumed: created %+v, want %s", r, d.ID)
	}
}

// TestRoomFeedLimits: the stream cap (503), the Origin check (403, as for the
// WebSocket; an allowed cross origin gets CORS), the per-address cap (429), and a
// stream whose queue fills is closed.
func TestRoomFeedLimits(t *testing.T) {
	t.Run("streams", func(t *testing.T) {
		e := newEnv(t, Config{MaxFeedStreams: 1})
		s := openFeed(t, e.feedURL(""), nil)
		s.next(feedRooms)
		if code := feedStatus(t, e.feedURL(""), nil); code != http.StatusServiceUnavailable {
			t.Fatalf("a second stream with MaxFeedStreams 1: %d, want 503", code)
		}
		if got := e.metric(t, "lobby_rejections_total", reasonFeedStreams); got != 1 {
			t.Errorf("rejections{feed_streams} = %v, want 1", got)
		}
		s.close()
		// The slot is free again once the first stream has ended.
		waitFor(t, waitTimeout, "the stream slot to be freed", func() bool { return e.srv.feedStreams.Load() == 0 })
		openFeed(t, e.feedURL(""), nil).next(feedRooms)
	})
	t.Run("origin", func(t *testing.T) {
		e := newEnv(t, Config{AllowedOrigins: []string{"https://game.example"}})
		if code := feedStatus(t, e.feedURL(""), http.Header{"Origin": {"https://evil.example"}}); code != http.StatusForbidden {
			t.Fatalf("bad Origin: %d, want 403", code)
		}
		if got := e.metric(t, "lobby_rejections_total", lobby.ReasonOrigin); got != 1 {
			t.Errorf("rejections{origin} = %v, want 1", got)
		}
		s := openFeed(t, e.feedURL(""), http.Header{"Origin": {"https://game.example"}})
		if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "https://game.example" {
			t.Errorf("Access-Control-Allow-Origin %q, want the allowed origin", got)
		}
		s.next(feedRooms)
	})
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, Config{LimitLoopback: true, MaxConnectionsPerIP: 1})
		s := openFeed(t, e.feedURL(""), nil)
		s.next(feedRooms)
		if code := feedStatus(t, e.feedURL(""), nil); code != http.StatusTooManyRequests {
			t.Fatalf("a second stream from one address with MaxConnectionsPerIP 1: %d, want 429", code)
		}
	})
	t.Run("slow stream", func(t *testing.T) {
		e := newEnv(t, Config{FeedQueue: 2})
		f := e.srv.feed
		// A stream that takes no events (no handler drains its queue).
		sub, load := f.subscribe(lobby.RoomFilter{})
		defer f.unsubscribe(sub)
		if load != nil {
			<-load.done
		}
		if _, ok := f.start(sub, ""); !ok {
			t.Fatal("the feed did not load")
		}
		// Three rooms that stay open: three created events however the feed
		// coalesces changes (a room created and closed between two of its reads
		// makes no event at all, so a create-and-leave loop may not fill the queue).
		for i := range 3 {
			createGame(dialRaw(t, e.url), fmt.Sprint("r", i), "g")
		}
		select {
		case <-sub.gone:
		case <-time.After(waitTimeout):
			t.Fatalf("a stream with %d events queued and FeedQueue 2 was not dropped", len(sub.ch))
		}
		if got := e.metric(t, "lobby_rejections_total", reasonFeedSlow); got != 1 {
			t.Errorf("rejections{feed_slow} = %v, want 1", got)
		}
	})
	t.Run("method and filter", func(t *testing.T) {
		e := newEnv(t, Config{})
		resp, err := http.Post(e.feedURL(""), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d, want 405", resp.StatusCode)
		}
		if code := feedStatus(t, e.feedURL("?game="+strings.Repeat("x", 100)), nil); code != http.StatusBadRequest {
			t.Errorf("a 100-byte game filter: %d, want 400", code)
		}
	})
}

// TestRoomFeedServerClose: closing the server ends open streams.
func TestRoomFeedServerClose(t *testing.T) {
	e := newEnv(t, Config{})
	s := openFeed(t, e.feedURL(""), nil)
	s.next(feedRooms)
	e.srv.Close()
	if !s.ended() {
		t.Fatal("the stream outlived Server.Close")
	}
}

// TestRoomFeedRedis: two instances on one real Redis. A stream on either instance sees
// rooms created, filled and closed through the other; an event ID of one instance
// means nothing to the other, which answers it with a full list.
func TestRoomFeedRedis(t *testing.T) {
	addr := redistest.Start(t)
	p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
	onB := openFeed(t, p.b.feedURL(""), nil)
	onB.next(feedRooms)
	onA := openFeed(t, p.a.feedURL("?game=arena"), nil)
	onA.next(feedRooms)

	h := dialRaw(t, p.a.url)
	room := createGame(h, "on A", "arena")
	if r := roomOf(t, onB.next(feedCreated)); r.ID != room.ID || r.Game != "arena" {
		t.Fatalf("B's feed: created %+v, want %s", r, room.ID)
	}
	onA.next(feedCreated)
	pl := dialRaw(t, p.b.url)
	pl.join(room.ID, "")
	if r := roomOf(t, onB.next(feedUpdated)); r.Members != 1 {
		t.Fatalf("B's feed after a join on B: %+v, want 1 member", r)
	}
	if r := roomOf(t, onA.next(feedUpdated)); r.Members != 1 {
		t.Fatalf("A's feed after a join on B: %+v, want 1 member", r)
	}
	hb := dialRaw(t, p.b.url)
	other := createGame(hb, "on B", "chess")
	if r := roomOf(t, onB.next(feedCreated)); r.ID != other.ID {
		t.Fatalf("B's feed: created %+v, want %s", r, other.ID)
	}
	leaveRoom(h)
	if id := closedID(t, onB.next(feedClosed)); id != room.ID {
		t.Fatalf("B's feed: closed %s, want %s", id, room.ID)
	}
	// A's feed is filtered to "arena": the chess room never showed, the close does.
	if id := closedID(t, onA.next(feedClosed)); id != room.ID {
		t.Fatalf("A's feed: closed %s, want %s", id, room.ID)
	}

	// A's event ID on B: a full list, from the shared store.
	fromA := openFeed(t, p.b.feedURL(""), http.Header{"Last-Event-Id": {onA.lastID}})
	if rooms := roomsOf(t, fromA.next(feedRooms)); len(rooms) != 1 || rooms[0].ID != other.ID {
		t.Fatalf("B's list for a client resuming A's stream: %+v, want just %s", rooms, other.ID)
	}
}

// FuzzFeedLastEventID: any Last-Event-ID is either resumable from the ring or not,
// without a panic, and a resumption never replays an event the client had.
func FuzzFeedLastEventID(f *testing.F) {
	for _, s := range []string{"", "abc.7", "abc.10", "abc.3", "abc.", ".5", "abc.99999999999999999999", "abc.-1", "x.y.z"} {
		f.Add(s)
	}
	fd := &feed{epoch: "abc", seq: 10}
	for n := uint64(5); n <= 10; n++ {
		fd.ring = append(fd.ring, &feedEvent{seq: n})
	}
	f.Fuzz(func(t *testing.T, id string) {
		evs, ok := fd.replayLocked(id)
		if !ok {
			return
		}
		_, seqStr, _ := strings.Cut(id, ".")
		last, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			t.Fatalf("%q resumable but its sequence does not parse: %v", id, err)
		}
		for i, ev := range evs {
			if ev.seq != last+1+uint64(i) {
				t.Fatalf("%q replays event %d at %d, want %d", id, ev.seq, i, last+1+uint64(i))
			}
		}
		if last+uint64(len(evs)) != fd.seq {
			t.Fatalf("%q replays %d events after %d, want every one up to %d", id, len(evs), last, fd.seq)
		}
	})
}

// TestRoomFeedDrain: a draining instance ends its streams at once and refuses new
// ones, so that clients reconnect to another instance, while its WebSocket
// connections are still being served.
func TestRoomFeedDrain(t *testing.T) {
	e := newEnv(t, Config{})
	ws := dialRaw(t, e.url) // keeps the drain waiting
	s := openFeed(t, e.feedURL(""), nil)
	s.next(feedRooms)
	done := drainAsync(context.Background(), e.srv)
	ws.expect(lobby.TypeDraining)
	if !s.ended() {
		t.Fatal("the stream outlived the start of the drain")
	}
	if code := feedStatus(t, e.feedURL(""), nil); code != http.StatusServiceUnavailable {
		t.Fatalf("a stream during the drain: %d, want 503", code)
	}
	ws.close()
	if err := <-done; err != nil {
		t.Fatalf("Drain = %v", err)
	}
}

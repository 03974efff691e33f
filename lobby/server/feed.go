package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/volleynet/volley/lobby"
)

// The room feed: GET /rooms/events streams the room list as Server-Sent Events (see
// RoomEventsHandler for the format).
//
// One goroutine per Server (feed.run) keeps a view of the rooms while at least one
// stream is open: loaded from the store when the first stream arrives, then kept up to
// date from notices that a room changed — from this instance's hub, and, with a shared
// store, from the other instances (roomNotifier) — by reading each changed room back
// from the store, and re-read whole every FeedResync (rooms of a crashed instance
// expire in the store without a notice). Every change of the view is an event with a
// sequence number, kept in a ring of FeedReplay events for Last-Event-ID resumption
// and fanned out, without blocking, to each stream's queue. feed.mu guards the view,
// the ring and the streams; it is never held across a store call or a network write.

// Rejection reasons of the feed (lobby_rejections_total{reason}).
const (
	reasonFeedStreams = "feed_streams" // MaxFeedStreams reached (HTTP 503)
	reasonFeedSlow    = "feed_slow"    // a stream's queue filled (closed; the client reconnects)
)

// Feed event types (the SSE "event" field).
const (
	feedRooms   = "rooms"   // the full list
	feedCreated = "created" // a room appeared
	feedUpdated = "updated" // a room changed (members, most often)
	feedClosed  = "closed"  // a room is gone
)

// roomNotifier is implemented by a Store shared between instances: it tells every
// instance which rooms changed (RedisStore, over Redis pub/sub).
type roomNotifier interface {
	// notifyRooms tells the instances listening that these rooms changed.
	notifyRooms(ctx context.Context, ids []string) error
	// listenRooms calls f with the IDs of rooms that changed, from one goroutine,
	// until stop is called; it returns once the subscription is confirmed.
	listenRooms(ctx context.Context, f func(ids []string)) (stop func() error, err error)
}

// feedEvent is one change of the view, encoded once for every stream.
type feedEvent struct {
	seq   uint64
	game  string // the room's, for filters
	ver   string
	frame []byte // "id: ...\nevent: ...\ndata: ...\n\n"
}

// feedSub is one open stream.
type feedSub struct {
	filter lobby.RoomFilter
	ch     chan *feedEvent // Config.FeedQueue; the feed never blocks on it
	gone   chan struct{}   // closed when the feed drops the stream (its queue filled)
	live   bool            // receives events (after its first frame); guarded by feed.mu
}

func (sub *feedSub) wants(game, ver string) bool {
	return (sub.filter.Game == "" || sub.filter.Game == game) &&
		(sub.filter.GameVersion == "" || sub.filter.GameVersion == ver)
}

// feedLoad is one attempt to load the view; streams wait for it.
type feedLoad struct {
	done chan struct{}
	err  error // set before done closes
}

type feed struct {
	s      *Server
	notify roomNotifier // nil without a shared store
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	ending chan struct{} // closed by endStreams (a drain): streams end, new ones are refused
	endOne sync.Once

	streams prometheus.Gauge
	events  *prometheus.CounterVec // by type

	mu      sync.Mutex
	subs    map[*feedSub]bool
	dirty   map[string]bool // changed rooms: true if changed here (to tell the others)
	resync  bool
	loading *feedLoad // the load in progress, or nil
	loaded  bool
	epoch   string // event ID prefix of the current view
	rooms   map[string]Room
	idle    time.Time    // when the last stream ended
	seq     uint64       // of the last event
	ring    []*feedEvent // the last FeedReplay events, oldest first
	closed  bool
}

func newFeed(s *Server) *feed {
	f := &feed{
		s:      s,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ending: make(chan struct{}),
		subs:   make(map[*feedSub]bool),
		dirty:  make(map[string]bool),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobby_feed_streams", Help: "Open room feed streams (GET /rooms/events).",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_feed_events_total", Help: "Room feed events, by type (created, updated, closed; rooms: full lists sent).",
		}, []string{"type"}),
	}
	f.notify, _ = s.store.(roomNotifier)
	s.m.reg.MustRegister(f.streams, f.events)
	go f.run()
	return f
}

func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// changed records that a room changed through this instance. Never blocks.
func (f *feed) changed(id string) { f.mark([]string{id}, true) }

// mark records changed rooms; local ones are also announced to the other instances.
// The set is bounded by MaxRooms: beyond it the view is re-read whole instead.
func (f *feed) mark(ids []string, local bool) {
	f.mu.Lock()
	for _, id := range ids {
		if len(f.dirty) >= f.s.cfg.MaxRooms {
			f.resync = true
			break
		}
		f.dirty[id] = f.dirty[id] || local
	}
	f.mu.Unlock()
	f.signal()
}

// resyncSoon asks for the view to be re-read whole (the store came back, say).
func (f *feed) resyncSoon() {
	f.mu.Lock()
	f.resync = true
	f.mu.Unlock()
	f.signal()
}

// resyncLater asks for a full re-read at the next FeedResync tick (after a store
// error: retrying at once would spin while the store is down).
func (f *feed) resyncLater() {
	f.mu.Lock()
	f.resync = true
	f.mu.Unlock()
}

// endStreams ends the open streams (the Server drains): clients reconnect, and the
// draining instance refuses them, so they land on another one.
func (f *feed) endStreams() { f.endOne.Do(func() { close(f.ending) }) }

// close stops the feed; open streams end.
func (f *feed) close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.stop)
	}
	f.mu.Unlock()
	<-f.done
}

// run is the feed goroutine.
func (f *feed) run() {
	defer close(f.done)
	resync := time.NewTicker(f.s.cfg.FeedResync)
	defer resync.Stop()
	var unlisten func() error
	defer func() {
		if unlisten != nil {
			_ = unlisten()
		}
	}()
	for {
		select {
		case <-f.stop:
			return
		case <-f.wake:
		case <-resync.C:
			f.mu.Lock()
			f.resync = f.resync || f.loaded
			f.mu.Unlock()
		}
		f.mu.Lock()
		active := len(f.subs) > 0
		// The view outlives its last stream by FeedResync, so that a client
		// reconnecting (EventSource retries after 2 s) can resume.
		keep := active || time.Since(f.idle) < f.s.cfg.FeedResync
		var local, ids []string
		for id, here := range f.dirty {
			ids = append(ids, id)
			if here {
				local = append(local, id)
			}
		}
		clear(f.dirty)
		load := f.loading
		full := f.loaded && f.resync
		f.resync = false
		if !keep && f.loaded {
			f.loaded, f.rooms, f.ring = false, nil, nil // reloaded, under a new epoch, when a stream comes
		}
		loaded := f.loaded
		f.mu.Unlock()

		if len(local) > 0 && f.notify != nil {
			f.publish(local)
		}
		switch {
		case load != nil: // even if its stream has gone: it is waited for until done
			var err error
			if unlisten == nil && f.notify != nil {
				// Listen before loading, so that no change between the two is missed.
				ctx, cancel := f.s.storeCtx()
				unlisten, err = f.notify.listenRooms(ctx, func(ids []string) { f.mark(ids, false) })
				cancel()
			}
			var rooms []Room
			if err == nil {
				rooms, err = f.listAll()
			}
			f.mu.Lock()
			if err == nil {
				f.loaded, f.epoch, f.seq, f.ring = true, newEpoch(), 0, nil
				f.rooms = make(map[string]Room, len(rooms))
				for _, r := range rooms {
					f.rooms[r.ID] = r
				}
			}
			load.err = err
			f.loading = nil
			close(load.done)
			f.mu.Unlock()
			if err != nil {
				f.s.log.Error("lobby: room feed: load", "err", err)
			}
		case !loaded:
			if unlisten != nil {
				_ = unlisten() // nobody here to tell; a new load starts from the store
				unlisten = nil
			}
		case full:
			rooms, err := f.listAll()
			if err != nil {
				f.s.log.Error("lobby: room feed: resync", "err", err)
				f.resyncLater()
				continue
			}
			f.apply(rooms, true)
		case len(ids) > 0:
			f.refresh(ids)
		}
	}
}

// publish tells the other instances which rooms changed here.
func (f *feed) publish(ids []string) {
	const batch = 512 // room IDs per message
	for len(ids) > 0 {
		n := min(len(ids), batch)
		ctx, cancel := f.s.storeCtx()
		err := f.notify.notifyRooms(ctx, ids[:n])
		cancel()
		if err != nil {
			f.s.log.Error("lobby: room feed: notify", "err", err)
		}
		ids = ids[n:]
	}
}

// listAll reads every room from the store, oldest first.
func (f *feed) listAll() ([]Room, error) {
	var all []Room
	var after uint64
	limit := f.s.cfg.MaxListRooms
	for len(all) <= f.s.cfg.MaxRooms {
		ctx, cancel := f.s.storeCtx()
		page, err := f.s.store.ListRooms(ctx, ListQuery{After: after, Limit: limit})
		cancel()
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < limit {
			break
		}
		after = page[len(page)-1].Seq
	}
	return all, nil
}

// refresh reads the changed rooms back from the store and applies them.
func (f *feed) refresh(ids []string) {
	var rooms []Room
	var gone []string
	for _, id := range ids {
		ctx, cancel := f.s.storeCtx()
		r, err := f.s.store.Room(ctx, id)
		cancel()
		switch {
		case errors.Is(err, lobby.ErrRoomNotFound):
			gone = append(gone, id)
		case err != nil:
			f.s.log.Error("lobby: room feed: read room", "room", id, "err", err)
			f.resyncLater()
		default:
			rooms = append(rooms, r)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		return
	}
	for _, r := range rooms {
		f.putLocked(r)
	}
	for _, id := range gone {
		f.removeLocked(id)
	}
}

// apply makes the view rooms (a full read of the store).
func (f *feed) apply(rooms []Room, full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		return
	}
	seen := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		seen[r.ID] = true
		f.putLocked(r)
	}
	if full {
		for id := range f.rooms {
			if !seen[id] {
				f.removeLocked(id)
			}
		}
	}
}

func (f *feed) putLocked(r Room) {
	old, had := f.rooms[r.ID]
	switch {
	case !had:
		f.rooms[r.ID] = r
		f.emitLocked(feedCreated, r, appendRoomInfo(nil, r.Info()))
	case !sameInfo(old, r):
		f.rooms[r.ID] = r
		f.emitLocked(feedUpdated, r, appendRoomInfo(nil, r.Info()))
	}
}

func (f *feed) removeLocked(id string) {
	old, had := f.rooms[id]
	if !had {
		return
	}
	delete(f.rooms, id)
	f.emitLocked(feedClosed, old, appendJSON(nil, struct {
		ID string `json:"id"`
	}{id}))
}

// sameInfo reports whether a and b look the same in a room list.
func sameInfo(a, b Room) bool {
	return a.Name == b.Name && a.Host == b.Host && a.Capacity == b.Capacity &&
		len(a.Members) == len(b.Members) && (a.PasswordHash == nil) == (b.PasswordHash == nil) &&
		bytes.Equal(a.Metadata, b.Metadata) && a.Game == b.Game && a.GameVersion == b.GameVersion
}

// emitLocked records an event and queues it to every live stream that wants it; a
// stream whose queue is full is dropped (it reconnects and resumes, or starts over).
func (f *feed) emitLocked(typ string, r Room, data []byte) {
	f.seq++
	ev := &feedEvent{seq: f.seq, game: r.Game, ver: r.GameVersion}
	ev.frame = appendFrame(nil, f.eventID(f.seq), typ, data)
	if n := f.s.cfg.FeedReplay; len(f.ring) >= n {
		copy(f.ring, f.ring[len(f.ring)-n+1:])
		f.ring = f.ring[:n-1]
	}
	f.ring = append(f.ring, ev)
	f.events.WithLabelValues(typ).Inc()
	for sub := range f.subs {
		if !sub.live || !sub.wants(ev.game, ev.ver) {
			continue
		}
		select {
		case sub.ch <- ev:
		default:
			f.dropLocked(sub)
		}
	}
}

// dropLocked ends a stream that does not keep up.
func (f *feed) dropLocked(sub *feedSub) {
	if !f.subs[sub] {
		return
	}
	delete(f.subs, sub)
	f.idle = time.Now()
	close(sub.gone)
	f.s.m.rejections.WithLabelValues(reasonFeedSlow).Inc()
}

func (f *feed) eventID(seq uint64) string { return f.epoch + "." + strconv.FormatUint(seq, 10) }

// newEpoch returns the event ID prefix of a freshly loaded view: event IDs from an
// earlier view (or another instance) never match it.
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendFrame appends one SSE event. data holds no newline (it is compact JSON).
func appendFrame(dst []byte, id, typ string, data []byte) []byte {
	dst = append(dst, "id: "...)
	dst = append(dst, id...)
	dst = append(dst, "\nevent: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// subscribe adds a stream; it returns the load to wait for, if the view is not there.
func (f *feed) subscribe(filter lobby.RoomFilter) (*feedSub, *feedLoad) {
	sub := &feedSub{filter: filter, ch: make(chan *feedEvent, f.s.cfg.FeedQueue), gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[sub] = true
	f.streams.Inc()
	if f.loaded {
		return sub, nil
	}
	if f.loading == nil {
		f.loading = &feedLoad{done: make(chan struct{})}
		f.signal()
	}
	return sub, f.loading
}

func (f *feed) unsubscribe(sub *feedSub) {
	f.mu.Lock()
	if f.subs[sub] {
		delete(f.subs, sub)
		f.idle = time.Now()
	}
	f.mu.Unlock()
	f.streams.Dec()
}

// start makes sub live and returns its first frame: the events after lastID when the
// ring still holds them all (resumption), or else the full list (filtered). ok is
// false when the view is gone (a failed load).
func (f *feed) start(sub *feedSub, lastID string) (first []byte, ok bool) {
	f.mu.Lock()
	if !f.loaded || !f.subs[sub] {
		f.mu.Unlock()
		return nil, false
	}
	sub.live = true
	if replay, ok := f.replayLocked(lastID); ok {
		for _, ev := range replay {
			if sub.wants(ev.game, ev.ver) {
				first = append(first, ev.frame...)
			}
		}
		f.mu.Unlock()
		return first, true
	}
	rooms := make([]Room, 0, len(f.rooms))
	for _, r := range f.rooms {
		if sub.wants(r.Game, r.GameVersion) {
			rooms = append(rooms, r)
		}
	}
	id := f.eventID(f.seq)
	f.mu.Unlock()
	// Encoded outside the lock: events after f.seq go to sub.ch meanwhile.
	f.events.WithLabelValues(feedRooms).Inc()
	slices.SortFunc(rooms, func(a, b Room) int { return cmpSeq(a.Seq, b.Seq) })
	data := append(make([]byte, 0, 64+200*len(rooms)), `{"rooms":[`...)
	for i, r := range rooms {
		if i > 0 {
			data = append(data, ',')
		}
		data = appendRoomInfo(data, r.Info())
	}
	data = append(data, "]}"...)
	return appendFrame(nil, id, feedRooms, data), true
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// replayLocked returns the events after lastID if the ring holds every one of them.
func (f *feed) replayLocked(lastID string) ([]*feedEvent, bool) {
	epoch, seqStr, ok := strings.Cut(lastID, ".")
	if !ok || epoch != f.epoch {
		return nil, false
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil || seq > f.seq {
		return nil, false
	}
	if seq == f.seq {
		return nil, true // nothing missed
	}
	if len(f.ring) == 0 || f.ring[0].seq > seq+1 {
		return nil, false // some were dropped from the ring
	}
	i, _ := slices.BinarySearchFunc(f.ring, seq+1, func(ev *feedEvent, s uint64) int { return cmpSeq(ev.seq, s) })
	return slices.Clone(f.ring[i:]), true
}

// RoomEventsHandler serves the room feed (Mux serves it at /rooms/events): the room
// list as Server-Sent Events, for web pages (EventSource) and anything that reads a
// stream. Query parameters game and gameVersion filter it as "list" does. The stream:
//
//	retry: 2000                                           reconnect after 2 s
//	id: <epoch>.<n>, event: rooms, data: {"rooms":[...]}  the full list, oldest first
//	id: ..., event: created, data: <room>                 a room appeared
//	id: ..., event: updated, data: <room>                 a room changed (its members)
//	id: ..., event: closed,  data: {"id":"r..."}          a room is gone
//	: ping                                                every FeedHeartbeat
//
// Rooms are the "rooms" reply's objects (lobby.RoomInfo). A client that reconnects with
// Last-Event-ID (EventSource does so by itself; or ?lastEventId=) gets the events it
// missed, if this instance still holds them all (the last FeedReplay, while it has kept
// the list since), and otherwise a fresh full list: replace what you have. Event IDs
// are per instance. The Origin header is checked as for the WebSocket (403), streams
// count against MaxConnectionsPerIP (429) and MaxFeedStreams (503), and a stream whose
// client does not keep up with FeedQueue events is closed. A draining instance (Drain)
// ends its streams and refuses new ones (503), so that clients move elsewhere.
func (s *Server) RoomEventsHandler() http.Handler { return http.HandlerFunc(s.serveRoomEvents) }

func (s *Server) serveRoomEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "lobby: GET the room feed", http.StatusMethodNotAllowed)
		return
	}
	if !s.originAllowed(r) {
		s.reject(w, lobby.ReasonOrigin, "lobby: origin not allowed", http.StatusForbidden)
		return
	}
	if s.refuseDraining(w) {
		return
	}
	q := r.URL.Query()
	filter := lobby.RoomFilter{Game: q.Get("game"), GameVersion: q.Get("gameVersion")}
	if !validText(filter.Game, s.cfg.MaxNameBytes) || !validText(filter.GameVersion, s.cfg.MaxNameBytes) {
		http.Error(w, "lobby: game and gameVersion must be short UTF-8", http.StatusBadRequest)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = q.Get("lastEventId")
	}
	limits := s.addrs.acquire(clientAddr(r, s.cfg.TrustedProxies), time.Now())
	if limits == nil {
		s.reject(w, lobby.ReasonIPConnections, "lobby: too many connections from your address", http.StatusTooManyRequests)
		return
	}
	defer s.addrs.release(limits)
	if s.feedStreams.Add(1) > int64(s.cfg.MaxFeedStreams) {
		s.feedStreams.Add(-1)
		s.reject(w, reasonFeedStreams, "lobby: too many room feed streams", http.StatusServiceUnavailable)
		return
	}
	defer s.feedStreams.Add(-1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "lobby: shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	f := s.feed
	sub, load := f.subscribe(filter)
	defer f.unsubscribe(sub)
	if load != nil {
		t := time.NewTimer(2 * s.cfg.StoreTimeout)
		select {
		case <-load.done:
		case <-t.C:
		case <-r.Context().Done():
		case <-f.stop:
		}
		t.Stop()
	}
	first, ok := f.start(sub, lastID)
	if !ok {
		http.Error(w, "lobby: room list unavailable", http.StatusServiceUnavailable)
		return
	}

	rc := http.NewResponseController(w)
	// The stream outlives any read deadline of the http.Server (HTTPConfig.ReadTimeout
	// would cancel the request); each write has its own deadline instead.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o) // allowed above
		h.Add("Vary", "Origin")
	}
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(append([]byte("retry: 2000\n\n"), first...)) {
		return
	}
	heartbeat := time.NewTicker(s.cfg.FeedHeartbeat)
	defer heartbeat.Stop()
	var buf []byte
	for {
		select {
		case ev := <-sub.ch:
			buf = append(buf[:0], ev.frame...)
			for more := true; more && len(buf) < 64<<10; { // drain what is queued into one write
				select {
				case ev := <-sub.ch:
					buf = append(buf, ev.frame...)
				default:
					more = false
				}
			}
			if !write(buf) {
				return
			}
		case <-heartbeat.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-sub.gone:
			return // too slow: the client reconnects with Last-Event-ID
		case <-r.Context().Done():
			return
		case <-f.stop:
			return
		case <-f.ending:
			return
		}
	}
}

package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/volleynet/volley/lobby"
	"golang.org/x/time/rate"
)

// Server is the lobby service. Its ServeHTTP is the WebSocket endpoint; Mux adds
// /healthz and /metrics.
//
// Concurrency: each connection has exactly one reader goroutine (the one running
// ServeHTTP), which handles its messages in order, and one writer goroutine. The hub
// lock (Server.mu) guards the connection table and each connection's room fields; it
// is held only to read and update them and to queue messages already encoded, never
// across a Store call, a relay publish, JSON encoding or work proportional to the
// number of rooms (see hub.go).
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    Store
	m        *metrics
	grace    graceMetrics
	relay    *relayState // nil unless the Store is shared (relayOpener)
	upgrader websocket.Upgrader
	nconns   atomic.Int64
	addrs    *addrLimits
	owned    ownedState // what this instance must keep in a shared store
	feed     *feed      // the room feed (feed.go)

	feedStreams atomic.Int64 // open room feed streams (Config.MaxFeedStreams)

	drain     drainState           // see Drain
	mu        sync.Mutex           // the hub lock
	conns     map[string]*conn     // guarded by mu
	takeovers map[string]*takeover // resumptions from other instances, by connection ID; guarded by mu
	closed    bool                 // guarded by mu
	wg        sync.WaitGroup       // running connections; Add under mu while !closed
}

// New returns a Server with cfg (whose zero value works).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		store: cfg.Store,
		conns: make(map[string]*conn),

		takeovers: make(map[string]*takeover),
	}
	s.m = newMetrics()
	s.grace = newGraceMetrics(s.m.reg)
	s.addrs = newAddrLimits(&s.cfg)
	s.owned.init()
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout:  cfg.HandshakeTimeout,
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		EnableCompression: false,
		// The Origin is checked (and counted) in ServeHTTP before the upgrade.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.feed = newFeed(s) // before the relay, which reports to it
	if o, ok := cfg.Store.(relayOpener); ok {
		s.startRelay(o)
	}
	return s
}

// Registry returns the server's own Prometheus registry (not the global one).
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }

// MetricsHandler serves the server's metrics in the Prometheus text format.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
}

// Gatherer returns the registry behind MetricsHandler, to serve the lobby's metrics
// together with others (prometheus.Gatherers).
func (s *Server) Gatherer() prometheus.Gatherer { return s.m.reg }

// HealthHandler answers 200 "ok" while the server can serve and 503 otherwise: once it
// is closed or draining (see Drain) and, with a shared store, until this instance has joined the relay and
// whenever the store does not answer (a Redis outage, checked every
// RedisStoreConfig.CheckInterval). It is a readiness check: take the instance out of
// the load balancer while it fails, but do not restart it for that (its rooms come
// back when the store does).
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			http.Error(w, "closed", http.StatusServiceUnavailable)
			return
		}
		if s.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		if !s.relayReady() {
			http.Error(w, "store not ready", http.StatusServiceUnavailable)
			return
		}
		if !s.storeHealthy() {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Mux returns a mux serving the WebSocket endpoint at /ws, the room feed at
// /rooms/events (RoomEventsHandler), /healthz and /metrics.
func (s *Server) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	mux.Handle("/rooms/events", s.RoomEventsHandler())
	mux.Handle("/healthz", s.HealthHandler())
	mux.Handle("/metrics", s.MetricsHandler())
	return mux
}

// Close disconnects every client (close code 1001, going away), closing their rooms,
// and waits for all connection goroutines to end. Later connections get HTTP 503.
// With a shared store (RedisStore) it then unregisters this instance from the relay.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.closeDetachedLocked()
	s.stopRelay()
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown(websocket.CloseGoingAway, lobby.ReasonShutdown)
	}
	s.feed.close() // ends the room feed streams
	s.wg.Wait()
	s.closeRelay()
	return nil
}

func (s *Server) reject(w http.ResponseWriter, reason, msg string, status int) {
	s.m.rejections.WithLabelValues(reason).Inc()
	http.Error(w, msg, status)
}

// ServeHTTP upgrades the request to a WebSocket and serves the lobby protocol on it
// until the connection ends. Origin and connection limits are checked before the upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "lobby: WebSocket upgrade expected", http.StatusUpgradeRequired)
		return
	}
	if s.refuseDraining(w) {
		return
	}
	if !s.originAllowed(r) {
		s.reject(w, lobby.ReasonOrigin, "lobby: origin not allowed", http.StatusForbidden)
		return
	}
	addr := clientAddr(r, s.cfg.TrustedProxies)
	limits := s.addrs.acquire(addr, time.Now())
	if limits == nil {
		s.reject(w, lobby.ReasonIPConnections, "lobby: too many connections from your address", http.StatusTooManyRequests)
		return
	}
	defer s.addrs.release(limits)
	if s.nconns.Add(1) > int64(s.cfg.MaxConnections) {
		s.nconns.Add(-1)
		s.reject(w, lobby.ReasonCapacity, "lobby: too many connections", http.StatusServiceUnavailable)
		return
	}
	defer s.nconns.Add(-1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "lobby: shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	if !s.waitRelay(r.Context()) {
		http.Error(w, "lobby: store not ready", http.StatusServiceUnavailable)
		return
	}

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &conn{
		s:      s,
		id:     s.newConnID(),
		ws:     ws,
		req:    r,
		addr:   addr,
		limits: limits,
		send:   make(chan []byte, s.cfg.SendQueue),
		done:   make(chan struct{}),
	}
	c.lastActive.Store(time.Now().UnixNano())
	s.serve(c)
}

func (s *Server) serve(c *conn) {
	token := s.newToken(c)
	s.mu.Lock()
	s.conns[c.id] = c
	if s.closed { // Close ran after ServeHTTP's check and before this registration
		c.shutdown(websocket.CloseGoingAway, lobby.ReasonShutdown)
	}
	s.mu.Unlock()
	s.m.connections.Inc()
	s.m.accepted.Inc()
	s.log.Debug("lobby: connected", "peer", c.id, "remote", c.req.RemoteAddr, "addr", c.addr)
	c.enqueue(lobby.Message{Type: lobby.TypeWelcome, ID: c.id, ICEServers: s.iceServersFor(c.id), Token: token, Grace: s.graceMillis()})
	s.drainWelcomed(c)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	clientEnded := c.shutdown(websocket.CloseNormalClosure, "")
	s.leaveOrDetach(c, c.readErr, !clientEnded)
	s.drainGone(c)
	<-writerDone
	_ = c.ws.Close()
	s.m.queuedBytes.Add(-c.queued.Swap(0)) // what the writer left unsent
	s.m.connections.Dec()
	s.log.Debug("lobby: disconnected", "peer", c.id, "reason", c.reason)
}

func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser
	}
	if len(s.cfg.AllowedOrigins) > 0 {
		for _, o := range s.cfg.AllowedOrigins {
			if o == "*" || strings.EqualFold(o, origin) {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// conn is one client connection.
type conn struct {
	s      *Server
	id     string
	ws     *websocket.Conn
	req    *http.Request
	addr   netip.Addr   // the client's address (see clientAddr)
	limits *addrState   // its address's limits
	send   chan []byte  // bounded by Config.SendQueue; full means the client is dropped. Never closed.
	queued atomic.Int64 // bytes in send, bounded by Config.SendQueueBytes

	once   sync.Once
	done   chan struct{} // closed by shutdown
	code   int           // close code; written before done is closed
	reason string        // close reason; written before done is closed

	lastActive atomic.Int64 // unix nanos of the last message received
	inRoom     atomic.Bool  // mirrors room != "" for the writer's idle check
	nmembers   atomic.Int32 // mirrors len(members) for the reader's rate limits
	readErr    error        // why the reader ended; the reader's own

	// Resumption (grace.go): detached is set once the WebSocket is gone and the
	// connection waits for its client to resume it.
	detached atomic.Bool

	// Guarded by Server.mu. Only the connection's own reader moves it into a room;
	// others (a closing host, the relay) may take it out.
	room    string          // the room hosted or joined, "" for none
	host    bool            // whether this connection hosts room
	hostID  string          // a member's host
	members map[string]bool // a host's members, as member_joined and member_left told it; change with setMember(s)Locked
	// A host's messages are held while its room is being created, so that "created"
	// comes first (a member may join before CreateRoom returns).
	holding bool
	held    []held
	// joining is set while a join's Store call runs; rooms closed meanwhile are
	// recorded, since the connection may have become their member.
	joining            bool
	closedWhileJoining []closedRoom
	// Resumption (grace.go). A resumption also sets id, on the connection's own
	// reader (which alone reads it without the lock).
	tokenHash [32]byte
	resumed   bool        // took over another connection
	waiting   []held      // messages for a detached connection
	grace     *time.Timer // ends the detached connection's grace
	graceEnds time.Time   // when
	// Resumption on another instance (handoff.go): the instance this connection is
	// being, or was, handed to, and that takeover's ID. Once set, this instance never
	// takes it out of its room: it moves.
	moving, moveReq string
}

type held struct {
	data []byte
	typ  string
}

type closedRoom struct{ id, reason string }

// maxClosedWhileJoining bounds conn.closedWhileJoining (one join adds the connection
// to one room; older entries come from stale memberships).
const maxClosedWhileJoining = 8

// shutdown asks the writer to send a close frame with code and reason and end the
// connection. It reports whether this call started the shutdown.
func (c *conn) shutdown(code int, reason string) (first bool) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		first = true
	})
	return first
}

// drop ends the connection at once, without a close frame (the writer may be blocked).
func (c *conn) drop(reason string) (first bool) {
	first = c.shutdown(websocket.CloseTryAgainLater, reason)
	_ = c.ws.Close()
	return first
}

// encode returns m as JSON (nil, logged, if it cannot be encoded).
func (s *Server) encode(m lobby.Message) []byte {
	data, err := json.Marshal(m)
	if err != nil {
		s.log.Error("lobby: encode", "type", m.Type, "err", err)
		return nil
	}
	return data
}

// enqueue encodes m and queues it. Never call it with Server.mu held (it encodes).
func (c *conn) enqueue(m lobby.Message) {
	c.queue(c.s.encode(m), m.Type)
}

// queue queues an encoded message of type typ without blocking; if the queue is full
// (in messages or bytes) the client is dropped. Messages to a closing connection are
// discarded. Messages to another connection go through queueLocked.
func (c *conn) queue(data []byte, typ string) {
	if data == nil {
		return
	}
	if c.detached.Load() {
		c.s.mu.Lock()
		c.hold(data, typ)
		c.s.mu.Unlock()
		return
	}
	select {
	case <-c.done:
		return // closing: nothing more will be written
	default:
	}
	n := int64(len(data))
	if q := c.queued.Add(n); q > int64(c.s.cfg.SendQueueBytes) && q != n {
		c.queued.Add(-n)
		c.slowConsumer()
		return
	}
	select {
	case c.send <- data:
		c.s.m.queuedBytes.Add(n)
		c.s.m.sentCounter(typ).Inc()
	default:
		c.queued.Add(-n)
		c.slowConsumer()
	}
}

// queueLocked is queue for messages from other connections and the relay, called with
// Server.mu held: it holds them back while c's room is being created.
func (c *conn) queueLocked(data []byte, typ string) {
	if c.detached.Load() && data != nil {
		c.hold(data, typ)
		return
	}
	if c.holding && data != nil {
		if len(c.held) >= c.s.cfg.SendQueue {
			c.slowConsumer()
			return
		}
		c.held = append(c.held, held{data, typ})
		return
	}
	c.queue(data, typ)
}

func (c *conn) slowConsumer() {
	if c.drop(lobby.ReasonSlowConsumer) {
		c.s.m.rejections.WithLabelValues(lobby.ReasonSlowConsumer).Inc()
		c.s.log.Info("lobby: dropped slow consumer", "peer", c.id, "addr", c.addr)
	}
}

func (c *conn) sendError(ref, code, msg string) {
	c.s.m.rejections.WithLabelValues(code).Inc()
	c.enqueue(lobby.Message{Type: lobby.TypeError, Ref: ref, Code: code, Message: msg})
}

// limited answers "rate_limited", counted under reason.
func (c *conn) limited(ref, reason, msg string) {
	c.s.m.rejections.WithLabelValues(reason).Inc()
	c.enqueue(lobby.Message{Type: lobby.TypeError, Ref: ref, Code: lobby.CodeRateLimited, Message: msg})
}

func (c *conn) writeLoop() {
	cfg := &c.s.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case data := <-c.send:
			n := int64(len(data))
			c.queued.Add(-n)
			c.s.m.queuedBytes.Add(-n)
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
				c.drop("write: " + err.Error())
				return
			}
		case <-ping.C:
			idle := time.Since(time.Unix(0, c.lastActive.Load()))
			if !c.inRoom.Load() && idle > cfg.IdleTimeout {
				c.s.m.rejections.WithLabelValues(lobby.ReasonIdle).Inc()
				c.shutdown(websocket.CloseNormalClosure, lobby.ReasonIdle)
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.drop("ping: " + err.Error())
				return
			}
		case <-c.done:
			msg := websocket.FormatCloseMessage(c.code, c.reason)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			_ = c.ws.Close()
			return
		}
	}
}

func (c *conn) readLoop() {
	cfg := &c.s.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	})
	messages := throttle{lim: rate.NewLimiter(rate.Limit(cfg.MessagesPerSecond), cfg.MessageBurst)}
	signals := throttle{lim: rate.NewLimiter(rate.Limit(cfg.SignalsPerSecond), cfg.SignalBurst)}
	var members int32 // the member count messages is scaled for
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readErr = err
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has already sent the 1009 close frame.
				c.s.m.rejections.WithLabelValues(lobby.ReasonReadLimit).Inc()
				c.shutdown(websocket.CloseMessageTooBig, lobby.ReasonReadLimit)
			}
			return
		}
		now := time.Now()
		_ = c.ws.SetReadDeadline(now.Add(cfg.PongTimeout))
		c.lastActive.Store(now.UnixNano())

		if n := c.nmembers.Load(); n != members {
			// A host's budget grows with its room (see Config.MessagesPerSecond).
			members = n
			messages.lim.SetLimitAt(now, rate.Limit(cfg.MessagesPerSecond*float64(1+n)))
			messages.lim.SetBurstAt(now, cfg.MessageBurst*int(1+n))
		}
		if !messages.wait(c, now) {
			return
		}

		if typ != websocket.TextMessage {
			c.s.m.received.WithLabelValues("invalid").Inc()
			c.s.m.rejections.WithLabelValues(lobby.ReasonBinaryFrame).Inc()
			c.enqueue(lobby.Message{Type: lobby.TypeError, Code: lobby.CodeBadMessage,
				Message: "binary frame: the lobby protocol is JSON in text frames only"})
			continue
		}
		m, err := lobby.DecodeMessage(data)
		if err != nil {
			c.s.m.received.WithLabelValues("invalid").Inc()
			var pe *lobby.ProtocolError
			if errors.As(err, &pe) {
				c.sendError(pe.Ref, pe.Code, pe.Detail)
			}
			continue
		}
		if m.Type == lobby.TypeSignal && members == 0 && !signals.wait(c, time.Now()) {
			return
		}
		c.s.m.received.WithLabelValues(m.Type).Inc()
		c.s.handle(c, m)
	}
}

// setMemberLocked records that peer joined (member) or left the room c hosts. Called
// with Server.mu held.
func (c *conn) setMemberLocked(peer string, member bool) {
	if member {
		c.members[peer] = true
	} else {
		delete(c.members, peer)
	}
	c.nmembers.Store(int32(len(c.members)))
}

// setMembersLocked replaces the members of the room c hosts (nil: it hosts none).
// Called with Server.mu held.
func (c *conn) setMembersLocked(m map[string]bool) {
	c.members = m
	c.nmembers.Store(int32(len(m)))
}

// throttle is a connection reader's rate limit: messages beyond it are not read until
// the rate allows.
type throttle struct {
	lim   *rate.Limiter
	since time.Time // since when every message has arrived early; zero while not
}

// wait waits until the limit allows one more message at now. It reports false once
// the connection has stayed throttled by this limit for Config.ThrottleTimeout (it is
// flooding: wait closes it with 1008, rate_limited) or when the connection closes.
func (t *throttle) wait(c *conn, now time.Time) bool {
	d := t.lim.ReserveN(now, 1).DelayFrom(now)
	if d <= 0 {
		t.since = time.Time{}
		return true
	}
	if t.since.IsZero() {
		t.since = now
	} else if now.Sub(t.since) > c.s.cfg.ThrottleTimeout {
		c.s.m.rejections.WithLabelValues(lobby.ReasonRateLimited).Inc()
		c.shutdown(websocket.ClosePolicyViolation, lobby.ReasonRateLimited)
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.done:
		return false
	}
}

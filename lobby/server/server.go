package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
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
// ServeHTTP) and one writer goroutine. All room state changes go through a single
// mutex-protected hub (Server.mu): a handler decodes a message outside the lock, then
// takes mu, calls the Store and queues replies without blocking (a full queue drops the
// connection), and releases mu. No I/O happens under mu.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    Store
	m        *metrics
	grace    graceMetrics
	relay    *relayState // nil unless the Store is shared (relayOpener)
	upgrader websocket.Upgrader
	nconns   atomic.Int64

	mu     sync.Mutex       // the hub lock
	conns  map[string]*conn // guarded by mu
	closed bool             // guarded by mu
	wg     sync.WaitGroup   // running connections; Add under mu while !closed
}

// New returns a Server with cfg (whose zero value works).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		store: cfg.Store,
		m:     newMetrics(),
		conns: make(map[string]*conn),
	}
	s.grace = newGraceMetrics(s.m.reg)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout:  cfg.HandshakeTimeout,
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		EnableCompression: false,
		// The Origin is checked (and counted) in ServeHTTP before the upgrade.
		CheckOrigin: func(*http.Request) bool { return true },
	}
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

// HealthHandler answers 200 "ok" while the server runs and 503 once it is closed (or,
// with a shared store, until this instance has joined the relay).
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			http.Error(w, "closed", http.StatusServiceUnavailable)
			return
		}
		if !s.relayReady() {
			http.Error(w, "store not ready", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Mux returns a mux serving the WebSocket endpoint at /ws, /healthz and /metrics.
func (s *Server) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
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
	if !s.originAllowed(r) {
		s.reject(w, lobby.ReasonOrigin, "lobby: origin not allowed", http.StatusForbidden)
		return
	}
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
		s:    s,
		id:   s.newConnID(),
		ws:   ws,
		req:  r,
		send: make(chan []byte, s.cfg.SendQueue),
		done: make(chan struct{}),
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
	s.log.Debug("lobby: connected", "peer", c.id, "remote", c.req.RemoteAddr)
	c.enqueue(lobby.Message{Type: lobby.TypeWelcome, ID: c.id, ICEServers: s.iceServersFor(c.id), Token: token, Grace: s.graceMillis()})

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	clientEnded := c.shutdown(websocket.CloseNormalClosure, "")
	s.leaveOrDetach(c, c.readErr, !clientEnded)
	<-writerDone
	_ = c.ws.Close()
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
	s    *Server
	id   string
	ws   *websocket.Conn
	req  *http.Request
	send chan []byte // bounded by Config.SendQueue; full means the client is dropped. Never closed.

	once   sync.Once
	done   chan struct{} // closed by shutdown
	code   int           // close code; written before done is closed
	reason string        // close reason; written before done is closed

	lastActive atomic.Int64 // unix nanos of the last message received
	inRoom     atomic.Bool  // mirrors room != "" for the writer's idle check
	readErr    error        // why the reader ended; the reader's own

	// Resumption (grace.go). detached is set once the WebSocket is gone and the
	// connection waits for its client to resume it.
	detached atomic.Bool

	// Guarded by Server.mu. A resumption sets id (the reader's own goroutine reads it
	// freely: only that goroutine writes it).
	room      string // the room hosted or joined, "" for none
	host      bool   // whether this connection hosts room
	tokenHash [32]byte
	resumed   bool        // took over a detached connection
	held      [][]byte    // messages waiting for a detached connection
	grace     *time.Timer // ends the detached connection's grace
}

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

// enqueue queues m without blocking; if the queue is full the client is dropped.
// Messages to a closing connection are discarded.
func (c *conn) enqueue(m lobby.Message) {
	if c.detached.Load() {
		if data, err := json.Marshal(m); err == nil {
			c.hold(data)
		}
		return
	}
	select {
	case <-c.done:
		return // closing: nothing more will be written
	default:
	}
	data, err := json.Marshal(m)
	if err != nil {
		c.s.log.Error("lobby: encode", "err", err)
		return
	}
	if c.enqueueRaw(data) {
		c.s.m.sent.WithLabelValues(m.Type).Inc()
	}
}

// enqueueRaw queues an encoded message without blocking, dropping the client if its
// queue is full; it reports whether the message was queued.
func (c *conn) enqueueRaw(data []byte) bool {
	select {
	case c.send <- data:
		return true
	default:
		if c.drop(lobby.ReasonSlowConsumer) {
			c.s.m.rejections.WithLabelValues(lobby.ReasonSlowConsumer).Inc()
			c.s.log.Info("lobby: dropped slow consumer", "peer", c.id)
		}
		return false
	}
}

func (c *conn) sendError(ref, code, msg string) {
	c.s.m.rejections.WithLabelValues(code).Inc()
	c.enqueue(lobby.Message{Type: lobby.TypeError, Ref: ref, Code: code, Message: msg})
}

func (c *conn) writeLoop() {
	cfg := &c.s.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case data := <-c.send:
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
	lim := rate.NewLimiter(rate.Limit(cfg.MessagesPerSecond), cfg.MessageBurst)
	var throttledSince time.Time // zero while not throttled
	for {
		_, data, err := c.ws.ReadMessage()
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

		if d := lim.ReserveN(now, 1).DelayFrom(now); d > 0 {
			// Throttle: stop reading this connection until the rate allows. One that
			// stays throttled for ThrottleTimeout is flooding: close it.
			if throttledSince.IsZero() {
				throttledSince = now
			} else if now.Sub(throttledSince) > cfg.ThrottleTimeout {
				c.s.m.rejections.WithLabelValues(lobby.ReasonRateLimited).Inc()
				c.shutdown(websocket.ClosePolicyViolation, lobby.ReasonRateLimited)
				return
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return
			}
		} else {
			throttledSince = time.Time{}
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
		c.s.m.received.WithLabelValues(m.Type).Inc()
		c.s.handle(c, m)
	}
}

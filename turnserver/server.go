package turnserver

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// Server is a running TURN relay. Its methods are safe for concurrent use.
//
// pion/turn owns the protocol; Server wraps the sockets pion is given so that it can
// enforce the quotas (the relay sockets count the allocations and carry the
// bandwidth bucket), bound and time out TCP connections, count everything, and know
// when pion's goroutines are done on Close.
type Server struct {
	cfg  Config
	turn *turn.Server
	udp  *udpConn     // nil without ListenUDP
	tcp  *tcpListener // nil without ListenTCP
	m    *metrics

	mu       sync.Mutex
	users    map[string]int        // live allocations by user; guarded by mu
	total    int                   // live allocations; guarded by mu
	tcpConns map[*tcpConn]struct{} // open TCP connections; guarded by mu
	closed   bool                  // guarded by mu
	relays   sync.WaitGroup        // relay sockets not yet closed
	conns    sync.WaitGroup        // TCP connections pion has not closed yet
	once     sync.Once
}

// New starts a TURN server on the configured addresses.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Secret == "":
		return nil, fmt.Errorf("%w: Secret is required (the lobby's TURN secret)", ErrConfig)
	case cfg.ListenUDP == "" && cfg.ListenTCP == "":
		return nil, fmt.Errorf("%w: ListenUDP or ListenTCP is required", ErrConfig)
	case cfg.RelayPortMin > cfg.RelayPortMax || cfg.RelayPortMax > 65535:
		return nil, fmt.Errorf("%w: relay ports %d-%d", ErrConfig, cfg.RelayPortMin, cfg.RelayPortMax)
	}
	if cfg.RelayIP == nil {
		cfg.RelayIP = listenIP(cfg.ListenUDP)
		if cfg.RelayIP == nil {
			cfg.RelayIP = listenIP(cfg.ListenTCP)
		}
		if cfg.RelayIP == nil {
			return nil, fmt.Errorf("%w: RelayIP is required when listening on every interface", ErrConfig)
		}
	}
	s := &Server{
		cfg:      cfg,
		m:        newMetrics(),
		users:    map[string]int{},
		tcpConns: map[*tcpConn]struct{}{},
	}
	s.m.allocations = func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(s.total)
	}
	s.m.tcpOpen = func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.tcpConns))
	}
	gen := func() turn.RelayAddressGenerator {
		return &relayGen{s: s, gen: &turn.RelayAddressGeneratorPortRange{
			RelayAddress: cfg.RelayIP,
			Address:      cfg.RelayBind,
			MinPort:      uint16(cfg.RelayPortMin),
			MaxPort:      uint16(cfg.RelayPortMax),
			MaxRetries:   32,
		}}
	}
	sc := turn.ServerConfig{
		Realm:              cfg.Realm,
		AuthHandler:        s.auth,
		QuotaHandler:       s.quota,
		LoggerFactory:      pionLogs{cfg.Logger},
		AllocationLifetime: cfg.AllocationLifetime,
		EventHandler: turn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onCreated,
		},
	}
	if cfg.ListenUDP != "" {
		pc, err := net.ListenPacket("udp4", cfg.ListenUDP)
		if err != nil {
			return nil, fmt.Errorf("turnserver: listen udp %s: %w", cfg.ListenUDP, err)
		}
		s.udp = &udpConn{PacketConn: pc, done: make(chan struct{})}
		sc.PacketConnConfigs = []turn.PacketConnConfig{{PacketConn: s.udp, RelayAddressGenerator: gen()}}
	}
	if cfg.ListenTCP != "" {
		ln, err := net.Listen("tcp4", cfg.ListenTCP)
		if err != nil {
			if s.udp != nil {
				_ = s.udp.Close()
			}
			return nil, fmt.Errorf("turnserver: listen tcp %s: %w", cfg.ListenTCP, err)
		}
		s.tcp = &tcpListener{Listener: ln, s: s, done: make(chan struct{})}
		sc.ListenerConfigs = []turn.ListenerConfig{{Listener: s.tcp, RelayAddressGenerator: gen()}}
	}
	t, err := turn.NewServer(sc)
	if err != nil {
		if s.udp != nil {
			_ = s.udp.Close()
		}
		if s.tcp != nil {
			_ = s.tcp.Close()
		}
		return nil, fmt.Errorf("turnserver: %w", err)
	}
	s.turn = t
	cfg.Logger.Info("turn relay listening", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "relay_ip", cfg.RelayIP,
		"relay_ports", fmt.Sprintf("%d-%d", cfg.RelayPortMin, cfg.RelayPortMax))
	return s, nil
}

// listenIP returns the IP a listen address names, or nil for every interface.
func listenIP(addr string) net.IP {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return ip
}

// UDPAddr returns the address of TURN over UDP, or nil.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the address of TURN over TCP, or nil.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// URLs returns the TURN URLs that reach this server at host (its RelayIP when host is
// empty): "turn:host:port?transport=udp" and "turn:host:port?transport=tcp" for the
// transports it listens on. Hand them to the lobby (lobbyserver.Config.TURNURLs).
func (s *Server) URLs(host string) []string {
	if host == "" {
		host = s.cfg.RelayIP.String()
	}
	var urls []string
	for _, a := range []struct {
		addr  net.Addr
		proto string
	}{{s.UDPAddr(), "udp"}, {s.TCPAddr(), "tcp"}} {
		if a.addr == nil {
			continue
		}
		_, port, _ := net.SplitHostPort(a.addr.String())
		urls = append(urls, "turn:"+net.JoinHostPort(host, port)+"?transport="+a.proto)
	}
	return urls
}

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Close stops the server: it closes the listeners, every TCP connection and every
// allocation, and returns once pion's goroutines have let go of them.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*tcpConn, 0, len(s.tcpConns))
		for c := range s.tcpConns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		err = s.turn.Close()
		// pion leaves accepted TCP connections open: close them under it, so its
		// per-connection goroutines end and close their allocations.
		for _, c := range conns {
			_ = c.Conn.Close()
		}
		if s.udp != nil {
			<-s.udp.done // pion's read loop has ended and closes the allocations
		}
		if s.tcp != nil {
			<-s.tcp.done
		}
		s.conns.Wait()
		s.relays.Wait()
	})
	return err
}

// auth checks a TURN REST credential: username "<expiry unix seconds>:<user>",
// password base64(HMAC-SHA1(Secret, username)). It returns the key pion checks the
// request's integrity with; a wrong password fails that check (counted in onAuth).
func (s *Server) auth(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	expiry, user, found := strings.Cut(ra.Username, ":")
	if !found {
		user = ra.Username
	}
	t, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		s.m.auth.WithLabelValues(authMalformed).Inc()
		return "", nil, false
	}
	if !time.Unix(t, 0).After(s.cfg.Now()) {
		s.m.auth.WithLabelValues(authExpired).Inc()
		return "", nil, false
	}
	mac := hmac.New(sha1.New, []byte(s.cfg.Secret))
	mac.Write([]byte(ra.Username))
	password := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return user, turn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

func (s *Server) onAuth(_, _ net.Addr, _, _, _, _ string, verdict bool) {
	if verdict {
		s.m.auth.WithLabelValues(authOK).Inc()
	} else {
		s.m.auth.WithLabelValues(authBadCredentials).Inc()
	}
}

func (s *Server) onCreated(_, dst net.Addr, _, _, _ string, _ net.Addr, _ int) {
	transport := "udp"
	if _, ok := dst.(*net.TCPAddr); ok {
		transport = "tcp"
	}
	s.m.created.WithLabelValues(transport).Inc()
}

// quotaErr says which quota an allocation for user would exceed, or nil. Called with
// s.mu held.
func (s *Server) quotaErrLocked(user string) error {
	switch {
	case s.closed:
		return net.ErrClosed
	case s.total >= s.cfg.MaxAllocations:
		return ErrTotalQuota
	case s.users[user] >= s.cfg.MaxAllocationsPerUser:
		return ErrUserQuota
	}
	return nil
}

// quota is pion's QuotaHandler: a refusal here is answered 486 (Allocation Quota
// Reached). reserve enforces the same bound atomically when the socket is made.
func (s *Server) quota(user, _ string, _ net.Addr) bool {
	s.mu.Lock()
	err := s.quotaErrLocked(user)
	s.mu.Unlock()
	if err != nil {
		s.refused(err)
		return false
	}
	return true
}

func (s *Server) refused(err error) {
	switch {
	case errors.Is(err, ErrUserQuota):
		s.m.refusals.WithLabelValues(refusedUserQuota).Inc()
	case errors.Is(err, ErrTotalQuota):
		s.m.refusals.WithLabelValues(refusedTotalQuota).Inc()
	case errors.Is(err, ErrTCPRelay):
		s.m.refusals.WithLabelValues(refusedTCPRelay).Inc()
	}
}

// reserve counts an allocation for user, unless a quota forbids it.
func (s *Server) reserve(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.quotaErrLocked(user); err != nil {
		return err
	}
	s.users[user]++
	s.total++
	s.relays.Add(1)
	return nil
}

// release uncounts an allocation of user.
func (s *Server) release(user string) {
	s.mu.Lock()
	if s.users[user]--; s.users[user] <= 0 {
		delete(s.users, user)
	}
	s.total--
	s.mu.Unlock()
	s.relays.Done()
}

// relayGen makes the relay sockets: pion's port-range generator, with the quotas
// checked and the sockets wrapped.
type relayGen struct {
	s   *Server
	gen *turn.RelayAddressGeneratorPortRange
}

func (g *relayGen) Validate() error { return g.gen.Validate() }

func (g *relayGen) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if err := g.s.reserve(c.UserID); err != nil {
		g.s.refused(err)
		return nil, nil, err
	}
	pc, addr, err := g.gen.AllocatePacketConn(c)
	if err != nil {
		g.s.release(c.UserID)
		return nil, nil, err
	}
	cfg := &g.s.cfg
	return &relayConn{
		PacketConn: pc,
		s:          g.s,
		user:       c.UserID,
		bucket:     rate.NewLimiter(rate.Limit(cfg.AllocationBandwidth), cfg.AllocationBurst),
	}, addr, nil
}

func (g *relayGen) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	g.s.refused(ErrTCPRelay)
	return nil, nil, ErrTCPRelay
}

func (g *relayGen) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelay
}

// relayConn is one allocation's relay socket: it carries the allocation's bandwidth
// bucket and releases its quota when pion closes it.
type relayConn struct {
	net.PacketConn
	s      *Server
	user   string
	bucket *rate.Limiter
	once   sync.Once
}

// ReadFrom returns the next datagram from a peer (on its way to the client) that fits
// the bucket; the others are dropped.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if !c.bucket.AllowN(time.Now(), n) {
			c.s.m.dropped.WithLabelValues(dropBandwidth).Inc()
			continue
		}
		c.s.m.relayed.WithLabelValues(toClient).Add(float64(n))
		return n, addr, nil
	}
}

// WriteTo sends a client's datagram to a peer if it fits the bucket; otherwise it is
// dropped, as a congested link would.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.bucket.AllowN(time.Now(), len(p)) {
		c.s.m.dropped.WithLabelValues(dropBandwidth).Inc()
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	c.s.m.relayed.WithLabelValues(toPeer).Add(float64(n))
	return n, err
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() { c.s.release(c.user) })
	return err
}

// udpConn is the TURN-over-UDP socket; done closes when pion's read loop ends.
type udpConn struct {
	net.PacketConn
	once sync.Once
	done chan struct{}
}

func (c *udpConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		c.once.Do(func() { close(c.done) }) // pion's read loop ends on any error
	}
	return n, addr, err
}

// tcpListener bounds TURN-over-TCP connections and tracks them; done closes when
// pion's accept loop ends.
type tcpListener struct {
	net.Listener
	s    *Server
	once sync.Once
	done chan struct{}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.once.Do(func() { close(l.done) }) // pion's accept loop ends on any error
			return nil, err
		}
		s := l.s
		s.mu.Lock()
		if s.closed || len(s.tcpConns) >= s.cfg.MaxTCPConnections {
			s.mu.Unlock()
			s.m.refusals.WithLabelValues(refusedTCPConns).Inc()
			_ = c.Close()
			continue
		}
		tc := &tcpConn{Conn: c, s: s}
		s.tcpConns[tc] = struct{}{}
		s.conns.Add(1)
		s.mu.Unlock()
		return tc, nil
	}
}

// tcpConn is one TURN-over-TCP connection: each read waits at most TCPIdleTimeout.
type tcpConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *tcpConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.s.cfg.TCPIdleTimeout))
	return c.Conn.Read(p)
}

// Close is called by pion when it is done with the connection.
func (c *tcpConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.tcpConns, c)
		c.s.mu.Unlock()
		c.s.conns.Done()
	})
	return err
}

package turnserver

import (
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"

	lobbyserver "github.com/volleynet/volley/lobby/server"
)

// turnClient is a pion TURN client over its own UDP socket, to probe the server.
type turnClient struct {
	c    *turn.Client
	conn net.PacketConn
}

func dialTURN(t *testing.T, s *Server, username, password string) *turnClient {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: s.UDPAddr().String(),
		TURNServerAddr: s.UDPAddr().String(),
		Username:       username,
		Password:       password,
		Realm:          "volley",
		Conn:           conn,
		RTO:            time.Second, // a loaded machine still answers within it
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		c.Close()
		conn.Close()
		t.Fatal(err)
	}
	tc := &turnClient{c: c, conn: conn}
	t.Cleanup(tc.close)
	return tc
}

func (tc *turnClient) close() {
	tc.c.Close()
	tc.conn.Close()
}

// credential is what the lobby hands user for the test secret.
func credential(user string, expiry time.Time) (string, string) {
	return lobbyserver.TURNCredentials(testSecret, user, expiry)
}

// waitMetric polls a counter (no event exists for it) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a counter: there is no event to wait on
	}
}

// TestCredentials: the lobby's credentials allocate; a wrong password, an expired
// credential and a malformed username are refused and counted.
func TestCredentials(t *testing.T) {
	s := startTURN(t, Config{ListenUDP: "127.0.0.1:0"})
	future := time.Now().Add(time.Hour)
	user, pass := credential("c1", future)
	relay, err := dialTURN(t, s, user, pass).c.Allocate()
	if err != nil {
		t.Fatalf("valid lobby credential refused: %v", err)
	}
	defer relay.Close()
	expUser, expPass := credential("c2", time.Now().Add(-time.Minute))
	_, forged := lobbyserver.TURNCredentials("another-secret", "c3", future)
	forgedUser, _ := credential("c3", future)
	for _, tc := range []struct {
		name, user, pass, result string
	}{
		{"wrong password", forgedUser, forged, authBadCredentials},
		{"expired", expUser, expPass, authExpired},
		{"malformed", "someone", "secret", authMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(s.m.auth.WithLabelValues(tc.result))
			if _, err := dialTURN(t, s, tc.user, tc.pass).c.Allocate(); err == nil {
				t.Fatal("allocation granted")
			}
			if got := testutil.ToFloat64(s.m.auth.WithLabelValues(tc.result)); got <= before {
				t.Fatalf("auth{result=%q} = %v, want it counted", tc.result, got)
			}
		})
	}
	if n := s.Allocations(); n != 1 {
		t.Fatalf("%d live allocations, want the valid one only", n)
	}
}

// TestQuotas: allocations per user and in all are bounded, and a closed allocation
// frees its place.
func TestQuotas(t *testing.T) {
	s := startTURN(t, Config{ListenUDP: "127.0.0.1:0", MaxAllocationsPerUser: 2, MaxAllocations: 3})
	future := time.Now().Add(time.Hour)
	alloc := func(user string) (net.PacketConn, error) {
		u, p := credential(user, future)
		relay, err := dialTURN(t, s, u, p).c.Allocate()
		if err == nil {
			t.Cleanup(func() { relay.Close() })
		}
		return relay, err
	}
	a1, err := alloc("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alloc("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := alloc("alice"); err == nil {
		t.Fatal("alice's third allocation granted over MaxAllocationsPerUser 2")
	}
	if got := testutil.ToFloat64(s.m.refusals.WithLabelValues(refusedUserQuota)); got != 1 {
		t.Fatalf("refusals{user_quota} = %v, want 1", got)
	}
	if _, err := alloc("bob"); err != nil {
		t.Fatalf("bob refused while under his quota: %v", err)
	}
	if _, err := alloc("bob"); err == nil {
		t.Fatal("bob's allocation granted over MaxAllocations 3")
	}
	if got := testutil.ToFloat64(s.m.refusals.WithLabelValues(refusedTotalQuota)); got != 1 {
		t.Fatalf("refusals{total_quota} = %v, want 1", got)
	}
	a1.Close() // deallocates: a refresh with lifetime 0
	waitFor(t, "alice's first allocation to be released", func() bool { return s.Allocations() == 2 })
	if _, err := alloc("bob"); err != nil {
		t.Fatalf("bob refused after a place was freed: %v", err)
	}
}

// TestBandwidth: an allocation relays at most its bucket; the rest is dropped and
// counted.
func TestBandwidth(t *testing.T) {
	const burst, size, sent = 4096, 1000, 20
	s := startTURN(t, Config{ListenUDP: "127.0.0.1:0", AllocationBandwidth: 1, AllocationBurst: burst})
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	u, p := credential("c1", time.Now().Add(time.Hour))
	relay, err := dialTURN(t, s, u, p).c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	payload := make([]byte, size)
	for range sent {
		if _, err := relay.WriteTo(payload, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	relayed := func() int { return int(testutil.ToFloat64(s.m.relayed.WithLabelValues(toPeer))) / size }
	dropped := func() int { return int(testutil.ToFloat64(s.m.dropped.WithLabelValues(dropBandwidth))) }
	waitFor(t, "every datagram to be relayed or dropped", func() bool { return relayed()+dropped() == sent })
	// At 1 byte/s the bucket passes its burst and nothing more within the test.
	if max := burst/size + 1; relayed() > max {
		t.Fatalf("relayed %d of %d datagrams of %d bytes, want at most %d (burst %d)", relayed(), sent, size, max, burst)
	}
	got := 0
	buf := make([]byte, 2048)
	for got < relayed() {
		peer.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, _, err := peer.ReadFrom(buf); err != nil {
			t.Fatalf("peer received %d of the %d relayed datagrams: %v", got, relayed(), err)
		}
		got++
	}
}

// TestTCPLimits: TURN-over-TCP connections beyond MaxTCPConnections are closed at
// once, and an idle one is closed after TCPIdleTimeout.
func TestTCPLimits(t *testing.T) {
	s := startTURN(t, Config{ListenTCP: "127.0.0.1:0", MaxTCPConnections: 1, TCPIdleTimeout: 200 * time.Millisecond})
	first, err := net.Dial("tcp4", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	waitFor(t, "the first connection to be counted", func() bool { return s.m.tcpOpen() == 1 })
	second, err := net.Dial("tcp4", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("connection over MaxTCPConnections: read = %v, want it closed", err)
	}
	if got := testutil.ToFloat64(s.m.refusals.WithLabelValues(refusedTCPConns)); got != 1 {
		t.Fatalf("refusals{tcp_connections} = %v, want 1", got)
	}
	// The first, silent, is closed for idleness.
	first.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := first.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("idle connection: read = %v, want it closed", err)
	}
	waitFor(t, "the idle connection to be released", func() bool { return s.m.tcpOpen() == 0 })
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestConfig: a Server needs a secret, a listener and a relay IP.
func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{ListenUDP: "127.0.0.1:0"},
		{Secret: "s"},
		{Secret: "s", ListenUDP: ":0"},
		{Secret: "s", ListenUDP: "127.0.0.1:0", RelayPortMin: 6000, RelayPortMax: 5000},
	} {
		if s, err := New(cfg); !errors.Is(err, ErrConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	s := startTURN(t, Config{ListenUDP: ":0", RelayIP: net.IPv4(203, 0, 113, 7)})
	_, port, _ := net.SplitHostPort(s.UDPAddr().String())
	if got := s.URLs(""); len(got) != 1 || got[0] != "turn:203.0.113.7:"+port+"?transport=udp" {
		t.Fatalf("URLs = %v", got)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
}

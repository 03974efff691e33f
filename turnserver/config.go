package turnserver

import (
	"log/slog"
	"net"
	"time"
)

// Config configures a Server. Secret and at least one of ListenUDP and ListenTCP are
// required; every other field has a default.
type Config struct {
	// Secret is the TURN REST API shared secret: the lobby's TURN secret
	// (lobbyserver.Config.TURNSecret, LOBBY_TURN_SECRET), so the credentials the
	// lobby hands out in its welcome work here. Required.
	Secret string
	// Realm is the TURN realm. Default "volley".
	Realm string

	// ListenUDP is the address of TURN over UDP, e.g. ":3478". ListenTCP is the address
	// of TURN over TCP, for players whose network blocks UDP (it may be the same
	// port). Default: none; at least one is required.
	ListenUDP string
	ListenTCP string

	// RelayIP is the address relayed candidates advertise: the machine's public IP,
	// which peers send to. Default: the IP of ListenUDP (or ListenTCP) when that
	// names one; required when both listen on every interface.
	RelayIP net.IP
	// RelayBind is the local address relay sockets are bound to. Default "0.0.0.0".
	RelayBind string
	// RelayPortMin and RelayPortMax bound the relay ports (open them in the
	// firewall; each allocation takes one). Defaults 49152 and 65535.
	RelayPortMin, RelayPortMax int

	// MaxAllocationsPerUser bounds the live allocations of one user, the id in
	// the credential's username (the lobby's connection ID): a WebRTC peer needs
	// one per TURN URL it uses. Beyond it an Allocate is answered 486 (Allocation
	// Quota Reached) and counted (refusals{reason="user_quota"}). Default 8.
	MaxAllocationsPerUser int
	// MaxAllocations bounds all live allocations (refusals{reason="total_quota"}).
	// Default 4096.
	MaxAllocations int
	// AllocationBandwidth bounds the bytes per second one allocation relays, both
	// directions together (a token bucket of AllocationBurst bytes); datagrams over
	// it are dropped and counted (dropped_packets{reason="bandwidth"}), as a
	// congested link would drop them. Defaults 256 KiB/s (about 30 times an arena
	// player's traffic at 30 snapshots a second) and 64 KiB (at least 2 KiB).
	AllocationBandwidth int
	AllocationBurst     int
	// AllocationLifetime is an allocation's lifetime unless refreshed (clients
	// refresh well before it ends). Default 10 minutes.
	AllocationLifetime time.Duration

	// MaxTCPConnections bounds TURN-over-TCP connections; more are closed at once
	// (refusals{reason="tcp_connections"}). Default 4096.
	MaxTCPConnections int
	// TCPIdleTimeout closes a TURN-over-TCP connection that sends nothing for this
	// long (a WebRTC peer sends consent checks every few seconds). Default 2 minutes.
	TCPIdleTimeout time.Duration

	// Now is the clock that credential expiry is checked against. Default time.Now.
	Now func() time.Time
	// Logger receives the relay's events (pion's own log lines at debug level).
	// Default: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Realm == "" {
		c.Realm = "volley"
	}
	if c.RelayBind == "" {
		c.RelayBind = "0.0.0.0"
	}
	if c.RelayPortMin <= 0 {
		c.RelayPortMin = 49152
	}
	if c.RelayPortMax <= 0 {
		c.RelayPortMax = 65535
	}
	if c.MaxAllocationsPerUser <= 0 {
		c.MaxAllocationsPerUser = 8
	}
	if c.MaxAllocations <= 0 {
		c.MaxAllocations = 4096
	}
	if c.AllocationBandwidth <= 0 {
		c.AllocationBandwidth = 256 << 10
	}
	if c.AllocationBurst <= 0 {
		c.AllocationBurst = 64 << 10
	}
	c.AllocationBurst = max(c.AllocationBurst, minBurst)
	if c.AllocationLifetime <= 0 {
		c.AllocationLifetime = 10 * time.Minute
	}
	if c.MaxTCPConnections <= 0 {
		c.MaxTCPConnections = 4096
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = 2 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// minBurst is the smallest token bucket that still passes the largest datagram pion
// relays (its MTU is 1,600 bytes).
const minBurst = 2048

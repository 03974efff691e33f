package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/volleynet/volley/lobby"
)

// Config configures a Server. The zero value works: an open development lobby with the
// limits below.
type Config struct {
	// Logger receives connection and room events. Default: discard.
	Logger *slog.Logger
	// Store holds room state. Default: NewMemoryStore() (one instance). A RedisStore
	// lets several instances serve the same rooms; the Server then also relays signals
	// and room events to connections held by the other instances.
	Store Store
	// Now is the clock used for TURN credential expiry. Default: time.Now.
	Now func() time.Time

	// AllowedOrigins lists the Origin header values ("https://game.example.com") that may
	// connect; "*" allows any. A request without an Origin header (a non-browser client)
	// is always allowed. Default (empty): the same origin as the request's Host, and any
	// origin on localhost, 127.0.0.1 or [::1].
	AllowedOrigins []string

	// ICEServers are sent as they are in every "welcome" (STUN, or TURN with fixed
	// credentials). Default: none (host candidates only, enough on a LAN or loopback).
	ICEServers []lobby.ICEServer
	// TURNURLs are TURN server URLs ("turn:turn.example.com:3478?transport=udp"). With
	// TURNSecret set, each "welcome" carries them with credentials from TURNCredentials
	// valid for TURNCredentialTTL. Default: none.
	TURNURLs []string
	// TURNSecret is the TURN REST API shared secret (coturn's static-auth-secret).
	TURNSecret string
	// TURNCredentialTTL is how long TURN credentials stay valid. Default: 12 hours.
	TURNCredentialTTL time.Duration

	// HostSecret, when set, must be sent as "secret" in "create": only holders of it may
	// host rooms. Default: empty, anyone may create rooms (development).
	HostSecret string
	// AuthorizeHost, when set, is called for every "create" (after the HostSecret check,
	// without any lock held) with the upgrade request, the connection ID and the message's
	// "secret"; a non-nil error answers "forbidden". Default: nil.
	AuthorizeHost func(ctx context.Context, r *http.Request, peerID, secret string) error

	// ReadLimit is the largest frame a client may send, in bytes; a larger frame closes
	// the connection with 1009 (message too big). Default: 128 KiB (an SDP of
	// signaling.MaxSDPBytes plus JSON escaping).
	ReadLimit int64
	// MessagesPerSecond is each connection's sustained message rate and MessageBurst its
	// burst (a token bucket). Messages beyond it are throttled: the server stops reading
	// from that connection until the rate allows. A connection that stays throttled (every
	// message it sends arrives early) for longer than ThrottleTimeout is closed with 1008
	// (policy violation, reason "rate_limited"). A host's rate and burst grow with its
	// room: they are multiplied by 1 + the number of members, since it signals each
	// member as much as that member signals it.
	// Defaults: 50 per second, burst 100, 2 s.
	MessagesPerSecond float64
	MessageBurst      int           // default 100
	ThrottleTimeout   time.Duration // default 2 s
	// SignalsPerSecond and SignalBurst bound the signals of a connection that hosts no
	// members (a player), on top of MessagesPerSecond, and are throttled the same way.
	// Each signal a player sends can make its host answer with several (an answer and
	// its candidates), so they must stay well below the host's budget per member
	// (MessagesPerSecond): otherwise players signaling at their full message rate could
	// get their host's connection closed. An honest negotiation (an offer, a dozen
	// candidates, an ICE restart later) fits in the burst.
	// Defaults: 10 per second, burst 40.
	SignalsPerSecond float64
	SignalBurst      int
	// SendQueue is the number of outgoing messages buffered per connection, and
	// SendQueueBytes the bytes they may hold together (a message alone in the queue is
	// always taken). A client that does not read fast enough to keep the queue from
	// filling, by either measure, is disconnected at once (its room then behaves as if
	// it had left; counted as lobby_rejections_total{reason="slow_consumer"}).
	// Defaults: 256 messages, 1 MiB.
	SendQueue      int
	SendQueueBytes int // default 1 MiB
	// WriteTimeout bounds each write to a connection. Default: 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings; PongTimeout is how long it waits for
	// any frame (a pong or a message) before closing the connection.
	// Defaults: 25 s and 60 s (PingInterval is lowered below PongTimeout if needed).
	PingInterval time.Duration
	PongTimeout  time.Duration // default 60 s
	// IdleTimeout closes (with 1000, reason "idle") a connection that has been in no room
	// and sent no message for this long, checked at each ping. Default: 5 minutes.
	IdleTimeout time.Duration
	// MemberGrace is how long a connection in a room whose WebSocket drops (without
	// a normal close from its client) keeps its ID, room and seat for the client to
	// resume it with "resume" and the token of its welcome; a host's room stays
	// open meanwhile, and messages for it wait (at most SendQueue). Once it passes,
	// the connection leaves its room. With a shared store the client may resume it
	// through any instance (see "Several instances" in the package doc). Default
	// 20 s; negative disables resumption.
	MemberGrace time.Duration
	// HandshakeTimeout bounds the WebSocket upgrade. Default: 10 s.
	HandshakeTimeout time.Duration
	// MaxConnections bounds concurrent connections; more are refused with HTTP 503 before
	// the upgrade. Default: 10000.
	MaxConnections int

	// StoreTimeout bounds each Store call (and each relay publish to another instance);
	// a request whose call times out is answered "internal". A resumption of a
	// connection held by another instance waits twice as long for its handoff. No Store call ever runs
	// under a lock that other connections need. For a RedisStore the client must be
	// created with ContextTimeoutEnabled for the bound to reach its sockets (cmd/lobby
	// does). Default: 2 s.
	StoreTimeout time.Duration

	// Per-address limits. A client's address is the connection's remote IP, or, when
	// that IP is in TrustedProxies, the rightmost address of X-Forwarded-For that is not
	// a trusted proxy. IPv6 addresses count per /64. Each limit is per lobby instance;
	// a negative value disables it.
	//
	// MaxConnectionsPerIP bounds one address's concurrent connections; more are refused
	// with HTTP 429 before the upgrade. Default: 100.
	MaxConnectionsPerIP int
	// CreatesPerSecondPerIP and CreateBurstPerIP rate-limit one address's "create"
	// requests (a token bucket over all its connections); beyond it "create" is answered
	// "rate_limited". Defaults: 1 per second, burst 20.
	CreatesPerSecondPerIP float64
	CreateBurstPerIP      int
	// JoinsPerSecondPerIP and JoinBurstPerIP do the same for "join" and "quick_join".
	// Defaults: 2 per second, burst 20.
	JoinsPerSecondPerIP float64
	JoinBurstPerIP      int
	// Wrong room passwords: after PasswordFailuresPerIP wrong passwords from one address
	// (any rooms), or PasswordFailuresPerRoom for one room (any addresses), each further
	// attempt must wait PasswordBackoff, doubled with each further failure up to
	// PasswordBackoffMax; an attempt during the wait is answered "rate_limited" without
	// checking the password. The counts are forgotten after 10 × PasswordBackoffMax
	// without a failure. Defaults: 5, 20, 1 s, 1 minute.
	PasswordFailuresPerIP   int
	PasswordFailuresPerRoom int
	PasswordBackoff         time.Duration
	PasswordBackoffMax      time.Duration
	// TrustedProxies are the reverse proxies (and load balancers) whose
	// X-Forwarded-For header is believed. Default: none (the header is ignored). Behind
	// a proxy that is not listed, every client has the proxy's address and shares its
	// limits.
	TrustedProxies []netip.Prefix
	// LimitLoopback applies the per-address limits to loopback clients too. Default
	// false: clients on 127.0.0.0/8 or ::1 (local tools and tests, a same-host proxy
	// not listed in TrustedProxies, a localhost game) are not limited per address.
	LimitLoopback bool

	// MaxRooms bounds the number of rooms ("too_many_rooms" beyond it). Default: 10000.
	MaxRooms int
	// DefaultCapacity is a room's member capacity when "create" gives none; MaxCapacity
	// is the largest allowed. Defaults: 8 and 256.
	DefaultCapacity int
	MaxCapacity     int // default 256
	// MaxListRooms bounds the rooms returned by one "list" (a client may ask for fewer)
	// and MaxListBytes the size of its reply: a page ends before the room that would
	// push it over (but holds at least one room); "next" then continues it.
	// Defaults: 100 rooms, 64 KiB.
	MaxListRooms int
	MaxListBytes int
	// MaxNameBytes bounds a room name (and its game name and game version, each),
	// MaxMetadataBytes its metadata JSON, MaxPasswordBytes its password.
	// Defaults: 64, 4096, 128.
	MaxNameBytes     int
	MaxMetadataBytes int // default 4096
	MaxPasswordBytes int // default 128

	// The room feed (GET /rooms/events, Server-Sent Events; see RoomEventsHandler).
	//
	// MaxFeedStreams bounds open streams; more are refused with HTTP 503
	// (lobby_rejections_total{reason="feed_streams"}). Each holds a socket of the
	// http.Server, which HTTPConfig.MaxSockets (default 1024) also bounds. Streams also
	// count against MaxConnectionsPerIP. Default: 256.
	MaxFeedStreams int
	// FeedQueue is the number of events buffered per stream; a stream whose client
	// does not read fast enough to keep it from filling is closed
	// (reason "feed_slow"), and the client's reconnection resumes or starts over with
	// a full list. Default: 256.
	FeedQueue int
	// FeedReplay is how many recent events an instance keeps for clients that
	// reconnect with Last-Event-ID; one that missed more gets a full list. Default: 1024.
	FeedReplay int
	// FeedHeartbeat is how often an idle stream gets a comment line, so that proxies
	// and clients see it alive. Default: 15 s.
	FeedHeartbeat time.Duration
	// FeedResync is how often the instance re-reads every room from the store while
	// it keeps the room list (while streams are open, and for FeedResync after the
	// last one ended, so that a reconnecting client can resume), catching changes it
	// was not told about (the rooms of a crashed instance expiring in a shared store)
	// and retrying after a store error. Default: 30 s.
	FeedResync time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Store == nil {
		c.Store = NewMemoryStore()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	setDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	setDur(&c.TURNCredentialTTL, 12*time.Hour)
	if c.ReadLimit <= 0 {
		c.ReadLimit = 128 << 10
	}
	if c.MessagesPerSecond <= 0 {
		c.MessagesPerSecond = 50
	}
	setInt(&c.MessageBurst, 100)
	if c.SignalsPerSecond <= 0 {
		c.SignalsPerSecond = 10
	}
	setInt(&c.SignalBurst, 40)
	setDur(&c.ThrottleTimeout, 2*time.Second)
	setInt(&c.SendQueue, 256)
	setInt(&c.SendQueueBytes, 1<<20)
	setDur(&c.WriteTimeout, 10*time.Second)
	setDur(&c.PingInterval, 25*time.Second)
	setDur(&c.PongTimeout, 60*time.Second)
	if c.PingInterval >= c.PongTimeout {
		c.PingInterval = c.PongTimeout * 9 / 10
	}
	setDur(&c.IdleTimeout, 5*time.Minute)
	if c.MemberGrace == 0 {
		c.MemberGrace = 20 * time.Second
	}
	setDur(&c.HandshakeTimeout, 10*time.Second)
	setInt(&c.MaxConnections, 10000)
	setInt(&c.MaxRooms, 10000)
	setInt(&c.DefaultCapacity, 8)
	setInt(&c.MaxCapacity, 256)
	setInt(&c.MaxListRooms, 100)
	setInt(&c.MaxListBytes, 64<<10)
	setDur(&c.StoreTimeout, 2*time.Second)
	setLimit := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	setRate := func(r *float64, v float64) {
		if *r == 0 {
			*r = v
		}
	}
	setLimit(&c.MaxConnectionsPerIP, 100)
	setRate(&c.CreatesPerSecondPerIP, 1)
	setInt(&c.CreateBurstPerIP, 20)
	setRate(&c.JoinsPerSecondPerIP, 2)
	setInt(&c.JoinBurstPerIP, 20)
	setLimit(&c.PasswordFailuresPerIP, 5)
	setLimit(&c.PasswordFailuresPerRoom, 20)
	setDur(&c.PasswordBackoff, time.Second)
	setDur(&c.PasswordBackoffMax, time.Minute)
	if c.PasswordBackoffMax < c.PasswordBackoff {
		c.PasswordBackoffMax = c.PasswordBackoff
	}
	setInt(&c.MaxNameBytes, 64)
	setInt(&c.MaxMetadataBytes, 4096)
	setInt(&c.MaxPasswordBytes, 128)
	setInt(&c.MaxFeedStreams, 256)
	setInt(&c.FeedQueue, 256)
	setInt(&c.FeedReplay, 1024)
	setDur(&c.FeedHeartbeat, 15*time.Second)
	setDur(&c.FeedResync, 30*time.Second)
	return c
}

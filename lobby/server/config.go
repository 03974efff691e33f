package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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
	// (policy violation, reason "rate_limited").
	// Defaults: 50 per second, burst 100, 2 s.
	MessagesPerSecond float64
	MessageBurst      int           // default 100
	ThrottleTimeout   time.Duration // default 2 s
	// SendQueue is the number of outgoing messages buffered per connection. A client that
	// does not read fast enough to keep it from filling is disconnected at once (its room
	// then behaves as if it had left). Default: 256.
	SendQueue int
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
	// HandshakeTimeout bounds the WebSocket upgrade. Default: 10 s.
	HandshakeTimeout time.Duration
	// MaxConnections bounds concurrent connections; more are refused with HTTP 503 before
	// the upgrade. Default: 10000.
	MaxConnections int

	// MaxRooms bounds the number of rooms ("too_many_rooms" beyond it). Default: 10000.
	MaxRooms int
	// DefaultCapacity is a room's member capacity when "create" gives none; MaxCapacity
	// is the largest allowed. Defaults: 8 and 256.
	DefaultCapacity int
	MaxCapacity     int // default 256
	// MaxListRooms bounds the rooms returned by one "list". Default: 100.
	MaxListRooms int
	// MaxNameBytes bounds a room name, MaxMetadataBytes its metadata JSON, MaxPasswordBytes
	// its password. Defaults: 64, 4096, 128.
	MaxNameBytes     int
	MaxMetadataBytes int // default 4096
	MaxPasswordBytes int // default 128
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
	setDur(&c.ThrottleTimeout, 2*time.Second)
	setInt(&c.SendQueue, 256)
	setDur(&c.WriteTimeout, 10*time.Second)
	setDur(&c.PingInterval, 25*time.Second)
	setDur(&c.PongTimeout, 60*time.Second)
	if c.PingInterval >= c.PongTimeout {
		c.PingInterval = c.PongTimeout * 9 / 10
	}
	setDur(&c.IdleTimeout, 5*time.Minute)
	setDur(&c.HandshakeTimeout, 10*time.Second)
	setInt(&c.MaxConnections, 10000)
	setInt(&c.MaxRooms, 10000)
	setInt(&c.DefaultCapacity, 8)
	setInt(&c.MaxCapacity, 256)
	setInt(&c.MaxListRooms, 100)
	setInt(&c.MaxNameBytes, 64)
	setInt(&c.MaxMetadataBytes, 4096)
	setInt(&c.MaxPasswordBytes, 128)
	return c
}

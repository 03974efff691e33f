package netcode

import (
	"log/slog"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/snapshot"
)

// ProtocolVersion is the version of the wire protocol this package speaks (see
// docs/protocol.md): hosts announce it in their welcome, and a client refuses a host
// that announces another (ErrVersionMismatch).
const ProtocolVersion = 2

// Limits of the wire protocol.
const (
	// MaxUnreliableBytes bounds every message on the unreliable channel, headers
	// included, so that it fits in one SCTP chunk (pion puts about 1,160 bytes in
	// one SCTP packet; a fragmented message dies with any lost fragment).
	MaxUnreliableBytes = 1100
	// MaxInputBytes bounds one tick's input.
	MaxInputBytes = 64
	// snapshotHeaderBytes precede every snapshot packet: kind, seq, lastInput.
	snapshotHeaderBytes = 9
	// MaxSnapshotPacketBytes is what the snapshot encoder may use per packet.
	MaxSnapshotPacketBytes = MaxUnreliableBytes - snapshotHeaderBytes
)

// Data channel labels.
const (
	LabelUnreliable = "unreliable"
	LabelReliable   = "reliable"
)

// Clock is the time source netcode uses: [clock.Real] by default, [clock.Fake] in
// tests, or any implementation of [clock.Clock].
type Clock = clock.Clock

// ICEConfig selects how ICE gathers and checks candidates.
type ICEConfig struct {
	// LoopbackOnly restricts ICE to 127.0.0.1: loopback candidates included,
	// every non-loopback local and remote address filtered out, mDNS off, UDP4
	// only. A headless Chromium on the same machine reaches such a peer. Use it
	// for tests, benchmarks and a localhost game; never for a public host.
	// Default false. Ignored when TransportConfig.Net is set (a vnet).
	LoopbackOnly bool
	// Servers are the STUN/TURN servers (for example the lobby's list).
	// Default none.
	Servers []webrtc.ICEServer
	// PublicIPs rewrites host candidates to these addresses (1:1 NAT, a host
	// behind a port-forwarding firewall or container). An entry "public/local"
	// rewrites only the candidates of that local address. Default none. Native only.
	PublicIPs []string
	// RelayOnly sets the ICE transport policy to "relay": the peer gathers and
	// uses only TURN relay candidates (from Servers), so its traffic always goes
	// through a relay. For tests of a TURN deployment and for players who must
	// not reveal their address. Default false (all candidates).
	RelayOnly bool
}

// rtcConfig is the peer connection configuration of c.
func (c ICEConfig) rtcConfig() webrtc.Configuration {
	cfg := webrtc.Configuration{ICEServers: c.Servers}
	if c.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return cfg
}

// TransportConfig holds the pion settings shared by hosts and clients. The zero value
// works. Most fields apply natively only: a browser's RTCPeerConnection (GOOS=js)
// chooses its own.
type TransportConfig struct {
	// ICE chooses the candidates to gather and the STUN/TURN servers.
	ICE ICEConfig
	// Net is the network pion uses, e.g. a pion virtual network
	// (github.com/pion/transport/v5/vnet) that simulates loss, delay and jitter
	// in tests and benchmarks. Default: the operating system's network.
	Net transport.Net
	// osNet (tests) replaces the operating system's network under LoopbackOnly:
	// a wrapper whose sockets a test can cut off.
	osNet transport.Net
	// MaxMessageBytes caps one data channel message on both channels (SCTP max
	// message size). Default 64 KiB. Unreliable messages are further capped at
	// MaxUnreliableBytes by netcode itself.
	MaxMessageBytes int
	// SCTPRTOMax caps the SCTP retransmission timeout, so one lost packet on the
	// reliable channel stalls it for at most about this long. Default 150 ms
	// (pion's own floor is about 1 s; at 5% loss and 50 ms RTT, 150 ms kept the
	// command round trip p99 at 228-264 ms where 200 ms gave 212-387 ms). On a
	// longer round trip the timeout is 1.5 × the measured one instead (the
	// patched pion/sctp in third_party): a shorter one only resends what is still
	// on its way.
	SCTPRTOMax time.Duration
	// DTLSHandshakeTimeout bounds the DTLS handshake. Default 10 s.
	DTLSHandshakeTimeout time.Duration
	// ICEDisconnectedTimeout: no traffic for this long marks ICE disconnected.
	// Default 3 s.
	ICEDisconnectedTimeout time.Duration
	// ICEFailedTimeout: disconnected for this long marks ICE failed, which ends
	// the session. Default 10 s.
	ICEFailedTimeout time.Duration
	// ICEKeepaliveInterval is how often ICE sends keepalives. Default 1 s.
	ICEKeepaliveInterval time.Duration
	// ICEPairTimeout is how long ICE keeps checking a candidate pair before it
	// counts as failed (a check every 200 ms). Default 5 s, so that an ICE restart
	// started while the network is still down keeps checking, and recovers as soon
	// as the network returns (pion's own default gives up after 1.4 s).
	ICEPairTimeout time.Duration
}

func (c TransportConfig) withDefaults() TransportConfig {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.SCTPRTOMax <= 0 {
		c.SCTPRTOMax = 150 * time.Millisecond
	}
	if c.DTLSHandshakeTimeout <= 0 {
		c.DTLSHandshakeTimeout = 10 * time.Second
	}
	if c.ICEDisconnectedTimeout <= 0 {
		c.ICEDisconnectedTimeout = 3 * time.Second
	}
	if c.ICEFailedTimeout <= 0 {
		c.ICEFailedTimeout = 10 * time.Second
	}
	if c.ICEKeepaliveInterval <= 0 {
		c.ICEKeepaliveInterval = time.Second
	}
	if c.ICEPairTimeout <= 0 {
		c.ICEPairTimeout = 5 * time.Second
	}
	return c
}

// ClientConfig configures a Client. Only Registry is required.
type ClientConfig struct {
	// Registry holds the entity types; it must match the host's.
	Registry *snapshot.Registry
	// Transport configures pion.
	Transport TransportConfig
	// InterpolationDelay is how far behind the estimated host time Interpolate
	// samples the world. Default: two send intervals plus 2 × jitter, at least
	// 50 ms.
	InterpolationDelay time.Duration
	// BufferedSnapshots is how many decoded snapshots the interpolation buffer
	// keeps. Default 32.
	BufferedSnapshots int
	// InputRedundancy is the most unacknowledged inputs repeated in each update.
	// Default 16.
	InputRedundancy int
	// EventQueue bounds the Events channel; when the application does not keep up
	// and it is full, the client disconnects with ErrSlowConsumer (events are
	// exactly-once, so they are never dropped silently). Default 4096.
	EventQueue int
	// MaxEventBytes caps one event message. Default 64 KiB.
	MaxEventBytes int
	// CopyBytes: commands of at most this many bytes (their msgpack) also travel
	// on the unreliable channel, sent at once and repeated with every update until
	// the host acknowledges them, and the client asks the host for copies of its
	// small events (ServerConfig.CopyBytes). Each command and event is still
	// delivered once and in order, from whichever channel brings it first, so a
	// lost packet delays it by about an update or send interval rather than an
	// SCTP retransmission timeout. At most 1,086 bytes of copies wait; a command
	// over CopyBytes, or one that does not fit, travels on the reliable channel
	// only (counted in Stats.Uncopied). See "Copies" in the package doc. Default
	// 256; negative: no copies either way.
	CopyBytes int
	// AckDelay is how long the acknowledgement of a snapshot may wait to travel
	// with the next input (SendInput sends an update that carries it) before it
	// is sent on its own: with inputs flowing, this halves the client's messages.
	// The host only needs the ack before its next send to this client. Default
	// half the host's send interval (16.7 ms at 30 Hz); negative: acknowledge
	// every snapshot at once.
	AckDelay time.Duration
	// InputMargin is how far past its estimated arrival (host tick now + RTT/2 +
	// 2 × jitter) an input is stamped, so that one lost update, whose input then
	// rides in the next one, still reaches the host before its tick runs. More
	// margin means fewer late (dropped) inputs and prediction corrections on a lossy
	// network, and more input latency. Default two host ticks (33 ms at 60 Hz).
	InputMargin time.Duration
	// PingInterval is how often the client measures the round trip. Default 250 ms.
	PingInterval time.Duration
	// Timeout closes the client (ErrTimeout) when nothing arrives from the host for
	// this long; with ICE restarts on (Restart) it first restarts ICE, and ends
	// with an error wrapping ErrTimeout only when those fail. Default 5 s.
	Timeout time.Duration
	// Restart controls ICE restarts (see "Connection lifecycle" in the package
	// doc). While one is under way Timeout waits for it.
	Restart RestartConfig
	// Resume, if set, resumes a session whose connection was lost, on this new
	// connection: pass the old client's ResumeState (kept across a process or
	// page restart if need be). The host gives back the same ClientID, the events
	// the old client did not receive, and a full snapshot; the commands it did
	// not acknowledge are resent. A host that refuses makes Dial fail with an
	// error matching ErrResumeExpired, ErrResumeReplayed or ErrResumeInvalid; the
	// client may then dial afresh without Resume. Default: a new session.
	Resume *ResumeState
	// ResumeBytes bounds the commands kept until the host acknowledges them (it
	// does every 250 ms), to be resent by a resumption. Past it the client can no
	// longer resume (ResumeState returns nil) and Stats.ResumeLost says so.
	// Default 256 KiB.
	ResumeBytes int
	// Clock is the time source. Default: the real clock.
	Clock Clock
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger

	// observe, if set (tests), sees the kind, sequence number and size of every
	// unreliable message the client goroutine handles.
	observe func(kind byte, seq uint32, size int)
	// badChannels (tests) makes the unreliable channel ordered, which hosts refuse.
	badChannels bool
	// ignoreReliableEvents (tests) ignores every event on the reliable channel:
	// events then arrive only as copies.
	ignoreReliableEvents bool
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// defaultTimeout, defaultHandshakeTimeout and defaultRestartTimeout are the defaults
// of ServerConfig.Timeout, ClientConfig.Timeout, ServerConfig.HandshakeTimeout and
// RestartConfig.Timeout. They are variables so that this package's tests, which must
// pass on a loaded machine where a process can stall for seconds, lengthen them for
// the tests that do not exercise them (those that do set the field).
var (
	defaultTimeout          = 5 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
	defaultRestartTimeout   = 5 * time.Second
)

package netcode

import (
	"log/slog"
	"time"

	"github.com/volleynet/volley/snapshot"
)

// ServerConfig configures a Server. Only Registry is required.
type ServerConfig struct {
	// Registry holds the entity types of the world. Required.
	Registry *snapshot.Registry
	// Step is the game: it runs once per tick on the tick goroutine with the
	// tick number, the world, and what arrived for this tick. Default: a no-op.
	Step func(t *Tick)
	// OnTick, if set, is called on the tick goroutine after every tick with how
	// long the tick's work took by Clock: joins and leaves, Step, timeouts, and
	// handing the clients due a snapshot, with a copy of the world, to the sending
	// goroutine (which encodes and sends them while the next tick runs; see OnSent).
	// Waiting for the tick to start is not included (ticks that start late are
	// counted in LoopStats). For benchmarks and metrics; it must return quickly.
	// Default: none.
	OnTick func(n uint32, took time.Duration)
	// OnSent, if set, is called on the sending goroutine once tick n's snapshots
	// have been encoded and handed to the data channels, with the time since tick
	// n started by Clock: how late the snapshots leave. For benchmarks and
	// metrics; it must return quickly. Default: none.
	OnSent func(n uint32, since time.Duration)
	// TickRate is the number of simulation steps per second. Default 60.
	TickRate int
	// SendRate is the number of snapshot sends per second per client, at most
	// TickRate; each client gets a snapshot every TickRate/SendRate ticks, and
	// clients are spread over those ticks (see "Time" in the package doc).
	// Default 30.
	SendRate int
	// MaxCatchUp is the most ticks run back to back when the loop falls behind;
	// older due ticks are skipped (and counted). Default 5.
	MaxCatchUp int
	// MaxPacketsPerSend caps snapshot packets per client per send, so the
	// per-client snapshot budget is MaxPacketsPerSend × MaxUnreliableBytes bytes
	// per send. Default 4.
	MaxPacketsPerSend int
	// Timeout drops a client that has sent no update (acknowledgement) for this
	// long; clients send one per snapshot received. It is checked every tick, so it
	// fires on the first tick past the deadline, and Tick.Left reports the client
	// (ErrTimeout) on the next tick. Default 5 s.
	Timeout time.Duration
	// HandshakeTimeout bounds Accept, from its call to open channels, on top of
	// the caller's context; a handshake that takes longer is refused ("timeout").
	// Default 10 s: a WebRTC connection normally opens within 1-3 s, even through
	// a TURN relay, and pion's own DTLS and ICE-failure deadlines are 10 s
	// (TransportConfig), so a handshake still pending after 10 s will not
	// complete; every second longer is a second a half-open handshake holds a
	// pending slot and a peer connection (about 6 goroutines and 120 KB).
	HandshakeTimeout time.Duration
	// MaxClients caps connected clients; a peer that would exceed it is refused
	// with ErrHostFull ("host_full"). Default 256.
	MaxClients int
	// MaxPendingHandshakes caps handshakes in progress (Accept calls that have
	// not welcomed their client yet), separately from MaxClients, so that peers
	// that offer and never connect cannot crowd out players; a peer over it is
	// refused with ErrBusy ("busy") and may try again. A Signaler that tells its
	// peer (a Peer() string method, as the lobby's has) holds one pending
	// handshake per peer: a newer Accept from the same peer replaces the older
	// (ErrReplaced), and so does a new offer on the same Signaler. Default 32.
	MaxPendingHandshakes int
	// MaxCommandBytes caps one command message. Default 16 KiB.
	MaxCommandBytes int
	// CopyBytes: events of at most this many bytes (their msgpack) also travel
	// on the unreliable channel to a client that takes copies (the Go client does,
	// see ClientConfig.CopyBytes), repeated every tick until it
	// acknowledges them; it delivers each event once, from whichever channel
	// brings it first, so a lost packet delays an event by about a tick
	// rather than an SCTP retransmission timeout. At most 1,086 bytes of copies
	// wait per client; an event over CopyBytes, or one that does not fit, travels
	// on the reliable channel only (counted in Stats.Uncopied). See "Copies" in
	// the package doc. Default 256; negative: no copies.
	CopyBytes int
	// CommandRate and CommandBurst pace each client's commands into the game:
	// Tick.Commands holds at most CommandBurst of one client's commands at once and
	// CommandRate per second on average; the others wait, in order, for later
	// ticks, so that commands the network held up and delivered together are all
	// kept. MaxQueuedCommandBytes (and 1024 commands) bounds what may wait: a
	// client that sends faster than the pace for long enough to exceed it is
	// flooding and is disconnected with ErrFlood ("flood").
	// Defaults 120 per second, burst 240, 256 KiB.
	CommandRate           float64
	CommandBurst          int
	MaxQueuedCommandBytes int
	// PingRate and PingBurst form a token bucket per client for pings: a ping
	// over it is not answered, only counted (DropPingLimited), so a client cannot
	// make the host send pongs faster than this. Clients ping every 250 ms by
	// default (ClientConfig.PingInterval); a client that pings faster than
	// PingRate sees some of its pings unanswered. Defaults 10 per second, burst 20.
	PingRate  float64
	PingBurst int // default 20
	// MaxBadMessages malformed or unknown messages from one client over
	// its session disconnect it with ErrProtocol. Default 100.
	MaxBadMessages int
	// MaxInputLead rejects inputs for ticks more than this many ticks ahead of
	// the host's tick. Default 2 × TickRate (two seconds).
	MaxInputLead int
	// MaxReliableBuffered disconnects a client (ErrSlowConsumer) whose reliable
	// channel holds more than this many unsent bytes. Default 1 MiB.
	MaxReliableBuffered int
	// LagCompensation keeps a history of the world for judging actions against
	// what a client saw (Tick.History). Default: off.
	LagCompensation LagCompensation
	// Interest, if set, decides which entities each client receives (see Interest,
	// Grid, InterestFunc). Default nil: every client receives every entity.
	Interest Interest
	// BytesPerSecond caps the snapshot bytes sent to each client per second (a token
	// bucket spent send by send, headers included): over any second a client gets
	// at most BytesPerSecond plus one packet, and the priority accumulator (with the
	// Interest's weights) picks which entities a send carries, so that every entity
	// is still updated now and then. Counted when it bites: HostTotals.BudgetDeferred.
	// At least 64 bytes per send (1,920 at 30 Hz). Default 0: no cap beyond
	// MaxPacketsPerSend packets per send.
	BytesPerSecond int
	// AdaptToLoss treats the loss a client reports as congestion: each second in
	// which more than 2% of its snapshots were lost cuts its budget to 3/4 (down to a
	// quarter of BytesPerSecond), each other second gives back 1/16 of
	// BytesPerSecond. Needs BytesPerSecond. Default false.
	AdaptToLoss bool
	// ListenUDP, if set (e.g. ":7000" or "127.0.0.1:0"), puts every client on this
	// one UDP port (pion's ICE UDP mux): one firewall rule or container port.
	// Default: one ephemeral port per client.
	ListenUDP string
	// Transport configures pion.
	Transport TransportConfig
	// Page configures a host running in a browser tab (GOOS=js); see PageConfig.
	Page PageConfig
	// ResumeWindow is how long the host keeps the game identity of a client whose
	// connection was lost (silent for Timeout, or closed without a goodbye), for
	// it to come back: by itself (an ICE restart, the network returning) or on a
	// new connection with its resume token (ClientConfig.Resume). The game sees
	// Tick.Suspended, then Tick.Resumed or, once the window has passed, Tick.Left
	// with the original reason. Default 30 s; negative disables resumption (a lost
	// client leaves at once, and no tokens are issued).
	ResumeWindow time.Duration
	// ResumeBytes bounds the events kept for a client's resumption: those sent
	// but not yet acknowledged, including all sent while it is suspended. Past it
	// a suspended client leaves with ErrResumeOverflow (its events are not
	// dropped silently), and a connected one can no longer resume (counted in
	// LifecycleStats). Default 256 KiB.
	ResumeBytes int
	// Restart controls the host's ICE restarts (see "Connection lifecycle" in the
	// package doc): it answers the client's restarts and, when none comes, offers
	// one itself after twice Restart.After.
	Restart RestartConfig
	// Clock drives the tick loop and timeouts. Default: the real clock.
	Clock Clock
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger

	// observeDrop, if set (tests), sees every drop counted for a client.
	observeDrop func(id ClientID, r DropReason)
	// proto, if set (tests), is announced instead of ProtocolVersion.
	proto int
	// observeUpdate, if set (tests), sees the sequence number of every update
	// once its inputs are queued.
	observeUpdate func(id ClientID, seq uint32)
	// observeSnapshot, if set (tests), sees every snapshot encoded: its tick,
	// its bytes on the wire and the encoder's stats.
	observeSnapshot func(id ClientID, tick uint32, bytes int, st snapshot.EncodeStats)
	// observeDrain, if set (tests), runs in Drain once admission has stopped and
	// before the goodbyes.
	observeDrain func()
	// observeTakeOver, if set (tests), runs in a resumption's takeover once the
	// welcome and the missed events are sent, before the takeover ends.
	observeTakeOver func()
	// observeReliable, if set (tests), sees the kind of every message on a
	// session's reliable channel before it is handled.
	observeReliable func(kind byte)
	// ignoreReliableCommands (tests) ignores every command on the reliable
	// channel: commands then arrive only as copies.
	ignoreReliableCommands bool
}

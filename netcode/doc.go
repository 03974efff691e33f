// Package netcode runs Volley game sessions over WebRTC (pion/webrtc v4): an
// authoritative host ([Server]) that steps the game at a fixed tick rate and streams
// delta-compressed snapshots to each [Client], and a client that connects through any
// [signaling.Signaler], acknowledges snapshots, estimates the host clock, interpolates
// the world for rendering and sends inputs and commands.
//
// # Channels
//
// The client creates two data channels in-band before its offer; the host accepts
// exactly these and rejects any other:
//
//	label        settings                           carries
//	"unreliable" ordered: false, maxRetransmits: 0   snapshots, acks, inputs, pings,
//	                                                 copies of small commands and events
//	"reliable"   ordered: true, fully reliable       msgpack commands and events, control
//
// # A minimal host and client
//
// (Example, in example_test.go, is this program, runnable over loopback.)
//
//	type Ball struct {
//		X float32 `snap:"float,min=-100,max=100,prec=0.01"`
//	}
//	type Push struct{ DX float32 }
//
//	reg := snapshot.NewRegistry()
//	reg.Register(1, Ball{})
//	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
//
//	// The host: Step runs on the tick goroutine (60 Hz) and owns t.World, which is
//	// snapshotted to every client at the send rate (30 Hz).
//	srv, err := netcode.NewServer(netcode.ServerConfig{
//		Registry:  reg,
//		Transport: loopback,
//		Step: func(t *netcode.Tick) {
//			for _, id := range t.Joined {
//				t.World.Set(snapshot.EntityID(id), 1, Ball{})
//			}
//			for _, l := range t.Left { // l.Reason: ErrClientLeft, ErrTimeout...
//				t.World.Remove(snapshot.EntityID(l.Client))
//			}
//			for _, c := range t.Commands {
//				var p Push
//				if c.Decode(&p) != nil {
//					continue
//				}
//				var b Ball
//				t.World.Get(snapshot.EntityID(c.Client), &b)
//				b.X += p.DX
//				t.World.Set(snapshot.EntityID(c.Client), 1, b)
//				t.Send(c.Client, fmt.Sprintf("ball at %.2f", b.X)) // an event
//			}
//		},
//	})
//	defer srv.Close()
//
//	// Signaling: an in-process pipe here; the lobby hands the host one Signaler per
//	// joining player (call Accept once for each, typically in a goroutine).
//	hostSig, clientSig := signaling.Pipe()
//	go srv.Accept(ctx, hostSig)
//
//	// The client (native, or GOOS=js GOARCH=wasm in a browser).
//	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, clientSig)
//	defer c.Close()
//	c.Send(Push{DX: 1.5})      // a command: reliable, exactly once, in order
//	var msg string
//	(<-c.Events()).Decode(&msg) // "ball at 1.50"
//
//	view := snapshot.NewWorld(reg)
//	for range c.Updates() {     // one wake-up per decoded snapshot
//		c.Interpolate(view)     // the world at the render time (or c.Latest)
//		var b Ball
//		view.Get(snapshot.EntityID(c.ID()), &b)
//		draw(b)
//	}
//
// # Inputs and prediction
//
// Inputs are per-tick bytes (at most [MaxInputBytes]; encode them as you like).
// [Client.SendInput] stamps one with the host tick it should arrive for
// ([Client.InputTick]: the estimated host tick plus half the round trip, twice the
// jitter and [ClientConfig.InputMargin], two ticks by default, so that an input whose
// update is lost still arrives in time in the next one) and repeats it in every update on the unreliable channel until the host
// reports, in every snapshot, the last input tick it applied
// ([Client.LastAppliedInput], what client-side prediction replays from). The host
// hands each input to the game on exactly its tick ([Tick.Inputs]); one that arrives
// after its tick ran is dropped and counted ([DropLateInput]), one too far ahead is
// rejected ([DropFutureInput]).
//
// An input can be revised until its tick runs: calling SendInput again for the same
// tick sends the new version in a new update, and for every tick it has not run yet
// the host keeps the version from the update with the highest sequence number that
// carried that tick (updates travel unordered, so arrival order does not decide).
// Ticks and sequence numbers wrap at 2³² and are compared as serial numbers
// (RFC 1982). The host accepts inputs stamped from its current tick up to
// [ServerConfig.MaxInputLead] ticks ahead; ticks behind it are late, and a tick
// further behind than a client could fall before timing out (Timeout plus
// MaxInputLead) cannot be told from one absurdly far ahead, so it is dropped as a
// future input.
//
// [Predictor] does client-side prediction for any state and input types: it applies
// each input when it is sent, and on each snapshot restarts from the host's state at
// the snapshot's tick (every input the host applied up to that tick is in it) and
// replays the later ones, gliding over the difference.
//
// # Lag compensation, interest, bandwidth budgets
//
// Each is off until the game turns it on in [ServerConfig]; none changes the wire
// format.
//
// Lag compensation ([LagCompensation]): the host keeps the world of the last
// MaxRewind (500 ms) of ticks, and Step reads it as [Tick.History]. A client stamps its
// input with the tick its screen shows ([AppendView] with what [Client.Interpolate]
// returned), the game reads the stamp back ([ReadView]), clamps it ([History.Clamp]:
// at most MaxRewind back, counted when it bites) and asks where things were then
// ([History.Get]), sampled between ticks exactly as the client blended them. Recording
// a tick copies the world (or the types listed) into a ring and allocates nothing.
//
// Interest management ([Interest]): per send tick, [Interest.Prepare] sees the world
// about to be encoded, then each client's snapshot is encoded with that client's rule
// ([Interest.Relevance]): only the entities it weighs above 0, the heavier first when
// a send cannot carry everything. [Grid] is the ready-made rule (entities within a
// radius of the client's player, weighted by distance, with hysteresis);
// [InterestFunc] wraps a callback. An entity that becomes relevant arrives whole; one
// that stops is removed on the client with the usual repeat-until-acknowledged
// removal. Encoders keep sharing their delta cache: deltas are keyed by entity
// versions, whoever receives them.
//
// Bandwidth budget ([ServerConfig.BytesPerSecond]): each client has a token bucket of
// snapshot bytes, refilled by BytesPerSecond/SendRate per send and holding at most one
// more packet, so any second of sends stays within the budget plus one packet; the
// encoder's priority accumulator decides which entities a send's bytes buy, so every
// entity is still updated now and then. [ServerConfig.AdaptToLoss] lowers a client's
// budget while it reports loss. Deferred updates are counted
// ([HostTotals.BudgetDeferred]).
//
// # Time
//
// Tick n of the host is due n/TickRate seconds after the host started, computed from n
// each time, so the schedule never drifts; when the host falls behind it runs at most
// [ServerConfig.MaxCatchUp] ticks back to back and skips the rest ([LoopStats]).
// A client gets a snapshot every k = TickRate/SendRate ticks (every other tick at
// the default 60 and 30 Hz), on the ticks n with (n + phase) mod k = 0: each joining
// client takes the phase the fewest connected clients have, so the encoding work is
// spread evenly over the ticks (half the clients on even ticks, half on odd ones)
// instead of piling up on every k-th tick. A snapshot carries the tick it was taken
// on.
// Clocks are injectable ([ServerConfig.Clock], [ClientConfig.Clock]); tests drive the
// loop with the fake clock of package [clock] (or any implementation of [Clock]). Clients ping every 250 ms: the
// round trip, its jitter and the host clock offset come from the fastest recent
// samples ([Client.Clock]), and [Client.Interpolate] renders
// [Client.InterpolationDelay] behind the estimated host time: floats blended
// linearly, angles the short way round, integers and booleans held, and no blending
// across a change of a `teleport` field.
//
// # Goroutines and queues
//
// The tick goroutine owns the world; pion's callbacks parse messages and hand them to
// it through bounded per-client queues. Snapshots leave in a pipeline beside the simulation. On a send tick, once Step has
// run, the tick goroutine copies the world and hands it, with the clients due, to the
// sending goroutine, and goes on to the next tick. The sending goroutine applies each
// client's acks, encodes its snapshot and hands the packets to pion. Clients are split
// into GOMAXPROCS encoding groups (at most 8; a client always in the same group, whose
// encoders share a [snapshot.EncodeCache]); the sending goroutine encodes the first
// group and offers the others to helper goroutines, taking back any group no helper
// has started, so that encoding is parallel where a core is free and never waits for
// one that is not. So Step never waits for encoding, nor for pion: a data-channel
// write takes the SCTP association's lock, which pion's own goroutines hold while they
// read and write the network. [ServerConfig.OnTick] times the tick's own work and
// [ServerConfig.OnSent] when its snapshots left; a tick whose clients' previous
// snapshots have not left yet waits for them, so a sending goroutine that cannot keep
// up slows the loop rather than queueing without bound.
//
// Neither goroutine blocks on I/O: if a client's unreliable channel still holds the
// previous snapshots, the new one is dropped and counted ([DropBackpressure]); a
// client whose reliable channel backs up past [ServerConfig.MaxReliableBuffered] is
// disconnected with [ErrSlowConsumer]. The client's own goroutine decodes snapshots
// and acknowledges each one, with the next input or within [ClientConfig.AckDelay].
//
// # Bad input
//
// Every message is size-checked and parsed defensively; a malformed or oversized
// message, an unknown kind, a forged or future ack, an input for a far-future tick
// is dropped, counted by reason ([Stats].Drops) and survived. Pings go through a
// per-client token bucket ([ServerConfig.PingRate]): over it they are not answered
// ([DropPingLimited]). Commands are never dropped: they are paced into the game
// ([ServerConfig.CommandRate]), so that commands the network held up and delivered
// together all arrive; a client whose waiting commands exceed
// [ServerConfig.MaxQueuedCommandBytes] is disconnected ([ErrFlood]). Too many bad
// messages disconnect a client with [ErrProtocol].
// Other clients are not affected. The README's "Security and limits" lists every
// limit of the host.
//
// # Admission and refusals
//
// Handshakes in progress have their own budget, [ServerConfig.MaxPendingHandshakes],
// apart from [ServerConfig.MaxClients], and last at most
// [ServerConfig.HandshakeTimeout]: a peer that offers and never connects holds a
// pending slot, not a player's place, and only for a while. When the Signaler knows
// its peer (the lobby's does), a peer holds one pending handshake: its newer offer
// replaces the older one, and a handshake whose signaling path closes (the peer left
// the room) is abandoned at once.
//
// A host that refuses a peer tells it why, so that [Dial] fails at once with a
// [RejectError] instead of waiting for its context: before the channels open with a
// reject signal on the signaling path ({"type":"reject","code":...,"reason":...}, see
// package signaling), after with a bye on the reliable channel before the welcome.
// Codes, shared with the bye: "host_full" ([ErrHostFull]), "busy" ([ErrBusy]: too many
// handshakes in progress, try again), "bad_channel" ([ErrBadChannel]), "timeout"
// ([ErrTimeout]: the handshake took too long), "signaling" ([ErrSignaling]: a signal
// out of place), "closed" (the host is shutting down: [ErrServerClosed] on the
// client), "draining" (the host is draining, [Server.Drain]: [ErrDraining] and
// [ErrServerClosed] on the client). A peer replaced by its own newer offer
// ("replaced") is not told.
//
// # Draining
//
// [Server.Drain] ends a host gracefully (a deploy, SIGTERM): it admits nobody new,
// hands every client an optional final event, then a bye of code "draining", waits
// for the clients to close or its context to end, and closes the Server.
//
// # A host in a browser tab
//
// [Server] builds for GOOS=js GOARCH=wasm too, on the browser's own RTCPeerConnection
// (pion's js build wraps it, as it does for [Client]): the same tick loop, snapshots,
// commands and stats, so a game whose Step is plain Go can be hosted by one player's
// tab while the others, in browsers or native, join it through the lobby. The player
// hosting plays through [DialLocal]: a [Client] on in-memory channels to a Server in
// the same process, speaking the same protocol without any network, so Step sees it
// as any other client. In the browser the Transport settings (limits, ICE mode,
// ListenUDP) are the browser's to choose; ICE servers still apply.
//
// A browser limits a tab in ways a process is not limited, and the host handles them
// as well as the platform allows ([PageConfig], [Server.Page]):
//
//   - Hidden tabs: a hidden tab's timers run at most once a second (Chromium aligns
//     them to whole seconds), which would run a burst of MaxCatchUp ticks a second and
//     skip the rest. While the tab is hidden the host runs a dedicated Web Worker,
//     whose timers are not throttled, that wakes the tab twice per tick; messages
//     arriving from clients wake it as well. [PageStats] reports the time hidden and
//     the ticks run, late and skipped meanwhile, and whether the worker runs
//     ([PageConfig.NoWaker] turns it off, for pages whose Content-Security-Policy
//     forbids blob: workers). requestAnimationFrame does not run in a hidden tab, so
//     the hosting player's own frame loop, and its inputs, stop meanwhile.
//   - The tab closing: on "pagehide" the host sends every client a bye at once,
//     with [PageConfig.Goodbye] as its reason (the page may not run another task),
//     so clients end with [ErrServerClosed] and that reason instead of timing out,
//     and then closes. Reloading the tab ends the game the same way.
//   - One thread: the host, its clients' callbacks, the game and the page share the
//     tab's one thread (GOMAXPROCS is 1), so snapshots are encoded in one group, and
//     a long Step delays the page's drawing as much as the ticks.
//
// # Connection lifecycle
//
// A session outlives a network that blips or changes and a client that restarts
// (lifecycle*.go). What each side sees:
//
//	what happened                 client                             game (Tick)
//	host quiet, ICE disconnected  State: LinkRestarting, an ICE      nothing, if heard from
//	or failed                     restart (snapshots resume, what    again within Timeout
//	                              was queued arrives once)
//	silent for the host's         still restarting                   Suspended: entity and score
//	Timeout, or its connection                                       kept; Resumed when back, or
//	closed without a goodbye                                         Left after ResumeWindow
//	restarts failed, or the       Err: ErrConnectionLost (or         Suspended; Resumed when a new
//	client process died           ErrTimeout); ResumeState           client dials with ResumeState
//
// ICE restart. The client watches the host and the ICE state. The host sends a snapshot
// every send interval, so when nothing at all arrives for [RestartConfig.Quiet] of
// them (15: 0.5 s at 30 Hz, the last three counted on the client's own timer so that
// a stall of the client itself does not count) the path is dead, typically after a
// network switch nobody reported, which ICE would take 4 s to conclude. On that, or
// ICE disconnected for [RestartConfig.After] (1 s, after ICE's own
// [TransportConfig.ICEDisconnectedTimeout] of silence), or failed, or silent for
// [ClientConfig.Timeout], or told by [Client.RestartICE] (call it on a network change
// event), it sends an ICE restart offer through the same
// Signaler, up to [RestartConfig.Attempts] times with backoff, each given
// [RestartConfig.Timeout]. The host answers. It offers a restart itself, after twice
// After, only to a client that does not restart ICE itself (its first ack says
// whether it does): offers that cross would leave both sides stuck, since pion cannot
// roll a local offer back. The data channels and their SCTP association survive, so
// nothing is replayed: commands and events queued meanwhile arrive once and in order,
// and the snapshot stream resumes. ICE keeps checking a new candidate pair for
// [TransportConfig.ICEPairTimeout], so an attempt started while the network is down
// succeeds as soon as it returns. A restart on a path that still works (a false alarm)
// costs little: the snapshot stream showed no gap longer than one send interval in
// `go run ./bench recover`; still, the quiet watch waits out loss bursts of a few
// hundred milliseconds. Client.Stats counts the attempts (and, in QuietRestarts, the
// episodes the quiet watch started); the host's [LifecycleStats] counts those it
// answered and offered.
//
// Suspension. A client silent for [ServerConfig.Timeout], or whose connection closed
// without a goodbye, is suspended rather than dropped, for [ServerConfig.ResumeWindow]
// (30 s; negative: dropped as before): the game sees it in [Tick.Suspended] and keeps
// its entity; its connection is kept for an ICE restart to revive; events sent to it
// wait, up to [ServerConfig.ResumeBytes] (past it it leaves with [ErrResumeOverflow]
// rather than lose them). It comes back in [Tick.Resumed], on its own connection or
// on a new one; once the window has passed it leaves ([Tick.Left], with the original
// reason).
//
// Resumption. When the connection itself is gone, a new client (in the same process
// or another: a reloaded page) dials with the old one's [Client.ResumeState] as
// [ClientConfig.Resume]. The state holds the host's resume token (opaque, signed by
// the host, single-use: every resumption issues the next), the client's key (16
// random bytes that bind the token to the client: proven over the new connection's
// DTLS-encrypted channel, never sent through signaling), the number of events received
// and the commands not yet acknowledged. The client gets the same ClientID and a full
// snapshot (its baselines start over); the host replays the events the client did not
// receive, in order, and takes the commands it had not received (numbered, so each is
// delivered exactly once). A resumption the host refuses makes Dial return a
// [RejectError] matching [ErrResumeExpired] (the window passed, or the session ended),
// [ErrResumeInvalid] (malformed, not this host's, or without the right key),
// [ErrResumeReplayed] (used, or in use) or [ErrResumeOverflow]; the client may then
// dial afresh. An offer that arrives on a connected or suspended client's signaling
// path with another DTLS certificate or a resume token (a reloaded page whose lobby
// connection resumed) is handed to Accept as a new connection.
//
// On the wire (additions of this version; a peer that does not use them works as
// before, without resumption):
//
//   - An offer signal may carry "resume": the token.
//   - The welcome map may carry "resume" (the token, base64url), "window_ms" (the
//     resume window), and, answering a resumption, "resumed": true, with "id" the
//     resumed ClientID and "commands" the number of the client's commands the host
//     has received.
//   - 0x14 ack (reliable, both ways; a msgpack map). Client→host: "events", the
//     number of events received (every 0x12 counts), sent when it changed, at most
//     once per ping interval; and, in its first ack right after the welcome, "key"
//     (16 bytes), "restarts" (true: it restarts ICE itself, so the host never
//     offers it a restart) and "copies" (true: it takes event copies, see "Copies"). Host→client: "commands", the number of commands received
//     (every 0x11 counts), at most every 250 ms. Each side forgets what the other has
//     acknowledged; the client keeps at most [ClientConfig.ResumeBytes] of commands.
//   - A resuming client's first reliable message is its 0x14 ack with "events",
//     "key" and "restarts"; the host then takes the session over, sends the welcome, replays the
//     events numbered above "events", and the client resends the commands numbered
//     above "commands".
//
// Token (host-private; documented for hosts that need to compare): base64url without
// padding of version 1 (u8), ClientID (u32), generation (u32) and the first 16 bytes of
// HMAC-SHA256 over those 9 bytes with a per-Server random key.
//
// # Wire format of the unreliable channel
//
// Every message starts with a kind byte and a big-endian uint32 sequence number per
// direction (used for loss statistics); integers are big-endian.
//
//	0x01 snapshot  host→client  kind seq u32 | lastInput u32 | snapshot packet
//	0x02 update    client→host  kind seq u32 | ack (snapshot.AppendAck) | n u8 |
//	                            n × (tick u32, len u8, len bytes)
//	0x03 ping      client→host  kind seq u32 | clientTime u64 ns | recv u32 | lost u32 |
//	                            rtt u32 µs | jitter u32 µs
//	0x04 pong      host→client  kind seq u32 | clientTime u64 ns | hostTime u64 ns since
//	                            tick 0 | recv u32 | lost u32
//	0x05 command   client→host  kind seq u32 | events u32 | first u32 | n u8 |
//	     copies                 n × (len u16, len bytes)
//	0x06 event     host→client  kind seq u32 | commands u32 | first u32 | n u8 |
//	     copies                 n × (len u16, len bytes)
//
// lastInput is the last input tick applied plus one (0: none yet). The client sends an
// update with every [Client.SendInput], and acknowledges every snapshot it decodes:
// in the next update, or in an update of its own once [ClientConfig.AckDelay] has
// passed without one; inputs are listed in ascending ticks, the newest that fit. The
// host drops a client that sends no update for [ServerConfig.Timeout]. recv and lost
// are the sender's counts of received and missing messages on the other direction, so
// each side knows the loss both ways (see [Stats]). A whole message is at most
// [MaxUnreliableBytes] bytes so it fits one SCTP chunk: snapshot packets get
// [MaxSnapshotPacketBytes] and a send at most [ServerConfig.MaxPacketsPerSend] of
// them (the per-client byte budget).
//
// # Copies
//
// A lost packet holds the reliable channel up for an SCTP retransmission timeout
// ([TransportConfig.SCTPRTOMax], 150 ms) and everything queued behind it. So small
// commands ([ClientConfig.CopyBytes], 256 bytes of msgpack) and events
// ([ServerConfig.CopyBytes]) also travel on the unreliable channel, repeated until the
// other side acknowledges them, and the receiver delivers each exactly once and in
// order, from whichever channel brings it first: [Tick.Commands] and [Client.Events]
// see no difference. Protocol version 2; optional for a client (the host sends event
// copies only to a client whose first 0x14 ack says "copies").
//
// The numbering is the one resumption uses: the client's k-th command message on the
// reliable channel is command k, the host's k-th event message event k, counted across
// resumptions. Each side counts the other's messages received (1…k all arrived): a
// reliable message at or below the count came first as a copy and is skipped, a copy
// exactly one above it is delivered (and checked, queued and counted like the
// reliable one), any other copy is ignored. A copies message carries the sender's
// count of the other direction ("events" from the client, "commands" from the host),
// which ends the copying of what it covers, then copies of messages first, first+1,
// ...: the unacknowledged small ones from the oldest on, at most 1,086 bytes and 255
// of them; a message that does not fit, and every later one until the copies are
// acknowledged up to it, travels on the reliable channel only ([Stats].Uncopied). The
// client sends its copies with every update, the host at the end of every tick;
// neither sends a copy with its message, since pion would bundle both into one SCTP
// packet, lost together. Each answers the other's copies at once (the client in a
// 0x05, the host in a 0x06 at the end of the tick). Neither sends copies while its
// unreliable channel holds more than one packet (1,100 bytes) unsent: on a congested
// association copies would queue ahead of inputs, acks and snapshots
// ([Stats].CopiesHeld counts the copies messages held back; the next update or tick
// tries again). [Stats].CopiesFirst counts the messages a copy delivered first.
//
// # Reliable channel
//
// Every message is a kind byte followed by msgpack: 0x10 welcome (host→client, the
// first message on the channel: a map with the client ID, tick rate, send rate,
// protocol version [ProtocolVersion] and the Registry's schema fingerprint; [Dial]
// refuses a host whose version or fingerprint differs with [ErrVersionMismatch] or
// [ErrSchemaMismatch]), 0x11 command (client→host), 0x12
// event (host→client), 0x14 ack (either way, see "Connection lifecycle"), 0x13 bye
// (either way, a map with a reason code and text: the
// side that ends a session says why, and the other side closes the connection; the
// codes are "left", "closed", "kicked", "timeout", "flood", "protocol", "slow",
// "bad_channel", the refusal codes above and the resumption's "resume_expired",
// "resume_invalid", "resume_replayed", "resume_overflow"; a bye before the welcome is
// a refusal).
// Every msgpack payload is
// pre-scanned before decoding, so a claimed container length larger than the bytes
// that remain is rejected without allocating.
//
// The complete wire contract, for clients in any language, is docs/protocol.md in the
// repository, with golden vectors in testdata/protocol.
//
// # Transport settings
//
// [NewWebRTCAPI] builds the pion API from a [TransportConfig]: SCTP maximum message
// size, SCTP RTO max, DTLS handshake deadline and ICE timeouts, each with a documented
// default; [ICEConfig.LoopbackOnly] restricts ICE to 127.0.0.1 (tests, benchmarks, a
// localhost game); [ServerConfig.ListenUDP] puts all clients on one UDP port;
// [ICEConfig.PublicIPs] rewrites host candidates to a public address. Under GOOS=js
// the browser's RTCPeerConnection applies its own limits and the client API is the
// same. [Server.Totals], [Server.LoopStats] and [Server.LoopTimings] report the host's
// totals and histograms of the tick's work and of the snapshot send lag; package
// netcode/netcodeprom exports them to Prometheus (netcode itself does not link it).
package netcode

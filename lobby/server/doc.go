// Package server is Volley's lobby service: rooms and WebRTC signaling over WebSocket,
// speaking the protocol documented in package [github.com/volleynet/volley/lobby] (which
// also holds the Go client). Import it as lobbyserver:
//
//	import lobbyserver "github.com/volleynet/volley/lobby/server"
//
//	srv := lobbyserver.New(lobbyserver.Config{}) // development defaults: anyone may host
//	defer srv.Close()
//	hs := lobbyserver.HTTPServer(srv.Mux(), lobbyserver.HTTPConfig{Registerer: srv.Registry()})
//	hs.Addr = ":8089"
//	hs.ListenAndServe() // /ws, /healthz and /metrics
//
// A [Server] is the WebSocket endpoint, a [net/http.Handler]; [Server.Mux] adds
// /healthz and /metrics. Every limit is a [Config] field with a documented default
// (the README's "Security and limits" lists them with what an offender gets). Serve it with an
// http.Server from [HTTPServer], whose timeouts, body limit and socket cap bound what a
// client can hold outside the WebSocket protocol (a bare http.Server lets a client
// hold a socket forever).
// Run it as a command with `go run ./lobby/cmd/lobby`. Only servers import this
// package: it links Redis and Prometheus, which a player program must not.
//
// # Several instances
//
// Instances that share a [RedisStore] (same Redis, same Prefix and TTL) serve one set
// of rooms: a player connected to instance B lists, joins and quick-joins a room whose
// host is connected to instance A, and the whole protocol works across them unchanged.
// Put them behind any load balancer; no sticky sessions are needed beyond the
// WebSocket itself. Run `lobby -redis redis://host:6379/0` on each.
//
//   - State: each Store method is one Lua script, atomic across instances (capacity
//     holds under concurrent joins through different instances).
//   - Relay: every instance has an ID, embedded in the connection IDs it hands out
//     ("c" + 8 hex digits of instance + 16 random hex digits), and subscribes to its own
//     Redis pub/sub channel. A signal, member_joined, member_left or room_closed for a
//     connection held elsewhere is published to the holder's channel, stamped and
//     checked (the sender is the target's host or member, per the store) by the sending
//     instance; the receiving one queues it only if the target is still in that room.
//     One instance publishes synchronously in the order it handles messages, and Redis
//     delivers a channel's messages in order, so a peer's offer and trickled candidates
//     arrive in order. Pub/sub rather than per-connection lists or streams: signaling is
//     ephemeral (a stale offer is worthless after a reconnect), PUBLISH reports whether
//     the target's instance is alive (a signal to a crashed instance's connection gets
//     peer_not_found at once), and nothing needs cleaning up. The price is at-most-once
//     delivery: a signal in flight while an instance's Redis connection drops is lost,
//     and the WebRTC negotiation it belonged to times out (the player may dial again).
//   - Resumption: a client whose WebSocket dropped may resume its connection through
//     any instance, typically another one behind the load balancer. That instance
//     takes the connection over from its holder through the relay: the holder checks
//     the token, routes the connection to the new instance in the store (key
//     route:<connection ID>, 3×TTL, refreshed by whoever holds it) while, in the same
//     atomic step, publishing a marker to itself, and on that marker hands over the
//     room, the seat (a host's members and room record) and the messages that waited.
//     Events sent before the route changed reach the old holder before the marker and
//     travel in the handoff; later ones go to the new holder, which keeps them until
//     the resumption completes, so the connection sees one stream in order. The
//     connection keeps its ID (the one its peers and its host's game know); routes
//     decide where its events go and whether it is alive. The token is single-use on
//     every instance; a takeover that gets no handoff within 2×StoreTimeout is
//     answered resume_failed, and a handoff that comes later makes the connection
//     leave its room. Metric: lobby_resumes_total{result} counts "moved" on the old
//     instance and "ok" on the new one.
//   - Liveness: an instance refreshes its liveness key every CheckInterval (1 s) and
//     the keys of the rooms it hosts and of its connections' memberships every TTL/3
//     (default TTL 30 s). When it crashes, its rooms (and its connections' memberships
//     in rooms hosted elsewhere) are ignored and pruned as soon as its liveness key
//     expires, and their keys expire by TTL (a room's host also drops its dead members
//     from the store at every refresh). Hosts are not sent member_left for members
//     lost that way (their WebRTC sessions time out); members of its rooms get
//     room_closed "store_lost" from their own instance once the room has stayed gone
//     for a TTL. A graceful shutdown ([Server.Close]) closes its rooms (members
//     elsewhere get room_closed) and deletes its liveness key; [Server.Drain] comes
//     before it on SIGTERM, so that hosts can open their rooms again through the other
//     instances first.
//   - Outages: while Redis does not answer, [Server.HealthHandler] (/healthz) answers
//     503 (a readiness check: take the instance out of the load balancer, do not
//     restart it) and lobby_store_up is 0; requests that need the store are answered
//     "internal" after StoreTimeout, while signals between connections of one instance
//     keep flowing. When Redis answers again and this instance's records are gone (Redis
//     restarted empty, or the outage outlasted the TTL), the instance puts back the
//     rooms its connections host and their memberships at the first check
//     (lobby_store_restored_total{what}); memberships in rooms hosted elsewhere follow
//     as soon as those rooms are back. A hosted room that cannot be put back (its ID
//     taken by another host meanwhile) is closed with room_closed "store_lost" to its
//     host and members. Measured here: rooms and members back 40–130 ms after an empty
//     Redis answered again (TestRedisRestart).
//   - Limits: MaxRooms is checked against the shared count, not atomically with the
//     creation (concurrent creates may overshoot it slightly). Keys live in one Redis
//     (a single node, or Sentinel), not Redis Cluster. Metric:
//     lobby_relay_messages_total{result} (published, unrouted, received, dropped, error).
//
// # Implementation
//
// Each connection has exactly one reader goroutine (the ServeHTTP goroutine), which
// handles its messages in order, and one writer goroutine. One hub mutex guards the
// connection table and each connection's room fields; it is held only to read and
// update them and to queue messages already encoded into the bounded per-connection
// queues (never blocking: a full queue drops its connection), never across a Store
// call, a relay publish, JSON encoding or work proportional to the number of rooms.
// State lives behind the [Store] interface ([MemoryStore] by default), whose methods
// are each atomic so that a shared implementation ([RedisStore]) can back several
// instances; each call runs on the requesting connection's goroutine with a deadline
// (StoreTimeout). A signal needs no store call: a host knows its members from the
// member_joined and member_left it was sent, a member its host from "joined". Room
// lists are read, encoded and queued on the lister's goroutine, in pages bounded in
// rooms and bytes. Metrics use the server's own Prometheus registry
// ([Server.Registry]): lobby_connections, lobby_connections_total, lobby_rooms,
// lobby_messages_received_total{type}, lobby_messages_sent_total{type},
// lobby_rejections_total{reason}, lobby_send_queue_bytes, lobby_store_up,
// lobby_store_restored_total{what}, and [HTTPServer]'s lobby_http_sockets and
// lobby_http_rejections_total{reason}.
//
// Measured here (2 cores shared with other jobs, load 8–15, go test -run '^$' -bench
// SignalLatency -benchtime 200x ./lobby/server): honest signal latency while 40
// connections list 100 rooms of 4 KB metadata at 50/s each went from p50 140–200 ms /
// p99 340–860 ms (160–260 lists/s served) before the hub lock stopped covering store
// calls and encoding, to p50 0.5–2.6 ms / p99 70–190 ms (600–1,800 lists/s; listers
// that fell 1 MiB behind were dropped as slow consumers); with Redis paused 200 ms of
// every 250 ms, from p50 2.4–3.6 ms / p99 0.9–1.5 s to p50 0.13 ms / p99 1.6–3 ms.
package server

// Package server is Volley's lobby service: rooms and WebRTC signaling over WebSocket,
// speaking the protocol documented in package [github.com/volleynet/volley/lobby] (which
// also holds the Go client). Import it as lobbyserver:
//
//	import lobbyserver "github.com/volleynet/volley/lobby/server"
//
//	srv := lobbyserver.New(lobbyserver.Config{}) // development defaults: anyone may host
//	defer srv.Close()
//	http.ListenAndServe(":8089", srv.Mux()) // /ws, /healthz and /metrics
//
// A [Server] is the WebSocket endpoint, a [net/http.Handler]; [Server.Mux] adds
// /healthz and /metrics. Every limit is a [Config] field with a documented default.
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
//   - Liveness: an instance refreshes its liveness key and the keys of the rooms it
//     hosts every TTL/3 (default TTL 30 s). When it crashes, its rooms (and its
//     connections' memberships in rooms hosted elsewhere) are ignored and pruned as soon
//     as its liveness key expires, and their keys expire by TTL. Hosts are not sent
//     member_left for members lost that way (their WebRTC sessions time out). A graceful
//     shutdown ([Server.Close]) closes its rooms (members elsewhere get room_closed) and
//     deletes its liveness key. A Redis outage longer than TTL loses the rooms of the
//     instances that could not refresh them.
//   - Limits: MaxRooms is checked against the shared count, not atomically with the
//     creation (concurrent creates may overshoot it slightly). Keys live in one Redis
//     (a single node, or Sentinel), not Redis Cluster. Metric:
//     lobby_relay_messages_total{result} (published, unrouted, received, dropped, error).
//
// # Implementation
//
// Each connection has exactly one reader goroutine (the ServeHTTP goroutine) and one
// writer goroutine. Room state is changed only under one hub mutex, which never covers
// I/O: replies and relays go into the bounded per-connection queues without blocking.
// State lives behind the [Store] interface ([MemoryStore] by default), whose methods
// are each atomic so that a shared implementation ([RedisStore]) can back several
// instances (with a shared store, each call is a Redis round trip under the hub lock,
// about 0.1 ms over loopback). Metrics use the
// server's own Prometheus registry ([Server.Registry]): lobby_connections,
// lobby_connections_total, lobby_rooms, lobby_messages_received_total{type},
// lobby_messages_sent_total{type} and lobby_rejections_total{reason}.
package server

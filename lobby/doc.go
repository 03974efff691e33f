// Package lobby is the protocol of Volley's rooms-and-signaling service and its Go
// client. The service itself is package [github.com/volleynet/volley/lobby/server]
// (import it as lobbyserver; run it with `go run ./lobby/cmd/lobby`). Keeping them
// apart lets a player program import lobby without linking the server, Redis or
// Prometheus (a test pins this).
//
// The service is an [net/http.Handler] that speaks a small JSON protocol over WebSocket:
// hosts create rooms, players list and join them, and the lobby relays WebRTC signaling
// (offer, answer, trickled ICE candidates) only between a player and the host of its
// room, stamping the sender itself. It hands every connection the ICE server list, with
// time-limited TURN credentials when a TURN secret is configured. This package holds the
// protocol's types ([Message], [RoomInfo], [ICEServer], the Type*, Code* and Reason*
// constants, [DecodeMessage]) and documents it below.
//
// A [Client] speaks the protocol natively (gorilla/websocket) and, under GOOS=js
// GOARCH=wasm, on the browser's WebSocket through syscall/js (the wasm build links
// neither net/http nor gorilla). It plugs into netcode through [signaling.Signaler]:
//
//	// player
//	c, _ := lobby.Dial(ctx, "wss://lobby.example.com/ws", lobby.ClientConfig{})
//	c.QuickJoinMatching(ctx, lobby.RoomFilter{Game: "mygame", GameVersion: "1"})
//	session, err := netcode.Dial(ctx, cfg, c.HostSignaler())
//
//	// host
//	c, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
//	c.Create(ctx, lobby.RoomOptions{Name: "arena", Capacity: 8, Game: "mygame", GameVersion: "1"})
//	for {
//		_, sig, err := c.AcceptMember(ctx) // one Signaler per member
//		if err != nil { break }
//		go server.Accept(ctx, sig)
//	}
//
// # Protocol
//
// Connect a WebSocket to the lobby's endpoint (/ws for cmd/lobby). Every frame is a text
// frame holding one JSON object with a "type" field. Unknown fields are ignored, so
// later versions may add some. Per-message compression is not negotiated.
//
// Requests may carry a "ref" (a string of at most 64 bytes, chosen by the client); the
// server copies it into the one reply to that request: the success reply named below,
// or an "error" (whose "ref" is empty only when the frame was not readable JSON). The
// server handles each connection's messages in order. "signal" has no success reply.
//
// IDs are opaque strings: connection IDs (starting with "c") and room IDs (starting
// with "r"). A connection is in at most one room at a time, either as its host or as a
// member (player). Capacity counts members, not the host.
//
// Server to client, first message on every connection:
//
//	{"type":"welcome","id":"c1f0e...","token":"c1f0e....5b2c...","grace":20000,"iceServers":[
//	  {"urls":["stun:stun.example.com:3478"]},
//	  {"urls":["turn:turn.example.com:3478"],"username":"1700043200:c1f0e...","credential":"base64..."}]}
//
// "id" is this connection's ID, the one peers see as "from"/"peer". "iceServers" has
// the shape of RTCConfiguration.iceServers and is absent when empty. "token" and
// "grace" (milliseconds) are present when the server keeps dropped connections for
// their clients to resume (see "Reconnecting" below). TURN credentials
// follow the TURN REST API: username "expiry:id" (expiry in Unix seconds), credential
// base64(HMAC-SHA1(secret, username)); see
// [github.com/volleynet/volley/lobby/server.TURNCredentials].
//
// create (become the host of a new room):
//
//	→ {"type":"create","ref":"1","name":"arena","capacity":8,"metadata":{"map":"dust"},"password":"optional","secret":"optional","game":"volley-arena","gameVersion":"1"}
//	← {"type":"created","ref":"1","room":{"id":"r...","name":"arena","host":"c...","capacity":8,"members":0,"locked":true,"metadata":{"map":"dust"},"game":"volley-arena","gameVersion":"1"}}
//
// "name" (≤ 64 bytes by default), "capacity" (0 or absent: 8; at most 256 by default),
// "metadata" (any JSON value, ≤ 4096 bytes by default, shown in room lists),
// "password" (empty: open room), "game" and "gameVersion" (what the room is for, each
// ≤ 64 bytes by default; players filter on them) are optional. "secret" is the host
// secret when the server requires one. Errors: forbidden, already_in_room,
// bad_request, too_many_rooms, rate_limited (too many rooms created from this address).
//
// list (one page of rooms):
//
//	→ {"type":"list","ref":"2","game":"volley-arena","gameVersion":"1","limit":20,"cursor":"..."}
//	← {"type":"rooms","ref":"2","rooms":[{room object}, ...],"next":"..."}
//
// Rooms oldest first; "rooms" is absent when there are none. Every field of the
// request is optional: "game" and "gameVersion" keep only rooms whose fields are equal
// (absent or empty: any); "limit" asks for at most that many rooms (absent, 0 or more
// than the server's maximum, 100 by default: the maximum); "cursor" continues after
// the page whose "next" it is. A page also ends before its reply would exceed the
// server's size limit (64 KiB by default), holding at least one room. "next" is absent
// on the last page; it is opaque, and stays valid when rooms close. Any connection may
// list, in a room or not. Errors: bad_request (a cursor the server did not issue).
//
// join (by room ID) and quick_join (the oldest unlocked room with space, of a game):
//
//	→ {"type":"join","ref":"3","roomId":"r...","password":"if locked"}
//	→ {"type":"quick_join","ref":"3","game":"volley-arena","gameVersion":"1"}
//	← {"type":"joined","ref":"3","room":{room object; "host" is the peer to signal}}
//
// quick_join's "game" and "gameVersion" filter as list's do (absent: any room).
// The host then receives {"type":"member_joined","roomId":"r...","peer":"c..."}.
// Errors: already_in_room, bad_request (join without roomId), room_not_found,
// wrong_password, room_full, no_room_available (quick_join), rate_limited (too many
// joins from this address, or too many wrong passwords from it or for that room: the
// password was not checked; "message" says when to retry).
//
// leave:
//
//	→ {"type":"leave","ref":"4"}
//	← {"type":"left","ref":"4","roomId":"r..."}
//
// A member leaving (or disconnecting) sends its host {"type":"member_left","roomId":"r...","peer":"c..."}.
// A host leaving (or disconnecting) closes the room: each member receives
// {"type":"room_closed","roomId":"r...","reason":"host_left"} and is in no room anymore.
// With a shared store, a room the store lost for good (see package lobby/server) is
// closed with reason "store_lost", for its host too; the host may create a new room.
// A member may receive "joined" followed at once by "room_closed" when the host left
// while it joined. Errors: not_in_room.
//
// signal (relay an offer, answer or ICE candidate):
//
//	→ {"type":"signal","to":"c...","signal":{"type":"offer","sdp":"v=0..."}}
//	← (to the peer) {"type":"signal","from":"c...","signal":{"type":"offer","sdp":"v=0..."}}
//
// The payload keeps the browser's shapes: {"type":"offer","sdp":...},
// {"type":"answer","sdp":...}, and {"type":"ice","candidate":"candidate:...",
// "sdpMid":"0","sdpMLineIndex":0} (an RTCIceCandidateInit plus "type"; an empty
// candidate marks the end of candidates); see [signaling.Signal]. SDPs are limited to
// 64 KiB and candidates to 1 KiB. A member may only signal its host ("to" may be
// omitted); a host only members of its own room ("to" required). "from" is always set
// by the lobby; a "from" sent by a client is ignored. Errors: not_in_room,
// invalid_signal, peer_not_found (any other target: unknown, foreign, self or empty).
//
// error:
//
//	← {"type":"error","ref":"3","code":"room_full","message":"room is full"}
//
// "code" is stable (the Code* constants): bad_message (not a JSON object of the
// protocol, or a binary frame), unknown_type, bad_request, forbidden, already_in_room,
// not_in_room, room_not_found, room_full, wrong_password, no_room_available,
// too_many_rooms, peer_not_found, invalid_signal, rate_limited, internal. "message" is
// for humans. An error never changes state: a rejected request has no effect, and the
// connection stays open.
//
// A room object: {"id","name","host","capacity","members","locked","metadata","game",
// "gameVersion"}; "metadata", "game" and "gameVersion" are absent when empty.
//
// # Reconnecting
//
// A connection in a room whose WebSocket drops without a normal close (1000) from its
// client, and not because the server closed it, is kept for the grace window
// announced in the welcome ("grace", the server's MemberGrace, 20 s by default): it
// keeps its ID, its room and its seat (a host's room stays open), and what would be
// sent to it waits (at most SendQueue messages; one more ends the grace). A new
// connection takes it over by sending, as its first request, the token of the
// welcome (or of the last "resumed"):
//
//	→ {"type":"resume","ref":"1","token":"c1f0e....5b2c..."}
//	← {"type":"resumed","ref":"1","id":"c1f0e...","token":"<next token>","room":{room object}}
//
// then the messages that waited, in order. The peers never see it leave: no
// member_left, no room_closed. "room" is absent when the connection is in no room any
// more. A token is single-use; the takeover also closes an old WebSocket the server
// still thinks open (a client knows its network changed before the server does).
// Errors: resume_failed (the token is unknown, used or malformed, its grace passed,
// or the connection is already in a room). When the grace passes, the connection
// leaves its room as a disconnect would.
//
// The Go [Client] does this by itself: when its WebSocket fails (not when the server
// closed it with a close frame), it dials again and resumes with backoff
// ([ClientConfig.ReconnectAttempts], [ClientConfig.ReconnectBackoff]) while the grace
// lasts; its ID, room and Signalers stay the same, messages sent meanwhile wait in
// its send queue, and [Event] TypeResumed says it happened. A new Client resumes an
// old one's connection with [ClientConfig.Resume] = [Client.ResumeToken] (a browser
// keeps it in sessionStorage across a reload). With several instances on Redis a
// client resumes through any of them (the same URL, wherever the load balancer sends
// it): the instance it reaches takes the connection over from the one that held it,
// with everything that waited for it, and the token is spent on all of them.
//
// # Limits and closes
//
// Each is a field of the server's Config
// ([github.com/volleynet/volley/lobby/server.Config]); the defaults are documented there
// and listed with what an offender gets in the README's "Security and limits".
//
//   - Before the upgrade: an Origin not allowed (default: no Origin header, the same
//     origin, or localhost/127.0.0.1/[::1]) gets HTTP 403; beyond MaxConnections, 503;
//     beyond MaxConnectionsPerIP (100) connections from one address, 429.
//   - A frame larger than ReadLimit (128 KiB) closes the connection with 1009. A
//     binary frame is answered with a bad_message error (the protocol is text only).
//   - Messages beyond MessagesPerSecond (50/s, burst 100; a host's grow with its room:
//     × (1 + members)) and a player's signals beyond SignalsPerSecond (10/s, burst 40)
//     are throttled (not read until the rate allows); a connection throttled without
//     pause for ThrottleTimeout (2 s) is closed with 1008 "rate_limited".
//   - Each connection's outgoing queue holds SendQueue (256) messages and
//     SendQueueBytes (1 MiB); a client that does not read fast enough to keep it from
//     filling is disconnected at once.
//   - Per address: creates (1/s, burst 20) and joins (2/s, burst 20) beyond the rate,
//     and any join of a locked room after too many wrong passwords from the address
//     (5) or for the room (20), until a backoff (1 s, doubling to 1 min) ends, are
//     answered rate_limited.
//   - The server pings every PingInterval (25 s) and closes a connection from which no
//     frame arrived for PongTimeout (60 s). A connection in no room that sent nothing for
//     IdleTimeout (5 min) is closed with 1000 "idle".
//   - Server shutdown closes every connection with 1001 "shutdown" (no room_closed).
//     A draining instance (lobbyserver.Server.Drain, SIGTERM to the command) first
//     sends every connection {"type":"draining","message":"..."} (TypeDraining: connect
//     again to reach another instance), answers new connections with HTTP 503, and
//     keeps relaying until its connections have left or its deadline has passed.
//
// Disconnecting is the same as "leave" once the grace window has passed without a
// resumption (at once after a normal close, a server-side close, or with the grace
// disabled).
//
// Several instances sharing one Redis serve one set of rooms; the protocol is the same
// on every instance. See package [github.com/volleynet/volley/lobby/server].
package lobby

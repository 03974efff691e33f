// Package turnserver is a TURN relay (RFC 5766, built on pion/turn) for players whose
// network blocks direct WebRTC: symmetric NATs, and corporate or mobile networks that
// block UDP (TURN over TCP). It authenticates with the TURN REST API scheme the lobby
// already uses for its credentials (lobbyserver.TURNCredentials: username
// "<expiry unix seconds>:<connection id>", password base64(HMAC-SHA1(secret,
// username))), so a lobby and a relay that share one secret need nothing else: the
// lobby hands out the relay's URLs and credentials in every welcome.
//
// Run it inside the lobby command (-turn-listen :3478), inside a host, or alone
// (turnserver/cmd/turnserver). Limits, each a Config field with a default and a
// metric when it bites: allocations per user (the lobby connection ID in the
// username) and in all, bytes per second per allocation, TURN-over-TCP connections
// and their idle timeout, and the relay port range. TCP relay allocations (RFC 6062),
// which WebRTC never asks for, are refused.
//
// Metrics (Server.Register): volley_turn_allocations, volley_turn_tcp_connections,
// volley_turn_allocations_total{transport}, volley_turn_auth_total{result},
// volley_turn_refusals_total{reason}, volley_turn_relayed_bytes_total{direction},
// volley_turn_dropped_packets_total{reason}.
package turnserver

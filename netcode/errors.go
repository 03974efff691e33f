package netcode

import "errors"

// Errors. Disconnect reasons reported in [Departure.Reason] and by [Client.Err] wrap
// one of these.
var (
	// ErrClosed: the Server or Client was closed locally.
	ErrClosed = errors.New("netcode: closed")
	// ErrServerClosed: the host shut down (reported to clients).
	ErrServerClosed = errors.New("netcode: host closed")
	// ErrClientLeft: the client said goodbye (a clean disconnect).
	ErrClientLeft = errors.New("netcode: client left")
	// ErrKicked: game code disconnected the client with Server.Kick.
	ErrKicked = errors.New("netcode: kicked")
	// ErrTimeout: the peer stopped acknowledging for longer than the timeout.
	ErrTimeout = errors.New("netcode: peer timed out")
	// ErrConnectionLost: ICE, DTLS or SCTP failed or a data channel closed.
	ErrConnectionLost = errors.New("netcode: connection lost")
	// ErrFlood: the peer kept sending faster than its rate limit allows.
	ErrFlood = errors.New("netcode: peer flooded")
	// ErrSlowConsumer: a reliable queue grew past its bound (the peer, or the
	// application reading Client.Events, does not keep up).
	ErrSlowConsumer = errors.New("netcode: peer or reader too slow")
	// ErrProtocol: the peer sent something the protocol forbids (bad channel
	// settings, too many malformed messages).
	ErrProtocol = errors.New("netcode: protocol violation")
	// ErrBadChannel: a data channel with the wrong label or settings.
	ErrBadChannel = errors.New("netcode: unexpected data channel")
	// ErrMalformed: a message that does not parse.
	ErrMalformed = errors.New("netcode: malformed message")
	// ErrTooLarge: a message larger than allowed.
	ErrTooLarge = errors.New("netcode: message too large")
	// ErrUnknownKind: a message kind this version does not know.
	ErrUnknownKind = errors.New("netcode: unknown message kind")
	// ErrUnknownClient: no connected client has that ID.
	ErrUnknownClient = errors.New("netcode: unknown client")
	// ErrConfig: an invalid configuration.
	ErrConfig = errors.New("netcode: invalid config")
	// ErrSignaling: the signaling exchange failed or carried something unexpected.
	ErrSignaling = errors.New("netcode: signaling failed")
	// ErrServerFull: the host has MaxClients clients.
	ErrServerFull = errors.New("netcode: host full")
	// ErrNotConnected: the client has not finished connecting or is closed.
	ErrNotConnected = errors.New("netcode: not connected")
	// ErrVersionMismatch: the host speaks another protocol version (its welcome's
	// "proto" is not ProtocolVersion). Dial returns it at once, naming both versions.
	ErrVersionMismatch = errors.New("netcode: protocol version mismatch")
	// ErrSchemaMismatch: the host's snapshot schema (its welcome's "schema"
	// fingerprint) differs from ClientConfig.Registry's: the client would not decode
	// its snapshots. Dial returns it at once, naming both fingerprints.
	ErrSchemaMismatch = errors.New("netcode: snapshot schema mismatch")
)

var errorsIs = errors.Is

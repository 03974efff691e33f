package netcode

import (
	"errors"
	"fmt"
)

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
	// ErrHostFull: the host has MaxClients clients. Accept returns it, and Dial
	// returns a [RejectError] matching it and ErrRejected.
	ErrHostFull = errors.New("netcode: host full")
	// ErrBusy: the host has MaxPendingHandshakes handshakes in progress; trying
	// again shortly may succeed. Accept returns it, and Dial a [RejectError]
	// matching it and ErrRejected.
	ErrBusy = errors.New("netcode: host busy with other handshakes")
	// ErrReplaced: the handshake was abandoned for a newer offer from the same
	// peer. Accept returns it; the peer is not told (it is connecting anew).
	ErrReplaced = errors.New("netcode: handshake replaced by a newer offer")
	// ErrRejected: the host refused the connection. Dial returns a
	// [RejectError], which matches it.
	ErrRejected = errors.New("netcode: rejected by the host")
	// ErrNotConnected: the client has not finished connecting or is closed.
	ErrNotConnected = errors.New("netcode: not connected")
	// ErrVersionMismatch: the host speaks another protocol version (its welcome's
	// "proto" is not ProtocolVersion). Dial returns it at once, naming both versions.
	ErrVersionMismatch = errors.New("netcode: protocol version mismatch")
	// ErrSchemaMismatch: the host's snapshot schema (its welcome's "schema"
	// fingerprint) differs from ClientConfig.Registry's: the client would not decode
	// its snapshots. Dial returns it at once, naming both fingerprints.
	ErrSchemaMismatch = errors.New("netcode: snapshot schema mismatch")
	// ErrDraining: the host is draining (Server.Drain): it admits nobody new and
	// ends every session with the bye code "draining". A client's error wraps it
	// and ErrServerClosed; Accept returns it, and Dial a [RejectError] matching it.
	ErrDraining = errors.New("netcode: host draining")
	// ErrResumeExpired: a resumption came too late: the session's ResumeWindow
	// passed, or it ended for another reason (kicked, left). The client may join
	// afresh.
	ErrResumeExpired = errors.New("netcode: session to resume is gone")
	// ErrResumeInvalid: a resume token that is malformed or not signed by this
	// host, or presented by a client that does not hold the session's key.
	ErrResumeInvalid = errors.New("netcode: invalid resume token")
	// ErrResumeReplayed: a resume token already used, or in use by another
	// resumption at the same time.
	ErrResumeReplayed = errors.New("netcode: resume token already used")
	// ErrResumeOverflow: the events sent to a suspended client outgrew
	// ServerConfig.ResumeBytes; it left rather than lose events silently.
	ErrResumeOverflow = errors.New("netcode: too many events for a suspended client")
)

var errorsIs = errors.Is

// RejectError is a host's refusal, as Dial returns it: the host sent a reject signal,
// or a bye before its welcome. It matches ErrRejected and the error of its code
// (ErrHostFull for "host_full", ErrBusy for "busy", ErrBadChannel for
// "bad_channel"...; see the package doc for the list).
type RejectError struct {
	// Code is the machine-readable reason, e.g. "host_full".
	Code string
	// Reason is the host's explanation, for people.
	Reason string
}

// Error returns "netcode: rejected by the host (code): reason".
func (e *RejectError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("netcode: rejected by the host (%s)", e.Code)
	}
	return fmt.Sprintf("netcode: rejected by the host (%s): %s", e.Code, e.Reason)
}

// Unwrap returns ErrRejected and, for a known code, its error.
func (e *RejectError) Unwrap() []error {
	if err, ok := errorOfCode(e.Code); ok {
		switch err {
		case ErrClosed:
			err = ErrServerClosed
		case ErrDraining:
			return []error{ErrRejected, ErrDraining, ErrServerClosed}
		}
		return []error{ErrRejected, err}
	}
	return []error{ErrRejected}
}

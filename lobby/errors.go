package lobby

import (
	"errors"
	"fmt"
)

// Error codes carried by "error" messages. They are stable: clients may switch on them.
const (
	CodeBadMessage      = "bad_message"       // the frame is not a JSON object of the protocol
	CodeUnknownType     = "unknown_type"      // "type" is missing or not a client message type
	CodeBadRequest      = "bad_request"       // a field is missing, too long or out of range
	CodeForbidden       = "forbidden"         // this connection may not create rooms
	CodeAlreadyInRoom   = "already_in_room"   // create/join while hosting or in a room
	CodeNotInRoom       = "not_in_room"       // leave/signal before create or join
	CodeRoomNotFound    = "room_not_found"    // no room has that ID
	CodeRoomFull        = "room_full"         // the room has as many members as its capacity
	CodeWrongPassword   = "wrong_password"    // the room is locked and the password differs
	CodeNoRoomAvailable = "no_room_available" // quick_join found no open room with space
	CodeTooManyRooms    = "too_many_rooms"    // the server's room limit is reached
	CodePeerNotFound    = "peer_not_found"    // the signal target is not the sender's host or member
	CodeInvalidSignal   = "invalid_signal"    // the signal payload fails signaling.Signal.Validate
	CodeRateLimited     = "rate_limited"      // too many creates, joins or wrong passwords from this address (or for this room): retry later
	CodeInternal        = "internal"          // the store failed; the request had no effect
	CodeResumeFailed    = "resume_failed"     // resume: unknown or used token, grace passed, or not first
)

// Rejection reasons used in the lobby_rejections_total metric besides the error codes above.
const (
	ReasonOrigin       = "origin"        // Origin header not allowed (HTTP 403, before the upgrade)
	ReasonCapacity     = "capacity"      // MaxConnections reached (HTTP 503, before the upgrade)
	ReasonReadLimit    = "read_limit"    // frame larger than ReadLimit (closed with 1009)
	ReasonRateLimited  = "rate_limited"  // message rate above the limit (throttled, then closed with 1008)
	ReasonSlowConsumer = "slow_consumer" // outgoing queue full, in messages or bytes (connection dropped)
	ReasonIdle         = "idle"          // no room joined within IdleTimeout (closed with 1000)
	ReasonShutdown     = "shutdown"      // the server is closing (closed with 1001; not counted)
	ReasonDraining     = "draining"      // the instance is draining (HTTP 503, before the upgrade)

	ReasonIPConnections   = "ip_connections"   // MaxConnectionsPerIP reached (HTTP 429, before the upgrade)
	ReasonIPCreates       = "ip_creates"       // create beyond the address's rate ("rate_limited" error)
	ReasonIPJoins         = "ip_joins"         // join or quick_join beyond the address's rate ("rate_limited" error)
	ReasonPasswordBackoff = "password_backoff" // join of a locked room while its or the address's wrong-password backoff runs ("rate_limited" error)
	ReasonBinaryFrame     = "binary_frame"     // a binary frame (the protocol is text only; "bad_message" error)
)

// Error is an "error" message received from the lobby.
type Error struct {
	Code    string // one of the Code* constants
	Message string // human-readable detail; not stable
}

// Error returns "lobby: code: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return "lobby: " + e.Code
	}
	return fmt.Sprintf("lobby: %s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &lobby.Error{Code: lobby.CodeRoomFull}) works, or the room sentinel
// of that code (ErrRoomNotFound, ErrRoomFull, ErrNoRoomAvailable).
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
	}
	switch e.Code {
	case CodeRoomNotFound:
		return target == ErrRoomNotFound
	case CodeRoomFull:
		return target == ErrRoomFull
	case CodeNoRoomAvailable:
		return target == ErrNoRoomAvailable
	}
	return false
}

// ErrorCode returns the code of the lobby *Error in err's chain, or "" if there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Room errors. A Store (package lobby/server) returns them, possibly wrapped, so that
// the server answers with the matching error code; a Client's *Error of that code
// matches them with errors.Is.
var (
	ErrRoomNotFound    = errors.New("lobby: room not found")
	ErrRoomFull        = errors.New("lobby: room full")
	ErrNoRoomAvailable = errors.New("lobby: no room available")
)

// Client-side sentinels.
var (
	// ErrClosed is returned by a Client's methods once its connection has closed.
	ErrClosed = errors.New("lobby: connection closed")
	// ErrNotHost is returned by AcceptMember on a client that hosts no room.
	ErrNotHost = errors.New("lobby: not hosting a room")
	// ErrRoomClosed is wrapped (with signaling.ErrClosed) by a Signaler whose room closed or whose member left.
	ErrRoomClosed = errors.New("lobby: room closed or peer left")
	// ErrSignalOverflow is wrapped by a Signaler whose receive queue overflowed.
	ErrSignalOverflow = errors.New("lobby: signal queue overflow")
	// ErrBadMessage is wrapped by DecodeMessage's errors.
	ErrBadMessage = errors.New("lobby: bad message")
)

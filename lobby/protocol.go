package lobby

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/volleynet/volley/signaling"
)

// Message types. The first group is sent by clients, the second by the server.
const (
	TypeCreate    = "create"
	TypeList      = "list"
	TypeJoin      = "join"
	TypeQuickJoin = "quick_join"
	TypeLeave     = "leave"
	TypeSignal    = "signal" // both directions
	TypeResume    = "resume"

	TypeWelcome      = "welcome"
	TypeCreated      = "created"
	TypeRooms        = "rooms"
	TypeJoined       = "joined"
	TypeLeft         = "left"
	TypeMemberJoined = "member_joined"
	TypeMemberLeft   = "member_left"
	TypeRoomClosed   = "room_closed"
	TypeError        = "error"
	// TypeDraining tells every connection that its lobby instance is shutting down
	// (a deploy or a scale-down): connect again, and the address used reaches
	// another instance. Its "message" explains it for people. The instance keeps
	// relaying signals (handshakes in progress) until its drain deadline, then
	// closes with 1001 "shutdown". A player whose game is connected needs the lobby
	// no more; a host should open its room again through another instance.
	TypeDraining = "draining"
	TypeResumed  = "resumed"
)

// Reasons carried by "room_closed".
const (
	// RoomClosedHostLeft: the host sent "leave" or disconnected.
	RoomClosedHostLeft = "host_left"
	// RoomClosedStoreLost: the lobby's shared store lost the room (its keys vanished,
	// say when Redis restarted empty) and could not restore it. The host may create a
	// new room.
	RoomClosedStoreLost = "store_lost"
)

// MaxRefBytes bounds the client-chosen "ref" that the server echoes in its reply.
const MaxRefBytes = 64

// Message is the JSON envelope of every lobby message in both directions. Each message
// type uses a few of its fields (see the package documentation); the others are omitted.
type Message struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`

	// welcome
	ID         string      `json:"id,omitempty"`
	ICEServers []ICEServer `json:"iceServers,omitempty"`
	// welcome, resume, resumed: the connection's resume token; welcome: the grace
	// window in milliseconds (absent: the server keeps no identities)
	Token string `json:"token,omitempty"`
	Grace int    `json:"grace,omitempty"`

	// create
	Name     string          `json:"name,omitempty"`
	Capacity int             `json:"capacity,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Password string          `json:"password,omitempty"`
	Secret   string          `json:"secret,omitempty"`
	// Game names the game a room is for (create), or the game a list or quick_join
	// wants ("" matches any).
	Game string `json:"game,omitempty"`
	// GameVersion is the version of Game a room runs (create), or the version a list
	// or quick_join wants ("" matches any).
	GameVersion string `json:"gameVersion,omitempty"`

	// Limit is the most rooms a list wants in its reply (0: the server's maximum).
	Limit int `json:"limit,omitempty"`
	// Cursor continues a list after the page whose "next" it is.
	Cursor string `json:"cursor,omitempty"`
	// Next, in a rooms reply, is the cursor of the following page; absent on the last.
	Next string `json:"next,omitempty"`

	// join, left, member_joined, member_left, room_closed
	RoomID string `json:"roomId,omitempty"`
	// created, joined
	Room *RoomInfo `json:"room,omitempty"`
	// rooms
	Rooms []RoomInfo `json:"rooms,omitempty"`

	// signal
	To     string            `json:"to,omitempty"`
	From   string            `json:"from,omitempty"`
	Signal *signaling.Signal `json:"signal,omitempty"`

	// member_joined, member_left
	Peer string `json:"peer,omitempty"`

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// room_closed
	Reason string `json:"reason,omitempty"`
}

// ICEServer is one entry of the ICE server list, shaped like the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// RoomInfo describes a room as "created", "joined" and "rooms" report it.
type RoomInfo struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Host     string          `json:"host"`
	Capacity int             `json:"capacity"`
	Members  int             `json:"members"`
	Locked   bool            `json:"locked"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Game and GameVersion are what the host announced in "create" ("" when it did not).
	Game        string `json:"game,omitempty"`
	GameVersion string `json:"gameVersion,omitempty"`
}

var clientTypes = map[string]bool{
	TypeCreate: true, TypeList: true, TypeJoin: true, TypeQuickJoin: true, TypeLeave: true, TypeSignal: true,
	TypeResume: true,
}

var serverTypes = map[string]bool{
	TypeWelcome: true, TypeCreated: true, TypeRooms: true, TypeJoined: true, TypeLeft: true,
	TypeSignal: true, TypeMemberJoined: true, TypeMemberLeft: true, TypeRoomClosed: true, TypeError: true,
	TypeDraining: true,
	TypeResumed:  true,
}

// ProtocolError is returned by DecodeMessage; Code is the error code the server answers with.
type ProtocolError struct {
	Code   string
	Ref    string // the message's ref, when it could be read
	Detail string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("lobby: %s: %s", e.Code, e.Detail) }
func (e *ProtocolError) Unwrap() error { return ErrBadMessage }

// DecodeMessage parses one client-to-server frame. It never panics; its errors are
// *ProtocolError values wrapping ErrBadMessage, with Code set to CodeBadMessage
// (not a JSON object), CodeUnknownType (missing or non-client type) or CodeBadRequest
// (an oversized ref).
func DecodeMessage(data []byte) (Message, error) {
	return decode(data, clientTypes)
}

// decodeServerMessage parses one server-to-client frame (used by Client).
func decodeServerMessage(data []byte) (Message, error) {
	return decode(data, serverTypes)
}

func decode(data []byte, types map[string]bool) (Message, error) {
	var m Message
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != '{' {
		return Message{}, &ProtocolError{Code: CodeBadMessage, Detail: "not a JSON object"}
	}
	if err := json.Unmarshal(d, &m); err != nil {
		return Message{}, &ProtocolError{Code: CodeBadMessage, Detail: err.Error()}
	}
	if len(m.Ref) > MaxRefBytes {
		return Message{}, &ProtocolError{Code: CodeBadRequest, Detail: fmt.Sprintf("ref longer than %d bytes", MaxRefBytes)}
	}
	if !types[m.Type] {
		return Message{}, &ProtocolError{Code: CodeUnknownType, Ref: m.Ref, Detail: fmt.Sprintf("unknown message type %q", truncate(m.Type, 32))}
	}
	return m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

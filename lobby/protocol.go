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
	// Type names the message: one of the Type* constants.
	Type string `json:"type"`
	// Ref is chosen by a client for a request (at most MaxRefBytes); the server
	// echoes it in the one reply, success or error.
	Ref string `json:"ref,omitempty"`

	// ID is this connection's ID (welcome).
	ID string `json:"id,omitempty"`
	// ICEServers are the STUN/TURN servers for WebRTC (welcome).
	ICEServers []ICEServer `json:"iceServers,omitempty"`
	// Token is the connection's resume token (welcome, resume, resumed).
	Token string `json:"token,omitempty"`
	// Grace is how long, in milliseconds, the server keeps a dropped connection's
	// identity for a resume; absent when it keeps none (welcome).
	Grace int `json:"grace,omitempty"`

	// Name is the new room's name (create).
	Name string `json:"name,omitempty"`
	// Capacity is the new room's member capacity, the host not counted; 0 asks
	// for the server's default (create).
	Capacity int `json:"capacity,omitempty"`
	// Metadata is any JSON value shown in room lists (create).
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Password locks the new room (create) or opens a locked one (join).
	Password string `json:"password,omitempty"`
	// Secret is the server's host secret, when it requires one to create rooms
	// (create).
	Secret string `json:"secret,omitempty"`
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

	// RoomID names the room (join, left, member_joined, member_left, room_closed).
	RoomID string `json:"roomId,omitempty"`
	// Room describes the room created or joined (created, joined).
	Room *RoomInfo `json:"room,omitempty"`
	// Rooms lists the rooms, oldest first (rooms).
	Rooms []RoomInfo `json:"rooms,omitempty"`

	// To is the connection a signal is for; a member may leave it empty for its
	// host (signal, client to server).
	To string `json:"to,omitempty"`
	// From is the sender of a signal, stamped by the server; a client's is
	// ignored (signal, server to client).
	From string `json:"from,omitempty"`
	// Signal is the WebRTC offer, answer or ICE candidate relayed (signal).
	Signal *signaling.Signal `json:"signal,omitempty"`

	// Peer is the member that joined or left (member_joined, member_left).
	Peer string `json:"peer,omitempty"`

	// Code is one of the Code* constants (error).
	Code string `json:"code,omitempty"`
	// Message is a human-readable detail, not stable (error).
	Message string `json:"message,omitempty"`
	// Reason says why the room closed: RoomClosedHostLeft (room_closed).
	Reason string `json:"reason,omitempty"`
}

// ICEServer is one entry of the ICE server list, shaped like the browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`                 // stun:, turn: or turns: URLs
	Username   string   `json:"username,omitempty"`   // TURN username, if any
	Credential string   `json:"credential,omitempty"` // TURN password, if any
}

// RoomInfo describes a room as "created", "joined" and "rooms" report it.
type RoomInfo struct {
	ID       string          `json:"id"`                 // the room's ID, chosen by the server
	Name     string          `json:"name"`               // the name its host gave it
	Host     string          `json:"host"`               // the host's connection ID: the peer members signal
	Capacity int             `json:"capacity"`           // members allowed, the host not counted
	Members  int             `json:"members"`            // members now, the host not counted
	Locked   bool            `json:"locked"`             // joining needs a password
	Metadata json.RawMessage `json:"metadata,omitempty"` // the host's JSON value, if any
	// Game and GameVersion are what the host announced in "create" ("" when it did not).
	Game        string `json:"game,omitempty"`
	GameVersion string `json:"gameVersion,omitempty"` // see Game
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
	Code   string // CodeBadMessage, CodeUnknownType or CodeBadRequest
	Ref    string // the message's ref, when it could be read
	Detail string // what was wrong, for humans
}

// Error returns "lobby: code: detail".
func (e *ProtocolError) Error() string { return fmt.Sprintf("lobby: %s: %s", e.Code, e.Detail) }

// Unwrap returns ErrBadMessage.
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

package server

import (
	"reflect"
	"testing"

	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

// TestProtocol walks through the whole protocol on raw WebSockets: create, list, join,
// quick-join, signal both ways, leave, and the host leaving closes the room.
func TestProtocol(t *testing.T) {
	env := newEnv(t, Config{})
	host := dialRaw(t, env.url)
	p1 := dialRaw(t, env.url)
	p2 := dialRaw(t, env.url)
	if host.id == "" || host.id == p1.id {
		t.Fatalf("ids not unique: %q %q", host.id, p1.id)
	}

	host.sendText(`{"type":"create","ref":"r1","name":"arena","capacity":2,"metadata":{"map":"dust","mode":1}}`)
	created := host.expect(lobby.TypeCreated)
	if created.Ref != "r1" || created.Room.Name != "arena" || created.Room.Capacity != 2 ||
		created.Room.Host != host.id || created.Room.Members != 0 || created.Room.Locked {
		t.Fatalf("created = %+v %+v", created, created.Room)
	}
	if string(created.Room.Metadata) != `{"map":"dust","mode":1}` {
		t.Fatalf("metadata = %s", created.Room.Metadata)
	}
	roomID := created.Room.ID

	p1.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
	rooms := p1.expect(lobby.TypeRooms)
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].ID != roomID || rooms.Ref != "l" {
		t.Fatalf("rooms = %+v", rooms)
	}

	joined := p1.join(roomID, "")
	if joined.Host != host.id || joined.Members != 1 {
		t.Fatalf("joined = %+v", joined)
	}
	if m := host.expect(lobby.TypeMemberJoined); m.Peer != p1.id || m.RoomID != roomID {
		t.Fatalf("member_joined = %+v", m)
	}

	p2.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
	if m := p2.expect(lobby.TypeJoined); m.Room.ID != roomID || m.Room.Members != 2 {
		t.Fatalf("quick join = %+v", m.Room)
	}
	if m := host.expect(lobby.TypeMemberJoined); m.Peer != p2.id {
		t.Fatalf("member_joined = %+v", m)
	}

	// Player to host: the browser's shapes pass through untouched and the lobby stamps "from".
	p1.sendText(`{"type":"signal","signal":{"type":"offer","sdp":"v=0 offer"}}`)
	sig := host.expect(lobby.TypeSignal)
	if sig.From != p1.id || *sig.Signal != (signaling.Signal{Type: "offer", SDP: "v=0 offer"}) {
		t.Fatalf("signal = %+v", sig)
	}
	// A forged "from" is ignored.
	p2.sendText(`{"type":"signal","from":"` + p1.id + `","to":"` + host.id + `","signal":{"type":"ice","candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	sig = host.expect(lobby.TypeSignal)
	want := signaling.Signal{Type: "ice", Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: strp("0"), SDPMLineIndex: u16(0)}
	if sig.From != p2.id || !reflect.DeepEqual(*sig.Signal, want) {
		t.Fatalf("signal = %+v %+v", sig, sig.Signal)
	}
	// Host to a member.
	host.send(lobby.Message{Type: lobby.TypeSignal, To: p1.id, Signal: &signaling.Signal{Type: "answer", SDP: "v=0 answer"}})
	sig = p1.expect(lobby.TypeSignal)
	if sig.From != host.id || sig.Signal.SDP != "v=0 answer" {
		t.Fatalf("signal = %+v", sig)
	}

	// The room is full now.
	p3 := dialRaw(t, env.url)
	p3.send(lobby.Message{Type: lobby.TypeJoin, Ref: "x", RoomID: roomID})
	if m := p3.expectError(lobby.CodeRoomFull); m.Ref != "x" {
		t.Fatalf("ref not echoed: %+v", m)
	}
	p3.send(lobby.Message{Type: lobby.TypeQuickJoin})
	p3.expectError(lobby.CodeNoRoomAvailable)

	// A member leaves: the host is told.
	p1.send(lobby.Message{Type: lobby.TypeLeave, Ref: "bye"})
	if m := p1.expect(lobby.TypeLeft); m.RoomID != roomID || m.Ref != "bye" {
		t.Fatalf("left = %+v", m)
	}
	if m := host.expect(lobby.TypeMemberLeft); m.Peer != p1.id {
		t.Fatalf("member_left = %+v", m)
	}
	// p1 is no longer in the room: it cannot signal.
	p1.send(lobby.Message{Type: lobby.TypeSignal, Signal: &signaling.Signal{Type: "offer", SDP: "x"}})
	p1.expectError(lobby.CodeNotInRoom)

	// A member disconnecting counts as leaving.
	p2.close()
	if m := host.expect(lobby.TypeMemberLeft); m.Peer != p2.id {
		t.Fatalf("member_left = %+v", m)
	}

	// The host leaves: the room closes and its members are told.
	p3.join(roomID, "")
	host.expect(lobby.TypeMemberJoined)
	host.send(lobby.Message{Type: lobby.TypeLeave})
	host.expect(lobby.TypeLeft)
	if m := p3.expect(lobby.TypeRoomClosed); m.RoomID != roomID || m.Reason != lobby.RoomClosedHostLeft {
		t.Fatalf("room_closed = %+v", m)
	}
	p3.send(lobby.Message{Type: lobby.TypeList})
	if m := p3.expect(lobby.TypeRooms); len(m.Rooms) != 0 {
		t.Fatalf("rooms after close = %+v", m.Rooms)
	}
	// p3 is free to host now.
	next := p3.create("next", 0, "")

	// A host disconnecting closes its room too.
	p1.join(next.ID, "")
	p3.close()
	if m := p1.expect(lobby.TypeRoomClosed); m.RoomID != next.ID {
		t.Fatalf("room_closed = %+v", m)
	}
	if got := env.metric(t, "lobby_rooms", ""); got != 0 {
		t.Fatalf("lobby_rooms = %v", got)
	}
}

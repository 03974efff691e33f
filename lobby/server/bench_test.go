package server

import (
	"context"
	"testing"

	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

// BenchmarkRelayRoundTrip: a signal from a player to its host and back, over real
// WebSockets on loopback.
func BenchmarkRelayRoundTrip(b *testing.B) {
	env := newEnv(b, Config{MessagesPerSecond: 1e9, MessageBurst: 1e9})
	benchRelayRoundTrip(b, env.url, env.url)
}

// benchRelayRoundTrip times a signal from a player (on the lobby at playerURL) to its
// host (on hostURL) and back.
func benchRelayRoundTrip(b *testing.B, hostURL, playerURL string) {
	ctx := context.Background()
	host := dialClient(b, hostURL)
	if _, err := host.Create(ctx, lobby.RoomOptions{}); err != nil {
		b.Fatal(err)
	}
	player := dialClient(b, playerURL)
	if _, err := player.QuickJoin(ctx); err != nil {
		b.Fatal(err)
	}
	toHost := player.HostSignaler()
	s := signaling.Signal{Type: signaling.TypeICE, Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host"}
	if err := toHost.SendSignal(ctx, s); err != nil {
		b.Fatal(err)
	}
	_, member, err := host.AcceptMember(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := member.RecvSignal(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := toHost.SendSignal(ctx, s); err != nil {
			b.Fatal(err)
		}
		if _, err := member.RecvSignal(ctx); err != nil {
			b.Fatal(err)
		}
		if err := member.SendSignal(ctx, s); err != nil {
			b.Fatal(err)
		}
		if _, err := toHost.RecvSignal(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// TestBadClient connects a raw netcode client that sends malformed inputs and
// commands: the host counts them, keeps the player, and still applies its good input.
func TestBadClient(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: loopback}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hostSig, sig := signaling.Pipe()
	defer hostSig.Close()
	go h.Accept(ctx, hostSig)
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: game.NewRegistry(), Transport: loopback}, sig)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := game.PlayerID(c.ID())

	if err := c.Send("not a command"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(game.Command{Name: "\x00\x01"}); err != nil { // cleaned to "player<id>"
		t.Fatal(err)
	}
	start := waitFor(ctx, t, h, func(s host.Summary) bool {
		_, ok := s.Player(id)
		return ok && s.BadCommands == 1
	})
	p0, _ := start.Player(id)
	if p0.Name != "player1" {
		t.Errorf("name %q, want the cleaned default %q", p0.Name, "player1")
	}
	// Alternate garbage and a real "walk right" input until the host has both.
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("host never applied the good input: %+v", h.Summary())
		}
		data := []byte{0xff, 0xff, 0xff} // too short
		if n%2 == 1 {
			data = game.AppendInput(nil, game.Input{Buttons: game.ButtonRight})
		}
		if _, err := c.SendInput(data); err != nil {
			t.Fatal(err)
		}
		s := h.Summary()
		p, ok := s.Player(id)
		if !ok {
			t.Fatal("the player was dropped")
		}
		if s.BadInputs > 0 && p.Pos.X > p0.Pos.X {
			t.Logf("%d bad inputs counted; player moved from %.2f to %.2f", s.BadInputs, p0.Pos.X, p.Pos.X)
			return
		}
	}
}

func waitFor(ctx context.Context, t *testing.T, h *host.Host, cond func(host.Summary) bool) host.Summary {
	t.Helper()
	for {
		select {
		case <-h.Updated():
			if s := h.Summary(); cond(s) {
				return s
			}
		case <-ctx.Done():
			t.Fatalf("condition not reached: %+v", h.Summary())
		}
	}
}

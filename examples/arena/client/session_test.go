package client_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

var loopback = netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}

func connect(ctx context.Context, t *testing.T, h *host.Host, name string) *client.Session {
	t.Helper()
	hostSig, sig := signaling.Pipe()
	t.Cleanup(func() { hostSig.Close() })
	accepted := make(chan error, 1)
	go func() { accepted <- h.Accept(ctx, hostSig) }()
	s, err := client.Connect(ctx, client.Config{Name: name, Netcode: netcode.ClientConfig{Transport: loopback}}, sig)
	if err != nil {
		t.Fatalf("%s: connect: %v", name, err)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("%s: accept: %v", name, err)
	}
	return s
}

// TestSessions connects two players over real WebRTC on loopback. Alice walks; both
// must learn each other's names, and once she stops, her predicted position, Bob's
// interpolated view of her and the host must agree.
func TestSessions(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: loopback}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := connect(ctx, t, h, "alice")
	defer alice.Close()
	bob := connect(ctx, t, h, "bob")
	defer bob.Close()
	walkAndAgree(ctx, t, h, alice, bob)
}

// TestLocalSession is TestSessions with alice hosting: she plays on a local client
// (ConnectLocal, no network) in the host's process, bob over WebRTC.
func TestLocalSession(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: loopback}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := client.ConnectLocal(ctx, client.Config{Name: "alice"}, h.Server())
	if err != nil {
		t.Fatalf("alice: connect locally: %v", err)
	}
	defer alice.Close()
	bob := connect(ctx, t, h, "bob")
	defer bob.Close()
	walkAndAgree(ctx, t, h, alice, bob)
}

// walkAndAgree has alice walk for half a second and stand still: both must learn each
// other's names, and her predicted position, bob's interpolated view of her and the
// host must then agree.
func walkAndAgree(ctx context.Context, t *testing.T, h *host.Host, alice, bob *client.Session) {
	t.Helper()
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	walked, still := 0, 0
	var af, bf *client.Frame
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("did not converge: alice sees %+v, bob sees %+v, host %+v", af, bf, h.Summary().Players)
		}
		alice.Poll()
		bob.Poll()
		buttons := uint8(0)
		if _, ok := alice.Self(); ok && walked < 30 {
			buttons = game.ButtonRight | game.ButtonDown
			walked++
		} else if walked == 30 {
			still++
		}
		if err := alice.Input(buttons, 0); err != nil {
			t.Fatal(err)
		}
		if err := bob.Input(0, math.Pi); err != nil {
			t.Fatal(err)
		}
		af, bf = alice.Frame(1.0/60), bob.Frame(1.0/60)
		if still < 30 { // half a second standing still
			continue
		}
		hp, ok := h.Summary().Player(alice.ID())
		me, meOK := af.SelfView()
		seen, seenOK := find(bf, alice.ID())
		if ok && meOK && seenOK && me.Name == "alice" && seen.Name == "alice" && hasName(af, "bob") &&
			me.Pos.Sub(hp.Pos).Len() < 0.011 && seen.Pos.Sub(hp.Pos).Len() < 0.011 && af.Connected && bf.Connected {
			break
		}
	}
	t.Logf("alice: %d prediction corrections, %d inputs unacknowledged; net %+v", alice.Predictor().Corrections(), alice.Predictor().Pending(), af.Net)
	if af.Net.SnapshotRate == 0 && af.Net.RTT == 0 {
		t.Logf("network panel still empty: %+v", af.Net)
	}
}

func find(f *client.Frame, id game.PlayerID) (client.PlayerView, bool) {
	for _, p := range f.Players {
		if p.ID == id {
			return p, true
		}
	}
	return client.PlayerView{}, false
}

func hasName(f *client.Frame, name string) bool {
	for _, p := range f.Players {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestRefusal: a player refused by a full arena host learns so at once, in words.
func TestRefusal(t *testing.T) {
	defer leakcheck.VerifyNone(t)
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: loopback, MaxClients: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := connect(ctx, t, h, "alice")
	defer alice.Close()

	hostSig, sig := signaling.Pipe()
	defer hostSig.Close()
	accepted := make(chan error, 1)
	go func() { accepted <- h.Accept(ctx, hostSig) }()
	_, err = client.Connect(ctx, client.Config{Name: "bob", Netcode: netcode.ClientConfig{Transport: loopback}}, sig)
	if why, ok := client.Refusal(err); !ok || why != "The arena is full" {
		t.Fatalf("Connect to a full arena = %v, explained as %q (%v)", err, why, ok)
	}
	if err := <-accepted; !errors.Is(err, netcode.ErrHostFull) {
		t.Fatalf("host Accept = %v, want ErrHostFull", err)
	}
	if _, ok := client.Refusal(errors.New("something else")); ok {
		t.Fatal("an error that is no refusal explained as one")
	}
}

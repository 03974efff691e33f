//go:build !js

package lobby_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// refusalEnv is a real lobby and a netcode host that opens a room in it and accepts
// every member that signals, as a game host does.
type refusalEnv struct {
	url   string
	room  string
	reg   *snapshot.Registry
	game  *netcode.Server
	offer chan string // the peer of every Accept, in order (dropped when full)
}

func newRefusalEnv(ctx context.Context, t *testing.T, cfg netcode.ServerConfig) *refusalEnv {
	t.Helper()
	srv := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(srv.Mux())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })
	e := &refusalEnv{url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws", reg: snapshot.NewRegistry(), offer: make(chan string, 1024)}
	if _, err := e.reg.Register(1, e2ePlayer{}); err != nil {
		t.Fatal(err)
	}
	cfg.Registry = e.reg
	cfg.Transport = netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	game, err := netcode.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.game = game
	host, err := lobby.Dial(ctx, e.url, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := host.Create(ctx, lobby.RoomOptions{Name: "refusals", Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	e.room = info.ID
	var accepts sync.WaitGroup
	accepts.Add(1)
	go func() {
		defer accepts.Done()
		for {
			peer, sig, err := host.AcceptMember(ctx)
			if err != nil {
				return
			}
			select {
			case e.offer <- peer:
			default:
			}
			accepts.Add(1)
			go func() {
				defer accepts.Done()
				_, _ = game.Accept(ctx, sig) // refusals are what these tests look at
			}()
		}
	}()
	t.Cleanup(func() {
		host.Close()
		game.Close()
		accepts.Wait()
	})
	return e
}

// join joins the room as a player and dials the host through the lobby.
func (e *refusalEnv) join(ctx context.Context) (*netcode.Client, *lobby.Client, error) {
	lc, err := lobby.Dial(ctx, e.url, lobby.ClientConfig{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := lc.Join(ctx, e.room, ""); err != nil {
		lc.Close()
		return nil, nil, err
	}
	nc, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: e.reg, Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}}, lc.HostSignaler())
	if err != nil {
		lc.Close()
		return nil, nil, err
	}
	return nc, lc, nil
}

// TestRejectRelayed: the lobby relays the host's reject signal like any other, so a
// player refused by a full host learns it at once through the lobby.
func TestRejectRelayed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newRefusalEnv(ctx, t, netcode.ServerConfig{MaxClients: 1})
	nc, lc, err := e.join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	defer nc.Close()
	_, _, err = e.join(ctx)
	var r *netcode.RejectError
	if !errors.Is(err, netcode.ErrHostFull) || !errors.As(err, &r) || r.Code != "host_full" {
		t.Fatalf("Dial to a full host through the lobby = %v, want a RejectError with ErrHostFull", err)
	}
}

// TestHandshakeChurn: an attacker joins the room, offers and leaves at the lobby's
// allowed message rate (50 a second) while an honest player connects. Each offer makes
// the host start a handshake; before pending handshakes had a budget of their own,
// abandoned ones held a slot of MaxClients for 30 s, and with MaxClients 4 the honest
// player was refused (or never answered) once four had piled up.
func TestHandshakeChurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := newRefusalEnv(ctx, t, netcode.ServerConfig{MaxClients: 4})

	// A real offer for the attacker to repeat.
	api, err := netcode.NewWebRTCAPI(netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel(netcode.LabelReliable, nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}

	attacker, err := lobby.Dial(ctx, e.url, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	actx, stop := context.WithCancel(ctx)
	attackDone := make(chan struct{})
	var attackErr error // set before attackDone closes
	go func() {
		defer close(attackDone)
		// One message every 20 ms: the lobby's default 50 a second.
		pace := time.NewTicker(20 * time.Millisecond)
		defer pace.Stop()
		wait := func() bool {
			select {
			case <-pace.C:
				return true
			case <-actx.Done():
				return false
			}
		}
		for wait() {
			if _, attackErr = attacker.Join(actx, e.room, ""); attackErr != nil {
				return
			}
			if !wait() {
				return
			}
			if attackErr = attacker.Signal(actx, "", signaling.Signal{Type: signaling.TypeOffer, SDP: offer.SDP}); attackErr != nil {
				return
			}
			if !wait() {
				return
			}
			if attackErr = attacker.Leave(actx); attackErr != nil {
				return
			}
		}
	}()
	defer func() {
		stop()
		<-attackDone
		if attackErr != nil && actx.Err() == nil {
			t.Errorf("attacker: %v", attackErr)
		}
	}()

	// Let the attacker start three times MaxClients handshakes, then connect.
	for range 12 {
		select {
		case <-e.offer:
		case <-attackDone:
			t.Fatalf("attacker stopped: %v", attackErr)
		case <-ctx.Done():
			t.Fatal("the attacker's offers did not reach the host")
		}
	}
	nc, lc, err := e.join(ctx)
	if err != nil {
		t.Fatalf("honest player under handshake churn: %v (host: %+v)", err, e.game.LoopStats())
	}
	nc.Close()
	lc.Close()
}

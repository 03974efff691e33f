//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/snapshot"
)

// localGame is a host whose Step moves a player by its inputs' first byte, renames
// nothing, echoes commands as events and records joins and leaves.
func localGame(t *testing.T, rec *recorder, cfg ServerConfig) *Server {
	t.Helper()
	cfg.Registry = testRegistry(t)
	cfg.Step = func(tk *Tick) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, id := range tk.Joined {
			rec.joined = append(rec.joined, id)
			_ = tk.World.Set(snapshot.EntityID(id), playerType, Player{HP: 100})
		}
		for _, l := range tk.Left {
			rec.left = append(rec.left, l)
			tk.World.Remove(snapshot.EntityID(l.Client))
		}
		for _, in := range tk.Inputs {
			var p Player
			_, _ = tk.World.Get(snapshot.EntityID(in.Client), &p)
			p.X += float32(in.Data[0])
			_ = tk.World.Set(snapshot.EntityID(in.Client), playerType, p)
			rec.inputs[in.Client] = append(rec.inputs[in.Client], in.Tick)
		}
		for _, c := range tk.Commands {
			var n int
			if c.Decode(&n) == nil {
				rec.commands[c.Client] = append(rec.commands[c.Client], n)
				_ = tk.Send(c.Client, fmt.Sprintf("echo %d", n))
			}
		}
		if len(tk.Joined)+len(tk.Left)+len(tk.Inputs)+len(tk.Commands) > 0 {
			rec.poke()
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestLocalClient plays a local client (DialLocal) beside a remote one: both are
// welcomed and join through Tick.Joined, the local client's commands come back as
// events, its inputs move its entity in the snapshots both clients receive, it leaves
// with a clean bye, and a host that closes tells it why.
func TestLocalClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec := newRecorder()
	srv := localGame(t, rec, ServerConfig{Transport: loopback()})
	defer srv.Close()
	reg := testRegistry(t)

	local, err := DialLocal(ctx, ClientConfig{Registry: reg}, srv)
	if err != nil {
		t.Fatalf("DialLocal: %v", err)
	}
	defer local.Close()
	remote, remoteID := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer remote.Close()
	if local.ID() == 0 || local.ID() == remoteID {
		t.Fatalf("local client ID %d, remote %d: want distinct non-zero IDs", local.ID(), remoteID)
	}
	if local.TickRate() != 60 || local.SendRate() != 30 {
		t.Errorf("local client sees %d Hz ticks, %d Hz sends; want 60 and 30", local.TickRate(), local.SendRate())
	}
	rec.waitFor(t, 20*time.Second, "both clients in Tick.Joined", func() bool { return len(rec.joined) == 2 })

	if err := local.Send(7); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-local.Events():
		var s string
		if err := ev.Decode(&s); err != nil || s != "echo 7" {
			t.Fatalf("event %q (%v), want %q", s, err, "echo 7")
		}
	case <-local.Done():
		t.Fatalf("local client ended waiting for its event: %v", local.Err())
	case <-ctx.Done():
		t.Fatal("no event for the local client's command")
	}

	// Inputs until the host has applied ten, then both clients see the result.
	for sent := 0; ; sent++ {
		rec.mu.Lock()
		n := len(rec.inputs[local.ID()])
		rec.mu.Unlock()
		if n >= 10 {
			break
		}
		if _, err := local.SendInput([]byte{1}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-local.Updates():
		case <-local.Done():
			t.Fatalf("local client ended sending inputs: %v", local.Err())
		case <-ctx.Done():
			t.Fatalf("the host applied %d of the local client's inputs after %d sends", n, sent)
		}
	}
	moved := func(w *snapshot.World) bool {
		var p Player
		ok, _ := w.Get(snapshot.EntityID(local.ID()), &p)
		return ok && p.X >= 10
	}
	waitWorld(t, local, 20*time.Second, "the local client's own move in its snapshots", moved)
	waitWorld(t, remote, 20*time.Second, "the local client's move in the remote client's snapshots", moved)
	if applied, ok := local.LastAppliedInput(); !ok {
		t.Errorf("local client: no applied input reported (applied %d)", applied)
	}
	if st := local.Stats(); st.Snapshots == 0 || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Errorf("local client stats count no traffic: %+v", st)
	}

	id := local.ID()
	local.Close()
	if !errors.Is(local.Err(), ErrClosed) {
		t.Errorf("closed local client: Err = %v, want ErrClosed", local.Err())
	}
	rec.waitFor(t, 20*time.Second, "the local client in Tick.Left", func() bool {
		for _, l := range rec.left {
			if l.Client == id {
				return true
			}
		}
		return false
	})
	rec.mu.Lock()
	for _, l := range rec.left {
		if l.Client == id && !errors.Is(l.Reason, ErrClientLeft) {
			t.Errorf("local client left with %v, want ErrClientLeft", l.Reason)
		}
	}
	rec.mu.Unlock()

	// A second local client sees the host shut down.
	again, err := DialLocal(ctx, ClientConfig{Registry: reg}, srv)
	if err != nil {
		t.Fatalf("second DialLocal: %v", err)
	}
	defer again.Close()
	srv.Close()
	select {
	case <-again.Done():
	case <-ctx.Done():
		t.Fatal("local client still connected after the host closed")
	}
	if !errors.Is(again.Err(), ErrServerClosed) {
		t.Errorf("after the host closed: Err = %v, want ErrServerClosed", again.Err())
	}
}

// TestLocalClientRefused: a full host refuses a local client as it refuses a remote
// one, and DialLocal returns the refusal at once.
func TestLocalClientRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := newRecorder()
	srv := localGame(t, rec, ServerConfig{MaxClients: 1})
	defer srv.Close()
	reg := testRegistry(t)
	first, err := DialLocal(ctx, ClientConfig{Registry: reg}, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := DialLocal(ctx, ClientConfig{Registry: reg}, srv)
	if err == nil {
		second.Close()
		t.Fatal("a second local client joined a host with MaxClients 1")
	}
	var rej *RejectError
	if !errors.As(err, &rej) || !errors.Is(err, ErrHostFull) {
		t.Fatalf("DialLocal on a full host: %v, want a RejectError matching ErrHostFull", err)
	}
	if got := srv.Totals().Refusals["host_full"]; got != 1 {
		t.Errorf("host counted %d host_full refusals, want 1", got)
	}
}

// TestLocalQueueBounds: an unreliable direction drops beyond localUnreliableQueue
// messages, a reliable one refuses (and closes) beyond localReliableBytes, and
// messages wait for their handler.
func TestLocalQueueBounds(t *testing.T) {
	var wg sync.WaitGroup
	defer wg.Wait()

	a, b := newLocalChannel(&wg, false)
	msg := make([]byte, 100)
	for range localUnreliableQueue + 10 {
		if err := a.Send(msg); err != nil {
			t.Fatalf("unreliable Send: %v", err)
		}
	}
	if got, want := a.BufferedAmount(), uint64(localUnreliableQueue*len(msg)); got != want {
		t.Errorf("unreliable backlog %d bytes, want %d (the queue bound)", got, want)
	}
	var mu sync.Mutex
	delivered := 0
	all := make(chan struct{})
	b.onMessage(func(m webrtc.DataChannelMessage) {
		mu.Lock()
		defer mu.Unlock()
		delivered++
		if delivered == localUnreliableQueue {
			close(all)
		}
	})
	<-all
	a.Close()

	r, s := newLocalChannel(&wg, true)
	big := make([]byte, 1<<20)
	var err error
	n := 0
	for ; n < 2*localReliableBytes/len(big) && err == nil; n++ {
		err = r.Send(big)
	}
	if !errors.Is(err, ErrSlowConsumer) || n != localReliableBytes/len(big)+1 {
		t.Fatalf("reliable Send %d of 1 MiB: %v, want ErrSlowConsumer on send %d", n, err, localReliableBytes/len(big)+1)
	}
	if err := s.Send(msg); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Send on the other end of an overflowed channel: %v, want ErrConnectionLost", err)
	}
}

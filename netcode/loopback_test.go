//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/snapshot"
)

type cmdMsg struct {
	Seq int `msgpack:"seq"`
}

type echoMsg struct {
	Client uint32 `msgpack:"client"`
	Seq    int    `msgpack:"seq"`
}

type doneMsg struct {
	Total int `msgpack:"total"`
}

// TestLoopbackSixteenClients connects 16 clients over real pion connections on
// loopback; each sends commands that must arrive exactly once and in order, gets an
// echo event for each (to it alone), sees its entity in the snapshots, receives a
// broadcast, and disconnects cleanly.
func TestLoopbackSixteenClients(t *testing.T) {
	const clients, perClient = 16, 40
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newRecorder()
	total := 0
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Step: func(tk *Tick) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, id := range tk.Joined {
				rec.joined = append(rec.joined, id)
				if err := tk.World.Set(snapshot.EntityID(id), playerType, Player{HP: 100}); err != nil {
					panic(err)
				}
			}
			for _, d := range tk.Left {
				rec.left = append(rec.left, d)
				tk.World.Remove(snapshot.EntityID(d.Client))
			}
			for _, c := range tk.Commands {
				var m cmdMsg
				if err := c.Decode(&m); err != nil {
					panic(err)
				}
				rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
				var p Player
				if ok, _ := tk.World.Get(snapshot.EntityID(c.Client), &p); ok {
					p.X = float32(len(rec.commands[c.Client]))
					_ = tk.World.Set(snapshot.EntityID(c.Client), playerType, p)
				}
				if err := tk.Send(c.Client, echoMsg{Client: uint32(c.Client), Seq: m.Seq}); err != nil {
					panic(err)
				}
				total++
				if total == clients*perClient {
					if err := tk.Broadcast(doneMsg{Total: total}); err != nil {
						panic(err)
					}
				}
			}
			if len(tk.Joined)+len(tk.Left)+len(tk.Commands) > 0 {
				rec.poke()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	cs := make([]*Client, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback()})
			if err != nil {
				errs <- err
				return
			}
			cs[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rec.waitFor(t, 30*time.Second, "16 joins", func() bool { return len(rec.joined) == clients })

	// Every client sends its commands and checks its events, concurrently.
	check := make(chan error, clients)
	for _, c := range cs {
		go func() { check <- runClient(ctx, c, perClient) }()
	}
	for range cs {
		if err := <-check; err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	rec.mu.Lock()
	for _, c := range cs {
		got := rec.commands[c.ID()]
		if len(got) != perClient {
			t.Errorf("client %d: host got %d commands, want %d", c.ID(), len(got), perClient)
		}
		for i, s := range got {
			if s != i {
				t.Fatalf("client %d: command %d has seq %d", c.ID(), i, s)
			}
		}
	}
	rec.mu.Unlock()

	// Every client saw its own entity reach X = perClient through snapshots.
	for _, c := range cs {
		waitWorld(t, c, 10*time.Second, "own entity updated", func(w *snapshot.World) bool {
			var p Player
			ok, _ := w.Get(snapshot.EntityID(c.ID()), &p)
			return ok && p.X == perClient && p.HP == 100
		})
		st := c.Stats()
		if st.Snapshots == 0 || st.BytesIn == 0 || st.PacketsOut == 0 {
			t.Errorf("client %d stats: %+v", c.ID(), st)
		}
		if hs, ok := srv.ClientStats(c.ID()); !ok || hs.Snapshots == 0 {
			t.Errorf("host stats of %d: %+v %v", c.ID(), hs, ok)
		}
	}

	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if !errors.Is(c.Err(), ErrClosed) {
			t.Errorf("client %d: Err = %v", c.ID(), c.Err())
		}
	}
	rec.waitFor(t, 20*time.Second, "16 departures", func() bool { return len(rec.left) == clients })
	rec.mu.Lock()
	for _, d := range rec.left {
		if !errors.Is(d.Reason, ErrClientLeft) {
			t.Errorf("client %d left with %v, want ErrClientLeft", d.Client, d.Reason)
		}
	}
	rec.mu.Unlock()
	if n := len(srv.Clients()); n != 0 {
		t.Errorf("%d clients still registered", n)
	}
}

// runClient sends n commands and checks the n echoes (in order, addressed to it) and
// the final broadcast.
func runClient(ctx context.Context, c *Client, n int) error {
	for i := range n {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			return fmt.Errorf("client %d: send %d: %w", c.ID(), i, err)
		}
	}
	for i := 0; i <= n; i++ {
		var ev Event
		select {
		case ev = <-c.Events():
		case <-c.Done():
			return fmt.Errorf("client %d closed: %v", c.ID(), c.Err())
		case <-ctx.Done():
			return fmt.Errorf("client %d: waiting for event %d: %w", c.ID(), i, ctx.Err())
		}
		if i == n {
			var d doneMsg
			if err := ev.Decode(&d); err != nil || d.Total == 0 {
				return fmt.Errorf("client %d: final event %v: %v", c.ID(), d, err)
			}
			return nil
		}
		var e echoMsg
		if err := ev.Decode(&e); err != nil {
			return fmt.Errorf("client %d: event %d: %w", c.ID(), i, err)
		}
		if e.Client != uint32(c.ID()) || e.Seq != i {
			return fmt.Errorf("client %d: event %d is %+v", c.ID(), i, e)
		}
	}
	return nil
}

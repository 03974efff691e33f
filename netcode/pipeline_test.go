//go:build !js

package netcode

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/snapshot"
)

// TestSnapshotsCarryTheirTicksState: snapshots are encoded on the sending goroutine
// while the next ticks already change the world, yet every snapshot holds exactly the
// state of the tick it is stamped with. Step writes the tick number into a few
// entities every tick; four clients (spread over the encoding groups) check each
// snapshot they decode. Encoding usually ends long before the next Step, so it is the
// race detector (CI runs -race) that catches an encoder reading the live world.
func TestSnapshotsCarryTheirTicksState(t *testing.T) {
	const clients, entities, want = 4, 8, 60
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Step: func(tk *Tick) {
			for i := range entities {
				p := Player{X: float32(tk.N % 1000), Y: -float32(tk.N % 1000), HP: int(tk.N % 101), Spawn: int(tk.N % 256)}
				if err := tk.World.Set(snapshot.EntityID(1000+i), playerType, p); err != nil {
					panic(err)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			c, _, err := tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback()})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- checkTickState(ctx, c, entities, want)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// checkTickState reads want distinct snapshots from c and checks that each holds the
// values Step wrote at its tick.
func checkTickState(ctx context.Context, c *Client, entities, want int) error {
	w := snapshot.NewWorld(c.cfg.Registry)
	seen := map[uint32]bool{}
	for len(seen) < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("client %d: %d snapshots checked before %v", c.ID(), len(seen), ctx.Err())
		case <-c.Done():
			return fmt.Errorf("client %d: ended: %v", c.ID(), c.Err())
		case <-c.Updates():
		}
		tick, ok := c.Latest(w)
		if !ok || seen[tick] || w.Len() == 0 {
			continue
		}
		seen[tick] = true
		if w.Len() != entities {
			return fmt.Errorf("client %d: snapshot of tick %d has %d entities, want %d", c.ID(), tick, w.Len(), entities)
		}
		for i := range entities {
			var p Player
			if ok, err := w.Get(snapshot.EntityID(1000+i), &p); !ok || err != nil {
				return fmt.Errorf("client %d: tick %d: entity %d missing (%v)", c.ID(), tick, 1000+i, err)
			}
			if p.X != float32(tick%1000) || p.Y != -float32(tick%1000) || p.HP != int(tick%101) || p.Spawn != int(tick%256) {
				return fmt.Errorf("client %d: snapshot of tick %d holds %+v", c.ID(), tick, p)
			}
		}
	}
	return nil
}

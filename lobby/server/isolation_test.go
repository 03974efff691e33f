package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

// TestIsolation floods the lobby with signals to random targets (other rooms' peers,
// unknown IDs, self, empty) and checks that nothing is delivered outside the sender's
// room, that every delivery carries the true sender, and that every legitimate signal
// arrives.
func TestIsolation(t *testing.T) {
	env := newEnv(t, Config{MessagesPerSecond: 1e6, MessageBurst: 1e6, SignalsPerSecond: 1e6, SignalBurst: 1e6, SendQueue: 4096})
	const rooms, membersPerRoom, signalsPerPeer = 4, 3, 250
	type peer struct {
		r    *raw
		room int
		host bool
	}
	var all []*peer
	var roomOf = map[string]int{}
	hosts := make([]*peer, rooms)
	for i := range rooms {
		h := &peer{r: dialRaw(t, env.url), room: i, host: true}
		info := h.r.create(fmt.Sprint("room", i), membersPerRoom, "")
		hosts[i] = h
		all = append(all, h)
		roomOf[h.r.id] = i
		for range membersPerRoom {
			m := &peer{r: dialRaw(t, env.url), room: i}
			m.r.join(info.ID, "")
			h.r.expect(lobby.TypeMemberJoined)
			all = append(all, m)
			roomOf[m.r.id] = i
		}
	}
	targets := []string{"", "nobody", "c0000000000000000"}
	for _, p := range all {
		targets = append(targets, p.r.id)
	}
	legit := func(from *peer, to string) bool {
		if to == from.r.id {
			return false
		}
		if from.host {
			room, ok := roomOf[to]
			return ok && room == from.room && to != hosts[from.room].r.id
		}
		return to == "" || to == hosts[from.room].r.id
	}
	want := map[string]int{} // receiver -> expected deliveries
	var wg sync.WaitGroup
	for i, p := range all {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		var sends []lobby.Message
		for n := range signalsPerPeer {
			to := targets[rng.IntN(len(targets))]
			sends = append(sends, lobby.Message{Type: lobby.TypeSignal, To: to,
				Signal: &signaling.Signal{Type: signaling.TypeOffer, SDP: fmt.Sprintf("%s>%s#%d", p.r.id, to, n)}})
			if legit(p, to) {
				recv := to
				if recv == "" {
					recv = hosts[p.room].r.id
				}
				want[recv]++
			}
		}
		wg.Add(1)
		go func() { // gorilla allows one concurrent writer per connection: this goroutine
			defer wg.Done()
			for _, m := range sends {
				data, _ := json.Marshal(m)
				if err := p.r.c.WriteMessage(1, data); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every sender's signals have been relayed once its own round trip completes; then
	// each receiver's round trip flushes what was queued for it.
	got := map[string]int{}
	var errs int
	check := func(p *peer, msgs []lobby.Message) {
		for _, m := range msgs {
			switch m.Type {
			case lobby.TypeError:
				if m.Code != lobby.CodePeerNotFound {
					t.Fatalf("unexpected error %+v", m)
				}
				errs++
			case lobby.TypeSignal:
				from, _, _ := strings.Cut(m.Signal.SDP, ">")
				if from != m.From {
					t.Fatalf("%s received a signal stamped %s but sent by %s", p.r.id, m.From, from)
				}
				if roomOf[m.From] != p.room || m.From == p.r.id {
					t.Fatalf("%s (room %d) received a signal from %s (room %d)", p.r.id, p.room, m.From, roomOf[m.From])
				}
				if !p.host && m.From != hosts[p.room].r.id {
					t.Fatalf("member %s received a signal from fellow member %s", p.r.id, m.From)
				}
				got[p.r.id]++
			default:
				t.Fatalf("unexpected message %+v", m)
			}
		}
	}
	var before [][]lobby.Message
	for _, p := range all {
		before = append(before, p.r.roundTrip())
	}
	for i, p := range all {
		check(p, before[i])
		check(p, p.r.roundTrip())
	}
	total := 0
	for _, p := range all {
		if got[p.r.id] != want[p.r.id] {
			t.Errorf("%s received %d signals, want %d", p.r.id, got[p.r.id], want[p.r.id])
		}
		total += got[p.r.id]
	}
	if total+errs != len(all)*signalsPerPeer {
		t.Errorf("%d delivered + %d rejected != %d sent", total, errs, len(all)*signalsPerPeer)
	}
	t.Logf("%d signals: %d delivered, %d rejected", len(all)*signalsPerPeer, total, errs)
}

//go:build js && wasm

// Command wasmhost is the browser half of netcode's browser-host tests: a Go/wasm
// netcode.Server running in the page, with a local client (DialLocal) for the tab's
// own player. Remote peers signal through JavaScript functions the test drives:
// window.hostIn(peer, signalJSON) delivers a signal from a peer (the first one
// starts an Accept for it), and outgoing signals go to window.volleyPush as
// {"peer":..., "signal":...}. window.hostState() returns the host's view as JSON.
//
// The game: entity ID = client ID, X moved by the first byte of each input;
// a command (an int) is answered with the event "echo <n>".
//
// Query: ?nowaker=1 turns the wake-up worker off (PageConfig.NoWaker).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Ball matches the test's client.
type Ball struct {
	X float32 `snap:"float,min=-10000,max=10000,prec=0.01"`
}

// peerSig is one remote peer's signaling path through the page.
type peerSig struct {
	peer string
	in   chan signaling.Signal
}

func (s *peerSig) SendSignal(ctx context.Context, sg signaling.Signal) error {
	b, err := json.Marshal(struct {
		Peer   string           `json:"peer"`
		Signal signaling.Signal `json:"signal"`
	}{s.peer, sg})
	if err != nil {
		return err
	}
	js.Global().Call("volleyPush", string(b))
	return nil
}

func (s *peerSig) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	select {
	case sg := <-s.in:
		return sg, nil
	case <-ctx.Done():
		return signaling.Signal{}, ctx.Err()
	}
}

// state is what hostState reports.
type state struct {
	Error    string             `json:"error,omitempty"`
	Local    uint32             `json:"local"`
	LocalX   float32            `json:"localX"`
	Clients  []uint32           `json:"clients"`
	X        map[string]float32 `json:"x"` // the host's world: client ID → X
	Accepted map[string]string  `json:"accepted"`
	Loop     netcode.LoopStats  `json:"loop"`
	Page     netcode.PageStats  `json:"page"`
	Events   []string           `json:"events"`
	Stats    map[string]any     `json:"stats,omitempty"`
}

var (
	mu sync.Mutex
	st = state{X: map[string]float32{}, Accepted: map[string]string{}}
)

func main() {
	q := js.Global().Get("URLSearchParams").New(js.Global().Get("location").Get("search"))
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ball{}); err != nil {
		fail(err)
		return
	}
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry: reg,
		Page:     netcode.PageConfig{NoWaker: q.Call("get", "nowaker").Truthy()},
		Step: func(t *netcode.Tick) {
			for _, id := range t.Joined {
				_ = t.World.Set(snapshot.EntityID(id), 1, Ball{})
			}
			for _, l := range t.Left {
				t.World.Remove(snapshot.EntityID(l.Client))
			}
			for _, in := range t.Inputs {
				var b Ball
				_, _ = t.World.Get(snapshot.EntityID(in.Client), &b)
				b.X += float32(int8(in.Data[0]))
				_ = t.World.Set(snapshot.EntityID(in.Client), 1, b)
			}
			for _, c := range t.Commands {
				var n int
				if c.Decode(&n) == nil {
					_ = t.Send(c.Client, fmt.Sprintf("echo %d", n))
				}
			}
			mu.Lock()
			clear(st.X)
			t.World.Range(func(id snapshot.EntityID, _ snapshot.TypeID, _ []uint32) bool {
				var b Ball
				_, _ = t.World.Get(id, &b)
				st.X[fmt.Sprint(id)] = b.X
				return true
			})
			mu.Unlock()
		},
	})
	if err != nil {
		fail(err)
		return
	}

	peers := map[string]*peerSig{}
	js.Global().Set("hostIn", js.FuncOf(func(_ js.Value, args []js.Value) any {
		peer := args[0].String()
		var sg signaling.Signal
		if err := json.Unmarshal([]byte(args[1].String()), &sg); err != nil {
			return nil
		}
		p := peers[peer]
		if p == nil {
			p = &peerSig{peer: peer, in: make(chan signaling.Signal, 128)}
			peers[peer] = p
			go func() {
				id, err := srv.Accept(context.Background(), p)
				mu.Lock()
				if err != nil {
					st.Accepted[peer] = "error: " + err.Error()
				} else {
					st.Accepted[peer] = fmt.Sprint(id)
				}
				mu.Unlock()
			}()
		}
		select {
		case p.in <- sg:
		default:
		}
		return nil
	}))

	// The tab's own player.
	local, err := netcode.DialLocal(context.Background(), netcode.ClientConfig{Registry: reg}, srv)
	if err != nil {
		fail(err)
		return
	}
	mu.Lock()
	st.Local = uint32(local.ID())
	mu.Unlock()
	js.Global().Set("localInput", js.FuncOf(func(_ js.Value, args []js.Value) any {
		_, _ = local.SendInput([]byte{byte(int8(args[0].Int()))})
		return nil
	}))
	go func() {
		view := snapshot.NewWorld(reg)
		for {
			select {
			case <-local.Updates():
			case ev := <-local.Events():
				var s string
				_ = ev.Decode(&s)
				mu.Lock()
				st.Events = append(st.Events, s)
				mu.Unlock()
				continue
			case <-local.Done():
				return
			}
			local.Latest(view)
			var b Ball
			if ok, _ := view.Get(snapshot.EntityID(local.ID()), &b); ok {
				mu.Lock()
				st.LocalX = b.X
				mu.Unlock()
			}
		}
	}()
	if err := local.Send(42); err != nil {
		fail(err)
	}

	js.Global().Set("hostState", js.FuncOf(func(js.Value, []js.Value) any {
		mu.Lock()
		defer mu.Unlock()
		st.Loop = srv.LoopStats()
		st.Page = srv.Page()
		st.Clients = st.Clients[:0]
		for _, id := range srv.Clients() {
			st.Clients = append(st.Clients, uint32(id))
		}
		b, _ := json.Marshal(st)
		return string(b)
	}))
	js.Global().Call("volleyReady")
	select {}
}

func fail(err error) {
	mu.Lock()
	st.Error = err.Error()
	mu.Unlock()
	js.Global().Get("console").Call("error", err.Error())
}

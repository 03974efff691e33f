//go:build !js

package netcode

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/snapshot"
)

func TestSerialArithmetic(t *testing.T) {
	tests := []struct {
		a, b  uint32
		diff  int64
		after bool
	}{
		{5, 5, 0, false},
		{6, 5, 1, true},
		{5, 6, -1, false},
		{0, 0xffffffff, 1, true}, // wraps
		{0xffffffff, 0, -1, false},
		{1 << 31, 0, 1 << 31, false}, // undefined in RFC 1982: ordered neither way
		{0, 1 << 31, 1 << 31, false},
		{1<<31 + 1, 0, -(1<<31 - 1), false},
		{1<<31 - 1, 0, 1<<31 - 1, true},
	}
	for _, tt := range tests {
		if d := serialDiff(tt.a, tt.b); d != tt.diff {
			t.Errorf("serialDiff(%#x, %#x) = %d, want %d", tt.a, tt.b, d, tt.diff)
		}
		if got := serialAfter(tt.a, tt.b); got != tt.after {
			t.Errorf("serialAfter(%#x, %#x) = %v, want %v", tt.a, tt.b, got, tt.after)
		}
	}
}

// inputHost returns a host on a fake clock (its loop runs tick 0 and then waits) and
// an unregistered session of it whose next tick is next, to drive queueUpdate and
// collect directly.
func inputHost(t *testing.T, next uint32) *session {
	t.Helper()
	// Timeout sets how far behind an input counts as late (TestInputWindow): the
	// product default, not the package tests' longer one.
	srv, err := NewServer(ServerConfig{Registry: testRegistry(t), Clock: clock.NewFake(time.Unix(0, 0)), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sess := newSession(srv, 1)
	t.Cleanup(sess.cancel)
	sess.collect(next-1, &Tick{})
	return sess
}

// applied runs tick n for the session and returns the input Step would see (nil: none).
func applied(sess *session, n uint32) []byte {
	var tk Tick
	sess.collect(n, &tk)
	if len(tk.Inputs) == 0 {
		return nil
	}
	return append([]byte(nil), tk.Inputs[0].Data...)
}

// TestInputRevisions: for a tick not yet run, the input from the update with the
// highest sequence number wins, whatever order the updates arrive in, across the
// wrap of sequence numbers. (Before revisions, the first version to arrive won.)
func TestInputRevisions(t *testing.T) {
	type upd struct {
		seq  uint32
		data byte
	}
	tests := []struct {
		name    string
		updates []upd
		want    byte
	}{
		{"in order", []upd{{1, 'a'}, {2, 'b'}}, 'b'},
		{"reordered", []upd{{2, 'b'}, {1, 'a'}}, 'b'},
		{"repeated", []upd{{1, 'a'}, {2, 'b'}, {3, 'b'}, {2, 'b'}, {1, 'a'}}, 'b'},
		{"across the wrap", []upd{{0xffffffff, 'a'}, {0, 'b'}}, 'b'},
		{"across the wrap, reordered", []upd{{1, 'b'}, {0xfffffffe, 'a'}}, 'b'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := inputHost(t, 100)
			for _, u := range tt.updates {
				sess.queueUpdate(u.seq, snapshot.Ack{}, []inputMsg{{Tick: 102, Data: []byte{u.data}}})
			}
			for n := uint32(100); n < 102; n++ {
				if got := applied(sess, n); got != nil {
					t.Fatalf("tick %d got input %q", n, got)
				}
			}
			if got := applied(sess, 102); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("tick 102 got %q, want %q", got, tt.want)
			}
			// A revision after the tick ran changes nothing and is no late input.
			sess.queueUpdate(tt.updates[len(tt.updates)-1].seq+10, snapshot.Ack{}, []inputMsg{{Tick: 102, Data: []byte{'z'}}})
			if got := applied(sess, 103); got != nil {
				t.Fatalf("tick 103 got %q", got)
			}
			if st := sess.stats.stats(); st.Dropped(DropLateInput) != 0 || st.Dropped(DropFutureInput) != 0 {
				t.Fatalf("drops %v", st.Drops)
			}
		})
	}
}

// TestInputWindow: inputs are classified with serial arithmetic around the host's
// tick, including across the wrap: up to MaxInputLead ahead is accepted, behind is
// late, and 2³¹ or more ahead (which serial arithmetic cannot tell from far behind)
// is a future input, not a late one.
func TestInputWindow(t *testing.T) {
	const lead = 120 // the default MaxInputLead at 60 Hz
	for _, cur := range []uint32{1000, 0xffffff00, 0x7fffff00} {
		tests := []struct {
			name string
			tick uint32
			want DropReason // numDropReasons: accepted
		}{
			{"now", cur, numDropReasons},
			{"lead ahead", cur + lead, numDropReasons},
			{"past the lead", cur + lead + 1, DropFutureInput},
			{"one behind", cur - 1, DropLateInput},
			{"a second behind", cur - 60, DropLateInput},
			{"2^31 ahead", cur + 1<<31, DropFutureInput},
			{"2^31+1 ahead", cur + 1<<31 + 1, DropFutureInput},
			{"2^31-1 ahead", cur + 1<<31 - 1, DropFutureInput},
			{"2^32-1000 ahead", cur - 1000, DropFutureInput},
		}
		for _, tt := range tests {
			sess := inputHost(t, cur)
			sess.queueUpdate(1, snapshot.Ack{}, []inputMsg{{Tick: tt.tick, Data: []byte{1}}})
			st := sess.stats.stats()
			got := numDropReasons
			for r := range numDropReasons {
				if st.Drops[r] > 0 {
					got = r
				}
			}
			sess.mu.Lock()
			queued := len(sess.inputs)
			sess.mu.Unlock()
			if got != tt.want || (got == numDropReasons) != (queued == 1) {
				t.Errorf("host at %#x, input %s (%#x): drop %v, queued %d; want %v", cur, tt.name, tt.tick, got, queued, tt.want)
			}
		}
	}
}

// TestInputQueueAllocs: queueing inputs and running ticks allocates nothing in steady
// state.
func TestInputQueueAllocs(t *testing.T) {
	sess := inputHost(t, 100)
	in := []inputMsg{{Tick: 0, Data: []byte{1, 2, 3}}, {Tick: 0, Data: []byte{4, 5}}, {Tick: 0, Data: []byte{6}}}
	var tk Tick
	n, seq := uint32(100), uint32(0)
	step := func() {
		for i := range in {
			in[i].Tick = n + 1 + uint32(i)
		}
		seq++
		sess.queueUpdate(seq, snapshot.Ack{Latest: 9}, in)
		seq++
		sess.queueUpdate(seq, snapshot.Ack{Latest: 9}, in) // a revision of each
		tk.Inputs = tk.Inputs[:0]
		sess.collect(n, &tk)
		n++
		sess.mu.Lock()
		sess.acks = sess.acks[:0] // the sending goroutine's part
		sess.mu.Unlock()
	}
	for range 10 {
		step()
	}
	if allocs := allocsPerRun(200, step); allocs != 0 {
		t.Fatalf("%v allocations per update and tick", allocs)
	}
}

// TestInputRevisionOverNetwork is the arena's "standing input, then moving input,
// same tick" over a real connection: SendInput twice for one tick, and the host's
// Step sees the second version. The host runs on a fake clock so that the tick runs
// only after both updates have arrived.
func TestInputRevisionOverNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	start := time.Unix(1_700_000_000, 0)
	fake := clock.NewFake(start)
	var (
		mu       sync.Mutex
		inputs   = map[uint32][]byte{}
		lastTick uint32
		seen     = map[uint32]bool{} // update sequence numbers the host queued
	)
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	cfg := ServerConfig{
		Registry:     reg,
		Transport:    loopback(),
		Clock:        fake,
		MaxCatchUp:   1 << 20,
		MaxInputLead: 1 << 20, // the client's estimate runs on ahead of the stopped host
		Step: func(tk *Tick) {
			mu.Lock()
			for _, in := range tk.Inputs {
				inputs[in.Tick] = append([]byte(nil), in.Data...)
			}
			lastTick = tk.N
			mu.Unlock()
			poke()
		},
	}
	cfg.observeUpdate = func(_ ClientID, seq uint32) {
		mu.Lock()
		seen[seq] = true
		mu.Unlock()
		poke()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The stopped host sends no snapshots: the quiet watch would restart ICE.
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback(), Restart: RestartConfig{Quiet: -1}})
	defer c.Close()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// Two versions for one tick (the real clock may move InputTick on between the
	// calls: then try again with a later tick).
	var tick, seqA, seqB uint32
	for {
		var err error
		if tick, err = c.SendInput([]byte("standing")); err != nil {
			t.Fatal(err)
		}
		seqA = c.txSeq.Load() - 1
		t2, err := c.SendInput([]byte("moving"))
		if err != nil {
			t.Fatal(err)
		}
		seqB = c.txSeq.Load() - 1
		if t2 == tick {
			break
		}
	}
	wait("the host to queue both versions", func() bool { return seen[seqA] && seen[seqB] })
	sched := scheduler{epoch: srv.epoch, rate: 60}
	fake.Advance(sched.at(uint64(tick)).Sub(fake.Now()))
	wait("the input's tick to run", func() bool { return !serialAfter(tick, lastTick) })
	mu.Lock()
	got := string(inputs[tick])
	mu.Unlock()
	if got != "moving" {
		t.Fatalf("tick %d applied %q, want the revision %q", tick, got, "moving")
	}
}

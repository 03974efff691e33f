package snapshot

import (
	"errors"
	"math/rand/v2"
	"testing"
)

type netSchedule struct {
	loss, dup, delay float64 // per packet and per ack
}

type simStats struct {
	checks, sends, decodeOK int
}

// simulate runs a host encoder and a client decoder over a lossy, duplicating, reordering
// link and checks that after every send whose packets all arrived on time (and nothing
// was deferred) the client's world equals the host's.
func simulate(t testing.TB, rng *rand.Rand, cfg EncoderConfig, ns netSchedule, sends, maxID int, churn float64) simStats {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, cfg)
	dec := NewDecoder(r)
	var st simStats
	type delayed struct {
		at  int
		pkt []byte
	}
	var late []delayed
	type ackMsg struct {
		at int
		a  Ack
	}
	var acks []ackMsg
	for s := 0; s < sends; s++ {
		// Acks due now, in random order.
		rng.Shuffle(len(acks), func(i, j int) { acks[i], acks[j] = acks[j], acks[i] })
		keep := acks[:0]
		for _, m := range acks {
			if m.at > s {
				keep = append(keep, m)
				continue
			}
			if err := enc.Ack(m.a); err != nil {
				t.Fatalf("send %d: honest ack %+v: %v", s, m.a, err)
			}
		}
		acks = keep

		mutate(rng, w, maxID, churn)
		pkts, err := enc.Encode(nil, w, uint32(1000+s))
		if err != nil {
			t.Fatal(err)
		}
		st.sends++
		for _, p := range pkts {
			if len(p) > enc.Config().MaxPacketBytes {
				t.Fatalf("packet of %d bytes > %d", len(p), enc.Config().MaxPacketBytes)
			}
		}
		onTime := true
		var now [][]byte
		for _, p := range pkts {
			switch x := rng.Float64(); {
			case x < ns.loss:
				onTime = false
			case x < ns.loss+ns.delay:
				onTime = false
				late = append(late, delayed{at: s + 1 + rng.IntN(4), pkt: p})
			case x < ns.loss+ns.delay+ns.dup:
				now = append(now, p, p)
				late = append(late, delayed{at: s + 1 + rng.IntN(4), pkt: p})
			default:
				now = append(now, p)
			}
		}
		keepLate := late[:0]
		for _, d := range late {
			if d.at <= s {
				now = append(now, d.pkt)
			} else {
				keepLate = append(keepLate, d)
			}
		}
		late = keepLate
		rng.Shuffle(len(now), func(i, j int) { now[i], now[j] = now[j], now[i] })
		for _, p := range now {
			info, err := dec.Decode(p)
			if err != nil {
				t.Fatalf("send %d: decode: %v", s, err)
			}
			if !info.Stale {
				st.decodeOK++
			}
		}
		if onTime && enc.Stats().Deferred == 0 {
			st.checks++
			if !dec.World().Equal(w) {
				t.Fatalf("send %d: client state differs from host after a lossless send", s)
			}
		}
		// The client acks after each send's burst; acks are lost, delayed, duplicated.
		a := dec.Ack()
		switch x := rng.Float64(); {
		case x < ns.loss:
		case x < ns.loss+ns.delay:
			acks = append(acks, ackMsg{at: s + 1 + rng.IntN(5), a: a})
		case x < ns.loss+ns.delay+ns.dup:
			acks = append(acks, ackMsg{at: s + 1, a: a}, ackMsg{at: s + 2, a: a})
		default:
			acks = append(acks, ackMsg{at: s + 1, a: a})
		}
	}
	return st
}

func TestRoundTripProperties(t *testing.T) {
	cases := []struct {
		name  string
		cfg   EncoderConfig
		ns    netSchedule
		maxID int
		churn float64
	}{
		{"lossless", EncoderConfig{}, netSchedule{}, 80, 0.05},
		{"loss 5%", EncoderConfig{}, netSchedule{loss: 0.05}, 80, 0.05},
		{"loss 20% dup reorder", EncoderConfig{}, netSchedule{loss: 0.2, dup: 0.1, delay: 0.1}, 80, 0.1},
		{"small packets", EncoderConfig{MaxPacketBytes: 120, MaxPacketsPerSend: 8}, netSchedule{loss: 0.1, dup: 0.05, delay: 0.05}, 80, 0.05},
		{"tight budget", EncoderConfig{MaxPacketBytes: 100, MaxPacketsPerSend: 1}, netSchedule{loss: 0.1, delay: 0.1}, 60, 0.02},
		{"no delta", EncoderConfig{DisableDelta: true}, netSchedule{loss: 0.2, dup: 0.1, delay: 0.1}, 60, 0.1},
		{"sparse IDs", EncoderConfig{}, netSchedule{loss: 0.1}, 3000, 0.003},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 4; seed++ {
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				st := simulate(t, rng, tc.cfg, tc.ns, 300, tc.maxID, tc.churn)
				if st.decodeOK == 0 {
					t.Fatal("nothing decoded")
				}
				if tc.cfg.MaxPacketsPerSend != 1 && st.checks < st.sends/4 {
					t.Fatalf("only %d of %d sends checked", st.checks, st.sends)
				}
			}
		})
	}
}

// TestEveryEntityEventuallySent: with a budget far below the world's size, the priority
// accumulator still refreshes every entity, and the client converges once changes stop.
func TestEveryEntityEventuallySent(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{MaxPacketBytes: 100, MaxPacketsPerSend: 1})
	dec := NewDecoder(r)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100
	for id := EntityID(1); id <= n; id++ {
		w.SetQuantized(id, 1, randomQ(rng, r.Type(1), nil, nil))
	}
	lastSeen := map[EntityID]int{}
	var pkts [][]byte
	for s := 0; s < 400; s++ {
		if s < 300 {
			mutate(rng, w, n, 0)
		}
		pkts, _ = enc.Encode(pkts[:0], w, uint32(s))
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		enc.Ack(dec.Ack())
		for id := EntityID(1); id <= n; id++ {
			if tick, ok := dec.EntityTick(id); ok && int(tick) == s {
				lastSeen[id] = s
			}
		}
		if s > 50 && s < 300 {
			for id := EntityID(1); id <= n; id++ {
				if s-lastSeen[id] > 40 {
					t.Fatalf("send %d: entity %d starved since send %d", s, id, lastSeen[id])
				}
			}
		}
	}
	if !dec.World().Equal(w) {
		t.Fatal("client did not converge")
	}
}

func TestForgedAcks(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	if err := enc.Ack(Ack{Latest: 1}); !errors.Is(err, ErrBadAck) {
		t.Fatalf("ack before any send: %v", err)
	}
	if err := enc.Ack(Ack{}); err != nil {
		t.Fatalf("zero ack: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for id := EntityID(1); id <= 20; id++ {
		w.SetQuantized(id, 1, randomQ(rng, r.Type(1), nil, nil))
	}
	var pkts [][]byte
	for s := 0; s < 40; s++ {
		mutate(rng, w, 20, 0.05)
		pkts, _ = enc.Encode(pkts[:0], w, uint32(s))
		if s%3 == 0 { // lose some packets entirely
			continue
		}
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		honest := dec.Ack()
		forged := []Ack{
			{Latest: honest.Latest + 1},             // future
			{Latest: honest.Latest + 1000},          // far future
			{Latest: 0, Mask: 1},                    // mask on nothing
			{Latest: 65000},                         // never sent
			{Latest: 2, Mask: 0xffffffff},           // before the first packet
			{Latest: honest.Latest + 2, Mask: 0xff}, // future with history
		}
		for _, a := range forged {
			if s < 30 && a.Latest != 2 {
				if err := enc.Ack(a); !errors.Is(err, ErrBadAck) {
					t.Fatalf("send %d: forged ack %+v accepted: %v", s, a, err)
				}
			} else {
				enc.Ack(a) // may be valid late in the run; must not break anything
			}
		}
		if err := enc.Ack(honest); err != nil {
			t.Fatal(err)
		}
		pkts, _ = enc.Encode(pkts[:0], w, uint32(s))
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				t.Fatalf("after forged acks: %v", err)
			}
		}
		if !dec.World().Equal(w) {
			t.Fatal("client differs after forged acks")
		}
		enc.Ack(dec.Ack())
	}
}

func TestAckWire(t *testing.T) {
	a := Ack{Latest: 65535, Mask: 0xdeadbeef}
	b := AppendAck([]byte{9}, a)
	got, n, err := DecodeAck(b[1:])
	if err != nil || n != AckLen || got != a {
		t.Fatal(got, n, err)
	}
	if _, _, err := DecodeAck(b[1:6]); !errors.Is(err, ErrTruncated) {
		t.Fatal(err)
	}
	b[1] = Version + 1
	if _, _, err := DecodeAck(b[1:]); !errors.Is(err, ErrVersion) {
		t.Fatal(err)
	}
}

func TestSeqWraparound(t *testing.T) {
	// Run past 65535 packets with a small world: sequence numbers wrap, 0 is skipped,
	// baselines and acks keep working.
	if testing.Short() {
		t.Skip("long")
	}
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	rng := rand.New(rand.NewPCG(5, 6))
	w.SetQuantized(1, 2, randomQ(rng, r.Type(2), nil, nil))
	w.SetQuantized(2, 1, randomQ(rng, r.Type(1), nil, nil))
	var pkts [][]byte
	for s := 0; s < 70000; s++ {
		if s%7 == 0 {
			_, q, _ := w.Quantized(2)
			q2 := randomQ(rng, r.Type(1), q, nil)
			w.SetQuantized(2, 1, q2)
		}
		pkts, _ = enc.Encode(pkts[:0], w, uint32(s))
		for _, p := range pkts {
			if p[1] == 0 && p[2] == 0 {
				t.Fatal("seq 0 used")
			}
			if s%5 != 0 {
				if _, err := dec.Decode(p); err != nil {
					t.Fatalf("send %d: %v", s, err)
				}
			}
		}
		if s%5 != 0 && !dec.World().Equal(w) {
			t.Fatalf("send %d: differs", s)
		}
		if s%4 != 0 {
			if err := enc.Ack(dec.Ack()); err != nil {
				t.Fatalf("send %d: %v", s, err)
			}
		}
	}
}

// TestConcurrentEncoders: encoders of different clients share one read-only world.
func TestConcurrentEncoders(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	rng := rand.New(rand.NewPCG(8, 8))
	mutate(rng, w, 50, 1)
	done := make(chan error)
	for c := 0; c < 4; c++ {
		go func() {
			enc := NewEncoder(r, EncoderConfig{})
			dec := NewDecoder(r)
			var pkts [][]byte
			var err error
			for s := 0; s < 20 && err == nil; s++ {
				pkts, err = enc.Encode(pkts[:0], w, uint32(s))
				for _, p := range pkts {
					if err == nil {
						_, err = dec.Decode(p)
					}
				}
				if err == nil && !dec.World().Equal(w) {
					err = errors.New("client differs")
				}
				if err == nil {
					err = enc.Ack(dec.Ack())
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoundDiv checks roundDiv against the rounding it replaced (a branch on the sign).
func TestRoundDiv(t *testing.T) {
	for _, den := range []int64{1, 2, 3, 4, 6, 7, 8, 1 << 16} {
		half := den / 2
		for _, x := range []int64{0, 1, -1, 2, -2, 3, -3, 5, -5, 7, -7, den, -den, den + half, -den - half, 1<<48 - 1, -(1<<48 - 1)} {
			want := (x + half) / den
			if x < 0 {
				want = (x - half) / den
			}
			if got := roundDiv(x, half, den); got != want {
				t.Fatalf("roundDiv(%d, %d, %d) = %d, want %d", x, half, den, got, want)
			}
		}
	}
}

// TestPredRatioStep checks predRatio.step, a multiplication, against roundDiv for
// denominators of every kind (powers of two, just above and below them, the largest,
// random ones) and numerators at the edges of the range and around multiples of den.
func TestPredRatioStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	dens := []uint32{2, 3, 4, 5, 6, 7, 9, 10, 12, 255, 256, 257, 1000, 1 << 15, 1<<15 + 1, 1<<16 - 1, 1 << 16}
	for range 200 {
		dens = append(dens, 2+rng.Uint32N(1<<16-1))
	}
	checks := 0
	for _, den := range dens {
		p := newPredRatio(1, den)
		if p.exact {
			t.Fatalf("1/%d taken as whole", den)
		}
		half := int64(den / 2)
		try := func(x int64) {
			checks++
			if got, want := p.step(x), roundDiv(x, half, int64(den)); got != want {
				t.Fatalf("step(%d) over %d = %d, want %d", x, den, got, want)
			}
		}
		const most = 1<<48 - 1 // a difference below 2^32 times num <= 2^16
		for _, x := range []int64{0, 1, 2, half - 1, half, half + 1, int64(den) - 1, int64(den), int64(den) + half, most, most - half, most - int64(den)} {
			try(x)
			try(-x)
		}
		for k := int64(1); k*int64(den) <= most; k = k*3 + 1 {
			for _, x := range []int64{k*int64(den) - half - 1, k*int64(den) - half, k*int64(den) + half - 1, k*int64(den) + half, k * int64(den)} {
				try(x)
				try(-x)
			}
		}
		for range 2000 {
			x := rng.Int64N(most + 1)
			try(x)
			try(-x)
		}
	}
	t.Logf("%d checks", checks)
}

package netsim

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// receiver counts the datagrams a peer's socket receives, by sequence number.
type receiver struct {
	conn    net.PacketConn
	addr    *net.UDPAddr
	mu      sync.Mutex
	seen    map[uint32]int
	total   int
	changed chan struct{}
	done    chan struct{}
}

func listen(t *testing.T, p *Net) *receiver {
	t.Helper()
	c, err := p.ListenPacket("udp4", p.IP().String()+":5000")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{conn: c, addr: &net.UDPAddr{IP: p.IP(), Port: 5000}, seen: map[uint32]int{},
		changed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 4 {
				continue
			}
			r.mu.Lock()
			r.seen[binary.BigEndian.Uint32(buf)]++
			r.total++
			r.mu.Unlock()
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-r.done })
	return r
}

// waitTotal waits until the receiver has seen want datagrams in all.
func (r *receiver) waitTotal(t *testing.T, want func() int, what string) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := r.total
		r.mu.Unlock()
		w := want()
		if got == w {
			return
		}
		if got > w {
			t.Fatalf("%s: received %d datagrams, more than the %d the network delivered", what, got, w)
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("%s: received %d datagrams, want %d", what, got, w)
		}
	}
}

func sender(t *testing.T, p *Net) net.PacketConn {
	t.Helper()
	c, err := p.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.PacketConn, to *net.UDPAddr, from, n uint32, size int) {
	t.Helper()
	b := make([]byte, max(size, 4))
	for i := from; i < from+n; i++ {
		binary.BigEndian.PutUint32(b, i)
		if _, err := c.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLossAndDelay sends UDP datagrams between two virtual peers and checks that about
// the configured share is lost, that the drops are counted, and that none arrives
// sooner than the delay.
func TestLossAndDelay(t *testing.T) {
	nw := ForTest(t, Config{Loss: 0.2, Delay: 5 * time.Millisecond, Seed: 7})
	r := listen(t, nw.MustNet(t))
	sc := sender(t, nw.MustNet(t))
	const total = 500
	start := time.Now()
	send(t, sc, r.addr, 0, total, 4)
	r.waitTotal(t, func() int { s := nw.Stats(); return int(s.Sent + s.Duplicated - s.Dropped()) }, "delayed lossy datagrams")
	if d := time.Since(start); d < 5*time.Millisecond {
		t.Errorf("all datagrams after %v, want >= 5ms", d)
	}
	s := nw.Stats()
	lost := float64(s.Lost) / total
	if lost < 0.15 || lost > 0.25 || s.Sent != total || s.Delivered+s.Lost != total {
		t.Errorf("stats %+v: lost %.2f, want about 0.2", s, lost)
	}
}

// TestSetLoss changes the loss of links already in use.
func TestSetLoss(t *testing.T) {
	nw := ForTest(t, Config{Seed: 11})
	r := listen(t, nw.MustNet(t))
	sc := sender(t, nw.MustNet(t))
	send(t, sc, r.addr, 0, 100, 4)
	r.waitTotal(t, func() int { return 100 }, "datagrams on a clean link")
	nw.SetLoss(1)
	send(t, sc, r.addr, 100, 100, 4)
	if s := nw.Stats(); s.Lost != 100 {
		t.Fatalf("after SetLoss(1) lost %d of 100 (stats %+v)", s.Lost, s)
	}
	if err := nw.SetConfig(Config{}); err != nil {
		t.Fatal(err)
	}
	send(t, sc, r.addr, 200, 100, 4)
	r.waitTotal(t, func() int { return 200 }, "datagrams after SetConfig restored the link")
}

// TestDuplicationOverVnet checks that duplicated datagrams really arrive twice.
func TestDuplicationOverVnet(t *testing.T) {
	nw := ForTest(t, Config{Duplicate: 0.1, Seed: 8})
	r := listen(t, nw.MustNet(t))
	sc := sender(t, nw.MustNet(t))
	const total, batch = 4000, 200 // batches stay under vnet's 1,024-datagram read queue
	for i := uint32(0); i < total; i += batch {
		send(t, sc, r.addr, i, batch, 16)
		r.waitTotal(t, func() int { return int(nw.Stats().Delivered) }, "duplicated datagrams")
	}
	s := nw.Stats()
	r.mu.Lock()
	defer r.mu.Unlock()
	twice := 0
	for i := range uint32(total) {
		switch r.seen[i] {
		case 1:
		case 2:
			twice++
		default:
			t.Fatalf("datagram %d arrived %d times", i, r.seen[i])
		}
	}
	if uint64(twice) != s.Duplicated || twice < total*8/100 || twice > total*12/100 {
		t.Errorf("%d of %d arrived twice (stats %+v), want about 10%%", twice, total, s)
	}
}

// TestBlackhole cuts off one peer, then the whole network, including packets already
// in flight, and restores them.
func TestBlackhole(t *testing.T) {
	nw := ForTest(t, Config{Seed: 9})
	a, b, c := nw.MustNet(t), nw.MustNet(t), nw.MustNet(t)
	ra, rb, rc := listen(t, a), listen(t, b), listen(t, c)
	sa, sb := sender(t, a), sender(t, b)
	delivered := func() int { return int(nw.Stats().Delivered) }
	expect := func(what string, sent, dropped uint64) {
		t.Helper()
		s := nw.Stats()
		if s.Sent != sent || s.Blackholed != dropped {
			t.Fatalf("%s: stats %+v, want sent %d, blackholed %d", what, s, sent, dropped)
		}
	}

	b.SetBlackhole(true)
	send(t, sa, rb.addr, 0, 10, 4) // to the cut-off peer
	send(t, sb, ra.addr, 0, 10, 4) // from it
	send(t, sa, rc.addr, 0, 10, 4) // between two others
	rc.waitTotal(t, delivered, "a→c while b is cut off")
	expect("b cut off", 30, 20)

	b.SetBlackhole(false)
	nw.SetBlackhole(true)
	send(t, sa, rc.addr, 10, 10, 4)
	expect("all cut off", 40, 30)
	nw.SetBlackhole(false)
	send(t, sb, ra.addr, 10, 10, 4)
	ra.waitTotal(t, func() int { return delivered() - 10 }, "b→a restored")

	// In flight: packets due in 2 s are lost if the blackhole turns on before they
	// arrive. A marker to c sent after them is due after them, so once c has it
	// they have been dealt with.
	if err := nw.SetConfig(Config{Delay: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	send(t, sa, rb.addr, 100, 10, 4)
	b.SetBlackhole(true)
	send(t, sa, rc.addr, 200, 1, 4)
	expect("in flight", 61, 30)
	rc.waitTotal(t, func() int { return 11 }, "marker after the in-flight packets")
	expect("in flight dropped on delivery", 61, 40)
	b.SetBlackhole(false)
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.total != 0 {
		t.Errorf("the cut-off peer received %d datagrams", rb.total)
	}
}

// TestBandwidthOverVnet writes a burst far larger than a slow link's queue.
func TestBandwidthOverVnet(t *testing.T) {
	nw := ForTest(t, Config{Bandwidth: 80_000, QueueBytes: 5_000, Seed: 10}) // 10 kB/s
	r := listen(t, nw.MustNet(t))
	sc := sender(t, nw.MustNet(t))
	send(t, sc, r.addr, 0, 100, 500)
	s := nw.Stats()
	// Ten fill the queue; the writes themselves take far less than the 50 ms that
	// would free room for one more, even on a loaded machine, so allow a few.
	if s.QueueFull < 80 || s.QueueFull > 90 {
		t.Fatalf("queue drops %d of 100, want 80..90 (stats %+v)", s.QueueFull, s)
	}
	r.waitTotal(t, func() int { return int(100 - s.QueueFull) }, "the queued datagrams")
}

func ExampleNew() {
	nw, err := New(Config{Loss: 0.05, Delay: 25 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer nw.Close()
	host, _ := nw.NewNet() // pass as netcode.TransportConfig.Net
	client, _ := nw.NewNet()
	client.SetBlackhole(true) // the client's link goes dark
	client.SetBlackhole(false)
	fmt.Println(host.IP(), client.IP())
	// Output: 10.0.0.1 10.0.0.2
}

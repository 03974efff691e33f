package netsim

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLossAndDelay sends UDP datagrams between two virtual peers and checks that about
// the configured share is lost and that none arrives sooner than the delay.
func TestLossAndDelay(t *testing.T) {
	nw := ForTest(t, Config{Loss: 0.2, Delay: 5 * time.Millisecond, Seed: 7})
	a := nw.MustNet(t)
	b := nw.MustNet(t)
	ips, err := b.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var bIP net.IP
	for _, ifc := range ips {
		addrs, _ := ifc.Addrs()
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				bIP = ipn.IP
			}
		}
	}
	if bIP == nil {
		t.Fatal("no address on b")
	}
	rc, err := b.ListenPacket("udp4", bIP.String()+":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := a.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	const total = 500
	start := time.Now()
	for i := range total {
		if _, err := sc.WriteTo([]byte{byte(i)}, &net.UDPAddr{IP: bIP, Port: 5000}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 64)
	first := time.Duration(0)
	for {
		_ = rc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, _, err := rc.ReadFrom(buf); err != nil {
			break
		}
		if got == 0 {
			first = time.Since(start)
		}
		got++
	}
	if first < 5*time.Millisecond {
		t.Errorf("first datagram after %v, want >= 5ms", first)
	}
	lost := float64(total-got) / total
	if lost < 0.12 || lost > 0.28 {
		t.Errorf("lost %.2f, want about 0.2", lost)
	}
	_, dropped := nw.Counts()
	if dropped == 0 {
		t.Error("router dropped nothing")
	}
}

func ExampleNew() {
	nw, err := New(Config{Loss: 0.05, Delay: 25 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer nw.Close()
	host, _ := nw.NewNet() // pass as netcode.TransportConfig.Net
	client, _ := nw.NewNet()
	_, _ = host, client
	// Output:
}

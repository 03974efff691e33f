package netsim

import (
	"net"
	"testing"
	"time"
)

// TestRoaming: after Switch, the peer has a new address; a socket on the old one no
// longer hears anything, and one on the new one does.
func TestRoaming(t *testing.T) {
	nw := ForTest(t, Config{})
	peer := nw.MustNet(t)
	roam, err := nw.NewRoaming()
	if err != nil {
		t.Fatal(err)
	}
	before, err := roam.IP()
	if err != nil {
		t.Fatal(err)
	}
	oldConn, err := roam.ListenPacket("udp4", before.String()+":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer oldConn.Close()
	from, err := peer.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	send := func(ip net.IP) {
		t.Helper()
		if _, err := from.WriteTo([]byte("hi"), &net.UDPAddr{IP: ip, Port: 5000}); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(c net.PacketConn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, _, err := c.ReadFrom(make([]byte, 16))
		return err == nil
	}
	send(before)
	if !recv(oldConn, 5*time.Second) {
		t.Fatal("the old address heard nothing before the switch")
	}

	if err := roam.Switch(); err != nil {
		t.Fatal(err)
	}
	after, err := roam.IP()
	if err != nil || after.Equal(before) {
		t.Fatalf("address after the switch %v (%v), was %v", after, err, before)
	}
	newConn, err := roam.ListenPacket("udp4", after.String()+":5000")
	if err != nil {
		t.Fatal(err)
	}
	defer newConn.Close()
	send(after)
	if !recv(newConn, 5*time.Second) {
		t.Fatal("the new address heard nothing")
	}
	send(before)
	// A datagram to the old address would arrive within milliseconds; give it far
	// longer before concluding it was dropped.
	if recv(oldConn, 500*time.Millisecond) {
		t.Fatal("the old address still hears after the switch")
	}
}

//go:build !js

package netcode

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// cutNet is the operating system's network with a switch: while cut, every datagram
// its UDP sockets send or receive is dropped, as when a path dies without a word. It
// lets a test cut a peer that a vnet cannot hold (a browser) off from a native host.
type cutNet struct {
	*stdnet.Net
	cut atomic.Bool
}

func newCutNet(t testing.TB) *cutNet {
	t.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	return &cutNet{Net: n}
}

// ListenUDP implements transport.Net.
func (n *cutNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &cutConn{UDPConn: c, net: n}, nil
}

// ListenPacket implements transport.Net.
func (n *cutNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(transport.UDPConn); ok {
		return &cutConn{UDPConn: u, net: n}, nil
	}
	return c, nil
}

// cutConn is a UDP socket of a cutNet.
type cutConn struct {
	transport.UDPConn
	net *cutNet
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.net.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

func (c *cutConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if c.net.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDP(b, addr)
}

func (c *cutConn) Write(b []byte) (int, error) {
	if c.net.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.Write(b)
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.net.cut.Load() {
			return n, addr, err
		}
	}
}

func (c *cutConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFromUDP(b)
		if err != nil || !c.net.cut.Load() {
			return n, addr, err
		}
	}
}

func (c *cutConn) Read(b []byte) (int, error) {
	for {
		n, err := c.UDPConn.Read(b)
		if err != nil || !c.net.cut.Load() {
			return n, err
		}
	}
}

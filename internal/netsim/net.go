package netsim

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/vnet"
)

// Net is one peer's network: a pion vnet interface whose UDP sockets send through the
// Network's impairments. Pass it as netcode.TransportConfig.Net (it implements pion's
// transport.Net). TCP is not simulated.
type Net struct {
	*vnet.Net
	nw        *Network
	ip        netip.Addr
	blackhole atomic.Bool
}

var _ transport.Net = (*Net)(nil)

// SetBlackhole cuts this peer off while on: every packet it writes or that is written
// to it, and every such packet still in flight, is dropped. Its sockets stay open, as
// when a player's Wi-Fi drops; turn it off to restore the link.
func (p *Net) SetBlackhole(on bool) { p.blackhole.Store(on) }

// IP returns the peer's address on the network.
func (p *Net) IP() net.IP { return net.IP(p.ip.AsSlice()) }

// ListenPacket opens a UDP socket ("udp", "udp4") whose writes are impaired.
func (p *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := p.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	u, ok := c.(transport.UDPConn)
	if !ok {
		_ = c.Close()
		return nil, errNotUDP
	}
	return p.wrap(u), nil
}

// ListenUDP opens a UDP socket whose writes are impaired.
func (p *Net) ListenUDP(network string, locAddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := p.Net.ListenUDP(network, locAddr)
	if err != nil {
		return nil, err
	}
	return p.wrap(c), nil
}

// DialUDP opens a connected UDP socket whose writes are impaired.
func (p *Net) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := p.Net.DialUDP(network, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return p.wrap(c), nil
}

// Dial opens a connected UDP socket whose writes are impaired.
func (p *Net) Dial(network, address string) (net.Conn, error) {
	c, err := p.Net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(transport.UDPConn); ok {
		return p.wrap(u), nil
	}
	return c, nil
}

// wrap returns c with impaired writes.
func (p *Net) wrap(c transport.UDPConn) *conn { return &conn{UDPConn: c, net: p} }

// conn is a vnet UDP socket whose writes go through the Network; reads are untouched.
type conn struct {
	transport.UDPConn
	net    *Net
	closed atomic.Bool
}

var (
	errNoRemote = errors.New("netsim: write on an unconnected socket")
	errNotUDP   = errors.New("netsim: vnet returned a socket that is not a transport.UDPConn")
)

// WriteTo sends b to addr through the simulated network. Like UDP it never blocks and
// reports success for a packet the network then drops.
func (c *conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	dst, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr) // vnet reports the error
	}
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.net.nw.send(c, append([]byte(nil), b...), dst)
	return len(b), nil
}

// WriteToUDP is WriteTo.
func (c *conn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) { return c.WriteTo(b, addr) }

// Write sends b to the connected address.
func (c *conn) Write(b []byte) (int, error) {
	ra, ok := c.RemoteAddr().(*net.UDPAddr)
	if !ok || ra == nil {
		return 0, errNoRemote
	}
	return c.WriteTo(b, ra)
}

// Close closes the socket; packets it wrote that are still in flight are lost.
func (c *conn) Close() error {
	c.closed.Store(true)
	return c.UDPConn.Close()
}

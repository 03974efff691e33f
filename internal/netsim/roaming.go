package netsim

import (
	"fmt"
	"net"
	"sync"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/vnet"
)

// Roaming is a peer's network whose address changes, as a phone's does when it moves
// from Wi-Fi to mobile data: Switch attaches a new interface with a new address and
// cuts the old one off, so sockets bound to the old address go silent while new ones
// (an ICE restart gathers new candidates) use the new address. Pass it as
// netcode.TransportConfig.Net. It implements pion's transport.Net by delegating to the
// current interface.
type Roaming struct {
	nw *Network

	mu  sync.Mutex
	cur *Net
	cut map[string]bool // switched-off addresses
}

var _ transport.Net = (*Roaming)(nil)

// NewRoaming attaches a peer whose address can be switched.
func (n *Network) NewRoaming() (*Roaming, error) {
	cur, err := n.NewNet()
	if err != nil {
		return nil, err
	}
	r := &Roaming{nw: n, cur: cur, cut: map[string]bool{}}
	n.router.AddChunkFilter(r.filter)
	return r, nil
}

// Switch moves the peer to a new address: a new interface is attached and every
// packet from or to the old address is dropped from now on.
func (r *Roaming) Switch() error {
	next, err := r.nw.NewNet()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ip, err := netIP(r.cur)
	if err != nil {
		return err
	}
	r.cut[ip.String()] = true
	r.cur = next
	return nil
}

// IP returns the peer's current address.
func (r *Roaming) IP() (net.IP, error) { return netIP(r.net()) }

func (r *Roaming) net() *Net {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// netIP returns the non-loopback IPv4 address of a peer's interface.
func netIP(n *Net) (net.IP, error) {
	ifcs, err := n.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifcs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP, nil
			}
		}
	}
	return nil, fmt.Errorf("netsim: no address on the interface")
}

// filter is a router chunk filter: it drops packets from or to a switched-off
// address.
func (r *Roaming) filter(c vnet.Chunk) bool {
	src, dst := c.SourceAddr().String(), c.DestinationAddr().String()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range []string{src, dst} {
		if host, _, err := net.SplitHostPort(a); err == nil && r.cut[host] {
			return false
		}
	}
	return true
}

// The transport.Net methods, on the current interface.

// ListenPacket implements transport.Net.
func (r *Roaming) ListenPacket(network, address string) (net.PacketConn, error) {
	return r.net().ListenPacket(network, address)
}

// ListenUDP implements transport.Net.
func (r *Roaming) ListenUDP(network string, locAddr *net.UDPAddr) (transport.UDPConn, error) {
	return r.net().ListenUDP(network, locAddr)
}

// ListenTCP implements transport.Net.
func (r *Roaming) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return r.net().ListenTCP(network, laddr)
}

// Dial implements transport.Net.
func (r *Roaming) Dial(network, address string) (net.Conn, error) {
	return r.net().Dial(network, address)
}

// DialUDP implements transport.Net.
func (r *Roaming) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return r.net().DialUDP(network, laddr, raddr)
}

// DialTCP implements transport.Net.
func (r *Roaming) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return r.net().DialTCP(network, laddr, raddr)
}

// ResolveIPAddr implements transport.Net.
func (r *Roaming) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	return r.net().ResolveIPAddr(network, address)
}

// ResolveUDPAddr implements transport.Net.
func (r *Roaming) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	return r.net().ResolveUDPAddr(network, address)
}

// ResolveTCPAddr implements transport.Net.
func (r *Roaming) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	return r.net().ResolveTCPAddr(network, address)
}

// Interfaces implements transport.Net: the current interface's.
func (r *Roaming) Interfaces() ([]*transport.Interface, error) { return r.net().Interfaces() }

// InterfaceByIndex implements transport.Net.
func (r *Roaming) InterfaceByIndex(index int) (*transport.Interface, error) {
	return r.net().InterfaceByIndex(index)
}

// InterfaceByName implements transport.Net.
func (r *Roaming) InterfaceByName(name string) (*transport.Interface, error) {
	return r.net().InterfaceByName(name)
}

// CreateDialer implements transport.Net.
func (r *Roaming) CreateDialer(dialer *net.Dialer) transport.Dialer {
	return r.net().CreateDialer(dialer)
}

// CreateListenConfig implements transport.Net.
func (r *Roaming) CreateListenConfig(listenerConfig *net.ListenConfig) transport.ListenConfig {
	return r.net().CreateListenConfig(listenerConfig)
}

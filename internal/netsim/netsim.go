// Package netsim is a simulated network for netcode tests and benchmarks: one pion vnet
// router to which each peer attaches its own virtual interface (a Net), and a set of
// seeded impairments applied to every datagram a peer sends: a blackhole switch, a
// bandwidth cap with a bounded drop-tail queue, independent loss, Gilbert–Elliott
// burst loss, duplication, delay and jitter. Nothing leaves the process.
//
//	nw, _ := netsim.New(netsim.Config{Loss: 0.05, Delay: 25 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
//	defer nw.Close()
//	hostNet, _ := nw.NewNet()   // pass as netcode.TransportConfig.Net
//	clientNet, _ := nw.NewNet()
//	clientNet.SetBlackhole(true) // the client is cut off (both ways) until set back to false
//	nw.SetBlackhole(true)        // every peer is cut off
//
// # Links and the order of impairments
//
// A link is one direction between two peers (A→B and B→A are two links). Each link has
// its own burst-loss state and its own bandwidth queue; every random decision comes from
// one source seeded with Config.Seed, drawn in the order packets are written, so a run
// is repeatable up to goroutine scheduling. (A source per link would replay the same
// losses on every run's handshake packets: one unlucky link would fail every time.)
// A datagram written by a peer goes through, in order:
//
//  1. the blackhole: dropped while the network, the sender or the receiver is blacked out;
//  2. the bandwidth cap: it waits in the link's queue behind what the link has not yet
//     sent, or is dropped when that queue would exceed QueueBytes (drop-tail);
//  3. loss: dropped with probability Loss, then by the link's Gilbert–Elliott model;
//  4. duplication: with probability Duplicate a second copy is delivered as well;
//  5. delay: each copy arrives Delay plus a uniform random share of Jitter after it left
//     the queue; a copy never overtakes an earlier packet of its link unless Reorder is set.
//
// The blackhole is checked again on delivery, so packets in flight when it turns on are
// lost too. Every drop is counted by reason (Stats).
package netsim

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// Config describes every link of the simulated network. The zero value is a perfect
// network.
type Config struct {
	// Loss is the probability that a packet is dropped, independently of every other
	// packet (0..1). Default 0.
	Loss float64
	// Burst is a Gilbert–Elliott burst-loss model applied to each link on top of Loss.
	// Default: off.
	Burst GilbertElliott
	// Duplicate is the probability that a packet that survived loss is delivered
	// twice (0..1); the copy draws its own jitter. Default 0.
	Duplicate float64
	// Delay is the one-way base delay. Default 0.
	Delay time.Duration
	// Jitter is the largest extra one-way delay: each packet waits Delay plus a
	// uniform random duration in [0, Jitter), drawn from the seeded source.
	// Default 0.
	Jitter time.Duration
	// Reorder lets a jittered packet overtake earlier ones on its link, as on a
	// network with several paths. Default false: a link delivers in the order
	// it was written (a packet waits for the one before it).
	Reorder bool
	// Bandwidth caps each link at this many bits per second: packets queue behind
	// each other and leave at this rate. Default 0: unlimited.
	Bandwidth int64
	// QueueBytes bounds each link's bandwidth queue; a packet that would make it
	// longer is dropped (drop-tail). Only used with Bandwidth. Default 100 ms worth
	// of Bandwidth, at least 1,500 bytes.
	QueueBytes int
	// MaxInFlight bounds the packets the network holds for later delivery (delayed,
	// jittered or queued); beyond it a new packet is dropped and counted as
	// Overflow. Default 65,536.
	MaxInFlight int
	// Seed seeds every random decision. Default 0 (a fixed seed as well).
	Seed int64
	// CIDR is the address range of the network. Default "10.0.0.0/24". Only read
	// by New.
	CIDR string
}

// GilbertElliott is the two-state burst-loss model of Gilbert (1960) and Elliott
// (1963). Each link is either good or bad; a packet is lost with probability LossGood
// or LossBad according to the state the link is in when the packet is sent, after
// which the link moves from good to bad with probability GoodToBad (p) or from bad to
// good with probability BadToGood (r). A link starts good. Over many packets:
//
//	share of packets sent in the bad state  πB = p / (p + r)
//	mean loss                               πB·LossBad + (1 − πB)·LossGood
//	mean run of packets in the bad state    1 / r
//
// The zero value (GoodToBad 0) never enters the bad state: no burst loss.
// BurstLoss builds the common case from a mean loss and a mean burst length.
type GilbertElliott struct {
	// GoodToBad is p, the probability of moving to the bad state after a packet
	// sent in the good state (0..1). Default 0: off.
	GoodToBad float64
	// BadToGood is r, the probability of moving back to the good state after a
	// packet sent in the bad state (0..1]. Default 1 (bursts of one packet on
	// average).
	BadToGood float64
	// LossGood is the loss probability in the good state (0..1). Default 0.
	LossGood float64
	// LossBad is the loss probability in the bad state (0..1]. Default 1 (every
	// packet of a burst is lost: Gilbert's original model).
	LossBad float64
}

// BurstLoss returns the Gilbert model (lossless good state, every packet lost in the
// bad state) whose mean loss is loss (0..1) and whose bursts of consecutive losses
// last meanBurst packets on average (at least 1).
func BurstLoss(loss, meanBurst float64) GilbertElliott {
	if loss <= 0 {
		return GilbertElliott{}
	}
	loss = min(loss, 0.99)
	r := 1 / max(meanBurst, 1)
	return GilbertElliott{GoodToBad: r * loss / (1 - loss), BadToGood: r, LossBad: 1}
}

func (g GilbertElliott) withDefaults() GilbertElliott {
	if g.BadToGood <= 0 {
		g.BadToGood = 1
	}
	if g.LossBad <= 0 {
		g.LossBad = 1
	}
	return g
}

// Stats counts what the network did with the packets its peers wrote.
type Stats struct {
	// Sent is the packets written by peers.
	Sent uint64
	// Delivered is the copies handed to the receiver's router (duplicates included).
	Delivered uint64
	// Duplicated is the packets delivered twice.
	Duplicated uint64
	// Drops by reason.
	Blackholed, QueueFull, Lost, BurstLost, Overflow uint64
}

// Dropped is the sum of the drops of every reason.
func (s Stats) Dropped() uint64 {
	return s.Blackholed + s.QueueFull + s.Lost + s.BurstLost + s.Overflow
}

// errConfig reports an impossible Config.
var errConfig = errors.New("netsim: bad config")

func (c Config) validate() error {
	prob := func(name string, p float64) error {
		if p < 0 || p > 1 {
			return fmt.Errorf("%w: %s %v outside [0, 1]", errConfig, name, p)
		}
		return nil
	}
	return errors.Join(
		prob("Loss", c.Loss), prob("Duplicate", c.Duplicate),
		prob("Burst.GoodToBad", c.Burst.GoodToBad), prob("Burst.BadToGood", c.Burst.BadToGood),
		prob("Burst.LossGood", c.Burst.LossGood), prob("Burst.LossBad", c.Burst.LossBad),
		nonNeg("Delay", int64(c.Delay)), nonNeg("Jitter", int64(c.Jitter)),
		nonNeg("Bandwidth", c.Bandwidth), nonNeg("QueueBytes", int64(c.QueueBytes)),
		nonNeg("MaxInFlight", int64(c.MaxInFlight)),
	)
}

func nonNeg(name string, v int64) error {
	if v < 0 {
		return fmt.Errorf("%w: negative %s", errConfig, name)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Burst = c.Burst.withDefaults()
	if c.Bandwidth > 0 && c.QueueBytes == 0 {
		c.QueueBytes = max(int(c.Bandwidth/8/10), 1500)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1 << 16
	}
	return c
}

// Network is a running simulated network. Its methods are safe for concurrent use.
type Network struct {
	router *vnet.Router

	blackhole atomic.Bool

	mu       sync.Mutex // guards the fields below
	rng      *rand.Rand // every link's random decisions
	cfg      Config
	links    map[linkKey]*link
	nets     map[netip.Addr]*Net
	pending  packetHeap // packets waiting for their delivery time
	seq      uint64     // orders packets with equal delivery times
	stats    Stats
	closed   bool
	wake     chan struct{} // size 1: the earliest delivery time changed
	done     chan struct{} // closed by Close
	finished chan struct{} // closed when the delivery goroutine returns

	closeOnce sync.Once
}

// New builds and starts the network.
func New(cfg Config) (*Network, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.CIDR == "" {
		cfg.CIDR = "10.0.0.0/24"
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: cfg.CIDR, LoggerFactory: lf})
	if err != nil {
		return nil, fmt.Errorf("netsim: router: %w", err)
	}
	if err := r.Start(); err != nil {
		return nil, fmt.Errorf("netsim: start: %w", err)
	}
	n := &Network{
		router:   r,
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6e657473696d)), // "netsim"
		cfg:      cfg.withDefaults(),
		links:    map[linkKey]*link{},
		nets:     map[netip.Addr]*Net{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	go n.deliverLoop()
	return n, nil
}

// SetConfig replaces the impairments of every link from now on (packets already in
// flight keep their delivery time), e.g. to connect on a clean network and then
// degrade it. Seed and CIDR are ignored: the random source carries on.
func (n *Network) SetConfig(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	n.mu.Lock()
	defer n.mu.Unlock()
	cfg.Seed, cfg.CIDR = n.cfg.Seed, n.cfg.CIDR
	n.cfg = cfg
	for _, l := range n.links {
		l.configure(cfg)
	}
	return nil
}

// Config returns the impairments in force, defaults filled in.
func (n *Network) Config() Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// SetLoss changes the independent loss probability (0..1), e.g. to connect cleanly
// and then degrade.
func (n *Network) SetLoss(p float64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg.Loss = min(max(p, 0), 1)
	for _, l := range n.links {
		l.configure(n.cfg)
	}
}

// SetBlackhole turns the network-wide blackhole on or off: while on, every packet
// written by any peer, and every packet still in flight, is dropped.
func (n *Network) SetBlackhole(on bool) { n.blackhole.Store(on) }

// Counts returns how many packets the network delivered and dropped.
func (n *Network) Counts() (passed, dropped uint64) {
	s := n.Stats()
	return s.Delivered, s.Dropped()
}

// Stats returns what the network did so far.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// NewNet attaches a new peer with its own address and returns its network, to pass
// as netcode.TransportConfig.Net.
func (n *Network) NewNet() (*Net, error) {
	vn, err := vnet.NewNet(&vnet.NetConfig{})
	if err != nil {
		return nil, fmt.Errorf("netsim: net: %w", err)
	}
	if err := n.router.AddNet(vn); err != nil {
		return nil, fmt.Errorf("netsim: attach: %w", err)
	}
	ip, err := netAddr(vn)
	if err != nil {
		return nil, err
	}
	p := &Net{Net: vn, nw: n, ip: ip}
	n.mu.Lock()
	n.nets[ip] = p
	n.mu.Unlock()
	return p, nil
}

// netAddr finds the address the router gave vn.
func netAddr(vn *vnet.Net) (netip.Addr, error) {
	ifc, err := vn.InterfaceByName("eth0")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netsim: %w", err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netsim: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, errors.New("netsim: no IPv4 address on the new net")
}

// Close stops the network; packets in flight are discarded.
func (n *Network) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.pending = nil
		n.mu.Unlock()
		close(n.done)
		<-n.finished
		err = n.router.Stop()
	})
	return err
}

// send applies the impairments to a packet c writes to dst and delivers it now, later
// or never. It never blocks on the network.
func (n *Network) send(c *conn, b []byte, dst *net.UDPAddr) {
	dstIP, _ := netip.AddrFromSlice(dst.IP.To4())
	now := time.Now()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.stats.Sent++
	if n.blackholed(c.net.ip, dstIP) {
		n.stats.Blackholed++
		n.mu.Unlock()
		return
	}
	l := n.link(c.net.ip, dstIP)
	dues, drop := l.route(now, len(b))
	switch drop {
	case dropQueue:
		n.stats.QueueFull++
	case dropLoss:
		n.stats.Lost++
	case dropBurst:
		n.stats.BurstLost++
	}
	if len(dues) == 2 {
		n.stats.Duplicated++
	}
	var inline int // copies due now with nothing ahead of them on the link
	for _, due := range dues {
		if !due.After(now) && l.inFlight == 0 {
			inline++
			continue
		}
		if len(n.pending) >= n.cfg.MaxInFlight {
			n.stats.Overflow++
			continue
		}
		n.seq++
		l.inFlight++
		heap.Push(&n.pending, &packet{due: due, seq: n.seq, conn: c, link: l, dst: dst, dstIP: dstIP, b: b})
		if n.pending[0].seq == n.seq {
			select {
			case n.wake <- struct{}{}:
			default:
			}
		}
	}
	n.mu.Unlock()
	for range inline {
		n.deliver(c, l, dst, dstIP, b)
	}
}

// blackholed reports whether a packet from src to dst is cut off. n.mu must be held.
func (n *Network) blackholed(src, dst netip.Addr) bool {
	if n.blackhole.Load() {
		return true
	}
	if p := n.nets[src]; p != nil && p.blackhole.Load() {
		return true
	}
	p := n.nets[dst]
	return p != nil && p.blackhole.Load()
}

// link returns the link from src to dst, creating it. n.mu must be held.
func (n *Network) link(src, dst netip.Addr) *link {
	k := linkKey{src, dst}
	l := n.links[k]
	if l == nil {
		l = newLink(n.rng, n.cfg)
		n.links[k] = l
	}
	return l
}

// deliver hands one copy to the router, unless a blackhole has turned on since.
func (n *Network) deliver(c *conn, l *link, dst *net.UDPAddr, dstIP netip.Addr, b []byte) {
	// Counted before the hand-over, so that a receiver never holds a packet the
	// stats do not show yet; taken back if the hand-over fails.
	n.mu.Lock()
	cut := n.blackholed(c.net.ip, dstIP)
	if cut {
		n.stats.Blackholed++
	} else {
		n.stats.Delivered++
	}
	n.mu.Unlock()
	if cut {
		return
	}
	if _, err := c.UDPConn.WriteTo(b, dst); err != nil {
		n.mu.Lock()
		n.stats.Delivered-- // the sender closed its socket meanwhile: nothing was delivered
		n.mu.Unlock()
	}
}

// deliverLoop hands delayed packets to the router at their delivery time. It owns
// nothing but its timer; the queue is guarded by n.mu.
func (n *Network) deliverLoop() {
	defer close(n.finished)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []*packet
	for {
		now := time.Now()
		wait := time.Hour
		n.mu.Lock()
		for len(n.pending) > 0 {
			if p := n.pending[0]; p.due.After(now) {
				wait = p.due.Sub(now)
				break
			}
			batch = append(batch, heap.Pop(&n.pending).(*packet))
		}
		n.mu.Unlock()
		for i, p := range batch {
			n.deliver(p.conn, p.link, p.dst, p.dstIP, p.b)
			n.mu.Lock()
			p.link.inFlight--
			n.mu.Unlock()
			batch[i] = nil
		}
		if len(batch) > 0 {
			batch = batch[:0]
			continue // time has passed while delivering
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-n.wake:
		case <-n.done:
			return
		}
	}
}

// packet is a copy waiting for its delivery time.
type packet struct {
	due   time.Time
	seq   uint64
	conn  *conn
	link  *link
	dst   *net.UDPAddr
	dstIP netip.Addr
	b     []byte
}

// packetHeap orders packets by delivery time, then by the order they were written.
type packetHeap []*packet

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

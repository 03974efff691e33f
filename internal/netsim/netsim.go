// Package netsim is a simulated network for netcode tests and benchmarks: one pion vnet
// router with a configurable one-way delay, jitter and seeded random packet loss,
// to which each peer attaches its own virtual interface. Nothing leaves the process.
//
//	nw, _ := netsim.New(netsim.Config{Loss: 0.05, Delay: 25 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
//	defer nw.Close()
//	hostNet, _ := nw.NewNet()   // pass as netcode.TransportConfig.Net
//	clientNet, _ := nw.NewNet()
package netsim

import (
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// Config describes the simulated link. The zero value is a perfect network.
type Config struct {
	// Loss is the probability that a UDP packet is dropped, applied to every packet
	// in each direction independently (0..1). Default 0.
	Loss float64
	// Delay is the one-way base delay. Default 0.
	Delay time.Duration
	// Jitter is the largest extra one-way delay, added by the vnet router (its own
	// randomness, not Seed). Default 0.
	Jitter time.Duration
	// Seed seeds the loss decisions, so a run is repeatable up to goroutine
	// scheduling. Default 0 (a fixed seed as well).
	Seed int64
	// CIDR is the address range of the network. Default "10.0.0.0/24".
	CIDR string
}

// Network is a running simulated network.
type Network struct {
	router *vnet.Router

	mu   sync.Mutex // guards rng and loss
	rng  *rand.Rand
	loss float64

	passed, dropped atomic.Uint64
	closeOnce       sync.Once
}

// New builds and starts the network.
func New(cfg Config) (*Network, error) {
	if cfg.Loss < 0 || cfg.Loss > 1 {
		return nil, fmt.Errorf("netsim: loss %v outside [0, 1]", cfg.Loss)
	}
	if cfg.CIDR == "" {
		cfg.CIDR = "10.0.0.0/24"
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	r, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR:          cfg.CIDR,
		MinDelay:      cfg.Delay,
		MaxJitter:     cfg.Jitter,
		QueueSize:     0,
		LoggerFactory: lf,
	})
	if err != nil {
		return nil, fmt.Errorf("netsim: router: %w", err)
	}
	n := &Network{router: r, rng: rand.New(rand.NewSource(cfg.Seed)), loss: cfg.Loss}
	r.AddChunkFilter(n.filter)
	if err := r.Start(); err != nil {
		return nil, fmt.Errorf("netsim: start: %w", err)
	}
	return n, nil
}

func (n *Network) filter(c vnet.Chunk) bool {
	n.mu.Lock()
	drop := n.loss > 0 && n.rng.Float64() < n.loss
	n.mu.Unlock()
	if drop {
		n.dropped.Add(1)
		return false
	}
	n.passed.Add(1)
	return true
}

// SetLoss changes the loss probability, e.g. to connect cleanly and then degrade.
func (n *Network) SetLoss(p float64) {
	n.mu.Lock()
	n.loss = p
	n.mu.Unlock()
}

// Counts returns how many packets the router forwarded and dropped.
func (n *Network) Counts() (passed, dropped uint64) { return n.passed.Load(), n.dropped.Load() }

// NewNet attaches a new peer with its own address and returns its network, to pass
// as netcode.TransportConfig.Net.
func (n *Network) NewNet() (*vnet.Net, error) {
	nw, err := vnet.NewNet(&vnet.NetConfig{})
	if err != nil {
		return nil, fmt.Errorf("netsim: net: %w", err)
	}
	if err := n.router.AddNet(nw); err != nil {
		return nil, fmt.Errorf("netsim: attach: %w", err)
	}
	return nw, nil
}

// Close stops the router.
func (n *Network) Close() error {
	var err error
	n.closeOnce.Do(func() {
		err = n.router.Stop()
	})
	return err
}

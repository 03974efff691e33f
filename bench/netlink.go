package main

import (
	"fmt"

	"github.com/pion/transport/v5"

	"github.com/volleynet/volley/internal/netsim"
)

// link is a simulated network between a client and a host (internal/netsim:
// one pion vnet router with the condition's one-way delay, jitter and seeded loss
// in each direction).
type link struct {
	Client, Host transport.Net
	nw           *netsim.Network
	cond         condition
}

// newLink builds a link for c. It starts without loss so that the handshake is
// quick and every measurement starts on an established session: call Impair
// once connected.
func newLink(c condition, seed int64) (*link, error) {
	nw, err := netsim.New(netsim.Config{Delay: c.OneWay(), Jitter: c.Jitter, Seed: seed})
	if err != nil {
		return nil, err
	}
	client, err := nw.NewNet()
	if err != nil {
		nw.Close()
		return nil, fmt.Errorf("client net: %w", err)
	}
	host, err := nw.NewNet()
	if err != nil {
		nw.Close()
		return nil, fmt.Errorf("host net: %w", err)
	}
	return &link{Client: client, Host: host, nw: nw, cond: c}, nil
}

// Impair turns the condition's loss on.
func (l *link) Impair() error {
	l.nw.SetLoss(float64(l.cond.Loss) / 100)
	return nil
}

// DropRate is the fraction of packets the link dropped so far.
func (l *link) DropRate() float64 {
	passed, dropped := l.nw.Counts()
	if passed+dropped == 0 {
		return 0
	}
	return float64(dropped) / float64(passed+dropped)
}

// Close stops the simulated network.
func (l *link) Close() error { return l.nw.Close() }

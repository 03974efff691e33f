package main

import (
	"sync"
	"time"
)

// tickTimes collects the host's tick durations as netcode reports them
// (ServerConfig.OnTick): the time each tick's work took, from the moment the loop
// starts it to the end of its snapshot sends. Waiting to be scheduled before the
// tick starts shows in the late-tick count and the scheduling latency instead.
type tickTimes struct {
	mu   sync.Mutex
	dist *Dist // durations since the last Take
}

func newTickTimes() *tickTimes { return &tickTimes{dist: &Dist{}} }

// record is the OnTick hook; it runs on the tick goroutine.
func (c *tickTimes) record(_ uint32, took time.Duration) {
	c.mu.Lock()
	c.dist.Add(took)
	c.mu.Unlock()
}

// Take returns the durations recorded since the previous Take and starts anew.
func (c *tickTimes) Take() *Dist {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := c.dist
	c.dist = &Dist{}
	return all
}

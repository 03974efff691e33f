package main

import (
	"sync"
	"time"
)

// tickTimes collects the host's tick timings as netcode reports them: the time
// each tick's work took (ServerConfig.OnTick), from the moment the loop starts it
// to the hand-off of its snapshots, and how long after the tick started they were
// encoded and handed to pion (ServerConfig.OnSent). Waiting to be scheduled
// before the tick starts shows in the late-tick count and the scheduling latency
// instead.
type tickTimes struct {
	mu   sync.Mutex
	work *Dist // tick durations since the last Take
	sent *Dist // send lags since the last Take
}

func newTickTimes() *tickTimes { return &tickTimes{work: &Dist{}, sent: &Dist{}} }

// record is the OnTick hook; it runs on the tick goroutine.
func (c *tickTimes) record(_ uint32, took time.Duration) {
	c.mu.Lock()
	c.work.Add(took)
	c.mu.Unlock()
}

// recordSent is the OnSent hook; it runs on netcode's sending goroutine.
func (c *tickTimes) recordSent(_ uint32, since time.Duration) {
	c.mu.Lock()
	c.sent.Add(since)
	c.mu.Unlock()
}

// Take returns the timings recorded since the previous Take and starts anew.
func (c *tickTimes) Take() (work, sent *Dist) {
	c.mu.Lock()
	defer c.mu.Unlock()
	work, sent = c.work, c.sent
	c.work, c.sent = &Dist{}, &Dist{}
	return work, sent
}

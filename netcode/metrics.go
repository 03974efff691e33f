package netcode

import (
	"maps"
	"sync/atomic"
	"time"
)

// totals accumulates the counters of departed sessions, so that host-wide totals
// stay monotonic as clients come and go. Guarded by Server.mu.
type totals struct {
	bytesIn, bytesOut, pktsIn, pktsOut, snaps uint64
	drops                                     [numDropReasons]uint64
	departures                                map[string]uint64 // by bye code
	refusals                                  map[string]uint64 // by reject or bye code
	restarts, restartsFailed                  uint64
}

func (t *totals) add(s Stats) { t.addSince(s, Stats{}) }

// addSince adds the counts of s above those of an earlier reading, prev.
func (t *totals) addSince(s, prev Stats) {
	t.bytesIn += s.BytesIn - prev.BytesIn
	t.bytesOut += s.BytesOut - prev.BytesOut
	t.pktsIn += s.PacketsIn - prev.PacketsIn
	t.pktsOut += s.PacketsOut - prev.PacketsOut
	t.snaps += s.Snapshots - prev.Snapshots
	for i, d := range s.Drops {
		t.drops[i] += d - prev.Drops[i]
	}
	t.restarts += s.Restarts - prev.Restarts
	t.restartsFailed += s.RestartsFailed - prev.RestartsFailed
}

// HostTotals are a host's counters summed over every session it has had, departed ones
// included, so that they only grow as clients come and go (Clients excepted). Package
// netcode/netcodeprom exports them to Prometheus.
type HostTotals struct {
	Clients                                  int        // connected now
	BytesIn, BytesOut, PacketsIn, PacketsOut uint64     // data channel traffic, both channels
	Snapshots                                uint64     // snapshot packets sent
	Drops                                    DropCounts // by reason
	// Disconnects counts departed clients by reason: the bye code of their Departure
	// ("left", "timeout", ...). The map is the caller's.
	Disconnects map[string]uint64
	// Pending is the number of handshakes in progress now (at most
	// ServerConfig.MaxPendingHandshakes).
	Pending int
	// Refusals counts peers refused or handshakes that failed, by the code they
	// were told ("host_full", "busy", "timeout", "bad_channel", "replaced",
	// "signaling", "closed"...). The map is the caller's.
	Refusals map[string]uint64
	// RewindsClamped counts lag-compensation rewinds clamped to
	// LagCompensation.MaxRewind (History.Clamp on Tick.History).
	RewindsClamped uint64
	// BudgetDeferred counts entity updates (and removals) that a client's
	// BytesPerSecond budget pushed to a later send.
	BudgetDeferred uint64
}

// Totals returns the host's totals. It briefly takes the lock that Accept and departing
// sessions take, never one the tick loop takes.
func (s *Server) Totals() HostTotals {
	s.mu.Lock()
	t := s.totals
	t.departures = maps.Clone(s.totals.departures)
	t.refusals = maps.Clone(s.totals.refusals)
	n, pending := len(s.sessions), s.pending
	for _, sess := range s.sessions {
		t.add(sess.stats.stats())
	}
	s.mu.Unlock()
	if t.departures == nil {
		t.departures = map[string]uint64{}
	}
	if t.refusals == nil {
		t.refusals = map[string]uint64{}
	}
	var clamped uint64
	if s.hist != nil {
		clamped = s.hist.RewindsClamped()
	}
	return HostTotals{
		RewindsClamped: clamped,
		BudgetDeferred: s.budgetDeferred.Load(),
		Pending:        pending,
		Refusals:       t.refusals,
		Clients:        n,
		BytesIn:        t.bytesIn, BytesOut: t.bytesOut, PacketsIn: t.pktsIn, PacketsOut: t.pktsOut,
		Snapshots:   t.snaps,
		Drops:       t.drops,
		Disconnects: t.departures,
	}
}

// NumTimingBuckets is the number of bounded buckets of a TimingHistogram.
const NumTimingBuckets = 10

// TimingBucketBound returns the upper bound (inclusive) of bucket i of a
// TimingHistogram: 0.1 ms << i, from 0.1 ms to 51.2 ms (a 60 Hz tick's budget is
// 16.7 ms).
func TimingBucketBound(i int) time.Duration { return 100 * time.Microsecond << i }

// TimingHistogram is a snapshot of a histogram of durations with fixed buckets.
type TimingHistogram struct {
	// Buckets[i] counts the durations d with TimingBucketBound(i-1) < d ≤
	// TimingBucketBound(i) (not cumulative); Buckets[NumTimingBuckets] counts those
	// above the last bound.
	Buckets [NumTimingBuckets + 1]uint64
	// Sum is the sum of the durations. It is read apart from the buckets, so it may
	// already include an observation that the buckets do not yet count.
	Sum time.Duration
}

// Count returns the number of durations observed.
func (h TimingHistogram) Count() uint64 {
	var n uint64
	for _, b := range h.Buckets {
		n += b
	}
	return n
}

// LoopTimings are the host loop's timing histograms.
type LoopTimings struct {
	// Tick is the work of each tick on the tick goroutine: inputs, Step, handing the
	// snapshots due to the sending goroutine (what ServerConfig.OnTick receives).
	Tick TimingHistogram
	// SendLag is, for each tick that sent snapshots, the time from its start until they
	// were encoded and handed to the data channels (what ServerConfig.OnSent receives).
	SendLag TimingHistogram
}

// LoopTimings returns snapshots of the tick loop's timing histograms (lock-free).
func (s *Server) LoopTimings() LoopTimings {
	return LoopTimings{Tick: s.timings.tick.snapshot(), SendLag: s.timings.sendLag.snapshot()}
}

// loopTimings are the host's tick and send-lag histograms (see ServerConfig.OnTick and
// OnSent). Observing is two atomic adds: no lock, no allocation.
type loopTimings struct {
	tick, sendLag timingHistogram
}

// timingHistogram is the live form of a TimingHistogram. Its zero value is ready.
type timingHistogram struct {
	buckets [NumTimingBuckets + 1]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

func (h *timingHistogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < NumTimingBuckets && d > TimingBucketBound(i) {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *timingHistogram) snapshot() TimingHistogram {
	var s TimingHistogram
	for i := range h.buckets {
		s.Buckets[i] = h.buckets[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

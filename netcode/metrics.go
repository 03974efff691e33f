//go:build !js

package netcode

import (
	"github.com/prometheus/client_golang/prometheus"
)

// totals accumulates the counters of departed sessions, so that host-wide totals
// stay monotonic as clients come and go. Guarded by Server.mu.
type totals struct {
	bytesIn, bytesOut, pktsIn, pktsOut, snaps uint64
	drops                                     [numDropReasons]uint64
	departures                                map[string]uint64 // by bye code
	restarts, restartsFailed                  uint64
}

func (t *totals) add(s Stats) {
	t.bytesIn += s.BytesIn
	t.bytesOut += s.BytesOut
	t.pktsIn += s.PacketsIn
	t.pktsOut += s.PacketsOut
	t.snaps += s.Snapshots
	for i, d := range s.Drops {
		t.drops[i] += d
	}
	t.restarts += s.Restarts
	t.restartsFailed += s.RestartsFailed
}

var (
	descClients    = prometheus.NewDesc("volley_netcode_clients", "Connected clients.", nil, nil)
	descTicks      = prometheus.NewDesc("volley_netcode_ticks_total", "Ticks run.", nil, nil)
	descLate       = prometheus.NewDesc("volley_netcode_ticks_late_total", "Ticks run late, back to back to catch up.", nil, nil)
	descSkipped    = prometheus.NewDesc("volley_netcode_ticks_skipped_total", "Due ticks skipped because of the catch-up cap.", nil, nil)
	descBytes      = prometheus.NewDesc("volley_netcode_bytes_total", "Data channel bytes, both channels.", []string{"direction"}, nil)
	descPackets    = prometheus.NewDesc("volley_netcode_messages_total", "Data channel messages, both channels.", []string{"direction"}, nil)
	descSnapshots  = prometheus.NewDesc("volley_netcode_snapshot_packets_total", "Snapshot packets sent.", nil, nil)
	descDrops      = prometheus.NewDesc("volley_netcode_drops_total", "Messages, inputs or snapshots dropped, by reason.", []string{"reason"}, nil)
	descDepartures = prometheus.NewDesc("volley_netcode_disconnects_total", "Clients disconnected, by reason.", []string{"reason"}, nil)
)

// loopTimings are the host's tick and send-lag histograms (see ServerConfig.OnTick and
// OnSent). Observing is lock-free.
type loopTimings struct {
	tick, sendLag prometheus.Histogram
}

// timingBuckets span 0.1 ms to 51.2 ms: a 60 Hz tick's budget is 16.7 ms.
var timingBuckets = prometheus.ExponentialBuckets(0.0001, 2, 10)

func newLoopTimings() loopTimings {
	return loopTimings{
		tick: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "volley_netcode_tick_seconds",
			Help:    "Work per tick on the tick goroutine: inputs, Step, handing the snapshots due to the sending goroutine.",
			Buckets: timingBuckets,
		}),
		sendLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "volley_netcode_snapshot_send_lag_seconds",
			Help:    "Time from a tick's start until its snapshots were encoded and handed to the data channels.",
			Buckets: timingBuckets,
		}),
	}
}

type collector struct{ s *Server }

// Collector returns a Prometheus collector of the host's totals: clients, ticks (run,
// late, skipped), histograms of the tick's work and of the snapshot send lag, bytes and
// messages each way, snapshot packets, drops by reason and disconnects by reason.
// Register it with a prometheus.Registry.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descTicks, descLate, descSkipped, descBytes, descPackets, descSnapshots, descDrops, descDepartures} {
		ch <- d
	}
	c.s.timings.tick.Describe(ch)
	c.s.timings.sendLag.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.mu.Lock()
	t := s.totals
	t.departures = make(map[string]uint64, len(s.totals.departures))
	for k, v := range s.totals.departures {
		t.departures[k] = v
	}
	n := len(s.sessions)
	for _, sess := range s.sessions {
		t.add(sess.stats.stats())
	}
	s.mu.Unlock()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(n))
	counter(descTicks, s.ticks.Load())
	counter(descLate, s.late.Load())
	counter(descSkipped, s.skipped.Load())
	counter(descBytes, t.bytesIn, "in")
	counter(descBytes, t.bytesOut, "out")
	counter(descPackets, t.pktsIn, "in")
	counter(descPackets, t.pktsOut, "out")
	counter(descSnapshots, t.snaps)
	for i, d := range t.drops {
		counter(descDrops, d, DropReason(i).String())
	}
	for code, v := range t.departures {
		counter(descDepartures, v, code)
	}
	s.timings.tick.Collect(ch)
	s.timings.sendLag.Collect(ch)
}

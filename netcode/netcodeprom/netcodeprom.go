// Package netcodeprom exports a netcode host's metrics to Prometheus. It lives apart
// from package netcode so that programs using netcode, players above all, do not link
// Prometheus; netcode exposes the same figures through plain accessors
// ([netcode.Server.Totals], [netcode.Server.LoopStats], [netcode.Server.LoopTimings]).
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(netcodeprom.NewCollector(srv))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Metrics: volley_netcode_clients, volley_netcode_ticks_total,
// volley_netcode_ticks_late_total, volley_netcode_ticks_skipped_total,
// volley_netcode_tick_seconds and volley_netcode_snapshot_send_lag_seconds
// (histograms, 0.1 ms to 51.2 ms), volley_netcode_bytes_total{direction},
// volley_netcode_messages_total{direction}, volley_netcode_snapshot_packets_total,
// volley_netcode_drops_total{reason}, volley_netcode_disconnects_total{reason},
// volley_netcode_handshakes_pending and volley_netcode_refusals_total{code}; and the
// connection lifecycle: volley_netcode_suspended_clients,
// volley_netcode_suspensions_total, volley_netcode_resumptions_total{how} ("recovered"
// on the client's own connection, "token" on a new one),
// volley_netcode_suspensions_ended_total{reason} ("expired", "overflow"),
// volley_netcode_resume_lost_total and
// volley_netcode_ice_restarts_total{result} ("offered", "failed", "answered").
package netcodeprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/volleynet/volley/netcode"
)

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
	descPending    = prometheus.NewDesc("volley_netcode_handshakes_pending", "Handshakes in progress (capped by ServerConfig.MaxPendingHandshakes).", nil, nil)
	descRefusals   = prometheus.NewDesc("volley_netcode_refusals_total", "Peers refused or handshakes that failed, by the code they were told (host_full, busy, timeout, bad_channel, ...).", []string{"code"}, nil)
	descTick       = prometheus.NewDesc("volley_netcode_tick_seconds", "Work per tick on the tick goroutine: inputs, Step, handing the snapshots due to the sending goroutine.", nil, nil)
	descSendLag    = prometheus.NewDesc("volley_netcode_snapshot_send_lag_seconds", "Time from a tick's start until its snapshots were encoded and handed to the data channels.", nil, nil)
	descClamped    = prometheus.NewDesc("volley_netcode_rewinds_clamped_total", "Lag-compensation rewinds clamped to LagCompensation.MaxRewind.", nil, nil)
	descDeferred   = prometheus.NewDesc("volley_netcode_budget_deferred_total", "Entity updates a client's BytesPerSecond budget pushed to a later send.", nil, nil)

	descSuspended   = prometheus.NewDesc("volley_netcode_suspended_clients", "Clients whose connection was lost, kept for resumption.", nil, nil)
	descSuspensions = prometheus.NewDesc("volley_netcode_suspensions_total", "Clients suspended: connection lost, identity kept for the resume window.", nil, nil)
	descResumed     = prometheus.NewDesc("volley_netcode_resumptions_total", "Suspended or lost clients back: on their own connection (recovered) or a new one (token).", []string{"how"}, nil)
	descSuspEnded   = prometheus.NewDesc("volley_netcode_suspensions_ended_total", "Suspended clients that left: window expired, or events over the resume buffer.", []string{"reason"}, nil)
	descResumeLost  = prometheus.NewDesc("volley_netcode_resume_lost_total", "Connected clients that can no longer resume: their unacknowledged events outgrew the resume buffer.", nil, nil)
	descRestarts    = prometheus.NewDesc("volley_netcode_ice_restarts_total", "ICE restarts: offered by the host, failed, and the clients' restarts answered.", []string{"result"}, nil)
)

// bucketBounds are netcode's timing bucket bounds in seconds.
var bucketBounds = func() []float64 {
	b := make([]float64, netcode.NumTimingBuckets)
	for i := range b {
		b[i] = netcode.TimingBucketBound(i).Seconds()
	}
	return b
}()

type collector struct{ s *netcode.Server }

// NewCollector returns a Prometheus collector of srv's totals: clients, ticks (run,
// late, skipped), histograms of the tick's work and of the snapshot send lag, bytes and
// messages each way, snapshot packets, drops by reason, disconnects by reason, pending
// handshakes, refusals by code, clamped lag-compensation rewinds and entity updates
// deferred by bandwidth budgets. Register it with a prometheus.Registry. Collecting reads srv's accessors: it never
// blocks the tick loop.
func NewCollector(srv *netcode.Server) prometheus.Collector { return collector{srv} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descTicks, descLate, descSkipped, descBytes, descPackets,
		descSnapshots, descDrops, descDepartures, descPending, descRefusals, descTick, descSendLag,
		descClamped, descDeferred,
		descSuspended, descSuspensions, descResumed, descSuspEnded, descResumeLost, descRestarts} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.Totals()
	loop := c.s.LoopStats()
	timings := c.s.LoopTimings()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(t.Clients))
	counter(descTicks, loop.Ticks)
	counter(descLate, loop.Late)
	counter(descSkipped, loop.Skipped)
	counter(descBytes, t.BytesIn, "in")
	counter(descBytes, t.BytesOut, "out")
	counter(descPackets, t.PacketsIn, "in")
	counter(descPackets, t.PacketsOut, "out")
	counter(descSnapshots, t.Snapshots)
	for i, d := range t.Drops {
		counter(descDrops, d, netcode.DropReason(i).String())
	}
	for code, v := range t.Disconnects {
		counter(descDepartures, v, code)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(t.Pending))
	for code, v := range t.Refusals {
		counter(descRefusals, v, code)
	}
	ch <- histogram(descTick, timings.Tick)
	ch <- histogram(descSendLag, timings.SendLag)
	counter(descClamped, t.RewindsClamped)
	counter(descDeferred, t.BudgetDeferred)

	life := c.s.LifecycleStats()
	ch <- prometheus.MustNewConstMetric(descSuspended, prometheus.GaugeValue, float64(life.Suspended))
	counter(descSuspensions, life.Suspensions)
	counter(descResumed, life.Recovered, "recovered")
	counter(descResumed, life.Resumed, "token")
	counter(descSuspEnded, life.Expired, "expired")
	counter(descSuspEnded, life.Overflowed, "overflow")
	counter(descResumeLost, life.ResumeLost)
	counter(descRestarts, life.RestartsOffered, "offered")
	counter(descRestarts, life.RestartsFailed, "failed")
	counter(descRestarts, life.RestartsAnswered, "answered")
}

// histogram converts h to Prometheus' cumulative form.
func histogram(d *prometheus.Desc, h netcode.TimingHistogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bucketBounds))
	var cum uint64
	for i, le := range bucketBounds {
		cum += h.Buckets[i]
		buckets[le] = cum
	}
	return prometheus.MustNewConstHistogram(d, cum+h.Buckets[netcode.NumTimingBuckets], h.Sum.Seconds(), buckets)
}

package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are one Server's Prometheus collectors, on the Server's own registry.
type metrics struct {
	reg         *prometheus.Registry
	connections prometheus.Gauge
	accepted    prometheus.Counter
	rooms       prometheus.Gauge
	received    *prometheus.CounterVec // by message type
	sent        *prometheus.CounterVec // by message type
	rejections  *prometheus.CounterVec // by reason (error code or Reason*)
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobby_connections", Help: "Open WebSocket connections.",
		}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lobby_connections_total", Help: "WebSocket connections accepted.",
		}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobby_rooms", Help: "Rooms hosted through this instance.",
		}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_messages_received_total", Help: "Messages received, by type (\"invalid\" for undecodable ones).",
		}, []string{"type"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_messages_sent_total", Help: "Messages queued to clients, by type.",
		}, []string{"type"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_rejections_total", Help: "Rejected requests and connections, by reason.",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.connections, m.accepted, m.rooms, m.received, m.sent, m.rejections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

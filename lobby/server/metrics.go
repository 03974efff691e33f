package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/volleynet/volley/lobby"
)

// metrics are one Server's Prometheus collectors, on the Server's own registry.
type metrics struct {
	reg         *prometheus.Registry
	connections prometheus.Gauge
	accepted    prometheus.Counter
	rooms       prometheus.Gauge
	received    *prometheus.CounterVec // by message type
	sent        *prometheus.CounterVec // by message type
	sentByType  map[string]prometheus.Counter
	rejections  *prometheus.CounterVec // by reason (error code or Reason*)
	restored    *prometheus.CounterVec // by what: rooms, members, lost
	queuedBytes atomic.Int64           // bytes in every connection's send queue
	storeUp     prometheus.Gauge
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
		restored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_store_restored_total",
			Help: "Records this instance put back into a shared store that had lost them (rooms, members), and hosted rooms it could not restore (lost).",
		}, []string{"what"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobby_store_up", Help: "1 while the shared store answers (always 1 without one).",
		}),
	}
	m.storeUp.Set(1)
	m.sentByType = make(map[string]prometheus.Counter)
	for _, t := range []string{lobby.TypeWelcome, lobby.TypeCreated, lobby.TypeRooms, lobby.TypeJoined, lobby.TypeLeft,
		lobby.TypeSignal, lobby.TypeMemberJoined, lobby.TypeMemberLeft, lobby.TypeRoomClosed, lobby.TypeError} {
		m.sentByType[t] = m.sent.WithLabelValues(t)
	}
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lobby_send_queue_bytes", Help: "Bytes waiting in the connections' outgoing queues.",
	}, func() float64 { return float64(m.queuedBytes.Load()) })
	m.reg.MustRegister(m.connections, m.accepted, m.rooms, m.received, m.sent, m.rejections, m.restored,
		m.storeUp, queued, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// sentCounter returns the lobby_messages_sent_total counter of a message type without
// a lookup in the vector (it runs under the hub lock).
func (m *metrics) sentCounter(typ string) prometheus.Counter {
	if c, ok := m.sentByType[typ]; ok {
		return c
	}
	return m.sent.WithLabelValues(typ)
}

package turnserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Label values of the metrics.
const (
	authOK             = "ok"              // a request's credentials checked out
	authBadCredentials = "bad_credentials" // wrong password (message integrity failed)
	authExpired        = "expired"         // the credential's expiry has passed
	authMalformed      = "malformed"       // a username not of the form "expiry:user"

	refusedUserQuota  = "user_quota"      // MaxAllocationsPerUser
	refusedTotalQuota = "total_quota"     // MaxAllocations
	refusedTCPConns   = "tcp_connections" // MaxTCPConnections
	refusedTCPRelay   = "tcp_relay"       // an RFC 6062 TCP relay allocation

	dropBandwidth = "bandwidth" // over AllocationBandwidth

	toPeer   = "to_peer"   // client → relay → peer
	toClient = "to_client" // peer → relay → client
)

// metrics are a Server's Prometheus metrics (see Register).
type metrics struct {
	created  *prometheus.CounterVec
	auth     *prometheus.CounterVec
	refusals *prometheus.CounterVec
	relayed  *prometheus.CounterVec
	dropped  *prometheus.CounterVec

	allocations func() float64 // set by New
	tcpOpen     func() float64 // set by New
}

func newMetrics() *metrics {
	return &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "volley_turn_allocations_total",
			Help: "TURN allocations created, by the transport the client reached the server over (udp, tcp).",
		}, []string{"transport"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "volley_turn_auth_total",
			Help: "Authenticated TURN requests by result: ok, bad_credentials, expired, malformed.",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "volley_turn_refusals_total",
			Help: "Allocations and connections refused by a limit: user_quota, total_quota, tcp_connections, tcp_relay.",
		}, []string{"reason"}),
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "volley_turn_relayed_bytes_total",
			Help: "Payload bytes relayed, by direction: to_peer, to_client.",
		}, []string{"direction"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "volley_turn_dropped_packets_total",
			Help: "Datagrams the relay dropped, by reason: bandwidth (over an allocation's AllocationBandwidth).",
		}, []string{"reason"}),
	}
}

// Register adds the server's metrics to r (a lobby's Registry, say):
// volley_turn_allocations (live), volley_turn_tcp_connections (open),
// volley_turn_allocations_total{transport}, volley_turn_auth_total{result},
// volley_turn_refusals_total{reason}, volley_turn_relayed_bytes_total{direction} and
// volley_turn_dropped_packets_total{reason}.
func (s *Server) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "volley_turn_allocations",
			Help: "Live TURN allocations.",
		}, s.m.allocations),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "volley_turn_tcp_connections",
			Help: "Open TURN-over-TCP connections.",
		}, s.m.tcpOpen),
		s.m.created, s.m.auth, s.m.refusals, s.m.relayed, s.m.dropped,
	} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

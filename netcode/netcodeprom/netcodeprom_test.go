package netcodeprom_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/netcode/netcodeprom"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type ball struct {
	X float32 `snap:"float,min=-100,max=100,prec=0.01"`
}

// wantDescs are the collector's metrics, names and help texts exactly as netcode's
// Server.Collector described them before it moved here (dashboards and alerts depend
// on them), then those added since (pending handshakes, refusals, the connection
// lifecycle's).
var wantDescs = []string{
	`Desc{fqName: "volley_netcode_clients", help: "Connected clients.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_ticks_total", help: "Ticks run.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_ticks_late_total", help: "Ticks run late, back to back to catch up.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_ticks_skipped_total", help: "Due ticks skipped because of the catch-up cap.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_bytes_total", help: "Data channel bytes, both channels.", unit: "", constLabels: {}, variableLabels: {direction}}`,
	`Desc{fqName: "volley_netcode_messages_total", help: "Data channel messages, both channels.", unit: "", constLabels: {}, variableLabels: {direction}}`,
	`Desc{fqName: "volley_netcode_snapshot_packets_total", help: "Snapshot packets sent.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_drops_total", help: "Messages, inputs or snapshots dropped, by reason.", unit: "", constLabels: {}, variableLabels: {reason}}`,
	`Desc{fqName: "volley_netcode_disconnects_total", help: "Clients disconnected, by reason.", unit: "", constLabels: {}, variableLabels: {reason}}`,
	`Desc{fqName: "volley_netcode_handshakes_pending", help: "Handshakes in progress (capped by ServerConfig.MaxPendingHandshakes).", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_refusals_total", help: "Peers refused or handshakes that failed, by the code they were told (host_full, busy, timeout, bad_channel, ...).", unit: "", constLabels: {}, variableLabels: {code}}`,
	`Desc{fqName: "volley_netcode_tick_seconds", help: "Work per tick on the tick goroutine: inputs, Step, handing the snapshots due to the sending goroutine.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_snapshot_send_lag_seconds", help: "Time from a tick's start until its snapshots were encoded and handed to the data channels.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_rewinds_clamped_total", help: "Lag-compensation rewinds clamped to LagCompensation.MaxRewind.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_budget_deferred_total", help: "Entity updates a client's BytesPerSecond budget pushed to a later send.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_suspended_clients", help: "Clients whose connection was lost, kept for resumption.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_suspensions_total", help: "Clients suspended: connection lost, identity kept for the resume window.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_resumptions_total", help: "Suspended or lost clients back: on their own connection (recovered) or a new one (token).", unit: "", constLabels: {}, variableLabels: {how}}`,
	`Desc{fqName: "volley_netcode_suspensions_ended_total", help: "Suspended clients that left: window expired, or events over the resume buffer.", unit: "", constLabels: {}, variableLabels: {reason}}`,
	`Desc{fqName: "volley_netcode_resume_lost_total", help: "Connected clients that can no longer resume: their unacknowledged events outgrew the resume buffer.", unit: "", constLabels: {}, variableLabels: {}}`,
	`Desc{fqName: "volley_netcode_ice_restarts_total", help: "ICE restarts: offered by the host, failed, and the clients' restarts answered.", unit: "", constLabels: {}, variableLabels: {result}}`,
}

// wantBuckets are the histograms' upper bounds as Prometheus' ExponentialBuckets(0.0001,
// 2, 10) made them before.
var wantBuckets = prometheus.ExponentialBuckets(0.0001, 2, 10)

func TestDescriptions(t *testing.T) {
	srv, err := netcode.NewServer(netcode.ServerConfig{Registry: snapshot.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ch := make(chan *prometheus.Desc, 64)
	netcodeprom.NewCollector(srv).Describe(ch)
	close(ch)
	var got []string
	for d := range ch {
		got = append(got, d.String())
	}
	if !slices.Equal(got, wantDescs) {
		t.Errorf("descriptions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantDescs, "\n"))
	}
}

// TestCollector: a client connects, gets snapshots and leaves; the collector, on a
// pedantic registry (which checks Collect against Describe), reports its traffic, its
// departure and the loop's timings.
func TestCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, ball{}); err != nil {
		t.Fatal(err)
	}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	left := make(chan netcode.ClientID, 1)
	srv, err := netcode.NewServer(netcode.ServerConfig{Registry: reg, Transport: loopback, Step: func(tk *netcode.Tick) {
		for _, id := range tk.Joined {
			_ = tk.World.Set(snapshot.EntityID(id), 1, ball{})
		}
		for _, l := range tk.Left {
			tk.World.Remove(snapshot.EntityID(l.Client))
			select {
			case left <- l.Client:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hostSig, clientSig := signaling.Pipe()
	go func() { _, _ = srv.Accept(ctx, hostSig) }()
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, clientSig)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Updates():
	case <-ctx.Done():
		t.Fatal("no snapshot arrived")
	}
	c.Close()
	select {
	case <-left:
	case <-ctx.Done():
		t.Fatal("the host never saw the client leave")
	}
	// A handshake that fails: the peer's signaling closes before its offer.
	gone, goneClient := signaling.Pipe()
	goneClient.Close()
	if _, err := srv.Accept(ctx, gone); err == nil {
		t.Fatal("Accept without an offer succeeded")
	}

	pr := prometheus.NewPedanticRegistry()
	if err := pr.Register(netcodeprom.NewCollector(srv)); err != nil {
		t.Fatal(err)
	}
	families, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			if f.GetType() == dto.MetricType_HISTOGRAM {
				checkHistogram(t, f.GetName(), m.GetHistogram())
			}
		}
	}
	if got["volley_netcode_disconnects_total/left"] != 1 || got["volley_netcode_clients"] != 0 ||
		got["volley_netcode_snapshot_packets_total"] == 0 || got["volley_netcode_bytes_total/out"] == 0 ||
		got["volley_netcode_ticks_total"] == 0 || got["volley_netcode_tick_seconds"] == 0 ||
		got["volley_netcode_snapshot_send_lag_seconds"] == 0 || got["volley_netcode_refusals_total/signaling"] != 1 {
		t.Fatalf("metrics: %v", got)
	}
}

// checkHistogram: the old bucket bounds, cumulative counts ending at the sample count.
func checkHistogram(t *testing.T, name string, h *dto.Histogram) {
	t.Helper()
	var bounds []float64
	var prev uint64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		if b.GetCumulativeCount() < prev {
			t.Errorf("%s: bucket le=%v count %d below the previous bucket's %d", name, b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
	}
	if !slices.Equal(bounds, wantBuckets) {
		t.Errorf("%s: bucket bounds %v, want %v", name, bounds, wantBuckets)
	}
	if prev > h.GetSampleCount() {
		t.Errorf("%s: last bucket counts %d, more than the %d samples", name, prev, h.GetSampleCount())
	}
	if h.GetSampleCount() > 0 && h.GetSampleSum() <= 0 {
		t.Errorf("%s: %d samples summing to %v", name, h.GetSampleCount(), h.GetSampleSum())
	}
}

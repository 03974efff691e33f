package main

import (
	"context"
	"testing"
	"time"
)

// TestScaleSmoke runs the scale benchmark's machinery end to end with a few
// clients: an arena host, a load generator (in process: a test binary cannot
// re-execute itself as the bench command) signaling over a loopback WebSocket,
// then the raw pion baseline.
func TestScaleSmoke(t *testing.T) {
	cfg, err := parseScaleFlags([]string{"-clients", "2,4", "-warmup", "200ms", "-window", "1s", "-q", "-out", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	steps, err := measureScale(ctx, cfg, inProcessLoadGen, newProgress(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 {
		t.Fatalf("got %d steps, want 2", len(steps))
	}
	for _, s := range steps {
		if s.Tick.Len() < 30 {
			t.Errorf("%d clients: %d tick samples in a 1 s window at 60 Hz", s.Clients, s.Tick.Len())
		}
		if s.Sent.Len() < 30 {
			t.Errorf("%d clients: %d send-lag samples in a 1 s window at 60 Hz", s.Clients, s.Sent.Len())
		}
		if s.OutPerClient <= 0 || s.InPerClient <= 0 {
			t.Errorf("%d clients: no traffic: out %v in %v B/s", s.Clients, s.OutPerClient, s.InPerClient)
		}
		if s.GorPerClient <= 0 {
			t.Errorf("%d clients: %v goroutines per client", s.Clients, s.GorPerClient)
		}
		if s.RawCPU <= 0 || s.PktsOutPerClient <= 0 || s.PktsInPerClient <= 0 {
			t.Errorf("%d clients: raw pion baseline CPU %v at %v msgs/s down, %v up", s.Clients, s.RawCPU, s.PktsOutPerClient, s.PktsInPerClient)
		}
	}
	rows := scaleRows(cfg, steps)
	last := rows[len(rows)-1]
	if last.Metric != "max_clients_under_half_budget" || last.Value == nil {
		t.Errorf("last row = %+v", last)
	}
	if err := writeScaleOutputs(&nopWriter{}, cfg, steps, newProgress(true)); err != nil {
		t.Fatal(err)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

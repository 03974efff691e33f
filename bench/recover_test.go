package main

import (
	"context"
	"testing"
	"time"
)

// TestRecoverQuick runs one trial of each recover scenario, short: a 1 s blackhole
// (an ICE restart starts during it), a network switch the application tells about, an
// ICE restart on a working path, and a hard restart with resumption.
func TestRecoverQuick(t *testing.T) {
	cfg, err := parseRecoverFlags([]string{"-trials", "1", "-outages", "1s", "-settle", "200ms", "-q"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prog := newProgress(true)
	d, _, err := measureOutage(ctx, cfg, prog, func(l *recoverLink) (func(), error) {
		l.nw.SetLoss(1)
		<-time.After(time.Second) // the outage itself
		return func() { l.nw.SetLoss(0) }, nil
	})
	if err != nil || d.Len() != 1 {
		t.Fatalf("blackhole: %d samples, %v", d.Len(), err)
	}
	d, st, err := measureOutage(ctx, cfg, prog, func(l *recoverLink) (func(), error) {
		return func() {
			_ = l.roam.Switch()
			l.c.RestartICE()
		}, nil
	})
	if err != nil || d.Len() != 1 || st.Restarts != 1 {
		t.Fatalf("switch: %d samples, %d restarts, %v", d.Len(), st.Restarts, err)
	}
	if d, _, err := measureFalseAlarm(ctx, cfg, prog); err != nil || d.Len() != 1 {
		t.Fatalf("restart on a working path: %d samples, %v", d.Len(), err)
	}
	if d, err := measureResume(ctx, cfg, prog); err != nil || d.Len() != 1 {
		t.Fatalf("resume: %d samples, %v", d.Len(), err)
	}
}

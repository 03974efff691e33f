package main

import (
	"context"
	"testing"
	"time"
)

// TestNetcodeLatencySmoke measures command round trips and input to visible
// through a real netcode host and client, on loopback and over a lossy vnet.
func TestNetcodeLatencySmoke(t *testing.T) {
	lossy, err := parseCondition("loss5_rtt20")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cond *condition
	}{{"loopback", nil}, {lossy.Name, &lossy}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var l *link
			if tc.cond != nil {
				if l, err = newLink(*tc.cond, 3); err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			// At least 10 commands however slowly a loaded machine sends them (CI run
			// 55 sent 9 in the second), and a drain that ends once every answer is in.
			o := netcodeOpts{Duration: time.Second, MinCommands: 10, TickRate: 60, SendRate: 30, Players: 4,
				CmdInterval: 50 * time.Millisecond, InputInterval: 50 * time.Millisecond, Drain: 30 * time.Second, Name: tc.name}
			r, err := measureNetcode(ctx, l, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.CmdSent < 10 || r.CmdRTT.Len() != r.CmdSent {
				t.Errorf("commands: %d answered of %d sent; a reliable channel answers all", r.CmdRTT.Len(), r.CmdSent)
			}
			if r.InputVisible.Len() < r.InputsSent/2 {
				t.Errorf("inputs: %d seen of %d sent", r.InputVisible.Len(), r.InputsSent)
			}
			// A command waits for the next tick, so its round trip is at least
			// the round trip of the link and its less-wait figure is not more.
			floor := 0.0
			if tc.cond != nil {
				floor = float64(tc.cond.RTT) / float64(time.Millisecond)
			}
			if p50 := r.CmdRTT.Percentile(50); p50 < floor {
				t.Errorf("command round trip p50 %.2f ms below the link's %.0f ms", p50, floor)
			}
			if r.CmdLessWait.Percentile(50) > r.CmdRTT.Percentile(50) {
				t.Errorf("less-wait p50 %.2f ms above the round trip p50 %.2f ms", r.CmdLessWait.Percentile(50), r.CmdRTT.Percentile(50))
			}
		})
	}
}

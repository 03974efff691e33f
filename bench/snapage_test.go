package main

import (
	"context"
	"testing"
	"time"
)

// TestSnapshotAgeChannels streams the arena trace over a lossy vnet on both
// channels: the unreliable one must really drop packets (not retransmit them)
// and the reliable one must deliver every packet.
func TestSnapshotAgeChannels(t *testing.T) {
	c, err := parseCondition("loss20_rtt20")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := snapAgeOpts{Duration: 1500 * time.Millisecond, TickRate: 60, SendRate: 30, Players: 8,
		Drain: 5 * time.Second, Seed: 7}
	for _, tc := range []struct {
		label       string
		reliable    bool
		wantAllSent bool
	}{
		{"unreliable", false, false},
		{"reliable", true, true},
	} {
		t.Run(tc.label, func(t *testing.T) {
			init := unreliableInit
			if tc.reliable {
				init = reliableInit
			}
			r, err := measureSnapshotAge(ctx, c, tc.label, init, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sent < 40 || r.DecodeErrs != 0 {
				t.Fatalf("sent %d packets, %d decode errors", r.Sent, r.DecodeErrs)
			}
			got := r.Dist.Len()
			if tc.wantAllSent && got != r.Sent {
				t.Errorf("reliable channel delivered %d of %d packets", got, r.Sent)
			}
			if !tc.wantAllSent && got >= r.Sent {
				t.Errorf("unreliable channel delivered all %d packets at 20%% loss: it retransmits", r.Sent)
			}
			if got > 0 && r.Dist.Percentile(50) < 10 {
				t.Errorf("median age %.1f ms is below the 10 ms one-way delay", r.Dist.Percentile(50))
			}
		})
	}
}

func TestParseConditions(t *testing.T) {
	cs, err := parseConditions(defaultConditions)
	if err != nil {
		t.Fatal(err)
	}
	want := []condition{
		{Name: "perfect"},
		{Name: "loss1_rtt20", Loss: 1, RTT: 20 * time.Millisecond},
		{Name: "loss5_rtt50_jitter10", Loss: 5, RTT: 50 * time.Millisecond, Jitter: 10 * time.Millisecond},
		{Name: "loss10_rtt100_jitter20", Loss: 10, RTT: 100 * time.Millisecond, Jitter: 20 * time.Millisecond},
	}
	if len(cs) != len(want) {
		t.Fatalf("got %v", cs)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Errorf("condition %d = %+v, want %+v", i, cs[i], want[i])
		}
	}
	if c, err := parseCondition("rtt40_loss2"); err != nil || c.Name != "loss2_rtt40" {
		t.Errorf("rtt40_loss2 = %+v, %v; want canonical name loss2_rtt40", c, err)
	}
	for _, bad := range []string{"loss", "lossx", "loss101", "delay5", "loss5__rtt5", ""} {
		if _, err := parseConditions(bad); err == nil {
			t.Errorf("parseConditions(%q) succeeded", bad)
		}
	}
}

//go:build !js

package netcode_test

import (
	"context"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/hitscan"
)

// TestLagCompensationHitRate: over a simulated network with 150 ms RTT and 20 ms
// jitter, a shooter fires at a strafing target exactly where its screen shows it. The
// host, judging each shot against the target where the shooter saw it (Tick.History,
// rewound to the tick stamped in the input), counts at least 95% hits; judging the
// same shots against the target's present position, clearly fewer. A history capped
// at 50 ms clamps every one of those rewinds (about 250 ms) and hits far less.
// `go run ./bench lagcomp` prints the same comparison for several networks.
func TestLagCompensationHitRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A history long enough for any rewind a loaded machine produces (its stalls
	// stretch the clients' interpolation delay to seconds): this judges compensation,
	// not the default cap, which `go run ./bench lagcomp` measures.
	r, err := hitscan.Run(ctx, hitscan.Config{Shots: 100, Delay: 75 * time.Millisecond, Jitter: 20 * time.Millisecond, Seed: 7, MaxRewind: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	comp, present, capped := r.Rate(r.Compensated), r.Rate(r.Present), r.Rate(r.Capped)
	t.Logf("%d shots, mean rewind %.1f ticks: %.0f%% hits with lag compensation, %.0f%% without, %.0f%% with the rewind capped at 50 ms (%d clamped)",
		r.Shots, r.Rewind, 100*comp, 100*present, 100*capped, r.Clamped)
	if comp < 0.95 {
		t.Errorf("%.1f%% hits with lag compensation, want at least 95%%", 100*comp)
	}
	if present > comp-0.4 {
		t.Errorf("%.1f%% hits without lag compensation: not clearly below the %.1f%% with it", 100*present, 100*comp)
	}
	if r.Clamped != uint64(r.Shots) || capped > comp-0.4 {
		t.Errorf("a 50 ms cap clamped %d of %d rewinds of %.1f ticks and hit %.1f%%: want all clamped and clearly fewer hits",
			r.Clamped, r.Shots, r.Rewind, 100*capped)
	}
	if r.ClampedFull != 0 {
		t.Errorf("a 10 s history clamped %d of %d rewinds of %.1f ticks on average", r.ClampedFull, r.Shots, r.Rewind)
	}
}

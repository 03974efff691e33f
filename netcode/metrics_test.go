//go:build !js

package netcode

import (
	"testing"
	"time"
)

func TestTimingHistogram(t *testing.T) {
	var h timingHistogram
	for _, d := range []time.Duration{
		-time.Millisecond,         // a clock step back counts as 0: bucket 0
		0, 100 * time.Microsecond, // bucket 0 (≤ 0.1 ms)
		100*time.Microsecond + 1,                  // bucket 1
		16 * time.Millisecond,                     // bucket 8 (12.8 ms < d ≤ 25.6 ms)
		51200 * time.Microsecond,                  // bucket 9, the last bound
		51200*time.Microsecond + 1, 2 * time.Hour, // above every bound
	} {
		h.observe(d)
	}
	got := h.snapshot()
	want := [NumTimingBuckets + 1]uint64{0: 3, 1: 1, 8: 1, 9: 1, 10: 2}
	if got.Buckets != want {
		t.Errorf("buckets = %v, want %v", got.Buckets, want)
	}
	if got.Count() != 8 {
		t.Errorf("count = %d, want 8", got.Count())
	}
	wantSum := 100*time.Microsecond + 100*time.Microsecond + 1 + 16*time.Millisecond + 51200*time.Microsecond +
		51200*time.Microsecond + 1 + 2*time.Hour
	if got.Sum != wantSum {
		t.Errorf("sum = %v, want %v", got.Sum, wantSum)
	}
	if b := TimingBucketBound(NumTimingBuckets - 1); b != 51200*time.Microsecond {
		t.Errorf("last bound = %v, want 51.2ms", b)
	}
}

// The tick loop observes its timings every tick: no allocation.
func TestTimingHistogramAllocs(t *testing.T) {
	var h timingHistogram
	if n := allocsPerRun(1000, func() { h.observe(3 * time.Millisecond) }); n != 0 {
		t.Fatalf("observe allocates %v times", n)
	}
}

func BenchmarkTimingHistogramObserve(b *testing.B) {
	var h timingHistogram
	b.ReportAllocs()
	for b.Loop() {
		h.observe(3 * time.Millisecond)
	}
}

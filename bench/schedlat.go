package main

import (
	"math"
	"runtime/metrics"
	"slices"
)

// schedLatencyMetric is the Go runtime's histogram of how long goroutines wait
// runnable before they run: on a starved machine it, not the tick's own work,
// makes the tick late.
const schedLatencyMetric = "/sched/latencies:seconds"

// schedHist is a snapshot of the scheduling-latency histogram.
type schedHist struct {
	counts  []uint64
	buckets []float64
}

func readSchedHist() schedHist {
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedHist{}
	}
	h := s[0].Value.Float64Histogram()
	return schedHist{counts: slices.Clone(h.Counts), buckets: slices.Clone(h.Buckets)}
}

// percentileSince returns the q-th percentile (0..100, in milliseconds) of the
// latencies recorded between old and h, or NaN without any.
func (h schedHist) percentileSince(old schedHist, q float64) float64 {
	if len(h.counts) == 0 || len(old.counts) != len(h.counts) {
		return math.NaN()
	}
	var total uint64
	delta := make([]uint64, len(h.counts))
	for i := range h.counts {
		delta[i] = h.counts[i] - old.counts[i]
		total += delta[i]
	}
	if total == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q / 100 * float64(total)))
	var seen uint64
	for i, c := range delta {
		seen += c
		if seen >= max(rank, 1) {
			// Bucket i spans buckets[i] to buckets[i+1]; report its upper edge.
			hi := h.buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = h.buckets[i]
			}
			return hi * 1000
		}
	}
	return math.NaN()
}

package netsim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// These tests drive a link with a synthetic clock and a fixed seed and count what it
// does over many packets: no sockets, no waiting, the same result every run.

func testLink(t *testing.T, cfg Config) *link {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return newLink(rand.New(rand.NewPCG(uint64(cfg.Seed), 1)), cfg.withDefaults())
}

// within fails unless got is within tol of want.
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
	} else {
		t.Logf("%s = %.4f (want %.4f ± %.4f)", what, got, want, tol)
	}
}

// run sends n packets of size bytes, every gap, and returns per packet how many
// copies were delivered and the drop reasons counted.
func run(l *link, n, size int, gap time.Duration) (copies []int, drops map[dropReason]int, dues [][]time.Time) {
	t0 := time.Unix(1000, 0)
	drops = map[dropReason]int{}
	copies = make([]int, n)
	dues = make([][]time.Time, n)
	for i := range n {
		d, why := l.route(t0.Add(time.Duration(i)*gap), size)
		copies[i] = len(d)
		dues[i] = d
		if why != dropNone {
			drops[why]++
		}
	}
	return copies, drops, dues
}

// lossRuns returns the share of packets lost and the mean length of runs of
// consecutive losses.
func lossRuns(copies []int) (share, meanRun float64) {
	lost, runs, inRun := 0, 0, false
	for _, c := range copies {
		if c == 0 {
			lost++
			if !inRun {
				runs++
			}
		}
		inRun = c == 0
	}
	if runs == 0 {
		return 0, 0
	}
	return float64(lost) / float64(len(copies)), float64(lost) / float64(runs)
}

func TestIndependentLoss(t *testing.T) {
	const n = 200_000
	copies, drops, _ := run(testLink(t, Config{Loss: 0.2, Seed: 1}), n, 100, time.Millisecond)
	share, meanRun := lossRuns(copies)
	within(t, "loss", share, 0.2, 0.005)
	// Independent losses come in runs of 1/(1-p) on average.
	within(t, "mean run of losses", meanRun, 1/(1-0.2), 0.03)
	if drops[dropLoss] != int(share*n+0.5) || len(drops) != 1 {
		t.Errorf("drops by reason %v, want only loss", drops)
	}
}

func TestGilbertElliott(t *testing.T) {
	const n = 400_000
	t.Run("BurstLoss", func(t *testing.T) {
		g := BurstLoss(0.05, 4)
		copies, drops, _ := run(testLink(t, Config{Burst: g, Seed: 2}), n, 100, time.Millisecond)
		share, meanRun := lossRuns(copies)
		within(t, "loss", share, 0.05, 0.005)
		within(t, "mean burst", meanRun, 4, 0.25)
		if drops[dropBurst] == 0 || len(drops) != 1 {
			t.Errorf("drops by reason %v, want only burst", drops)
		}
	})
	t.Run("LossInBothStates", func(t *testing.T) {
		g := GilbertElliott{GoodToBad: 0.01, BadToGood: 0.1, LossGood: 0.02, LossBad: 0.5}
		copies, _, _ := run(testLink(t, Config{Burst: g, Seed: 3}), n, 100, time.Millisecond)
		share, _ := lossRuns(copies)
		bad := g.GoodToBad / (g.GoodToBad + g.BadToGood)
		within(t, "loss", share, bad*g.LossBad+(1-bad)*g.LossGood, 0.006)
	})
	t.Run("Off", func(t *testing.T) {
		copies, _, _ := run(testLink(t, Config{Burst: GilbertElliott{BadToGood: 0.5, LossBad: 1}, Seed: 4}), 10_000, 100, time.Millisecond)
		if share, _ := lossRuns(copies); share != 0 {
			t.Errorf("GoodToBad 0 lost %.4f", share)
		}
	})
}

func TestDuplication(t *testing.T) {
	const n = 200_000
	copies, _, _ := run(testLink(t, Config{Loss: 0.25, Duplicate: 0.25, Seed: 5}), n, 100, time.Millisecond)
	total, twice := 0, 0
	for _, c := range copies {
		total += c
		if c == 2 {
			twice++
		}
	}
	share, _ := lossRuns(copies)
	within(t, "loss", share, 0.25, 0.005)
	within(t, "duplicated share of survivors", float64(twice)/(n*(1-share)), 0.25, 0.005)
	within(t, "copies per packet sent", float64(total)/n, 0.75*1.25, 0.006)
}

func TestDelayAndJitter(t *testing.T) {
	const (
		n      = 50_000
		delay  = 100 * time.Millisecond
		jitter = 250 * time.Millisecond
		gap    = 5 * time.Millisecond
	)
	for _, reorder := range []bool{false, true} {
		copies, _, dues := run(testLink(t, Config{Delay: delay, Jitter: jitter, Reorder: reorder, Duplicate: 0.1, Seed: 6}), n, 100, gap)
		t0 := time.Unix(1000, 0)
		var sum time.Duration
		count, inversions := 0, 0
		var last time.Time
		for i, d := range dues {
			sent := t0.Add(time.Duration(i) * gap)
			for _, due := range d {
				lat := due.Sub(sent)
				if lat < delay || (reorder && lat >= delay+jitter) {
					t.Fatalf("reorder %v: packet %d delayed %v, want [%v, %v)", reorder, i, lat, delay, delay+jitter)
				}
				sum += lat
				count++
				if due.Before(last) {
					inversions++
				}
				last = due
			}
		}
		if count != sum0(copies) {
			t.Fatal("copies and delivery times disagree")
		}
		mean := float64(sum/time.Duration(count)) / float64(time.Millisecond)
		if reorder {
			within(t, "mean delay (ms), reordering", mean, 225, 2)
			if inversions < n/4 {
				t.Errorf("reordering: only %d of %d copies overtaken", inversions, count)
			}
		} else {
			// In order, a packet also waits for the slowest one before it.
			if mean < 225 {
				t.Errorf("in order: mean delay %.1f ms, want more than the jitter alone gives (225)", mean)
			}
			if inversions != 0 {
				t.Errorf("in order: %d copies overtaken", inversions)
			}
		}
	}
}

func sum0(xs []int) (s int) {
	for _, x := range xs {
		s += x
	}
	return s
}

func TestBandwidthQueue(t *testing.T) {
	const rate = 1_000_000 // bit/s: 125 bytes per ms
	t.Run("Burst", func(t *testing.T) {
		// 100 packets of 1,000 bytes at one instant into a 10,000-byte queue: ten
		// are queued, leaving 8 ms apart; the other ninety are dropped.
		copies, drops, dues := run(testLink(t, Config{Bandwidth: rate, QueueBytes: 10_000}), 100, 1000, 0)
		if got := sum0(copies); got != 10 || drops[dropQueue] != 90 {
			t.Fatalf("delivered %d, queue drops %d; want 10 and 90", got, drops[dropQueue])
		}
		for i := range 10 {
			if want := time.Unix(1000, 0).Add(time.Duration(i+1) * 8 * time.Millisecond); !dues[i][0].Equal(want) {
				t.Errorf("packet %d leaves at %v, want %v", i, dues[i][0], want)
			}
		}
	})
	t.Run("Overload", func(t *testing.T) {
		// Twice the rate for 20 s: half the packets get through, plus what the
		// queue holds at the end.
		const n = 5000
		copies, drops, _ := run(testLink(t, Config{Bandwidth: rate, QueueBytes: 10_000}), n, 1000, 4*time.Millisecond)
		got := sum0(copies)
		if got < n/2 || got > n/2+11 || drops[dropQueue] != n-got {
			t.Errorf("delivered %d of %d, queue drops %d; want %d..%d", got, n, drops[dropQueue], n/2, n/2+11)
		}
	})
	t.Run("UnderRate", func(t *testing.T) {
		copies, drops, _ := run(testLink(t, Config{Bandwidth: rate}), 5000, 1000, 9*time.Millisecond)
		if got := sum0(copies); got != 5000 {
			t.Errorf("below the rate: delivered %d of 5000 (drops %v)", got, drops)
		}
	})
	t.Run("DefaultQueue", func(t *testing.T) {
		if q := (Config{Bandwidth: rate}).withDefaults().QueueBytes; q != 12_500 {
			t.Errorf("default queue %d bytes, want 100 ms at 1 Mbit/s = 12,500", q)
		}
	})
}

func TestLinksAreSeeded(t *testing.T) {
	cfg := Config{Loss: 0.3, Duplicate: 0.3, Jitter: 50 * time.Millisecond, Reorder: true, Seed: 9}
	a, _, da := run(testLink(t, cfg), 1000, 100, time.Millisecond)
	b, _, db := run(testLink(t, cfg), 1000, 100, time.Millisecond)
	for i := range a {
		if a[i] != b[i] || (a[i] > 0 && !da[i][0].Equal(db[i][0])) {
			t.Fatalf("same seed, packet %d: %d copies at %v vs %d at %v", i, a[i], da[i], b[i], db[i])
		}
	}
	cfg.Seed = 10
	c, _, _ := run(testLink(t, cfg), 1000, 100, time.Millisecond)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Error("another seed made the same decisions")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{Loss: -0.1}, {Loss: 1.1}, {Duplicate: 2}, {Burst: GilbertElliott{GoodToBad: 1.5}},
		{Delay: -time.Second}, {Bandwidth: -1}, {QueueBytes: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

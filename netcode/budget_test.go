//go:build !js

package netcode

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBudgetWindow spends a budget as a host does (each send uses up to what it is
// allowed, sometimes less, sometimes the minimum one packet): over every window of
// SendRate consecutive sends the bytes stay within BytesPerSecond plus one packet.
func TestBudgetWindow(t *testing.T) {
	const rate, sendRate = 9000, 30
	var b budget
	b.init(rate, sendRate, false)
	rng := rand.New(rand.NewPCG(1, 1))
	var sent []int
	for range 3000 {
		allow := b.allow(snapshotHeaderBytes, 4)
		n := 0
		switch rng.IntN(4) {
		case 0: // quiet: an empty packet
			n = snapshot0
		default: // busy: up to the allowance, in packets of at most 1,091 bytes
			for left := allow; left > 0 && n < allow; {
				p := min(left, MaxSnapshotPacketBytes)
				n += p + snapshotHeaderBytes
				left -= p + snapshotHeaderBytes
			}
			n = max(n, snapshot0)
		}
		b.spend(n)
		sent = append(sent, n)
	}
	worst := 0
	for i := range len(sent) - sendRate {
		s := 0
		for _, n := range sent[i : i+sendRate] {
			s += n
		}
		worst = max(worst, s)
	}
	if worst > rate+MaxUnreliableBytes {
		t.Fatalf("%d bytes in one second of sends, budget %d plus one packet", worst, rate)
	}
	if worst < rate*9/10 {
		t.Fatalf("at most %d bytes in a second: the budget of %d is not used", worst, rate)
	}
}

// snapshot0 is the smallest snapshot message: headers and an empty packet.
const snapshot0 = snapshotHeaderBytes + 9

// TestBudgetAdapt: seconds with heavy reported loss cut the budget down to a quarter,
// clean seconds bring it back; a budget never goes below 64 bytes per send.
func TestBudgetAdapt(t *testing.T) {
	var b budget
	b.init(20000, 30, true)
	recv, lost := uint32(0), uint32(0)
	second := func(r, l uint32) {
		for range 30 {
			b.allow(snapshotHeaderBytes, 4)
			b.spend(snapshot0)
			recv += r / 30
			lost += l / 30
			b.observeLoss(recv, lost)
		}
	}
	second(600, 0)
	for range 10 {
		second(540, 60) // 10% lost
	}
	low := math.Float64frombits(b.current.Load())
	if low != 5000 {
		t.Fatalf("after ten lossy seconds the budget is %v, want the floor 5000", low)
	}
	for range 20 {
		second(600, 0)
	}
	if got := math.Float64frombits(b.current.Load()); got != 20000 {
		t.Fatalf("after twenty clean seconds the budget is %v, want 20000 back", got)
	}
	var tiny budget
	tiny.init(100, 30, false)
	if tiny.max != 64*30 {
		t.Fatalf("a 100 B/s budget became %v, want the minimum %d", tiny.max, 64*30)
	}
}

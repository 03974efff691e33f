//go:build !js

package netcode

import (
	"math/rand/v2"
	"testing"
)

// TestSendPhasesBalance checks that joining clients are spread evenly over the send
// phases and, within a phase, over the encoding goroutines.
func TestSendPhasesBalance(t *testing.T) {
	for _, tc := range []struct {
		sendEvery uint32
		workers   int
		clients   int
	}{
		{1, 1, 5}, {2, 1, 9}, {2, 2, 16}, {3, 4, 25}, {60, 3, 40},
	} {
		var active []*session
		for i := range tc.clients {
			sess := &session{}
			sess.phase = sendPhase(active, tc.sendEvery, uint32(7*i))
			sess.worker = encodeWorker(active, sess.phase, tc.workers)
			active = append(active, sess)
		}
		phases := min(tc.sendEvery, maxSpreadPhases)
		perPhase := map[uint32]int{}
		perSlot := map[[2]int]int{}
		for _, sess := range active {
			if sess.phase >= phases || sess.worker >= tc.workers {
				t.Fatalf("%+v: phase %d worker %d out of range", tc, sess.phase, sess.worker)
			}
			perPhase[sess.phase]++
			perSlot[[2]int{int(sess.phase), sess.worker}]++
		}
		lo, hi := tc.clients, 0
		for p := range phases {
			lo, hi = min(lo, perPhase[p]), max(hi, perPhase[p])
		}
		if hi-lo > 1 {
			t.Errorf("%+v: clients per phase range %d..%d", tc, lo, hi)
		}
		for p := range phases {
			lo, hi := tc.clients, 0
			for w := range tc.workers {
				n := perSlot[[2]int{int(p), w}]
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Errorf("%+v: phase %d: clients per worker range %d..%d", tc, p, lo, hi)
			}
		}
	}
}

// TestSendPhaseFirstSnapshot: when phases tie, a joining client takes the one that
// sends on its join tick, so that about 3 joins in 4 get their first snapshot at once
// at 60/30 Hz (half of them without the preference).
func TestSendPhaseFirstSnapshot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var active []*session
	now := 0
	const joins = 400
	for range joins {
		n := rng.Uint32()
		sess := &session{phase: sendPhase(active, 2, n)}
		if (n+sess.phase)%2 == 0 {
			now++
		}
		active = append(active, sess)
	}
	if now < joins*2/3 {
		t.Errorf("%d of %d joins sent their first snapshot on their join tick", now, joins)
	}
}

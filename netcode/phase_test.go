//go:build !js

package netcode

import "testing"

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
		for range tc.clients {
			sess := &session{}
			sess.phase = sendPhase(active, tc.sendEvery)
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

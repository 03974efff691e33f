// Package leakcheck checks that a test left no goroutines behind, waiting longer
// than goleak does by default: pion's goroutines wind down after Close returns, and
// on a loaded machine that can take more than goleak's second of retries.
package leakcheck

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Wait is how long VerifyNone lets goroutines wind down.
const Wait = 15 * time.Second

// VerifyNone fails t if goroutines other than those opts ignore are still running
// after Wait. No event tells when closed connections' goroutines have ended, so it
// polls: each goleak.Find retries for about a second.
func VerifyNone(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	verifyNone(t, Wait, opts...)
}

func verifyNone(t testing.TB, wait time.Duration, opts ...goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find(opts...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines still running %v after the test: %v", wait, err)
			return
		}
	}
}

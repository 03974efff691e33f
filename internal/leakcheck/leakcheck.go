// Package leakcheck checks that tests left no goroutines behind, waiting longer
// than goleak does by default: pion's goroutines wind down after Close returns, and
// on a loaded machine that can take more than goleak's second of retries.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Wait is how long VerifyNone and Main let goroutines wind down.
const Wait = 15 * time.Second

// VerifyNone fails t if goroutines other than those opts ignore are still running
// after Wait.
func VerifyNone(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	if err := find(Wait, opts...); err != nil {
		t.Errorf("goroutines still running %v after the test: %v", Wait, err)
	}
}

// Main runs a package's tests (as goleak.VerifyTestMain does) and, if they pass,
// fails the run when goroutines are still running after Wait.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		if err := find(Wait, opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running %v after the tests: %v\n", Wait, err)
			code = 1
		}
	}
	os.Exit(code)
}

// find returns goleak's report if goroutines are still running after wait. No
// event tells when closed connections' goroutines have ended, so it polls: each
// goleak.Find retries for about a second.
func find(wait time.Duration, opts ...goleak.Option) error {
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

package leakcheck

import (
	"testing"
	"time"
)

// TestVerifyNone: no goroutine left passes; one blocked for the whole wait is
// reported.
func TestVerifyNone(t *testing.T) {
	VerifyNone(t)

	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	rec := &recorder{TB: t}
	verifyNone(rec, 100*time.Millisecond)
	if !rec.failed {
		t.Fatal("a goroutine blocked for the whole wait was not reported")
	}
}

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }

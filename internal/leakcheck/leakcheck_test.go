package leakcheck

import (
	"testing"
	"time"
)

// TestFind: no goroutine left passes; one blocked for the whole wait is reported.
func TestFind(t *testing.T) {
	VerifyNone(t)

	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	if err := find(100 * time.Millisecond); err == nil {
		t.Fatal("a goroutine blocked for the whole wait was not reported")
	}
}

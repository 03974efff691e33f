package clock

import (
	"fmt"
	"testing"
	"time"
)

func TestFakeTimers(t *testing.T) {
	start := time.Unix(100, 0)
	f := NewFake(start)
	a := f.NewTimer(time.Second)
	b := f.NewTimer(2 * time.Second)
	f.Advance(1500 * time.Millisecond)
	select {
	case at := <-a.C():
		if !at.Equal(start.Add(1500 * time.Millisecond)) {
			t.Fatalf("a fired at %v", at)
		}
	default:
		t.Fatal("a did not fire")
	}
	select {
	case <-b.C():
		t.Fatal("b fired early")
	default:
	}
	b.Stop()
	f.Advance(time.Hour)
	select {
	case <-b.C():
		t.Fatal("stopped timer fired")
	default:
	}
	a.ResetAt(start) // in the past: fires at once
	select {
	case <-a.C():
	default:
		t.Fatal("ResetAt in the past did not fire")
	}
	if f.Timers() != 0 {
		t.Fatalf("%d timers armed", f.Timers())
	}
	done := make(chan struct{})
	go func() {
		<-f.WaitTimers(1)
		close(done)
	}()
	a.Reset(time.Second)
	<-done
}

func ExampleFake() {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	fmt.Println((<-tm.C()).Unix())
	// Output: 1
}

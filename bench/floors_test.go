package main

import (
	"context"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestFloorsSmoke runs every echo floor briefly on loopback.
func TestFloorsSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := echoOpts{Count: 20, Size: 64, Interval: time.Millisecond, Timeout: 2 * time.Second}
	if testing.Short() {
		o.Count = 5
	}
	res, err := runFloors(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(floorKinds) {
		t.Fatalf("got %d floors, want %d", len(res), len(floorKinds))
	}
	for _, r := range res {
		if r.Samples != o.Count || *r.Delivered != 1 {
			t.Errorf("%s: %d samples, delivered %v; want all %d", r.Channel, r.Samples, *r.Delivered, o.Count)
		}
		if *r.P50 <= 0 || *r.Max < *r.P50 {
			t.Errorf("%s: implausible figures %+v", r.Channel, r.Row)
		}
	}
}

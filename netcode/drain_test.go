//go:build !js

package netcode

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDrain: a draining host refuses newcomers with "draining", hands every client the
// final event before its bye, each client ends with ErrDraining (and ErrServerClosed),
// and Drain returns with the Server closed.
func TestDrain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	var srv *Server
	refused := make(chan error, 1)
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		observeDrain: func() {
			// Admission has stopped: a newcomer is refused, told why.
			_, _, err := tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback()})
			refused <- err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer a.Close()
	b, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer b.Close()

	if srv.Draining() {
		t.Fatal("Draining before Drain")
	}
	if err := srv.Drain(ctx, "round over"); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	if !srv.Draining() {
		t.Fatal("not Draining after Drain")
	}
	err = <-refused
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Code != "draining" || !errors.Is(err, ErrDraining) || !errors.Is(err, ErrServerClosed) {
		t.Fatalf("newcomer during the drain got %v, want a RejectError with code draining", err)
	}
	for name, c := range map[string]*Client{"a": a, "b": b} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("client %s still connected after Drain", name)
		}
		if !errors.Is(c.Err(), ErrDraining) || !errors.Is(c.Err(), ErrServerClosed) {
			t.Fatalf("client %s ended with %v, want ErrDraining and ErrServerClosed", name, c.Err())
		}
		var got []string
		for ev := range drainEvents(c) {
			var s string
			if ev.Decode(&s) == nil {
				got = append(got, s)
			}
		}
		if len(got) != 1 || got[0] != "round over" {
			t.Fatalf("client %s got events %q before the bye, want the final event once", name, got)
		}
	}
	if _, err := srv.Accept(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Drain = %v, want ErrClosed", err)
	}
	if err := srv.Drain(ctx, nil); err != nil {
		t.Fatalf("second Drain = %v", err)
	}
}

// drainEvents returns the events left in a closed client's queue.
func drainEvents(c *Client) <-chan Event {
	out := make(chan Event, cap(c.events))
	for {
		select {
		case ev := <-c.Events():
			out <- ev
		default:
			close(out)
			return out
		}
	}
}

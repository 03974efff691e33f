package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/lobby"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-stun", "stun:stun.example:3478"}, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := lobby.Dial(dctx, "ws://"+addr+"/ws", lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if ice := c.ICEServers(); len(ice) != 1 || ice[0].URLs[0] != "stun:stun.example:3478" {
		t.Fatalf("ICE servers = %+v", ice)
	}
	cancel() // SIGTERM: the lobby drains, telling its connections to move
	select {
	case ev := <-c.Events():
		if ev.Type != lobby.TypeDraining {
			t.Fatalf("event %+v, want draining", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client not told to move by the drain")
	}
	c.Close() // the last connection leaves: the drain is over
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunTURN: -turn-listen runs the embedded relay; the welcome carries its URLs
// with credentials, and /metrics its metrics.
func TestRunTURN(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-turn-listen", "127.0.0.1:0", "-drain-timeout", "1ns"}, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := lobby.Dial(dctx, "ws://"+addr+"/ws", lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ice := c.ICEServers()
	if len(ice) != 1 || len(ice[0].URLs) != 2 || ice[0].Username == "" || ice[0].Credential == "" ||
		!strings.HasPrefix(ice[0].URLs[0], "turn:127.0.0.1:") || !strings.HasSuffix(ice[0].URLs[1], "?transport=tcp") {
		t.Fatalf("ICE servers = %+v, want the embedded relay's UDP and TCP URLs with a credential", ice)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "volley_turn_allocations ") {
		t.Fatalf("/metrics lacks the relay's metrics:\n%s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReadmeURL: the READMEs tell players to dial the address this command listens
// on by default.
func TestReadmeURL(t *testing.T) {
	want := "ws://" + defaultAddr + "/ws"
	for _, f := range []string{"../../../README.md", "../../README.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not give the lobby command's URL %s", f, want)
		}
	}
}

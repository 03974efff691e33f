package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRunHTTPLimits: the command serves through lobbyserver.HTTPServer (its socket
// metrics are on /metrics) and parses -trusted-proxies.
func TestRunHTTPLimits(t *testing.T) {
	if err := run(context.Background(), []string{"-trusted-proxies", "10.0.0.0/8,nonsense"}, io.Discard, nil); err == nil ||
		!strings.Contains(err.Error(), "-trusted-proxies") {
		t.Fatalf("bad -trusted-proxies: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-trusted-proxies", "10.0.0.0/8, 192.0.2.1"}, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "lobby_http_sockets") {
		t.Fatal("/metrics lacks lobby_http_sockets: not served by lobbyserver.HTTPServer")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

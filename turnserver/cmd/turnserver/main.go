// Command turnserver runs Volley's TURN relay on its own, for players whose network
// blocks direct WebRTC. It shares the lobby's TURN REST secret, so the credentials
// the lobby hands out work here; point the lobby at it with -turn.
//
//	LOBBY_TURN_SECRET=… go run ./turnserver/cmd/turnserver -listen :3478 -relay-ip 203.0.113.7
//	LOBBY_TURN_SECRET=… go run ./lobby/cmd/lobby -turn turn:203.0.113.7:3478?transport=udp,turn:203.0.113.7:3478?transport=tcp
//
// It listens for TURN over UDP and TCP on -listen, relays on -relay-ports, and serves
// /metrics and /healthz on -http. SIGINT or SIGTERM closes it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/turnserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	cli.Exit("turnserver", err)
}

func run(ctx context.Context, args []string, logOut io.Writer) error {
	fs := newFlags(logOut)
	if err := fs.parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: fs.level()}))
	cfg, err := fs.config(os.Getenv)
	if err != nil {
		return err
	}
	cfg.Logger = log
	relay, err := turnserver.New(cfg)
	if err != nil {
		return err
	}
	defer relay.Close()
	reg := prometheus.NewRegistry()
	if err := relay.Register(reg); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", *fs.http)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go hs.Serve(ln)
	log.Info("turnserver ready", "urls", relay.URLs(*fs.urlHost), "http", ln.Addr().String())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return relay.Close()
}

// Command host is the arena's dedicated game host, the process a studio puts in a
// container: it joins an external lobby (opening a room there), serves every player
// on one UDP port, advertises a public IP, exposes /metrics and /healthz, and drains
// on SIGTERM.
//
//	go run ./examples/arena/cmd/host -lobby ws://lobby:8089/ws -udp :7000 -public-ip 203.0.113.7
//
// -lobby may list several URLs (comma-separated), tried in turn; behind a load
// balancer one URL is enough. When its lobby instance drains, the host opens its room
// again through another instance and keeps playing. On SIGTERM (or SIGINT) it drains
// itself within -drain-timeout: /healthz answers 503, it closes its lobby room (no
// new players), tells every player with a bye of code "draining" (their
// netcode.Client.Err wraps netcode.ErrDraining), waits for them to close, and exits.
// With -turn-listen it also runs a TURN relay (package turnserver) sharing the lobby's
// secret ($LOBBY_TURN_SECRET); list its URLs in the lobby's -turn.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/netcode/netcodeprom"
	"github.com/volleynet/volley/turnserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	cli.Exit("host", err)
}

// ready describes a started host, for tests.
type ready struct {
	HTTP string // address of /metrics and /healthz
	UDP  string // the players' UDP port
	Room string // the first room opened
}

// run serves until ctx ends, then drains; onReady, if not nil, is called once the
// first room is open.
func run(ctx context.Context, args []string, logOut io.Writer, onReady func(ready)) error {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(logOut)
	lobbyURLs := fs.String("lobby", "ws://localhost:8089/ws", "lobby WebSocket URL, or several comma-separated, tried in turn")
	roomName := fs.String("room", "arena", "room name")
	capacity := fs.Int("capacity", 64, "players in the room (the host's MaxClients too)")
	secretEnv := fs.String("host-secret-env", "LOBBY_HOST_SECRET", "environment variable holding the lobby's host secret, if it requires one")
	udp := fs.String("udp", ":7000", "the one UDP port every player's WebRTC connection uses")
	publicIP := fs.String("public-ip", "", "public IP advertised in ICE candidates (a host behind 1:1 NAT or in a container)")
	loopback := fs.Bool("loopback", false, "WebRTC over 127.0.0.1 only (tests, one machine)")
	httpAddr := fs.String("http", ":9090", "address of /metrics and /healthz")
	drainTimeout := fs.Duration("drain-timeout", 20*time.Second, "on SIGTERM, how long players get to receive their goodbye")
	turnSecretEnv := fs.String("turn-secret-env", "LOBBY_TURN_SECRET", "environment variable holding the TURN secret shared with the lobby (with -turn-listen)")
	relayFlags := turnserver.RegisterFlags(fs, "turn-")
	verbose := fs.Bool("v", false, "log debug details")
	if err := cli.Parse(fs, args, "host [flags]", `Runs the arena's dedicated game host: it opens a room in an external lobby, serves
every player on one UDP port, exposes /metrics and /healthz, and drains on SIGTERM.`); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	transport := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: *loopback}}
	if *publicIP != "" {
		transport.ICE.PublicIPs = []string{*publicIP}
	}
	h, err := host.New(host.Config{
		Netcode: netcode.ServerConfig{
			ListenUDP:  *udp,
			MaxClients: *capacity,
			Transport:  transport,
			Logger:     log.With("component", "netcode"),
		},
		Logger: log.With("component", "host"),
	})
	if err != nil {
		return err
	}
	defer h.Close() // on early returns; the drain below closes it too

	reg := prometheus.NewRegistry()
	if err := reg.Register(netcodeprom.NewCollector(h.Server())); err != nil {
		return err
	}
	if relayFlags.Enabled() {
		secret := os.Getenv(*turnSecretEnv)
		if secret == "" {
			return fmt.Errorf("-turn-listen needs the lobby's TURN secret in $%s", *turnSecretEnv)
		}
		rc, err := relayFlags.Config(secret)
		if err != nil {
			return err
		}
		rc.Logger = log.With("component", "turn")
		relay, err := turnserver.New(rc)
		if err != nil {
			return err
		}
		defer relay.Close()
		if err := relay.Register(reg); err != nil {
			return err
		}
	}

	var draining atomic.Bool
	link := &lobbyLink{
		urls: splitList(*lobbyURLs),
		opts: lobby.RoomOptions{Name: *roomName, Capacity: *capacity, Secret: os.Getenv(*secretEnv)},
		host: h,
		log:  log.With("component", "lobby"),
	}
	if len(link.urls) == 0 {
		return errors.New("-lobby: no URL")
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		// Alive and admitting players; the lobby room may be reopening.
		fmt.Fprintf(w, "ok room=%q players=%d\n", link.Room(), len(h.Server().Clients()))
	})
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-httpDone
	}()

	linkCtx, stopLink := context.WithCancel(ctx)
	defer stopLink()
	first := make(chan string, 1)
	link.onRoom = func(id string) {
		select {
		case first <- id:
		default:
		}
	}
	linkDone := make(chan struct{})
	go func() {
		defer close(linkDone)
		link.run(linkCtx)
	}()
	log.Info("host started", "udp", h.Server().Addr(), "http", ln.Addr().String(), "lobby", *lobbyURLs)
	select {
	case id := <-first:
		if onReady != nil {
			onReady(ready{HTTP: ln.Addr().String(), UDP: h.Server().Addr().String(), Room: id})
		}
	case <-ctx.Done():
	}
	<-ctx.Done()

	// Drain: not ready, no new players, goodbyes, exit.
	start := time.Now()
	draining.Store(true)
	log.Info("host draining", "players", len(h.Server().Clients()), "timeout", *drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	stopLink()
	<-linkDone
	link.closeRoom(dctx)
	if err := h.Server().Drain(dctx, nil); err != nil {
		log.Warn("host drain cut short by its deadline", "err", err)
	}
	log.Info("host drained", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

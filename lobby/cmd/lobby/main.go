// Command lobby runs the Volley lobby: rooms and WebRTC signaling over WebSocket.
//
//	go run ./lobby/cmd/lobby -addr :8089 -origins https://game.example.com \
//	    -stun stun:stun.example.com:3478 -turn turn:turn.example.com:3478 \
//	    -turn-secret-env TURN_SECRET -host-secret-env LOBBY_HOST_SECRET
//
// With -turn-listen it also runs a TURN relay (package turnserver) on that address,
// UDP and TCP, for players whose network blocks direct WebRTC; it shares the lobby's
// TURN secret and its URLs go out in every welcome:
//
//	go run ./lobby/cmd/lobby -addr :8089 -turn-listen :3478 -turn-relay-ip 203.0.113.7
//
// On SIGTERM (or SIGINT) it drains: new connections and /healthz get 503, every
// connection gets a "draining" message, and it keeps relaying until they have left or
// -drain-timeout (25 s) has passed, then closes the rest and exits.
//
// It serves the WebSocket endpoint at /ws, /healthz and /metrics (Prometheus), through
// lobbyserver.HTTPServer (timeouts, body and socket limits). Behind a reverse proxy,
// name it with -trusted-proxies so that the per-address limits see the clients'
// addresses (X-Forwarded-For) rather than the proxy's. Secrets
// are best read from environment variables (named by the -*-env flags: LOBBY_TURN_SECRET
// and LOBBY_HOST_SECRET by default) so that they do not show up in the process list.
// Without a host secret anyone may create rooms, which suits development only.
//
// Several instances behind one load balancer serve the same rooms when they share a
// Redis (rooms, membership and signaling relayed between instances):
//
//	go run ./lobby/cmd/lobby -addr :8089 -redis redis://redis.internal:6379/0
//
// The URL may carry a password (redis://:password@host:6379/0) or TLS (rediss://); a
// password is better read from the variable named by -redis-env (LOBBY_REDIS_URL).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/turnserver"
)

// defaultAddr is where the lobby listens unless -addr says otherwise; the READMEs
// give players ws://localhost:8089/ws (a test keeps them in step).
const defaultAddr = "localhost:8089"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	cli.Exit("lobby", err)
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

// parsePrefix parses "10.0.0.0/8" or a single address ("192.0.2.1").
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// run serves until ctx ends; ready, if not nil, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("lobby", flag.ContinueOnError)
	fs.SetOutput(logOut)
	addr := fs.String("addr", defaultAddr, "listen address")
	origins := fs.String("origins", "", "comma-separated allowed Origins (\"*\" for any); default: same origin and localhost")
	stun := fs.String("stun", "", "comma-separated STUN URLs sent to clients")
	turn := fs.String("turn", "", "comma-separated TURN URLs sent to clients")
	turnSecretEnv := fs.String("turn-secret-env", "LOBBY_TURN_SECRET", "environment variable holding the TURN REST shared secret")
	turnTTL := fs.Duration("turn-ttl", 12*time.Hour, "lifetime of TURN credentials")
	hostSecretEnv := fs.String("host-secret-env", "LOBBY_HOST_SECRET", "environment variable holding the secret required to create rooms (unset: anyone may)")
	hostSecret := fs.String("host-secret", "", "secret required to create rooms (visible in the process list: prefer -host-secret-env)")
	rate := fs.Float64("rate", 0, "messages per second per connection (0: default 50)")
	maxConns := fs.Int("max-conns", 0, "maximum concurrent connections (0: default 10000)")
	redisURL := fs.String("redis", "", "Redis URL (redis://host:6379/0) shared by several lobby instances; default: rooms in memory, one instance")
	redisEnv := fs.String("redis-env", "LOBBY_REDIS_URL", "environment variable holding the Redis URL when -redis is not given")
	redisPrefix := fs.String("redis-prefix", "", "prefix of the Redis keys and channels (default \"volley:lobby:\"; the same on every instance)")
	redisTTL := fs.Duration("redis-ttl", 0, "how long a crashed instance's rooms outlive it (default 30s; the same on every instance)")
	trusted := fs.String("trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed (per-address limits)")
	grace := fs.Duration("member-grace", 0, "how long a dropped connection keeps its room and seat for its client to resume (default 20s; negative: off)")
	debug := fs.Bool("debug", false, "log at debug level")
	drainTimeout := fs.Duration("drain-timeout", 25*time.Second, "on SIGTERM, how long to keep serving connections told to move (\"draining\") before closing them")
	relayFlags := turnserver.RegisterFlags(fs, "turn-")
	if err := cli.Parse(fs, args, "lobby [flags]", `Runs the Volley lobby: rooms and WebRTC signaling over WebSocket at /ws (players
dial ws://`+defaultAddr+`/ws by default), /healthz and Prometheus /metrics.`); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	cfg := lobbyserver.Config{
		Logger:            log,
		AllowedOrigins:    splitList(*origins),
		TURNURLs:          splitList(*turn),
		TURNSecret:        os.Getenv(*turnSecretEnv),
		TURNCredentialTTL: *turnTTL,
		HostSecret:        cmp.Or(*hostSecret, os.Getenv(*hostSecretEnv)),
		MessagesPerSecond: *rate,
		MaxConnections:    *maxConns,
		MemberGrace:       *grace,
	}
	for _, p := range splitList(*trusted) {
		prefix, err := parsePrefix(p)
		if err != nil {
			return fmt.Errorf("-trusted-proxies: %w", err)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	if urls := splitList(*stun); len(urls) > 0 {
		cfg.ICEServers = []lobby.ICEServer{{URLs: urls}}
	}
	if u := cmp.Or(*redisURL, os.Getenv(*redisEnv)); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		opt.ContextTimeoutEnabled = true // Config.StoreTimeout bounds each call
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("redis %s: %w", opt.Addr, err)
		}
		cfg.Store = lobbyserver.NewRedisStore(rdb, lobbyserver.RedisStoreConfig{Prefix: *redisPrefix, TTL: *redisTTL})
		log.Info("lobby: shared store", "redis", opt.Addr)
	}
	relay, err := startRelay(relayFlags, &cfg, log)
	if err != nil {
		return fmt.Errorf("-turn-listen: %w", err)
	}
	if relay != nil {
		defer relay.Close()
	}
	srv := lobbyserver.New(cfg)
	defer srv.Close() // on early returns; idempotent
	if relay != nil {
		if err := relay.Register(srv.Registry()); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := lobbyserver.HTTPServer(srv.Mux(), lobbyserver.HTTPConfig{Registerer: srv.Registry(), Logger: log})
	log.Info("lobby listening", "addr", ln.Addr().String(), "hostSecret", cfg.HostSecret != "", "turn", len(cfg.TURNURLs) > 0)
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain: new connections and /healthz get 503, connections are told to move and
	// served until they leave or the deadline; then everything closes.
	log.Info("lobby draining", "timeout", *drainTimeout)
	dctx, dcancel := context.WithTimeout(context.Background(), *drainTimeout)
	if derr := srv.Drain(dctx); derr != nil {
		log.Info("lobby drain deadline reached; closing the remaining connections")
	}
	dcancel()
	log.Info("lobby shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx) // stops accepting; hijacked WebSockets are closed by srv.Close
	srv.Close()
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
